package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

const (
	tenantA    = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	tenantB    = "7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d"
	tenantNew  = "00000000-1111-4222-8333-444444444444"
	adminToken = "admin-token-0123456789abcdef"
	seedClient = "teams-app"
	seedSecret = "seed-secret-0123456789abcdef"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// persister records Persist calls and fails them on demand.
type persister struct {
	mu    sync.Mutex
	kinds []string
	fail  bool
}

func (p *persister) persist(kind string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("disk full")
	}
	p.kinds = append(p.kinds, kind)
	return nil
}

func (p *persister) setFail(v bool) {
	p.mu.Lock()
	p.fail = v
	p.mu.Unlock()
}

func (p *persister) calls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.kinds...)
}

type fixture struct {
	auth    *auth.Authority
	tenants *tenant.Registry
	svc     *Impl
	persist *persister
	srv     *httptest.Server
	jti     int
}

// newFixture builds real registries (two tenants, one seeded client), the
// Service over them and the admin API beside the token endpoint on a real
// loopback server.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	treg := tenant.NewRegistry(func(tenant.Tenant, string) (*store.Store, error) {
		return store.New(store.Definitions{}, func() time.Time { return t0 }), nil
	})
	for _, tn := range []tenant.Tenant{{ID: tenantA, Name: "Contoso", Patients: 10, Seed: 1}, {ID: tenantB, Name: "Fabrikam", Patients: 5}} {
		if _, err := treg.Add(tn); err != nil {
			t.Fatal(err)
		}
	}
	a, err := auth.New(auth.Options{
		Alg:         "ES256",
		Now:         func() time.Time { return t0 },
		TenantKnown: treg.Known,
		Base:        func(r *http.Request) string { return "http://" + r.Host },
		Clients:     []auth.ClientSpec{{ID: seedClient, Name: "Teams", Tenants: []string{tenantA}, Secrets: []auth.SecretSpec{{ID: "sec_seed", Value: seedSecret}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &persister{}
	svc := New(Options{Clients: a.Registry(), Tenants: treg, Persist: p.persist})
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", NewAPI(svc, APIOptions{Token: adminToken}))
	mux.Handle("/token", a.Token())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{auth: a, tenants: treg, svc: svc, persist: p, srv: srv}
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) errCode() string {
	var e ErrorJSON
	_ = json.Unmarshal(r.body, &e)
	return e.Error
}

// do sends an authenticated JSON request.
func (f *fixture) do(t *testing.T, method, path, body string, hdr ...string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp{res.StatusCode, res.Header, b}
}

func mustJSON[T any](t *testing.T, r resp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("status %d, body %s: %v", r.status, r.body, err)
	}
	return v
}

// token asks the real token endpoint for a token and returns the status.
func (f *fixture) token(t *testing.T, clientID, secret, tenantID string) int {
	t.Helper()
	form := "grant_type=client_credentials&client_id=" + clientID + "&client_secret=" + secret + "&scope=" + tenantID
	res, err := f.srv.Client().Post(f.srv.URL+"/token", "application/x-www-form-urlencoded", bytes.NewBufferString(form))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
