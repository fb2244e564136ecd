package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"strings"
	"testing"
)

func pemOf(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestKeyFiles(t *testing.T) {
	t.Parallel()
	rk := rsaKey(t)
	ek := ecKey()
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edk, _ := ed25519.GenerateKey(rand.Reader)
	cert := pemOf("CERTIFICATE", []byte{0x30, 0x00})
	opts := func(alg string, key []byte) Options {
		return Options{Alg: alg, KeyPEM: key, TenantKnown: func(string) bool { return true }, Base: func(*http.Request) string { return "" }}
	}
	for _, tc := range []struct {
		name, alg string
		key       []byte
		want      string // alg, or "" for an error
	}{
		{"rsa pkcs1", "", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rk)), RS256},
		{"rsa pkcs8", RS256, pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(rk))), RS256},
		{"rsa after a certificate", "", append(cert, rsaPEM()...), RS256},
		{"ec sec1", ES256, ecPEM(), ES256},
		{"ec pkcs8", "", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(ek))), ES256},
		{"rsa key with ES256", ES256, rsaPEM(), ""},
		{"ec key with RS256", RS256, ecPEM(), ""},
		{"unsupported alg", "HS256", rsaPEM(), ""},
		{"rsa 1024", "", pemOf("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)), ""},
		{"p-384", "", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(p384))), ""},
		{"ed25519", "", pemOf("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(edk))), ""},
		{"two keys", "", append(rsaPEM(), ecPEM()...), ""},
		{"certificate only", "", cert, ""},
		{"garbage", "", []byte("not a key"), ""},
		{"corrupt", "", pemOf("RSA PRIVATE KEY", []byte{1, 2, 3}), ""},
		{"encrypted", "", pemOf("ENCRYPTED PRIVATE KEY", []byte{1}), ""},
		{"too large", "", append(rsaPEM(), make([]byte, maxPEMSize)...), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(opts(tc.alg, tc.key))
			if tc.want == "" {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := string(a.keys.current().alg); got != tc.want {
				t.Errorf("alg %s, want %s", got, tc.want)
			}
		})
	}
}

// TestKidIsRFC7638Thumbprint computes the thumbprint by hand, so the kid
// is proven to be the standard one (and equal across instances).
func TestKidIsRFC7638Thumbprint(t *testing.T) {
	t.Parallel()
	o := Options{KeyPEM: rsaPEM(), TenantKnown: func(string) bool { return true }, Base: func(*http.Request) string { return "" }}
	a1, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	a2, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	_, k1 := a1.Keys()
	_, k2 := a2.Keys()
	pub := rsaKey(t).PublicKey
	enc := base64.RawURLEncoding.EncodeToString
	canon := `{"e":"` + enc(big.NewInt(int64(pub.E)).Bytes()) + `","kty":"RSA","n":"` + enc(pub.N.Bytes()) + `"}`
	sum := sha256.Sum256([]byte(canon))
	if want := enc(sum[:]); k1 != want || k2 != want {
		t.Errorf("kids %s, %s; want %s", k1, k2, want)
	}
	ek := ecKey()
	pad := func(b []byte) []byte { return append(make([]byte, 32-len(b)), b...) }
	canon = `{"crv":"P-256","kty":"EC","x":"` + enc(pad(ek.X.Bytes())) + `","y":"` + enc(pad(ek.Y.Bytes())) + `"}`
	sum = sha256.Sum256([]byte(canon))
	if got, _ := Thumbprint(&ek.PublicKey); got != enc(sum[:]) {
		t.Errorf("EC thumbprint %s, want %s", got, enc(sum[:]))
	}
}

func TestGeneratedKeys(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"", ES256} {
		a, err := New(Options{Alg: alg, TenantKnown: func(string) bool { return true }, Base: func(*http.Request) string { return "" }})
		if err != nil {
			t.Fatalf("%q: %v", alg, err)
		}
		want := alg
		if want == "" {
			want = RS256
		}
		if got := string(a.keys.current().alg); got != want {
			t.Errorf("alg %s, want %s", got, want)
		}
		kid, err := a.RotateKey()
		if err != nil || a.keys.lookup(kid).alg != a.keys.current().alg {
			t.Errorf("rotation changed the algorithm or failed: %v", err)
		}
	}
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), "TenantKnown") || !strings.Contains(err.Error(), "Base") {
		t.Errorf("missing options: %v", err)
	}
}
