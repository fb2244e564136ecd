package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	fhirvalidate "github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// partner is a running sandbox with auth on and two tenants, reached over
// real HTTP.
type partner struct {
	t   *testing.T
	srv *httptest.Server
	s   *Server
}

func newPartner(t *testing.T) *partner {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients = 30
	cfg.Tenants[1].Patients = 30
	cfg.Clients = append(cfg.Clients, ClientConfig{ID: "fabrikam-only", Name: "Fabrikam app", Tenants: []string{FabrikamTenant}, Secrets: []SecretConfig{{Value: "fabrikam-secret-for-tests"}}})
	cfg.Admin.Token = "admin-token-for-tests"
	s, err := New(cfg, Options{Now: func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return &partner{t: t, srv: srv, s: s}
}

func (p *partner) token(client, secret, scope string) string {
	p.t.Helper()
	res, err := http.PostForm(p.srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope}})
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 || body.TokenType != "Bearer" || body.ExpiresIn <= 0 {
		p.t.Fatalf("token: %d %+v %v", res.StatusCode, body, err)
	}
	return body.AccessToken
}

func (p *partner) fhir(method, path, token, body string) (int, http.Header, map[string]any) {
	p.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, p.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	release := strings.Split(strings.TrimPrefix(path, "/"), "/")[0]
	if m != nil && !strings.Contains(path, "smart-configuration") {
		if err := fhirvalidate.Release(release, b); err != nil {
			p.t.Errorf("%s %s: invalid %s: %v", method, path, release, err)
		}
	}
	return res.StatusCode, res.Header, m
}

func TestPartnerFlow(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	// metadata is open and advertises the token URL of the public address
	req, _ := http.NewRequest("GET", p.srv.URL+"/stu3/metadata", nil)
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("X-Forwarded-Host", "abc.ngrok.app")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var md map[string]any
	_ = json.NewDecoder(res.Body).Decode(&md)
	res.Body.Close()
	ext := md["rest"].([]any)[0].(map[string]any)["security"].(map[string]any)["extension"].([]any)[0].(map[string]any)
	found := false
	for _, e := range ext["extension"].([]any) {
		em := e.(map[string]any)
		if em["url"] == "token" && em["valueUri"] == "https://abc.ngrok.app/token" {
			found = true
		}
	}
	if res.StatusCode != 200 || ext["url"] != "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris" || !found {
		t.Fatalf("metadata security: %d %v", res.StatusCode, ext)
	}
	if st, _, m := p.fhir("GET", "/dstu2/metadata", "", ""); st != 200 || m["fhirVersion"] != "1.0.2" || m["resourceType"] != "Conformance" {
		t.Errorf("dstu2 metadata: %d %v", st, m["fhirVersion"])
	}

	// no token: 401, OperationOutcome login, WWW-Authenticate without error
	st, h, m := p.fhir("GET", "/stu3/Patient/pat-1", "", "")
	if st != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer realm=") || strings.Contains(h.Get("WWW-Authenticate"), "error=") || m["resourceType"] != "OperationOutcome" {
		t.Errorf("no token: %d %v %v", st, h, m)
	}
	st, h, _ = p.fhir("GET", "/stu3/Patient/pat-1", "garbage", "")
	if st != 401 || !strings.Contains(h.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("garbage token: %d %v", st, h)
	}

	tok := p.token("teams-patients-app", "change-me-dev-secret", "{"+strings.ToUpper(ContosoTenant)+"}")
	for _, path := range []string{"/stu3/Patient/pat-1", "/dstu2/Patient/pat-1", "/r4/Patient/pat-1", "/r4/Observation?patient=pat-2&category=vital-signs&_sort=-date", "/stu3/Observation?patient=pat-2&category=vital-signs&_sort=-date", "/dstu2/Observation?patient=pat-2&_sort:desc=date&category=vital-signs"} {
		if st, _, m := p.fhir("GET", path, tok, ""); st != 200 || m == nil {
			t.Errorf("%s: %d", path, st)
		}
	}
	// a client limited to Fabrikam cannot get a Contoso token
	res, _ = http.PostForm(p.srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"fabrikam-only"}, "client_secret": {"fabrikam-secret-for-tests"}, "scope": {ContosoTenant}})
	if res.StatusCode != 400 {
		t.Errorf("tenant not allowed: %d", res.StatusCode)
	}
	res.Body.Close()
}

// TestTenantIsolation writes random resources through tenant A's token and
// checks, on every path, that tenant B's token can neither see nor detect
// them, and that the same ids hold each tenant's own data.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	a := p.token("teams-patients-app", "change-me-dev-secret", ContosoTenant)
	b := p.token("fabrikam-only", "fabrikam-secret-for-tests", FabrikamTenant)
	seed := time.Now().UnixNano()
	t.Logf("isolation seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 7))
	for _, rel := range spec.Releases() {
		release := rel.Name
		// same id, different hospitals
		_, _, pa := p.fhir("GET", "/"+release+"/Patient/pat-1", a, "")
		_, _, pb := p.fhir("GET", "/"+release+"/Patient/pat-1", b, "")
		if fmt.Sprint(pa["name"]) == fmt.Sprint(pb["name"]) || pa["name"] == nil {
			t.Errorf("%s: tenants share pat-1: %v", release, pa["name"])
		}
		for i := 0; i < 5; i++ {
			id := fmt.Sprintf("iso-%d-%d", rng.IntN(1_000_000), i)
			family := fmt.Sprintf("Secret%d", rng.IntN(1_000_000))
			famJSON := `"` + family + `"`
			if release == "dstu2" {
				famJSON = "[" + famJSON + "]"
			}
			body := `{"resourceType":"Patient","id":"` + id + `","name":[{"family":` + famJSON + `}]}`
			if st, _, _ := p.fhir("PUT", "/"+release+"/Patient/"+id, a, body); st != 201 {
				t.Fatalf("write to A: %d", st)
			}
			checks := []struct {
				method, path, body string
			}{
				{"GET", "/" + release + "/Patient/" + id, ""},
				{"GET", "/" + release + "/Patient?family=" + family, ""},
				{"GET", "/" + release + "/Patient?_id=" + id, ""},
				{"POST", "/" + release + "/Patient/_search", ""},
				{"POST", "/" + release + "/", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/` + id + `"}},{"request":{"method":"GET","url":"Patient?family=` + family + `"}}]}`},
			}
			for _, c := range checks {
				_, _, m := p.fhir(c.method, c.path, b, c.body)
				for _, r := range clinicalResources(m) {
					if r["id"] == id || strings.Contains(fmt.Sprint(r["name"]), family) {
						t.Errorf("%s %s: tenant B sees tenant A's resource: %v", c.method, c.path, r)
					}
				}
			}
			// B's 404 for A's id is the same as for an id that exists nowhere
			st1, _, m1 := p.fhir("GET", "/"+release+"/Patient/"+id, b, "")
			st2, _, m2 := p.fhir("GET", "/"+release+"/Patient/never-"+id, b, "")
			d1 := strings.ReplaceAll(fmt.Sprint(m1["issue"]), id, "X")
			d2 := strings.ReplaceAll(fmt.Sprint(m2["issue"]), "never-"+id, "X")
			if st1 != st2 || d1 != d2 {
				t.Errorf("B can tell A's id exists: %d %v vs %d %v", st1, d1, st2, d2)
			}
			// A still sees it
			if st, _, _ := p.fhir("GET", "/"+release+"/Patient/"+id, a, ""); st != 200 {
				t.Errorf("A lost its write: %d", st)
			}
			// B writing the same id makes B's own resource; A's is untouched
			if st, _, _ := p.fhir("PUT", "/"+release+"/Patient/"+id, b, `{"resourceType":"Patient","id":"`+id+`","gender":"unknown"}`); st != 201 {
				t.Errorf("B's write of the same id: %d (want 201: created in B)", st)
			}
			if _, _, m := p.fhir("GET", "/"+release+"/Patient/"+id, a, ""); m["gender"] == "unknown" {
				t.Errorf("B's write reached A's resource")
			}
		}
		// paging links and _include replayed with B's token stay in B
		_, _, page := p.fhir("GET", "/"+release+"/Patient?_count=2&_include=Patient:organization", a, "")
		for _, l := range page["link"].([]any) {
			lm := l.(map[string]any)
			if lm["relation"] != "next" {
				continue
			}
			u := strings.TrimPrefix(lm["url"].(string), p.srv.URL)
			_, _, ma := p.fhir("GET", u, a, "")
			_, _, mb := p.fhir("GET", u, b, "")
			for _, rb := range clinicalResources(mb) {
				for _, ra := range clinicalResources(ma) {
					if rb["id"] == ra["id"] && fmt.Sprint(rb["name"]) == fmt.Sprint(ra["name"]) && ra["name"] != nil {
						t.Errorf("A's paging link shows B A's patient %v", ra["id"])
					}
				}
			}
		}
	}
}

// clinicalResources collects every resource a response carries (nested
// Bundles walked), leaving out Bundles and OperationOutcomes themselves.
func clinicalResources(m map[string]any) []map[string]any {
	if m == nil {
		return nil
	}
	var out []map[string]any
	switch m["resourceType"] {
	case "Bundle":
		es, _ := m["entry"].([]any)
		for _, e := range es {
			em, _ := e.(map[string]any)
			r, _ := em["resource"].(map[string]any)
			out = append(out, clinicalResources(r)...)
		}
	case "OperationOutcome", nil:
	default:
		out = append(out, m)
	}
	return out
}

func TestAuthorizeExplainsClientCredentials(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	res, err := http.Get(p.srv.URL + "/authorize?response_type=code&client_id=x")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 400 || !strings.Contains(string(b), `"error":"unsupported_response_type"`) || res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("authorize: %d %s", res.StatusCode, b)
	}
}
