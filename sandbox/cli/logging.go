package cli

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/logline"
)

// Log sink limits: a request's line costs an append to a buffer, not a
// write system call; the buffer goes out when it holds logFlushBytes, every
// logFlushEvery, and when serve stops.
const (
	logFlushBytes = 64 << 10
	logFlushEvery = 100 * time.Millisecond
)

// parseLogLevel reads --log-level.
func parseLogLevel(s string) (slog.Level, error) {
	switch s {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, usagef("--log-level: %q is not a level (want debug, info, warn or error)", s)
}

// newLogger builds serve's logger: slog text (the default) or JSON lines,
// at level, written through a logSink on w (a logline.Handler, so the
// server appends its request lines without building records). Close the
// sink when done.
func newLogger(w io.Writer, format, level string) (*slog.Logger, *logSink, error) {
	lv, err := parseLogLevel(level)
	if err != nil {
		return nil, nil, err
	}
	sink := newLogSink(w, logFlushBytes, logFlushEvery)
	var h slog.Handler
	switch format {
	case "", "text":
		h = logline.New(sink, false, lv)
	case "json":
		h = logline.New(sink, true, lv)
	default:
		sink.Close()
		return nil, nil, usagef("--log-format: %q is not a format (want text or json)", format)
	}
	return slog.New(h), sink, nil
}

// logSink buffers log lines and writes them out in batches: when the
// buffer is full, every interval, and at Close. A line is never split
// across two writes.
type logSink struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	limit  int
	stop   chan struct{}
	done   chan struct{}
	closed bool
}

func newLogSink(w io.Writer, limit int, every time.Duration) *logSink {
	s := &logSink{w: w, buf: make([]byte, 0, limit), limit: limit, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				s.Flush()
			case <-s.stop:
				return
			}
		}
	}()
	return s
}

// Write keeps p (one log record) for the next flush.
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.w.Write(p)
	}
	if len(s.buf)+len(p) > s.limit {
		s.flushLocked()
	}
	if len(p) >= s.limit {
		_, err := s.w.Write(p)
		return len(p), err
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (s *logSink) Flush() {
	s.mu.Lock()
	s.flushLocked()
	s.mu.Unlock()
}

func (s *logSink) flushLocked() {
	if len(s.buf) == 0 {
		return
	}
	// a broken stderr must not stop the server: a write error is dropped
	_, _ = s.w.Write(s.buf)
	s.buf = s.buf[:0]
}

// Close flushes and stops the flusher; later writes go straight through.
func (s *logSink) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.flushLocked()
	s.mu.Unlock()
	close(s.stop)
	<-s.done
}
