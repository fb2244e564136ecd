package admin

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestClientLifecycleAndRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	r := f.do(t, "POST", "/admin/api/clients", `{"name":"Scheduler","tenants":["{2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C}"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	cr := mustJSON[CreateClientResponse](t, r)
	id, first := cr.Client.ID, cr.Secret
	if first.Value == "" || first.ID == "" || !strings.HasSuffix(first.Value, first.Hint) {
		t.Fatalf("first secret not shown: %+v", first)
	}
	if got := r.header.Get("Location"); got != "/admin/api/clients/"+id {
		t.Errorf("Location = %q", got)
	}
	if !slices.Equal(cr.Client.Tenants, []string{tenantA}) {
		t.Errorf("tenants not canonical: %v", cr.Client.Tenants)
	}
	if f.token(t, id, first.Value, tenantA) != http.StatusOK {
		t.Fatal("the new client's secret does not get a token")
	}

	// Rotation: add a secret, switch, revoke the old one.
	r = f.do(t, "POST", "/admin/api/clients/"+id+"/secrets", `{"expires":"2030-01-01T00:00:00Z"}`)
	if r.status != http.StatusCreated {
		t.Fatalf("add secret: %d %s", r.status, r.body)
	}
	second := mustJSON[SecretJSON](t, r)
	if second.Value == "" || second.Value == first.Value || second.Expires == nil || second.Expires.Year() != 2030 {
		t.Fatalf("second secret: %+v", second)
	}
	for _, s := range []string{first.Value, second.Value} {
		if f.token(t, id, s, tenantA) != http.StatusOK {
			t.Fatal("both secrets must work during rotation")
		}
	}
	r = f.do(t, "POST", "/admin/api/clients/"+id+"/secrets/"+first.ID+"/revoke", "")
	if r.status != http.StatusOK || !mustJSON[SecretJSON](t, r).Revoked {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	if f.token(t, id, first.Value, tenantA) != http.StatusUnauthorized {
		t.Error("the revoked secret still gets tokens")
	}
	if f.token(t, id, second.Value, tenantA) != http.StatusOK {
		t.Error("the new secret stopped working")
	}

	// Secrets are never shown again, in any GET; digests never at all.
	for _, path := range []string{"/admin/api/clients", "/admin/api/clients/" + id} {
		r = f.do(t, "GET", path, "")
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d", path, r.status)
		}
		body := string(r.body)
		for _, leak := range []string{first.Value, second.Value, `"value"`, "sha256", "digest", "Digest"} {
			if strings.Contains(body, leak) {
				t.Errorf("GET %s shows %q: %s", path, leak, body)
			}
		}
	}
	got := mustJSON[ClientJSON](t, f.do(t, "GET", "/admin/api/clients/"+id, ""))
	if len(got.Secrets) != 2 || !got.Secrets[0].Revoked || got.Secrets[0].RevokedAt == nil || got.Secrets[1].Revoked {
		t.Errorf("client after rotation: %+v", got)
	}

	// Expire the new secret now (a past time), then clear the expiry.
	r = f.do(t, "PATCH", "/admin/api/clients/"+id+"/secrets/"+second.ID, `{"expires":"2000-01-01T00:00:00Z"}`)
	if r.status != http.StatusOK || f.token(t, id, second.Value, tenantA) != http.StatusUnauthorized {
		t.Fatalf("expire: %d %s", r.status, r.body)
	}
	r = f.do(t, "PATCH", "/admin/api/clients/"+id+"/secrets/"+second.ID, `{"expires":null}`)
	if r.status != http.StatusOK || mustJSON[SecretJSON](t, r).Expires != nil || f.token(t, id, second.Value, tenantA) != http.StatusOK {
		t.Fatalf("clear expiry: %d %s", r.status, r.body)
	}

	// Tenants: widen to B.
	r = f.do(t, "PUT", "/admin/api/clients/"+id+"/tenants", `{"tenants":["`+tenantA+`","`+strings.ToUpper(tenantB)+`"]}`)
	if r.status != http.StatusOK || !slices.Equal(mustJSON[ClientJSON](t, r).Tenants, []string{tenantA, tenantB}) {
		t.Fatalf("set tenants: %d %s", r.status, r.body)
	}
	if f.token(t, id, second.Value, tenantB) != http.StatusOK {
		t.Error("tenant B not allowed after PUT tenants")
	}

	if r = f.do(t, "DELETE", "/admin/api/clients/"+id+"/secrets/"+first.ID, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete secret: %d %s", r.status, r.body)
	}
	if r = f.do(t, "DELETE", "/admin/api/clients/"+id, ""); r.status != http.StatusNoContent {
		t.Fatalf("delete client: %d %s", r.status, r.body)
	}
	if r = f.do(t, "GET", "/admin/api/clients/"+id, ""); r.status != http.StatusNotFound {
		t.Fatalf("deleted client still found: %d", r.status)
	}
	want := []string{"clients", "clients", "clients", "clients", "clients", "clients", "clients", "clients"}
	if got := f.persist.calls(); !slices.Equal(got, want) {
		t.Errorf("persist calls = %v, want %v", got, want)
	}
}

func TestTenantRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	r := f.do(t, "POST", "/admin/api/tenants", `{"id":"{`+strings.ToUpper(tenantNew)+`}","name":"Northwind","patients":3,"seed":9}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	if got := mustJSON[TenantJSON](t, r); got.ID != tenantNew || got.Patients != 3 || got.Seed != 9 {
		t.Errorf("created %+v", got)
	}
	if r = f.do(t, "POST", "/admin/api/tenants", `{"id":"`+tenantNew+`"}`); r.status != http.StatusConflict {
		t.Errorf("duplicate tenant: %d %s", r.status, r.body)
	}
	ts := mustJSON[[]TenantJSON](t, f.do(t, "GET", "/admin/api/tenants", ""))
	if len(ts) != 3 || ts[2].ID != tenantNew {
		t.Errorf("list: %+v", ts)
	}
	r = f.do(t, "PATCH", "/admin/api/tenants/"+tenantNew, `{"upstream":"https://fhir.example.org/r3","down":true}`)
	if got := mustJSON[TenantJSON](t, r); r.status != http.StatusOK || got.Upstream != "https://fhir.example.org/r3" || !got.Down || got.Name != "Northwind" {
		t.Fatalf("map upstream: %d %s", r.status, r.body)
	}
	r = f.do(t, "PATCH", "/admin/api/tenants/"+strings.ToUpper(tenantNew), `{"patients":1000000,"seed":2}`)
	if got := mustJSON[TenantJSON](t, r); r.status != http.StatusOK || got.Upstream != "" || got.Patients != 1000000 {
		t.Fatalf("map synthetic: %d %s", r.status, r.body)
	}
	if got := mustJSON[TenantJSON](t, f.do(t, "GET", "/admin/api/tenants/"+tenantNew, "")); got.Patients != 1000000 || got.Seed != 2 {
		t.Errorf("GET after PATCH: %+v", got)
	}
	// A tenant a client uses cannot be removed.
	if r = f.do(t, "DELETE", "/admin/api/tenants/"+tenantA, ""); r.status != http.StatusConflict || !strings.Contains(string(r.body), seedClient) {
		t.Errorf("remove used tenant: %d %s", r.status, r.body)
	}
	if r = f.do(t, "DELETE", "/admin/api/tenants/"+tenantNew, ""); r.status != http.StatusNoContent {
		t.Fatalf("remove: %d %s", r.status, r.body)
	}
	if r = f.do(t, "GET", "/admin/api/tenants/"+tenantNew, ""); r.status != http.StatusNotFound {
		t.Errorf("removed tenant: %d", r.status)
	}
	if got := f.persist.calls(); !slices.Equal(got, []string{"tenants", "tenants", "tenants", "tenants"}) {
		t.Errorf("persist calls = %v", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	big := `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	sec := "/admin/api/clients/" + seedClient + "/secrets/sec_seed"
	cases := []struct {
		name, method, path, body string
		hdr                      []string
		status                   int
		code                     string
	}{
		{"no token", "GET", "/admin/api/clients", "", []string{"Authorization", ""}, 401, "unauthorized"},
		{"wrong token", "GET", "/admin/api/clients", "", []string{"Authorization", "Bearer nope"}, 401, "unauthorized"},
		{"basic scheme", "GET", "/admin/api/clients", "", []string{"Authorization", "Basic " + adminToken}, 401, "unauthorized"},
		{"unknown route", "GET", "/admin/api/nothing", "", nil, 404, "not_found"},
		{"unknown client", "GET", "/admin/api/clients/nobody", "", nil, 404, "not_found"},
		{"unknown tenant", "GET", "/admin/api/tenants/" + tenantNew, "", nil, 404, "not_found"},
		{"bad tenant id", "GET", "/admin/api/tenants/..", "", nil, 404, "not_found"},
		{"method", "PUT", "/admin/api/clients", `{}`, nil, 405, "method_not_allowed"},
		{"method tenants", "POST", "/admin/api/tenants/" + tenantA, `{}`, nil, 405, "method_not_allowed"},
		{"no body", "POST", "/admin/api/clients", "", nil, 400, "bad_request"},
		{"not json", "POST", "/admin/api/clients", `{"name":`, nil, 400, "bad_request"},
		{"array", "POST", "/admin/api/clients", `[]`, nil, 400, "bad_request"},
		{"trailing", "POST", "/admin/api/clients", `{"name":"a"} {}`, nil, 400, "bad_request"},
		{"duplicate key", "POST", "/admin/api/clients", `{"name":"a","name":"b"}`, nil, 400, "bad_request"},
		{"duplicate nested key", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","name":"x","name":"y"}`, nil, 400, "bad_request"},
		{"invalid utf-8", "POST", "/admin/api/clients", "{\"name\":\"a\xff\"}", nil, 400, "bad_request"},
		{"unknown field", "POST", "/admin/api/clients", `{"name":"a","secret":"x"}`, nil, 400, "bad_request"},
		{"wrong type", "POST", "/admin/api/clients", `{"name":7}`, nil, 400, "bad_request"},
		{"text/plain", "POST", "/admin/api/clients", `{"name":"a"}`, []string{"Content-Type", "text/plain"}, 415, "unsupported_media_type"},
		{"too large", "POST", "/admin/api/clients", big, nil, 413, "too_large"},
		{"empty name", "POST", "/admin/api/clients", `{"name":""}`, nil, 400, "invalid"},
		{"control name", "POST", "/admin/api/clients", `{"name":"a\u0000b"}`, nil, 400, "invalid"},
		{"bad guid", "POST", "/admin/api/clients", `{"name":"a","tenants":["nope"]}`, nil, 400, "invalid"},
		{"unknown tenant for client", "POST", "/admin/api/clients", `{"name":"a","tenants":["` + tenantNew + `"]}`, nil, 400, "invalid"},
		{"tenants missing", "PUT", "/admin/api/clients/" + seedClient + "/tenants", `{}`, nil, 400, "bad_request"},
		{"tenants of unknown client", "PUT", "/admin/api/clients/nobody/tenants", `{"tenants":["*"]}`, nil, 404, "not_found"},
		{"secret of unknown client", "POST", "/admin/api/clients/nobody/secrets", "", nil, 404, "not_found"},
		{"bad expires", "POST", "/admin/api/clients/" + seedClient + "/secrets", `{"expires":"tomorrow"}`, nil, 400, "bad_request"},
		{"patch without expires", "PATCH", sec, `{}`, nil, 400, "bad_request"},
		{"patch bad expires", "PATCH", sec, `{"expires":12}`, nil, 400, "bad_request"},
		{"revoke unknown secret", "POST", "/admin/api/clients/" + seedClient + "/secrets/sec_nope/revoke", "", nil, 404, "not_found"},
		{"delete unknown secret", "DELETE", "/admin/api/clients/" + seedClient + "/secrets/sec_nope", "", nil, 404, "not_found"},
		{"delete unknown client", "DELETE", "/admin/api/clients/nobody", "", nil, 404, "not_found"},
		{"tenant bad guid", "POST", "/admin/api/tenants", `{"id":"x"}`, nil, 400, "invalid"},
		{"tenant patients", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","patients":1000001}`, nil, 400, "invalid"},
		{"tenant negative", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","patients":-1}`, nil, 400, "invalid"},
		{"tenant ftp", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","upstream":"ftp://x/fhir"}`, nil, 400, "invalid"},
		{"tenant userinfo", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","upstream":"https://u:p@x/fhir"}`, nil, 400, "invalid"},
		{"tenant query", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","upstream":"https://x/fhir?a=b"}`, nil, 400, "invalid"},
		{"tenant both", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","upstream":"https://x/fhir","patients":3}`, nil, 400, "bad_request"},
		{"tenant fixtures", "POST", "/admin/api/tenants", `{"id":"` + tenantNew + `","fixtures":["/etc/passwd"]}`, nil, 400, "bad_request"},
		{"patch both", "PATCH", "/admin/api/tenants/" + tenantA, `{"upstream":"https://x","seed":1}`, nil, 400, "bad_request"},
		{"patch relative", "PATCH", "/admin/api/tenants/" + tenantA, `{"upstream":"/fhir"}`, nil, 400, "invalid"},
		{"patch unknown", "PATCH", "/admin/api/tenants/" + tenantNew, `{"down":true}`, nil, 404, "not_found"},
		{"patch id", "PATCH", "/admin/api/tenants/" + tenantA, `{"id":"` + tenantNew + `"}`, nil, 400, "bad_request"},
		{"remove unknown", "DELETE", "/admin/api/tenants/" + tenantNew, "", nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, tc.method, tc.path, tc.body, tc.hdr...)
			if r.status != tc.status || r.errCode() != tc.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tc.method, tc.path, r.status, r.body, tc.status, tc.code)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			switch tc.status {
			case 401:
				if got := r.header.Get("WWW-Authenticate"); got != `Bearer realm="fhirsandbox-admin"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
			case 405:
				if r.header.Get("Allow") == "" {
					t.Error("405 without Allow")
				}
			}
		})
	}
	// Nothing above changed anything.
	if got := f.persist.calls(); len(got) != 0 {
		t.Errorf("failed requests persisted: %v", got)
	}
	if n := len(f.svc.Clients()); n != 1 {
		t.Errorf("%d clients after failed requests", n)
	}
}

func TestCrossSiteAndRemote(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cases := []struct {
		name   string
		method string
		hdr    []string
		status int
		code   string
	}{
		{"cross-site POST", "POST", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_origin"},
		{"foreign Origin POST", "POST", []string{"Origin", "https://evil.example"}, 403, "cross_origin"},
		{"cross-site GET is harmless", "GET", []string{"Sec-Fetch-Site", "cross-site"}, 200, ""},
		{"same-origin POST", "POST", []string{"Sec-Fetch-Site", "same-origin"}, 201, ""},
		{"through ngrok", "GET", []string{"X-Forwarded-For", "198.51.100.7"}, 403, "remote_refused"},
		{"Forwarded", "GET", []string{"Forwarded", "for=198.51.100.7"}, 403, "remote_refused"},
		{"X-Forwarded-Host", "GET", []string{"X-Forwarded-Host", "abc.ngrok.app"}, 403, "remote_refused"},
	}
	t.Run("group", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				path, body := "/admin/api/clients", ""
				if tc.method == "POST" {
					body = `{"name":"x","tenants":["*"]}`
				}
				r := f.do(t, tc.method, path, body, tc.hdr...)
				if r.status != tc.status || (tc.code != "" && r.errCode() != tc.code) {
					t.Fatalf("%d %s, want %d %s", r.status, r.body, tc.status, tc.code)
				}
				if tc.code == "remote_refused" && !strings.Contains(string(r.body), "admin.allow_remote") {
					t.Errorf("the refusal does not name admin.allow_remote: %s", r.body)
				}
			})
		}
	})
	if n := len(f.svc.Clients()); n != 2 {
		t.Errorf("%d clients, want the seed and the one same-origin POST", n)
	}
}

func TestLocalOnly(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	cases := []struct {
		remote string
		hdr    string
		allow  bool
		want   int
	}{
		{"127.0.0.1:5000", "", false, http.StatusTeapot},
		{"[::1]:5000", "", false, http.StatusTeapot},
		{"[::ffff:127.0.0.1]:5000", "", false, http.StatusTeapot},
		{"203.0.113.5:5000", "", false, http.StatusForbidden},
		{"[2001:db8::1]:5000", "", false, http.StatusForbidden},
		{"garbage", "", false, http.StatusForbidden},
		{"127.0.0.1:5000", "X-Forwarded-For", false, http.StatusForbidden},
		{"127.0.0.1:5000", "X-Real-Ip", false, http.StatusForbidden},
		{"203.0.113.5:5000", "X-Forwarded-For", true, http.StatusTeapot},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", "/admin/", nil)
		req.RemoteAddr = tc.remote
		if tc.hdr != "" {
			req.Header.Set(tc.hdr, "1.2.3.4")
		}
		rec := httptest.NewRecorder()
		LocalOnly(tc.allow, ok).ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s allow=%v: %d, want %d", tc.remote, tc.hdr, tc.allow, rec.Code, tc.want)
		}
		if rec.Code == http.StatusForbidden && !strings.Contains(rec.Body.String(), "admin.allow_remote") {
			t.Errorf("refusal does not name admin.allow_remote: %s", rec.Body)
		}
	}
	// Through the API with AllowRemote, a remote caller still needs the token.
	h := NewAPI(New(Options{Clients: newFixture(t).auth.Registry(), Tenants: tenantRegistry(t)}), APIOptions{Token: adminToken, AllowRemote: true})
	req := httptest.NewRequest("GET", "/admin/api/clients", nil)
	req.RemoteAddr = "203.0.113.5:5000"
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("remote without token: %d", rec.Code)
	}
	// An empty configured token refuses everyone.
	h = NewAPI(New(Options{Clients: newFixture(t).auth.Registry(), Tenants: tenantRegistry(t)}), APIOptions{})
	req = httptest.NewRequest("GET", "/admin/api/clients", nil)
	req.RemoteAddr = "127.0.0.1:5000"
	req.Header.Set("Authorization", "Bearer ")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("empty token: %d", rec.Code)
	}
}
