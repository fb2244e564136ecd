package auth

import (
	"crypto"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// AssertionClaims are what a client puts in a client assertion.
type AssertionClaims struct {
	ClientID string // iss and sub
	Audience string // the token URL
	ID       string // jti
	IssuedAt time.Time
	Expiry   time.Time
}

// ClientSigner makes client assertions (the client's side of
// private_key_jwt), for the CLI and the scenario runner.
type ClientSigner struct {
	Key crypto.Signer
	KID string
	Alg string
}

// NewClientSigner reads a private key in PEM and picks its algorithm
// (alg empty: RS384 for RSA, ES256 for P-256, ES384 for P-384) and kid
// (kid empty: the RFC 7638 thumbprint, the kid the sandbox gives a key
// registered from PEM).
func NewClientSigner(keyPEM []byte, kid, alg string) (*ClientSigner, error) {
	key, err := ParseKeyPEM(keyPEM)
	if err != nil {
		return nil, err
	}
	ck, err := newClientKey(key.Public(), kid, alg)
	if err != nil {
		return nil, err
	}
	if alg == "" {
		alg = keyAlgs(ck.Public)[0] // the first suits best: RS384, ES256 or ES384
	}
	return &ClientSigner{Key: key, KID: ck.KID, Alg: alg}, nil
}

// Sign returns a compact JWS client assertion.
func (s *ClientSigner) Sign(c AssertionClaims) (string, error) {
	if c.ClientID == "" || c.Audience == "" || c.ID == "" {
		return "", errors.New("assertion: client id, audience and jti are required")
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(s.Alg), Key: jose.JSONWebKey{Key: s.Key, KeyID: s.KID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("assertion: %w", err)
	}
	cl := jwt.Claims{Issuer: c.ClientID, Subject: c.ClientID, Audience: jwt.Audience{c.Audience}, ID: c.ID, Expiry: jwt.NewNumericDate(c.Expiry)}
	if !c.IssuedAt.IsZero() {
		cl.IssuedAt = jwt.NewNumericDate(c.IssuedAt)
	}
	out, err := jwt.Signed(sig).Claims(cl).Serialize()
	if err != nil {
		return "", fmt.Errorf("assertion: %w", err)
	}
	return out, nil
}
