package auth

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var benchAlgs = []string{RS256, ES256}

func benchOptions(alg string) func(*Options) {
	return func(o *Options) {
		o.Alg = alg
		if alg == ES256 {
			o.KeyPEM = ecPEM()
		}
	}
}

// BenchmarkTokenEndpoint is a whole token request through the handler
// (form parsing, Basic decoding, secret check, scope, signing, JSON),
// without the network. Compare with BenchmarkBareSign of the same alg.
func BenchmarkTokenEndpoint(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, benchOptions(alg))
			handler := h.a.Token()
			body := form("grant_type", "client_credentials", "scope", tenantA)
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "http://sandbox.example/token", strings.NewReader(body))
				req.Header.Set("Content-Type", formMediaType)
				req.SetBasicAuth(clientA, secretA)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkBareSign signs the same claims with go-jose alone.
func BenchmarkBareSign(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			var key crypto.Signer
			if alg == ES256 {
				key = ecKey()
			} else {
				blk, _ := pem.Decode(rsaPEM())
				k, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
				if err != nil {
					b.Fatal(err)
				}
				key = k
			}
			sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: "kid"}}, (&jose.SignerOptions{}).WithType("JWT"))
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now()
			wc := wireClaims{
				Claims: jwt.Claims{
					Issuer: "http://sandbox.example", Subject: clientA, Audience: jwt.Audience{"http://sandbox.example"},
					IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour)), ID: "0123456789abcdefghijkl",
				},
				Scope: tenantA, Tenant: tenantA, ClientID: clientA, SecretID: "sec_a",
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := jwt.Signed(sig).Claims(wc).Serialize(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is the bearer check every FHIR request pays.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			h := newHarness(b, benchOptions(alg))
			raw, _, err := h.a.Mint(clientA, tenantA, nil, h.base)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := h.a.Verify(raw, h.base); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("garbage", func(b *testing.B) {
		h := newHarness(b, nil)
		raw := strings.Repeat(".", 10000)
		for b.Loop() {
			if _, err := h.a.Verify(raw, h.base); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}
