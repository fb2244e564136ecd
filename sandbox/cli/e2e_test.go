package cli

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestServeEndToEnd builds the real binary, runs serve on a free port,
// talks to it over HTTP and stops it with SIGTERM, as a user or a process
// manager would.
func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fhirsandbox")
	build := exec.Command("go", "build", "-o", bin, "../..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "sandbox.yaml")
	if err := os.WriteFile(cfg, []byte("fhir_version: dstu2\ntenants:\n  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: E2E Hospital, patients: 5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--config", cfg, "--log-format", "json")
	cmd.Env = append(os.Environ(), "FHIRSANDBOX_PUBLIC_URL=") // the test's environment must not steer it
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &lockedBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// One goroutine owns the process: it reads stdout to the end, then
	// waits; done closes after waitErr is set.
	lines := make(chan string, 100)
	done := make(chan struct{})
	var waitErr error
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads past the first line; never block the process on stdout
			}
		}
		waitErr = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		<-done
	})

	var base string
	select {
	case line := <-lines:
		var ok bool
		if base, ok = strings.CutPrefix(line, "listening on "); !ok {
			t.Fatalf("first line %q, want \"listening on URL\"", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no listen address printed; stderr:\n%s", stderr.String())
	}

	client := &http.Client{Timeout: 10 * time.Second}
	for path, want := range map[string]string{
		"/healthz":        `"status":"ok"`,
		"/":               base + "/dstu2",
		"/dstu2/metadata": `"fhirVersion":"1.0.2"`,
	} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}

	// a token (with the client's secret) and a read (with the token):
	// both logged as JSON lines, neither secret nor token in them
	const secret = "change-me-dev-secret"
	resp, err := client.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {"teams-patients-app"}, "client_secret": {secret}, "scope": {"2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"}})
	if err != nil {
		t.Fatal(err)
	}
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	if err != nil || tr.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	req, _ := http.NewRequest("GET", base+"/dstu2/Patient/pat-1", nil)
	req.Header.Set("Authorization", "Bearer "+tr.AccessToken)
	if resp, err = client.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("read: %d", resp.StatusCode)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	defer func() {
		// after the exit: every buffered line was written out
		logs := stderr.String()
		for _, s := range []string{secret, tr.AccessToken} {
			if strings.Contains(logs, s) {
				t.Errorf("the log contains a secret or token")
			}
		}
		var sawToken, sawRead bool
		for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
			var ln struct{ Msg, Path, Tenant, Client string }
			if err := json.Unmarshal([]byte(l), &ln); err != nil {
				t.Errorf("--log-format json wrote a line that is not JSON: %q", l)
				continue
			}
			sawToken = sawToken || ln.Msg == "request" && ln.Path == "/token" && ln.Client == "teams-patients-app"
			sawRead = sawRead || ln.Msg == "request" && ln.Path == "/dstu2/Patient/pat-1" &&
				ln.Tenant == "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c" && ln.Client == "teams-patients-app"
		}
		if !sawToken || !sawRead {
			t.Errorf("the token request's and the read's log lines are missing (token %v, read %v):\n%s", sawToken, sawRead, logs)
		}
	}()
	select {
	case <-done:
		if waitErr != nil {
			t.Errorf("exit after SIGTERM: %v; stderr:\n%s", waitErr, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("still running 15s after SIGTERM")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Errorf("server still answering after exit")
	}
}

// lockedBuffer collects the child's stderr, written by exec's copying
// goroutine while the test may read it for a failure message.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
