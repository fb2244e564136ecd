package sandbox

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
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
	h, tok := benchHandler(b)
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

// BenchmarkHandlerBatch is the same for the Patients app's batch of its
// six clinical queries about one patient (testdata/batch-six-queries.json,
// STU3, asked about pat-7), its searches answered from the search cache after the first
// round, as when a client polls a chart.
func BenchmarkHandlerBatch(b *testing.B) {
	h, tok := benchHandler(b)
	body, err := os.ReadFile(filepath.Join("..", "testdata", "batch-six-queries.json"))
	if err != nil {
		b.Fatal(err)
	}
	body = bytes.ReplaceAll(body, []byte("pat-500"), []byte("pat-7")) // a patient of the 50
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("POST", "/stu3", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/fhir+json")
		dw := &discardWriter{h: make(http.Header, 8)}
		h.ServeHTTP(dw, req)
		if dw.status != 0 && dw.status != 200 {
			b.Fatalf("status %d", dw.status)
		}
	}
}

// benchHandler is a sandbox of the default configuration (50 patients in
// the first tenant) with the text log handler serve uses, and a token for
// its first tenant.
func benchHandler(b *testing.B) (http.Handler, string) {
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 50, 1
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
	return h, tok
}
