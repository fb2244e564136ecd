package sandbox

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
)

type requestIDKey struct{}

// RequestID returns the id the server gave the request (also sent back in
// the X-Request-Id header and written in its log line).
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
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

// recoverPanics turns a handler panic into a 500 without internals and a
// log line with the stack, so one bad request never takes the server down.
// It also assigns the request id, being the outermost layer.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := fmt.Sprintf("%s-%06d", s.reqPrefix, s.reqSeq.Add(1))
		r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
		w.Header().Set("X-Request-Id", id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler {
				panic(p) // the documented way to abort a response: let net/http handle it
			}
			s.log.Error("panic serving request", "request_id", id, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if sw.status != 0 {
				// Headers are gone: the only honest signal left is a broken connection.
				panic(http.ErrAbortHandler)
			}
			h := w.Header()
			h.Del("Content-Length")
			h.Set("Cache-Control", "no-store")
			if a, ok := s.fhirAPIFor(r.URL.Path); ok {
				// a FHIR client gets the same OperationOutcome as from any
				// other failure of its release
				fhir.WriteError(w, a.Version().Release(), &fhir.Error{Status: http.StatusInternalServerError, Code: "exception",
					Diagnostics: "the server failed to process the request (request id " + id + ")"})
				return
			}
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, `{"error":"internal server error","request_id":%q}`+"\n", id)
		}()
		next.ServeHTTP(sw, r)
	})
}

// logRequests writes one line per request. Only the method, the path (no
// query: it may carry a token or secret), status, size, duration and
// request id are logged; headers never are, Authorization included.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			p := recover()
			// a response cut half-way (a slow or gone reader, the write
			// timeout, no budget left for its rest) is aborted; it is
			// logged as cut with what was written, not as its status
			cut := sw.err != nil || p == http.ErrAbortHandler
			if p != nil && !cut {
				status = http.StatusInternalServerError
			}
			if status == 0 {
				status = http.StatusOK
			}
			level := levelFor(status)
			attrs := []slog.Attr{
				slog.String("request_id", RequestID(r.Context())),
				slog.String("method", r.Method),
				slog.String("path", clip(r.URL.Path)),
				slog.Int("status", status),
				slog.Int64("bytes", sw.bytes),
				slog.Duration("duration", s.now().Sub(start)),
				slog.String("remote", r.RemoteAddr),
			}
			if cut {
				level = max(level, slog.LevelWarn)
				reason := "aborted"
				if sw.err != nil {
					reason = clip(sw.err.Error())
				}
				attrs = append(attrs, slog.Bool("cut", true), slog.String("cut_reason", reason))
			}
			msg := "request"
			if cut {
				msg = "request: response cut"
			}
			s.log.LogAttrs(r.Context(), level, msg, attrs...)
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

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
		if r.Header.Get("Origin") == "" {
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
	return publicBase(s.cfg.PublicURL, r)
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
