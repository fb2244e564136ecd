package sandbox

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// smallConfig is the default config with tiny populations: New builds
// every tenant's stores, and these tests are about HTTP plumbing.
func smallConfig() Config {
	cfg := DefaultConfig()
	for i := range cfg.Tenants {
		cfg.Tenants[i].Patients = 1
	}
	return cfg
}

func newTestServer(t *testing.T, cfg Config) (*Server, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	s, err := New(cfg, Options{
		Now:    func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
		Rand:   bytes.NewReader(bytes.Repeat([]byte{0xab}, 64)),
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		// the validators the fhirsandbox command runs fixtures through
		ValidateFixture: structural.Release,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, logs
}

func get(t *testing.T, h http.Handler, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestNew(t *testing.T) {
	t.Parallel()
	bad := smallConfig()
	bad.FHIRVersion = "r5"
	if _, err := New(bad, Options{}); err == nil || !strings.Contains(err.Error(), "fhir_version") {
		t.Errorf("New accepted an invalid config: %v", err)
	}

	s, _ := newTestServer(t, smallConfig())
	if got, want := s.AdminToken(), strings.Repeat("ab", 32); got != want {
		t.Errorf("generated admin token = %q, want 32 bytes of the injected randomness in hex", got)
	}
	cfg := smallConfig()
	cfg.Admin.Token = "a-configured-admin-token"
	cfg.Tenants[0].ID = strings.ToUpper(cfg.Tenants[0].ID)
	s, _ = newTestServer(t, cfg)
	if s.AdminToken() != cfg.Admin.Token {
		t.Errorf("configured admin token replaced: %q", s.AdminToken())
	}
	if s.Config().Tenants[0].ID != ContosoTenant {
		t.Errorf("tenant GUID not canonical: %q", s.Config().Tenants[0].ID)
	}
}

func TestHealthz(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, smallConfig())
	w := get(t, s.Handler(), "/healthz", nil)
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 || body["status"] != "ok" {
		t.Fatalf("healthz: %d %q (%v)", w.Code, w.Body, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	if id := w.Header().Get("X-Request-Id"); !strings.HasPrefix(id, "abababab-") {
		t.Errorf("request id %q not derived from the injected randomness", id)
	}
}

func TestIndexPage(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Tenants[1].Name = `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	s, _ := newTestServer(t, cfg)
	w := get(t, s.Handler(), "/", http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"abc.ngrok.app"}})
	if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("index: %d %s", w.Code, w.Header().Get("Content-Type"))
	}
	page := w.Body.String()
	for _, want := range []string{
		"https://abc.ngrok.app/dstu2", "https://abc.ngrok.app/stu3", "https://abc.ngrok.app/token",
		ContosoTenant, "Contoso General Hospital", "client_id=" + DefaultClientID, "scope=" + ContosoTenant,
		"&#34;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;script&gt;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script>", "<img src=x", "change-me-dev-secret"} {
		if strings.Contains(page, bad) {
			t.Errorf("landing page contains %q", bad)
		}
	}
	for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "frame-ancestors 'none'"} {
		if !strings.Contains(w.Header().Get(k), v) {
			t.Errorf("header %s = %q, want %q in it", k, w.Header().Get(k), v)
		}
	}
	if w := get(t, s.Handler(), "/nope", nil); w.Code != http.StatusNotFound {
		t.Errorf("unknown path: %d", w.Code)
	}
}

func TestPublicBase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		configured string
		host       string
		tls        bool
		header     http.Header
		want       string
	}{
		{"configured wins", "https://abc.ngrok.app", "localhost:8080", false, http.Header{"X-Forwarded-Host": {"other.example"}}, "https://abc.ngrok.app"},
		{"request host", "", "localhost:8080", false, nil, "http://localhost:8080"},
		{"tls", "", "Sandbox.Example:8443", true, nil, "https://sandbox.example:8443"},
		{"forwarded", "", "localhost:8080", false, http.Header{"X-Forwarded-Proto": {"HTTPS"}, "X-Forwarded-Host": {"abc.ngrok.app"}}, "https://abc.ngrok.app"},
		{"first of a proxy chain", "", "localhost:8080", false, http.Header{"X-Forwarded-Proto": {"https, http"}, "X-Forwarded-Host": {"a.example, b.example"}}, "https://a.example"},
		{"bad proto ignored", "", "localhost:8080", false, http.Header{"X-Forwarded-Proto": {"javascript"}}, "http://localhost:8080"},
		{"host with path ignored", "", "localhost:8080", false, http.Header{"X-Forwarded-Host": {"evil.example/x?"}}, "http://localhost:8080"},
		{"host with space ignored", "", "localhost:8080", false, http.Header{"X-Forwarded-Host": {"a b"}}, "http://localhost:8080"},
		{"userinfo ignored", "", "localhost:8080", false, http.Header{"X-Forwarded-Host": {"u@evil.example"}}, "http://localhost:8080"},
		{"ipv6", "", "[::1]:8080", false, nil, "http://[::1]:8080"},
		{"no host at all", "", "", false, nil, "http://localhost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Host = tt.host
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, v := range tt.header {
				r.Header[k] = v
			}
			if got := publicBase(tt.configured, r); got != tt.want {
				t.Errorf("publicBase = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, smallConfig())
	r := httptest.NewRequest(http.MethodOptions, "/stu3/Patient", nil)
	r.Header.Set("Origin", "https://teams.example")
	r.Header.Set("Access-Control-Request-Method", "POST")
	r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, r)
	if w.Code != http.StatusNoContent {
		t.Fatalf("preflight: %d", w.Code)
	}
	h := w.Header()
	if h.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") ||
		!strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight headers: %v", h)
	}

	w = get(t, s.Handler(), "/healthz", http.Header{"Origin": {"https://teams.example"}})
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("cross-origin GET headers: %v", w.Header())
	}
	w = get(t, s.Handler(), "/healthz", nil)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS headers on a same-origin request")
	}
}

func TestRequestLogHasNoSecrets(t *testing.T) {
	t.Parallel()
	s, logs := newTestServer(t, smallConfig())
	r := httptest.NewRequest(http.MethodGet, "/healthz?access_token=query-secret&client_secret=form-secret", nil)
	r.Header.Set("Authorization", "Bearer header-secret")
	r.Header.Set("Cookie", "c=cookie-secret")
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	out := logs.String()
	if !strings.Contains(out, `"path":"/healthz"`) || !strings.Contains(out, `"status":200`) {
		t.Errorf("log line lacks path or status: %s", out)
	}
	for _, secret := range []string{"query-secret", "form-secret", "header-secret", "cookie-secret", "Authorization"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

func TestPanicBecomes500AndServerKeepsServing(t *testing.T) {
	t.Parallel()
	s, logs := newTestServer(t, smallConfig())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("secret internal detail") })
	mux.HandleFunc("GET /late", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("partial"))
		panic("after the headers")
	})
	mux.HandleFunc("GET /ok", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "fine") })
	ts := httptest.NewServer(s.observe(mux))
	t.Cleanup(ts.Close)

	resp, err := http.Get(ts.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || strings.Contains(string(body), "secret internal detail") || !strings.Contains(string(body), resp.Header.Get("X-Request-Id")) {
		t.Errorf("panic answer: %d %s", resp.StatusCode, body)
	}
	if resp, err := http.Get(ts.URL + "/late"); err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("a panic after the headers should break the response, got a clean one")
		}
	}
	resp, err = http.Get(ts.URL + "/ok")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("server stopped serving after a panic: %v", err)
	}
	resp.Body.Close()
	if out := logs.String(); !strings.Contains(out, "secret internal detail") || !strings.Contains(out, `"status":500`) {
		t.Errorf("panic not logged with its status: %s", out)
	}
}

func TestRunGracefulShutdown(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, smallConfig())
	started := make(chan struct{})
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.serve(ctx, ln, mux) }()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err != nil {
			got <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	// The listener closes at once: a new connection is refused while the
	// in-flight request is still running.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned before the in-flight request finished: %v", err)
	default:
	}
	close(release)
	if body := <-got; body != "finished" {
		t.Errorf("in-flight request: %q", body)
	}
	if err := <-done; err != nil {
		t.Errorf("Run after clean shutdown: %v", err)
	}
}

func TestRunLimits(t *testing.T) {
	t.Parallel()
	s, _ := newTestServer(t, smallConfig())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/healthz", nil)
	req.Header.Set("X-Big", strings.Repeat("x", 2*MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("oversized headers: %d, want 431", resp.StatusCode)
	}

	// A client that never finishes its headers is cut off; this only checks
	// the timeout is set, not how fast it fires.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(ReadHeaderTimeout + 10*time.Second))
	_, err = bufio.NewReader(c).ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("server kept a header-less connection open past ReadHeaderTimeout")
	}
}
