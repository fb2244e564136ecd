package sandbox

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/logline"
)

// discardWriter is the cheapest ResponseWriter: a fresh header map per
// request, as net/http gives one, and the body thrown away.
type discardWriter struct {
	h      http.Header
	status int
}

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) WriteHeader(code int)        { w.status = code }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }

// BenchmarkHandlerRead is the sandbox's own cost of an authenticated GET
// Patient/{id}: the whole handler chain (request note, journal, scenario
// engine, CORS, dispatch, bearer check, tenant routing, read, write, the
// text log line and the metrics), without the network, so allocations
// and time per request are exact rather than shared with net/http.
func BenchmarkHandlerRead(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 50, 1
	// the text log handler serve uses
	s, err := New(cfg, Options{Logger: slog.New(logline.New(io.Discard, false, slog.LevelInfo))})
	if err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	w := httptest.NewRecorder()
	treq := httptest.NewRequest("POST", "/token", strings.NewReader(url.Values{"grant_type": {"client_credentials"},
		"client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant}}.Encode()))
	treq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	h.ServeHTTP(w, treq)
	tok := between(w.Body.String(), `"access_token":"`, `"`)
	if tok == "" {
		b.Fatalf("no token: %s", w.Body)
	}
	req := httptest.NewRequest("GET", "/stu3/Patient/pat-7", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		dw := &discardWriter{h: make(http.Header, 8)}
		h.ServeHTTP(dw, req)
		if dw.status != 0 && dw.status != 200 {
			b.Fatalf("status %d", dw.status)
		}
	}
}
