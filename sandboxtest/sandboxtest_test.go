package sandboxtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandboxtest"
)

// search GETs base+path with a bearer token and decodes the JSON answer.
func search(t *testing.T, sb *sandboxtest.Server, url, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/fhir+json")
	res, err := sb.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %s: %v", url, res.Status, err)
	}
	return res.StatusCode, body
}

// TestClientFlow is what a client's test does: token, search on every
// release, a scenario switched on and off, the journal read and cleared.
func TestClientFlow(t *testing.T) {
	const patients = 7
	sb := sandboxtest.New(t, sandboxtest.WithPatients(patients), sandboxtest.WithTenants(3))
	if len(sb.Tenants) != 3 || len(slices.Compact(slices.Sorted(slices.Values(sb.Tenants)))) != 3 {
		t.Fatalf("tenants %q: want 3 distinct", sb.Tenants)
	}
	if sb.ClientSecret == "" || sb.ClientSecret == "change-me-dev-secret" {
		t.Errorf("client secret %q: want a fresh one", sb.ClientSecret)
	}
	for _, tenant := range sb.Tenants {
		tok := sb.Token(tenant)
		for rel, base := range sb.Bases {
			if base != sb.BaseURL(rel) || !strings.HasPrefix(base, sb.URL+"/") {
				t.Errorf("base of %s = %q", rel, base)
			}
			status, body := search(t, sb, base+"/Patient?_summary=count", tok)
			if status != 200 || body["total"] != float64(patients) {
				t.Errorf("%s tenant %s: %d total %v, want 200 total %d", rel, tenant, status, body["total"], patients)
			}
		}
	}

	// a token for another tenant's GUID that is not configured is refused
	_, err := sb.FetchToken(context.Background(), "00000000-0000-4000-8000-000000000000")
	var te *sandboxtest.TokenError
	if !errors.As(err, &te) || te.Status != 400 || te.Code != "invalid_scope" {
		t.Errorf("unknown tenant: err %v, want a 400 invalid_scope TokenError", err)
	}

	if err := sb.ClearRequests(); err != nil {
		t.Fatal(err)
	}
	if err := sb.EnableScenario("throttled-429"); err != nil {
		t.Fatal(err)
	}
	if active, err := sb.ActiveScenarios(); err != nil || !slices.Equal(active, []string{"throttled-429"}) {
		t.Fatalf("active %q, %v", active, err)
	}
	if err := sb.EnableScenario("no-such-scenario"); err == nil {
		t.Error("an unknown scenario was switched on")
	}
	tok := sb.Token(sb.Tenants[0])
	var statuses []int
	for range 4 {
		st, _ := search(t, sb, sb.BaseURL("stu3")+"/Patient?_count=1", tok)
		statuses = append(statuses, st)
	}
	if !slices.Contains(statuses, http.StatusTooManyRequests) {
		t.Errorf("statuses %v with throttled-429 on: want a 429", statuses)
	}
	reqs, err := sb.Requests()
	if err != nil {
		t.Fatal(err)
	}
	faulted := 0
	for _, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			faulted++
			if len(r.Faults) == 0 || r.Tenant != sb.Tenants[0] || r.Client != sb.ClientID {
				t.Errorf("journal entry of the 429: %+v, want its fault, tenant and client", r)
			}
		}
	}
	if faulted != countOf(statuses, 429) {
		t.Errorf("journal has %d 429s, the client saw %d", faulted, countOf(statuses, 429))
	}
	if err := sb.DisableScenario("throttled-429"); err != nil {
		t.Fatal(err)
	}
	if err := sb.DisableScenario("throttled-429"); err == nil {
		t.Error("switching off a scenario that is off: no error")
	}
	for range 4 {
		if st, _ := search(t, sb, sb.BaseURL("stu3")+"/Patient?_count=1", tok); st != 200 {
			t.Errorf("scenario off: %d", st)
		}
	}
	if err := sb.ClearRequests(); err != nil {
		t.Fatal(err)
	}
	// only the admin calls since the clear are left
	reqs, err = sb.Requests()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reqs {
		if !strings.HasPrefix(r.Path, "/admin/api/") {
			t.Errorf("after ClearRequests: %s %s is still in the journal", r.Method, r.Path)
		}
	}
}

func countOf(xs []int, x int) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// TestOptions: the scenarios directory, config YAML, seeds and errors.
func TestOptions(t *testing.T) {
	dir := t.TempDir()
	const sc = `name: teapot
description: every Patient search is answered 418
rules:
  - name: teapot
    match: {path: "/r4/Patient"}
    respond: {status: 418, operation_outcome: {code: processing, diagnostics: "short and stout"}}
`
	if err := os.WriteFile(filepath.Join(dir, "teapot.yaml"), []byte(sc), 0o644); err != nil {
		t.Fatal(err)
	}
	const tenant = "11111111-2222-4333-8444-555555555555"
	const secret = "a-long-enough-test-secret"
	yml := `tenants:
  - {id: ` + tenant + `, name: Test General, patients: 3, seed: 9}
clients:
  - id: ci-client
    tenants: ["*"]
    secrets: [{value: ` + secret + `}]
`
	sb := sandboxtest.New(t, sandboxtest.WithScenariosDir(dir), sandboxtest.WithConfigYAML(yml))
	if sb.ClientID != "ci-client" || sb.ClientSecret != secret || !slices.Equal(sb.Tenants, []string{tenant}) {
		t.Fatalf("from the config: client %q secret %q tenants %q", sb.ClientID, sb.ClientSecret, sb.Tenants)
	}
	tok := sb.Token(tenant)
	if st, body := search(t, sb, sb.BaseURL("r4")+"/Patient?_summary=count", tok); st != 200 || body["total"] != float64(3) {
		t.Errorf("config tenant: %d %v", st, body["total"])
	}
	if err := sb.EnableScenario("teapot"); err != nil {
		t.Fatal(err)
	}
	if st, _ := search(t, sb, sb.BaseURL("r4")+"/Patient", tok); st != 418 {
		t.Errorf("teapot on: %d, want 418", st)
	}

	// the same seed gives the same patients; another seed others
	ids := func(opts ...sandboxtest.Option) string {
		sb := sandboxtest.New(t, opts...)
		_, body := search(t, sb, sb.BaseURL("stu3")+"/Patient?_count=3&_elements=name", sb.Token(sb.Tenants[0]))
		var res []any // the resources, not their fullUrls (the port differs)
		for _, e := range body["entry"].([]any) {
			res = append(res, e.(map[string]any)["resource"])
		}
		b, _ := json.Marshal(res)
		return string(b)
	}
	a, b, c := ids(sandboxtest.WithSeed(5), sandboxtest.WithPatients(3)), ids(sandboxtest.WithSeed(5), sandboxtest.WithPatients(3)), ids(sandboxtest.WithSeed(6), sandboxtest.WithPatients(3))
	if a != b || a == c {
		t.Errorf("seeds: same seed equal %v, other seed differs %v", a == b, a != c)
	}

	for name, opt := range map[string]sandboxtest.Option{
		"patients": sandboxtest.WithPatients(-1),
		"tenants":  sandboxtest.WithTenants(0),
		"release":  sandboxtest.WithDefaultRelease("r5"),
		"dir":      sandboxtest.WithScenariosDir(filepath.Join(dir, "missing")),
		"yaml":     sandboxtest.WithConfigYAML("tenants: 3\n"),
		"file":     sandboxtest.WithConfigFile(filepath.Join(dir, "missing.yaml")),
	} {
		if s, err := sandboxtest.NewServer(opt); err == nil {
			s.Close()
			t.Errorf("%s: a bad option was accepted", name)
		}
	}
	if _, err := sandboxtest.NewServer(sandboxtest.WithConfigYAML("listen: [\n")); err == nil || !strings.Contains(err.Error(), "sandbox.yaml:") {
		t.Errorf("bad YAML: %v, want a sandbox.yaml:line error", err)
	}
}
