package scenario

import (
	"bytes"
	"context"
	"crypto/tls"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reqNote is the request-scoped note (package reqnote) the server's
// outermost middleware creates: the identity is computed once, and the
// journal, the log line and the metrics learn what the engine applied.
type reqNote = reqnote.Note

func withNote(ctx context.Context, n *reqNote) context.Context { return reqnote.With(ctx, n) }

func noteFrom(ctx context.Context) *reqNote { return reqnote.From(ctx) }

// MarkVerified tells the scenario engine that the server authenticated
// clientID for r (a token request with a right secret, or a bearer token
// whose signature and claims checked out). The engine identifies requests
// before authentication, from unverified input; a timeline action that
// deletes, expires or revokes the requesting client waits for this mark,
// so a request merely naming another client cannot act on it. Outside the
// engine's middleware it does nothing.
func MarkVerified(r *http.Request, clientID string) {
	n := noteFrom(r.Context())
	if n == nil || clientID == "" {
		return
	}
	if !n.IsVerified(clientID) {
		n.Authenticated("", clientID)
	}
}

func slicesClone(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return append([]string(nil), s...)
}

// execute carries out a plan: latency first, then the fault, the canned
// response or the quirks around the next handler.
func (e *Engine) execute(p *plan, next http.Handler, w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if p.latency > 0 {
		if err := e.opts.Sleep(ctx, p.latency); err != nil {
			return // the client gave up; nobody is left to answer
		}
	}
	for _, q := range p.quirks {
		if q.Kind == QuirkIgnoreCount {
			r = withoutCount(r)
		}
	}
	if p.fault != nil {
		switch p.fault.Kind {
		case FaultConnectionReset:
			closeConn(w, true)
			return
		case FaultEmptyResponse:
			closeConn(w, false)
			return
		case FaultHang:
			_ = e.opts.Sleep(ctx, e.opts.MaxHang)
			closeConn(w, false)
			return
		}
	}
	rewrite := hasBodyQuirks(p.quirks)
	if p.respond == nil && p.fault == nil && !rewrite {
		next.ServeHTTP(w, r)
		return
	}
	var status int
	var body []byte
	if p.respond != nil {
		h := w.Header()
		h.Del("Content-Length")
		for k, v := range p.respond.Headers {
			h.Set(k, v)
		}
		status, body = p.respond.Status, p.respond.Body
		if o := p.respond.Outcome; o != nil && e.opts.Outcome != nil {
			ct, b := e.opts.Outcome(r, *o)
			h.Set("Content-Type", ct)
			body = b
		}
	} else {
		// Faults keep the first MaxCapture bytes; quirks on a larger
		// response give up and let it through unmodified.
		cw := &captureWriter{w: w, limit: e.opts.MaxCapture, passOnOverflow: p.fault == nil}
		next.ServeHTTP(cw, r)
		if cw.passthrough {
			return
		}
		status, body = cw.code(), cw.buf.Bytes()
	}
	if rewrite && isJSON(w.Header()) && w.Header().Get("Content-Encoding") == "" {
		body = applyQuirks(body, p.quirks)
	}
	h := w.Header()
	if p.fault == nil {
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
		return
	}
	switch p.fault.Kind {
	case FaultMalformedJSON:
		body = malform(body)
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	case FaultTruncatedBody:
		// The full length is promised and half delivered, then the
		// connection closes: what a proxy timing out mid-body looks like.
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body[:len(body)/2])
		_ = http.NewResponseController(w).Flush()
		closeConn(w, false)
	case FaultSlowDribble:
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		e.dribble(r.Context(), w, body, p.fault.BytesPerSecond)
	}
}

// dribble writes body at bytesPerSecond, in chunks of a tenth of a second
// (or single bytes at low rates), flushing each.
func (e *Engine) dribble(ctx context.Context, w http.ResponseWriter, body []byte, bytesPerSecond int) {
	rc := http.NewResponseController(w)
	chunk := max(1, bytesPerSecond/10)
	interval := time.Duration(chunk) * time.Second / time.Duration(bytesPerSecond)
	for len(body) > 0 {
		n := min(chunk, len(body))
		if _, err := w.Write(body[:n]); err != nil {
			return
		}
		_ = rc.Flush()
		body = body[n:]
		if len(body) == 0 {
			return
		}
		if err := e.opts.Sleep(ctx, interval); err != nil {
			return
		}
	}
}

// closeConn ends the connection without (more of) a response. reset sets
// SO_LINGER 0 so the peer sees a TCP RST rather than an orderly FIN.
// Where hijacking is impossible (HTTP/2) the stream is aborted instead.
func closeConn(w http.ResponseWriter, reset bool) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if buf != nil {
		_ = buf.Flush()
	}
	if reset {
		raw := conn
		if tc, ok := raw.(*tls.Conn); ok {
			raw = tc.NetConn()
		}
		if tcp, ok := raw.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
	_ = conn.Close()
}

// malform breaks JSON in the way a cut-off or hand-edited payload does: a
// trailing comma before the closing bracket.
func malform(body []byte) []byte {
	b := bytes.TrimRight(body, " \t\r\n")
	if len(b) == 0 {
		return []byte("{")
	}
	out := make([]byte, 0, len(b)+2)
	out = append(out, b[:len(b)-1]...)
	return append(out, ",}"...)
}

func isJSON(h http.Header) bool {
	return strings.Contains(h.Get("Content-Type"), "json")
}

func withoutCount(r *http.Request) *http.Request {
	q := r.URL.Query()
	if _, ok := q["_count"]; !ok {
		return r
	}
	q.Del("_count")
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = q.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	return r2
}

// captureWriter buffers the next handler's response, up to a limit.
type captureWriter struct {
	w              http.ResponseWriter
	status         int
	buf            bytes.Buffer
	limit          int
	passOnOverflow bool
	passthrough    bool
}

func (c *captureWriter) Header() http.Header { return c.w.Header() }

func (c *captureWriter) WriteHeader(code int) {
	if c.passthrough {
		c.w.WriteHeader(code)
		return
	}
	if c.status == 0 && code >= 200 {
		c.status = code
	}
}

func (c *captureWriter) code() int {
	if c.status == 0 {
		return http.StatusOK
	}
	return c.status
}

func (c *captureWriter) Write(b []byte) (int, error) {
	if c.passthrough {
		return c.w.Write(b)
	}
	if c.buf.Len()+len(b) <= c.limit {
		return c.buf.Write(b)
	}
	if !c.passOnOverflow {
		c.buf.Write(b[:c.limit-c.buf.Len()])
		return len(b), nil
	}
	c.passthrough = true
	c.w.WriteHeader(c.code())
	if _, err := c.w.Write(c.buf.Bytes()); err != nil {
		return 0, err
	}
	c.buf = bytes.Buffer{}
	return c.w.Write(b)
}

// Flush is a no-op while capturing: nothing may reach the client before
// the response is rewritten.
func (c *captureWriter) Flush() {
	if c.passthrough {
		_ = http.NewResponseController(c.w).Flush()
	}
}
