package fhir

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// Limits bound what one request may ask of the API.
type Limits struct {
	MaxBodyBytes     int64 // request bodies (resources, Bundles, _search forms)
	DefaultCount     int   // page size when _count is absent
	MaxCount         int   // _count above this is clamped
	MaxBundleEntries int   // batch and transaction entries
	MaxQueryParams   int   // parameters in one query string
}

// DefaultLimits are the limits used when Options leaves them zero.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 1 << 20, DefaultCount: 20, MaxCount: 100, MaxBundleEntries: 500, MaxQueryParams: 100}
}

// Security lists the OAuth endpoints the metadata advertises, as paths
// under the public base URL ("/token"); empty ones are left out.
type Security struct {
	Token, Authorize, Register, Manage, Introspect, Revoke, JWKS string
}

// Options configure an API for one FHIR release.
type Options struct {
	Version Version
	// Store returns the store that serves the request: the tenant routing
	// seam. A non-nil *Error is written as it is.
	Store func(r *http.Request) (*store.Store, *Error)
	// Base returns the public base URL of the server (scheme://host[/prefix],
	// no trailing slash); the release's base is Base + "/" + Version.Name().
	Base func(r *http.Request) string
	// Protect wraps every route but metadata and smart-configuration
	// (the bearer middleware). Nil: open server.
	Protect  func(http.Handler) http.Handler
	Security Security
	Limits   Limits
	// Published is the date the metadata statement carries.
	Published time.Time
	Now       func() time.Time
	NewID     func() string // ids for created resources and Bundles
	Logger    *slog.Logger
	// Software names the server in the metadata.
	Software, SoftwareVersion string
	// Drift, when set, returns deliberate changes to the metadata
	// statement (a scenario's "metadata drift"); zero means none.
	Drift func() Drift
}

// Drift changes the metadata statement the way a partner's metadata
// drifts in the wild: the token URL moves, the oauth-uris extension goes
// missing, fhirVersion changes.
type Drift struct {
	TokenURL      string // absolute, or a path under the public base
	DropOAuthURIs bool
	FHIRVersion   string
}

// API serves one FHIR release under /{name}.
type API struct {
	o           Options
	contentType []string
	defs        store.Definitions
	prefix      string
	types       map[string]bool
	protected   http.Handler
}

// NewAPI returns the FHIR REST API of one release.
func NewAPI(o Options) *API {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{o: o, prefix: "/" + o.Version.Name(), types: map[string]bool{}, defs: o.Version.SearchParams(),
		contentType: []string{o.Version.MediaType() + "; charset=utf-8"}}
	for typ := range a.defs {
		a.types[typ] = true
	}
	if o.Protect != nil {
		a.protected = o.Protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			segs, _ := a.segments(r) // checked in ServeHTTP
			a.route(w, r, segs)
		}))
	}
	return a
}

// Prefix is the path the API is mounted at: "/dstu2" or "/stu3".
func (a *API) Prefix() string { return a.prefix }

// Version is the release the API serves.
func (a *API) Version() Version { return a.o.Version }

// BaseURL is the public base URL of the release for a request.
func (a *API) BaseURL(r *http.Request) string { return a.o.Base(r) + a.prefix }

// ServeHTTP routes a request under the release's prefix. It does its own
// routing rather than using http.ServeMux so that every path, including
// ones the mux would clean and redirect ("..", "//"), gets a FHIR answer.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if rec := recover(); rec != nil {
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			a.o.Logger.Error("panic in FHIR handler", "panic", rec, "method", r.Method, "path", r.URL.Path)
			a.fail(w, errorf(http.StatusInternalServerError, "exception", "the server failed to process the request"))
		}
	}()
	segs, ferr := a.segments(r)
	if ferr != nil {
		a.fail(w, ferr)
		return
	}
	if len(segs) == 1 && segs[0] == "metadata" {
		if !a.allow(w, r, "GET, HEAD") {
			return
		}
		a.metadata(w, r)
		return
	}
	if len(segs) == 2 && segs[0] == ".well-known" && segs[1] == "smart-configuration" {
		if !a.allow(w, r, "GET, HEAD") {
			return
		}
		a.smartConfiguration(w, r)
		return
	}
	if a.protected != nil {
		a.protected.ServeHTTP(w, r)
		return
	}
	a.route(w, r, segs)
}

// segments splits the path under the prefix into unescaped segments.
func (a *API) segments(r *http.Request) ([]string, *Error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), a.prefix)
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, nil
	}
	raw := strings.Split(p, "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.ContainsAny(u, "/\x00") {
			return nil, errorf(http.StatusBadRequest, "invalid", "the path segment %q is not valid", s)
		}
		segs[i] = u
	}
	return segs, nil
}

func (a *API) allow(w http.ResponseWriter, r *http.Request, allowed string) bool {
	for _, m := range strings.Split(allowed, ", ") {
		if r.Method == m {
			return true
		}
	}
	e := errorf(http.StatusMethodNotAllowed, "not-supported", "%s is not supported on %s (allowed: %s)", r.Method, r.URL.Path, allowed)
	e.Header = http.Header{"Allow": {allowed}}
	a.fail(w, e)
	return false
}

func (a *API) fail(w http.ResponseWriter, e *Error) { WriteError(w, a.o.Version, e) }

// route serves everything but metadata (after Protect, when set).
func (a *API) route(w http.ResponseWriter, r *http.Request, segs []string) {
	f, ferr := parseFormat(r)
	if ferr != nil {
		a.fail(w, ferr)
		return
	}
	switch len(segs) {
	case 0:
		if !a.allow(w, r, "POST") {
			return
		}
		a.withStore(w, r, func(s *store.Store) *Error { return a.bundle(w, r, f, s) })
		return
	case 1, 2, 4:
	default:
		a.fail(w, errorf(http.StatusNotFound, "not-found", "no FHIR route for %s", r.URL.Path))
		return
	}
	typ := segs[0]
	if !a.types[typ] {
		a.fail(w, errorf(http.StatusNotFound, "not-supported", "resource type %q is not supported by this %s server", typ, strings.ToUpper(a.o.Version.Name())))
		return
	}
	switch {
	case len(segs) == 1:
		if !a.allow(w, r, "GET, HEAD, POST") {
			return
		}
		if r.Method == http.MethodPost {
			a.withStore(w, r, func(s *store.Store) *Error { return a.create(w, r, f, s, typ) })
			return
		}
		a.withStore(w, r, func(s *store.Store) *Error { return a.searchHTTP(w, r, f, s, typ, false) })
	case segs[1] == "_search":
		if !a.allow(w, r, "GET, HEAD, POST") {
			return
		}
		a.withStore(w, r, func(s *store.Store) *Error { return a.searchHTTP(w, r, f, s, typ, r.Method == http.MethodPost) })
	case len(segs) == 2:
		id := segs[1]
		if !store.ValidID(id) {
			a.fail(w, errorf(http.StatusBadRequest, "invalid", "%q is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)", id))
			return
		}
		if !a.allow(w, r, "GET, HEAD, PUT, DELETE") {
			return
		}
		switch r.Method {
		case http.MethodPut:
			a.withStore(w, r, func(s *store.Store) *Error { return a.update(w, r, f, s, typ, id) })
		case http.MethodDelete:
			a.withStore(w, r, func(s *store.Store) *Error { return a.remove(w, s, typ, id) })
		default:
			a.withStore(w, r, func(s *store.Store) *Error { return a.read(w, r, f, s, typ, id, "") })
		}
	default: // Type/id/_history/vid
		if segs[2] != "_history" || !store.ValidID(segs[1]) {
			a.fail(w, errorf(http.StatusNotFound, "not-found", "no FHIR route for %s", r.URL.Path))
			return
		}
		if !a.allow(w, r, "GET, HEAD") {
			return
		}
		a.withStore(w, r, func(s *store.Store) *Error { return a.read(w, r, f, s, typ, segs[1], segs[3]) })
	}
}

func (a *API) withStore(w http.ResponseWriter, r *http.Request, fn func(*store.Store) *Error) {
	s, e := a.o.Store(r)
	if e == nil {
		e = fn(s)
	}
	if e != nil {
		a.fail(w, e)
	}
}
