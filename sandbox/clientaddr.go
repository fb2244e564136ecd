package sandbox

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// parseProxy reads one trusted_proxies entry: a CIDR, or a bare IP meaning
// that single address.
func parseProxy(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseProxies reads the trusted_proxies setting.
func parseProxies(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		p, err := parseProxy(s)
		if err != nil {
			return nil, fmt.Errorf("trusted_proxies: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// clientAddr returns the function that names a request's real caller for
// the token endpoint's per-address throttle, or "" when no address can be
// trusted to stand for one caller (then only the per-client-id throttle
// applies):
//   - a peer in trusted: the rightmost X-Forwarded-For entry that is not a
//     trusted proxy (entries to its left are written by the caller and can
//     be forged); "" when the header is missing or malformed;
//   - a loopback peer that is not trusted: "", because a tunnel such as
//     ngrok connects from loopback on behalf of every caller, and throttling
//     it would let one bad caller lock out all the others;
//   - any other peer: its own address.
func clientAddr(trusted []netip.Prefix) func(*http.Request) string {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(r *http.Request) string {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		peer, err := netip.ParseAddr(host)
		if err != nil {
			return ""
		}
		peer = peer.Unmap().WithZone("")
		if !isTrusted(peer) {
			if peer.IsLoopback() {
				return ""
			}
			return peer.String()
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			h := strings.TrimSpace(hops[i])
			if h == "" {
				continue
			}
			a, err := netip.ParseAddr(h)
			if err != nil {
				return ""
			}
			a = a.Unmap().WithZone("")
			if !isTrusted(a) {
				return a.String()
			}
		}
		return ""
	}
}
