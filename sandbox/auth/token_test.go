package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type claimMap = map[string]any

// validClaims are what the server itself would sign for clientB (any
// tenant) and tenantA.
func (h *harness) validClaims() claimMap {
	now := h.clock.Now().Unix()
	return claimMap{
		"iss": h.base, "sub": clientB, "aud": h.base, "iat": now, "nbf": now, "exp": now + 600,
		"jti": "jti-1", "scope": tenantA, "tid": tenantA, "client_id": clientB,
	}
}

// forge signs claims with key and alg; kid "" leaves the header without
// one; extra adds header parameters.
func forge(t *testing.T, key any, alg jose.SignatureAlgorithm, kid string, extra map[jose.HeaderKey]any, claims claimMap) string {
	t.Helper()
	opts := &jose.SignerOptions{}
	opts.WithType("JWT")
	if kid != "" {
		opts.WithHeader("kid", kid)
	}
	for k, v := range extra {
		opts.WithHeader(k, v)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func with(c claimMap, kv ...any) claimMap {
	out := claimMap{}
	for k, v := range c {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

func assertInvalid(t *testing.T, a *Authority, raw, base, wantDesc string) {
	t.Helper()
	cl, err := a.Verify(raw, base)
	if err == nil {
		t.Fatalf("accepted: %+v", cl)
	}
	var te *TokenError
	if !errors.As(err, &te) || !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %v is not a TokenError", err)
	}
	if !strings.Contains(err.Error(), te.Description) {
		t.Errorf("Error() %q does not carry the description %q", err.Error(), te.Description)
	}
	if !strings.Contains(te.Description, wantDesc) {
		t.Errorf("description %q, want it to mention %q", te.Description, wantDesc)
	}
	if strings.ContainsAny(te.Description, "\"\\\r\n") {
		t.Errorf("description %q is not header-safe", te.Description)
	}
}

// TestVerifyAttacks holds checklist items 13 to 15: every forged or
// malformed token is refused, and the same forge with honest inputs is
// accepted (so each case fails for the reason it names).
func TestVerifyAttacks(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	our := rsaKey(t)
	_, kid := h.a.Keys()
	good := h.validClaims()
	now := h.clock.Now().Unix()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&our.PublicKey))})
	pubDER := x509.MarshalPKCS1PublicKey(&our.PublicKey)
	valid := forge(t, our, jose.RS256, kid, nil, good)
	if _, err := h.a.Verify(valid, h.base); err != nil {
		t.Fatalf("honest forge refused: %v", err)
	}
	parts := strings.Split(valid, ".")
	ecOther, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	for _, tc := range []struct {
		name, raw, desc string
	}{
		{"empty", "", "not a JWT"},
		{"garbage", "hello world", "unexpected character"},
		{"ten thousand dots", strings.Repeat(".", 10000), "larger than"},
		{"many dots under cap", strings.Repeat(".", 5000), "three dot-separated parts"},
		{"9 KiB", strings.Repeat("a", 9<<10/2) + "." + strings.Repeat("b", 9<<10/2) + ".c", "larger than"},
		{"two parts", parts[0] + "." + parts[1], "three"},
		{"four parts", valid + ".x", "three"},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], "unexpected character"},
		{"header not base64", "a." + parts[1] + "." + parts[2], "base64url"},
		{"header not json", b64("nope") + "." + parts[1] + "." + parts[2], "JSON object"},
		{"header array", b64(`["alg"]`) + "." + parts[1] + "." + parts[2], "JSON object"},
		{"kid not a string", b64(`{"alg":"RS256","kid":7}`) + "." + parts[1] + "." + parts[2], "no kid"},
		{"alg none", b64(`{"alg":"none","kid":"`+kid+`","typ":"JWT"}`) + "." + parts[1] + ".", "algorithm"},
		{"alg none no kid", b64(`{"alg":"none"}`) + "." + parts[1] + ".", "no kid"},
		{"HS256 with public key PEM", forge(t, pubPEM, jose.HS256, kid, nil, good), "algorithm"},
		{"HS256 with public key DER", forge(t, pubDER, jose.HS256, kid, nil, good), "algorithm"},
		{"another key with our kid", forge(t, other, jose.RS256, kid, nil, good), "signature invalid"},
		{"ES256 by another key with our kid", forge(t, ecOther, jose.ES256, kid, nil, good), "algorithm"},
		{"PS256 by our key", forge(t, our, jose.PS256, kid, nil, good), "algorithm"},
		{"RS512 by our key", forge(t, our, jose.RS512, kid, nil, good), "algorithm"},
		{"embedded jwk", forge(t, other, jose.RS256, kid, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: &other.PublicKey}}, good), "jwk"},
		{"jwk even when our key signed", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"jwk": jose.JSONWebKey{Key: &our.PublicKey}}, good), "jwk"},
		{"jku", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"}, good), "jku"},
		{"x5u", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"x5u": "https://evil.example/cert"}, good), "x5u"},
		{"x5c", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"x5c": []string{"MIIB"}}, good), "x5c"},
		{"crit", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"crit": []string{"exp"}}, good), "crit"},
		{"unknown crit extension", forge(t, our, jose.RS256, kid, map[jose.HeaderKey]any{"crit": []string{"urn:x"}, "urn:x": true}, good), "crit"},
		{"unknown kid", forge(t, our, jose.RS256, "not-our-kid", nil, good), "unknown or retired key"},
		{"missing kid", forge(t, our, jose.RS256, "", nil, good), "no kid"},
		{"missing exp", forge(t, our, jose.RS256, kid, nil, with(good, "exp", nil)), "no exp"},
		{"exp not a number", forge(t, our, jose.RS256, kid, nil, with(good, "exp", "tomorrow")), "claims malformed"},
		{"exp past leeway", forge(t, our, jose.RS256, kid, nil, with(good, "exp", now-61)), "expired"},
		{"exp exactly at leeway", forge(t, our, jose.RS256, kid, nil, with(good, "exp", now-60)), "expired"},
		{"nbf in the future", forge(t, our, jose.RS256, kid, nil, with(good, "nbf", now+61)), "nbf"},
		{"nbf huge", forge(t, our, jose.RS256, kid, nil, with(good, "nbf", 1e300)), "claims malformed"},
		{"iat in the future", forge(t, our, jose.RS256, kid, nil, with(good, "iat", now+61)), "iat"},
		{"wrong iss", forge(t, our, jose.RS256, kid, nil, with(good, "iss", "https://evil.example")), "issuer"},
		{"missing iss", forge(t, our, jose.RS256, kid, nil, with(good, "iss", nil)), "issuer"},
		{"wrong aud", forge(t, our, jose.RS256, kid, nil, with(good, "aud", "https://evil.example")), "audience"},
		{"missing aud", forge(t, our, jose.RS256, kid, nil, with(good, "aud", nil)), "audience"},
		{"missing jti", forge(t, our, jose.RS256, kid, nil, with(good, "jti", nil)), "jti"},
		{"sub differs from client_id", forge(t, our, jose.RS256, kid, nil, with(good, "sub", clientA)), "subject"},
		{"tid not canonical", forge(t, our, jose.RS256, kid, nil, with(good, "tid", strings.ToUpper(tenantA), "scope", strings.ToUpper(tenantA))), "canonical"},
		{"scope without tenant", forge(t, our, jose.RS256, kid, nil, with(good, "scope", "system/*.read")), "scope"},
		{"unknown tenant", forge(t, our, jose.RS256, kid, nil, with(good, "tid", tenantUnknown, "scope", tenantUnknown)), "tenant is not known"},
		{"unknown client", forge(t, our, jose.RS256, kid, nil, with(good, "sub", "ghost", "client_id", "ghost")), "client"},
		{"client not allowed tenant", forge(t, our, jose.RS256, kid, nil, with(good, "sub", clientA, "client_id", clientA, "tid", tenantB, "scope", tenantB)), "client"},
		{"edited payload", parts[0] + "." + b64(mustJSON(with(good, "tid", tenantB, "scope", tenantB))) + "." + parts[2], "signature invalid"},
		{"signature stripped", parts[0] + "." + parts[1] + ".", "signature invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assertInvalid(t, h.a, tc.raw, h.base, tc.desc)
		})
	}

	// The boundaries on the accepting side of the leeway.
	for name, c := range map[string]claimMap{
		"exp inside leeway":  with(good, "exp", now-59),
		"nbf inside leeway":  with(good, "nbf", now+60),
		"iat inside leeway":  with(good, "iat", now+60),
		"no nbf nor iat":     with(good, "nbf", nil, "iat", nil),
		"aud array":          with(good, "aud", []string{"https://other.example", h.base}),
		"extra scopes":       with(good, "scope", tenantA+" system/*.read"),
		"unknown claim kept": with(good, "foo", "bar"),
	} {
		if _, err := h.a.Verify(forge(t, our, jose.RS256, kid, nil, c), h.base); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
	// The same token read from another base URL is foreign.
	assertInvalid(t, h.a, valid, "https://elsewhere.example", "issuer")
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func mustJSON(v any) string { return string(must(json.Marshal(v))) }

// TestKeyRotation holds checklist item 16.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	_, oldKid := h.a.Keys()
	oldTok := h.token(clientA, secretA, tenantA)
	newKid, err := h.a.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if newKid == oldKid {
		t.Fatal("rotation kept the kid")
	}
	newTok := h.token(clientA, secretA, tenantA)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if ans := h.fhir("Bearer " + tok); ans.status != 200 {
			t.Errorf("%s token while both keys are published: %d %s", name, ans.status, ans.body)
		}
	}
	cl, err := h.a.Verify(newTok, h.base)
	if err != nil || cl.KeyID != newKid {
		t.Fatalf("new token signed by %v (%v), want %s", cl, err, newKid)
	}
	if err := h.a.RetireKey(newKid); err == nil {
		t.Error("retiring the active key succeeded")
	}
	if err := h.a.RetireKey(oldKid); err != nil {
		t.Fatal(err)
	}
	if err := h.a.RetireKey(oldKid); err == nil {
		t.Error("retiring twice succeeded")
	}
	assertInvalid(t, h.a, oldTok, h.base, "unknown or retired key")
	ans := h.fhir("Bearer " + oldTok)
	if ans.status != 401 || !strings.Contains(ans.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("old token after retirement: %d %v", ans.status, ans.header)
	}
	if _, err := h.a.Verify(newTok, h.base); err != nil {
		t.Errorf("new token after retiring the old key: %v", err)
	}
	for range maxPublished - 1 {
		if _, err := h.a.RotateKey(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := h.a.RotateKey(); err == nil {
		t.Errorf("more than %d published keys allowed", maxPublished)
	}
}

// TestRevocationPolicy holds checklist item 18 under both policies.
func TestRevocationPolicy(t *testing.T) {
	t.Parallel()
	type step struct {
		name string
		do   func(h *harness, secretID string) error
	}
	steps := []step{
		{"revoke secret", func(h *harness, id string) error { return h.a.Registry().RevokeSecret(clientB, id) }},
		{"expire secret", func(h *harness, id string) error {
			past := h.clock.Now().Add(-time.Second)
			return h.a.Registry().SetSecretExpiry(clientB, id, &past)
		}},
		{"expire secret by time", func(h *harness, id string) error {
			end := h.clock.Now().Add(time.Minute)
			if err := h.a.Registry().SetSecretExpiry(clientB, id, &end); err != nil {
				return err
			}
			h.clock.Advance(time.Minute)
			return nil
		}},
		{"delete secret", func(h *harness, id string) error { return h.a.Registry().DeleteSecret(clientB, id) }},
	}
	for _, revoke := range []bool{false, true} {
		for _, st := range steps {
			t.Run(st.name+map[bool]string{false: "/keep", true: "/revoke"}[revoke], func(t *testing.T) {
				t.Parallel()
				h := newHarness(t, func(o *Options) { o.RevokeTokensOnSecretInvalidation = revoke })
				sec, plain, err := h.a.Registry().AddSecret(clientB, nil)
				if err != nil {
					t.Fatal(err)
				}
				tok := h.token(clientB, plain, tenantA)
				other := h.token(clientB, secretB, tenantA)
				minted, _, err := h.a.Mint(clientB, tenantA, nil, h.base)
				if err != nil {
					t.Fatal(err)
				}
				if err := st.do(h, sec.ID); err != nil {
					t.Fatal(err)
				}
				_, err = h.a.Verify(tok, h.base)
				if revoke && err == nil {
					t.Error("token of an invalidated secret still valid under RevokeTokensOnSecretInvalidation")
				}
				if !revoke && err != nil {
					t.Errorf("token of an invalidated secret refused under the default policy: %v", err)
				}
				if revoke && err != nil && !strings.Contains(err.(*TokenError).Description, "secret") {
					t.Errorf("description %q does not name the secret", err.(*TokenError).Description)
				}
				for name, tk := range map[string]string{"other secret's token": other, "minted token": minted} {
					if _, err := h.a.Verify(tk, h.base); err != nil {
						t.Errorf("%s refused: %v", name, err)
					}
				}
			})
		}
		t.Run(map[bool]string{false: "keep", true: "revoke"}[revoke]+"/client deleted or tenant taken away", func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) { o.RevokeTokensOnSecretInvalidation = revoke })
			tokA := h.token(clientA, secretA, tenantA)
			tokB := h.token(clientB, secretB, tenantB)
			if err := h.a.Registry().DeleteClient(clientA); err != nil {
				t.Fatal(err)
			}
			assertInvalid(t, h.a, tokA, h.base, "client")
			if err := h.a.Registry().SetTenants(clientB, []string{tenantA}); err != nil {
				t.Fatal(err)
			}
			assertInvalid(t, h.a, tokB, h.base, "client")
			if err := h.a.Registry().SetTenants(clientB, []string{tenantA, tenantB}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.a.Verify(tokB, h.base); err != nil {
				t.Errorf("tenant given back: %v", err)
			}
			h.tenants.Remove(tenantB)
			assertInvalid(t, h.a, tokB, h.base, "tenant is not known")
		})
	}
}

func TestMint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	raw, cl, err := h.a.Mint(clientA, "{"+strings.ToUpper(tenantA)+"}", []string{"system/*.read", "system/*.read"}, h.base)
	if err != nil {
		t.Fatal(err)
	}
	if cl.Tenant != tenantA || cl.Scope != tenantA+" system/*.read" || cl.SecretID != "" {
		t.Errorf("claims = %+v", cl)
	}
	got, err := h.a.Verify(raw, h.base)
	if err != nil || got.ID != cl.ID {
		t.Fatalf("Verify(Mint) = %+v, %v", got, err)
	}
	for name, args := range map[string][]string{
		"bad tenant":         {clientA, "nope"},
		"unknown tenant":     {clientA, tenantUnknown},
		"tenant not allowed": {clientA, tenantB},
		"unknown client":     {"ghost", tenantA},
	} {
		if _, _, err := h.a.Mint(args[0], args[1], nil, h.base); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	for name, scopes := range map[string][]string{
		"guid as extra scope": {tenantB},
		"quote in scope":      {`a"b`},
		"empty scope":         {""},
	} {
		if _, _, err := h.a.Mint(clientA, tenantA, scopes, h.base); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
}
