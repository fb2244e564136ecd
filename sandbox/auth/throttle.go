package auth

import (
	"errors"
	"sync"
	"time"
)

// Throttle defaults: DefaultMaxFailures failed authentications for one
// client id, or from one remote address, within DefaultThrottleWindow
// block further attempts from that id or address until the window ends.
const (
	DefaultMaxFailures    = 10
	DefaultThrottleWindow = time.Minute
	DefaultThrottleKeys   = 10000
)

// ThrottleOptions bound repeated authentication failures. Zero values take
// the defaults.
type ThrottleOptions struct {
	// MaxFailures per key within Window before the key is blocked.
	MaxFailures int
	// Window is a fixed window opened by a key's first failure; when it
	// ends the key's count starts again.
	Window time.Duration
	// MaxKeys caps the tracked client ids and, separately, the tracked
	// addresses. When full, expired windows are dropped first, then the
	// oldest window: memory stays bounded whatever an attacker sends.
	MaxKeys int
	// Disabled turns throttling off (load tests).
	Disabled bool
}

type window struct {
	start time.Time
	count int
}

// limiter counts failures per key in fixed windows.
type limiter struct {
	max     int
	window  time.Duration
	maxKeys int

	mu   sync.Mutex
	keys map[string]*window
}

type throttle struct {
	disabled bool
	clients  *limiter
	addrs    *limiter
}

func newThrottle(o ThrottleOptions) (*throttle, error) {
	if o.MaxFailures == 0 {
		o.MaxFailures = DefaultMaxFailures
	}
	if o.Window == 0 {
		o.Window = DefaultThrottleWindow
	}
	if o.MaxKeys == 0 {
		o.MaxKeys = DefaultThrottleKeys
	}
	if o.MaxFailures < 0 || o.Window < 0 || o.MaxKeys < 0 {
		return nil, errors.New("auth: throttle settings must not be negative")
	}
	mk := func() *limiter {
		return &limiter{max: o.MaxFailures, window: o.Window, maxKeys: o.MaxKeys, keys: make(map[string]*window)}
	}
	return &throttle{disabled: o.Disabled, clients: mk(), addrs: mk()}, nil
}

// blocked returns how long key stays blocked (0: not blocked).
func (l *limiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if !ok {
		return 0
	}
	end := w.start.Add(l.window)
	if !now.Before(end) {
		delete(l.keys, key)
		return 0
	}
	if w.count < l.max {
		return 0
	}
	return end.Sub(now)
}

func (l *limiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.keys[key]
	if ok && !now.Before(w.start.Add(l.window)) {
		ok = false
	}
	if !ok {
		if _, exists := l.keys[key]; !exists && len(l.keys) >= l.maxKeys {
			l.evict(now)
		}
		w = &window{start: now}
		l.keys[key] = w
	}
	w.count++
}

// evict drops expired windows, then, if still full, the oldest one.
func (l *limiter) evict(now time.Time) {
	var oldest string
	var first time.Time
	found := false
	for k, w := range l.keys {
		if !now.Before(w.start.Add(l.window)) {
			delete(l.keys, k)
			continue
		}
		if !found || w.start.Before(first) {
			oldest, first, found = k, w.start, true
		}
	}
	if len(l.keys) >= l.maxKeys && found {
		delete(l.keys, oldest)
	}
}

func (l *limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

// check returns the wait before clientID or addr may try again, or 0.
// Either may be empty: an empty addr is a caller the RemoteAddr option
// could not tell apart from others (a tunnel's loopback peer), and
// throttling it would block every caller behind it.
func (t *throttle) check(clientID, addr string, now time.Time) time.Duration {
	if t.disabled {
		return 0
	}
	var d time.Duration
	if addr != "" {
		d = t.addrs.blocked(addr, now)
	}
	if clientID != "" {
		d = max(d, t.clients.blocked(clientID, now))
	}
	return d
}

func (t *throttle) fail(clientID, addr string, now time.Time) {
	if t.disabled {
		return
	}
	if addr != "" {
		t.addrs.fail(addr, now)
	}
	if clientID != "" {
		t.clients.fail(clientID, now)
	}
}
