package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// e2eToken gets a token from a running binary for the default client.
func e2eToken(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"},
		"client_secret": {"change-me-dev-secret"}, "scope": {"2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tr); err != nil || resp.StatusCode != 200 || tr.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tr.AccessToken
}

// e2eGet is the status of a bearer GET.
func e2eGet(t *testing.T, base, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestRevocationSurvivesRestart: a token revoked at /token/revoke is still
// refused after the server restarts on the same state file and signing
// key, while a token that was not revoked still works.
func TestRevocationSurvivesRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"sandbox.yaml": shutdownConfig + "auth: {signing_alg: ES256, signing_key_file: key.pem}\n",
		"key.pem":      string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
	}
	dir := t.TempDir()
	const read = "/dstu2/Patient?_count=1"

	rb := startBinaryIn(t, dir, files, "--state", "$DIR/sandbox.state")
	revoked, kept := e2eToken(t, rb.base), e2eToken(t, rb.base)
	if st := e2eGet(t, rb.base, read, revoked); st != 200 {
		t.Fatalf("read before revoking: %d", st)
	}
	resp, err := http.PostForm(rb.base+"/token/revoke", url.Values{"client_id": {"teams-patients-app"},
		"client_secret": {"change-me-dev-secret"}, "token": {revoked}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	if st := e2eGet(t, rb.base, read, revoked); st != 401 {
		t.Fatalf("revoked token before the restart: %d, want 401", st)
	}
	rb.stop(t)

	// on the same address: tokens name their issuer, the server's URL
	rb = startBinaryIn(t, dir, files, "--state", "$DIR/sandbox.state", "--listen", strings.TrimPrefix(rb.base, "http://"))
	if st := e2eGet(t, rb.base, read, kept); st != 200 {
		t.Errorf("token not revoked, after the restart: %d, want 200 (same signing key)", st)
	}
	if st := e2eGet(t, rb.base, read, revoked); st != 401 {
		t.Errorf("revoked token after the restart: %d, want 401", st)
	}
	rb.stop(t) // the log is written in batches: all of it is out once the process has exited
	if !strings.Contains(rb.stderr.String(), "state restored") {
		t.Errorf("no state restored; stderr:\n%s", rb.stderr.String())
	}
}
