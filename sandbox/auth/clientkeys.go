package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	jose "github.com/go-jose/go-jose/v4"
)

// Limits on a client's public keys and scopes.
const (
	MaxKeysPerClient   = 16
	MaxScopesPerClient = 64
	MaxJWKSBytes       = 64 << 10
	maxKIDLen          = 128
	maxJWKSURILen      = 2048
)

// Assertion signing algorithms accepted from clients (private_key_jwt).
var AssertionAlgs = []string{"RS384", "ES384", "RS256", "ES256"}

// Registry errors about keys.
var (
	ErrNoKey  = errors.New("no such key")
	ErrBadKey = errors.New("unusable public key")
)

// ClientKey is one public key a client signs its assertions with.
type ClientKey struct {
	KID       string
	Alg       string // the one algorithm the key may sign with; "" for any that suits it
	Public    crypto.PublicKey
	Created   time.Time
	Revoked   bool
	RevokedAt time.Time
}

// algs returns the algorithms the key may verify.
func (k *ClientKey) algs() []string {
	if k.Alg != "" {
		return []string{k.Alg}
	}
	return keyAlgs(k.Public)
}

// keyAlgs are the assertion algorithms a public key suits.
func keyAlgs(pub crypto.PublicKey) []string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return []string{"RS384", "RS256"}
	case *ecdsa.PublicKey:
		switch p.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		}
	}
	return nil
}

// JWK returns the key as a public JWK.
func (k *ClientKey) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.Public, KeyID: k.KID, Algorithm: k.Alg, Use: "sig"}
}

// checkPublicKey accepts RSA keys of 2048 to 4096 bits and EC keys on
// P-256 or P-384, with an algorithm (if any) that suits them.
func checkPublicKey(pub crypto.PublicKey, alg string) error {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		if n := p.N.BitLen(); n < rsaBits || n > maxRSABits {
			return fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrBadKey, n, rsaBits, maxRSABits)
		}
	case *ecdsa.PublicKey:
		if p.Curve != elliptic.P256() && p.Curve != elliptic.P384() {
			return fmt.Errorf("%w: EC key on %s (want P-256 or P-384)", ErrBadKey, p.Curve.Params().Name)
		}
	default:
		return fmt.Errorf("%w: unsupported key type %T (want RSA or EC)", ErrBadKey, pub)
	}
	if alg != "" && !slices.Contains(keyAlgs(pub), alg) {
		return fmt.Errorf("%w: alg %q does not suit the key (it suits %s)", ErrBadKey, truncate(alg), strings.Join(keyAlgs(pub), ", "))
	}
	return nil
}

func validKID(kid string) error {
	if kid == "" || len(kid) > maxKIDLen {
		return fmt.Errorf("%w: kid: want 1 to %d characters", ErrBadKey, maxKIDLen)
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x21 || kid[i] > 0x7e {
			return fmt.Errorf("%w: kid %q: printable ASCII only", ErrBadKey, truncate(kid))
		}
	}
	return nil
}

// ParsePublicKeys reads public keys pasted or configured in one of these
// forms: a JWKS ({"keys": [...]}), one JWK, or PEM blocks ("PUBLIC KEY",
// "RSA PUBLIC KEY" or "CERTIFICATE"). A private key is refused: only the
// public half is ever registered. A key without kid gets its RFC 7638
// thumbprint. At most MaxKeysPerClient keys and MaxJWKSBytes bytes.
func ParsePublicKeys(data []byte) ([]ClientKey, error) {
	if len(data) > MaxJWKSBytes {
		return nil, fmt.Errorf("%w: over %d bytes", ErrBadKey, MaxJWKSBytes)
	}
	t := bytes.TrimSpace(data)
	var keys []ClientKey
	switch {
	case len(t) == 0:
		return nil, fmt.Errorf("%w: empty", ErrBadKey)
	case t[0] == '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(t, &probe); err != nil {
			return nil, fmt.Errorf("%w: not a JSON object: %v", ErrBadKey, err)
		}
		raws := []json.RawMessage{t}
		if ks, ok := probe["keys"]; ok {
			raws = nil
			if err := json.Unmarshal(ks, &raws); err != nil {
				return nil, fmt.Errorf("%w: keys: want an array of JWKs", ErrBadKey)
			}
		}
		if len(raws) > MaxKeysPerClient {
			return nil, fmt.Errorf("%w: more than %d keys", ErrBadKey, MaxKeysPerClient)
		}
		for i, raw := range raws {
			k, err := parseJWK(raw)
			if err != nil {
				return nil, fmt.Errorf("keys[%d]: %w", i, err)
			}
			keys = append(keys, k)
		}
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		var err error
		if keys, err = parsePublicPEM(t); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: want a JWKS, a JWK or a PEM public key", ErrBadKey)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key found", ErrBadKey)
	}
	for i := range keys {
		for j := range i {
			if keys[j].KID == keys[i].KID {
				return nil, fmt.Errorf("%w: kid %q appears twice", ErrBadKey, truncate(keys[i].KID))
			}
		}
	}
	return keys, nil
}

func parseJWK(raw json.RawMessage) (ClientKey, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return ClientKey{}, fmt.Errorf("%w: not a JSON object", ErrBadKey)
	}
	for _, f := range [...]string{"d", "p", "q", "dp", "dq", "qi", "k"} {
		if _, ok := fields[f]; ok {
			return ClientKey{}, fmt.Errorf("%w: this is a private or symmetric key (it has %q); register the public key only", ErrBadKey, f)
		}
	}
	var j jose.JSONWebKey
	if err := j.UnmarshalJSON(raw); err != nil {
		return ClientKey{}, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	if !j.IsPublic() {
		return ClientKey{}, fmt.Errorf("%w: not a public key", ErrBadKey)
	}
	if j.Use != "" && j.Use != "sig" {
		return ClientKey{}, fmt.Errorf("%w: use %q (want sig)", ErrBadKey, truncate(j.Use))
	}
	return newClientKey(j.Key, j.KeyID, j.Algorithm)
}

func newClientKey(pub crypto.PublicKey, kid, alg string) (ClientKey, error) {
	if err := checkPublicKey(pub, alg); err != nil {
		return ClientKey{}, err
	}
	if kid == "" {
		var err error
		if kid, err = Thumbprint(pub); err != nil {
			return ClientKey{}, err
		}
	}
	if err := validKID(kid); err != nil {
		return ClientKey{}, err
	}
	return ClientKey{KID: kid, Alg: alg, Public: pub}, nil
}

func parsePublicPEM(data []byte) ([]ClientKey, error) {
	var keys []ClientKey
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var pub any
		var err error
		switch b.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(b.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(b.Bytes)
		case "CERTIFICATE":
			var c *x509.Certificate
			if c, err = x509.ParseCertificate(b.Bytes); err == nil {
				pub = c.PublicKey
			}
		default:
			if strings.Contains(b.Type, "PRIVATE") {
				return nil, fmt.Errorf("%w: a private key was given; register the public key only (openssl pkey -pubout)", ErrBadKey)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: parse %s: %v", ErrBadKey, b.Type, err)
		}
		k, err := newClientKey(pub, "", "")
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
		if len(keys) > MaxKeysPerClient {
			return nil, fmt.Errorf("%w: more than %d keys", ErrBadKey, MaxKeysPerClient)
		}
	}
	return keys, nil
}

// CheckJWKSURI validates a jwks_uri: an absolute http or https URL
// without credentials or fragment. Empty is valid (none).
func CheckJWKSURI(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxJWKSURILen {
		return fmt.Errorf("jwks_uri: over %d characters", maxJWKSURILen)
	}
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("jwks_uri: %v", err)
	case u.Scheme != "https" && u.Scheme != "http":
		return errors.New("jwks_uri: want an http or https URL")
	case u.Host == "":
		return errors.New("jwks_uri: no host")
	case u.User != nil:
		return errors.New("jwks_uri: credentials in the URL are not allowed")
	case u.Fragment != "" || strings.Contains(s, "#"):
		return errors.New("jwks_uri: a fragment is not allowed")
	}
	return nil
}

// CanonicalScopes validates a client's allowed scopes: each a SMART
// system scope (smartscope.Parse), no duplicates, at most
// MaxScopesPerClient.
func CanonicalScopes(in []string) ([]string, error) {
	if len(in) > MaxScopesPerClient {
		return nil, fmt.Errorf("%w: at most %d scopes per client", ErrTooMany, MaxScopesPerClient)
	}
	var out []string
	for _, s := range in {
		if !validScopeToken(s) {
			return nil, fmt.Errorf("scope %q is not a valid scope token", truncate(s))
		}
		if _, err := smartscope.Parse(s); err != nil {
			return nil, err
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

// AddKeys registers public keys for a client (see ParsePublicKeys for the
// forms data may take) and returns them. A kid the client already has is
// refused: revoke or delete the old key first.
func (r *Registry) AddKeys(clientID string, data []byte) ([]ClientKey, error) {
	keys, err := ParsePublicKeys(data)
	if err != nil {
		return nil, err
	}
	now := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("add key to %q: %w", truncate(clientID), ErrNoClient)
	}
	if len(c.Keys)+len(keys) > MaxKeysPerClient {
		return nil, fmt.Errorf("%w: at most %d keys per client (delete an old one)", ErrTooMany, MaxKeysPerClient)
	}
	for i := range keys {
		if slices.ContainsFunc(c.Keys, func(k ClientKey) bool { return k.KID == keys[i].KID }) {
			return nil, fmt.Errorf("%w: the client already has a key with kid %q", ErrBadKey, truncate(keys[i].KID))
		}
		keys[i].Created = now
	}
	c.Keys = append(c.Keys, keys...)
	return keys, nil
}

func (r *Registry) withKey(op, clientID, kid string, f func(c *Client, i int)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return fmt.Errorf("%s: client %q: %w", op, truncate(clientID), ErrNoClient)
	}
	i := slices.IndexFunc(c.Keys, func(k ClientKey) bool { return k.KID == kid })
	if i < 0 {
		return fmt.Errorf("%s: key %q: %w", op, truncate(kid), ErrNoKey)
	}
	f(c, i)
	return nil
}

// RevokeKey stops a key from authenticating at once; it stays listed
// (revoked) until deleted.
func (r *Registry) RevokeKey(clientID, kid string) error {
	now := r.now()
	return r.withKey("revoke key", clientID, kid, func(c *Client, i int) {
		if !c.Keys[i].Revoked {
			c.Keys[i].Revoked, c.Keys[i].RevokedAt = true, now
		}
	})
}

// DeleteKey removes a key from the client.
func (r *Registry) DeleteKey(clientID, kid string) error {
	return r.withKey("delete key", clientID, kid, func(c *Client, i int) {
		c.Keys = slices.Delete(c.Keys, i, i+1)
	})
}

// SetJWKSURI sets (or, with "", clears) the URL the client's key set is
// fetched from.
func (r *Registry) SetJWKSURI(clientID, uri string) error {
	if err := CheckJWKSURI(uri); err != nil {
		return err
	}
	return r.withClient("set jwks_uri of", clientID, func(c *Client) { c.JWKSURI = uri })
}

// SetScopes replaces the SMART system scopes a client may be granted.
// Empty: the client is not restricted (today's behaviour: scopes asked
// for are granted as asked).
func (r *Registry) SetScopes(clientID string, scopes []string) error {
	ss, err := CanonicalScopes(scopes)
	if err != nil {
		return err
	}
	return r.withClient("set scopes of", clientID, func(c *Client) { c.Scopes = ss })
}

// KeyState is one client key in State: the public JWK.
type KeyState struct {
	JWK       json.RawMessage `json:"jwk"`
	Created   time.Time       `json:"created"`
	Revoked   bool            `json:"revoked,omitempty"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
}

func keyToState(k ClientKey) (KeyState, error) {
	j := k.JWK()
	j.Use = ""
	b, err := j.MarshalJSON()
	if err != nil {
		return KeyState{}, err
	}
	ks := KeyState{JWK: b, Created: k.Created, Revoked: k.Revoked}
	if k.Revoked {
		at := k.RevokedAt
		ks.RevokedAt = &at
	}
	return ks, nil
}

func keyFromState(ks KeyState) (ClientKey, error) {
	k, err := parseJWK(ks.JWK)
	if err != nil {
		return ClientKey{}, err
	}
	k.Created, k.Revoked = ks.Created, ks.Revoked
	if ks.Revoked && ks.RevokedAt != nil {
		k.RevokedAt = *ks.RevokedAt
	}
	return k, nil
}
