package sandbox

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Client secret length bounds, in bytes, for secrets given in clear
// (value:). The token endpoint refuses longer ones outright.
const (
	MinSecretLen = 16
	MaxSecretLen = 1024
)

// Bounds checked by Validate.
const (
	maxClientIDLen = 64
	minAdminToken  = MinAdminTokenLen
)

// MinAdminTokenLen is the least length of a configured admin token.
const MinAdminTokenLen = 16

// Validate reports every semantic problem in c at once, as a *ConfigError,
// or nil. A config from LoadConfig is already valid; call Validate again
// after changing one in code (flags, tests).
func (c Config) Validate() error {
	if ps := validate(c, "", func(string) int { return 0 }); len(ps) > 0 {
		return &ConfigError{Problems: ps}
	}
	return nil
}

// canonicalize rewrites values that have several spellings into the one
// every other surface compares against: tenant GUIDs and secret digests.
// Values that do not parse are left alone for validate to report.
func canonicalize(c *Config) {
	// "trusted_proxies: []" and an absent key mean the same: nil.
	if len(c.TrustedProxies) == 0 {
		c.TrustedProxies = nil
	}
	for i := range c.Tenants {
		if g, err := spec.ParseGUID(c.Tenants[i].ID); err == nil {
			c.Tenants[i].ID = g
		}
	}
	for i := range c.Clients {
		for j, t := range c.Clients[i].Tenants {
			if g, err := spec.ParseGUID(t); err == nil {
				c.Clients[i].Tenants[j] = g
			}
		}
		for j := range c.Clients[i].Secrets {
			s := &c.Clients[i].Secrets[j]
			s.ValueSHA256 = strings.ToLower(s.ValueSHA256)
		}
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
}

// validate checks c; line maps a key path such as "tenants[1].id" to the
// line it came from (0 when unknown) so problems point into the file.
func validate(c Config, file string, line func(path string) int) []Problem {
	var ps []Problem
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{File: file, Line: line(path), Msg: path + ": " + fmt.Sprintf(format, args...)})
	}

	if err := checkListen(c.Listen); err != nil {
		add("listen", "%v", err)
	}
	if c.PublicURL != "" {
		if err := checkBaseURL(c.PublicURL); err != nil {
			add("public_url", "%v", err)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := parseProxy(p); err != nil {
			add(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not a CIDR or IP address (want e.g. 127.0.0.1/32)", clip(p))
		}
	}
	if _, ok := spec.Lookup(c.FHIRVersion); !ok || strings.ToLower(c.FHIRVersion) != c.FHIRVersion {
		add("fhir_version", "%q is not a supported release (want %s)", clip(c.FHIRVersion), spec.NameList())
	}
	if y := c.ReferenceDate.Year(); y < 1900 || y > 2200 {
		add("reference_date", "%s is out of range (want a year between 1900 and 2200)", c.ReferenceDate)
	}

	if err := CheckLogFormat(c.Log.Format); err != nil {
		add("log.format", "%v", err)
	}
	if err := CheckLogLevel(c.Log.Level); err != nil {
		add("log.level", "%v", err)
	}
	if c.ShutdownGrace < 0 || c.ShutdownGrace > 600e9 {
		add("shutdown_grace", "%s is out of range (want between 0s and 10m)", c.ShutdownGrace)
	}
	if c.Auth.TokenTTL < 1e9 || c.Auth.TokenTTL > 24*3600e9 {
		add("auth.token_ttl", "%s is out of range (want between 1s and 24h)", c.Auth.TokenTTL)
	}
	if c.Auth.SigningAlg != "RS256" && c.Auth.SigningAlg != "ES256" {
		add("auth.signing_alg", "%q is not supported (want RS256 or ES256)", c.Auth.SigningAlg)
	}

	if len(c.Tenants) == 0 {
		add("tenants", "empty: configure at least one tenant")
	}
	known := map[string]string{} // canonical GUID -> path of first use
	for i, t := range c.Tenants {
		p := fmt.Sprintf("tenants[%d]", i)
		g, err := spec.ParseGUID(t.ID)
		switch {
		case t.ID == "":
			add(p+".id", "missing: every tenant needs its Azure AD tenant GUID")
		case err != nil:
			add(p+".id", "%q is %v", clip(t.ID), err)
		case known[g] != "":
			add(p+".id", "duplicate tenant %s (also %s)", g, known[g])
		default:
			known[g] = p
		}
		if strings.TrimSpace(t.Name) == "" {
			add(p+".name", "missing: give the hospital a name")
		}
		if t.Patients < 0 || t.Patients > spec.MaxPatients {
			add(p+".patients", "%d is out of range (want 0 to %d)", t.Patients, spec.MaxPatients)
		}
		if t.Upstream != "" {
			if err := checkBaseURL(t.Upstream); err != nil {
				add(p+".upstream", "%v", err)
			}
			if t.Patients > 0 || len(t.Fixtures) > 0 {
				add(p+".upstream", "a tenant is either proxied (upstream) or local (patients, fixtures), not both")
			}
		}
		if t.UpstreamAuth != nil {
			if t.Upstream == "" {
				add(p+".upstream_auth", "set without upstream")
			}
			checkUpstreamAuth(*t.UpstreamAuth, p+".upstream_auth", add)
		}
		for j, f := range t.Fixtures {
			fp := fmt.Sprintf("%s.fixtures[%d]", p, j)
			if strings.TrimSpace(f.Path) == "" {
				add(fp, "empty path")
			}
			if f.FHIRVersion != "" {
				if _, ok := spec.Lookup(f.FHIRVersion); !ok || strings.ToLower(f.FHIRVersion) != f.FHIRVersion {
					add(fp+".fhir_version", "%q is not a supported release (want %s)", clip(f.FHIRVersion), spec.NameList())
				}
			}
			if _, err := filepath.Match(f.Path, ""); err != nil {
				add(fp, "%q is not a valid glob: %v", clip(f.Path), err)
			}
		}
		switch t.FixturesValidation {
		case "", "error", "warn":
		default:
			add(p+".fixtures_validation", "%q is not a validation mode (want error or warn)", clip(t.FixturesValidation))
		}
	}

	if n := c.TenantDefaults.Patients; n < 0 || n > spec.MaxPatients {
		add("tenant_defaults.patients", "%d is out of range (want 0 to %d)", n, spec.MaxPatients)
	}

	clientIDs := map[string]string{}
	for i, cl := range c.Clients {
		p := fmt.Sprintf("clients[%d]", i)
		switch {
		case cl.ID == "":
			add(p+".id", "missing: every client needs a client_id")
		case !validClientID(cl.ID):
			add(p+".id", "%q is not a valid client id (want 1 to %d of A-Z a-z 0-9 . _ -)", clip(cl.ID), maxClientIDLen)
		case clientIDs[cl.ID] != "":
			add(p+".id", "duplicate client id %q (also %s)", cl.ID, clientIDs[cl.ID])
		default:
			clientIDs[cl.ID] = p
		}
		if len(cl.Tenants) == 0 {
			add(p+".tenants", "empty: list tenant GUIDs the client may use, or \"*\" for all")
		}
		for j, t := range cl.Tenants {
			tp := fmt.Sprintf("%s.tenants[%d]", p, j)
			if t == "*" {
				continue
			}
			g, err := spec.ParseGUID(t)
			switch {
			case err != nil:
				add(tp, "%q is %v", clip(t), err)
			case known[g] == "":
				add(tp, "tenant %s is not configured under tenants", g)
			}
		}
		if len(cl.JWKS) > 0 {
			if _, err := auth.ParsePublicKeys(cl.JWKS); err != nil {
				add(p+".jwks", "%v", err)
			}
		}
		if err := auth.CheckJWKSURI(cl.JWKSURI); err != nil {
			add(p+".jwks_uri", "%v", err)
		}
		for j, sc := range cl.Scopes {
			if _, err := auth.CanonicalScopes([]string{sc}); err != nil {
				add(fmt.Sprintf("%s.scopes[%d]", p, j), "%v", err)
			}
		}
		if len(cl.Scopes) > auth.MaxScopesPerClient {
			add(p+".scopes", "more than %d scopes", auth.MaxScopesPerClient)
		}
		for j, s := range cl.Secrets {
			sp := fmt.Sprintf("%s.secrets[%d]", p, j)
			switch {
			case s.Value == "" && s.ValueSHA256 == "":
				add(sp, "set one of value or value_sha256")
			case s.Value != "" && s.ValueSHA256 != "":
				add(sp, "set value or value_sha256, not both")
			case s.Value != "" && len(s.Value) < MinSecretLen:
				// the length is said, never the value: it is a secret
				add(sp+".value", "too short: %d characters (want %d to %d; `openssl rand -hex 32` makes a good one)", len(s.Value), MinSecretLen, MaxSecretLen)
			case len(s.Value) > MaxSecretLen:
				add(sp+".value", "too long: %d characters (want %d to %d)", len(s.Value), MinSecretLen, MaxSecretLen)
			case s.ValueSHA256 != "":
				if b, err := hex.DecodeString(s.ValueSHA256); err != nil || len(b) != 32 {
					// The digest is not echoed back: it may be a secret pasted in the wrong key.
					add(sp+".value_sha256", "not a SHA-256 digest (want 64 hex digits)")
				}
			}
		}
	}

	if c.Admin.Token != "" && len(c.Admin.Token) < minAdminToken {
		add("admin.token", "too short (want at least %d characters, or leave empty to generate one)", minAdminToken)
	}

	l := c.Limits
	if l.MaxBodyBytes < 1024 || l.MaxBodyBytes > 64<<20 {
		add("limits.max_body_bytes", "%d is out of range (want 1024 to %d)", l.MaxBodyBytes, 64<<20)
	}
	if l.MaxCount < 1 || l.MaxCount > 10_000 {
		add("limits.max_count", "%d is out of range (want 1 to 10000)", l.MaxCount)
	}
	if l.DefaultCount < 1 || l.DefaultCount > l.MaxCount {
		add("limits.default_count", "%d is out of range (want 1 to max_count, %d)", l.DefaultCount, l.MaxCount)
	}
	if l.MaxBundleEntries < 1 || l.MaxBundleEntries > 10_000 {
		add("limits.max_bundle_entries", "%d is out of range (want 1 to 10000)", l.MaxBundleEntries)
	}
	if l.MaxResponseBytes < 64<<10 || l.MaxResponseBytes > 1<<30 {
		add("limits.max_response_bytes", "%d is out of range (want %d to %d)", l.MaxResponseBytes, 64<<10, 1<<30)
	}
	if l.PatientCache < 1 || l.PatientCache > spec.MaxPatients {
		add("limits.patient_cache", "%d is out of range (want 1 to %d)", l.PatientCache, spec.MaxPatients)
	}
	if l.SearchCacheBytes < 0 || l.SearchCacheBytes > 1<<30 {
		add("limits.search_cache_bytes", "%d is out of range (want 0 to %d; 0 turns the cache off)", l.SearchCacheBytes, 1<<30)
	}
	if l.MaxInflightResponseBytes < l.MaxResponseBytes || l.MaxInflightResponseBytes > 16<<30 {
		add("limits.max_inflight_response_bytes", "%d is out of range (want max_response_bytes, %d, to %d)", l.MaxInflightResponseBytes, l.MaxResponseBytes, int64(16<<30))
	}
	if l.WriteChunkTimeout < time.Second || l.WriteChunkTimeout > 2*time.Minute {
		add("limits.write_chunk_timeout", "%s is out of range (want between 1s and 2m)", l.WriteChunkTimeout)
	}
	return ps
}

func checkUpstreamAuth(a UpstreamAuth, p string, add func(path, format string, args ...any)) {
	n := 0
	if a.BearerToken != "" {
		n++
	}
	if a.Basic != nil {
		n++
		if a.Basic.User == "" {
			add(p+".basic.user", "missing")
		}
	}
	if cc := a.ClientCredentials; cc != nil {
		n++
		if err := checkBaseURL(cc.TokenURL); err != nil {
			add(p+".client_credentials.token_url", "%v", err)
		}
		if cc.ClientID == "" {
			add(p+".client_credentials.client_id", "missing")
		}
		if cc.ClientSecret == "" {
			add(p+".client_credentials.client_secret", "missing")
		}
	}
	if n != 1 {
		add(p, "set exactly one of bearer_token, basic, client_credentials")
	}
}

// CheckListen reports whether addr is a usable HOST:PORT to bind.
func CheckListen(addr string) error { return checkListen(addr) }

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (for example 127.0.0.1:8080, or :0 for any free port)", clip(addr))
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", clip(port))
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return fmt.Errorf("host %q is not an IP address or host name", clip(host))
	}
	return nil
}

// CheckPublicURL reports whether u can serve as the sandbox's public base.
func CheckPublicURL(u string) error { return checkBaseURL(u) }

// checkBaseURL accepts absolute http(s) URLs without credentials, query or
// fragment; a path is allowed (a reverse proxy may mount the sandbox under
// one). Credentials belong in upstream_auth, where they are never shown.
func checkBaseURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", clip(s))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q is not an http or https URL", clip(s))
	}
	if u.Host == "" || !validHost(u.Host) {
		return fmt.Errorf("%q has no valid host", clip(s))
	}
	if u.User != nil {
		return fmt.Errorf("%q must not carry a user name or password", clip(s))
	}
	if u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#") {
		return fmt.Errorf("%q must not have a query or fragment", clip(s))
	}
	return nil
}

// validHost accepts host, host:port, [ipv6] and [ipv6]:port.
func validHost(h string) bool {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.Index(h, "]")
		if end < 0 {
			return false
		}
		host, port = h[1:end], h[end+1:]
		if ip := net.ParseIP(host); ip == nil || ip.To4() != nil {
			return false
		}
		if port == "" {
			return true
		}
		if port[0] != ':' {
			return false
		}
		port = port[1:]
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if port == "" {
			return false
		}
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '+' {
			return false
		}
	}
	if strings.HasPrefix(h, "[") {
		return true
	}
	return net.ParseIP(host) != nil || validHostname(host)
}

// validHostname is the DNS name syntax (letters, digits, hyphens, dots;
// underscore tolerated for local setups), at most 253 characters.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

func validClientID(id string) bool {
	if len(id) == 0 || len(id) > maxClientIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// clip keeps error messages short when a value is huge.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// CheckLogFormat accepts a log format: text or json.
func CheckLogFormat(f string) error {
	switch f {
	case "text", "json":
		return nil
	}
	return fmt.Errorf("%q is not a format (want text or json)", clip(f))
}

// CheckLogLevel accepts a log level: debug, info, warn or error.
func CheckLogLevel(l string) error {
	switch l {
	case "debug", "info", "warn", "error":
		return nil
	}
	return fmt.Errorf("%q is not a level (want debug, info, warn or error)", clip(l))
}
