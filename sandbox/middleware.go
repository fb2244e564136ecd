package sandbox

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
)

// RequestID returns the id the server gave the request (also sent back in
// the X-Request-Id header and written in its log line).
func RequestID(ctx context.Context) string {
	if n := reqnote.From(ctx); n != nil {
		return n.ID
	}
	return ""
}

// statusWriter remembers what was written so the log line and the panic
// handler know the status and whether headers already went out.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	err    error // the first failed write: the response was cut
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Unwrap lets http.ResponseController reach Flush, deadlines and hijacking.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// corsAllowHeaders are the request headers a browser FHIR client sends.
const (
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
	corsAllowHeaders  = "Authorization, Content-Type, Accept, Prefer, If-Match, If-None-Match, If-Modified-Since, X-Request-Id"
	corsExposeHeaders = "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate, Retry-After, X-Request-Id"
)

// cors lets browser clients on any origin call the sandbox. Tokens travel
// in the Authorization header, never in cookies, so "*" is safe: a page on
// another origin can only use a token it already holds.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fhir.HeaderValue(r.Header, "Origin") == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// PublicBase is the scheme://host[/path] every absolute URL the server
// emits starts with: public_url when configured; else what a reverse proxy
// (ngrok, a dev tunnel) says in X-Forwarded-Proto / X-Forwarded-Host, if
// well-formed; else the request's own Host. The forwarded headers are
// trusted from anyone because they only shape the answer to the request
// that carries them.
func (s *Server) PublicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	// Every request of a client asks this (the bearer check, the FHIR
	// API) with the same Host: the last answer is kept, so a request costs
	// comparisons rather than a parse of its Host and a new string.
	tls := r.TLS != nil
	proto, fhost := fhir.HeaderValue(r.Header, "X-Forwarded-Proto"), fhir.HeaderValue(r.Header, "X-Forwarded-Host")
	if m := s.lastBase.Load(); m != nil && m.tls == tls && m.host == r.Host && m.proto == proto && m.fhost == fhost {
		return m.base
	}
	b := publicBase("", r)
	if validHost(r.Host) { // else the answer came from the connection's local address
		s.lastBase.Store(&baseMemo{tls: tls, host: r.Host, proto: proto, fhost: fhost, base: b})
	}
	return b
}

// baseMemo is one PublicBase answer and what it was computed from.
type baseMemo struct {
	tls                      bool
	host, proto, fhost, base string
}

func publicBase(configured string, r *http.Request) string {
	if configured != "" {
		return configured
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(firstForwarded(r.Header.Get("X-Forwarded-Proto"))); p == "http" || p == "https" {
		scheme = p
	}
	host := ""
	if h := firstForwarded(r.Header.Get("X-Forwarded-Host")); h != "" && validHost(h) {
		host = h
	} else if validHost(r.Host) {
		host = r.Host
	} else if a, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ String() string }); ok && validHost(a.String()) {
		host = a.String()
	} else {
		host = "localhost"
	}
	return scheme + "://" + strings.ToLower(host)
}

// firstForwarded takes the first (client-side) value of a header a chain
// of proxies may have appended to.
func firstForwarded(v string) string {
	v, _, _ = strings.Cut(v, ",")
	return strings.TrimSpace(v)
}

func levelFor(status int) slog.Level {
	if status >= 500 {
		return slog.LevelError
	}
	return slog.LevelInfo
}
