package portal

import (
	"crypto"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

// assertionToken asks the real token endpoint for a token with a client
// assertion made by jwstest, and returns the status and the OAuth answer.
func (e *env) assertionToken(clientID, alg, kid string, key crypto.Signer, jti string) (int, map[string]any) {
	e.t.Helper()
	a, err := jwstest.Sign(alg, key, map[string]any{"kid": kid}, map[string]any{
		"iss": clientID, "sub": clientID, "aud": e.srv.URL + "/token",
		"exp": e.clock.Now().Add(time.Minute).Unix(), "jti": jti,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := http.PostForm(e.srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "scope": {tenantA},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

func TestPortalKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, _ := e.createClient("Backend service", tenantA)
	page := clientURL(id)
	rs, ec := jwstest.NewKey("RS384"), jwstest.NewKey("ES384")

	// paste a JWKS whose kid needs escaping, then a PEM
	jwks := string(jwstest.JWKS(jwstest.JWK(rs, "<b>rs</b>", "RS384")))
	got := e.want(e.follow(e.post(page+"/keys", url.Values{"keys": {jwks}}), page), http.StatusOK)
	if !strings.Contains(got.body, "Added 1 key: &lt;b&gt;rs&lt;/b&gt;.") || strings.Contains(got.body, "<b>rs</b>") {
		t.Fatalf("after pasting a JWKS:\n%s", clipBody(got.body))
	}
	got = e.want(e.follow(e.post(page+"/keys", url.Values{"keys": {string(jwstest.PublicPEM(ec))}}), page), http.StatusOK)
	c, _ := e.svc.Client(id)
	if len(c.Keys) != 2 || !strings.Contains(got.body, c.Keys[1].KID) {
		t.Fatalf("keys %+v; page:\n%s", c.Keys, clipBody(got.body))
	}
	ecKID := c.Keys[1].KID
	if st, m := e.assertionToken(id, "RS384", "<b>rs</b>", rs, "j1"); st != http.StatusOK {
		t.Fatalf("token with the pasted JWKS key: %d %v", st, m)
	}
	if st, m := e.assertionToken(id, "ES384", ecKID, ec, "j2"); st != http.StatusOK {
		t.Fatalf("token with the pasted PEM key: %d %v", st, m)
	}

	// refused pastes
	for _, bad := range []string{string(jwstest.PrivatePEM(ec)), "hello", `{"keys":[{"kty":"oct","k":"AAAA"}]}`, ""} {
		r := e.post(page+"/keys", url.Values{"keys": {bad}})
		if r.status != http.StatusBadRequest {
			t.Errorf("paste %.30q: %d", bad, r.status)
		}
	}
	if r := e.post(page+"/keys", url.Values{"keys": {string(jwstest.PrivatePEM(ec))}}); !strings.Contains(r.body, "public key only") {
		t.Errorf("a private key paste does not say why:\n%s", clipBody(r.body))
	}

	// revoke asks first, then the key stops working at once
	keyURL := page + "/keys/" + url.PathEscape("<b>rs</b>")
	if r := e.want(e.post(keyURL+"/revoke", nil), http.StatusOK); !strings.Contains(r.body, "Revoke key") {
		t.Fatalf("no confirmation:\n%s", clipBody(r.body))
	}
	e.follow(e.post(keyURL+"/revoke", url.Values{"confirm": {"yes"}}), page)
	if st, m := e.assertionToken(id, "RS384", "<b>rs</b>", rs, "j3"); st != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), "revoked") {
		t.Errorf("revoked key: %d %v", st, m)
	}
	e.follow(e.post(keyURL+"/delete", url.Values{"confirm": {"yes"}}), page)
	if r := e.post(keyURL+"/delete", url.Values{"confirm": {"yes"}}); r.status != http.StatusNotFound {
		t.Errorf("deleting a deleted key: %d", r.status)
	}

	// scopes and the JWKS URL
	e.follow(e.post(page+"/scopes", url.Values{"scopes": {"system/Patient.rs\nsystem/Observation.rs?category=vital-signs"}}), page)
	if st, m := e.assertionToken(id, "ES384", ecKID, ec, "j4"); st != http.StatusOK || m["scope"] != tenantA+" system/Patient.rs system/Observation.rs?category=vital-signs" {
		t.Errorf("scoped token: %d %v", st, m)
	}
	if r := e.post(page+"/scopes", url.Values{"scopes": {"system/Patient.nope"}}); r.status != http.StatusBadRequest {
		t.Errorf("bad scope: %d", r.status)
	}
	e.follow(e.post(page+"/jwks_uri", url.Values{"jwks_uri": {"https://partner.example/jwks.json"}}), page)
	if c, _ := e.svc.Client(id); c.JWKSURI != "https://partner.example/jwks.json" {
		t.Errorf("jwks_uri %q", c.JWKSURI)
	}
	if r := e.post(page+"/jwks_uri", url.Values{"jwks_uri": {"javascript:alert(1)"}}); r.status != http.StatusBadRequest {
		t.Errorf("bad jwks_uri: %d", r.status)
	}
	if r := e.post(clientURL("nobody")+"/keys", url.Values{"keys": {jwks}}); r.status != http.StatusNotFound {
		t.Errorf("unknown client: %d", r.status)
	}
}
