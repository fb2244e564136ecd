package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
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
