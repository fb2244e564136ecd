package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	ucli "github.com/urfave/cli/v2"
)

type countingWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.b.Write(p)
}

func (c *countingWriter) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String(), c.writes
}

// TestLogSinkBatches: lines are kept until the buffer fills or Close, and
// go out whole and in order, in fewer writes than lines.
func TestLogSinkBatches(t *testing.T) {
	t.Parallel()
	w := &countingWriter{}
	s := newLogSink(w, 100, time.Hour) // no tick during the test
	var want strings.Builder
	for i := range 20 {
		line := strings.Repeat(string(rune('a'+i)), 9) + "\n"
		want.WriteString(line)
		if _, err := s.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	got, writes := w.snapshot()
	if !strings.HasPrefix(want.String(), got) || len(got)%10 != 0 || writes == 0 || writes >= 20 {
		t.Errorf("before Close: %d writes of %q", writes, got)
	}
	s.Close()
	if got, _ := w.snapshot(); got != want.String() {
		t.Errorf("after Close: %q, want %q", got, want.String())
	}
	// after Close, writes go straight through
	_, _ = s.Write([]byte("late\n"))
	if got, _ := w.snapshot(); !strings.HasSuffix(got, "late\n") {
		t.Errorf("a write after Close was lost: %q", got)
	}
}

// TestLogSinkTicks: a lone line goes out on the next tick, without Close.
func TestLogSinkTicks(t *testing.T) {
	t.Parallel()
	w := &countingWriter{}
	s := newLogSink(w, 1<<10, 10*time.Millisecond)
	defer s.Close()
	_, _ = s.Write([]byte("one\n"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got, _ := w.snapshot(); got == "one\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the line was not flushed by the ticker")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestNewLoggerFormatsAndLevels(t *testing.T) {
	t.Parallel()
	w := &countingWriter{}
	l, sink, err := newLogger(w, "json", "warn")
	if err != nil {
		t.Fatal(err)
	}
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	sink.Close()
	got, _ := w.snapshot()
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(got)), &m); err != nil || m["msg"] != "shown" || m["k"] != "v" {
		t.Errorf("json at warn: %q (%v)", got, err)
	}
	w = &countingWriter{}
	l, sink, err = newLogger(w, "text", "debug")
	if err != nil {
		t.Fatal(err)
	}
	l.Debug("dbg", "k", "v")
	sink.Close()
	if got, _ := w.snapshot(); !strings.Contains(got, "level=DEBUG msg=dbg k=v") {
		t.Errorf("text at debug: %q", got)
	}
}

// TestServeLogConfig: log.format and log.level come from the config file,
// the flags override them, and a bad value in the file is reported with
// its file:line and exit status 2.
func TestServeLogConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("log:\n  format: xml\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(context.Background(), "serve", "--config", bad)
	if code != exitUsage || !strings.Contains(errOut, bad+":2: log.format: \"xml\" is not a format") ||
		!strings.Contains(errOut, bad+":3: log.level: \"loud\" is not a level") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("log:\n  format: json\n  level: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	app := newApp(io.Discard, io.Discard, defaultDeps())
	var got sandbox.Config
	for _, args := range [][]string{{"--config", good}, {"--config", good, "--log-format", "text", "--log-level", "debug"}} {
		cmd := serveCommand(defaultDeps())
		cmd.HideHelp = true
		cmd.Action = func(c *ucli.Context) error {
			var err error
			got, _, _, err = serveConfigLines(c)
			return err
		}
		app.Commands = []*ucli.Command{cmd}
		if err := app.Run(append([]string{"fhirsandbox", "serve"}, args...)); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		want := sandbox.LogConfig{Format: "json", Level: "warn"}
		if len(args) > 2 {
			want = sandbox.LogConfig{Format: "text", Level: "debug"}
		}
		if got.Log != want {
			t.Errorf("%v: log config %+v, want %+v", args, got.Log, want)
		}
	}
}
