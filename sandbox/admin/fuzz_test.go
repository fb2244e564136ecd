package admin

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzAPIBodies sends arbitrary bodies to every route that reads one. The
// answer is always JSON of the documented shape and never a 500.
func FuzzAPIBodies(f *testing.F) {
	routes := []struct{ method, path string }{
		{"POST", "/admin/api/clients"},
		{"PUT", "/admin/api/clients/" + seedClient + "/tenants"},
		{"POST", "/admin/api/clients/" + seedClient + "/secrets"},
		{"PATCH", "/admin/api/clients/" + seedClient + "/secrets/sec_seed"},
		{"POST", "/admin/api/clients/" + seedClient + "/secrets/sec_seed/revoke"},
		{"POST", "/admin/api/tenants"},
		{"PATCH", "/admin/api/tenants/" + tenantA},
	}
	for i, s := range []string{`{"name":"a","tenants":["*"]}`, `{"tenants":["` + tenantA + `"]}`, `{"expires":"2030-01-01T00:00:00Z"}`,
		`{"expires":null}`, ``, `{"id":"` + tenantNew + `","patients":5}`, `{"upstream":"https://x/fhir","name":"\u0000"}`, `{"patients":1e400}`} {
		f.Add(uint8(i), s)
	}
	fx := newFixture(f)
	h := NewAPI(fx.svc, APIOptions{Token: adminToken})
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := routes[int(route)%len(routes)]
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		req.RemoteAddr = "127.0.0.1:4000"
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", rt.method, rt.path, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e ErrorJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" || e.Message == "" {
				t.Fatalf("error body %q: %v", rec.Body, err)
			}
		}
		if strings.Contains(rec.Body.String(), "sha256") {
			t.Fatalf("digest shown: %s", rec.Body)
		}
	})
}
