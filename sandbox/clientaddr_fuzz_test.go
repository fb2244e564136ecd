package sandbox

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientAddr: whatever the X-Forwarded-For header, the peer address
// and the trusted_proxies entries, parsing never panics, and the caller
// named is "" or a valid address that is neither trusted nor loopback
// when untrusted, and that the peer or the header supplied.
func FuzzClientAddr(f *testing.F) {
	f.Add("10.0.0.0/8", "10.1.2.3:4000", "203.0.113.9, 10.0.0.2")
	f.Add("127.0.0.1", "127.0.0.1:5555", "198.51.100.7")
	f.Add("", "192.0.2.1:80", "")
	f.Add("::1/128", "[::1]:80", "2001:db8::1, ::ffff:192.0.2.5")
	f.Add("10.0.0.1", "10.0.0.1:1", "garbage,,  ,10.0.0.1")
	f.Fuzz(func(t *testing.T, proxies, remote, xff string) {
		var entries []string
		if proxies != "" {
			entries = strings.Split(proxies, ",")
		}
		trusted, err := parseProxies(entries)
		if err != nil {
			return
		}
		r, _ := http.NewRequest("POST", "http://sandbox.test/token", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		got := clientAddr(trusted)(r)
		if got == "" {
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("caller %q is not an address", got)
		}
		for _, p := range trusted {
			if p.Contains(a) {
				t.Fatalf("caller %s is a trusted proxy (%s)", a, p)
			}
		}
		if !strings.Contains(remote, got) && !strings.Contains(xff, got) {
			// addresses are normalised (an IPv4-mapped IPv6 unmapped, a
			// zone dropped): the normalised form of a supplied one
			found := false
			for _, s := range append(strings.Split(xff, ","), remote) {
				s = strings.TrimSpace(s)
				if ap, err := netip.ParseAddrPort(s); err == nil {
					s = ap.Addr().String()
				} else if h, _, err := net.SplitHostPort(s); err == nil {
					s = h // "[::A]:", an empty port, as net/http's RemoteAddr parsing takes it
				}
				if p, err := netip.ParseAddr(s); err == nil && p.Unmap().WithZone("") == a {
					found = true
				}
			}
			if !found {
				t.Fatalf("caller %s was supplied by neither %q nor %q", a, remote, xff)
			}
		}
	})
}
