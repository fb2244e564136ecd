package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
)

// Supported signing algorithms.
const (
	RS256 = string(jose.RS256)
	ES256 = string(jose.ES256)
)

const (
	rsaBits        = 2048
	maxRSABits     = 4096 // go-jose refuses larger moduli
	maxPEMSize     = 64 << 10
	maxPublished   = 16
	jwksCacheAge   = "public, max-age=60"
	tokenMediaType = "JWT"
)

// ErrKey reports a problem with a signing key or a key file.
var ErrKey = errors.New("signing key")

type signingKey struct {
	kid    string
	alg    jose.SignatureAlgorithm
	pub    crypto.PublicKey
	signer jose.Signer
}

// keyRing holds the active signing key and every key still published
// (valid for verification). It is safe for concurrent use.
type keyRing struct {
	alg  jose.SignatureAlgorithm
	rand io.Reader

	mu     sync.RWMutex
	active *signingKey
	keys   []*signingKey // published, oldest first; includes active
}

func parseAlg(s string) (jose.SignatureAlgorithm, error) {
	switch s {
	case "", RS256:
		return jose.RS256, nil
	case ES256:
		return jose.ES256, nil
	}
	return "", fmt.Errorf("%w: unsupported algorithm %q (want RS256 or ES256)", ErrKey, truncate(s))
}

func generateKey(alg jose.SignatureAlgorithm, rand io.Reader) (crypto.Signer, error) {
	// Since Go 1.26 the crypto packages draw key material from a secure
	// source and ignore rand unless GODEBUG=cryptocustomrand=1; tests that
	// need fixed keys load a PEM instead.
	switch alg {
	case jose.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand)
		if err != nil {
			return nil, fmt.Errorf("%w: generate ES256 key: %w", ErrKey, err)
		}
		return k, nil
	default:
		k, err := rsa.GenerateKey(rand, rsaBits)
		if err != nil {
			return nil, fmt.Errorf("%w: generate RS256 key: %w", ErrKey, err)
		}
		return k, nil
	}
}

// ParseKeyPEM reads one private key in PEM: PKCS#1 ("RSA PRIVATE KEY"),
// PKCS#8 ("PRIVATE KEY", RSA or EC) or SEC 1 ("EC PRIVATE KEY").
// Other blocks (certificates, parameters) are skipped; more than one
// private key is an error, so which key signs is never a guess.
func ParseKeyPEM(data []byte) (crypto.Signer, error) {
	if len(data) > maxPEMSize {
		return nil, fmt.Errorf("%w: key file over %d bytes", ErrKey, maxPEMSize)
	}
	var key crypto.Signer
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		var k any
		var err error
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(b.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%w: encrypted private keys are not supported", ErrKey)
		default:
			continue
		}
		if _, enc := b.Headers["Proc-Type"]; enc {
			return nil, fmt.Errorf("%w: encrypted private keys are not supported", ErrKey)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: parse %s: %w", ErrKey, b.Type, err)
		}
		if key != nil {
			return nil, fmt.Errorf("%w: more than one private key in the file", ErrKey)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%w: unsupported key type %T", ErrKey, k)
		}
		key = s
	}
	if key == nil {
		return nil, fmt.Errorf("%w: no PEM private key found", ErrKey)
	}
	return key, nil
}

// algForKey checks that key suits want (empty: whatever the key is) and
// returns the algorithm it signs with.
func algForKey(key crypto.Signer, want string) (jose.SignatureAlgorithm, error) {
	var alg jose.SignatureAlgorithm
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if n := k.N.BitLen(); n < rsaBits || n > maxRSABits {
			return "", fmt.Errorf("%w: RSA key of %d bits (want %d to %d)", ErrKey, n, rsaBits, maxRSABits)
		}
		alg = jose.RS256
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("%w: EC key on %s (ES256 needs P-256)", ErrKey, k.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return "", fmt.Errorf("%w: unsupported key type %T (want RSA or EC P-256)", ErrKey, key)
	}
	if want != "" && string(alg) != want {
		return "", fmt.Errorf("%w: key file holds a %s key but the algorithm is %s", ErrKey, alg, want)
	}
	return alg, nil
}

// Thumbprint returns the RFC 7638 JWK SHA-256 thumbprint of pub,
// base64url without padding: the kid, so that every instance loading the
// same key file names it the same.
func Thumbprint(pub crypto.PublicKey) (string, error) {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: thumbprint: %w", ErrKey, err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

func newSigningKey(priv crypto.Signer, alg jose.SignatureAlgorithm) (*signingKey, error) {
	kid, err := Thumbprint(priv.Public())
	if err != nil {
		return nil, err
	}
	opts := (&jose.SignerOptions{}).WithType(tokenMediaType)
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: priv, KeyID: kid}}, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: signer: %w", ErrKey, err)
	}
	return &signingKey{kid: kid, alg: alg, pub: priv.Public(), signer: sig}, nil
}

func newKeyRing(alg string, keyPEM []byte, rand io.Reader) (*keyRing, error) {
	var priv crypto.Signer
	var a jose.SignatureAlgorithm
	var err error
	if len(keyPEM) > 0 {
		if priv, err = ParseKeyPEM(keyPEM); err != nil {
			return nil, err
		}
		if alg != "" {
			if _, err := parseAlg(alg); err != nil {
				return nil, err
			}
		}
		if a, err = algForKey(priv, alg); err != nil {
			return nil, err
		}
	} else {
		if a, err = parseAlg(alg); err != nil {
			return nil, err
		}
		if priv, err = generateKey(a, rand); err != nil {
			return nil, err
		}
	}
	k, err := newSigningKey(priv, a)
	if err != nil {
		return nil, err
	}
	return &keyRing{alg: a, rand: rand, active: k, keys: []*signingKey{k}}, nil
}

func (kr *keyRing) current() *signingKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	return kr.active
}

func (kr *keyRing) lookup(kid string) *signingKey {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	for _, k := range kr.keys {
		if k.kid == kid {
			return k
		}
	}
	return nil
}

// rotate makes a new key of the same algorithm the active one; the old
// key stays published until retired.
func (kr *keyRing) rotate() (string, error) {
	priv, err := generateKey(kr.alg, kr.rand)
	if err != nil {
		return "", err
	}
	k, err := newSigningKey(priv, kr.alg)
	if err != nil {
		return "", err
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if len(kr.keys) >= maxPublished {
		return "", fmt.Errorf("%w: %d keys already published (retire an old one first)", ErrKey, maxPublished)
	}
	kr.keys = append(kr.keys, k)
	kr.active = k
	return k.kid, nil
}

func (kr *keyRing) retire(kid string) error {
	kr.mu.Lock()
	defer kr.mu.Unlock()
	if kr.active.kid == kid {
		return fmt.Errorf("%w: %q is the active key (rotate first)", ErrKey, truncate(kid))
	}
	for i, k := range kr.keys {
		if k.kid == kid {
			kr.keys = append(kr.keys[:i:i], kr.keys[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: no published key %q", ErrKey, truncate(kid))
}

// kids returns the published key ids, oldest first, and the active one.
func (kr *keyRing) kids() ([]string, string) {
	kr.mu.RLock()
	defer kr.mu.RUnlock()
	out := make([]string, len(kr.keys))
	for i, k := range kr.keys {
		out[i] = k.kid
	}
	return out, kr.active.kid
}

// jwks renders the published public keys as an RFC 7517 key set.
func (kr *keyRing) jwks() ([]byte, error) {
	kr.mu.RLock()
	set := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(kr.keys))}
	for _, k := range kr.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	kr.mu.RUnlock()
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("%w: render key set: %w", ErrKey, err)
	}
	return b, nil
}
