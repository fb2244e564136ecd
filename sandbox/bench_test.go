package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// BenchmarkBearerOverhead measures GET Patient/{id} through the whole
// server with auth.required true (a real RS256 token on every request)
// and false, in one run, so their ratio is the cost of the bearer check.
func BenchmarkBearerOverhead(b *testing.B) {
	for _, required := range []bool{false, true} {
		cfg := DefaultConfig()
		cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 50, 1
		cfg.Auth.Required = required
		s, err := New(cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		tok := ""
		if required {
			res, err := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant}})
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			tok = between(string(body), `"access_token":"`, `"`)
		}
		name := "auth-off"
		if required {
			name = "auth-on"
		}
		b.Run(name, func(b *testing.B) {
			c := srv.Client()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", srv.URL+"/stu3/Patient/pat-7", nil)
					if tok != "" {
						req.Header.Set("Authorization", "Bearer "+tok)
					}
					res, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != 200 {
						b.Errorf("status %d", res.StatusCode)
						return
					}
				}
			})
		})
		srv.Close()
	}
}
