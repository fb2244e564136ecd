package tenant

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

func TestRouterResolve(t *testing.T) {
	t.Parallel()
	const (
		local    = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
		remote   = "7d2e1f40-3c5b-4a69-8e17-b0c9d8e7f6a5"
		broken   = "11111111-2222-4333-8444-555555555555"
		unmapped = "99999999-2222-4333-8444-555555555555"
	)
	var builds atomic.Int32
	reg := NewRegistry(func(t Tenant, release string) (*store.Store, error) {
		builds.Add(1)
		if t.Fixtures != nil {
			return nil, errors.New("bad fixture")
		}
		return store.New(store.Definitions{}, nil), nil
	})
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(upstream.Close)
	for _, tn := range []Tenant{{ID: local, Name: "local"}, {ID: remote, Name: "remote", Upstream: upstream.URL + "/fhir"}, {ID: broken, Name: "broken", Fixtures: []string{"x"}}} {
		if _, err := reg.Add(tn); err != nil {
			t.Fatal(err)
		}
	}
	var creds atomic.Int32
	rt := NewRouter(RouterOptions{
		Registry:    reg,
		Credentials: func(Tenant) UpstreamAuth { creds.Add(1); return UpstreamAuth{BearerToken: "t"} },
		PublicBase:  func(*http.Request) string { return "http://sandbox" },
		WriteError:  func(http.ResponseWriter, *http.Request, spec.Release, int, string, string) {},
	})
	rel := spec.Default()

	b := rt.Resolve(local, rel)
	if b.Err != nil || b.Store == nil || b.Proxy != nil || b.Tenant.Name != "local" {
		t.Errorf("local tenant: %+v", b)
	}
	if again := rt.Resolve(local, rel); again.Store != b.Store || builds.Load() != 1 {
		t.Errorf("the store was built %d times", builds.Load())
	}

	p1, p2 := rt.Resolve(remote, rel), rt.Resolve(remote, rel)
	if p1.Proxy == nil || p1.Store != nil || p1.Err != nil || p1.Proxy != p2.Proxy || creds.Load() != 1 {
		t.Errorf("upstream tenant: %+v, proxy reused: %v, credentials read %d times", p1, p1.Proxy == p2.Proxy, creds.Load())
	}
	for _, other := range spec.Releases() {
		if other.Name != rel.Name && rt.Resolve(remote, other).Proxy == p1.Proxy {
			t.Errorf("%s shares the %s proxy", other.Name, rel.Name)
		}
	}

	if b := rt.Resolve(unmapped, rel); b.Err == nil || b.Err.Status != http.StatusUnauthorized {
		t.Errorf("unmapped tenant: %+v", b.Err)
	}
	if b := rt.Resolve(broken, rel); b.Err == nil || b.Err.Status != http.StatusInternalServerError {
		t.Errorf("tenant whose data fails to build: %+v", b.Err)
	}
	if _, err := reg.Update(local, func(t *Tenant) { t.Down = true }); err != nil {
		t.Fatal(err)
	}
	if b := rt.Resolve(local, rel); b.Err == nil || b.Err.Status != http.StatusServiceUnavailable || b.Err.RetryAfter == "" {
		t.Errorf("tenant down: %+v", b.Err)
	}
}
