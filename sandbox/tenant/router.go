package tenant

import (
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// RouterOptions configure a Router.
type RouterOptions struct {
	Registry *Registry
	// Credentials are the sandbox's credentials for a tenant's upstream
	// server (zero: none).
	Credentials func(t Tenant) UpstreamAuth
	// PublicBase is the sandbox's public root URL for a request; a
	// release's public base is PublicBase + Release.Base().
	PublicBase func(r *http.Request) string
	// WriteError answers a request that fails in the proxy, in the shape
	// of the release's other errors.
	WriteError func(w http.ResponseWriter, r *http.Request, rel spec.Release, status int, code, msg string)
	Now        func() time.Time
	Logger     *slog.Logger
}

// Router is tenant routing, in one place: it resolves a request's tenant
// once and picks its backend for a release, the tenant's local store or a
// proxy to its upstream FHIR server. Upstream proxies are kept per
// (tenant, release, upstream URL): a proxy holds the upstream token cache,
// so it lives as long as the mapping does.
type Router struct {
	o RouterOptions

	mu      sync.Mutex
	proxies map[proxyKey]http.Handler
}

type proxyKey struct{ tenant, release, upstream string }

// NewRouter returns a router over o.Registry.
func NewRouter(o RouterOptions) *Router {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Credentials == nil {
		o.Credentials = func(Tenant) UpstreamAuth { return UpstreamAuth{} }
	}
	return &Router{o: o, proxies: map[proxyKey]http.Handler{}}
}

// Backend is where a request goes: Proxy for an upstream tenant, else
// Store, or Err when the tenant cannot be served (the caller answers it
// in its own shape, at the point its other errors are answered).
type Backend struct {
	Tenant Tenant
	Proxy  http.Handler
	Store  *store.Store
	Err    *RouteError
}

// RouteError is why a tenant's request cannot be served.
type RouteError struct {
	Status int
	// Code is a FHIR issue-type code: login, transient, exception.
	Code string
	Msg  string
	// RetryAfter, when set, is the Retry-After header value.
	RetryAfter string
}

func (e *RouteError) Error() string { return e.Msg }

// Resolve picks the backend of tenant id (canonical, as the token carries
// it) for a release.
func (rt *Router) Resolve(id string, rel spec.Release) Backend {
	t, ok := rt.o.Registry.Get(id)
	switch {
	case !ok:
		return Backend{Err: &RouteError{Status: http.StatusUnauthorized, Code: "login", Msg: "the token's tenant is no longer mapped to a FHIR server"}}
	case t.Down:
		return Backend{Tenant: t, Err: &RouteError{Status: http.StatusServiceUnavailable, Code: "transient", Msg: "the tenant's FHIR server is unavailable", RetryAfter: "30"}}
	case t.Upstream != "":
		p, err := rt.proxy(t, rel)
		if err != nil {
			rt.o.Logger.Error("upstream proxy", "tenant", t.ID, "err", err)
			return Backend{Tenant: t, Err: &RouteError{Status: http.StatusBadGateway, Code: "transient", Msg: "the tenant's upstream FHIR server is misconfigured"}}
		}
		return Backend{Tenant: t, Proxy: p}
	}
	st, err := rt.o.Registry.Store(t.ID, rel.Name)
	if errors.Is(err, ErrUnknown) { // removed since Get
		return Backend{Err: &RouteError{Status: http.StatusUnauthorized, Code: "login", Msg: "the token's tenant is no longer mapped to a FHIR server"}}
	}
	if err != nil {
		rt.o.Logger.Error("tenant store", "tenant", t.ID, "release", rel.Name, "err", err)
		return Backend{Tenant: t, Err: &RouteError{Status: http.StatusInternalServerError, Code: "exception", Msg: "the tenant's data could not be loaded"}}
	}
	return Backend{Tenant: t, Store: st}
}

func (rt *Router) proxy(t Tenant, rel spec.Release) (http.Handler, error) {
	key := proxyKey{t.ID, rel.Name, t.Upstream}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if h := rt.proxies[key]; h != nil {
		return h, nil
	}
	h, err := NewProxy(ProxyOptions{
		Upstream:   t.Upstream,
		Auth:       rt.o.Credentials(t),
		Prefix:     rel.Base(),
		PublicBase: func(r *http.Request) string { return rt.o.PublicBase(r) + rel.Base() },
		Now:        rt.o.Now,
		Logger:     rt.o.Logger,
		OnError: func(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
			rt.o.WriteError(w, r, rel, status, code, msg)
		},
	})
	if err != nil {
		return nil, err
	}
	rt.proxies[key] = h
	return h, nil
}
