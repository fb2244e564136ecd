package cli

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
)

// servingCLI is serve running in-process on a free port.
type servingCLI struct {
	url    string
	stdout *lockedBuffer
	stderr *lockedBuffer
	stop   func() int // cancels serve and returns its exit code
}

// startServe runs `fhirsandbox serve ARGS --listen 127.0.0.1:0` with d
// and waits for its banner.
func startServe(t *testing.T, d deps, args ...string) *servingCLI {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &servingCLI{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	done := make(chan int, 1)
	go func() {
		done <- runWith(ctx, append([]string{"fhirsandbox", "serve", "--listen", "127.0.0.1:0"}, args...), s.stdout, s.stderr, d)
	}()
	var code int
	s.stop = func() int {
		cancel()
		return code
	}
	listening := regexp.MustCompile(`(?m)^listening on (http://\S+)$`)
	deadline := time.After(60 * time.Second)
	for {
		// the banner ends with the example search (a config always has a
		// tenant), printed before serving starts
		if m := listening.FindStringSubmatch(s.stdout.String()); m != nil && strings.Contains(s.stdout.String(), "/Patient/_search") {
			s.url = m[1]
			break
		}
		select {
		case code = <-done:
			cancel()
			t.Fatalf("serve exited %d before listening:\n%s%s", code, s.stdout, s.stderr)
		case <-deadline:
			cancel()
			t.Fatalf("serve did not start:\n%s%s", s.stdout, s.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	stopped := false
	s.stop = func() int {
		if !stopped {
			cancel()
			code = <-done
			stopped = true
		}
		return code
	}
	t.Cleanup(func() { s.stop() })
	return s
}

var adminTokenLine = regexp.MustCompile(`(?m)^\s+admin token\s+([0-9a-f]{64})\s`)

// TestServeAdminTokenFromEnv: with FHIRSANDBOX_ADMIN_TOKEN set, serve
// prints no generated token and the admin commands work with the variable.
// Not parallel: it sets an environment variable.
func TestServeAdminTokenFromEnv(t *testing.T) {
	const tok = "env-admin-token-0123456789abcdef"
	t.Setenv("FHIRSANDBOX_ADMIN_TOKEN", tok)
	t.Setenv("FHIRSANDBOX_PUBLIC_URL", "")
	s := startServe(t, defaultDeps(), "--patients", "1")
	if strings.Contains(s.stdout.String(), "admin token") {
		t.Errorf("banner prints an admin token though FHIRSANDBOX_ADMIN_TOKEN is set:\n%s", s.stdout)
	}
	if code, out, errOut := runCLI(context.Background(), "clients", "list", "--url", s.url); code != 0 || !strings.Contains(out, sandbox.DefaultClientID) {
		t.Fatalf("clients list with the variable: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(context.Background(), "clients", "list", "--url", s.url, "--admin-token", "some-other-token-0123456789"); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("another token: exit %d %s", code, errOut)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exit %d", code)
	}
	// set but empty counts as unset: a token is generated
	t.Setenv("FHIRSANDBOX_ADMIN_TOKEN", "")
	if empty := startServe(t, defaultDeps(), "--patients", "1"); !adminTokenLine.MatchString(empty.stdout.String()) {
		t.Errorf("FHIRSANDBOX_ADMIN_TOKEN= (empty): no generated token on the banner:\n%s%s", empty.stdout, empty.stderr)
	}
	t.Setenv("FHIRSANDBOX_ADMIN_TOKEN", "short")
	if code, _, errOut := runCLI(context.Background(), "serve", "--listen", "127.0.0.1:0"); code != exitUsage || !strings.Contains(errOut, "too short, 5 characters") {
		t.Errorf("short admin token: exit %d %s", code, errOut)
	}
}

// TestServeKeepsAdminTokenInState: with --state, the token generated at
// the first start works after a restart (the journal keeps its digest,
// never the token), and a configured token still wins.
func TestServeKeepsAdminTokenInState(t *testing.T) {
	t.Setenv("FHIRSANDBOX_ADMIN_TOKEN", "")
	os.Unsetenv("FHIRSANDBOX_ADMIN_TOKEN")
	t.Setenv("FHIRSANDBOX_PUBLIC_URL", "")
	stateFile := filepath.Join(t.TempDir(), "sandbox.state")
	first := startServe(t, defaultDeps(), "--patients", "1", "--state", stateFile)
	m := adminTokenLine.FindStringSubmatch(first.stdout.String())
	if m == nil || !strings.Contains(first.stdout.String(), "kept in "+stateFile) {
		t.Fatalf("first start prints no generated, kept admin token:\n%s", first.stdout)
	}
	generated := m[1]
	if code := first.stop(); code != 0 {
		t.Fatalf("first serve exit %d: %s", code, first.stderr)
	}
	journal, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(generated))
	if strings.Contains(string(journal), generated) || !strings.Contains(string(journal), hex.EncodeToString(sum[:])) {
		t.Errorf("the state file should hold the token's digest and never the token:\n%.500s", journal)
	}

	second := startServe(t, defaultDeps(), "--patients", "1", "--state", stateFile)
	if adminTokenLine.MatchString(second.stdout.String()) || !strings.Contains(second.stdout.String(), "kept from "+stateFile) {
		t.Errorf("restart banner:\n%s", second.stdout)
	}
	if code, _, errOut := runCLI(context.Background(), "clients", "list", "--url", second.url, "--admin-token", generated); code != 0 {
		t.Fatalf("the first start's token after a restart: exit %d %s", code, errOut)
	}
	// the portal signs in with it too
	res, err := http.PostForm(second.url+"/portal/signin", map[string][]string{"token": {generated}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Request.URL.Path != "/portal/" || res.StatusCode != http.StatusOK {
		t.Errorf("portal sign-in with the kept token ended at %s with %d", res.Request.URL, res.StatusCode)
	}
	second.stop()

	const configured = "configured-admin-token-0123456789"
	third := startServe(t, defaultDeps(), "--patients", "1", "--state", stateFile, "--admin-token", configured)
	if strings.Contains(third.stdout.String(), "admin token") {
		t.Errorf("banner with a configured token:\n%s", third.stdout)
	}
	if code, _, _ := runCLI(context.Background(), "clients", "list", "--url", third.url, "--admin-token", configured); code != 0 {
		t.Errorf("configured token: exit %d", code)
	}
	if code, _, _ := runCLI(context.Background(), "clients", "list", "--url", third.url, "--admin-token", generated); code != 1 {
		t.Errorf("the kept token while another is configured: exit %d, want 1", code)
	}
}

// TestServeWarnings: serve warns, before it starts, about an expired and a
// soon-expiring secret (file:line), the development secret on a public URL,
// and the portal that a public URL cannot reach.
func TestServeWarnings(t *testing.T) {
	t.Setenv("FHIRSANDBOX_PUBLIC_URL", "")
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	soon := now.Add(10 * 24 * time.Hour)
	cfg := strings.Join([]string{
		"tenants:",
		"  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: A, patients: 1}",
		"clients:",
		"  - id: app",
		"    name: App",
		"    tenants: ['*']",
		"    secrets:",
		"      - value: an-expired-secret-0123",
		"        expires: 2020-01-01T00:00:00Z",
		"      - value: a-soon-expiring-secret-0123",
		"        expires: " + soon.Format(time.RFC3339),
		"      - value: " + sandbox.DevSecret,
		"auth:",
		"  required: false",
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "sandbox.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, fixedDeps(now, 1), "--config", path, "--public-url", "https://abc.ngrok.app")
	warn := s.stderr.String()
	for _, want := range []string{
		path + ":9: clients[0].secrets[0].expires: secret of client app expired on 2020-01-01",
		path + ":11: clients[0].secrets[1].expires: secret of client app expires on " + soon.Format(time.DateOnly) + ", in 10 days",
		path + ":12: clients[0].secrets[2].value: client app has the built-in development secret",
		"reachable from the internet",
		"auth.required: false with public_url https://abc.ngrok.app",
		"admin.allow_remote: false with public_url https://abc.ngrok.app: the portal and admin API answer 403",
	} {
		if !strings.Contains(warn, want) {
			t.Errorf("stderr lacks %q:\n%s", want, warn)
		}
	}
	// the banner's example uses a secret that works
	if strings.Contains(s.stdout.String(), "an-expired-secret") || !strings.Contains(s.stdout.String(), "a-soon-expiring-secret-0123") {
		t.Errorf("banner example:\n%s", s.stdout)
	}
	// and every warning came before the server said it listens: the
	// user sees them without scrolling through the request log
	sc := bufio.NewScanner(strings.NewReader(warn))
	for sc.Scan() {
		if strings.Contains(sc.Text(), "warning") && !strings.HasPrefix(sc.Text(), "fhirsandbox: warning: ") {
			t.Errorf("warning line not in the CLI's shape: %q", sc.Text())
		}
	}

	// the default config on loopback: one warning, the development secret
	q := startServe(t, defaultDeps(), "--patients", "1")
	if n := strings.Count(q.stderr.String(), "fhirsandbox: warning:"); n != 1 || !strings.Contains(q.stderr.String(), "never behind a public URL") {
		t.Errorf("default config warnings (%d):\n%s", n, q.stderr)
	}
}
