package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// MaxTokenSize caps a presented token; larger ones are refused before
	// any decoding.
	MaxTokenSize = 8 << 10
	// Leeway is the clock skew tolerated on exp, nbf and iat.
	Leeway = time.Minute

	maxHeaderSize = 1 << 10
	maxScopes     = 32
	maxScopeLen   = 2 << 10
)

// ErrInvalidToken is matched (errors.Is) by every Verify failure.
var ErrInvalidToken = errors.New("invalid_token")

// TokenError is a Verify failure. Description is the RFC 6750
// error_description: plain ASCII, fit for a WWW-Authenticate header.
type TokenError struct {
	Description string
	Err         error // the underlying cause, if any; never shown to callers
}

func (e *TokenError) Error() string {
	if e.Err != nil {
		return "invalid token: " + e.Description + ": " + e.Err.Error()
	}
	return "invalid token: " + e.Description
}

func (e *TokenError) Unwrap() error { return e.Err }

// Is makes every TokenError match ErrInvalidToken.
func (e *TokenError) Is(target error) bool { return target == ErrInvalidToken }

func invalid(desc string, err error) error { return &TokenError{Description: desc, Err: err} }

// Claims are the verified contents of an access token.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	ID        string // jti
	Scope     string // space-separated; the tenant GUID first
	Tenant    string // canonical tenant GUID (tid)
	ClientID  string
	SecretID  string // the secret that obtained the token; empty for Mint
	KeyID     string // kid of the signing key
}

// wireClaims is the JWT payload.
type wireClaims struct {
	jwt.Claims
	Scope    string `json:"scope"`
	Tenant   string `json:"tid"`
	ClientID string `json:"client_id"`
	SecretID string `json:"secret_id,omitempty"`
	Gen      uint64 `json:"gen,omitempty"` // see RevokeAllIssued
}

func (a *Authority) newJTI() (string, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(a.rand, b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// mint signs a token. tid must be canonical and checked by the caller.
func (a *Authority) mint(clientID, tid string, extra []string, secretID, base string) (string, *Claims, error) {
	jti, err := a.newJTI()
	if err != nil {
		return "", nil, err
	}
	now := a.now().Truncate(time.Second)
	exp := now.Add(a.TTL())
	scope := strings.Join(append([]string{tid}, extra...), " ")
	k := a.keys.current()
	wc := wireClaims{
		Claims: jwt.Claims{
			Issuer: base, Subject: clientID, Audience: jwt.Audience{base},
			IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(exp), ID: jti,
		},
		Scope: scope, Tenant: tid, ClientID: clientID, SecretID: secretID,
		Gen: a.gen.Add(1),
	}
	raw, err := jwt.Signed(k.signer).Claims(wc).Serialize()
	if err != nil {
		return "", nil, fmt.Errorf("sign token: %w", err)
	}
	return raw, &Claims{
		Issuer: base, Subject: clientID, Audience: []string{base},
		IssuedAt: now, NotBefore: now, Expiry: exp, ID: jti,
		Scope: scope, Tenant: tid, ClientID: clientID, SecretID: secretID, KeyID: k.kid,
	}, nil
}

// Mint issues a token for a client without a secret, for tests and the
// CLI. The same rules as the token endpoint apply: the client must exist
// and be allowed the tenant, the tenant must be known, extra scopes must
// be valid scope tokens (RFC 6749 §3.3) and not GUIDs.
func (a *Authority) Mint(clientID, tenantGUID string, scopes []string, base string) (string, *Claims, error) {
	tid, err := spec.ParseGUID(tenantGUID)
	if err != nil {
		return "", nil, fmt.Errorf("mint: tenant: %w", err)
	}
	extra, err := extraScopes(scopes)
	if err != nil {
		return "", nil, fmt.Errorf("mint: %w", err)
	}
	if !a.tenantKnown(tid) {
		return "", nil, fmt.Errorf("mint: unknown tenant %s", tid)
	}
	if !a.reg.clientAllows(clientID, tid) {
		return "", nil, fmt.Errorf("mint: client %q does not exist or may not use tenant %s", truncate(clientID), tid)
	}
	return a.mint(clientID, tid, extra, "", base)
}

// extraScopes validates non-tenant scopes, dropping duplicates.
func extraScopes(in []string) ([]string, error) {
	var out []string
	for _, s := range in {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("scope %q is not a valid scope token", truncate(s))
		}
		if looksLikeGUID(s) {
			return nil, fmt.Errorf("scope %q: the tenant goes in the tenant argument", truncate(s))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) > maxScopes {
		return nil, fmt.Errorf("more than %d scopes", maxScopes)
	}
	return out, nil
}

// validScopeToken: RFC 6749 §3.3 scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
func validScopeToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// looksLikeGUID reports whether a scope token was probably meant as a
// tenant GUID (hex digits, dashes and braces only, and long enough), so
// that a mistyped GUID is reported as such rather than passed through as
// an unknown scope.
func looksLikeGUID(s string) bool {
	if len(s) < 8 {
		return false
	}
	dash := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '{', c == '}':
		case c == '-':
			dash = true
		default:
			return false
		}
	}
	return dash || len(s) >= 32
}

// Verify checks a bearer token against base (the expected iss and aud) and
// returns its claims. Cheap checks come first, so garbage costs no crypto:
// size, shape, the header (no embedded or remote keys, no crit, a known
// kid whose algorithm matches), then the signature with the algorithm
// pinned to that key's, then the claims and the live state (tenant still
// known, client still registered and allowed the tenant, jti not revoked,
// and under RevokeTokensOnSecretInvalidation the secret still live).
func (a *Authority) Verify(raw, base string) (*Claims, error) {
	c, err := a.verify(raw, base)
	if err != nil {
		return nil, err
	}
	cc := *c
	cc.Audience = slices.Clone(c.Audience)
	return &cc, nil
}

// verify is Verify returning the claims shared by every request that
// carries the same token: callers must not modify them.
func (a *Authority) verify(raw, base string) (*Claims, error) {
	if len(raw) > MaxTokenSize {
		return nil, invalid(fmt.Sprintf("token larger than %d bytes", MaxTokenSize), nil)
	}
	if v, ok := a.verified.get(raw); ok && a.keys.lookup(v.kid) != nil {
		return a.checkLive(v, base)
	}
	dots := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '.':
			dots++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return nil, invalid("token is not a compact JWT (unexpected character)", nil)
		}
	}
	if dots != 2 {
		return nil, invalid("token is not a JWT (want three dot-separated parts)", nil)
	}
	hseg := raw[:strings.IndexByte(raw, '.')]
	if len(hseg) > maxHeaderSize {
		return nil, invalid("token header too large", nil)
	}
	hb, err := base64.RawURLEncoding.DecodeString(hseg)
	if err != nil {
		return nil, invalid("token header is not base64url", err)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hb, &hdr); err != nil {
		return nil, invalid("token header is not a JSON object", err)
	}
	for name := range hdr {
		switch name {
		case "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit":
			// A token must not bring its own key, point at one, or demand
			// processing this server does not do.
			return nil, invalid("token header "+name+" is not accepted", nil)
		}
	}
	var kid, alg string
	if err := json.Unmarshal(hdr["kid"], &kid); err != nil || kid == "" {
		return nil, invalid("token header has no kid", err)
	}
	if err := json.Unmarshal(hdr["alg"], &alg); err != nil || alg == "" {
		return nil, invalid("token header has no alg", err)
	}
	k := a.keys.lookup(kid)
	if k == nil {
		return nil, invalid("token signed by an unknown or retired key", nil)
	}
	if alg != string(k.alg) {
		return nil, invalid("token algorithm does not match its key", nil)
	}
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{k.alg})
	if err != nil {
		return nil, invalid("token is not a valid JWS", err)
	}
	var wc wireClaims
	if err := tok.Claims(k.pub, &wc); err != nil {
		if errors.Is(err, jose.ErrCryptoFailure) {
			return nil, invalid("token signature invalid", err)
		}
		return nil, invalid("token claims malformed", err)
	}
	v := newVerifiedToken(wc, kid)
	a.verified.put(raw, v)
	return a.checkLive(v, base)
}

// maxVerified bounds the signature cache; when full it starts over, which
// costs one signature check per live token.
const maxVerified = 10_000

type verifiedCache struct {
	mu sync.RWMutex
	m  map[string]*verifiedToken
}

// verifiedToken is a token whose signature checked out, with what never
// changes about it worked out once: its times, the checks of its shape
// (jti, subject, tenant GUID, scope) and the claims handed to handlers.
// What can change (the clock, the tenant, the client, revocation) and
// what depends on the request (the issuer and audience expected of its
// base URL) are checked on every use, by checkLive.
type verifiedToken struct {
	wc       wireClaims
	kid      string
	shapeErr error   // the first failed shape check, or nil
	claims   *Claims // with the token's times worked out
}

func newVerifiedToken(wc wireClaims, kid string) *verifiedToken {
	v := &verifiedToken{wc: wc, kid: kid}
	switch {
	case wc.ID == "":
		v.shapeErr = invalid("token has no jti", nil)
	case wc.ClientID == "" || wc.Subject != wc.ClientID:
		v.shapeErr = invalid("token subject and client_id disagree", nil)
	}
	if v.shapeErr == nil {
		if g, err := spec.ParseGUID(wc.Tenant); err != nil || g != wc.Tenant {
			v.shapeErr = invalid("token tenant is not a canonical GUID", err)
		} else if fs := strings.Fields(wc.Scope); len(fs) == 0 || fs[0] != wc.Tenant {
			v.shapeErr = invalid("token scope does not carry its tenant", nil)
		}
	}
	v.claims = &Claims{
		Issuer: wc.Issuer, Subject: wc.Subject, Audience: []string(wc.Audience),
		IssuedAt: wc.IssuedAt.Time(), NotBefore: wc.NotBefore.Time(), Expiry: wc.Expiry.Time(),
		ID: wc.ID, Scope: wc.Scope, Tenant: wc.Tenant, ClientID: wc.ClientID, SecretID: wc.SecretID, KeyID: kid,
	}
	return v
}

func (c *verifiedCache) get(raw string) (*verifiedToken, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	v, ok := c.m[raw]
	return v, ok
}

func (c *verifiedCache) put(raw string, v *verifiedToken) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = make(map[string]*verifiedToken)
	}
	c.m[raw] = v
}

// checkLive checks a verified token's claims for a request to base, in
// the order a client learns about its mistakes: expiry and validity
// times, issuer and audience, the token's shape, then the live state
// (tenant still known, client still registered and allowed the tenant,
// jti not revoked, and under RevokeTokensOnSecretInvalidation the secret
// still live).
func (a *Authority) checkLive(v *verifiedToken, base string) (*Claims, error) {
	now := a.now()
	wc := &v.wc
	switch {
	case wc.Expiry == nil:
		return nil, invalid("token has no exp", nil)
	case !now.Before(v.claims.Expiry.Add(Leeway)):
		return nil, invalid("token expired", nil)
	case wc.NotBefore != nil && v.claims.NotBefore.After(now.Add(Leeway)):
		return nil, invalid("token not valid yet (nbf)", nil)
	case wc.IssuedAt != nil && v.claims.IssuedAt.After(now.Add(Leeway)):
		return nil, invalid("token issued in the future (iat)", nil)
	case wc.Issuer != base:
		return nil, invalid("token issuer does not match this server", nil)
	case !wc.Audience.Contains(base):
		return nil, invalid("token audience does not match this server", nil)
	case v.shapeErr != nil:
		return nil, v.shapeErr
	}
	switch {
	case !a.tenantKnown(wc.Tenant):
		return nil, invalid("token tenant is not known", nil)
	case !a.reg.clientAllows(wc.ClientID, wc.Tenant):
		return nil, invalid("token client is no longer registered for this tenant", nil)
	case a.isRevoked(wc.ID):
		return nil, invalid("token revoked", nil)
	case a.revokedGeneration(wc.Gen):
		return nil, invalid("token revoked", nil)
	case a.revokeOnSecret && wc.SecretID != "" && !a.reg.secretLive(wc.ClientID, wc.SecretID, now):
		return nil, invalid("the client secret that obtained this token is no longer valid", nil)
	}
	return v.claims, nil
}
