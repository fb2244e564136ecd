package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/state"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
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

// TestServeRefusesDamagedState: a state file damaged before its end (a
// record whose checksum fails, followed by good ones) is refused with
// exit 2, naming the offset and what starting anyway would drop.
func TestServeRefusesDamagedState(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sandbox.state")
	j, err := state.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var second int64
	for i, fam := range []string{"Smith", "Jones", "Brown"} {
		if i == 1 {
			second = j.Size()
		}
		op := store.Op{Type: "Patient", ID: fam, JSON: []byte(`{"resourceType":"Patient","id":"` + fam + `","name":[{"family":"` + fam + `"}]}`)}
		if err := j.Append(state.Record{Kind: state.KindWrites, Writes: &state.Writes{Tenant: sandbox.ContosoTenant, Release: "stu3", Ops: []store.Op{op}}}); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	raw, _ := os.ReadFile(path)
	i := bytes.Index(raw, []byte(`"family":"Jones"`))
	raw[i+len(`"family":"`)] = 'K' // still valid JSON, a different name
	os.WriteFile(path, raw, 0o600)

	code, _, stderr := runCLI(t.Context(), "serve", "--listen", "127.0.0.1:0", "--patients", "1", "--state", path)
	want := "record at byte offset " + strconv.FormatInt(second, 10) + " (line 2) is damaged (checksum mismatch"
	if code != exitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "1 good records after it would be dropped") {
		t.Errorf("serve on a damaged state file: exit %d, stderr lacks %q:\n%s", code, want, stderr)
	}
}
