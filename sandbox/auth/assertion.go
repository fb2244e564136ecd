package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AssertionType is the client_assertion_type of private_key_jwt
// (RFC 7523 section 2.2).
const AssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// Assertion limits.
const (
	// MaxAssertionLifetime is how far ahead of now an assertion's exp may
	// be (SMART Backend Services: five minutes).
	MaxAssertionLifetime = 5 * time.Minute
	// MaxAssertionsPerClient bounds the jti replay cache of one client:
	// unexpired assertions remembered at once.
	MaxAssertionsPerClient = 10000
	maxJTILen              = 256
)

// JWKS fetch defaults (Options.JWKSFetch).
const (
	DefaultJWKSTimeout    = 5 * time.Second
	DefaultJWKSCacheTTL   = 5 * time.Minute
	DefaultJWKSMinRefetch = 10 * time.Second
)

// Assertion is a client assertion's header and claims, read but not yet
// verified.
type Assertion struct {
	Alg, KID, JKU string
	Issuer        string
	Subject       string
	Audience      []string
	Expiry        *time.Time
	NotBefore     *time.Time
	IssuedAt      *time.Time
	ID            string // jti
}

// ParseAssertion reads a compact JWS client assertion without verifying
// it: the size and shape, a header that names alg and kid and brings no
// key of its own (jwk, x5c, x5u refused, crit refused), and the claims
// iss, sub, aud, exp, nbf, iat and jti with their JSON types. The error
// says which check failed, in words fit for error_description.
func ParseAssertion(raw string) (*Assertion, error) {
	if len(raw) > MaxTokenSize {
		return nil, fmt.Errorf("client_assertion larger than %d bytes", MaxTokenSize)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errors.New("client_assertion is not a compact JWS (want three dot-separated parts)")
	}
	for _, p := range parts {
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return nil, errors.New("client_assertion is not a compact JWS (unexpected character)")
			}
		}
	}
	if len(parts[0]) > maxHeaderSize {
		return nil, errors.New("client_assertion header too large")
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return nil, errors.New("client_assertion header is not base64url")
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr == nil {
		return nil, errors.New("client_assertion header is not a JSON object")
	}
	for name := range hdr {
		switch name {
		case "jwk", "x5u", "x5c", "x5t", "x5t#S256", "crit":
			return nil, fmt.Errorf("client_assertion header %s is not accepted: keys are registered, not sent", name)
		}
	}
	a := &Assertion{}
	str := func(m map[string]json.RawMessage, k string, dst *string) error {
		v, ok := m[k]
		if !ok {
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return fmt.Errorf("client_assertion %s is not a string", k)
		}
		return nil
	}
	for _, f := range []struct {
		k string
		p *string
	}{{"alg", &a.Alg}, {"kid", &a.KID}, {"jku", &a.JKU}} {
		if err := str(hdr, f.k, f.p); err != nil {
			return nil, err
		}
	}
	switch {
	case a.Alg == "":
		return nil, errors.New("client_assertion header has no alg")
	case a.KID == "":
		return nil, errors.New("client_assertion header has no kid")
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, errors.New("client_assertion payload is not base64url")
	}
	var cl map[string]json.RawMessage
	if err := json.Unmarshal(pb, &cl); err != nil || cl == nil {
		return nil, errors.New("client_assertion payload is not a JSON object")
	}
	for _, f := range []struct {
		k string
		p *string
	}{{"iss", &a.Issuer}, {"sub", &a.Subject}, {"jti", &a.ID}} {
		if err := str(cl, f.k, f.p); err != nil {
			return nil, err
		}
	}
	if v, ok := cl["aud"]; ok {
		var aud jwt.Audience
		if err := json.Unmarshal(v, &aud); err != nil {
			return nil, errors.New("client_assertion aud is not a string or an array of strings")
		}
		a.Audience = aud
	}
	for _, f := range []struct {
		k string
		p **time.Time
	}{{"exp", &a.Expiry}, {"nbf", &a.NotBefore}, {"iat", &a.IssuedAt}} {
		v, ok := cl[f.k]
		if !ok {
			continue
		}
		var n jwt.NumericDate
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, fmt.Errorf("client_assertion %s is not a NumericDate", f.k)
		}
		t := n.Time()
		*f.p = &t
	}
	return a, nil
}

// replayCache remembers, per client, the jti of every assertion accepted
// until it could no longer be valid (its exp plus Leeway).
type replayCache struct {
	mu        sync.Mutex
	m         map[string]map[string]time.Time // client id -> jti -> forget after
	lastSweep time.Time
}

// replaySweepEvery is how often every client's expired jtis are dropped
// (and the maps of clients with none left), so that clients that stop
// asking, or are deleted, leave nothing behind.
const replaySweepEvery = time.Minute

// use records jti for the client; false if it was seen already or the
// client has too many unexpired assertions remembered.
func (c *replayCache) use(clientID, jti string, until, now time.Time) (ok bool, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]map[string]time.Time)
	}
	if now.Sub(c.lastSweep) >= replaySweepEvery || now.Before(c.lastSweep) {
		c.lastSweep = now
		for id, seen := range c.m {
			for j, t := range seen {
				if !now.Before(t) {
					delete(seen, j)
				}
			}
			if len(seen) == 0 {
				delete(c.m, id)
			}
		}
	}
	seen := c.m[clientID]
	if seen == nil {
		seen = make(map[string]time.Time)
		c.m[clientID] = seen
	}
	if t, dup := seen[jti]; dup && now.Before(t) {
		return false, false
	}
	if len(seen) >= MaxAssertionsPerClient {
		for j, t := range seen {
			if !now.Before(t) {
				delete(seen, j)
			}
		}
		if len(seen) >= MaxAssertionsPerClient {
			return false, true
		}
	}
	seen[jti] = until
	return true, false
}

// size is how many jtis of the client are remembered, and how many
// clients have any.
func (c *replayCache) size(clientID string) (jtis, clients int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m[clientID]), len(c.m)
}

// JWKSFetchOptions configure how a client's jwks_uri is fetched.
type JWKSFetchOptions struct {
	// Client makes the requests (default: a client with Timeout and at
	// most 3 redirects).
	Client *http.Client
	// Timeout bounds one fetch (default DefaultJWKSTimeout).
	Timeout time.Duration
	// CacheTTL is how long a fetched key set is used before it is fetched
	// again (default DefaultJWKSCacheTTL).
	CacheTTL time.Duration
	// MinRefetch is the least time between two fetches of one URL when an
	// assertion names a kid the cached set lacks (default
	// DefaultJWKSMinRefetch), so unknown kids cannot make the sandbox
	// hammer a partner's server.
	MinRefetch time.Duration
}

type jwksEntry struct {
	keys    []ClientKey
	fetched time.Time
}

// jwksCache caches the key sets of jwks_uri URLs.
type jwksCache struct {
	o   JWKSFetchOptions
	now func() time.Time

	mu sync.Mutex
	m  map[string]jwksEntry
}

func newJWKSCache(o JWKSFetchOptions, now func() time.Time) (*jwksCache, error) {
	if o.Timeout < 0 || o.CacheTTL < 0 || o.MinRefetch < 0 {
		return nil, errors.New("auth: jwks fetch settings must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultJWKSTimeout
	}
	if o.CacheTTL == 0 {
		o.CacheTTL = DefaultJWKSCacheTTL
	}
	if o.MinRefetch == 0 {
		o.MinRefetch = DefaultJWKSMinRefetch
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Timeout: o.Timeout,
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) >= 3 {
					return errors.New("more than 3 redirects")
				}
				return nil
			},
		}
	}
	return &jwksCache{o: o, now: now, m: make(map[string]jwksEntry)}, nil
}

// keys returns the key set at uri: cached while fresh; fetched again when
// stale, or when refresh is asked (an unknown kid) and the last fetch is
// at least MinRefetch old. A failed fetch keeps the cached keys.
func (c *jwksCache) keys(ctx context.Context, uri string, refresh bool) ([]ClientKey, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[uri]
	c.mu.Unlock()
	age := now.Sub(e.fetched)
	if ok && age < c.o.CacheTTL && (!refresh || age < c.o.MinRefetch) {
		return e.keys, nil
	}
	keys, err := c.fetch(ctx, uri)
	if err != nil {
		if ok {
			return e.keys, err
		}
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= MaxClients {
		for u := range c.m { // drop one: the map is bounded, not ordered
			delete(c.m, u)
			break
		}
	}
	c.m[uri] = jwksEntry{keys: keys, fetched: now}
	c.mu.Unlock()
	return keys, nil
}

func (c *jwksCache) fetch(ctx context.Context, uri string) ([]ClientKey, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	res, err := c.o.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri fetch failed: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks_uri answered %d", res.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks_uri read failed: %w", err)
	}
	if len(b) > MaxJWKSBytes {
		return nil, fmt.Errorf("jwks_uri answered over %d bytes", MaxJWKSBytes)
	}
	keys, err := ParsePublicKeys(b)
	if err != nil {
		return nil, fmt.Errorf("jwks_uri: %w", err)
	}
	return keys, nil
}

// clientKeyLookup is what the registry knows of a client's keys.
type clientKeyLookup struct {
	client  Client
	keys    []ClientKey // inline, revoked ones included
	jwksURI string
}

func (r *Registry) keysOf(clientID string) (clientKeyLookup, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[clientID]
	if !ok {
		return clientKeyLookup{}, false
	}
	cc := c.clone()
	return clientKeyLookup{client: cc, keys: cc.Keys, jwksURI: cc.JWKSURI}, true
}

// authenticateAssertion checks a private_key_jwt client assertion, as
// ParseAssertion read req.assertion, against the token URL as published.
// Every failure's text says which check failed.
func (a *Authority) authenticateAssertion(ctx context.Context, req *formRequest, as *Assertion, tokenURL string) (*Client, string, error) {
	id := as.Issuer
	if req.clientID != "" {
		id = req.clientID
	}
	switch {
	case !slices.Contains(AssertionAlgs, as.Alg):
		return nil, id, fmt.Errorf("client_assertion alg %q is not accepted (use RS384, ES384, RS256 or ES256)", truncate(as.Alg))
	case as.Issuer == "" || as.Subject == "":
		return nil, id, errors.New("client_assertion needs iss and sub, both the client id")
	case as.Issuer != as.Subject:
		return nil, id, errors.New("client_assertion iss and sub differ: both must be the client id")
	case req.clientID != "" && req.clientID != as.Issuer:
		return nil, id, errors.New("client_id differs from the client_assertion iss")
	case len(as.Issuer) > maxIDLen:
		return nil, id, errors.New("unknown client")
	}
	kl, ok := a.reg.keysOf(as.Issuer)
	if !ok {
		return nil, id, errors.New("unknown client")
	}
	if as.JKU != "" && (kl.jwksURI == "" || as.JKU != kl.jwksURI) {
		return nil, id, errors.New("client_assertion jku is not the client's registered jwks_uri")
	}
	key, err := a.findKey(ctx, kl, as.KID)
	if err != nil {
		return nil, id, err
	}
	if !slices.Contains(key.algs(), as.Alg) {
		return nil, id, fmt.Errorf("client_assertion alg %s does not suit key %q (it signs with %s)", as.Alg, truncate(as.KID), strings.Join(key.algs(), " or "))
	}
	sig, err := jose.ParseSigned(req.assertion, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(as.Alg)})
	if err != nil {
		return nil, id, errors.New("client_assertion is not a valid JWS")
	}
	if _, err := sig.Verify(key.Public); err != nil {
		return nil, id, errors.New("client_assertion signature does not verify with the registered key " + truncate(as.KID))
	}
	now := a.now()
	switch {
	case !slices.Contains(as.Audience, tokenURL):
		return nil, id, fmt.Errorf("client_assertion aud must be the token URL %s", tokenURL)
	case as.Expiry == nil:
		return nil, id, errors.New("client_assertion has no exp")
	case !now.Before(as.Expiry.Add(Leeway)):
		return nil, id, errors.New("client_assertion expired (exp is in the past; check the client's clock)")
	case as.Expiry.After(now.Add(MaxAssertionLifetime + Leeway)):
		return nil, id, errors.New("client_assertion exp is more than 5 minutes ahead (check the client's clock)")
	case as.NotBefore != nil && as.NotBefore.After(now.Add(Leeway)):
		return nil, id, errors.New("client_assertion not valid yet (nbf is in the future; check the client's clock)")
	case as.IssuedAt != nil && as.IssuedAt.After(now.Add(Leeway)):
		return nil, id, errors.New("client_assertion issued in the future (iat; check the client's clock)")
	case as.ID == "":
		return nil, id, errors.New("client_assertion has no jti")
	case len(as.ID) > maxJTILen:
		return nil, id, fmt.Errorf("client_assertion jti longer than %d characters", maxJTILen)
	}
	ok, full := a.replay.use(as.Issuer, as.ID, as.Expiry.Add(Leeway), now)
	switch {
	case full:
		return nil, id, errors.New("too many unexpired assertions for this client; wait for some to expire")
	case !ok:
		return nil, id, errors.New("client_assertion jti already used: make a new jti for every assertion")
	}
	c := kl.client
	return &c, id, nil
}

// findKey picks the key the kid names: an inline key, else one of the
// jwks_uri's keys, fetched again once when the kid is unknown (the client
// may have rotated its keys).
func (a *Authority) findKey(ctx context.Context, kl clientKeyLookup, kid string) (*ClientKey, error) {
	for i := range kl.keys {
		if kl.keys[i].KID == kid {
			if kl.keys[i].Revoked {
				return nil, fmt.Errorf("key %q of this client is revoked", truncate(kid))
			}
			return &kl.keys[i], nil
		}
	}
	if kl.jwksURI == "" {
		if len(kl.keys) == 0 {
			return nil, errors.New("this client has no registered public keys (register a JWKS or a jwks_uri)")
		}
		return nil, fmt.Errorf("no registered key with kid %q", truncate(kid))
	}
	var fetchErr error
	for _, refresh := range [...]bool{false, true} {
		keys, err := a.jwks.keys(ctx, kl.jwksURI, refresh)
		if err != nil {
			fetchErr = err
			a.log.Warn("jwks_uri fetch failed", "client_id", kl.client.ID, "err", err)
		}
		for i := range keys {
			if keys[i].KID == kid {
				return &keys[i], nil
			}
		}
	}
	if fetchErr != nil {
		return nil, fmt.Errorf("no key with kid %q: the client's jwks_uri could not be fetched", truncate(kid))
	}
	return nil, fmt.Errorf("no registered key with kid %q (the client's jwks_uri does not list it)", truncate(kid))
}
