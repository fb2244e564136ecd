package portal

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

const (
	testToken = "admin-token-0123456789abcdef"
	tenantA   = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	tenantB   = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
)

// clock is an injected, settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

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

// lockedBuffer collects log output from concurrent handlers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// env is a sandbox in miniature: the real client and tenant registries,
// the real admin Service over them, the real token endpoint at /token
// and the portal at /portal/, all on one loopback httptest server.
type env struct {
	t       *testing.T
	srv     *httptest.Server
	clock   *clock
	svc     admin.Service
	tenants *tenant.Registry
	log     *lockedBuffer
	client  *http.Client // with a cookie jar; does not follow redirects
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvWith(t, envConfig{})
}

// envConfig adds to the miniature sandbox: more portal options, more
// routes, middleware around the whole mux (as the server's chain wraps
// its route table) and the stream heartbeat.
type envConfig struct {
	options   func(*Options)
	routes    func(*http.ServeMux)
	wrap      func(http.Handler) http.Handler
	heartbeat time.Duration
}

func newEnvWith(t *testing.T, cfg envConfig) *env {
	t.Helper()
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	tenants := tenant.NewRegistry(func(tenant.Tenant, string) (*store.Store, error) {
		return nil, errors.New("no stores in portal tests")
	})
	for _, tn := range []tenant.Tenant{{ID: tenantA, Name: "Contoso General", Patients: 10, Seed: 1}, {ID: tenantB, Name: "Fabrikam Clinic", Patients: 5, Seed: 2}} {
		if _, err := tenants.Add(tn); err != nil {
			t.Fatal(err)
		}
	}
	var srv *httptest.Server
	base := func(*http.Request) string { return srv.URL }
	authority, err := auth.New(auth.Options{Now: clk.Now, TenantKnown: tenants.Known, Base: base})
	if err != nil {
		t.Fatal(err)
	}
	svc := admin.New(admin.Options{Clients: authority.Registry(), Tenants: tenants})
	logs := &lockedBuffer{}
	o := Options{
		Service: svc, AdminToken: testToken, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), PublicBase: base,
	}
	if cfg.options != nil {
		cfg.options(&o)
	}
	if cfg.heartbeat == 0 {
		cfg.heartbeat = DefaultHeartbeat
	}
	mux := http.NewServeMux()
	mux.Handle("/portal/", newHandler(o, cfg.heartbeat))
	mux.Handle("/token", authority.Token())
	if cfg.routes != nil {
		cfg.routes(mux)
	}
	var h http.Handler = mux
	if cfg.wrap != nil {
		h = cfg.wrap(h)
	}
	srv = httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	return &env{
		t: t, srv: srv, clock: clk, svc: svc, tenants: tenants, log: logs,
		client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(method, path string, form url.Values, hdr map[string]string) resp {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: string(b)}
}

func (e *env) get(path string) resp { return e.do(http.MethodGet, path, nil, nil) }

func (e *env) post(path string, form url.Values) resp {
	if form == nil {
		form = url.Values{}
	}
	return e.do(http.MethodPost, path, form, nil)
}

// want fails unless r has the status.
func (e *env) want(r resp, status int) resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d; body:\n%s", r.status, status, clipBody(r.body))
	}
	return r
}

// wantRedirect fails unless r is a 303 to loc and returns the GET of it.
func (e *env) follow(r resp, loc string) resp {
	e.t.Helper()
	e.want(r, http.StatusSeeOther)
	if got := r.header.Get("Location"); got != loc {
		e.t.Fatalf("Location %q, want %q", got, loc)
	}
	return e.get(loc)
}

func clipBody(s string) string {
	if len(s) > 3000 {
		return s[:3000] + "..."
	}
	return s
}

func (e *env) signIn() {
	e.t.Helper()
	r := e.post("/portal/signin", url.Values{"token": {testToken}})
	page := e.follow(r, "/portal/")
	if !strings.Contains(page.body, "Register a client") {
		e.t.Fatalf("dashboard not shown after sign-in:\n%s", clipBody(page.body))
	}
}

var secretRE = regexp.MustCompile(`<code id="client-secret" class="secret">([A-Za-z0-9_-]{43})</code>`)
var clientIDRE = regexp.MustCompile(`<code id="client-id">([^<]+)</code>`)

// createClient registers a client through the portal and returns its id
// and the secret read from the one-time page.
func (e *env) createClient(name string, tenants ...string) (id, secret string) {
	e.t.Helper()
	f := url.Values{"name": {name}}
	for _, t := range tenants {
		if t == "*" {
			f.Set("all", "1")
		} else {
			f.Add("tenant", t)
		}
	}
	page := e.want(e.follow(e.post("/portal/clients", f), "/portal/secret"), http.StatusOK)
	return e.readSecret(page)
}

func (e *env) readSecret(page resp) (id, secret string) {
	e.t.Helper()
	m := secretRE.FindStringSubmatch(page.body)
	c := clientIDRE.FindStringSubmatch(page.body)
	if m == nil || c == nil {
		e.t.Fatalf("no secret on the page:\n%s", clipBody(page.body))
	}
	return c[1], m[1]
}

// token asks the real token endpoint for a token and returns the status
// and the OAuth error code (empty on success).
func (e *env) token(clientID, secret, scope string) (int, string) {
	e.t.Helper()
	res, err := http.PostForm(e.srv.URL+"/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		e.t.Fatal(err)
	}
	if res.StatusCode == http.StatusOK && out.AccessToken == "" {
		e.t.Fatal("200 without an access token")
	}
	return res.StatusCode, out.Error
}

func (e *env) secretIDs(clientID string) []auth.Secret {
	c, ok := e.svc.Client(clientID)
	if !ok {
		e.t.Fatalf("client %s gone", clientID)
	}
	return c.Secrets
}
