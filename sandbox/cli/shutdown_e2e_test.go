package cli

import (
	"bufio"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// runningBinary is the built fhirsandbox serving a config; exited closes
// once the process is gone, with waitErr set.
type runningBinary struct {
	base    string
	cmd     *exec.Cmd
	stderr  *lockedBuffer
	exited  chan struct{}
	waitErr error
}

// startBinary builds and starts serve with files (sandbox.yaml among them)
// written to a temporary directory, $DIR in args naming it.
func startBinary(t *testing.T, files map[string]string, args ...string) *runningBinary {
	t.Helper()
	return startBinaryIn(t, t.TempDir(), files, args...)
}

// startBinaryIn is startBinary in dir; the binary is built there once, so
// a second start in the same dir (a restart) runs the same build.
func startBinaryIn(t *testing.T, dir string, files map[string]string, args ...string) *runningBinary {
	t.Helper()
	bin := filepath.Join(dir, "fhirsandbox")
	if _, err := os.Stat(bin); err != nil {
		if out, err := exec.Command("go", "build", "-o", bin, "../..").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := filepath.Join(dir, "sandbox.yaml")
	for i, a := range args {
		args[i] = strings.ReplaceAll(a, "$DIR", dir)
	}
	rb := &runningBinary{stderr: &lockedBuffer{}, exited: make(chan struct{})}
	rb.cmd = exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--config", cfg}, args...)...)
	rb.cmd.Env = append(os.Environ(), "FHIRSANDBOX_PUBLIC_URL=")
	rb.cmd.Stderr = rb.stderr
	stdout, err := rb.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := rb.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan string, 1)
	go func() {
		defer close(rb.exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case first <- sc.Text():
			default:
			}
		}
		rb.waitErr = rb.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = rb.cmd.Process.Kill()
		<-rb.exited
	})
	select {
	case line := <-first:
		var ok bool
		if rb.base, ok = strings.CutPrefix(line, "listening on "); !ok {
			t.Fatalf("first line %q", line)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no listen address printed; stderr:\n%s", rb.stderr.String())
	}
	return rb
}

// stop sends SIGTERM and returns how long the process took to exit 0.
func (rb *runningBinary) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := rb.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rb.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20s after SIGTERM")
	}
	if rb.waitErr != nil {
		t.Errorf("exit after SIGTERM: %v; stderr:\n%s", rb.waitErr, rb.stderr.String())
	}
	return time.Since(start)
}

const shutdownConfig = "fhir_version: dstu2\n" +
	"tenants:\n  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: E2E Hospital, patients: 2}\n" +
	"admin: {token: e2e-admin-token-long-enough-0123456789}\n"

// An open journal stream must not hold the shutdown: it ends at once and
// the process exits 0 well inside the grace period.
func TestServeShutdownEndsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	rb := startBinary(t, map[string]string{"sandbox.yaml": shutdownConfig})
	req, err := http.NewRequest(http.MethodGet, rb.base+"/admin/api/requests/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer e2e-admin-token-long-enough-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if d := rb.stop(t); d > 2*time.Second {
		t.Errorf("exit took %s with an open stream, want about 1s at most", d)
	}
}

// A request that outlives the grace period is cut, and the exit is 0.
func TestServeShutdownCutsRequestsAfterGrace(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	rb := startBinary(t, map[string]string{
		"sandbox.yaml": shutdownConfig + "shutdown_grace: 1s\n",
		"hang.yaml":    "name: hang\ndescription: the health check never answers\nrules:\n  - {match: {path: /healthz}, fault: hang}\n",
	}, "--scenario", "$DIR/hang.yaml")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Get(rb.base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond) // the request is in flight
	d := rb.stop(t)
	if d < 900*time.Millisecond || d > 4*time.Second {
		t.Errorf("exit took %s with a hanging request and a 1s grace period", d)
	}
	if err := <-errc; err == nil {
		t.Errorf("the hanging request got an answer, want its connection cut")
	}
	if !strings.Contains(rb.stderr.String(), "grace period over") {
		t.Errorf("the cut is not logged; stderr:\n%s", rb.stderr.String())
	}
}
