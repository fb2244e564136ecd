package sandbox

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// DevSecret is the client secret of the built-in development client: it
// is printed in the README and on every banner, so it protects nothing
// once the sandbox is reachable from elsewhere.
const DevSecret = "change-me-dev-secret"

// SecretExpiryWarning is how far ahead a secret's expiry is announced.
const SecretExpiryWarning = 30 * 24 * time.Hour

// Warnings lists what in c is allowed but probably not meant, at time
// now: secrets that have expired or expire within SecretExpiryWarning, the
// built-in development secret, and a public URL combined with the
// development secret, auth.required: false, or an admin surface that will
// refuse every request through it. Each says what to do. file and line
// locate settings as in a *ConfigError (line may be nil).
func (c Config) Warnings(now time.Time, file string, line Locator) []Problem {
	if line == nil {
		line = func(string) int { return 0 }
	}
	var ws []Problem
	add := func(path, format string, args ...any) {
		ws = append(ws, Problem{File: file, Line: line(path), Msg: path + ": " + fmt.Sprintf(format, args...)})
	}
	public := c.PublicURL != "" && !loopbackURL(c.PublicURL)
	for i, cl := range c.Clients {
		for j, s := range cl.Secrets {
			p := fmt.Sprintf("clients[%d].secrets[%d]", i, j)
			switch {
			case s.Expires.IsZero():
			case !now.Before(s.Expires):
				add(p+".expires", "secret of client %s expired on %s: the token endpoint refuses it; set a later expires, or rotate it (fhirsandbox clients rotate %s)", cl.ID, s.Expires.Format(time.DateOnly), cl.ID)
			case s.Expires.Sub(now) <= SecretExpiryWarning:
				add(p+".expires", "secret of client %s expires on %s, in %d days; set a later expires, or rotate it (fhirsandbox clients rotate %s)", cl.ID, s.Expires.Format(time.DateOnly), daysUntil(now, s.Expires), cl.ID)
			}
			if s.Value == DevSecret {
				what := "never"
				if !s.Expires.IsZero() {
					what = "on " + s.Expires.Format(time.DateOnly)
				}
				if public {
					add(p+".value", "client %s has the built-in development secret, which is published, and public_url %s makes it reachable from the internet: give the client a secret of your own (fhirsandbox init writes one)", cl.ID, c.PublicURL)
				} else {
					add(p+".value", "client %s has the built-in development secret (expires %s): fine on this machine, never behind a public URL", cl.ID, what)
				}
			}
		}
	}
	if public && !c.Auth.Required {
		add("auth.required", "false with public_url %s: anyone who finds the URL reads every tenant's records without a token; set auth.required: true unless that is the point", c.PublicURL)
	}
	if public && !c.Admin.AllowRemote {
		add("admin.allow_remote", "false with public_url %s: the portal and admin API answer 403 through it; open the portal on this machine at %s, or set admin.allow_remote: true (with an admin token of your own) to reach it through the public URL", c.PublicURL, localPortal(c.Listen))
	}
	return ws
}

// daysUntil rounds up, so "in 0 days" is never said of a future time.
func daysUntil(now, t time.Time) int {
	return int((t.Sub(now) + 24*time.Hour - 1) / (24 * time.Hour))
}

// loopbackURL reports whether u's host is this machine (localhost, a
// loopback address); a URL that does not parse is not.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	h := strings.ToLower(p.Hostname())
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// localPortal is the portal's URL for a browser on this machine, from
// the listen address (a free port, :0, is known only once listening).
func localPortal(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "0" {
		return "the local address serve prints, /portal/"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/portal/"
}
