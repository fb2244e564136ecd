package sandbox

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// tokenStatus posts a client-credentials request and returns the status.
func tokenStatus(t *testing.T, base, clientID, secret, xff string) int {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {ContosoTenant}}
	req, err := http.NewRequest(http.MethodPost, base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// throttleServer serves cfg over HTTP with real randomness (token ids).
func throttleServer(t *testing.T, cfg Config) string {
	t.Helper()
	cfg.Admin.Token = "admin-token-for-tests"
	s, err := New(cfg, Options{Now: func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// Behind a local tunnel every caller is 127.0.0.1: failures of one client
// id must not lock out another.
func TestThrottleBehindTunnelIsPerClient(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Clients = append(cfg.Clients, ClientConfig{ID: "other", Name: "Other", Tenants: []string{"*"}, Secrets: []SecretConfig{{Value: "other-secret-for-tests"}}})
	srv := struct{ URL string }{throttleServer(t, cfg)}
	for range 10 {
		if got := tokenStatus(t, srv.URL, "other", "wrong", ""); got != http.StatusUnauthorized {
			t.Fatalf("wrong secret: status %d, want 401", got)
		}
	}
	if got := tokenStatus(t, srv.URL, "other", "other-secret-for-tests", ""); got != http.StatusTooManyRequests {
		t.Errorf("11th attempt for the failing client: status %d, want 429", got)
	}
	if got := tokenStatus(t, srv.URL, DefaultClientID, "change-me-dev-secret", ""); got != http.StatusOK {
		t.Errorf("another client after 10 failures of the first: status %d, want 200", got)
	}
	// Without a trusted proxy a forged X-Forwarded-For changes nothing.
	for i := range 12 {
		tokenStatus(t, srv.URL, "nobody-"+string(rune('a'+i)), "wrong", "203.0.113.9")
	}
	if got := tokenStatus(t, srv.URL, DefaultClientID, "change-me-dev-secret", "203.0.113.9"); got != http.StatusOK {
		t.Errorf("untrusted X-Forwarded-For was throttled: status %d, want 200", got)
	}
}

// With a trusted proxy the forwarded address is the caller: a caller
// spraying client ids is blocked, another caller through the same proxy
// is not.
func TestThrottleTrustedProxyPerForwardedAddress(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.TrustedProxies = []string{"127.0.0.1/32", "::1"}
	srv := struct{ URL string }{throttleServer(t, cfg)}
	for i := range 10 {
		if got := tokenStatus(t, srv.URL, "nobody-"+string(rune('a'+i)), "wrong", "198.51.100.7"); got != http.StatusUnauthorized {
			t.Fatalf("wrong secret: status %d, want 401", got)
		}
	}
	if got := tokenStatus(t, srv.URL, DefaultClientID, "change-me-dev-secret", "198.51.100.7"); got != http.StatusTooManyRequests {
		t.Errorf("blocked address: status %d, want 429", got)
	}
	// The leftmost entry is the caller's to forge; the proxy appended the
	// real address on the right.
	if got := tokenStatus(t, srv.URL, DefaultClientID, "change-me-dev-secret", "198.51.100.7, 203.0.113.9"); got != http.StatusOK {
		t.Errorf("another forwarded address: status %d, want 200", got)
	}
}

func TestClientAddr(t *testing.T) {
	t.Parallel()
	p := func(s string) []string { return []string{s} }
	for _, tc := range []struct {
		trusted []string
		peer    string
		xff     []string
		want    string
	}{
		{nil, "127.0.0.1:5000", nil, ""},
		{nil, "[::1]:5000", p("198.51.100.7"), ""},
		{nil, "192.0.2.1:5000", p("198.51.100.7"), "192.0.2.1"},
		{[]string{"127.0.0.1/32"}, "127.0.0.1:5000", p("198.51.100.7"), "198.51.100.7"},
		{[]string{"127.0.0.1/32"}, "127.0.0.1:5000", nil, ""},
		{[]string{"127.0.0.1/32"}, "127.0.0.1:5000", p("junk"), ""},
		{[]string{"127.0.0.1/32", "10.0.0.0/8"}, "127.0.0.1:5000", []string{"1.1.1.1, 198.51.100.7", "10.1.2.3"}, "198.51.100.7"},
		{[]string{"10.0.0.0/8"}, "127.0.0.1:5000", p("198.51.100.7"), ""},
		{[]string{"10.0.0.0/8"}, "192.0.2.1:5000", p("198.51.100.7"), "192.0.2.1"},
	} {
		trusted, err := parseProxies(tc.trusted)
		if err != nil {
			t.Fatal(err)
		}
		r := httptest.NewRequest(http.MethodPost, "/token", nil)
		r.RemoteAddr = tc.peer
		for _, v := range tc.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientAddr(trusted)(r); got != tc.want {
			t.Errorf("trusted %v peer %s xff %q: got %q, want %q", tc.trusted, tc.peer, tc.xff, got, tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.TrustedProxies = []string{"not-a-cidr"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "trusted_proxies[0]") {
		t.Errorf("bad CIDR: err %v", err)
	}
}

// The client-deleted scenario deletes the client of a token request; a
// request naming another client with a wrong secret must not delete it.
func TestScenarioActsOnlyOnVerifiedClient(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Clients = append(cfg.Clients, ClientConfig{ID: "other", Name: "Other", Tenants: []string{"*"}, Secrets: []SecretConfig{{Value: "other-secret-for-tests"}}})
	cfg.Admin.Token = "admin-token-for-tests"
	s, err := New(cfg, Options{Now: func() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	sc, err := BuiltinScenario("client-deleted")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateScenario(sc); err != nil {
		t.Fatal(err)
	}
	if got := tokenStatus(t, srv.URL, "other", "wrong-secret", ""); got != http.StatusUnauthorized {
		t.Fatalf("wrong secret: status %d, want 401", got)
	}
	if got := tokenStatus(t, srv.URL, "other", "other-secret-for-tests", ""); got != http.StatusOK {
		t.Fatalf("the named client after someone else's wrong secret: status %d, want 200", got)
	}
	// The scenario still works on the verified client: its first token
	// request deleted it.
	if got := tokenStatus(t, srv.URL, "other", "other-secret-for-tests", ""); got != http.StatusUnauthorized {
		t.Errorf("after its own first token request: status %d, want 401", got)
	}
}

func TestShutdownGraceRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d  time.Duration
		ok bool
	}{{0, true}, {10 * time.Second, true}, {10 * time.Minute, true}, {-time.Second, false}, {11 * time.Minute, false}} {
		cfg := DefaultConfig()
		cfg.ShutdownGrace = tc.d
		if err := cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("shutdown_grace %s: err %v, want ok=%t", tc.d, err, tc.ok)
		}
	}
}
