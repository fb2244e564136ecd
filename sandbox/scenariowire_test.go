package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestScenarioSwitchAndJournal switches a built-in scenario on and off at
// run time through the admin API and reads the request journal.
func TestScenarioSwitchAndJournal(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 5, 1
	cfg.Admin.Token = "admin-token-for-scenario-tests"
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	admin := func(method, path, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	tokenStatus := func() int {
		res, err := http.Post(srv.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader("grant_type=client_credentials&client_id=teams-patients-app&client_secret=change-me-dev-secret&scope="+ContosoTenant))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if st := tokenStatus(); st != 200 {
		t.Fatalf("token before the scenario: %d", st)
	}
	if st, b := admin("POST", "/admin/api/scenarios", `{"name":"flaky-token-endpoint"}`); st != 200 || !strings.Contains(string(b), "flaky-token-endpoint") {
		t.Fatalf("activate: %d %s", st, b)
	}
	if st := tokenStatus(); st == 200 {
		t.Errorf("the flaky token endpoint answered 200 at once")
	}
	if st, b := admin("GET", "/admin/api/scenarios", ""); st != 200 || !strings.Contains(string(b), `"active":["flaky-token-endpoint"]`) {
		t.Errorf("list: %d %.300s", st, b)
	}
	if st, _ := admin("DELETE", "/admin/api/scenarios/flaky-token-endpoint", ""); st != 204 {
		t.Errorf("deactivate: %d", st)
	}
	if st := tokenStatus(); st != 200 {
		t.Errorf("token after the scenario was switched off: %d", st)
	}
	if st, _ := admin("POST", "/admin/api/scenarios", `{"name":"../../etc/passwd"}`); st != 400 {
		t.Errorf("path as a scenario name: %d", st)
	}
	// the journal lists the token requests, never the secret
	st, b := admin("GET", "/admin/api/requests?client=teams-patients-app", "")
	var body struct {
		Entries []struct {
			Path   string   `json:"path"`
			Status int      `json:"status"`
			Faults []string `json:"faults"`
		} `json:"entries"`
	}
	if st != 200 || json.Unmarshal(b, &body) != nil || len(body.Entries) < 3 {
		t.Fatalf("journal: %d %s", st, b)
	}
	if strings.Contains(string(b), "change-me-dev-secret") {
		t.Errorf("the journal holds a secret: %s", b)
	}
	req, _ := http.NewRequest("GET", srv.URL+"/admin/api/requests", nil)
	req.Header.Set("X-Forwarded-For", "203.0.113.9")
	req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Errorf("journal through a tunnel: %d", res.StatusCode)
	}
}
