package portal

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

func TestSignIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	page := e.want(e.get("/portal/"), http.StatusOK)
	if !strings.Contains(page.body, `action="/portal/signin"`) {
		t.Fatalf("no sign-in form:\n%s", page.body)
	}
	r := e.want(e.post("/portal/signin", url.Values{"token": {"wrong"}}), http.StatusUnauthorized)
	if !strings.Contains(r.body, "not the admin token") || r.header.Get("Set-Cookie") != "" {
		t.Fatalf("wrong token: cookie %q, body:\n%s", r.header.Get("Set-Cookie"), r.body)
	}
	// A page reached without a session leads back to the sign-in page.
	if r := e.get("/portal/clients/x"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/" {
		t.Fatalf("unsigned GET: %d %q", r.status, r.header.Get("Location"))
	}
	e.want(e.post("/portal/clients", url.Values{"name": {"x"}}), http.StatusUnauthorized)
	if n := len(e.svc.Clients()); n != 0 {
		t.Fatalf("%d clients made without a session", n)
	}

	r = e.want(e.post("/portal/signin", url.Values{"token": {testToken}}), http.StatusSeeOther)
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "Path=/portal/", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("Set-Cookie %q is Secure over plain http", sc)
	}
	dash := e.want(e.get("/portal/"), http.StatusOK)
	if !strings.Contains(dash.body, "Register a client") || strings.Contains(dash.body, testToken) {
		t.Fatalf("dashboard wrong or shows the admin token:\n%s", dash.body)
	}
	if strings.Contains(e.log.String(), testToken) {
		t.Fatal("the admin token was logged")
	}

	// Over https (here: as a proxy reports it) the cookie is Secure.
	r = e.want(e.do(http.MethodPost, "/portal/signin", url.Values{"token": {testToken}}, map[string]string{"X-Forwarded-Proto": "https"}), http.StatusSeeOther)
	if sc := r.header.Get("Set-Cookie"); !strings.Contains(sc, "Secure") {
		t.Fatalf("https Set-Cookie %q is not Secure", sc)
	}

	// Signing out ends the session server-side.
	e.follow(e.post("/portal/signout", nil), "/portal/")
	if r := e.get("/portal/"); strings.Contains(r.body, "Register a client") {
		t.Fatal("still signed in after sign-out")
	}
}

func TestSignInThrottle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for i := 0; i < signinMaxFailures; i++ {
		e.want(e.post("/portal/signin", url.Values{"token": {fmt.Sprint("wrong", i)}}), http.StatusUnauthorized)
	}
	// Blocked now, even with the right token.
	r := e.want(e.post("/portal/signin", url.Values{"token": {testToken}}), http.StatusTooManyRequests)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	e.clock.Advance(signinWindow)
	e.signIn()
}

func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		steps []time.Duration // idle gaps between requests
		live  bool
	}{
		{"used within the idle timeout", []time.Duration{29 * time.Minute}, true},
		{"idle past the timeout", []time.Duration{DefaultIdleTimeout}, false},
		{"kept busy, still ends at the maximum", func() []time.Duration {
			var s []time.Duration
			for d := time.Duration(0); d <= DefaultMaxSession; d += 20 * time.Minute {
				s = append(s, 20*time.Minute)
			}
			return s
		}(), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.signIn()
			var last resp
			for _, d := range tc.steps {
				e.clock.Advance(d)
				last = e.get("/portal/")
			}
			if got := strings.Contains(last.body, "Register a client"); got != tc.live {
				t.Fatalf("signed in = %v, want %v", got, tc.live)
			}
			if !tc.live {
				r := e.want(e.post("/portal/clients", url.Values{"name": {"late"}}), http.StatusUnauthorized)
				if !strings.Contains(r.body, "session has ended") {
					t.Fatalf("expired-session POST:\n%s", r.body)
				}
			}
		})
	}
}

func TestCreateClientSecretShownOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	r := e.want(e.post("/portal/clients", url.Values{"name": {"Teams dev"}, "tenant": {tenantA}}), http.StatusSeeOther)
	if loc := r.header.Get("Location"); loc != "/portal/secret" {
		t.Fatalf("Location %q", loc)
	}
	page := e.want(e.get("/portal/secret"), http.StatusOK)
	if cc := page.header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("secret page Cache-Control %q", cc)
	}
	id, secret := e.readSecret(page)
	if !strings.Contains(page.body, "scope="+tenantA) {
		t.Error("example request lacks the client's tenant")
	}
	if code, _ := e.token(id, secret, tenantA); code != http.StatusOK {
		t.Fatalf("token with the shown secret: %d", code)
	}
	if code, errc := e.token(id, secret, tenantB); code != http.StatusBadRequest || errc != "invalid_scope" {
		t.Fatalf("token for a tenant not allowed: %d %s", code, errc)
	}
	// Never again: not on a second GET, the dashboard, the client page,
	// in a header or cookie, or in the log.
	for _, path := range []string{"/portal/secret", "/portal/", "/portal/clients/" + id} {
		r := e.want(e.get(path), http.StatusOK)
		if strings.Contains(r.body, secret) {
			t.Errorf("%s shows the secret again", path)
		}
		for k, v := range r.header {
			if strings.Contains(strings.Join(v, " "), secret) {
				t.Errorf("%s header %s carries the secret", path, k)
			}
		}
	}
	if again := e.get("/portal/secret"); !strings.Contains(again.body, "shown already") {
		t.Errorf("second view does not say the secret was shown:\n%s", again.body)
	}
	u, _ := url.Parse(e.srv.URL + "/portal/")
	for _, c := range e.client.Jar.Cookies(u) {
		if strings.Contains(c.Value, secret) {
			t.Error("a cookie carries the secret")
		}
	}
	if strings.Contains(e.log.String(), secret) {
		t.Error("the secret was logged")
	}
	client := e.want(e.get("/portal/clients/"+id), http.StatusOK)
	hint := e.secretIDs(id)[0].Hint
	if !strings.Contains(client.body, "…"+hint) || !strings.Contains(client.body, `class="badge live"`) {
		t.Errorf("client page lacks the hint or the live badge:\n%s", client.body)
	}

	// "All tenants" makes a client for every tenant.
	id2, secret2 := e.createClient("Everywhere", "*")
	for _, tn := range []string{tenantA, tenantB} {
		if code, _ := e.token(id2, secret2, tn); code != http.StatusOK {
			t.Errorf("all-tenant client, tenant %s: %d", tn, code)
		}
	}
}

func TestCreateClientBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	tests := []struct {
		name string
		form url.Values
		want int
	}{
		{"no name", url.Values{"tenant": {tenantA}}, http.StatusBadRequest},
		{"name too long", url.Values{"name": {strings.Repeat("n", 201)}}, http.StatusBadRequest},
		{"control character", url.Values{"name": {"a\x01b"}}, http.StatusBadRequest},
		{"bad tenant GUID", url.Values{"name": {"x"}, "tenant": {"not-a-guid"}}, http.StatusBadRequest},
		{"unknown tenant", url.Values{"name": {"x"}, "tenant": {"00000000-0000-4000-8000-000000000001"}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.post("/portal/clients", tc.form)
			if r.status != tc.want || !strings.Contains(r.body, `class="alert"`) {
				t.Fatalf("status %d, want %d with an error message:\n%s", r.status, tc.want, r.body)
			}
		})
	}
	if n := len(e.svc.Clients()); n != 0 {
		t.Fatalf("%d clients made from bad input", n)
	}
}

func TestRotateRevokeDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, oldSecret := e.createClient("Rotating", tenantA)
	oldID := e.secretIDs(id)[0].ID

	// Rotate: a new secret, expiring in 7 days; the old stays live.
	page := e.follow(e.post("/portal/clients/"+id+"/secrets", url.Values{"expires": {"7d"}}), "/portal/secret")
	_, newSecret := e.readSecret(page)
	if !strings.Contains(page.body, e.clock.Now().Add(7*24*time.Hour).Format("2006-01-02 15:04 UTC")) {
		t.Error("new secret page does not show the expiry")
	}
	for _, s := range []string{oldSecret, newSecret} {
		if code, _ := e.token(id, s, tenantA); code != http.StatusOK {
			t.Fatalf("after rotation, a secret gets %d", code)
		}
	}

	// Revoke asks first; the question changes nothing.
	q := e.want(e.post("/portal/clients/"+id+"/secrets/"+oldID+"/revoke", nil), http.StatusOK)
	if !strings.Contains(q.body, `name="confirm" value="yes"`) {
		t.Fatalf("no confirmation asked:\n%s", q.body)
	}
	if code, _ := e.token(id, oldSecret, tenantA); code != http.StatusOK {
		t.Fatal("the question revoked the secret")
	}
	done := e.follow(e.post("/portal/clients/"+id+"/secrets/"+oldID+"/revoke", url.Values{"confirm": {"yes"}}), "/portal/clients/"+id)
	if !strings.Contains(done.body, "revoked") || !strings.Contains(done.body, `class="badge revoked"`) {
		t.Fatalf("revoked secret not shown as revoked:\n%s", done.body)
	}
	if code, errc := e.token(id, oldSecret, tenantA); code != http.StatusUnauthorized || errc != "invalid_client" {
		t.Fatalf("revoked secret: %d %s", code, errc)
	}
	if code, _ := e.token(id, newSecret, tenantA); code != http.StatusOK {
		t.Fatalf("new secret after revoking the old: %d", code)
	}

	// Delete the old secret.
	e.want(e.post("/portal/clients/"+id+"/secrets/"+oldID+"/delete", nil), http.StatusOK)
	e.follow(e.post("/portal/clients/"+id+"/secrets/"+oldID+"/delete", url.Values{"confirm": {"yes"}}), "/portal/clients/"+id)
	if ss := e.secretIDs(id); len(ss) != 1 || ss[0].ID == oldID {
		t.Fatalf("secrets after delete: %+v", ss)
	}
	// Unknown secret and client: 404 pages.
	e.want(e.post("/portal/clients/"+id+"/secrets/sec_nope/revoke", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
	e.want(e.post("/portal/clients/nope/secrets/"+oldID+"/delete", nil), http.StatusNotFound)
	e.want(e.post("/portal/clients/nope/secrets", url.Values{"expires": {"never"}}), http.StatusNotFound)
	e.want(e.post("/portal/clients/"+id+"/secrets", nil), http.StatusBadRequest)
	e.want(e.get("/portal/clients/nope"), http.StatusNotFound)
}

func TestSecretExpiry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, secret := e.createClient("Expiring", tenantA)
	sid := e.secretIDs(id)[0].ID
	path := "/portal/clients/" + id + "/secrets/" + sid + "/expiry"
	tests := []struct {
		name    string
		form    url.Values
		status  int
		expires *time.Time
		token   int
	}{
		{"expire now", url.Values{"expires": {"now"}}, http.StatusSeeOther, ptr(e.clock.Now()), http.StatusUnauthorized},
		{"never again", url.Values{"expires": {"never"}}, http.StatusSeeOther, nil, http.StatusOK},
		{"in 1 hour", url.Values{"expires": {"1h"}}, http.StatusSeeOther, ptr(e.clock.Now().Add(time.Hour)), http.StatusOK},
		{"at a date", url.Values{"expires": {"at"}, "expires_at": {"2027-01-31T17:00"}}, http.StatusSeeOther, ptr(time.Date(2027, 1, 31, 17, 0, 0, 0, time.UTC)), http.StatusOK},
		{"at a past date", url.Values{"expires": {"at"}, "expires_at": {"2020-01-01T00:00"}}, http.StatusSeeOther, ptr(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), http.StatusUnauthorized},
		{"bad date", url.Values{"expires": {"at"}, "expires_at": {"tomorrow"}}, http.StatusBadRequest, ptr(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), http.StatusUnauthorized},
		{"bad choice", url.Values{"expires": {"5y"}}, http.StatusBadRequest, ptr(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)), http.StatusUnauthorized},
	}
	for _, tc := range tests {
		r := e.post(path, tc.form)
		if r.status != tc.status {
			t.Fatalf("%s: status %d, want %d:\n%s", tc.name, r.status, tc.status, r.body)
		}
		got := e.secretIDs(id)[0].Expires
		if (got == nil) != (tc.expires == nil) || got != nil && !got.Equal(*tc.expires) {
			t.Fatalf("%s: expires %v, want %v", tc.name, got, tc.expires)
		}
		if code, _ := e.token(id, secret, tenantA); code != tc.token {
			t.Fatalf("%s: token status %d, want %d", tc.name, code, tc.token)
		}
	}
	if page := e.get("/portal/clients/" + id); !strings.Contains(page.body, `class="badge expired"`) {
		t.Fatalf("expired secret not badged:\n%s", page.body)
	}
	// A new secret can be made with an expiry at a date.
	page := e.follow(e.post("/portal/clients/"+id+"/secrets", url.Values{"expires": {"at"}, "expires_at": {"2027-06-01T08:30"}}), "/portal/secret")
	if !strings.Contains(page.body, "2027-06-01 08:30 UTC") {
		t.Fatalf("expiry not shown:\n%s", page.body)
	}
}

func ptr[T any](v T) *T { return &v }

func TestClientTenantsAndDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, secret := e.createClient("Mover", tenantA)
	e.follow(e.post("/portal/clients/"+id+"/tenants", url.Values{"tenant": {tenantB}}), "/portal/clients/"+id)
	if code, _ := e.token(id, secret, tenantA); code != http.StatusBadRequest {
		t.Fatalf("old tenant after change: %d", code)
	}
	if code, _ := e.token(id, secret, tenantB); code != http.StatusOK {
		t.Fatalf("new tenant after change: %d", code)
	}
	e.want(e.post("/portal/clients/"+id+"/tenants", url.Values{"tenant": {"zzz"}}), http.StatusBadRequest)

	q := e.want(e.post("/portal/clients/"+id+"/delete", nil), http.StatusOK)
	if !strings.Contains(q.body, "Delete client Mover?") {
		t.Fatalf("no confirmation:\n%s", q.body)
	}
	if _, ok := e.svc.Client(id); !ok {
		t.Fatal("deleted without confirmation")
	}
	page := e.follow(e.post("/portal/clients/"+id+"/delete", url.Values{"confirm": {"yes"}}), "/portal/")
	if !strings.Contains(page.body, "Client Mover deleted.") {
		t.Fatalf("no notice:\n%s", page.body)
	}
	if strings.Contains(e.get("/portal/").body, "Client Mover deleted.") {
		t.Fatal("notice shown twice")
	}
	if code, errc := e.token(id, secret, tenantB); code != http.StatusUnauthorized || errc != "invalid_client" {
		t.Fatalf("deleted client's secret: %d %s", code, errc)
	}
	e.want(e.post("/portal/clients/"+id+"/delete", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
}

func TestTenants(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	const guid = "9b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"
	add := url.Values{"id": {strings.ToUpper(guid)}, "name": {"Northwind"}, "backend": {"synthetic"}, "patients": {"42"}, "seed": {"7"}}
	page := e.follow(e.post("/portal/tenants", add), "/portal/#tenants")
	if !strings.Contains(page.body, "Tenant "+guid+" added.") || !strings.Contains(page.body, "42 patients, seed 7") {
		t.Fatalf("added tenant not listed:\n%s", page.body)
	}
	tests := []struct {
		name string
		form url.Values
		want int
	}{
		{"duplicate", add, http.StatusConflict},
		{"bad GUID", url.Values{"id": {"nope"}, "name": {"x"}}, http.StatusBadRequest},
		{"no name", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}}, http.StatusBadRequest},
		{"patients not a number", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}, "name": {"x"}, "patients": {"lots"}}, http.StatusBadRequest},
		{"too many patients", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}, "name": {"x"}, "patients": {"1000001"}}, http.StatusBadRequest},
		{"upstream without URL", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}, "name": {"x"}, "backend": {"upstream"}}, http.StatusBadRequest},
		{"upstream with credentials", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}, "name": {"x"}, "backend": {"upstream"}, "upstream": {"https://u:p@fhir.example.org/r3"}}, http.StatusBadRequest},
		{"unknown backend", url.Values{"id": {"1b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}, "name": {"x"}, "backend": {"ftp"}}, http.StatusBadRequest},
	}
	for _, tc := range tests {
		if r := e.post("/portal/tenants", tc.form); r.status != tc.want {
			t.Errorf("%s: status %d, want %d:\n%s", tc.name, r.status, tc.want, clipBody(r.body))
		}
	}
	if n := len(e.svc.Tenants()); n != 3 {
		t.Fatalf("%d tenants, want 3", n)
	}

	// Map it to an upstream, then back to a synthetic hospital.
	e.want(e.get("/portal/tenants/"+guid), http.StatusOK)
	e.follow(e.post("/portal/tenants/"+guid, url.Values{"name": {"Northwind (proxied)"}, "backend": {"upstream"}, "upstream": {"https://fhir.example.org/r3"}}), "/portal/tenants/"+guid)
	if tn, _ := e.tenants.Get(guid); tn.Upstream != "https://fhir.example.org/r3" || tn.Patients != 0 || tn.Name != "Northwind (proxied)" {
		t.Fatalf("after mapping to upstream: %+v", tn)
	}
	e.follow(e.post("/portal/tenants/"+guid, url.Values{"name": {"Northwind"}, "backend": {"synthetic"}, "patients": {"12"}, "seed": {"3"}, "down": {"1"}}), "/portal/tenants/"+guid)
	if tn, _ := e.tenants.Get(guid); tn.Upstream != "" || tn.Patients != 12 || tn.Seed != 3 || !tn.Down {
		t.Fatalf("after mapping back: %+v", tn)
	}
	e.want(e.post("/portal/tenants/00000000-0000-4000-8000-000000000009", url.Values{"name": {"x"}}), http.StatusNotFound)
	e.want(e.get("/portal/tenants/not-a-guid"), http.StatusNotFound)

	// A tenant a client uses is not removed.
	e.createClient("User", guid)
	e.want(e.post("/portal/tenants/"+guid+"/delete", nil), http.StatusOK)
	if r := e.want(e.post("/portal/tenants/"+guid+"/delete", url.Values{"confirm": {"yes"}}), http.StatusConflict); !strings.Contains(r.body, "change their tenants first") {
		t.Fatalf("conflict not explained:\n%s", r.body)
	}
	e.follow(e.post("/portal/tenants/"+tenantB+"/delete", url.Values{"confirm": {"yes"}}), "/portal/#tenants")
	if e.tenants.Known(tenantB) {
		t.Fatal("tenant not removed")
	}
	e.want(e.post("/portal/tenants/"+tenantB+"/delete", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, _ := e.createClient("Target", tenantA)
	sid := e.secretIDs(id)[0].ID
	routes := []string{
		"/portal/signin", "/portal/signout", "/portal/clients",
		"/portal/clients/" + id + "/tenants", "/portal/clients/" + id + "/delete",
		"/portal/clients/" + id + "/secrets", "/portal/clients/" + id + "/secrets/" + sid + "/revoke",
		"/portal/clients/" + id + "/secrets/" + sid + "/expiry", "/portal/clients/" + id + "/secrets/" + sid + "/delete",
		"/portal/tenants", "/portal/tenants/" + tenantA, "/portal/tenants/" + tenantB + "/delete",
	}
	form := url.Values{"confirm": {"yes"}, "name": {"evil"}, "token": {testToken}, "expires": {"now"}, "id": {"3b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"}}
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Sec-Fetch-Site": "same-site"},
		{"Origin": "http://evil.example"},
	} {
		for _, path := range routes {
			if r := e.do(http.MethodPost, path, form, hdr); r.status != http.StatusForbidden {
				t.Errorf("POST %s with %v: %d, want 403", path, hdr, r.status)
			}
		}
	}
	c, ok := e.svc.Client(id)
	if !ok || len(c.Secrets) != 1 || c.Secrets[0].Revoked || c.Secrets[0].Expires != nil || len(e.svc.Clients()) != 1 || len(e.svc.Tenants()) != 2 {
		t.Fatalf("a cross-origin POST changed state: %+v", c)
	}
	// Same-origin posts from the portal's own pages pass.
	e.follow(e.do(http.MethodPost, "/portal/clients/"+id+"/tenants", url.Values{"all": {"1"}}, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": e.srv.URL}), "/portal/clients/"+id)
	// GET never changes state: action routes answer GET with 405.
	for _, path := range routes[2:] {
		if r := e.get(path); r.status != http.StatusMethodNotAllowed && r.status != http.StatusNotFound && r.status != http.StatusOK {
			t.Errorf("GET %s: %d", path, r.status)
		}
	}
	if len(e.svc.Clients()) != 1 || len(e.secretIDs(id)) != 1 || len(e.svc.Tenants()) != 2 {
		t.Fatal("a GET changed state")
	}
}

func TestEscaping(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	evil := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}
	const guid = "4b2e4c1a-3d5f-4a7b-8c9d-0e1f2a3b4c5d"
	e.follow(e.post("/portal/tenants", url.Values{"id": {guid}, "name": {evil[1]}, "patients": {"1"}}), "/portal/#tenants")
	var ids []string
	for _, name := range evil {
		page := e.want(e.follow(e.post("/portal/clients", url.Values{"name": {name}, "tenant": {guid}}), "/portal/secret"), http.StatusOK)
		id, _ := e.readSecret(page)
		ids = append(ids, id)
		checkEscaped(t, "secret page", page.body, evil)
	}
	pages := []string{"/portal/", "/portal/tenants/" + guid}
	for _, id := range ids {
		pages = append(pages, "/portal/clients/"+id)
	}
	for _, p := range pages {
		checkEscaped(t, p, e.want(e.get(p), http.StatusOK).body, evil)
	}
	q := e.want(e.post("/portal/clients/"+ids[0]+"/delete", nil), http.StatusOK)
	checkEscaped(t, "confirm page", q.body, evil)
	if !strings.Contains(q.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("confirm page lacks the escaped name:\n%s", q.body)
	}
}

func checkEscaped(t *testing.T, where, body string, evil []string) {
	t.Helper()
	for _, s := range evil {
		if strings.Contains(body, s) {
			t.Errorf("%s contains %q unescaped", where, s)
		}
	}
	if strings.Contains(body, "<img") || strings.Contains(body, "<script>") {
		t.Errorf("%s contains an injected element", where)
	}
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	check := func(name string, r resp) {
		t.Helper()
		h := r.header
		csp := h.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", name, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code", name)
		}
		for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
			if got := h.Get(k); got != v {
				t.Errorf("%s: %s %q, want %q", name, k, got, v)
			}
		}
		if strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			if cc := h.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", name, cc)
			}
			if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, "<style") || strings.Contains(r.body, " onclick=") {
				t.Errorf("%s: inline script or style the CSP would block", name)
			}
		}
	}
	check("sign-in", e.get("/portal/"))
	check("wrong token", e.post("/portal/signin", url.Values{"token": {"x"}}))
	check("css", e.get("/portal/assets/portal.css"))
	check("js", e.get("/portal/assets/portal.js"))
	check("404", e.want(e.get("/portal/nope"), http.StatusNotFound))
	e.signIn()
	check("dashboard", e.get("/portal/"))
	check("secret", e.get("/portal/secret"))
	id, _ := e.createClient("Headers", tenantA)
	check("client", e.get("/portal/clients/"+id))
	check("confirm", e.post("/portal/clients/"+id+"/delete", nil))
	check("tenant", e.get("/portal/tenants/"+tenantA))
	check("csrf", e.do(http.MethodPost, "/portal/clients", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"}))
	if ct := e.get("/portal/assets/portal.css").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Errorf("css Content-Type %q", ct)
	}
	if ct := e.get("/portal/assets/portal.js").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("js Content-Type %q", ct)
	}
}

func TestLocalOnly(t *testing.T) {
	t.Parallel()
	svc := admin.New(admin.Options{Clients: nil, Tenants: tenant.NewRegistry(nil)})
	tests := []struct {
		name   string
		allow  bool
		remote string
		hdr    map[string]string
		want   int
	}{
		{"loopback v4", false, "127.0.0.1:5000", nil, http.StatusOK},
		{"loopback v6", false, "[::1]:5000", nil, http.StatusOK},
		{"mapped loopback", false, "[::ffff:127.0.0.1]:5000", nil, http.StatusOK},
		{"remote", false, "203.0.113.7:5000", nil, http.StatusForbidden},
		{"via proxy XFF", false, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.7"}, http.StatusForbidden},
		{"via proxy Forwarded", false, "127.0.0.1:5000", map[string]string{"Forwarded": "for=203.0.113.7"}, http.StatusForbidden},
		{"via proxy XFH", false, "127.0.0.1:5000", map[string]string{"X-Forwarded-Host": "abc.ngrok.app"}, http.StatusForbidden},
		{"via proxy X-Real-IP", false, "127.0.0.1:5000", map[string]string{"X-Real-IP": "203.0.113.7"}, http.StatusForbidden},
		{"remote allowed", true, "203.0.113.7:5000", map[string]string{"X-Forwarded-For": "203.0.113.7"}, http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := New(Options{Service: svc, AdminToken: testToken, AllowRemote: tc.allow})
			req := httptest.NewRequest(http.MethodGet, "/portal/", nil)
			req.RemoteAddr = tc.remote
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d", rec.Code, tc.want)
			}
			if rec.Header().Get("X-Frame-Options") != "DENY" {
				t.Fatal("no security headers")
			}
		})
	}
}

func TestBadRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	big := url.Values{"name": {strings.Repeat("x", maxFormBytes+10)}}
	tests := []struct {
		name        string
		method      string
		path        string
		body        string
		contentType string
		want        int
	}{
		{"oversize body", http.MethodPost, "/portal/clients", big.Encode(), "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"oversize sign-in", http.MethodPost, "/portal/signin", "token=" + strings.Repeat("x", maxFormBytes+10), "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"bad escape", http.MethodPost, "/portal/clients", "name=%zz", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"unknown page", http.MethodGet, "/portal/clients/x/y/z", "", "", http.StatusNotFound},
		{"unknown action", http.MethodPost, "/portal/clients/x/explode", "", "application/x-www-form-urlencoded", http.StatusMethodNotAllowed},
		{"wrong method", http.MethodPut, "/portal/clients", "", "", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, strings.NewReader(tc.body))
		if tc.contentType != "" {
			req.Header.Set("Content-Type", tc.contentType)
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, res.StatusCode, tc.want)
		}
	}
	if len(e.svc.Clients()) != 0 {
		t.Fatal("a bad request made a client")
	}
}

func TestNoAdminTokenDisablesSignIn(t *testing.T) {
	t.Parallel()
	svc := admin.New(admin.Options{Tenants: tenant.NewRegistry(nil)})
	srv := httptest.NewServer(New(Options{Service: svc}))
	t.Cleanup(srv.Close)
	for _, tok := range []string{"", "anything"} {
		res, err := http.PostForm(srv.URL+"/portal/signin", url.Values{"token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized || len(res.Cookies()) != 0 {
			t.Fatalf("token %q: status %d, cookies %v", tok, res.StatusCode, res.Cookies())
		}
	}
}

// TestPagesParse: every page's template parses; the pages are parsed on
// the first page served, so a broken template must fail here, not there.
func TestPagesParse(t *testing.T) {
	pages := parsePages()
	for _, n := range []string{"signin", "dashboard", "client", "tenant", "secret", "confirm", "error", "scenarios", "requests"} {
		if pages[n] == nil || pages[n].Lookup("layout.html") == nil {
			t.Errorf("page %s: no parsed template with its layout", n)
		}
	}
}
