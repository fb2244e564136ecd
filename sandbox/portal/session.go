package portal

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// Session and throttling limits. They bound memory whatever callers send.
const (
	maxSessions       = 64
	sessionIDBytes    = 32 // 256 bits
	signinWindow      = time.Minute
	signinMaxFailures = 5
	maxThrottleKeys   = 1024
)

// flash is a freshly made secret, waiting to be shown once.
type flash struct {
	Heading    string
	ClientID   string
	ClientName string
	SecretID   string
	Secret     string
	Expires    *time.Time
	Tenants    []string
}

type session struct {
	expires  time.Time // idle deadline, pushed on every use
	deadline time.Time // absolute end
	notice   string
	secret   *flash
}

// sessions is the server-side session table: a bounded map from a random
// 256-bit id to its session.
type sessions struct {
	idle, max time.Duration
	rand      io.Reader

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(rand io.Reader, idle, max time.Duration) *sessions {
	return &sessions{rand: &lockedReader{r: rand}, idle: idle, max: max, m: map[string]*session{}}
}

// create starts a session and returns its id. When the table is full the
// session closest to expiry makes room.
func (s *sessions) create(now time.Time) (string, error) {
	b := make([]byte, sessionIDBytes)
	if _, err := io.ReadFull(s.rand, b); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.evictLocked(now)
	for len(s.m) >= maxSessions {
		var oldest string
		for k, v := range s.m {
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = k
			}
		}
		delete(s.m, oldest)
	}
	s.m[id] = &session{expires: now.Add(s.idle), deadline: now.Add(s.max)}
	return id, nil
}

func (s *sessions) evictLocked(now time.Time) {
	for k, v := range s.m {
		if !v.live(now) {
			delete(s.m, k)
		}
	}
}

func (v *session) live(now time.Time) bool {
	return now.Before(v.expires) && now.Before(v.deadline)
}

// touch reports whether id names a live session and extends its idle
// deadline. An expired session is forgotten.
func (s *sessions) touch(id string, now time.Time) bool {
	if len(id) != base64.RawURLEncoding.EncodedLen(sessionIDBytes) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[id]
	if v == nil {
		return false
	}
	if !v.live(now) {
		delete(s.m, id)
		return false
	}
	v.expires = now.Add(s.idle)
	return true
}

// alive reports whether id names a live session without extending it: a
// page left open on a stream does not keep a session going forever.
func (s *sessions) alive(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.m[id]
	return v != nil && v.live(now)
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// with runs f on a live session.
func (s *sessions) with(id string, f func(*session)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.m[id]; v != nil {
		f(v)
	}
}

// takeNotice returns the session's one-time notice and clears it.
func (s *sessions) takeNotice(id string) (n string) {
	s.with(id, func(v *session) { n, v.notice = v.notice, "" })
	return n
}

// takeSecret returns the session's waiting secret and forgets it: a
// secret's plaintext is shown once.
func (s *sessions) takeSecret(id string) (f *flash) {
	s.with(id, func(v *session) { f, v.secret = v.secret, nil })
	return f
}

// throttle bounds wrong admin tokens per caller address: after
// signinMaxFailures within signinWindow, sign-in is refused until the
// window ends. Its table holds at most maxThrottleKeys addresses; past
// that, new addresses share one entry, so a flood cannot grow memory.
type throttle struct {
	mu sync.Mutex
	m  map[string]*failures
}

type failures struct {
	start time.Time
	n     int
}

const overflowKey = "\x00overflow"

func newThrottle() *throttle { return &throttle{m: map[string]*failures{}} }

func (t *throttle) keyLocked(addr string, now time.Time) string {
	if _, ok := t.m[addr]; ok || len(t.m) < maxThrottleKeys {
		return addr
	}
	for k, f := range t.m {
		if now.Sub(f.start) >= signinWindow {
			delete(t.m, k)
		}
	}
	if len(t.m) < maxThrottleKeys {
		return addr
	}
	return overflowKey
}

// blocked returns how long addr must wait before trying again (0: may try).
func (t *throttle) blocked(addr string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.m[t.keyLocked(addr, now)]
	if f == nil || f.n < signinMaxFailures {
		return 0
	}
	if left := f.start.Add(signinWindow).Sub(now); left > 0 {
		return left
	}
	return 0
}

func (t *throttle) fail(addr string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k := t.keyLocked(addr, now)
	f := t.m[k]
	if f == nil || now.Sub(f.start) >= signinWindow {
		f = &failures{start: now}
		t.m[k] = f
	}
	f.n++
}

func (t *throttle) size() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// lockedReader serialises reads of an injected io.Reader that may not be
// safe for concurrent use.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

func hostOf(remoteAddr string) string {
	if h, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return h
	}
	return remoteAddr
}
