package sandbox

import (
	"net/http"
	"net/http/pprof"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
	"github.com/fhirsandbox/fhirsandbox/sandbox/portal"
)

// buildHandler is the one place that says which middleware runs in which
// order, outermost first.
func (s *Server) buildHandler() http.Handler {
	s.mux = s.routes()
	s.fhirLabels = make(map[*fhir.API]*fhirRouteLabels, len(s.apis))
	for _, a := range s.apis {
		s.fhirLabels[a] = newFHIRRouteLabels(a)
	}
	var h http.Handler = routePattern(s.mux)
	h = s.fhirDispatch(h)        // FHIR bases go to their routes unrouted by the mux (below)
	h = s.cors(h)                // browser clients; preflights answered before auth
	h = s.engine.Middleware(h)   // scenario faults, latency and quirks
	h = s.limitWrites(h)         // in-flight response budget; slow readers cut
	h = s.requests.Middleware(h) // the request journal (what was asked, what was done)
	h = s.observe(h)             // request id and note; a panic is a 500; one log line and the metrics
	return h
}

// routePattern records the mux pattern that served a request (its
// metrics label) in the request note. The mux sets r.Pattern on the
// request it is given.
func routePattern(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if n := reqnote.From(r.Context()); n != nil && r.Pattern != "" {
			n.SetRoute(r.Pattern)
		}
	})
}

// routes is the one route table. Every top-level route and mount point is
// here; the handlers behind a mount point route their own subtrees.
//
// The FHIR bases are not on this mux: fhirDispatch sends every path under
// them to the release's routes first, because the mux would clean "..",
// "//" and %2F out of a path with a redirect where a FHIR client must get
// an OperationOutcome. Under each base (fhirRoutes, then fhir.API):
//
//	GET  /{release}/metadata                            open: the CapabilityStatement (Conformance in DSTU2)
//	GET  /{release}/.well-known/smart-configuration     open: SMART discovery
//	POST /{release}                                     bearer: batch or transaction
//	GET|POST /{release}/{type}[/_search]                bearer: search (POST creates on /{type})
//	GET|PUT|DELETE /{release}/{type}/{id}               bearer: read, update, delete
//	GET  /{release}/{type}/{id}/_history/{vid}          bearer: vread
//
// with {release} each name of spec.Releases.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	// landing page and health
	mux.HandleFunc("GET /{$}", s.handleIndex)
	mux.HandleFunc("GET /healthz", s.handleHealthz)
	mux.Handle("GET /metrics", s.metricsHandler()) // Prometheus text format: open to loopback, else the admin guards

	// authorization server: no bearer check. The token endpoints answer
	// every method themselves (405 with an RFC 6749 error body).
	mux.Handle("/token", s.auth.Token())
	mux.Handle("/token/introspect", s.auth.Introspect())
	mux.Handle("/token/revoke", s.auth.Revoke())
	mux.Handle("GET /.well-known/jwks.json", s.auth.JWKS())
	mux.HandleFunc("/authorize", handleAuthorize)

	// administration: the JSON API and the portal, each with its own
	// guards (loopback only unless admin.allow_remote, the admin token,
	// cross-origin protection)
	mux.Handle("/admin/api/", s.adminAPI())       // clients, tenants, request journal, scenario switches
	mux.Handle(portal.Prefix, s.portalHandler())  // "/portal/"
	mux.Handle("/debug/pprof/", s.pprofHandler()) // Go runtime profiles, behind the admin API's guards
	return mux
}

// pprofHandler serves the Go runtime profiles (fetched with the admin
// token in an Authorization header, then read by go tool pprof). Profiles show request paths and timings and
// can cost CPU, so they get the admin API's guards, and the handlers are
// mounted here rather than through net/http/pprof's registration on
// http.DefaultServeMux, which this server does not serve.
func (s *Server) pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index) // also every named profile: heap, goroutine, allocs...
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return admin.GuardDigest(s.adminDigest, s.cfg.Admin.AllowRemote, mux)
}
