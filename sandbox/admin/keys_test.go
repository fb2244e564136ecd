package admin

import (
	"crypto"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

// assertionToken asks the real token endpoint for a token with a client
// assertion signed by jwstest (not go-jose).
func (f *fixture) assertionToken(t *testing.T, alg, kid string, key crypto.Signer, scope string) (int, map[string]any) {
	t.Helper()
	f.jti++
	a, err := jwstest.Sign(alg, key, map[string]any{"kid": kid}, map[string]any{
		"iss": seedClient, "sub": seedClient, "aud": f.srv.URL + "/token",
		"exp": t0.Add(time.Minute).Unix(), "jti": fmt.Sprint("jti-", f.jti),
	})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {scope},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}
	res, err := f.srv.Client().PostForm(f.srv.URL+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func TestClientKeysAdminAPI(t *testing.T) {
	f := newFixture(t)
	rs, ec := jwstest.NewKey("RS384"), jwstest.NewKey("ES256")
	base := "/admin/api/clients/" + seedClient

	body, _ := json.Marshal(AddKeysRequest{JWKS: jwstest.JWKS(jwstest.JWK(rs, "rs-1", "RS384"))})
	r := f.do(t, "POST", base+"/keys", string(body))
	if r.status != http.StatusCreated {
		t.Fatalf("add jwks: %d %s", r.status, r.body)
	}
	keys := mustJSON[[]KeyJSON](t, r)
	if len(keys) != 1 || keys[0].KID != "rs-1" || keys[0].Alg != "RS384" || strings.Contains(string(keys[0].JWK), `"d"`) {
		t.Fatalf("keys %s", r.body)
	}
	body, _ = json.Marshal(AddKeysRequest{PEM: string(jwstest.PublicPEM(ec))})
	r = f.do(t, "POST", base+"/keys", string(body))
	if r.status != http.StatusCreated {
		t.Fatalf("add pem: %d %s", r.status, r.body)
	}
	ecKID := mustJSON[[]KeyJSON](t, r)[0].KID

	if st, m := f.assertionToken(t, "RS384", "rs-1", rs, tenantA); st != http.StatusOK {
		t.Fatalf("token with the JWKS key: %d %v", st, m)
	}
	if st, m := f.assertionToken(t, "ES256", ecKID, ec, tenantA); st != http.StatusOK {
		t.Fatalf("token with the PEM key: %d %v", st, m)
	}

	// revoke: the key stays listed, revoked, and stops working at once
	r = f.do(t, "POST", base+"/keys/rs-1/revoke", "")
	if c := mustJSON[ClientJSON](t, r); r.status != http.StatusOK || len(c.Keys) != 2 || !c.Keys[0].Revoked || c.Keys[0].RevokedAt == nil {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if st, m := f.assertionToken(t, "RS384", "rs-1", rs, tenantA); st != http.StatusUnauthorized || !strings.Contains(fmt.Sprint(m["error_description"]), "revoked") {
		t.Fatalf("revoked key: %d %v", st, m)
	}
	if r := f.do(t, "DELETE", base+"/keys/rs-1", ""); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := f.do(t, "DELETE", base+"/keys/rs-1", ""); r.status != http.StatusNotFound {
		t.Fatalf("delete again: %d %s", r.status, r.body)
	}

	// scopes: the token is narrowed to them
	r = f.do(t, "PUT", base+"/scopes", `{"scopes":["system/Patient.rs"]}`)
	if c := mustJSON[ClientJSON](t, r); r.status != http.StatusOK || len(c.Scopes) != 1 {
		t.Fatalf("scopes: %d %s", r.status, r.body)
	}
	if st, m := f.assertionToken(t, "ES256", ecKID, ec, tenantA+" system/*.read"); st != http.StatusOK || m["scope"] != tenantA+" system/Patient.rs" {
		t.Fatalf("scoped token: %d %v", st, m)
	}
	if r := f.do(t, "PUT", base+"/jwks_uri", `{"jwks_uri":"https://partner.example/jwks"}`); r.status != http.StatusOK || mustJSON[ClientJSON](t, r).JWKSURI != "https://partner.example/jwks" {
		t.Fatalf("jwks_uri: %d %s", r.status, r.body)
	}
	// every change was persisted as a clients change
	if n := strings.Count(strings.Join(f.persist.calls(), " "), KindClients); n != 6 {
		t.Errorf("persist calls %v, want 6 clients changes", f.persist.calls())
	}

	priv := jwstest.JWK(ec, "p", "")
	priv["d"] = "AAAA"
	privBody, _ := json.Marshal(AddKeysRequest{JWKS: jwstest.JWKS(priv)})
	pemPriv, _ := json.Marshal(AddKeysRequest{PEM: string(jwstest.PrivatePEM(ec))})
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", base + "/keys", string(privBody), 400},
		{"POST", base + "/keys", string(pemPriv), 400},
		{"POST", base + "/keys", `{}`, 400},
		{"POST", base + "/keys", `{"jwks":{"keys":[]},"pem":"x"}`, 400},
		{"POST", base + "/keys", `{"jwks":"not an object"}`, 400},
		{"POST", base + "/keys", `{"jwks":{"keys":[]},"extra":1}`, 400},
		{"POST", "/admin/api/clients/nobody/keys", string(body), 404},
		{"POST", base + "/keys/nope/revoke", "", 404},
		{"PUT", base + "/jwks_uri", `{"jwks_uri":"file:///etc/passwd"}`, 400},
		{"PUT", base + "/jwks_uri", `{}`, 400},
		{"PUT", base + "/scopes", `{"scopes":["system/Patient.xyz"]}`, 400},
		{"PUT", base + "/scopes", `{}`, 400},
		{"PUT", "/admin/api/clients/nobody/scopes", `{"scopes":[]}`, 404},
		{"GET", base + "/keys", "", 405},
	} {
		if r := f.do(t, tc.method, tc.path, tc.body); r.status != tc.status || r.errCode() == "" {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.path, tc.body, r.status, r.body, tc.status)
		}
	}

	// a change that cannot be persisted is undone
	f.persist.setFail(true)
	body, _ = json.Marshal(AddKeysRequest{JWKS: jwstest.JWKS(jwstest.JWK(rs, "rs-2", ""))})
	r = f.do(t, "POST", base+"/keys", string(body))
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("unpersisted add: %d %s", r.status, r.body)
	}
	f.persist.setFail(false)
	if c, _ := f.svc.Client(seedClient); len(c.Keys) != 1 {
		t.Errorf("unpersisted key kept: %d keys", len(c.Keys))
	}
}
