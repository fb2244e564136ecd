package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tenantA       = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	tenantB       = "7b1e0d2c-3a4f-4c5d-9e6f-0a1b2c3d4e5f"
	tenantUnknown = "00000000-1111-4222-8333-444444444444"
	clientA       = "app-a"
	secretA       = "secret-for-app-a-0123456789"
	clientB       = "app-b"
	secretB       = "secret-for-app-b-0123456789"
)

// Key generation costs 100 ms or more under -race, so tests share keys.
var (
	rsaPEM = sync.OnceValue(func() []byte {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	})
	ecKey = sync.OnceValue(func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func ecPEM() []byte {
	der, err := x509.MarshalECPrivateKey(ecKey())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	b, _ := pem.Decode(rsaPEM())
	k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is an injectable, settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// tenants is a mutable set of known tenants.
type tenants struct {
	mu    sync.Mutex
	known map[string]bool
}

func (ts *tenants) Known(g string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.known[g]
}

func (ts *tenants) Remove(g string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	delete(ts.known, g)
}

type harness struct {
	t       testing.TB
	a       *Authority
	clock   *clock
	tenants *tenants
	srv     *httptest.Server
	base    string
}

// newHarness serves an Authority: the token endpoints, the JWKS, and
// /fhir/ behind the bearer middleware, answering with the token's claims.
// Throttling keys on the X-Test-Addr header when present.
func newHarness(t testing.TB, mut func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, clock: newClock(), tenants: &tenants{known: map[string]bool{tenantA: true, tenantB: true}}}
	o := Options{
		KeyPEM:      rsaPEM(),
		Now:         h.clock.Now,
		TenantKnown: h.tenants.Known,
		Base:        func(r *http.Request) string { return "http://" + r.Host },
		RemoteAddr: func(r *http.Request) string {
			if a := r.Header.Get("X-Test-Addr"); a != "" {
				return a
			}
			return hostOf(r)
		},
		Clients: []ClientSpec{
			{ID: clientA, Name: "App A", Tenants: []string{tenantA}, Secrets: []SecretSpec{{ID: "sec_a", Value: secretA}}},
			{ID: clientB, Name: "App B", Tenants: []string{"*"}, Secrets: []SecretSpec{{ID: "sec_b", Value: secretB}}},
		},
	}
	if mut != nil {
		mut(&o)
	}
	a, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.a = a
	mux := http.NewServeMux()
	mux.Handle("/token", a.Token())
	mux.Handle("/token/introspect", a.Introspect())
	mux.Handle("/token/revoke", a.Revoke())
	mux.Handle("/.well-known/jwks.json", a.JWKS())
	mux.Handle("/fhir/", a.Bearer("fhirsandbox", func(w http.ResponseWriter, _ *http.Request, status int, code, desc string) {
		w.Header().Set("X-Code", code)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, desc)
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := FromContext(r.Context())
		if !ok {
			http.Error(w, "no claims", http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(c)
	})))
	h.srv = httptest.NewServer(mux)
	t.Cleanup(h.srv.Close)
	h.base = h.srv.URL
	return h
}

type answer struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (h *harness) do(req *http.Request) answer {
	h.t.Helper()
	res, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	ans := answer{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &ans.json)
	return ans
}

// post sends a form body to path; mods adjust the request.
func (h *harness) post(path, body string, mods ...func(*http.Request)) answer {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, m := range mods {
		m(req)
	}
	return h.do(req)
}

func basic(id, secret string) func(*http.Request) {
	return func(r *http.Request) { r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret)) }
}

func header(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

func form(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v.Encode()
}

// token gets a token through the endpoint, failing the test otherwise.
func (h *harness) token(id, secret, scope string) string {
	h.t.Helper()
	ans := h.post("/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret, "scope", scope))
	if ans.status != http.StatusOK {
		h.t.Fatalf("token: %d %s", ans.status, ans.body)
	}
	tok, _ := ans.json["access_token"].(string)
	return tok
}

// fhir calls the bearer-protected route with the given Authorization.
func (h *harness) fhir(authz string, mods ...func(*http.Request)) answer {
	h.t.Helper()
	req, err := http.NewRequest(http.MethodGet, h.srv.URL+"/fhir/Patient", nil)
	if err != nil {
		h.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	for _, m := range mods {
		m(req)
	}
	return h.do(req)
}

func assertOAuthError(t *testing.T, ans answer, status int, code string) {
	t.Helper()
	if ans.status != status {
		t.Errorf("status = %d, want %d (body %s)", ans.status, status, ans.body)
	}
	if got := ans.json["error"]; got != code {
		t.Errorf("error = %v, want %q (body %s)", got, code, ans.body)
	}
	if d, _ := ans.json["error_description"].(string); d == "" {
		t.Errorf("no error_description in %s", ans.body)
	}
	assertNoStore(t, ans)
}

func assertNoStore(t *testing.T, ans answer) {
	t.Helper()
	if ans.header.Get("Cache-Control") != "no-store" || ans.header.Get("Pragma") != "no-cache" {
		t.Errorf("missing no-store headers: %v", ans.header)
	}
}
