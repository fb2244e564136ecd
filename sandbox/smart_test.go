package sandbox

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

// smartEnv is a real server loaded from a real YAML file, with one client
// using secrets (the Patients app) and one using keys and scopes. The
// assertions are made by jwstest (crypto/rsa and crypto/ecdsa by hand).
type smartEnv struct {
	t     *testing.T
	cfg   Config
	srv   *httptest.Server
	keys  map[string]crypto.Signer
	jti   atomic.Int64
	admin string
	s     *Server
}

const smartAdminToken = "admin-token-for-smart-tests-0123"

func newSmartEnv(t *testing.T, scopes string) *smartEnv {
	t.Helper()
	e := &smartEnv{t: t, keys: map[string]crypto.Signer{"RS384": jwstest.NewKey("RS384"), "ES384": jwstest.NewKey("ES384")}, admin: smartAdminToken}
	dir := t.TempDir()
	jwk := func(alg string) string {
		b, _ := json.Marshal(jwstest.JWK(e.keys[alg], "k-"+alg, alg))
		return string(b)
	}
	yaml := fmt.Sprintf(`
fhir_version: r4
state_file: %s
admin: {token: %s}
tenants:
  - {id: %s, name: Contoso, patients: 6, seed: 42}
clients:
  - id: teams-patients-app
    tenants: ["*"]
    secrets: [{value: change-me-dev-secret}]
  - id: backend
    tenants: ["*"]
    jwks:
      keys:
        - %s
        - %s
    scopes: %s
`, filepath.Join(dir, "state"), smartAdminToken, ContosoTenant, jwk("RS384"), jwk("ES384"), scopes)
	path := filepath.Join(dir, "sandbox.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	e.cfg = cfg
	e.start()
	return e
}

func (e *smartEnv) start() {
	s, err := New(e.cfg, Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	e.s, e.srv = s, httptest.NewServer(s.Handler())
	srv := e.srv
	e.t.Cleanup(func() { srv.Close(); _ = s.Close() })
}

func (e *smartEnv) restart() {
	e.srv.Close()
	if err := e.s.Close(); err != nil {
		e.t.Fatal(err)
	}
	e.start()
}

func (e *smartEnv) do(method, path, bearer, ctype, body string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (e *smartEnv) assertion(alg string, mut func(map[string]any)) string {
	e.t.Helper()
	cl := map[string]any{"iss": "backend", "sub": "backend", "aud": e.srv.URL + "/token",
		"exp": time.Now().Add(2 * time.Minute).Unix(), "jti": fmt.Sprint("j", e.jti.Add(1))}
	if mut != nil {
		mut(cl)
	}
	a, err := jwstest.Sign(alg, e.keys[alg], map[string]any{"kid": "k-" + alg}, cl)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// token gets a token with an assertion and returns it with its scope.
func (e *smartEnv) token(scope string) (string, string) {
	e.t.Helper()
	st, b := e.do("POST", "/token", "", "application/x-www-form-urlencoded", url.Values{
		"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {e.assertion("RS384", nil)},
	}.Encode())
	if st != http.StatusOK {
		e.t.Fatalf("token %q: %d %s", scope, st, b)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m["access_token"].(string), m["scope"].(string)
}

func (e *smartEnv) secretToken() string {
	e.t.Helper()
	st, b := e.do("POST", "/token", "", "application/x-www-form-urlencoded", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant},
	}.Encode())
	if st != http.StatusOK {
		e.t.Fatalf("secret token: %d %s", st, b)
	}
	return between(string(b), `"access_token":"`, `"`)
}

type bundle struct {
	Total int `json:"total"`
	Entry []struct {
		Resource json.RawMessage `json:"resource"`
		Search   struct {
			Mode string `json:"mode"`
		} `json:"search"`
		Response struct {
			Status string `json:"status"`
		} `json:"response"`
	} `json:"entry"`
}

func (e *smartEnv) bundle(path, tok string) bundle {
	e.t.Helper()
	st, b := e.do("GET", path, tok, "", "")
	if st != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, st, b)
	}
	var out bundle
	if err := json.Unmarshal(b, &out); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func idsOf(b bundle, mode string) []string {
	var out []string
	for _, en := range b.Entry {
		if mode != "" && en.Search.Mode != mode {
			continue
		}
		var h struct{ ResourceType, ID string }
		_ = json.Unmarshal(en.Resource, &h)
		out = append(out, h.ResourceType+"/"+h.ID)
	}
	return out
}

func assertForbidden(t *testing.T, st int, b []byte) {
	t.Helper()
	if st != http.StatusForbidden || !strings.Contains(string(b), `"OperationOutcome"`) || !strings.Contains(string(b), `"forbidden"`) {
		t.Errorf("want 403 OperationOutcome forbidden, got %d %s", st, b)
	}
}

func TestSmartScopesEnforced(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, `[system/Patient.rs, "system/AllergyIntolerance.rs?category=food", system/Observation.read]`)
	full := e.secretToken()

	tok, scope := e.token(ContosoTenant)
	if want := ContosoTenant + " system/Patient.rs system/AllergyIntolerance.rs?category=food system/Observation.read"; scope != want {
		t.Fatalf("granted %q, want %q", scope, want)
	}

	t.Run("type granted", func(t *testing.T) {
		want := e.bundle("/r4/Patient", full)
		got := e.bundle("/r4/Patient", tok)
		if got.Total != want.Total || got.Total == 0 {
			t.Errorf("Patient total %d, the unscoped token sees %d", got.Total, want.Total)
		}
		if st, b := e.do("GET", "/r4/"+idsOf(got, "match")[0], tok, "", ""); st != http.StatusOK {
			t.Errorf("read: %d %s", st, b)
		}
	})
	t.Run("type not granted", func(t *testing.T) {
		for _, p := range []string{"/r4/Condition", "/r4/Condition?patient=x", "/r4/Condition/abc", "/r4/Condition/abc/_history/1", "/r4/Encounter/_search"} {
			st, b := e.do("GET", p, tok, "", "")
			assertForbidden(t, st, b)
		}
		st, b := e.do("PUT", "/r4/Patient/new-one", tok, "application/fhir+json", `{"resourceType":"Patient","id":"new-one"}`)
		assertForbidden(t, st, b)
		st, b = e.do("DELETE", "/r4/Patient/new-one", tok, "", "")
		assertForbidden(t, st, b)
		// a method the route does not serve is still 405
		if st, _ := e.do("PATCH", "/r4/Condition/abc", tok, "", ""); st != http.StatusMethodNotAllowed {
			t.Errorf("PATCH: %d", st)
		}
	})
	t.Run("v2 constraint filters searches and guards reads", func(t *testing.T) {
		food := e.bundle("/r4/AllergyIntolerance?category=food&_count=100", full)
		all := e.bundle("/r4/AllergyIntolerance?_count=100", full)
		if food.Total == 0 || food.Total == all.Total {
			t.Fatalf("the tenant's data does not exercise the constraint: %d food of %d", food.Total, all.Total)
		}
		got := e.bundle("/r4/AllergyIntolerance?_count=100", tok)
		if got.Total != food.Total || strings.Join(idsOf(got, ""), ",") != strings.Join(idsOf(food, ""), ",") {
			t.Errorf("scoped search: %v, want the food allergies %v", idsOf(got, ""), idsOf(food, ""))
		}
		// explicitly asking for another category finds nothing
		if b := e.bundle("/r4/AllergyIntolerance?category=environment", tok); b.Total != 0 {
			t.Errorf("category=environment under a food scope: total %d", b.Total)
		}
		foodIDs := strings.Join(idsOf(food, ""), ",")
		for _, id := range idsOf(all, "") {
			st, b := e.do("GET", "/r4/"+id, tok, "", "")
			if strings.Contains(foodIDs, id) {
				if st != http.StatusOK {
					t.Errorf("read %s (food): %d", id, st)
				}
			} else {
				assertForbidden(t, st, b)
			}
		}
	})
	t.Run("_include leaves out what is not granted", func(t *testing.T) {
		withPatients := e.bundle("/r4/Observation?_include=Observation:subject&_count=5", tok)
		if len(idsOf(withPatients, "include")) == 0 {
			t.Fatalf("no Patient included for a token granted Patient: %v", idsOf(withPatients, ""))
		}
		obsOnly, _ := e.token(ContosoTenant + " system/Observation.read")
		b := e.bundle("/r4/Observation?_include=Observation:subject&_count=5", obsOnly)
		if inc := idsOf(b, "include"); len(inc) != 0 || len(idsOf(b, "match")) != len(idsOf(withPatients, "match")) {
			t.Errorf("Observation-only token: included %v", inc)
		}
	})
	t.Run("batch entries one by one, transaction as a whole", func(t *testing.T) {
		pid := idsOf(e.bundle("/r4/Patient?_count=1", full), "match")[0]
		batch := `{"resourceType":"Bundle","type":"batch","entry":[
			{"request":{"method":"GET","url":"` + pid + `"}},
			{"request":{"method":"GET","url":"Condition?patient=` + pid + `"}},
			{"request":{"method":"GET","url":"AllergyIntolerance?category=environment"}},
			{"request":{"method":"PUT","url":"Patient/x1"},"resource":{"resourceType":"Patient","id":"x1"}}]}`
		st, b := e.do("POST", "/r4", tok, "application/fhir+json", batch)
		if st != http.StatusOK {
			t.Fatalf("batch: %d %s", st, b)
		}
		var out bundle
		_ = json.Unmarshal(b, &out)
		var got []string
		for _, en := range out.Entry {
			got = append(got, strings.Fields(en.Response.Status)[0])
		}
		if strings.Join(got, " ") != "200 403 200 403" {
			t.Errorf("entry statuses %v, want 200 403 200 403", got)
		}
		tx := `{"resourceType":"Bundle","type":"transaction","entry":[
			{"request":{"method":"PUT","url":"Patient/x2"},"resource":{"resourceType":"Patient","id":"x2"}}]}`
		st, b = e.do("POST", "/r4", tok, "application/fhir+json", tx)
		assertForbidden(t, st, b)
		if st, _ := e.do("GET", "/r4/Patient/x2", full, "", ""); st != http.StatusNotFound {
			t.Errorf("the refused transaction wrote: %d", st)
		}
	})
	t.Run("the Patients app is unchanged", func(t *testing.T) {
		for _, p := range []string{"/r4/Condition", "/r4/AllergyIntolerance?category=environment", "/r4/Encounter"} {
			if st, b := e.do("GET", p, full, "", ""); st != http.StatusOK {
				t.Errorf("%s: %d %s", p, st, b)
			}
		}
	})
}

func TestSmartKeysSurviveRestart(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, "[]")
	newKey := jwstest.NewKey("ES256")
	body, _ := json.Marshal(map[string]any{"pem": string(jwstest.PublicPEM(newKey))})
	st, b := e.do("POST", "/admin/api/clients/backend/keys", e.admin, "application/json", string(body))
	if st != http.StatusCreated {
		t.Fatalf("add key: %d %s", st, b)
	}
	kid := between(string(b), `"kid":"`, `"`)
	if st, b := e.do("POST", "/admin/api/clients/backend/keys/k-RS384/revoke", e.admin, "application/json", ""); st != http.StatusOK {
		t.Fatalf("revoke: %d %s", st, b)
	}
	if st, b := e.do("PUT", "/admin/api/clients/backend/scopes", e.admin, "application/json", `{"scopes":["system/Patient.rs"]}`); st != http.StatusOK {
		t.Fatalf("scopes: %d %s", st, b)
	}
	e.restart()
	e.keys["ES256"] = newKey
	tokenWith := func(alg, kid string) (int, []byte) {
		cl := map[string]any{"iss": "backend", "sub": "backend", "aud": e.srv.URL + "/token",
			"exp": time.Now().Add(time.Minute).Unix(), "jti": fmt.Sprint("r", e.jti.Add(1))}
		a, err := jwstest.Sign(alg, e.keys[alg], map[string]any{"kid": kid}, cl)
		if err != nil {
			t.Fatal(err)
		}
		return e.do("POST", "/token", "", "application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}, "scope": {ContosoTenant},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}.Encode())
	}
	if st, b := tokenWith("ES256", kid); st != http.StatusOK || !strings.Contains(string(b), "system/Patient.rs") {
		t.Errorf("the key and scopes added before the restart: %d %s", st, b)
	}
	if st, b := tokenWith("RS384", "k-RS384"); st != http.StatusUnauthorized || !strings.Contains(string(b), "revoked") {
		t.Errorf("the key revoked before the restart: %d %s", st, b)
	}
	// the state file holds public keys only
	raw, err := os.ReadFile(e.cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), kid) || strings.Contains(string(raw), `"d":`) {
		t.Errorf("state file: has kid %v, has a private part %v", strings.Contains(string(raw), kid), strings.Contains(string(raw), `"d":`))
	}
}

func TestSmartAssertionRedactedInJournal(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, "[]")
	a := e.assertion("ES384", nil)
	// an assertion sent in the query string (a client mistake) is refused
	// and never reaches the request journal
	if st, b := e.do("POST", "/token?client_assertion="+a+"&client_assertion_type=x", "", "application/x-www-form-urlencoded", "grant_type=client_credentials"); st != http.StatusBadRequest {
		t.Errorf("assertion in the query: %d %s", st, b)
	}
	_, b := e.do("GET", "/admin/api/requests", e.admin, "", "")
	if strings.Contains(string(b), a[:40]) || !strings.Contains(string(b), "client_assertion=REDACTED") {
		t.Errorf("journal: %s", b)
	}
}

func TestSmartDiscovery(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, "[]")
	check := func(tokenURL string) {
		t.Helper()
		for _, rel := range []string{"dstu2", "stu3", "r4"} {
			st, b := e.do("GET", "/"+rel+"/.well-known/smart-configuration", "", "", "")
			var sc struct {
				TokenEndpoint string   `json:"token_endpoint"`
				Methods       []string `json:"token_endpoint_auth_methods_supported"`
				Algs          []string `json:"token_endpoint_auth_signing_alg_values_supported"`
				Scopes        []string `json:"scopes_supported"`
				Capabilities  []string `json:"capabilities"`
			}
			if err := json.Unmarshal(b, &sc); st != http.StatusOK || err != nil {
				t.Fatalf("%s smart-configuration: %d %s", rel, st, b)
			}
			if sc.TokenEndpoint != tokenURL || !slices.Contains(sc.Methods, "private_key_jwt") || !slices.Equal(sc.Algs, auth.AssertionAlgs) ||
				!slices.Contains(sc.Capabilities, "client-confidential-asymmetric") || !slices.Contains(sc.Scopes, "system/*.read") {
				t.Errorf("%s smart-configuration: %s", rel, b)
			}
			// the CapabilityStatement's security section agrees
			_, mb := e.do("GET", "/"+rel+"/metadata", "", "", "")
			var md struct {
				Rest []struct {
					Security struct {
						Extension []struct {
							URL       string `json:"url"`
							ValueCode string `json:"valueCode"`
							Extension []struct {
								URL      string `json:"url"`
								ValueURI string `json:"valueUri"`
							} `json:"extension"`
						} `json:"extension"`
						Description string `json:"description"`
					} `json:"security"`
				} `json:"rest"`
			}
			if err := json.Unmarshal(mb, &md); err != nil || len(md.Rest) == 0 {
				t.Fatalf("%s metadata: %v", rel, err)
			}
			var caps []string
			var token string
			for _, x := range md.Rest[0].Security.Extension {
				if strings.HasSuffix(x.URL, "/capabilities") {
					caps = append(caps, x.ValueCode)
				}
				for _, y := range x.Extension {
					if y.URL == "token" {
						token = y.ValueURI
					}
				}
			}
			if !slices.Equal(caps, sc.Capabilities) || token != tokenURL || !strings.Contains(md.Rest[0].Security.Description, "client_assertion") {
				t.Errorf("%s metadata security: caps %v token %q", rel, caps, token)
			}
		}
	}
	check(e.srv.URL + "/token")

	// behind public_url the published token URL is the aud to use
	e.cfg.PublicURL = "https://sandbox.example.org"
	e.restart()
	check("https://sandbox.example.org/token")
	tokenWithAud := func(aud string) (int, []byte) {
		a := e.assertion("ES384", func(c map[string]any) { c["aud"] = aud })
		return e.do("POST", "/token", "", "application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}, "scope": {ContosoTenant},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}.Encode())
	}
	if st, b := tokenWithAud(e.srv.URL + "/token"); st != http.StatusUnauthorized || !strings.Contains(string(b), "https://sandbox.example.org/token") {
		t.Errorf("aud of the listener behind public_url: %d %s", st, b)
	}
	if st, b := tokenWithAud("https://sandbox.example.org/token"); st != http.StatusOK {
		t.Errorf("aud = the published token URL: %d %s", st, b)
	}
}

// TestSmartScopesOnProxiedTenant: a tenant proxied to an upstream server
// is checked at the type level; what cannot be enforced there (a
// constraint, a batch) is refused, and never reaches the upstream.
func TestSmartScopesOnProxiedTenant(t *testing.T) {
	t.Parallel()
	var hits atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = io.WriteString(w, `{"resourceType":"Bundle","type":"searchset","total":0}`)
	}))
	t.Cleanup(up.Close)
	e := newSmartEnv(t, `[system/Patient.rs, "system/Observation.rs?category=vital-signs"]`)
	e.cfg.Tenants = append(e.cfg.Tenants, TenantConfig{ID: FabrikamTenant, Name: "Fabrikam via upstream", Upstream: up.URL + "/r4"})
	e.restart()
	tok, _ := e.token(FabrikamTenant)
	if st, b := e.do("GET", "/r4/Patient?name=x", tok, "", ""); st != http.StatusOK || hits.Load() != 1 {
		t.Fatalf("granted type: %d %s (upstream hits %d)", st, b, hits.Load())
	}
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/r4/Condition", ""},
		{"GET", "/r4/Observation?code=x", ""},
		{"PUT", "/r4/Patient/p1", `{"resourceType":"Patient","id":"p1"}`},
		{"POST", "/r4", `{"resourceType":"Bundle","type":"batch","entry":[]}`},
	} {
		st, b := e.do(tc.method, tc.path, tok, "application/fhir+json", tc.body)
		assertForbidden(t, st, b)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("refused requests reached the upstream: %d hits", n)
	}
}
