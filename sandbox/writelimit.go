package sandbox

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
)

// writeChunk is how much of a response is written at a time, each piece
// with its own deadline (limits.write_chunk_timeout): a client taking
// longer than that for one piece reads too slowly and is cut.
const writeChunk = 64 << 10

// smallWrite is the largest Write sent without a deadline of its own: a
// deadline per chunk costs two deadline updates (each a timer change) per
// response, and for a body this small it has little to protect. net/http's
// connection buffer (4 KiB) and the socket's send buffer (16 KiB at least
// on Linux, tcp_wmem's default) take most or all of it without the client
// reading; a reader that stalls on the rest holds at most this much of the
// in-flight budget, for at most the whole-response deadline (WriteTimeout
// from the request's start). The slow-reader cut is for the large
// responses that would otherwise hold their memory for that long. 32 KiB
// covers the Patients app's usual answers, its batch of six queries
// included (about 21 KB).
const smallWrite = 32 << 10

// responseBudget counts the bytes of the responses being written to
// clients, across the server, against limits.max_inflight_response_bytes.
type responseBudget struct {
	max  int64
	used atomic.Int64
}

func (b *responseBudget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *responseBudget) release(n int64) { b.used.Add(-n) }

// InflightResponseBytes is how many response bytes are being written to
// clients right now (bounded by limits.max_inflight_response_bytes).
func (s *Server) InflightResponseBytes() int64 { return s.budget.used.Load() }

// errBudgetSpent is a response, or the rest of one, that the in-flight
// budget had no room for.
var errBudgetSpent = errors.New("the server's in-flight response budget is spent")

// limitWrites bounds what writing responses may hold: every Write
// reserves its bytes in the server-wide budget for as long as it runs,
// and is written in writeChunk pieces, each with a deadline of
// write_chunk_timeout, so a client that stops reading is cut within
// about that time and its response's memory released. A response the
// budget has no room for is answered 503 with Retry-After instead; one
// cut half-way (slow reader, or no room for its next piece) is aborted,
// never finished as if complete.
//
// Deadlines are on the wall clock, as socket deadlines are, not on the
// injected one.
func (s *Server) limitWrites(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lw := &limitedWriter{ResponseWriter: w, s: s, r: r, deadline: time.Now().Add(WriteTimeout)}
		next.ServeHTTP(lw, r)
		if lw.err != nil {
			// the client has part of a response: only a broken
			// connection tells it so (a chunked body would otherwise
			// be ended as if whole)
			panic(http.ErrAbortHandler)
		}
		if !lw.wroteHeader && lw.code != 0 {
			lw.ResponseWriter.WriteHeader(lw.code) // a status without a body (HEAD, 204, 304)
		}
	})
}

// limitedWriter holds the status back until the first Write, so a
// response the budget refuses can still be answered 503.
type limitedWriter struct {
	http.ResponseWriter
	s           *Server
	r           *http.Request
	rc          *http.ResponseController // made on first use: most responses never set a deadline
	code        int                      // status given by the handler, not yet sent
	wroteHeader bool                     // the status line has gone to the next writer
	refused     bool                     // answered 503 instead of the handler's response
	err         error
	deadline    time.Time // the write deadline outside chunk writes
}

func (w *limitedWriter) WriteHeader(code int) {
	if code < 200 { // informational: goes out at once, and is not the status
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.code == 0 && !w.wroteHeader {
		w.code = code
	}
}

func (w *limitedWriter) sendHeader() {
	if !w.wroteHeader {
		w.wroteHeader = true
		w.ResponseWriter.WriteHeader(cmp.Or(w.code, http.StatusOK))
	}
}

func (w *limitedWriter) Write(b []byte) (int, error) {
	switch {
	case w.refused:
		return 0, errBudgetSpent
	case w.err != nil:
		return 0, w.err
	}
	n := int64(len(b))
	if !w.s.budget.reserve(n) {
		if !w.wroteHeader {
			w.refuse(n)
			return 0, errBudgetSpent
		}
		w.err = errBudgetSpent
		return 0, w.err
	}
	defer w.s.budget.release(n)
	w.sendHeader()
	if len(b) <= smallWrite {
		m, err := w.ResponseWriter.Write(b)
		if err != nil {
			w.err = err
		}
		return m, err
	}
	timeout := w.s.cfg.Limits.WriteChunkTimeout
	written := 0
	for written < len(b) {
		end := min(len(b), written+writeChunk)
		_ = w.ctl().SetWriteDeadline(time.Now().Add(timeout))
		m, err := w.ResponseWriter.Write(b[written:end])
		written += m
		if err != nil {
			w.err = err
			break
		}
	}
	_ = w.rc.SetWriteDeadline(w.deadline)
	return written, w.err
}

// ctl is the controller of the writer underneath, made once.
func (w *limitedWriter) ctl() *http.ResponseController {
	if w.rc == nil {
		w.rc = http.NewResponseController(w.ResponseWriter)
	}
	return w.rc
}

// refuse answers 503 in place of a response of n bytes the budget has no
// room for.
func (w *limitedWriter) refuse(n int64) {
	w.refused, w.wroteHeader = true, true
	h := w.Header()
	for k := range h {
		if k != "X-Request-Id" && !strings.HasPrefix(k, "Access-Control-") {
			delete(h, k)
		}
	}
	h.Set("Cache-Control", "no-store")
	w.s.log.LogAttrs(w.r.Context(), slog.LevelWarn, "response refused: the in-flight response budget is spent",
		slog.String("request_id", RequestID(w.r.Context())), slog.Int64("bytes", n),
		slog.Int64("max_inflight_response_bytes", w.s.cfg.Limits.MaxInflightResponseBytes))
	msg := fmt.Sprintf("the server is busy sending other responses (a %d-byte response does not fit in limits.max_inflight_response_bytes now); try again shortly", n)
	if a, ok := w.s.fhirAPIFor(w.r.URL.Path); ok {
		fhir.WriteError(w.ResponseWriter, a.Version().Release(), &fhir.Error{Status: http.StatusServiceUnavailable, Code: "transient",
			Diagnostics: msg, Header: http.Header{"Retry-After": {"1"}}})
		return
	}
	h.Set("Retry-After", "1")
	h.Set("Content-Type", "application/json")
	w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w.ResponseWriter, `{"error":"temporarily_unavailable","error_description":%q}`+"\n", msg)
}

// FlushError sends the status and what is buffered, within one chunk's
// deadline (http.ResponseController.Flush calls it).
func (w *limitedWriter) FlushError() error {
	if w.refused {
		return errBudgetSpent
	}
	if w.err != nil {
		return w.err
	}
	w.sendHeader()
	_ = w.ctl().SetWriteDeadline(time.Now().Add(w.s.cfg.Limits.WriteChunkTimeout))
	err := w.rc.Flush()
	_ = w.rc.SetWriteDeadline(w.deadline)
	if err != nil {
		w.err = err
	}
	return err
}

// Flush is FlushError for writers checking for http.Flusher.
func (w *limitedWriter) Flush() { _ = w.FlushError() }

// SetWriteDeadline is the handler's own deadline (a stream extending its
// window): chunk writes go back to it when done.
func (w *limitedWriter) SetWriteDeadline(t time.Time) error {
	w.deadline = t
	return w.ctl().SetWriteDeadline(t)
}

// Unwrap lets http.ResponseController reach the rest (hijacking, read
// deadlines).
func (w *limitedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
