package sandbox

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/logline"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// TestRequestLinesThroughLogline: the request lines the server appends
// through a logline.Handler (what serve logs with) are byte for byte the
// ones slog's own text and JSON handlers write from the server's record,
// over requests that use every attribute: a query (redacted), a refusal,
// a tenant and client, scenario faults, a 500-level status and a path
// that needs quoting.
func TestRequestLinesThroughLogline(t *testing.T) {
	t.Parallel()
	serve := func(h slog.Handler) {
		t.Helper()
		var seed [32]byte
		// a clock that moves 1.234567 ms per reading: latencies and
		// times with every digit
		var ticks time.Duration
		s, err := New(smallConfig(), Options{
			Now: func() time.Time {
				ticks += 1234567
				return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).Add(ticks)
			},
			Rand:   rand.NewChaCha8(seed),
			Logger: slog.New(h),
		})
		if err != nil {
			t.Fatal(err)
		}
		handler := s.Handler()
		do := func(method, target, tok string, form url.Values) string {
			var r *http.Request
			if form != nil {
				r = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			} else {
				r = httptest.NewRequest(method, target, nil)
			}
			if tok != "" {
				r.Header.Set("Authorization", "Bearer "+tok)
			}
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			return w.Body.String()
		}
		cfg := smallConfig()
		body := do("POST", "/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cfg.Clients[0].ID},
			"client_secret": {cfg.Clients[0].Secrets[0].Value}, "scope": {ContosoTenant}})
		tok := between(body, `"access_token":"`, `"`)
		if tok == "" {
			t.Fatalf("no token: %s", body)
		}
		do("POST", "/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cfg.Clients[0].ID},
			"client_secret": {"wrong-secret-value-000001"}, "scope": {ContosoTenant}})
		do("GET", "/stu3/Patient/pat-1", tok, nil)
		do("GET", "/stu3/Patient/pat-1?access_token=secret-in-the-query&_format=json", "", nil)
		do("GET", "/stu3/Patient?family=caf%C3%A9&_count=1", tok, nil)
		do("GET", "/stu3/Patient/no%20such%22one%3D", tok, nil)
		do("GET", "/no/such/path", "", nil)
		sc, err := scenario.Load("fail.yaml", []byte(`name: failing-observations
description: every Observation search is answered 503
rules:
  - name: fail observations
    match: {path: "/stu3/Observation"}
    respond:
      status: 503
      headers: {Retry-After: "1"}
      operation_outcome: {code: transient, diagnostics: down}
`))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ActivateScenario(sc); err != nil {
			t.Fatal(err)
		}
		do("GET", "/stu3/Observation?patient=pat-1", tok, nil)
	}
	// the request lines only: others carry the wall clock's time
	requestLines := func(b *bytes.Buffer) string {
		var out []string
		for l := range strings.Lines(b.String()) {
			if strings.Contains(l, "msg=request ") || strings.Contains(l, `"msg":"request"`) {
				out = append(out, l)
			}
		}
		return strings.Join(out, "")
	}
	for _, json := range []bool{false, true} {
		var want, got bytes.Buffer
		var std slog.Handler = slog.NewTextHandler(&want, nil)
		if json {
			std = slog.NewJSONHandler(&want, nil)
		}
		serve(std)
		serve(logline.New(&got, json, slog.LevelInfo))
		w, g := requestLines(&want), requestLines(&got)
		if strings.Count(w, "\n") != 8 || w != g {
			t.Errorf("json=%v: lines differ\nslog:\n%s\nlogline:\n%s", json, w, g)
		}
		for _, attr := range []string{"query", "refused", "tenant", "client", "faults", "503", "latency_ms"} {
			if !strings.Contains(w, attr) {
				t.Errorf("json=%v: no line has %s:\n%s", json, attr, w)
			}
		}
	}
}
