package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
)

const shipAdminToken = "ship-admin-token-0123456789abcdef"

// realSandbox runs the whole sandbox (sandbox.New, every route) on a
// loopback httptest server.
func realSandbox(t *testing.T, edit func(*sandbox.Config)) (string, *sandbox.Server) {
	t.Helper()
	cfg := sandbox.DefaultConfig()
	for i := range cfg.Tenants {
		cfg.Tenants[i].Patients = 3
	}
	cfg.Admin.Token = shipAdminToken
	if edit != nil {
		edit(&cfg)
	}
	srv, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return hs.URL, srv
}

// adminCall calls the admin API of base with the test's admin token.
func adminCall(t *testing.T, method, target, body string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shipAdminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// tokenStatus asks base's token endpoint for a token and returns the
// status.
func tokenStatus(t *testing.T, base, client, secret, tenantID string) int {
	t.Helper()
	res, err := http.PostForm(base+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {tenantID}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestClientWithoutTenantsGetsEveryTenant: the CLI without --tenant and
// the admin API without tenants (or with an empty list) make a client of
// every tenant, the documented default (the portal's form: portal
// package).
func TestClientWithoutTenantsGetsEveryTenant(t *testing.T) {
	t.Parallel()
	base, srv := realSandbox(t, nil)
	code, out, errOut := runCLI(context.Background(), "clients", "create", "No tenants given", "--url", base, "--admin-token", shipAdminToken)
	if code != 0 {
		t.Fatalf("clients create: exit %d: %s", code, errOut)
	}
	if !regexp.MustCompile(`(?m)^tenants:\s+\*$`).MatchString(out) {
		t.Errorf("create output does not show every tenant:\n%s", out)
	}
	id, secret := match(t, clientLine, out), match(t, secretLine, out)
	for _, tn := range srv.Config().Tenants {
		if st := tokenStatus(t, base, id, secret, tn.ID); st != http.StatusOK {
			t.Errorf("token of the CLI's client for %s: %d", tn.ID, st)
		}
	}
	for _, body := range []string{`{"name":"api, no key"}`, `{"name":"api, empty","tenants":[]}`, `{"name":"api, null","tenants":null}`} {
		st, b := adminCall(t, "POST", base+"/admin/api/clients", body)
		var resp admin.CreateClientResponse
		if st != http.StatusCreated || json.Unmarshal(b, &resp) != nil {
			t.Fatalf("POST %s: %d %s", body, st, b)
		}
		if len(resp.Client.Tenants) != 1 || resp.Client.Tenants[0] != "*" {
			t.Errorf("POST %s: tenants %v, want [*]", body, resp.Client.Tenants)
		}
		for _, tn := range srv.Config().Tenants {
			if st := tokenStatus(t, base, resp.Client.ID, resp.Secret.Value, tn.ID); st != http.StatusOK {
				t.Errorf("token of the API's client for %s: %d", tn.ID, st)
			}
		}
	}
}

// TestTenantsAddDefaultsRemove: tenants add without --patients/--seed
// gets the config's tenant_defaults (the admin API fills them in), an
// explicit 0 is kept, and tenants remove removes.
func TestTenantsAddDefaultsRemove(t *testing.T) {
	t.Parallel()
	defaults := sandbox.TenantDefaults{Patients: 17, Seed: 1234}
	base, _ := realSandbox(t, func(c *sandbox.Config) { c.TenantDefaults = defaults })
	cli := func(args ...string) (int, string, string) {
		return runCLI(context.Background(), append(args, "--url", base, "--admin-token", shipAdminToken)...)
	}
	const a, b = "0b7d8c2e-1f3a-4c5b-9d6e-7f8a9b0c1d2e", "1c8e9d3f-2a4b-4d6c-8e7f-8a9b0c1d2e3f"
	code, out, errOut := cli("tenants", "add", a, "--name", "Northwind")
	if want := fmt.Sprintf("synthetic, %d patients, seed %d", defaults.Patients, defaults.Seed); code != 0 || !strings.Contains(out, want) {
		t.Fatalf("tenants add without --patients/--seed: exit %d\n%s%s\nwant %q", code, out, errOut, want)
	}
	code, out, errOut = cli("tenants", "add", b, "--name", "Empty", "--patients", "0", "--seed", "5")
	if code != 0 || !strings.Contains(out, "synthetic, 0 patients, seed 5") {
		t.Fatalf("tenants add --patients 0: exit %d\n%s%s", code, out, errOut)
	}
	// the API itself: a body without patients gets the defaults too
	st, body := adminCall(t, "POST", base+"/admin/api/tenants", `{"id":"2d9fae40-3b5c-4e7d-9f80-9bac1d2e3f40","name":"API"}`)
	var tj admin.TenantJSON
	if st != http.StatusCreated || json.Unmarshal(body, &tj) != nil || tj.Patients != defaults.Patients || tj.Seed != defaults.Seed {
		t.Fatalf("POST tenant without patients: %d %s", st, body)
	}
	// the portal's add-tenant form starts with the same defaults
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	res, err := browser.PostForm(base+"/portal/signin", url.Values{"token": {shipAdminToken}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if want := fmt.Sprintf(`name="patients" type="number" min="0" max="1000000" value="%d"`, defaults.Patients); !strings.Contains(string(page), want) || !strings.Contains(string(page), fmt.Sprintf(`name="seed" type="number" value="%d"`, defaults.Seed)) {
		t.Errorf("portal add-tenant form does not start with tenant_defaults (%d, %d)", defaults.Patients, defaults.Seed)
	}
	if code, out, errOut := cli("tenants", "remove", a); code != 0 || !strings.Contains(out, "removed tenant "+a) {
		t.Fatalf("tenants remove: exit %d\n%s%s", code, out, errOut)
	}
	if _, out, _ := cli("tenants", "list"); strings.Contains(out, a) || !strings.Contains(out, b) {
		t.Errorf("tenants list after remove:\n%s", out)
	}
	if code, _, errOut := cli("tenants", "remove", a); code != 1 || !strings.Contains(errOut, "404") {
		t.Errorf("removing it again: exit %d %s", code, errOut)
	}
	if code, _, errOut := cli("tenants", "remove"); code != 2 || !strings.Contains(errOut, "want 1 argument") {
		t.Errorf("remove without GUID: exit %d %s", code, errOut)
	}
}

// TestRequestsClear: `requests clear` empties the journal that GET
// /admin/api/requests serves.
func TestRequestsClear(t *testing.T) {
	t.Parallel()
	base, _ := realSandbox(t, nil)
	for range 3 {
		res, err := http.Get(base + "/stu3/metadata?marker=before-clear")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	journal := func() string {
		st, b := adminCall(t, "GET", base+"/admin/api/requests", "")
		if st != http.StatusOK {
			t.Fatalf("GET requests: %d %s", st, b)
		}
		return string(b)
	}
	// an entry is added once its response is written, which the client
	// may see first: wait for the three
	for deadline := time.Now().Add(10 * time.Second); ; {
		j := journal()
		if strings.Count(j, "before-clear") == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal before the clear:\n%s", j)
		}
		time.Sleep(20 * time.Millisecond)
	}
	code, out, errOut := runCLI(context.Background(), "requests", "clear", "--url", base, "--admin-token", shipAdminToken)
	if code != 0 || !strings.Contains(out, "cleared") {
		t.Fatalf("requests clear: exit %d %s %s", code, out, errOut)
	}
	if j := journal(); strings.Contains(j, "before-clear") {
		t.Errorf("journal after the clear still holds the requests:\n%s", j)
	}
	if code, _, errOut := runCLI(context.Background(), "requests", "clear", "--url", base, "--admin-token", "wrong-token-0123456789"); code != 1 || !strings.Contains(errOut, "401") {
		t.Errorf("requests clear with a wrong token: exit %d %s", code, errOut)
	}
}

// TestConfigCheck: one run reports the YAML mistakes, the semantic ones
// (the 16-character secret minimum among them) and the warnings, each as
// file:line, and exits 2; a valid file exits 0.
func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.yaml")
	lines := []string{
		"fhir_version: r5",      // unknown release
		"listn: 127.0.0.1:8080", // unknown key (YAML problem)
		"tenants:",              //
		"  - id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", //
		"    name: A", //
		"  - id: 2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C", // duplicate
		"    name: B",          //
		"  - id: not-a-guid",   // bad GUID
		"    name: C",          //
		"clients:",             //
		"  - id: app",          //
		"    name: App",        //
		"    tenants: ['*']",   //
		"    secrets:",         //
		"      - value: short", // under 16
		"      - value: a-long-enough-secret-0123",            //
		"        expires: 2020-01-01T00:00:00Z",               // expired: warning
		"  - id: app",                                         // duplicate client
		"    name: Again",                                     //
		"    tenants: ['*']",                                  //
		"    secrets: [{value: another-long-secret-0123456}]", //
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lineOf := func(prefix string, nth int) int {
		for i, l := range lines {
			if strings.HasPrefix(l, prefix) {
				if nth == 0 {
					return i + 1
				}
				nth--
			}
		}
		t.Fatalf("no line %q", prefix)
		return 0
	}
	code, out, errOut := runCLI(context.Background(), "config", "check", path)
	if code != exitUsage {
		t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, out, errOut)
	}
	for _, want := range []struct {
		line int
		text string
	}{
		{lineOf("fhir_version", 0), `"r5" is not a supported release`},
		{lineOf("listn", 0), "listn"},
		{lineOf("  - id: 2F4A", 0), "duplicate tenant"},
		{lineOf("  - id: not-a-guid", 0), "not a GUID"},
		{lineOf("      - value: short", 0), "too short: 5 characters (want 16"},
		{lineOf("  - id: app", 1), `duplicate client id "app"`},
		{lineOf("        expires: 2020", 0), "warning: clients[0].secrets[1].expires: secret of client app expired on 2020-01-01"},
	} {
		prefix := fmt.Sprintf("%s:%d: ", path, want.line)
		found := false
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, want.text) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line %q...%q in:\n%s", prefix, want.text, out)
		}
	}
	if strings.Contains(out, "short\n") || strings.Contains(out, "a-long-enough-secret") {
		t.Error("a secret's value is printed")
	}
	if !strings.Contains(errOut, "6 error(s), 1 warning(s)") {
		t.Errorf("summary: %s", errOut)
	}

	// serve reports the same problems the same way, exit 2
	code, _, serveErr := runCLI(context.Background(), "serve", "--config", path, "--listen", "127.0.0.1:0")
	if code != exitUsage || !strings.Contains(serveErr, fmt.Sprintf("%s:%d: clients[0].secrets[0].value: too short", path, lineOf("      - value: short", 0))) {
		t.Errorf("serve on the bad config: exit %d\n%s", code, serveErr)
	}

	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("tenants:\n  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: A}\nclients:\n  - {id: app, name: App, tenants: ['*'], secrets: [{value: a-long-enough-secret-0123}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(context.Background(), "config", "check", good); code != 0 || !strings.Contains(out, "valid, 0 warning(s)") {
		t.Errorf("valid file: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(context.Background(), "config", "check", filepath.Join(dir, "missing.yaml")); code != exitUsage || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing file: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(context.Background(), "config", "check", good, good); code != exitUsage {
		t.Errorf("two files: exit %d", code)
	}
}

// fixedDeps returns deps with a fixed clock and a deterministic source of
// "random" bytes.
func fixedDeps(now time.Time, seed byte) deps {
	b := make([]byte, 4096)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return deps{now: func() time.Time { return now }, rand: bytes.NewReader(b)}
}
