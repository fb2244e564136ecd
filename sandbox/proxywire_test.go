package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestUpstreamTenant maps a tenant to a real (fake) FHIR server: its
// requests are proxied with the upstream's own credentials, never the
// client's token, and the upstream's URLs come back as the sandbox's.
func TestUpstreamTenant(t *testing.T) {
	t.Parallel()
	var gotAuth, gotPath string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.RequestURI()
		w.Header().Set("Content-Type", "application/fhir+json")
		io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","total":1,"link":[{"relation":"self","url":"http://`+r.Host+`/r3/Patient?name=x"}]}`)
	}))
	t.Cleanup(up.Close)
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients = 2
	cfg.Tenants[1] = TenantConfig{ID: FabrikamTenant, Name: "Fabrikam via upstream", Upstream: up.URL + "/r3", UpstreamAuth: &UpstreamAuth{BearerToken: "upstream-credential"}}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	res, err := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {FabrikamTenant}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := between(string(b), `"access_token":"`, `"`)
	req, _ := http.NewRequest("GET", srv.URL+"/stu3/Patient?name=x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || gotPath != "/r3/Patient?name=x" || gotAuth != "Bearer upstream-credential" {
		t.Fatalf("proxy: %d path %q auth %q body %s", res.StatusCode, gotPath, gotAuth, body)
	}
	if strings.Contains(string(body), up.URL) || !strings.Contains(string(body), srv.URL+"/stu3/Patient?name=x") {
		t.Errorf("upstream URL not rewritten: %s", body)
	}
	// no token: the upstream is never reached
	gotPath = ""
	res, _ = http.Get(srv.URL + "/stu3/Patient?name=x")
	res.Body.Close()
	if res.StatusCode != 401 || gotPath != "" {
		t.Errorf("unauthenticated request reached the upstream: %d %q", res.StatusCode, gotPath)
	}
}
