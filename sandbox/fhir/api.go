package fhir

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// Limits bound what one request may ask of the API.
type Limits struct {
	MaxBodyBytes     int64 // request bodies (resources, Bundles, _search forms)
	DefaultCount     int   // page size when _count is absent
	MaxCount         int   // _count above this is clamped
	MaxBundleEntries int   // batch and transaction entries
	MaxQueryParams   int   // parameters in one query string
	// MaxResponseBytes bounds a searchset and a batch response; zero
	// means spec.DefaultMaxResponseBytes.
	MaxResponseBytes int64
}

// DefaultLimits are the limits used when Options leaves them zero.
func DefaultLimits() Limits {
	return Limits{MaxBodyBytes: 1 << 20, DefaultCount: 20, MaxCount: 100, MaxBundleEntries: 500, MaxQueryParams: 100, MaxResponseBytes: spec.DefaultMaxResponseBytes}
}

// Security lists the OAuth endpoints the metadata advertises, as paths
// under the public base URL ("/token"); empty ones are left out.
type Security struct {
	Token, Authorize, Register, Manage, Introspect, Revoke, JWKS string
}

// Options configure an API for one FHIR release.
type Options struct {
	Version Version
	// Store returns the store that serves a request given to ServeHTTP. A
	// non-nil *Error is written as it is. A server that routes tenants
	// itself calls Serve with the store it resolved instead.
	Store func(r *http.Request) (*store.Store, *Error)
	// Base returns the public base URL of the server (scheme://host[/prefix],
	// no trailing slash); the release's base is Base + Release().Base().
	Base     func(r *http.Request) string
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
	rel         spec.Release
	contentType []string
	defs        store.Definitions
	prefix      string
	types       map[string]bool
	bufs        bufferPool // batch and transaction responses
	// tooCostly is the answer of a batch entry past
	// Limits.MaxResponseBytes, made once: every batch counts with it
	tooCostly entryResult
	// a read's ETag and Last-Modified values, shared by the responses
	// that send the same ones (header slices are replaced, never
	// modified): the ETags of the first versions, made once, and the
	// Last-Modified of the last time formatted (a population's resources
	// mostly share theirs)
	etags   [etagsKept][]string
	lastMod atomic.Pointer[lastModMemo]
}

// etagsKept is how many versions' ETag values an API keeps (1 to 16).
const etagsKept = 16

// lastModMemo is a Last-Modified header value and the time it says.
type lastModMemo struct {
	t time.Time
	v []string
}

// bufferPool reuses the buffers of large responses: a batch response is
// tens of kilobytes, and a new one per request costs its zeroing and the
// garbage collector's time.
type bufferPool struct{ p sync.Pool }

// maxPooledBuffer is the largest buffer kept for reuse.
const maxPooledBuffer = 1 << 20

func (p *bufferPool) get(size int) *bytes.Buffer {
	b, _ := p.p.Get().(*bytes.Buffer)
	if b == nil {
		b = new(bytes.Buffer)
	}
	b.Reset()
	b.Grow(size)
	return b
}

func (p *bufferPool) put(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		p.p.Put(b)
	}
}

// NewAPI returns the FHIR REST API of one release.
func NewAPI(o Options) *API {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits()
	}
	if o.Limits.MaxResponseBytes <= 0 {
		// callers that set the older limits only still get a bound
		o.Limits.MaxResponseBytes = spec.DefaultMaxResponseBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rel := o.Version.Release()
	a := &API{o: o, rel: rel, prefix: rel.Base(), types: map[string]bool{}, defs: o.Version.SearchParams(),
		contentType: []string{rel.MediaType + "; charset=utf-8"}}
	for typ := range a.defs {
		a.types[typ] = true
	}
	a.tooCostly = a.entryError(errorf(http.StatusBadRequest, "too-costly", "the batch response would exceed %d bytes; this entry was not run", o.Limits.MaxResponseBytes))
	for i := range a.etags {
		a.etags[i] = []string{etagOf(i + 1)}
	}
	return a
}

// Prefix is the path the API is mounted at: "/dstu2" or "/stu3".
func (a *API) Prefix() string { return a.prefix }

// Version is the release the API serves.
func (a *API) Version() Version { return a.o.Version }

// BaseURL is the public base URL of the release for a request.
func (a *API) BaseURL(r *http.Request) string { return a.o.Base(r) + a.prefix }

// ServeHTTP serves a request from the store Options.Store gives it.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.Serve(w, r, func() (*store.Store, *Error) { return a.o.Store(r) })
}

// Serve routes a request under the release's prefix; resolve is asked for
// the request's store once the path is known to need one, so a bad path
// is answered as such whatever the tenant's state. It does its own
// routing rather than using http.ServeMux so that every path, including
// ones the mux would clean and redirect ("..", "//"), gets a FHIR answer.
func (a *API) Serve(w http.ResponseWriter, r *http.Request, resolve func() (*store.Store, *Error)) {
	defer func() {
		if rec := recover(); rec != nil {
			if rec == http.ErrAbortHandler {
				panic(rec)
			}
			a.o.Logger.Error("panic in FHIR handler", "panic", rec, "method", r.Method, "path", r.URL.Path)
			a.fail(w, errorf(http.StatusInternalServerError, "exception", "the server failed to process the request"))
		}
	}()
	var buf [6]string // room for the segments of every FHIR interaction's path
	segs, ferr := a.segments(r, buf[:0])
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
	a.route(w, r, segs, resolve)
}

// segments splits the path under the prefix into unescaped segments,
// appended to buf when they fit.
func (a *API) segments(r *http.Request, buf []string) ([]string, *Error) {
	p := strings.TrimPrefix(r.URL.EscapedPath(), a.prefix)
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil, nil
	}
	segs := buf[:0]
	if n := strings.Count(p, "/") + 1; n > cap(segs) {
		segs = make([]string, 0, n)
	}
	for s := range strings.SplitSeq(p, "/") {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" || strings.IndexByte(u, '/') >= 0 || strings.IndexByte(u, 0) >= 0 {
			return nil, errorf(http.StatusBadRequest, "invalid", "the path segment %q is not valid", s)
		}
		segs = append(segs, u)
	}
	return segs, nil
}

func (a *API) allow(w http.ResponseWriter, r *http.Request, allowed string) bool {
	for m := range strings.SplitSeq(allowed, ", ") {
		if r.Method == m {
			return true
		}
	}
	e := errorf(http.StatusMethodNotAllowed, "not-supported", "%s is not supported on %s (allowed: %s)", r.Method, r.URL.Path, allowed)
	e.Header = http.Header{"Allow": {allowed}}
	a.fail(w, e)
	return false
}

func (a *API) fail(w http.ResponseWriter, e *Error) { WriteError(w, a.rel, e) }

// methodAllowed reports whether the method is one the type route serves,
// so that a wrong method is answered 405 whatever the token's scopes.
func (a *API) methodAllowed(r *http.Request, segs []string) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		return true
	case http.MethodPost:
		return len(segs) == 1 || segs[1] == "_search"
	case http.MethodPut, http.MethodDelete:
		return len(segs) == 2 && segs[1] != "_search"
	}
	return false
}

// route serves everything but metadata and smart-configuration.
func (a *API) route(w http.ResponseWriter, r *http.Request, segs []string, resolve func() (*store.Store, *Error)) {
	withStore := func(fn func(*store.Store) *Error) {
		s, e := resolve()
		if e == nil {
			e = fn(s)
		}
		if e != nil {
			a.fail(w, e)
		}
	}
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
		withStore(func(s *store.Store) *Error { return a.bundle(w, r, f, s) })
		return
	case 1, 2, 4:
	default:
		a.fail(w, errorf(http.StatusNotFound, "not-found", "no FHIR route for %s", r.URL.Path))
		return
	}
	typ := segs[0]
	if !a.types[typ] {
		a.fail(w, errorf(http.StatusNotFound, "not-supported", "resource type %q is not supported by this %s server", typ, a.rel.Label))
		return
	}
	if len(segs) <= 2 {
		// the type-level scope check; constraints are applied where the
		// resources are known (read, search)
		if _, e := permit(r, typ, opOf(r.Method, segs)); e != nil && a.methodAllowed(r, segs) {
			a.fail(w, e)
			return
		}
	} else if _, e := permit(r, typ, smartscope.Read); e != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		a.fail(w, e)
		return
	}
	switch {
	case len(segs) == 1:
		if !a.allow(w, r, "GET, HEAD, POST") {
			return
		}
		if r.Method == http.MethodPost {
			withStore(func(s *store.Store) *Error { return a.create(w, r, f, s, typ) })
			return
		}
		withStore(func(s *store.Store) *Error { return a.searchHTTP(w, r, f, s, typ, false) })
	case segs[1] == "_search":
		if !a.allow(w, r, "GET, HEAD, POST") {
			return
		}
		withStore(func(s *store.Store) *Error { return a.searchHTTP(w, r, f, s, typ, r.Method == http.MethodPost) })
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
			withStore(func(s *store.Store) *Error { return a.update(w, r, f, s, typ, id) })
		case http.MethodDelete:
			withStore(func(s *store.Store) *Error { return a.remove(w, r, s, typ, id) })
		default:
			withStore(func(s *store.Store) *Error { return a.read(w, r, f, s, typ, id, "") })
		}
	default: // Type/id/_history/vid
		if segs[2] != "_history" || !store.ValidID(segs[1]) {
			a.fail(w, errorf(http.StatusNotFound, "not-found", "no FHIR route for %s", r.URL.Path))
			return
		}
		if !a.allow(w, r, "GET, HEAD") {
			return
		}
		withStore(func(s *store.Store) *Error { return a.read(w, r, f, s, typ, segs[1], segs[3]) })
	}
}
