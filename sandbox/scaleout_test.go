package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestScaleOut starts two instances from the same config and signing key
// file, as behind a load balancer: a token minted by one is honoured by the
// other, and both serve byte-identical synthetic data.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 20, 5
	cfg.Auth.SigningKeyFile = keyFile
	cfg.PublicURL = "https://sandbox.example.test" // the load balancer's address
	var srvs []*httptest.Server
	for i := 0; i < 2; i++ {
		s, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	res, err := http.PostForm(srvs[0].URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := between(string(body), `"access_token":"`, `"`)
	if res.StatusCode != 200 || tok == "" {
		t.Fatalf("token from instance 0: %d %s", res.StatusCode, body)
	}
	var got [][]byte
	for i, srv := range srvs {
		for _, path := range []string{"/stu3/Patient/pat-7", "/dstu2/Observation/obs-7-1"} {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("instance %d %s: %d %s", i, path, res.StatusCode, b)
			}
			got = append(got, b)
		}
	}
	if !bytes.Equal(got[0], got[2]) || !bytes.Equal(got[1], got[3]) {
		t.Errorf("the two instances serve different data:\n%s\n%s", got[0], got[2])
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
