package auth

import (
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

// The assertions in these tests are made by jwstest (crypto/rsa,
// crypto/ecdsa and base64 by hand), not by go-jose, which verifies them.

const clientK = "app-k" // a client with inline keys
const clientU = "app-u" // a client with a jwks_uri

var testKeys = sync.OnceValue(func() map[string]crypto.Signer {
	m := map[string]crypto.Signer{}
	for _, alg := range []string{"RS384", "ES384", "RS256", "ES256"} {
		m[alg] = jwstest.NewKey(alg)
	}
	m["other"] = jwstest.NewKey("RS384") // not registered
	return m
})

// kidOf names the registered key of each algorithm.
func kidOf(alg string) string { return "k-" + strings.ToLower(alg) }

func keysHarness(t *testing.T, mut func(*Options)) *harness {
	t.Helper()
	ks := testKeys()
	var jwks []map[string]any
	for _, alg := range AssertionAlgs {
		jwks = append(jwks, jwstest.JWK(ks[alg], kidOf(alg), alg))
	}
	return newHarness(t, func(o *Options) {
		o.Clients = append(o.Clients, ClientSpec{ID: clientK, Name: "Keys", Tenants: []string{tenantA}, JWKS: jwstest.JWKS(jwks...)})
		if mut != nil {
			mut(o)
		}
	})
}

// claims are valid claims for clientK at the harness's token URL.
func (h *harness) claims(id string) map[string]any {
	now := h.clock.Now()
	return map[string]any{
		"iss": id, "sub": id, "aud": h.base + "/token",
		"exp": now.Add(4 * time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprintf("jti-%d", jtiSeq.Add(1)),
	}
}

var jtiSeq atomic.Int64

func sign(t *testing.T, alg string, key crypto.Signer, hdr, cl map[string]any) string {
	t.Helper()
	s, err := jwstest.Sign(alg, key, hdr, cl)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func assertionForm(assertion, scope string, extra ...string) string {
	return form(append([]string{"grant_type", "client_credentials", "scope", scope,
		"client_assertion_type", AssertionType, "client_assertion", assertion}, extra...)...)
}

func TestAssertionAcceptedForEveryAlgorithm(t *testing.T) {
	h := keysHarness(t, nil)
	for _, alg := range AssertionAlgs {
		t.Run(alg, func(t *testing.T) {
			a := sign(t, alg, testKeys()[alg], map[string]any{"kid": kidOf(alg)}, h.claims(clientK))
			ans := h.post("/token", assertionForm(a, tenantA))
			if ans.status != http.StatusOK {
				t.Fatalf("status %d: %s", ans.status, ans.body)
			}
			tok, _ := ans.json["access_token"].(string)
			got := h.fhir("Bearer " + tok)
			if got.status != http.StatusOK {
				t.Fatalf("token refused: %d %s", got.status, got.body)
			}
			if got.json["ClientID"] != clientK || got.json["SecretID"] != "" {
				t.Errorf("claims %s", got.body)
			}
		})
	}
}

func TestAssertionNegative(t *testing.T) {
	h := keysHarness(t, func(o *Options) { o.Throttle.Disabled = true })
	ks := testKeys()
	if err := h.a.Registry().SetJWKSURI(clientA, ""); err != nil {
		t.Fatal(err)
	}
	// a revoked key
	if _, err := h.a.Registry().AddKeys(clientK, jwstest.JWKS(jwstest.JWK(ks["other"], "k-revoked", ""))); err != nil {
		t.Fatal(err)
	}
	if err := h.a.Registry().RevokeKey(clientK, "k-revoked"); err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now()
	mod := func(f func(c map[string]any)) map[string]any { c := h.claims(clientK); f(c); return c }
	rs := ks["RS384"]
	kid := map[string]any{"kid": kidOf("RS384")}
	cases := []struct {
		name      string
		assertion string
		extra     []string
		want      string
	}{
		{"not a JWS", "abc.def", nil, "not a compact JWS"},
		{"no kid", sign(t, "RS384", rs, nil, h.claims(clientK)), nil, "no kid"},
		{"unknown kid", sign(t, "RS384", rs, map[string]any{"kid": "nope"}, h.claims(clientK)), nil, "no registered key with kid 'nope'"},
		{"revoked key", sign(t, "RS384", ks["other"], map[string]any{"kid": "k-revoked"}, h.claims(clientK)), nil, "revoked"},
		{"alg not accepted", sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384"), "alg": "HS256"}, h.claims(clientK)), nil, "alg 'HS256' is not accepted"},
		{"alg none", sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384"), "alg": "none"}, h.claims(clientK)), nil, "is not accepted"},
		{"alg does not suit key", sign(t, "RS256", rs, kid, h.claims(clientK)), nil, "does not suit key"},
		{"wrong signing key", sign(t, "RS384", ks["other"], kid, h.claims(clientK)), nil, "signature does not verify"},
		{"embedded jwk", sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384"), "jwk": jwstest.JWK(rs, "x", "")}, h.claims(clientK)), nil, "header jwk is not accepted"},
		{"jku not registered", sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384"), "jku": "https://evil.example/jwks"}, h.claims(clientK)), nil, "jku"},
		{"iss missing", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { delete(c, "iss") })), nil, "needs iss and sub"},
		{"sub missing", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { delete(c, "sub") })), []string{"client_id", clientK}, "needs iss and sub"},
		{"iss differs from sub", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["sub"] = clientA })), nil, "iss and sub differ"},
		{"client_id differs", sign(t, "RS384", rs, kid, h.claims(clientK)), []string{"client_id", clientA}, "client_id differs"},
		{"unknown client", sign(t, "RS384", rs, kid, h.claims("nobody")), nil, "unknown client"},
		{"client without keys", sign(t, "RS384", rs, kid, h.claims(clientA)), nil, "no registered public keys"},
		{"aud missing", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { delete(c, "aud") })), nil, "aud must be the token URL " + h.base + "/token"},
		{"aud the base URL", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["aud"] = h.base })), nil, "aud must be the token URL"},
		{"aud not a string", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["aud"] = 7 })), nil, "aud is not a string"},
		{"exp missing", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { delete(c, "exp") })), nil, "no exp"},
		{"exp past", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() })), nil, "expired"},
		{"exp too far", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["exp"] = now.Add(7 * time.Minute).Unix() })), nil, "more than 5 minutes ahead"},
		{"exp not a number", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["exp"] = "soon" })), nil, "exp is not a NumericDate"},
		{"nbf future", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["nbf"] = now.Add(3 * time.Minute).Unix() })), nil, "nbf"},
		{"iat future", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["iat"] = now.Add(3 * time.Minute).Unix() })), nil, "iat"},
		{"jti missing", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { delete(c, "jti") })), nil, "no jti"},
		{"jti too long", sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["jti"] = strings.Repeat("j", 300) })), nil, "jti longer"},
		{"tampered payload", func() string {
			a := sign(t, "RS384", rs, kid, h.claims(clientK))
			p := strings.Split(a, ".")
			b := sign(t, "RS384", rs, kid, mod(func(c map[string]any) { c["exp"] = now.Add(time.Minute).Unix() }))
			return p[0] + "." + strings.Split(b, ".")[1] + "." + p[2]
		}(), nil, "signature does not verify"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ans := h.post("/token", assertionForm(tc.assertion, tenantA, tc.extra...))
			assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
			if d, _ := ans.json["error_description"].(string); !strings.Contains(d, tc.want) {
				t.Errorf("error_description %q, want it to contain %q", d, tc.want)
			}
			if strings.ContainsAny(string(ans.json["error_description"].(string)), "\"\\") {
				t.Errorf("description holds characters RFC 6749 forbids: %s", ans.body)
			}
		})
	}
}

func TestAssertionRequestShape(t *testing.T) {
	h := keysHarness(t, nil)
	a := sign(t, "ES384", testKeys()["ES384"], map[string]any{"kid": kidOf("ES384")}, h.claims(clientK))
	t.Run("wrong assertion type", func(t *testing.T) {
		ans := h.post("/token", form("grant_type", "client_credentials", "scope", tenantA, "client_assertion_type", "urn:example", "client_assertion", a))
		assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("type without assertion", func(t *testing.T) {
		ans := h.post("/token", form("grant_type", "client_credentials", "scope", tenantA, "client_assertion_type", AssertionType))
		assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("assertion and secret", func(t *testing.T) {
		ans := h.post("/token", assertionForm(a, tenantA, "client_id", clientK, "client_secret", secretA))
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_request")
	})
	t.Run("assertion and Basic", func(t *testing.T) {
		ans := h.post("/token", assertionForm(a, tenantA), basic(clientA, secretA))
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_request")
	})
	t.Run("assertion twice", func(t *testing.T) {
		ans := h.post("/token", assertionForm(a, tenantA)+"&client_assertion="+a)
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_request")
	})
	t.Run("assertion in the query string", func(t *testing.T) {
		ans := h.post("/token?client_assertion="+a, form("grant_type", "client_credentials", "scope", tenantA, "client_assertion_type", AssertionType))
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_request")
	})
	t.Run("unknown tenant", func(t *testing.T) {
		ans := h.post("/token", assertionForm(a, tenantB))
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_scope")
	})
}

func TestAssertionReplay(t *testing.T) {
	h := keysHarness(t, nil)
	rs := testKeys()["RS256"]
	cl := h.claims(clientK)
	a := sign(t, "RS256", rs, map[string]any{"kid": kidOf("RS256")}, cl)
	if ans := h.post("/token", assertionForm(a, tenantA)); ans.status != http.StatusOK {
		t.Fatalf("first use: %d %s", ans.status, ans.body)
	}
	ans := h.post("/token", assertionForm(a, tenantA))
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	if d := ans.json["error_description"].(string); !strings.Contains(d, "jti already used") {
		t.Errorf("description %q", d)
	}
	// the same jti in a fresh assertion is refused while the first could
	// still be valid...
	h.clock.Advance(4 * time.Minute)
	cl2 := h.claims(clientK)
	cl2["jti"] = cl["jti"]
	ans = h.post("/token", assertionForm(sign(t, "RS256", rs, map[string]any{"kid": kidOf("RS256")}, cl2), tenantA))
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	// ...and forgotten, with its entry, once it could not be.
	h.clock.Advance(Leeway + time.Second)
	cl3 := h.claims(clientK)
	cl3["jti"] = cl["jti"]
	if ans := h.post("/token", assertionForm(sign(t, "RS256", rs, map[string]any{"kid": kidOf("RS256")}, cl3), tenantA)); ans.status != http.StatusOK {
		t.Fatalf("reuse after expiry: %d %s", ans.status, ans.body)
	}
	// jtis are per client: another client may use the same value
	if n, _ := h.a.replay.size(clientK); n < 1 {
		t.Errorf("replay cache of %s has %d entries", clientK, n)
	}
}

func TestReplayCacheBounded(t *testing.T) {
	var c replayCache
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range MaxAssertionsPerClient {
		if ok, _ := c.use("c", fmt.Sprint(i), now.Add(time.Minute), now); !ok {
			t.Fatalf("use %d refused", i)
		}
	}
	if ok, full := c.use("c", "one-more", now.Add(time.Minute), now); ok || !full {
		t.Fatalf("over the bound: ok=%v full=%v", ok, full)
	}
	if ok, _ := c.use("other", "0", now.Add(time.Minute), now); !ok {
		t.Fatal("another client's jti refused: the cache must be per client")
	}
	later := now.Add(time.Minute)
	if ok, full := c.use("c", "one-more", later.Add(time.Minute), later); !ok || full {
		t.Fatalf("after expiry: ok=%v full=%v", ok, full)
	}
	if n, _ := c.size("c"); n != 1 {
		t.Errorf("expired entries kept: %d", n)
	}
	// a sweep drops every client's expired entries, and clients left with
	// none (a client that stopped asking, or was deleted)
	much := later.Add(time.Hour)
	c.use("fresh", "x", much.Add(time.Minute), much)
	if n, clients := c.size("c"); n != 0 || clients != 1 {
		t.Errorf("after a sweep: %d jtis of c, %d clients, want 0 and 1", n, clients)
	}
}

func TestAssertionFailuresShareTheThrottle(t *testing.T) {
	h := keysHarness(t, func(o *Options) { o.Throttle = ThrottleOptions{MaxFailures: 4, Window: time.Minute} })
	rs := testKeys()["RS384"]
	bad := func() answer {
		cl := h.claims(clientK)
		cl["aud"] = "https://elsewhere.example/token"
		return h.post("/token", assertionForm(sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384")}, cl), tenantA), header("X-Test-Addr", fmt.Sprint("10.0.0.", jtiSeq.Add(1))))
	}
	// two wrong secrets and two bad assertions of the same client id
	for range 2 {
		h.post("/token", form("grant_type", "client_credentials", "client_id", clientK, "client_secret", "wrong-secret-000000", "scope", tenantA), header("X-Test-Addr", fmt.Sprint("10.1.0.", jtiSeq.Add(1))))
		bad()
	}
	good := sign(t, "RS384", rs, map[string]any{"kid": kidOf("RS384")}, h.claims(clientK))
	ans := h.post("/token", assertionForm(good, tenantA), header("X-Test-Addr", "10.2.0.1"))
	assertOAuthError(t, ans, http.StatusTooManyRequests, "temporarily_unavailable")
	if ans.header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	h.clock.Advance(time.Minute)
	if ans := h.post("/token", assertionForm(good, tenantA), header("X-Test-Addr", "10.2.0.1")); ans.status != http.StatusOK {
		t.Fatalf("after the window: %d %s", ans.status, ans.body)
	}
}

// jwksServer serves a key set that a test can change, counting fetches.
type jwksServer struct {
	mu      sync.Mutex
	body    []byte
	delay   time.Duration
	fetches atomic.Int64
	srv     *httptest.Server
}

func newJWKSServer(t *testing.T, body []byte) *jwksServer {
	s := &jwksServer{body: body}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		b, d := s.body, s.delay
		s.mu.Unlock()
		if d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *jwksServer) set(body []byte, delay time.Duration) {
	s.mu.Lock()
	s.body, s.delay = body, delay
	s.mu.Unlock()
}

func TestAssertionWithJWKSURI(t *testing.T) {
	ks := testKeys()
	js := newJWKSServer(t, jwstest.JWKS(jwstest.JWK(ks["ES256"], "old", "ES256")))
	h := newHarness(t, func(o *Options) {
		o.Throttle.Disabled = true
		o.JWKSFetch = JWKSFetchOptions{Timeout: 300 * time.Millisecond, CacheTTL: time.Hour, MinRefetch: 10 * time.Second}
		o.Clients = append(o.Clients, ClientSpec{ID: clientU, Name: "URI", Tenants: []string{tenantA}, JWKSURI: js.srv.URL + "/jwks"})
	})
	get := func(alg string, key crypto.Signer, kid string) answer {
		return h.post("/token", assertionForm(sign(t, alg, key, map[string]any{"kid": kid}, h.claims(clientU)), tenantA))
	}
	if ans := get("ES256", ks["ES256"], "old"); ans.status != http.StatusOK {
		t.Fatalf("first: %d %s", ans.status, ans.body)
	}
	if ans := get("ES256", ks["ES256"], "old"); ans.status != http.StatusOK {
		t.Fatalf("second: %d %s", ans.status, ans.body)
	}
	if n := js.fetches.Load(); n != 1 {
		t.Errorf("fetched %d times, want 1 (cached)", n)
	}
	// the partner rotates: the new kid is unknown to the cache, so the
	// set is fetched again, at most once per MinRefetch
	js.set(jwstest.JWKS(jwstest.JWK(ks["ES384"], "new", "ES384")), 0)
	h.clock.Advance(11 * time.Second)
	if ans := get("ES384", ks["ES384"], "new"); ans.status != http.StatusOK {
		t.Fatalf("after rotation: %d %s", ans.status, ans.body)
	}
	if n := js.fetches.Load(); n != 2 {
		t.Errorf("fetched %d times, want 2", n)
	}
	ans := get("ES256", ks["ES256"], "old")
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	if n := js.fetches.Load(); n != 2 {
		t.Errorf("an unknown kid within MinRefetch fetched again: %d fetches", n)
	}
	h.clock.Advance(11 * time.Second)
	get("ES256", ks["ES256"], "unknown")
	if n := js.fetches.Load(); n != 3 {
		t.Errorf("an unknown kid after MinRefetch: %d fetches, want 3", n)
	}

	t.Run("too large", func(t *testing.T) {
		js.set([]byte(`{"keys":[],"pad":"`+strings.Repeat("x", MaxJWKSBytes)+`"}`), 0)
		h.clock.Advance(2 * time.Hour)
		ans := get("ES384", ks["ES384"], "brand-new")
		if d, _ := ans.json["error_description"].(string); ans.status != http.StatusUnauthorized || !strings.Contains(d, "could not be fetched") {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		js.set(jwstest.JWKS(jwstest.JWK(ks["ES384"], "slow", "ES384")), 5*time.Second)
		h.clock.Advance(2 * time.Hour)
		start := time.Now()
		ans := get("ES384", ks["ES384"], "slow")
		if d, _ := ans.json["error_description"].(string); ans.status != http.StatusUnauthorized || !strings.Contains(d, "could not be fetched") {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("took %s: the timeout did not bound the fetch", el)
		}
	})
}

func TestScopesGranted(t *testing.T) {
	h := keysHarness(t, func(o *Options) {
		o.Clients[len(o.Clients)-1].Scopes = []string{"system/Patient.read", "system/Observation.rs?category=vital-signs"}
	})
	a := func() string {
		return sign(t, "RS384", testKeys()["RS384"], map[string]any{"kid": kidOf("RS384")}, h.claims(clientK))
	}
	cases := []struct{ ask, want string }{
		{tenantA, tenantA + " system/Patient.read system/Observation.rs?category=vital-signs"},
		{tenantA + " system/Patient.read", tenantA + " system/Patient.read"},
		{"system/*.read " + tenantA, tenantA + " system/Patient.read system/Observation.rs?category=vital-signs"},
		{tenantA + " system/Observation.rs", tenantA + " system/Observation.rs?category=vital-signs"},
		{tenantA + " system/Patient.r", tenantA + " system/Patient.r"},
		{tenantA + " openid system/Patient.rs", tenantA + " openid system/Patient.rs"},
	}
	for _, tc := range cases {
		ans := h.post("/token", assertionForm(a(), tc.ask))
		if ans.status != http.StatusOK || ans.json["scope"] != tc.want {
			t.Errorf("scope %q: %d %v, want %q", tc.ask, ans.status, ans.json["scope"], tc.want)
			continue
		}
		// the token's scope claim says the same
		got := h.fhir("Bearer " + ans.json["access_token"].(string))
		if got.json["Scope"] != tc.want {
			t.Errorf("token scope claim %v, want %q", got.json["Scope"], tc.want)
		}
	}
	for _, bad := range []string{tenantA + " system/Condition.read", tenantA + " system/Patient.write", tenantA + " system/Patient.xyz", tenantA + " system/Observation.rs?category="} {
		ans := h.post("/token", assertionForm(a(), bad))
		assertOAuthError(t, ans, http.StatusBadRequest, "invalid_scope")
	}
	// a client without registered scopes gets what it asks, as before
	tok := h.token(clientA, secretA, tenantA+" system/Condition.read custom")
	got := h.fhir("Bearer " + tok)
	if want := tenantA + " system/Condition.read custom"; got.json["Scope"] != want {
		t.Errorf("unregistered client's scope %v, want %q", got.json["Scope"], want)
	}
}

func TestParsePublicKeys(t *testing.T) {
	ks := testKeys()
	good := map[string][]byte{
		"jwks":    jwstest.JWKS(jwstest.JWK(ks["RS384"], "a", "RS384"), jwstest.JWK(ks["ES256"], "b", "")),
		"one jwk": toJSON(jwstest.JWK(ks["ES384"], "c", "ES384")),
		"pem":     jwstest.PublicPEM(ks["RS256"]),
	}
	for name, b := range good {
		keys, err := ParsePublicKeys(b)
		if err != nil || len(keys) == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if keys, _ := ParsePublicKeys(jwstest.PublicPEM(ks["ES256"])); len(keys) == 1 {
		if want, _ := Thumbprint(ks["ES256"].Public()); keys[0].KID != want {
			t.Errorf("PEM key kid %q, want the thumbprint %q", keys[0].KID, want)
		}
	}
	priv := jwstest.JWK(ks["ES256"], "p", "")
	priv["d"] = "AAAA"
	bad := map[string][]byte{
		"private pem":     jwstest.PrivatePEM(ks["RS256"]),
		"private jwk":     jwstest.JWKS(priv),
		"symmetric":       []byte(`{"keys":[{"kty":"oct","k":"AAAA","kid":"s"}]}`),
		"alg mismatch":    jwstest.JWKS(jwstest.JWK(ks["ES256"], "m", "RS256")),
		"duplicate kid":   jwstest.JWKS(jwstest.JWK(ks["ES256"], "d", ""), jwstest.JWK(ks["ES384"], "d", "")),
		"garbage":         []byte("hello"),
		"empty":           nil,
		"keys not array":  []byte(`{"keys":{}}`),
		"too large":       []byte(`{"keys":[],"x":"` + strings.Repeat("x", MaxJWKSBytes) + `"}`),
		"enc use":         []byte(strings.Replace(string(toJSON(jwstest.JWK(ks["ES256"], "u", ""))), `{`, `{"use":"enc",`, 1)),
		"weak rsa":        []byte(`{"kty":"RSA","kid":"w","n":"` + strings.Repeat("A", 100) + `","e":"AQAB"}`),
		"too many keys":   jwstest.JWKS(manyJWKs(ks["ES256"], MaxKeysPerClient+1)...),
		"no key in pem":   []byte("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"),
		"empty jwks keys": []byte(`{"keys":[]}`),
	}
	for name, b := range bad {
		if _, err := ParsePublicKeys(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func manyJWKs(k crypto.Signer, n int) []map[string]any {
	out := make([]map[string]any, n)
	for i := range out {
		out[i] = jwstest.JWK(k, fmt.Sprint("k", i), "")
	}
	return out
}

func toJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func TestKeysSnapshotRestore(t *testing.T) {
	h := keysHarness(t, nil)
	reg := h.a.Registry()
	if _, err := reg.AddKeys(clientA, jwstest.PublicPEM(testKeys()["ES256"])); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetJWKSURI(clientA, "https://partner.example/jwks.json"); err != nil {
		t.Fatal(err)
	}
	if err := reg.SetScopes(clientA, []string{"system/Patient.rs"}); err != nil {
		t.Fatal(err)
	}
	if err := reg.RevokeKey(clientK, kidOf("RS256")); err != nil {
		t.Fatal(err)
	}
	st := reg.Snapshot()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	other := NewRegistry(h.clock.Now, strings.NewReader(strings.Repeat("r", 1000)))
	if err := other.Restore(back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(other.Snapshot())
	if string(b) != string(b2) {
		t.Errorf("restore changed the state:\n%s\n%s", b, b2)
	}
	ca, _ := other.Client(clientA)
	if len(ca.Keys) != 1 || ca.JWKSURI != "https://partner.example/jwks.json" || len(ca.Scopes) != 1 {
		t.Errorf("client a after restore: %+v", ca)
	}
	ck, _ := other.Client(clientK)
	for _, k := range ck.Keys {
		if k.KID == kidOf("RS256") && !k.Revoked {
			t.Error("revocation lost")
		}
	}
	// private key material never reaches the state
	if strings.Contains(string(b), `"d"`) {
		t.Error("state holds a private key field")
	}
	// errors
	for _, bad := range []string{"ftp://x/jwks", "https://u:p@x/jwks", "https://x/jwks#f", "/relative"} {
		if err := reg.SetJWKSURI(clientA, bad); err == nil {
			t.Errorf("jwks_uri %q accepted", bad)
		}
	}
	if err := reg.SetScopes(clientA, []string{"system/Patient.rw"}); err == nil {
		t.Error("bad scope accepted")
	}
	if err := reg.DeleteKey(clientK, "nope"); err == nil {
		t.Error("deleting an unknown key succeeded")
	}
	if _, err := reg.AddKeys(clientK, jwstest.JWKS(jwstest.JWK(testKeys()["ES256"], kidOf("ES256"), ""))); err == nil {
		t.Error("duplicate kid accepted")
	}
}

// BenchmarkTokenEndpointAssertion is a whole private_key_jwt token
// request through the handler: parsing, key lookup, signature check,
// claims, replay cache, signing the access token. The assertions (fresh
// jtis) are made before the timer starts; run with -benchtime=Nx, N at
// most MaxAssertionsPerClient. Compare with BenchmarkTokenEndpoint/RS256.
func BenchmarkTokenEndpointAssertion(b *testing.B) {
	for _, alg := range AssertionAlgs {
		b.Run(alg, func(b *testing.B) {
			ks := testKeys()
			h := newHarness(b, func(o *Options) {
				o.Clients = append(o.Clients, ClientSpec{ID: clientK, Name: "Keys", Tenants: []string{tenantA}, JWKS: jwstest.JWKS(jwstest.JWK(ks[alg], kidOf(alg), alg))})
			})
			handler := h.a.Token()
			bodies := make([]string, b.N)
			for i := range bodies {
				cl := map[string]any{"iss": clientK, "sub": clientK, "aud": "http://sandbox.example/token",
					"exp": h.clock.Now().Add(4 * time.Minute).Unix(), "jti": fmt.Sprint("bench-", i)}
				a, err := jwstest.Sign(alg, ks[alg], map[string]any{"kid": kidOf(alg)}, cl)
				if err != nil {
					b.Fatal(err)
				}
				bodies[i] = assertionForm(a, tenantA)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodPost, "http://sandbox.example/token", strings.NewReader(bodies[i]))
				req.Header.Set("Content-Type", formMediaType)
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
