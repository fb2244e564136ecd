// Package sandbox_test starts fhirsandbox in a container with
// Testcontainers for Go and runs a client's checks against it: the pattern
// for a test suite in any Go project, with nothing of fhirsandbox in its
// go.mod. It needs Docker (see README.md).
package sandbox_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// image is the fhirsandbox image to run: one built from the repository's
// Dockerfile (docker build -t fhirsandbox .) unless FHIRSANDBOX_IMAGE names
// another.
func image() string {
	if img := os.Getenv("FHIRSANDBOX_IMAGE"); img != "" {
		return img
	}
	return "fhirsandbox:latest"
}

const (
	adminToken = "testcontainers-admin-token-0123456789"
	tenant     = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c" // Contoso, a default tenant
	clientID   = "teams-patients-app"
	// the development secret of the default configuration: fine for a
	// sandbox that only this test can reach
	clientSecret = "change-me-dev-secret"
)

// config is the sandbox's configuration in the container: every interface,
// and the admin API open to callers that are not on the container's
// loopback (through Docker's port mapping the test is one of them). Keep
// allow_remote to a container only this test reaches.
const config = `listen: 0.0.0.0:8080
admin:
  token: ` + adminToken + `
  allow_remote: true
`

// startSandbox runs the container, waits until /healthz answers and
// returns the sandbox's root URL. The container is removed when the test
// ends.
func startSandbox(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ctr, err := testcontainers.Run(ctx, image(),
		testcontainers.WithExposedPorts("8080/tcp"),
		testcontainers.WithFiles(testcontainers.ContainerFile{
			Reader: strings.NewReader(config), ContainerFilePath: "/tmp/sandbox.yaml", FileMode: 0o644,
		}),
		testcontainers.WithCmd("serve", "--config", "/tmp/sandbox.yaml", "--patients", "20"),
		testcontainers.WithWaitStrategy(wait.ForHTTP("/healthz").WithPort("8080/tcp").WithStartupTimeout(time.Minute)),
	)
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := ctr.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	return endpoint
}

func TestPatientSearch(t *testing.T) {
	root := startSandbox(t)

	// a token for the tenant, as the client would get it
	res, err := http.PostForm(root+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID},
		"client_secret": {clientSecret}, "scope": {tenant},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %s %v", res.Status, err)
	}

	// the client's query
	req, _ := http.NewRequest("GET", root+"/stu3/Patient?_summary=count", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res2.Body.Close()
	body, _ := io.ReadAll(res2.Body)
	if res2.StatusCode != 200 || !strings.Contains(string(body), `"total":20`) {
		t.Fatalf("Patient search: %s %s", res2.Status, body)
	}

	// switch a fault on through the admin API, as a test of retries would
	on, _ := http.NewRequest("POST", root+"/admin/api/scenarios", strings.NewReader(`{"name": "throttled-429"}`))
	on.Header.Set("Authorization", "Bearer "+adminToken)
	on.Header.Set("Content-Type", "application/json")
	res3, err := http.DefaultClient.Do(on)
	if err != nil {
		t.Fatal(err)
	}
	res3.Body.Close()
	if res3.StatusCode != 200 {
		t.Fatalf("switch a scenario on: %s", res3.Status)
	}
	// with throttled-429 on, every fourth search is answered 429
	saw429 := false
	for range 4 {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		saw429 = saw429 || res.StatusCode == http.StatusTooManyRequests
	}
	if !saw429 {
		t.Error("throttled-429 is on, yet four searches got no 429")
	}
}
