package portal

import (
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestSessionsBounded(t *testing.T) {
	t.Parallel()
	s := newSessions(rand.Reader, time.Minute, time.Hour)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var ids []string
	for i := 0; i < 5*maxSessions; i++ {
		id, err := s.create(now.Add(time.Duration(i) * time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		if len(id) != 43 {
			t.Fatalf("session id %q: want 43 base64url characters (256 bits)", id)
		}
		ids = append(ids, id)
	}
	if n := len(s.m); n != maxSessions {
		t.Fatalf("%d sessions kept, want %d", n, maxSessions)
	}
	// The newest survive; the oldest made room.
	later := now.Add(time.Second)
	if !s.touch(ids[len(ids)-1], later) || s.touch(ids[0], later) {
		t.Fatal("eviction kept the wrong sessions")
	}
	// Unknown, malformed and expired ids are refused.
	for _, id := range []string{"", "x", strings.Repeat("A", 43), strings.Repeat("A", 10000)} {
		if s.touch(id, later) {
			t.Fatalf("id %.20q accepted", id)
		}
	}
	if s.touch(ids[len(ids)-1], later.Add(2*time.Minute)) {
		t.Fatal("idle session still live")
	}
}

func TestThrottleBounded(t *testing.T) {
	t.Parallel()
	th := newThrottle()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3*maxThrottleKeys; i++ {
		th.fail(fmt.Sprintf("10.0.%d.%d", i/256, i%256), now)
	}
	if n := th.size(); n > maxThrottleKeys+1 {
		t.Fatalf("throttle holds %d addresses, want at most %d", n, maxThrottleKeys+1)
	}
	// Addresses past the table share the overflow entry, which is now
	// blocked: a flood cannot buy unlimited guesses.
	if th.blocked("192.0.2.1", now) == 0 {
		t.Fatal("overflow entry not blocked after a flood")
	}
	// After the window, old entries make room again.
	later := now.Add(signinWindow)
	if th.blocked("192.0.2.1", later) != 0 {
		t.Fatal("still blocked after the window")
	}
	th.fail("192.0.2.1", later)
	if n := th.size(); n > maxThrottleKeys+1 {
		t.Fatalf("throttle holds %d addresses after the window", n)
	}
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"never", "now", "1h", "7d", "at", "", "5y"} {
		f.Add(s, "2027-01-31T17:00")
	}
	f.Add("at", "2027-01-31")
	f.Add("at", "9999-12-31T23:59:59")
	f.Fuzz(func(t *testing.T, choice, at string) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		exp, err := parseExpiry(url.Values{"expires": {choice}, "expires_at": {at}}, now)
		if err != nil {
			if exp != nil || !strings.HasPrefix(err.Error(), "invalid input: expiry") {
				t.Fatalf("error %v with expiry %v", err, exp)
			}
			return
		}
		switch {
		case choice == "never" && exp != nil:
			t.Fatal("never gave an expiry")
		case choice != "never" && exp == nil:
			t.Fatalf("%q gave no expiry", choice)
		case exp != nil && exp.Location() != time.UTC:
			t.Fatalf("expiry %v not in UTC", exp)
		}
	})
}

func FuzzTenantForm(f *testing.F) {
	f.Add("Contoso", "synthetic", "10", "1", "")
	f.Add("Proxy", "upstream", "", "", "https://fhir.example.org/r3")
	f.Add("", "ftp", "x", "y", "z")
	f.Add("n", "", "-1", "9223372036854775808", "")
	f.Fuzz(func(t *testing.T, name, backend, patients, seed, upstream string) {
		v := url.Values{"name": {name}, "backend": {backend}, "patients": {patients}, "seed": {seed}, "upstream": {upstream}}
		n, up, _, _, _, err := tenantForm(v)
		if err != nil {
			return
		}
		if n == "" || n != strings.TrimSpace(name) {
			t.Fatalf("name %q from %q", n, name)
		}
		if (backend == "upstream") != (up != "") {
			t.Fatalf("backend %q gave upstream %q", backend, up)
		}
	})
}
