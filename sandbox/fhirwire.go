package sandbox

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// buildStore is the tenant registry's BuildFunc: the tenant's synthetic
// hospital rendered in one release, then its fixture files.
func (s *Server) buildStore(t tenant.Tenant, release string) (*store.Store, error) {
	v, ok := fhir.Lookup(release)
	if !ok {
		return nil, fmt.Errorf("unknown FHIR release %q", release)
	}
	st := store.New(v.SearchParams(), s.now)
	ref := s.cfg.ReferenceDate.Time
	if t.Patients > 0 {
		h, err := seed.NewHospital(seed.Options{Seed: t.Seed, Tenant: t.ID, Patients: t.Patients, ReferenceDate: ref})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		if err := fhir.Populate(v, st, h, t.Patients, ref); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
	}
	for _, path := range t.Fixtures {
		if err := s.loadFixture(st, path); err != nil {
			return nil, fmt.Errorf("tenant %s: fixture %s: %w", t.ID, path, err)
		}
	}
	s.journalWrites(st, t.ID, release) // stores built after the state was restored
	return st, nil
}

func (s *Server) loadFixture(st *store.Store, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := fhir.LoadFixture(st, f, s.newID)
	if err != nil {
		return err
	}
	s.log.Info("fixture loaded", "file", path, "resources", n)
	return nil
}

// newID returns a random resource id (created resources, Bundles).
func (s *Server) newID() string {
	b := make([]byte, 16)
	if _, err := s.rand.Read(b); err != nil {
		// the random source is crypto/rand unless a test injects one;
		// fall back to the request sequence rather than fail a write
		return fmt.Sprintf("%s-%d", s.reqPrefix, s.reqSeq.Add(1))
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newTenants registers the configured tenants and builds the local ones'
// stores of the default release.
func (s *Server) newTenants() (*tenant.Registry, error) {
	reg := tenant.NewRegistry(s.buildStore)
	for _, tc := range s.cfg.Tenants {
		if _, err := reg.Add(tenant.Tenant{ID: tc.ID, Name: tc.Name, Upstream: tc.Upstream, Patients: tc.Patients, Seed: tc.Seed, Fixtures: tc.Fixtures}); err != nil {
			return nil, err
		}
	}
	// the default release is built now, so a bad fixture fails the start;
	// the other is built on its first request (a large population costs
	// memory per release)
	var errs []error
	for _, t := range reg.List() {
		if t.Upstream != "" {
			continue
		}
		if _, err := reg.Store(t.ID, s.cfg.FHIRVersion); err != nil {
			errs = append(errs, err)
		}
	}
	return reg, errors.Join(errs...)
}

// tenantOf picks the tenant a FHIR request is for: the token's tenant when
// auth is required, else the first configured tenant.
func (s *Server) tenantOf(r *http.Request) (string, *fhir.Error) {
	if c, ok := auth.FromContext(r.Context()); ok {
		return c.Tenant, nil
	}
	if s.cfg.Auth.Required {
		return "", &fhir.Error{Status: http.StatusUnauthorized, Code: "login", Diagnostics: "a bearer token is required"}
	}
	if len(s.cfg.Tenants) == 0 {
		return "", &fhir.Error{Status: http.StatusNotFound, Code: "not-found", Diagnostics: "no tenant is configured"}
	}
	return s.cfg.Tenants[0].ID, nil
}

// storeFor resolves a request to its tenant's store in the API's release.
// Tenant routing happens here and only here: every FHIR path (read,
// search, batch entries, includes, writes) reaches data through it.
func (s *Server) storeFor(release string) func(r *http.Request) (*store.Store, *fhir.Error) {
	return func(r *http.Request) (*store.Store, *fhir.Error) {
		id, e := s.tenantOf(r)
		if e != nil {
			return nil, e
		}
		t, ok := s.tenants.Get(id)
		if !ok {
			return nil, &fhir.Error{Status: http.StatusUnauthorized, Code: "login", Diagnostics: "the token's tenant is no longer mapped to a FHIR server"}
		}
		if t.Down {
			return nil, &fhir.Error{Status: http.StatusServiceUnavailable, Code: "transient", Diagnostics: "the tenant's FHIR server is unavailable", Header: http.Header{"Retry-After": {"30"}}}
		}
		if t.Upstream != "" { // fhirRoutes sends these to the proxy; a race with a remap lands here
			return nil, &fhir.Error{Status: http.StatusServiceUnavailable, Code: "transient", Diagnostics: "the tenant's mapping changed during the request; retry", Header: http.Header{"Retry-After": {"1"}}}
		}
		st, err := s.tenants.Store(id, release)
		if err != nil {
			s.log.Error("tenant store", "tenant", id, "release", release, "err", err)
			return nil, &fhir.Error{Status: http.StatusInternalServerError, Code: "exception", Diagnostics: "the tenant's data could not be loaded"}
		}
		return st, nil
	}
}

// newFHIRAPIs builds the API of each release. The bearer check is not
// theirs: fhirRoutes applies it in front, where the tenant's backend (local
// store or upstream proxy) is chosen.
func (s *Server) newFHIRAPIs() []*fhir.API {
	var apis []*fhir.API
	for _, v := range fhir.Versions() {
		apis = append(apis, fhir.NewAPI(fhir.Options{
			Version: v,
			Store:   s.storeFor(v.Name()),
			Base:    s.PublicBase,
			Security: fhir.Security{
				Token: "/token", Authorize: "/authorize", Register: "/portal/", Manage: "/portal/",
				Introspect: "/token/introspect", Revoke: "/token/revoke", JWKS: "/.well-known/jwks.json",
			},
			Limits: fhir.Limits{
				MaxBodyBytes: s.cfg.Limits.MaxBodyBytes, DefaultCount: s.cfg.Limits.DefaultCount,
				MaxCount: s.cfg.Limits.MaxCount, MaxBundleEntries: s.cfg.Limits.MaxBundleEntries, MaxQueryParams: 100,
			},
			Published: s.cfg.ReferenceDate.Time,
			Drift:     s.metadataDrift,
			Now:       s.now,
			NewID:     s.newID,
			Logger:    s.log,
		}))
	}
	return apis
}

// fhirRoutes serves one release: metadata and smart-configuration open,
// every other route behind the bearer check (when auth is required), then
// to the token's tenant's backend: its upstream proxy, or the local API
// over its store.
func (s *Server) fhirRoutes(a *fhir.API) http.Handler {
	var backend http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, e := s.tenantOf(r); e == nil {
			if t, ok := s.tenants.Get(id); ok && t.Upstream != "" && !t.Down {
				p, err := s.proxies.get(s, t, a)
				if err != nil {
					s.log.Error("upstream proxy", "tenant", t.ID, "err", err)
					fhir.WriteError(w, a.Version(), &fhir.Error{Status: http.StatusBadGateway, Code: "transient", Diagnostics: "the tenant's upstream FHIR server is misconfigured"})
					return
				}
				p.ServeHTTP(w, r)
				return
			}
		}
		a.ServeHTTP(w, r)
	})
	if s.cfg.Auth.Required {
		backend = s.bearer(a)(backend)
	}
	public := map[string]bool{a.Prefix() + "/metadata": true, a.Prefix() + "/.well-known/smart-configuration": true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public[strings.TrimSuffix(r.URL.Path, "/")] {
			a.ServeHTTP(w, r)
			return
		}
		backend.ServeHTTP(w, r)
	})
}

// fhirDispatch sends /dstu2... and /stu3... to their routes before the mux
// sees them: the mux would clean "..", "//" and %2F out of paths with a
// redirect, and a FHIR client must get an OperationOutcome instead.
func (s *Server) fhirDispatch(next http.Handler) http.Handler {
	routes := make([]http.Handler, len(s.apis))
	for i, a := range s.apis {
		routes[i] = s.fhirRoutes(a)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		for i, a := range s.apis {
			if p == a.Prefix() || strings.HasPrefix(p, a.Prefix()+"/") {
				routes[i].ServeHTTP(w, r)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// proxyCache keeps one upstream proxy per (tenant, release, upstream URL):
// a proxy holds the upstream token cache, so it lives as long as the
// mapping does.
type proxyCache struct {
	mu sync.Mutex
	m  map[string]http.Handler
}

func (c *proxyCache) get(s *Server, t tenant.Tenant, a *fhir.API) (http.Handler, error) {
	key := t.ID + " " + a.Prefix() + " " + t.Upstream
	c.mu.Lock()
	defer c.mu.Unlock()
	if h := c.m[key]; h != nil {
		return h, nil
	}
	var ua tenant.UpstreamAuth
	for _, tc := range s.cfg.Tenants {
		if tc.ID == t.ID && tc.Upstream == t.Upstream && tc.UpstreamAuth != nil {
			cfg := tc.UpstreamAuth
			ua.BearerToken = cfg.BearerToken
			if cfg.Basic != nil {
				ua.BasicUser, ua.BasicPassword = cfg.Basic.User, cfg.Basic.Password
			}
			if cc := cfg.ClientCredentials; cc != nil {
				ua.TokenURL, ua.ClientID, ua.ClientSecret, ua.Scope = cc.TokenURL, cc.ClientID, cc.ClientSecret, cc.Scope
			}
		}
	}
	h, err := tenant.NewProxy(tenant.ProxyOptions{
		Upstream:   t.Upstream,
		Auth:       ua,
		Prefix:     a.Prefix(),
		PublicBase: func(r *http.Request) string { return s.PublicBase(r) + a.Prefix() },
		Now:        s.now,
		Logger:     s.log,
		OnError: func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
			fhir.WriteError(w, a.Version(), &fhir.Error{Status: status, Code: code, Diagnostics: msg})
		},
	})
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]http.Handler{}
	}
	c.m[key] = h
	return h, nil
}

// newAuthority builds the authorization server from the config.
func (s *Server) newAuthority() (*auth.Authority, error) {
	var keyPEM []byte
	if f := s.cfg.Auth.SigningKeyFile; f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		keyPEM = b
	}
	clients := make([]auth.ClientSpec, 0, len(s.cfg.Clients))
	for _, c := range s.cfg.Clients {
		spec := auth.ClientSpec{ID: c.ID, Name: c.Name, Tenants: c.Tenants}
		for _, sc := range c.Secrets {
			ss := auth.SecretSpec{Value: sc.Value, ValueSHA256: sc.ValueSHA256}
			if !sc.Expires.IsZero() {
				exp := sc.Expires
				ss.Expires = &exp
			}
			spec.Secrets = append(spec.Secrets, ss)
		}
		clients = append(clients, spec)
	}
	return auth.New(auth.Options{
		Alg:                              s.cfg.Auth.SigningAlg,
		KeyPEM:                           keyPEM,
		TTL:                              s.cfg.Auth.TokenTTL,
		Now:                              s.now,
		Rand:                             s.rand,
		TenantKnown:                      s.tenants.Known,
		Base:                             s.PublicBase,
		RevokeTokensOnSecretInvalidation: s.cfg.Auth.RevokeTokensOnSecretInvalidation,
		Clients:                          clients,
		Log:                              s.log,
	})
}

// bearer is the bearer middleware of a release's routes: failures are
// OperationOutcomes of that release.
func (s *Server) bearer(a *fhir.API) func(http.Handler) http.Handler {
	return s.auth.Bearer("fhirsandbox", func(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
		v := a.Version()
		ooCode := "login"
		if code != "login" {
			ooCode = "security"
		}
		fhir.WriteError(w, v, &fhir.Error{Status: status, Code: ooCode, Diagnostics: desc})
	})
}
