package jwstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
)

var b64 = base64.RawURLEncoding

// Sign returns header.payload.signature for alg (RS256, RS384, ES256,
// ES384), signed with key. header and claims are marshalled as given;
// "alg" is set in the header unless it is there already.
func Sign(alg string, key crypto.Signer, header, claims map[string]any) (string, error) {
	h := map[string]any{"alg": alg, "typ": "JWT"}
	for k, v := range header {
		if v == nil {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	hb, err := json.Marshal(h)
	if err != nil {
		return "", err
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(hb) + "." + b64.EncodeToString(cb)
	var digest []byte
	var hash crypto.Hash
	switch alg {
	case "RS256", "ES256":
		d := sha256.Sum256([]byte(input))
		digest, hash = d[:], crypto.SHA256
	case "RS384", "ES384":
		d := sha512.Sum384([]byte(input))
		digest, hash = d[:], crypto.SHA384
	default:
		return "", fmt.Errorf("jwstest: unsupported alg %q", alg)
	}
	var sig []byte
	switch k := key.(type) {
	case *rsa.PrivateKey:
		if sig, err = rsa.SignPKCS1v15(rand.Reader, k, hash, digest); err != nil {
			return "", err
		}
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			return "", err
		}
		n := (k.Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*n)
		r.FillBytes(sig[:n])
		s.FillBytes(sig[n:])
	default:
		return "", fmt.Errorf("jwstest: unsupported key %T", key)
	}
	return input + "." + b64.EncodeToString(sig), nil
}

// JWK returns the public JWK of key with kid (and alg when not empty).
func JWK(key crypto.Signer, kid, alg string) map[string]any {
	m := map[string]any{"kid": kid}
	if alg != "" {
		m["alg"] = alg
	}
	switch p := key.Public().(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64.EncodeToString(p.N.Bytes())
		m["e"] = b64.EncodeToString(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		m["kty"] = "EC"
		n := (p.Curve.Params().BitSize + 7) / 8
		x, y := make([]byte, n), make([]byte, n)
		p.X.FillBytes(x)
		p.Y.FillBytes(y)
		m["crv"] = p.Curve.Params().Name
		m["x"] = b64.EncodeToString(x)
		m["y"] = b64.EncodeToString(y)
	}
	return m
}

// JWKS returns {"keys": [...]} as JSON.
func JWKS(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

// PublicPEM returns key's public half as a PEM "PUBLIC KEY" block.
func PublicPEM(key crypto.Signer) []byte {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// PrivatePEM returns key as a PKCS#8 "PRIVATE KEY" block.
func PrivatePEM(key crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// NewKey generates a key for alg: RSA 2048 for RS*, P-256 for ES256,
// P-384 for ES384.
func NewKey(alg string) crypto.Signer {
	var k crypto.Signer
	var err error
	switch alg {
	case "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	}
	if err != nil {
		panic(err)
	}
	return k
}
