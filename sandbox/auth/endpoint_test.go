package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var okForm = form("grant_type", "client_credentials", "client_id", clientA, "client_secret", secretA, "scope", tenantA)

func TestTokenMethodNotAllowed(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(m, h.srv.URL+"/token", strings.NewReader(okForm))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			ans := h.do(req)
			assertOAuthError(t, ans, http.StatusMethodNotAllowed, "invalid_request")
			if got := ans.header.Get("Allow"); got != "POST" {
				t.Errorf("Allow = %q, want POST", got)
			}
		})
	}
}

func TestTokenRequestErrors(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	creds := []string{"client_id", clientA, "client_secret", secretA, "scope", tenantA}
	with := func(kv ...string) string { return form(append(kv, creds...)...) }
	rawBasic := func(s string) func(*http.Request) {
		return header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s)))
	}
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		mods   []func(*http.Request)
		status int
		code   string
		desc   string // substring of error_description
	}{
		{name: "grant_type missing", body: with(), status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "grant_type empty", body: with("grant_type", ""), status: 400, code: "invalid_request", desc: "grant_type"},
		{name: "password grant", body: with("grant_type", "password"), status: 400, code: "unsupported_grant_type"},
		{name: "authorization_code grant", body: with("grant_type", "authorization_code"), status: 400, code: "unsupported_grant_type"},
		{name: "grant-type hyphen", body: with("grant-type", "client_credentials"), status: 400, code: "invalid_request", desc: "the parameter is grant_type"},
		{name: "client-secret hyphen", body: form("grant_type", "client_credentials", "client_id", clientA, "client-secret", secretA, "scope", tenantA), status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "json body", body: `{"grant_type":"client_credentials"}`, mods: []func(*http.Request){header("Content-Type", "application/json")}, status: 400, code: "invalid_request", desc: "x-www-form-urlencoded"},
		{name: "text/plain", body: with("grant_type", "client_credentials"), mods: []func(*http.Request){header("Content-Type", "text/plain")}, status: 400, code: "invalid_request"},
		{name: "no content type", body: with("grant_type", "client_credentials"), mods: []func(*http.Request){header("Content-Type", "")}, status: 400, code: "invalid_request"},
		{name: "latin1 charset", body: with("grant_type", "client_credentials"), mods: []func(*http.Request){header("Content-Type", "application/x-www-form-urlencoded; charset=iso-8859-1")}, status: 400, code: "invalid_request"},
		{name: "duplicate grant_type", body: with("grant_type", "client_credentials", "grant_type", "client_credentials"), status: 400, code: "invalid_request", desc: "grant_type given more than once"},
		{name: "duplicate scope", body: with("grant_type", "client_credentials", "scope", tenantB), status: 400, code: "invalid_request", desc: "scope"},
		{name: "duplicate client_id", body: with("grant_type", "client_credentials", "client_id", clientB), status: 400, code: "invalid_request", desc: "client_id"},
		{name: "duplicate client_secret", body: with("grant_type", "client_credentials", "client_secret", "x"), status: 400, code: "invalid_request", desc: "client_secret"},
		{name: "malformed body", body: "grant_type=client_credentials&scope=%zz", status: 400, code: "invalid_request"},
		{name: "secret in query", path: "/token?client_secret=" + secretA, body: form("grant_type", "client_credentials", "client_id", clientA, "scope", tenantA), status: 400, code: "invalid_request", desc: "query string"},
		{name: "client_id in query", path: "/token?client_id=" + clientA, body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){basic(clientA, secretA)}, status: 400, code: "invalid_request", desc: "query string"},
		{name: "basic and body secret", body: with("grant_type", "client_credentials"), mods: []func(*http.Request){basic(clientA, secretA)}, status: 400, code: "invalid_request", desc: "both"},
		{name: "basic and other body client_id", body: form("grant_type", "client_credentials", "client_id", clientB, "scope", tenantA), mods: []func(*http.Request){basic(clientA, secretA)}, status: 400, code: "invalid_request"},
		{name: "basic not base64", body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){header("Authorization", "Basic !!!")}, status: 400, code: "invalid_request"},
		{name: "basic without colon", body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){rawBasic(clientA)}, status: 400, code: "invalid_request"},
		{name: "basic bad escape in secret", body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){rawBasic(clientA + ":abc%zz")}, status: 400, code: "invalid_request", desc: "form-urlencoded"},
		{name: "basic bad escape in id", body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){rawBasic("app%2:" + secretA)}, status: 400, code: "invalid_request"},
		{name: "unsupported auth scheme", body: form("grant_type", "client_credentials", "scope", tenantA), mods: []func(*http.Request){header("Authorization", "Digest x")}, status: 401, code: "invalid_client"},
		{name: "introspect without token", path: "/token/introspect", body: form("client_id", clientA, "client_secret", secretA), status: 400, code: "invalid_request", desc: "token"},
		{name: "revoke without token", path: "/token/revoke", body: form("client_id", clientA, "client_secret", secretA), status: 400, code: "invalid_request", desc: "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := tc.path
			if path == "" {
				path = "/token"
			}
			ans := h.post(path, tc.body, tc.mods...)
			assertOAuthError(t, ans, tc.status, tc.code)
			if d, _ := ans.json["error_description"].(string); !strings.Contains(d, tc.desc) {
				t.Errorf("error_description = %q, want it to mention %q", d, tc.desc)
			}
			if _, ok := ans.json["access_token"]; ok {
				t.Error("error answer carries an access_token")
			}
		})
	}
}

func TestTokenClientAuthFailures(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	scope := form("grant_type", "client_credentials", "scope", tenantA)
	wrongBasic := h.post("/token", scope, basic(clientA, "wrong-secret"))
	assertOAuthError(t, wrongBasic, http.StatusUnauthorized, "invalid_client")
	if got := wrongBasic.header.Get("WWW-Authenticate"); got != `Basic realm="fhirsandbox"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
	wrongBody := h.post("/token", form("grant_type", "client_credentials", "client_id", clientA, "client_secret", "wrong-secret", "scope", tenantA))
	assertOAuthError(t, wrongBody, http.StatusUnauthorized, "invalid_client")
	if got := wrongBody.header.Get("WWW-Authenticate"); got != "" {
		t.Errorf("body credentials got WWW-Authenticate %q", got)
	}
	unknown := h.post("/token", form("grant_type", "client_credentials", "client_id", "no-such-app", "client_secret", "wrong-secret", "scope", tenantA))
	assertOAuthError(t, unknown, http.StatusUnauthorized, "invalid_client")
	if !bytes.Equal(unknown.body, wrongBody.body) {
		t.Errorf("unknown client body %s differs from wrong secret body %s", unknown.body, wrongBody.body)
	}
	none := h.post("/token", scope)
	assertOAuthError(t, none, http.StatusUnauthorized, "invalid_client")
	noSecret := h.post("/token", form("grant_type", "client_credentials", "client_id", clientA, "scope", tenantA))
	assertOAuthError(t, noSecret, http.StatusUnauthorized, "invalid_client")
	long := h.post("/token", form("grant_type", "client_credentials", "client_id", clientA, "client_secret", strings.Repeat("x", 5000), "scope", tenantA))
	assertOAuthError(t, long, http.StatusUnauthorized, "invalid_client")
}

func TestBasicSpecialCharacters(t *testing.T) {
	t.Parallel()
	const secret = `p:a+s s%25w&o=r"d\:+%`
	const id = "odd.client_~-1"
	h := newHarness(t, func(o *Options) {
		o.Clients = append(o.Clients, ClientSpec{ID: id, Tenants: []string{tenantA}, Secrets: []SecretSpec{{Value: secret}}})
	})
	body := form("grant_type", "client_credentials", "scope", tenantA)
	if ans := h.post("/token", body, basic(id, secret)); ans.status != http.StatusOK {
		t.Fatalf("form-urlencoded Basic: %d %s", ans.status, ans.body)
	}
	// Sent raw, "+" decodes to a space and "%25" to "%": another secret.
	raw := header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":p:a+s s%25w&o=r\"d\\:+")))
	assertOAuthError(t, h.post("/token", body, raw), http.StatusUnauthorized, "invalid_client")
	// The same secret in the body, form-encoded by url.Values.
	if ans := h.post("/token", form("grant_type", "client_credentials", "client_id", id, "client_secret", secret, "scope", tenantA)); ans.status != http.StatusOK {
		t.Fatalf("body credentials: %d %s", ans.status, ans.body)
	}
	// Lower-case scheme, and a body client_id equal to the Basic one.
	lower := func(r *http.Request) {
		r.Header.Set("Authorization", "basic "+strings.TrimPrefix(r.Header.Get("Authorization"), "Basic "))
	}
	if ans := h.post("/token", form("grant_type", "client_credentials", "client_id", id, "scope", tenantA), basic(id, secret), lower); ans.status != http.StatusOK {
		t.Fatalf("lower-case basic with matching body client_id: %d %s", ans.status, ans.body)
	}
}

func TestTokenBodyTooLarge(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	big := okForm + "&pad=" + strings.Repeat("a", MaxBodySize)
	assertOAuthError(t, h.post("/token", big), http.StatusRequestEntityTooLarge, "invalid_request")
	// Without a Content-Length the cap is enforced while reading.
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/token", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	assertOAuthError(t, h.do(req), http.StatusRequestEntityTooLarge, "invalid_request")
	// Just under the cap is fine.
	fits := okForm + "&pad=" + strings.Repeat("a", MaxBodySize-len(okForm)-len("&pad="))
	if ans := h.post("/token", fits); ans.status != http.StatusOK {
		t.Fatalf("body of exactly %d bytes: %d %s", len(fits), ans.status, ans.body)
	}
}

func TestTokenScope(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	upperBraced := "{" + strings.ToUpper(tenantA) + "}"
	for _, tc := range []struct {
		name, client, secret, scope string
		status                      int
		code, wantScope             string
	}{
		{"unknown tenant", clientB, secretB, tenantUnknown, 400, "invalid_scope", ""},
		{"tenant not allowed", clientA, secretA, tenantB, 400, "invalid_scope", ""},
		{"two tenants", clientB, secretB, tenantA + " " + tenantB, 400, "invalid_scope", ""},
		{"malformed guid", clientA, secretA, "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0", 400, "invalid_scope", ""},
		{"guid without dashes", clientA, secretA, "2f4a9c3e8b1d4e6fa5c71d3b5e7f9a0c", 400, "invalid_scope", ""},
		{"no tenant", clientA, secretA, "system/*.read", 400, "invalid_scope", ""},
		{"empty scope", clientA, secretA, "", 400, "invalid_scope", ""},
		{"tab inside", clientA, secretA, tenantA + "\tsystem/*.read", 400, "invalid_scope", ""},
		{"upper case with braces", clientA, secretA, upperBraced, 200, "", tenantA},
		{"same tenant twice", clientA, secretA, tenantA + " " + upperBraced, 200, "", tenantA},
		{"extra scopes kept in order", clientA, secretA, "system/*.read " + tenantA + "  openid system/*.read", 200, "", tenantA + " system/*.read openid"},
		{"wildcard client", clientB, secretB, tenantB, 200, "", tenantB},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ans := h.post("/token", form("grant_type", "client_credentials", "client_id", tc.client, "client_secret", tc.secret, "scope", tc.scope))
			if tc.status != 200 {
				assertOAuthError(t, ans, tc.status, tc.code)
				return
			}
			if ans.status != 200 {
				t.Fatalf("status %d: %s", ans.status, ans.body)
			}
			if got := ans.json["scope"]; got != tc.wantScope {
				t.Errorf("scope = %v, want %q", got, tc.wantScope)
			}
			cl, err := h.a.Verify(ans.json["access_token"].(string), h.base)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.Fields(tc.wantScope)[0]; cl.Tenant != want || cl.Scope != tc.wantScope {
				t.Errorf("token tid %q scope %q, want %q, %q", cl.Tenant, cl.Scope, want, tc.wantScope)
			}
		})
	}
	// A missing scope parameter is the same as an empty one.
	assertOAuthError(t, h.post("/token", form("grant_type", "client_credentials", "client_id", clientA, "client_secret", secretA)), 400, "invalid_scope")
}

func TestTokenSuccess(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{RS256, ES256} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, func(o *Options) {
				o.Alg = alg
				o.TTL = 10 * time.Minute
				if alg == ES256 {
					o.KeyPEM = ecPEM()
				}
			})
			ans := h.post("/token", form("grant_type", "client_credentials", "scope", tenantA), basic(clientA, secretA))
			if ans.status != http.StatusOK {
				t.Fatalf("%d %s", ans.status, ans.body)
			}
			assertNoStore(t, ans)
			if ct := ans.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			var got map[string]any
			dec := json.NewDecoder(bytes.NewReader(ans.body))
			dec.UseNumber()
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if len(got) != 4 || got["token_type"] != "Bearer" || got["expires_in"] != json.Number("600") || got["scope"] != tenantA {
				t.Errorf("answer = %v, want exactly access_token, token_type Bearer, expires_in 600, scope", got)
			}
			raw := got["access_token"].(string)
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
			var jh map[string]any
			_ = json.Unmarshal(hdr, &jh)
			_, active := h.a.Keys()
			if jh["alg"] != alg || jh["kid"] != active || jh["typ"] != "JWT" {
				t.Errorf("JWT header = %v, want alg %s kid %s", jh, alg, active)
			}
			cl, err := h.a.Verify(raw, h.base)
			if err != nil {
				t.Fatal(err)
			}
			now := h.clock.Now()
			if cl.Issuer != h.base || len(cl.Audience) != 1 || cl.Audience[0] != h.base || cl.Subject != clientA ||
				cl.ClientID != clientA || cl.Tenant != tenantA || cl.SecretID != "sec_a" || cl.ID == "" ||
				!cl.IssuedAt.Equal(now) || !cl.NotBefore.Equal(now) || !cl.Expiry.Equal(now.Add(10*time.Minute)) {
				t.Errorf("claims = %+v", cl)
			}
			// The token is good on the bearer route and the claims arrive.
			fa := h.fhir("Bearer " + raw)
			if fa.status != 200 || fa.json["ClientID"] != clientA || fa.json["Tenant"] != tenantA {
				t.Errorf("bearer route: %d %s", fa.status, fa.body)
			}
			// Two tokens differ in jti.
			if other := h.token(clientA, secretA, tenantA); other == raw {
				t.Error("two tokens are identical")
			}
		})
	}
}

func TestSetTTL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	if err := h.a.SetTTL(0); err == nil {
		t.Error("SetTTL(0) accepted")
	}
	if err := h.a.SetTTL(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	ans := h.post("/token", okForm)
	if ans.json["expires_in"] != float64(5) {
		t.Fatalf("expires_in = %v, want 5", ans.json["expires_in"])
	}
	raw := ans.json["access_token"].(string)
	h.clock.Advance(5*time.Second + Leeway - time.Nanosecond)
	if _, err := h.a.Verify(raw, h.base); err != nil {
		t.Fatalf("token inside the leeway: %v", err)
	}
	h.clock.Advance(time.Nanosecond)
	if _, err := h.a.Verify(raw, h.base); err == nil {
		t.Fatal("token past exp + leeway accepted")
	}
}

// TestSecretRotation walks one client through a rotation with injected
// time: the new secret works at once, the old one until the instant it
// expires, a revoked one never.
func TestSecretRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	reg := h.a.Registry()
	t0 := h.clock.Now()
	get := func(secret string) answer {
		return h.post("/token", form("grant_type", "client_credentials", "scope", tenantA), basic(clientA, secret))
	}
	newSec, newPlain, err := reg.AddSecret(clientA, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ans := get(newPlain); ans.status != 200 {
		t.Fatalf("new secret at once: %d %s", ans.status, ans.body)
	}
	if ans := get(secretA); ans.status != 200 {
		t.Fatalf("old secret still live: %d %s", ans.status, ans.body)
	}
	end := t0.Add(30 * time.Minute)
	if err := reg.SetSecretExpiry(clientA, "sec_a", &end); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(30*time.Minute - time.Nanosecond)
	if ans := get(secretA); ans.status != 200 {
		t.Fatalf("old secret 1ns before expiry: %d %s", ans.status, ans.body)
	}
	h.clock.Advance(time.Nanosecond)
	ans := get(secretA)
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	if d := ans.json["error_description"]; d != "client secret expired" {
		t.Errorf("description = %v", d)
	}
	if ans := get(newPlain); ans.status != 200 {
		t.Fatalf("new secret after old expired: %d %s", ans.status, ans.body)
	}
	// Clearing the expiry revives the old secret: the expiry is data.
	if err := reg.SetSecretExpiry(clientA, "sec_a", nil); err != nil {
		t.Fatal(err)
	}
	if ans := get(secretA); ans.status != 200 {
		t.Fatalf("old secret after expiry cleared: %d", ans.status)
	}
	if err := reg.RevokeSecret(clientA, newSec.ID); err != nil {
		t.Fatal(err)
	}
	ans = get(newPlain)
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	if d := ans.json["error_description"]; d != "client secret revoked" {
		t.Errorf("description = %v", d)
	}
	if err := reg.DeleteSecret(clientA, newSec.ID); err != nil {
		t.Fatal(err)
	}
	ans = get(newPlain)
	assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
	if d := ans.json["error_description"]; d != "client authentication failed" {
		t.Errorf("description = %v", d)
	}
	// A secret created already expired never works.
	past := h.clock.Now().Add(-time.Second)
	_, dead, err := reg.AddSecret(clientA, &past)
	if err != nil {
		t.Fatal(err)
	}
	assertOAuthError(t, get(dead), http.StatusUnauthorized, "invalid_client")
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	opts := func(o *Options) { o.Throttle = ThrottleOptions{MaxFailures: 3, Window: time.Minute} }
	t.Run("per client", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, opts)
		for i := range 3 {
			ans := h.post("/token", form("grant_type", "client_credentials", "scope", tenantA), basic(clientA, "wrong"), header("X-Test-Addr", "10.0.0."+strconv.Itoa(i)))
			assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
		}
		h.clock.Advance(20 * time.Second)
		// Even the right secret, from a fresh address, waits out the window.
		ans := h.post("/token", okForm, header("X-Test-Addr", "10.0.1.1"))
		assertOAuthError(t, ans, http.StatusTooManyRequests, "temporarily_unavailable")
		if got := ans.header.Get("Retry-After"); got != "40" {
			t.Errorf("Retry-After = %q, want 40", got)
		}
		// Another client is not affected.
		if ans := h.post("/token", form("grant_type", "client_credentials", "client_id", clientB, "client_secret", secretB, "scope", tenantA), header("X-Test-Addr", "10.0.1.1")); ans.status != 200 {
			t.Errorf("other client: %d", ans.status)
		}
		h.clock.Advance(40 * time.Second)
		if ans := h.post("/token", okForm, header("X-Test-Addr", "10.0.1.1")); ans.status != 200 {
			t.Errorf("after the window: %d %s", ans.status, ans.body)
		}
	})
	t.Run("per address", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, opts)
		for i := range 3 {
			ans := h.post("/token", form("grant_type", "client_credentials", "client_id", "guess-"+strconv.Itoa(i), "client_secret", "x", "scope", tenantA), header("X-Test-Addr", "192.0.2.7"))
			assertOAuthError(t, ans, http.StatusUnauthorized, "invalid_client")
		}
		ans := h.post("/token", okForm, header("X-Test-Addr", "192.0.2.7"))
		assertOAuthError(t, ans, http.StatusTooManyRequests, "temporarily_unavailable")
		if got := ans.header.Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After = %q, want 60", got)
		}
		// Introspection and revocation share the limit.
		assertOAuthError(t, h.post("/token/introspect", form("token", "x"), basic(clientA, secretA), header("X-Test-Addr", "192.0.2.7")), http.StatusTooManyRequests, "temporarily_unavailable")
		if ans := h.post("/token", okForm, header("X-Test-Addr", "192.0.2.8")); ans.status != 200 {
			t.Errorf("other address: %d", ans.status)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, func(o *Options) { o.Throttle = ThrottleOptions{MaxFailures: 1, Disabled: true} })
		for range 5 {
			assertOAuthError(t, h.post("/token", form("grant_type", "client_credentials", "scope", tenantA), basic(clientA, "wrong")), 401, "invalid_client")
		}
	})
}

func TestThrottleMemoryBounded(t *testing.T) {
	t.Parallel()
	th, err := newThrottle(ThrottleOptions{MaxFailures: 2, Window: time.Minute, MaxKeys: 100})
	if err != nil {
		t.Fatal(err)
	}
	now := newClock()
	for i := range 10000 {
		th.fail("client-"+strconv.Itoa(i), "addr-"+strconv.Itoa(i), now.Now())
		now.Advance(time.Millisecond)
	}
	if c, a := th.clients.size(), th.addrs.size(); c > 100 || a > 100 {
		t.Fatalf("tracked %d clients, %d addresses; cap 100", c, a)
	}
	// The newest keys survive eviction and are still counted.
	th.fail("client-9999", "addr-9999", now.Now())
	if th.check("client-9999", "x", now.Now()) == 0 || th.check("", "addr-9999", now.Now()) == 0 {
		t.Error("recent key was evicted")
	}
	if _, err := newThrottle(ThrottleOptions{MaxFailures: -1}); err == nil {
		t.Error("negative MaxFailures accepted")
	}
}

func TestIntrospect(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tokA := h.token(clientA, secretA, tenantA)
	tokB := h.token(clientB, secretB, tenantB)
	ans := h.post("/token/introspect", form("token", tokA, "token_type_hint", "access_token"), basic(clientA, secretA))
	if ans.status != 200 || ans.json["active"] != true || ans.json["client_id"] != clientA || ans.json["tid"] != tenantA ||
		ans.json["scope"] != tenantA || ans.json["iss"] != h.base || ans.json["token_type"] != "Bearer" {
		t.Errorf("own token: %d %s", ans.status, ans.body)
	}
	assertNoStore(t, ans)
	for name, body := range map[string]string{
		"other client's token": form("token", tokB),
		"garbage":              form("token", "abc.def.ghi"),
	} {
		ans := h.post("/token/introspect", body, basic(clientA, secretA))
		if ans.status != 200 || string(bytes.TrimSpace(ans.body)) != `{"active":false}` {
			t.Errorf("%s: %d %s", name, ans.status, ans.body)
		}
	}
	assertOAuthError(t, h.post("/token/introspect", form("token", tokA)), 401, "invalid_client")
	assertOAuthError(t, h.post("/token/introspect", form("token", tokA), basic(clientA, "wrong")), 401, "invalid_client")
}

func TestRevokeEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tokA := h.token(clientA, secretA, tenantA)
	tokB := h.token(clientB, secretB, tenantA)
	assertOAuthError(t, h.post("/token/revoke", form("token", tokB), basic(clientA, secretA)), 400, "unauthorized_client")
	if _, err := h.a.Verify(tokB, h.base); err != nil {
		t.Fatalf("another client's refused revocation still revoked: %v", err)
	}
	if ans := h.post("/token/revoke", form("token", "garbage"), basic(clientA, secretA)); ans.status != 200 {
		t.Errorf("garbage token: %d", ans.status)
	}
	if ans := h.fhir("Bearer " + tokA); ans.status != 200 {
		t.Fatalf("before revocation: %d", ans.status)
	}
	if ans := h.post("/token/revoke", form("token", tokA), basic(clientA, secretA)); ans.status != 200 {
		t.Fatalf("revoke: %d %s", ans.status, ans.body)
	}
	ans := h.fhir("Bearer " + tokA)
	if ans.status != 401 || !strings.Contains(ans.header.Get("WWW-Authenticate"), `error_description="token revoked"`) {
		t.Errorf("after revocation: %d %q", ans.status, ans.header.Get("WWW-Authenticate"))
	}
	// Revoking twice is fine: the token is already invalid.
	if ans := h.post("/token/revoke", form("token", tokA), basic(clientA, secretA)); ans.status != 200 {
		t.Errorf("second revoke: %d", ans.status)
	}
	if err := h.a.RevokeToken(""); err == nil {
		t.Error("empty jti accepted")
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	get := func() (answer, []map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/.well-known/jwks.json", nil)
		ans := h.do(req)
		var set struct{ Keys []map[string]any }
		if err := json.Unmarshal(ans.body, &set); err != nil {
			t.Fatalf("%v: %s", err, ans.body)
		}
		return ans, set.Keys
	}
	ans, keys := get()
	_, active := h.a.Keys()
	if ans.status != 200 || len(keys) != 1 || keys[0]["kid"] != active || keys[0]["alg"] != "RS256" || keys[0]["use"] != "sig" || keys[0]["kty"] != "RSA" {
		t.Fatalf("jwks: %d %s", ans.status, ans.body)
	}
	for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
		if _, ok := keys[0][private]; ok {
			t.Errorf("jwks publishes private member %q", private)
		}
	}
	next, err := h.a.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, keys = get(); len(keys) != 2 || keys[1]["kid"] != next {
		t.Errorf("after rotation: %v", keys)
	}
	if err := h.a.RetireKey(active); err != nil {
		t.Fatal(err)
	}
	if _, keys = get(); len(keys) != 1 || keys[0]["kid"] != next {
		t.Errorf("after retirement: %v", keys)
	}
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/.well-known/jwks.json", nil)
	if ans := h.do(req); ans.status != 405 || ans.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST jwks: %d %v", ans.status, ans.header)
	}
}
