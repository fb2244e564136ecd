package cli

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestStateFileLocked runs two real servers on one state file: the second
// must not start (exit 2) and must name the first by pid and address, as
// two processes appending to one journal would corrupt it.
func TestStateFileLocked(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fhirsandbox")
	if out, err := exec.Command("go", "build", "-o", bin, "../..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	stateFile := filepath.Join(dir, "sandbox.state")
	args := []string{"serve", "--listen", "127.0.0.1:0", "--patients", "2", "--state", stateFile}
	env := append(os.Environ(), "FHIRSANDBOX_PUBLIC_URL=")

	first := exec.Command(bin, args...)
	first.Env = env
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr1 := &lockedBuffer{}
	first.Stderr = stderr1
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		_ = first.Wait()
	}()
	t.Cleanup(func() {
		_ = first.Process.Kill()
		<-done
	})
	var base string
	select {
	case line := <-lines:
		base = strings.TrimPrefix(line, "listening on http://")
	case <-time.After(30 * time.Second):
		t.Fatalf("first server printed no address; stderr:\n%s", stderr1.String())
	}

	// bounded: without a lock the second server would serve forever
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	second := exec.CommandContext(ctx, bin, args...)
	second.Env = env
	out, err := second.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("second server on the same state file: %v, want exit 2; output:\n%s", err, out)
	}
	want := "in use by pid " + strconv.Itoa(first.Process.Pid) + " (listening on " + base + ")"
	if !strings.Contains(string(out), want) {
		t.Errorf("second server's message lacks %q:\n%s", want, out)
	}
}
