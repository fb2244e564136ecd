package sandbox

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/logline"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
)

// observe is the outermost layer. It gives the request its id and its
// request note (package reqnote: the one record inner layers fill in with
// the verified tenant and client, the route, the scenario faults applied,
// why a token was refused), turns a handler panic into a 500 in the shape
// of its surface, and once the response is done writes the request's one
// log line and counts it in the metrics, both from that same note.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := s.now()
		// one allocation for what every request needs
		st := &requestState{sw: statusWriter{ResponseWriter: w}}
		note, sw := &st.note, &st.sw
		note.ID = s.nextRequestID()
		st.idHeader[0] = note.ID
		st.ctx.Init(r.Context(), note)
		r = r.WithContext(&st.ctx)
		w.Header()["X-Request-Id"] = st.idHeader[:]
		s.metrics.inFlight.Add(1)
		defer func() {
			p := recover()
			s.metrics.inFlight.Add(-1)
			status := sw.status
			abort := false
			// a response cut half-way (a slow or gone reader, the write
			// timeout, no budget left for its rest) is aborted; it is
			// logged as cut with what was written, not as a 500
			cut := sw.err != nil || p == http.ErrAbortHandler
			if p != nil {
				if !cut || status == 0 {
					status = http.StatusInternalServerError
				}
				if p == http.ErrAbortHandler {
					abort = true // the documented way to abort a response: net/http handles it
				} else {
					s.log.Error("panic serving request", "request_id", note.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					if sw.status != 0 {
						// Headers are gone: the only honest signal left is a broken connection.
						abort = true
					} else {
						s.writePanic(w, r, note.ID)
					}
				}
			}
			if status == 0 {
				status = http.StatusOK
			}
			cutReason := ""
			if cut {
				cutReason = "aborted"
				if sw.err != nil {
					cutReason = clip(sw.err.Error())
				}
			}
			s.finish(r, note, status, sw.bytes, cutReason, start, s.now())
			if abort {
				panic(http.ErrAbortHandler)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// routeOf is the request's route pattern, its metrics label: under a FHIR
// base the release's pattern ("/stu3/Patient/{id}"); elsewhere the
// pattern the mux served it by, or would have (a scenario may answer
// before the mux is reached); "(unmatched)" for a path no route serves.
// noted is the pattern the request note recorded, if any.
func (s *Server) routeOf(r *http.Request, noted string) string {
	if a, ok := s.fhirAPIFor(r.URL.Path); ok {
		return s.fhirLabels[a].of(r.URL.Path)
	}
	if p := noted; p != "" {
		return p
	}
	if _, p := s.mux.Handler(r); p != "" {
		return p
	}
	return "(unmatched)"
}

// requestState is what observe allocates per request, in one piece.
type requestState struct {
	note     reqnote.Note
	ctx      reqnote.Context // the request's context: its parent's and the note
	sw       statusWriter
	idHeader [1]string
}

// writePanic answers a request whose handler panicked before writing.
func (s *Server) writePanic(w http.ResponseWriter, r *http.Request, id string) {
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Cache-Control", "no-store")
	if a, ok := s.fhirAPIFor(r.URL.Path); ok {
		// a FHIR client gets the same OperationOutcome as from any other
		// failure of its release
		fhir.WriteError(w, a.Version().Release(), &fhir.Error{Status: http.StatusInternalServerError, Code: "exception",
			Diagnostics: "the server failed to process the request (request id " + id + ")"})
		return
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `{"error":"internal server error","request_id":%q}`+"\n", id)
}

// nextRequestID is the process's random prefix and a zero-padded
// sequence number ("1a2b3c4d-000042").
func (s *Server) nextRequestID() string {
	var buf [48]byte
	b := append(buf[:0], s.reqPrefix...)
	b = append(b, '-')
	n := s.reqSeq.Add(1)
	for d := uint64(100000); d > 1 && n < d; d /= 10 {
		b = append(b, '0')
	}
	b = strconv.AppendUint(b, n, 10)
	return string(b)
}

// finish logs the request's line and counts it in the metrics.
// cutReason is not empty when the response was cut half-way: why.
func (s *Server) finish(r *http.Request, note *reqnote.Note, status int, bytes int64, cutReason string, start, end time.Time) {
	took := end.Sub(start)
	sum := note.Summary()
	route := s.routeOf(r, sum.Route)
	// the metrics' tenant label: the verified one, else the claimed one
	// when it is a tenant this server has (a request refused or answered
	// by a scenario before its token was checked), never an arbitrary
	// string from a request
	tenant := sum.AuthTenant
	idTenant, client := sum.Tenant, sum.Client
	if tenant == "" && idTenant != "" && s.tenants.Known(idTenant) {
		tenant = idTenant
	}
	s.metrics.request(route, status, tenant, took)
	refused := sum.Refusal
	if route == "/token" {
		if status == http.StatusOK {
			s.metrics.tokensIssued.Inc([3]string{tenant})
		} else if refused != "" {
			s.metrics.tokensRefused.Inc([3]string{refused})
		}
	}
	for _, f := range sum.Faults {
		s.metrics.faults.Inc([3]string{f.Scenario, f.Rule, f.Effect})
	}

	ctx := r.Context()
	level := levelFor(status)
	msg := "request"
	if cutReason != "" {
		level = max(level, slog.LevelWarn)
		msg = "request: response cut"
	}
	h := s.log.Handler()
	line := requestLine{r: r, id: note.ID, status: status, bytes: bytes, took: took, tenant: idTenant, client: client,
		applied: sum.Applied, refused: refused, cutReason: cutReason}
	if lh, ok := h.(*logline.Handler); ok {
		if l, ok := lh.Begin(end, level, msg); ok {
			line.attrs(&l)
			_ = l.End()
			return
		}
		// not enabled (returns below), or a line slog writes
		// differently (a JSON time outside years 0 to 9999): a record
	}
	if !h.Enabled(ctx, level) {
		return
	}
	// the same line as a record, for any other handler
	var buf [16]slog.Attr
	a := attrList{a: buf[:0]}
	line.attrs(&a)
	// straight to the handler: Logger.LogAttrs would also walk the stack
	// for a source location nobody asked for
	rec := slog.NewRecord(end, level, msg, 0)
	rec.AddAttrs(a.a...)
	_ = h.Handle(ctx, rec)
}

// requestLine is what a request's log line says, after its message.
type requestLine struct {
	r                  *http.Request
	id                 string
	status             int
	bytes              int64
	took               time.Duration
	tenant, client     string
	applied            []string
	refused, cutReason string
}

// attrSink takes a log line's attributes in order: a logline.Line
// appending them, or an attrList collecting them for slog.
type attrSink interface {
	String(k, v string)
	Int(k string, v int64)
	Float(k string, v float64)
	Bool(k string, v bool)
}

// attrs gives the line's attributes to w, in the line's order.
func (l *requestLine) attrs(w attrSink) {
	w.String("request_id", l.id)
	w.String("method", l.r.Method)
	w.String("path", clip(l.r.URL.Path))
	if q := l.r.URL.RawQuery; q != "" {
		w.String("query", clipN(redactQuery(q), maxLoggedQuery))
	}
	w.Int("status", int64(l.status))
	w.Int("bytes", l.bytes)
	w.Float("latency_ms", float64(l.took.Microseconds())/1000)
	if l.tenant != "" {
		w.String("tenant", clip(l.tenant))
	}
	if l.client != "" {
		w.String("client", clip(l.client))
	}
	if len(l.applied) > 0 {
		w.String("faults", clip(strings.Join(l.applied, "; ")))
	}
	if l.refused != "" {
		w.String("refused", l.refused)
	}
	if l.cutReason != "" {
		w.Bool("cut", true)
		w.String("cut_reason", l.cutReason)
	}
	w.String("remote", l.r.RemoteAddr)
}

// attrList collects a line's attributes as slog attributes.
type attrList struct{ a []slog.Attr }

func (l *attrList) String(k, v string)        { l.a = append(l.a, slog.String(k, v)) }
func (l *attrList) Int(k string, v int64)     { l.a = append(l.a, slog.Int64(k, v)) }
func (l *attrList) Float(k string, v float64) { l.a = append(l.a, slog.Float64(k, v)) }
func (l *attrList) Bool(k string, v bool)     { l.a = append(l.a, slog.Bool(k, v)) }

// maxLoggedQuery bounds the query a log line shows, in bytes.
const maxLoggedQuery = 512

// clipN cuts s to at most n bytes on a rune boundary, marking the cut.
func clipN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// redactedParams are query parameters whose values never reach a log line
// (compared case-insensitively).
var redactedParams = [...]string{"access_token", "client_secret", "code", "refresh_token", "id_token", "token",
	"password", "client_assertion", "assertion"}

// redactQuery returns the raw query with the values of secret-bearing
// parameters replaced by REDACTED. A query without one (every FHIR
// search) is returned as is, without allocating.
func redactQuery(raw string) string {
	var b []byte
	rest := raw
	for pos := 0; rest != ""; {
		pair, after, more := strings.Cut(rest, "&")
		k, _, hasValue := strings.Cut(pair, "=")
		secret := false
		if key, err := unescapeKey(k); err != nil {
			secret = true // a key that cannot be read could be anything
		} else {
			for _, p := range redactedParams {
				if strings.EqualFold(key, p) {
					secret = true
					break
				}
			}
		}
		if secret && hasValue {
			if b == nil {
				b = append(make([]byte, 0, len(raw)), raw[:pos]...)
			}
			b = append(b, k...)
			b = append(b, "=REDACTED"...)
		} else if b != nil {
			b = append(b, pair...)
		}
		pos += len(pair)
		if more {
			pos++
			if b != nil {
				b = append(b, '&')
			}
		}
		rest = after
	}
	if b == nil {
		return raw
	}
	return string(b)
}

// unescapeKey decodes a query key only when it is encoded.
func unescapeKey(k string) (string, error) {
	if !strings.ContainsAny(k, "%+") {
		return k, nil
	}
	return url.QueryUnescape(k)
}
