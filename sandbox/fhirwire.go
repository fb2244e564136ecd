package sandbox

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
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
	st.SetRenderCache(s.cfg.Limits.SearchCacheBytes)
	ref := s.cfg.ReferenceDate.Time
	if t.Patients > 0 {
		h, err := seed.NewHospital(seed.Options{Seed: t.Seed, Tenant: t.ID, Patients: t.Patients, ReferenceDate: ref, Name: t.Name})
		if err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
		populate := func() error {
			idx := s.popIndexes.get(t, ref, func() *store.PopulationIndex {
				return store.BuildPopulationIndex(fhir.NewPopulation(v, h, t.Patients), 0)
			})
			return fhir.PopulateDerived(v, st, h, t.Patients, ref, s.cfg.Limits.PatientCache, idx)
		}
		if s.cfg.Limits.StoreGenerated {
			populate = func() error { return fhir.Populate(v, st, h, t.Patients, ref) }
		}
		if err := populate(); err != nil {
			return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
		}
	}
	if len(t.Fixtures) > 0 {
		if err := s.loadFixtures(st, t, release); err != nil {
			return nil, err
		}
	}
	s.journalWrites(st, t.ID, release) // stores built after the state was restored
	return st, nil
}

// popIndexes holds each tenant's population index, shared by the stores
// of its releases: the index depends on the demographics only.
type popIndexes struct {
	mu sync.Mutex
	m  map[string]popIndexEntry // tenant id ->
}

type popIndexEntry struct {
	seed     int64
	patients int
	ref      time.Time
	idx      *store.PopulationIndex
}

// get returns the tenant's index for its current population, building it
// with build when there is none (or the population changed).
func (p *popIndexes) get(t tenant.Tenant, ref time.Time, build func() *store.PopulationIndex) *store.PopulationIndex {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.m[t.ID]; ok && e.seed == t.Seed && e.patients == t.Patients && e.ref.Equal(ref) {
		return e.idx
	}
	if p.m == nil {
		p.m = map[string]popIndexEntry{}
	}
	e := popIndexEntry{seed: t.Seed, patients: t.Patients, ref: ref, idx: build()}
	p.m[t.ID] = e
	return e.idx
}

// newID returns a random resource id (created resources, Bundles).
func (s *Server) newID() string {
	var b [16]byte
	if err := s.ids.read(s.rand, b[:]); err != nil {
		// the random source is crypto/rand unless a test injects one;
		// fall back to the request sequence rather than fail a write
		return fmt.Sprintf("%s-%d", s.reqPrefix, s.reqSeq.Add(1))
	}
	return spec.FormatGUID(b)
}

// idSource reads the random source in blocks: an id per search Bundle
// would otherwise cost a read of the source (a system call for
// crypto/rand) per response.
type idSource struct {
	mu    sync.Mutex
	buf   [4096]byte
	avail int // the last avail bytes of buf are unread
}

func (src *idSource) read(r io.Reader, p []byte) error {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.avail < len(p) {
		if _, err := io.ReadFull(r, src.buf[:]); err != nil {
			src.avail = 0
			return err
		}
		src.avail = len(src.buf)
	}
	src.avail -= copy(p, src.buf[len(src.buf)-src.avail:])
	return nil
}

// newTenants registers the configured tenants and builds the local ones'
// stores of the default release.
func (s *Server) newTenants() (*tenant.Registry, error) {
	reg := tenant.NewRegistry(s.buildStore)
	for _, tc := range s.cfg.Tenants {
		if _, err := reg.Add(tenant.Tenant{ID: tc.ID, Name: tc.Name, Upstream: tc.Upstream, Patients: tc.Patients, Seed: tc.Seed, Fixtures: fixturePaths(tc.Fixtures)}); err != nil {
			return nil, err
		}
	}
	// the default release, and every release a fixture goes into, are
	// built now, so a bad fixture fails the start; the others are built on
	// their first request (a large population costs memory per release).
	// The problems of every fixture file are reported together.
	var errs []error
	var problems []Problem
	seen := map[Problem]bool{}
	for _, t := range reg.List() {
		if t.Upstream != "" {
			continue
		}
		rels := []string{s.cfg.FHIRVersion}
		for _, r := range s.fixtureReleases(t) {
			if !slices.Contains(rels, r) {
				rels = append(rels, r)
			}
		}
		for _, rel := range rels {
			_, err := reg.Store(t.ID, rel)
			var fe *FixtureError
			switch {
			case errors.As(err, &fe):
				// a missing file fails every release's build: once is enough
				for _, p := range fe.Problems {
					if !seen[p] {
						seen[p] = true
						problems = append(problems, p)
					}
				}
			case err != nil:
				errs = append(errs, err)
			}
		}
	}
	if len(problems) > 0 {
		errs = append(errs, &FixtureError{Problems: problems})
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

// newRouter is tenant routing: each FHIR request's tenant is resolved
// once, to its local store or its upstream proxy.
func (s *Server) newRouter() *tenant.Router {
	return tenant.NewRouter(tenant.RouterOptions{
		Registry:    s.tenants,
		Credentials: s.upstreamCredentials,
		PublicBase:  s.PublicBase,
		WriteError: func(w http.ResponseWriter, _ *http.Request, rel spec.Release, status int, code, msg string) {
			fhir.WriteError(w, rel, &fhir.Error{Status: status, Code: code, Diagnostics: msg})
		},
		Now:    s.now,
		Logger: s.log,
	})
}

// upstreamCredentials are the config's credentials for a tenant's
// upstream server; a tenant remapped to another upstream at run time has
// none.
func (s *Server) upstreamCredentials(t tenant.Tenant) tenant.UpstreamAuth {
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
	return ua
}

// newFHIRAPIs builds the API of each release. Neither the bearer check
// nor tenant routing is theirs: fhirRoutes applies both in front.
func (s *Server) newFHIRAPIs() []*fhir.API {
	var apis []*fhir.API
	for _, v := range fhir.Versions() {
		apis = append(apis, fhir.NewAPI(fhir.Options{
			Version: v,
			Base:    s.PublicBase,
			Security: fhir.Security{
				Token: "/token", Authorize: "/authorize", Register: "/portal/", Manage: "/portal/",
				Introspect: "/token/introspect", Revoke: "/token/revoke", JWKS: "/.well-known/jwks.json",
			},
			Limits: fhir.Limits{
				MaxBodyBytes: s.cfg.Limits.MaxBodyBytes, DefaultCount: s.cfg.Limits.DefaultCount,
				MaxCount: s.cfg.Limits.MaxCount, MaxBundleEntries: s.cfg.Limits.MaxBundleEntries, MaxQueryParams: spec.MaxQueryParams,
				MaxResponseBytes: s.cfg.Limits.MaxResponseBytes,
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
// to the token's tenant's backend, resolved once: its upstream proxy, or
// the local API over its store.
func (s *Server) fhirRoutes(a *fhir.API) http.Handler {
	rel := a.Version().Release()
	var backend http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, e := s.tenantOf(r)
		if e != nil {
			a.Serve(w, r, func() (*store.Store, *fhir.Error) { return nil, e })
			return
		}
		if c, ok := auth.FromContext(r.Context()); ok {
			set, err := s.scopesOf(c.Scope)
			if err != nil {
				fhir.WriteError(w, rel, &fhir.Error{Status: http.StatusForbidden, Code: "forbidden", Diagnostics: "the access token's scope is malformed: " + err.Error()})
				return
			}
			if set.Scoped() { // an unscoped set restricts nothing: no copy of the request for it
				r = r.WithContext(fhir.WithScopes(r.Context(), set))
			}
		}
		b := s.router.Resolve(id, rel)
		if b.Proxy != nil {
			if e := a.CheckProxiedScopes(r); e != nil {
				fhir.WriteError(w, rel, e)
				return
			}
			b.Proxy.ServeHTTP(w, r)
			return
		}
		a.Serve(w, r, func() (*store.Store, *fhir.Error) {
			if b.Err != nil {
				return nil, routeError(b.Err)
			}
			return b.Store, nil
		})
	})
	if s.cfg.Auth.Required {
		backend = s.bearer(rel)(backend)
	}
	public := map[string]bool{rel.Base() + "/metadata": true, rel.Base() + "/.well-known/smart-configuration": true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if public[strings.TrimSuffix(r.URL.Path, "/")] {
			a.Serve(w, r, nil) // metadata needs no store
			return
		}
		backend.ServeHTTP(w, r)
	})
}

// scopeMemo is a token scope and the system scopes parsed from it.
type scopeMemo struct {
	scope string
	set   smartscope.Set
	err   error
}

// scopesOf is smartscope.ParseSet(scope), kept for the last scope seen:
// a client's requests carry the same one, so they cost a comparison
// rather than a parse. The set is only read, never modified.
func (s *Server) scopesOf(scope string) (smartscope.Set, error) {
	if m := s.lastScopes.Load(); m != nil && m.scope == scope {
		return m.set, m.err
	}
	set, err := smartscope.ParseSet(scope)
	s.lastScopes.Store(&scopeMemo{scope: scope, set: set, err: err})
	return set, err
}

// routeError is a tenant routing failure as a FHIR error.
func routeError(e *tenant.RouteError) *fhir.Error {
	fe := &fhir.Error{Status: e.Status, Code: e.Code, Diagnostics: e.Msg}
	if e.RetryAfter != "" {
		fe.Header = http.Header{"Retry-After": {e.RetryAfter}}
	}
	return fe
}

// fhirAPIFor is the API whose base the path is under, if any.
func (s *Server) fhirAPIFor(path string) (*fhir.API, bool) {
	for _, a := range s.apis {
		// path is p or starts with p+"/" (compared without building it)
		if p := a.Prefix(); strings.HasPrefix(path, p) && (len(path) == len(p) || path[len(p)] == '/') {
			return a, true
		}
	}
	return nil, false
}

// releaseOf is the release whose base the path is under, or the default
// release.
func (s *Server) releaseOf(path string) spec.Release {
	if a, ok := s.fhirAPIFor(path); ok {
		return a.Version().Release()
	}
	rel, _ := spec.Lookup(s.cfg.FHIRVersion) // validated by New
	return rel
}

// fhirDispatch sends each release's base paths to their routes before the
// mux sees them: the mux would clean "..", "//" and %2F out of paths with
// a redirect, and a FHIR client must get an OperationOutcome instead.
func (s *Server) fhirDispatch(next http.Handler) http.Handler {
	routes := make(map[*fhir.API]http.Handler, len(s.apis))
	for _, a := range s.apis {
		routes[a] = s.fhirRoutes(a)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a, ok := s.fhirAPIFor(r.URL.Path); ok {
			routes[a].ServeHTTP(w, r)
			return
		}
		if fhirLooking(r.URL.Path) {
			s.noSuchBase(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fhirRouteLabels are a release's route patterns, the metrics label of its
// requests: the resource type when it is one the release serves, "{type}"
// otherwise, ids as "{id}", so the label set is bounded whatever the
// paths. Built once, so labelling a request allocates nothing.
type fhirRouteLabels struct {
	base, metadata, smart, other string
	unknown                      typeRouteLabels
	types                        map[string]*typeRouteLabels
}

type typeRouteLabels struct{ typ, search, id, history, instHistory, vread string }

func newTypeRouteLabels(base, typ string) *typeRouteLabels {
	t := base + "/" + typ
	return &typeRouteLabels{typ: t, search: t + "/_search", id: t + "/{id}", history: t + "/_history",
		instHistory: t + "/{id}/_history", vread: t + "/{id}/_history/{vid}"}
}

func newFHIRRouteLabels(a *fhir.API) *fhirRouteLabels {
	base := a.Prefix()
	l := &fhirRouteLabels{base: base, metadata: base + "/metadata", smart: base + "/.well-known/smart-configuration",
		other: base + "/(other)", unknown: *newTypeRouteLabels(base, "{type}"), types: map[string]*typeRouteLabels{}}
	for typ := range a.Version().SearchParams() {
		l.types[typ] = newTypeRouteLabels(base, typ)
	}
	return l
}

// of is the route pattern of path, which is under the release's base.
func (l *fhirRouteLabels) of(path string) string {
	rest := strings.Trim(path[len(l.base):], "/")
	if rest == "" {
		return l.base // batch and transaction
	}
	seg0, rest, _ := strings.Cut(rest, "/")
	switch seg0 {
	case "metadata":
		if rest == "" {
			return l.metadata
		}
	case ".well-known":
		if rest == "smart-configuration" {
			return l.smart
		}
	}
	t := l.types[seg0]
	if t == nil {
		t = &l.unknown
	}
	if rest == "" {
		return t.typ
	}
	seg1, rest, _ := strings.Cut(rest, "/")
	switch {
	case rest == "" && seg1 == "_search":
		return t.search
	case rest == "" && seg1 == "_history":
		return t.history
	case rest == "":
		return t.id
	case rest == "_history":
		return t.instHistory
	case strings.HasPrefix(rest, "_history/") && !strings.Contains(rest[len("_history/"):], "/"):
		return t.vread
	}
	return l.other
}

// fhirBaseName reports whether a first path segment (lower case) is one
// a FHIR client means as a base: a release name, served or not, alone or
// after "base" (HAPI's baseR4), or /fhir.
func fhirBaseName(seg string) bool {
	name := strings.TrimPrefix(seg, "base")
	for _, rel := range spec.Releases() {
		if name == rel.Name {
			return true
		}
	}
	switch name {
	case "", "fhir", "dstu1", "dstu3", "r2", "r3", "r4b", "r5", "r6": // and the releases above
		return true
	}
	return false
}

// fhirLooking reports whether path is one a FHIR client sends, under a
// base this sandbox does not serve: a FHIR-looking first segment, or the
// server root used as a base (/metadata, /Patient/1: a resource type
// begins with a capital letter, which no other route of the sandbox
// does). Every other unknown path keeps the mux's plain 404.
func fhirLooking(path string) bool {
	first, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if first == "" {
		return false
	}
	if first == "metadata" || first[0] >= 'A' && first[0] <= 'Z' {
		return true
	}
	return fhirBaseName(strings.ToLower(first))
}

// noSuchBase answers a FHIR-looking path outside every base with a 404
// OperationOutcome (in the default release's media type) that lists the
// bases served, and the right spelling when only the case was wrong.
func (s *Server) noSuchBase(w http.ResponseWriter, r *http.Request) {
	base := s.PublicBase(r)
	first, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	var served []string
	hint := ""
	for _, rel := range spec.Releases() {
		served = append(served, fmt.Sprintf("%s (FHIR %s) at %s%s", rel.Label, rel.FHIRVersion, base, rel.Base()))
		if strings.EqualFold(first, strings.TrimPrefix(rel.Base(), "/")) {
			hint = fmt.Sprintf(" (base paths are lower case: %s%s/%s)", base, rel.Base(), clip(rest))
		}
	}
	msg := fmt.Sprintf("no FHIR base at /%s%s; this sandbox serves %s", clip(first), hint, strings.Join(served, ", "))
	fhir.WriteError(w, s.releaseOf(""), &fhir.Error{Status: http.StatusNotFound, Code: "not-found", Diagnostics: msg})
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
		spec := auth.ClientSpec{ID: c.ID, Name: c.Name, Tenants: c.Tenants, JWKS: c.JWKS, JWKSURI: c.JWKSURI, Scopes: c.Scopes}
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
	proxies, err := parseProxies(s.cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	return auth.New(auth.Options{
		Alg:                              s.cfg.Auth.SigningAlg,
		KeyPEM:                           keyPEM,
		TTL:                              s.cfg.Auth.TokenTTL,
		Now:                              s.now,
		Rand:                             s.rand,
		TenantKnown:                      s.tenants.Known,
		Base:                             s.PublicBase,
		RemoteAddr:                       clientAddr(proxies),
		OnAuthenticated:                  scenario.MarkVerified,
		RevokeTokensOnSecretInvalidation: s.cfg.Auth.RevokeTokensOnSecretInvalidation,
		Clients:                          clients,
		Log:                              s.log,
	})
}

// bearer is the bearer middleware of a release's routes: failures are
// OperationOutcomes of that release.
func (s *Server) bearer(rel spec.Release) func(http.Handler) http.Handler {
	return s.auth.Bearer("fhirsandbox", func(w http.ResponseWriter, r *http.Request, status int, code, desc string) {
		ooCode := "login"
		if code != "login" {
			ooCode = "security"
		}
		fhir.WriteError(w, rel, &fhir.Error{Status: status, Code: ooCode, Diagnostics: desc})
	})
}
