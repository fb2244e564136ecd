package auth

import (
	"encoding/base64"
	"net/url"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// FuzzParseForm feeds arbitrary requests to the token form parser: it
// must never panic, and whatever it accepts must be a coherent request.
func FuzzParseForm(f *testing.F) {
	f.Add(0, formMediaType, "", "", okForm)
	f.Add(0, formMediaType, "Basic "+base64.StdEncoding.EncodeToString([]byte("a%3Ab:c%25d")), "", "grant_type=client_credentials&scope="+tenantA)
	f.Add(0, "application/json", "", "", `{"grant_type":"client_credentials"}`)
	f.Add(0, formMediaType, "", "client_secret=x", "grant-type=client_credentials")
	f.Add(1, formMediaType+"; charset=UTF-8", "bearer x", "", "token=a.b.c&token=d")
	f.Add(2, formMediaType, "Basic Og==", "a=%zz", "token=x;y")
	f.Fuzz(func(t *testing.T, ep int, ct, authz, query, body string) {
		e := endpoint(((ep % 3) + 3) % 3)
		var hs []string
		if authz != "" {
			hs = []string{authz}
		}
		req, oe := parseForm(e, ct, hs, query, []byte(body))
		if oe != nil {
			if oe.status < 400 || oe.status > 499 || oe.code == "" || oe.desc == "" {
				t.Fatalf("bad error %+v", oe)
			}
			if strings.ContainsAny(oe.desc, "\"\\") {
				t.Fatalf("description %q not RFC 6749 safe", oe.desc)
			}
			return
		}
		v, err := url.ParseQuery(body)
		if err != nil {
			t.Fatalf("accepted a body url.ParseQuery rejects: %v", err)
		}
		for _, k := range []string{"grant_type", "scope", "client_id", "client_secret", "token"} {
			if len(v[k]) > 1 {
				t.Fatalf("accepted a repeated %s", k)
			}
		}
		if e == epToken && req.grantType != grantClient {
			t.Fatalf("accepted grant_type %q", req.grantType)
		}
		if e != epToken && req.token == "" {
			t.Fatal("accepted an empty token")
		}
		if req.basic && v.Has("client_secret") {
			t.Fatal("accepted Basic and body secret together")
		}
		if q, _ := url.ParseQuery(query); q.Has("client_secret") || q.Has("client_id") {
			t.Fatal("accepted credentials in the query")
		}
	})
}

// FuzzParseScope: an accepted scope yields one canonical tenant and valid,
// distinct, non-GUID extra scopes.
func FuzzParseScope(f *testing.F) {
	f.Add(tenantA)
	f.Add("{" + strings.ToUpper(tenantA) + "} openid  system/*.read")
	f.Add(tenantA + " " + tenantB)
	f.Add("2f4a9c3e-8b1d")
	f.Fuzz(func(t *testing.T, s string) {
		tid, extra, oe := parseScope(s)
		if oe != nil {
			if oe.code != "invalid_scope" {
				t.Fatalf("code %q", oe.code)
			}
			return
		}
		if g, err := spec.ParseGUID(tid); err != nil || g != tid {
			t.Fatalf("tenant %q not canonical", tid)
		}
		seen := map[string]bool{}
		for _, x := range extra {
			if !validScopeToken(x) || looksLikeGUID(x) || seen[x] {
				t.Fatalf("bad extra scope %q in %q", x, extra)
			}
			seen[x] = true
		}
	})
}

// FuzzVerify: no input panics or verifies, except the honest token itself.
func FuzzVerify(f *testing.F) {
	h := newHarness(f, nil)
	good, minted, err := h.a.Mint(clientA, tenantA, nil, h.base)
	if err != nil {
		f.Fatal(err)
	}
	p := strings.Split(good, ".")
	f.Add(good)
	f.Add(p[0] + "." + p[1] + ".")
	f.Add(strings.Repeat(".", 100))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","kid":"x"}`)) + "." + p[1] + ".")
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","kid":"x","crit":["b64"],"b64":false}`)) + "." + p[1] + "." + p[2])
	f.Fuzz(func(t *testing.T, raw string) {
		cl, err := h.a.Verify(raw, h.base)
		if err == nil {
			// Only the minted token may pass (a re-encoding of its
			// signature segment with other unused bits decodes the same).
			if cl.ID != minted.ID || cl.Tenant != tenantA {
				t.Fatalf("verified a token that was not minted: %q", raw)
			}
			return
		}
		te, ok := err.(*TokenError)
		if !ok || te.Description == "" || strings.ContainsAny(te.Description, "\"\\\r\n") {
			t.Fatalf("bad error %#v", err)
		}
	})
}

// FuzzParseAssertion feeds arbitrary client assertions to the assertion
// parser: it must never panic, its errors must be fit for
// error_description once made safe, and what it accepts must be a JWS
// of three base64url parts naming alg and kid.
func FuzzParseAssertion(f *testing.F) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	f.Add(enc(`{"alg":"RS384","kid":"k"}`) + "." + enc(`{"iss":"a","sub":"a","aud":"http://x/token","exp":1,"jti":"j"}`) + ".c2ln")
	f.Add(enc(`{"alg":"ES384","kid":"k","jku":"https://x"}`) + "." + enc(`{"aud":["a","b"],"exp":1.5,"nbf":"x"}`) + ".")
	f.Add(enc(`{"alg":"none","crit":["exp"]}`) + "." + enc(`[]`) + ".")
	f.Add("a.b")
	f.Add(enc(`{"alg":"RS256","kid":7}`) + "." + enc(`{"exp":1e400}`) + ".AA")
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := ParseAssertion(raw)
		if err != nil {
			if a != nil || err.Error() == "" {
				t.Fatalf("error %v with result %+v", err, a)
			}
			if d := safeDesc(err.Error()); strings.ContainsAny(d, "\"\\") {
				t.Fatalf("description %q not RFC 6749 safe", d)
			}
			return
		}
		if a.Alg == "" || a.KID == "" || strings.Count(raw, ".") != 2 || len(raw) > MaxTokenSize {
			t.Fatalf("accepted %q as %+v", raw, a)
		}
	})
}

// FuzzParseKeyPEM: a signing key file (auth.signing_key_file) of any
// content is a key or an error, never a panic; a key it accepts signs.
func FuzzParseKeyPEM(f *testing.F) {
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN EC PRIVATE KEY-----\n\n-----END EC PRIVATE KEY-----\n"))
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte("not a pem"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParseKeyPEM(data)
		if err != nil {
			return
		}
		if k == nil || k.Public() == nil {
			t.Fatalf("accepted a key that is not one: %#v", k)
		}
	})
}
