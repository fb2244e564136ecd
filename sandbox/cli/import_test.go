package cli

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
)

// TestImportCommand drives `fhirsandbox import` against a real sandbox
// with a state file: a directory whose second file names the urn:uuid of
// the first, a file with problems (nothing stored, every problem listed,
// exit 2), an unknown tenant; after a restart on the same state file the
// imported resources are still served, so the import went through the
// journal like an API write.
func TestImportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := sandbox.DefaultConfig()
	cfg.Auth.Required = false // the first tenant serves
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 1, 1
	cfg.Admin.Token = "admin-token-for-import-tests"
	cfg.StateFile = filepath.Join(dir, "sandbox.state")
	tenantID := cfg.Tenants[0].ID
	var sb *sandbox.Server
	start := func() *httptest.Server {
		var err error
		if sb, err = sandbox.New(cfg, sandbox.Options{ValidateFixture: structural.Release}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(sb.Handler())
		t.Cleanup(srv.Close)
		t.Cleanup(func() { sb.Close() })
		return srv
	}
	get := func(srv *httptest.Server, path string) (int, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	data := filepath.Join(dir, "data")
	os.Mkdir(data, 0o755)
	os.WriteFile(filepath.Join(data, "1-org.json"), []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:org-1","resource":{"resourceType":"Organization","id":"imp-org","name":"Imported"},"request":{"method":"POST","url":"Organization"}}]}`), 0o600)
	os.WriteFile(filepath.Join(data, "2-pat.ndjson"), []byte(`{"resourceType":"Patient","id":"imp-pat","name":[{"family":"Imported"}],"managingOrganization":{"reference":"urn:uuid:org-1"}}`+"\n"+`{"resourceType":"Condition","subject":{"reference":"Patient/imp-pat"},"clinicalStatus":"active","verificationStatus":"confirmed","code":{"text":"x"}}`+"\n"), 0o600)
	os.WriteFile(filepath.Join(data, "notes.txt"), []byte("not loaded"), 0o600)
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(`{"resourceType":"Patient","id":"bad-1","managingOrganization":{"reference":"urn:uuid:nowhere"}}`+"\n"+`{"resourceType":"Patient","id":"x","id":"y"}`), 0o600)

	srv := start()
	run := func(args ...string) (int, string, string) {
		return runCLI(context.Background(), append([]string{"import", "--url", srv.URL, "--admin-token", cfg.Admin.Token}, args...)...)
	}
	code, out, errOut := run(data, "--tenant", tenantID, "--fhir-version", "stu3")
	if code != 0 || !strings.Contains(out, "1-org.json: 1 resources stored in stu3") || !strings.Contains(out, "2-pat.ndjson: 2 resources stored in stu3") || strings.Contains(out, "notes") {
		t.Fatalf("import dir: %d\n%s\n%s", code, out, errOut)
	}
	if st, b := get(srv, "/stu3/Patient/imp-pat"); st != 200 || !strings.Contains(b, `"reference":"Organization/imp-org"`) {
		t.Errorf("imported patient: %d %s", st, b)
	}
	if st, b := get(srv, "/stu3/Condition/2-pat-2"); st != 200 {
		t.Errorf("derived id of an imported entry: %d %s", st, b)
	}
	if st, _ := get(srv, "/r4/Patient/imp-pat"); st != 404 {
		t.Errorf("r4 holds the stu3 import: %d", st)
	}

	code, _, errOut = run(bad, "--tenant", tenantID)
	for _, want := range []string{"invalid fixtures", bad + `: entry 1: resource.managingOrganization.reference: reference "urn:uuid:nowhere" names no entry`, bad + ": entry 2: ", "duplicate"} {
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("bad import: exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
	if code, _, errOut = run(bad, "--tenant", "00000000-0000-0000-0000-000000000999"); code != exitFailure || !strings.Contains(errOut, "HTTP 404") {
		t.Errorf("unknown tenant: %d %s", code, errOut)
	}
	if code, _, errOut = run(filepath.Join(dir, "none"), "--tenant", tenantID); code != exitUsage || !strings.Contains(errOut, "no such file") {
		t.Errorf("missing file: %d %s", code, errOut)
	}

	srv.Close()
	sb.Close() // a restart: the state file's lock goes with the process
	srv = start()
	if st, b := get(srv, "/stu3/Patient/imp-pat"); st != 200 || !strings.Contains(b, "Organization/imp-org") {
		t.Errorf("import not journalled: after a restart %d %s", st, b)
	}
	if st, _ := get(srv, "/stu3/Patient/bad-1"); st != 404 {
		t.Errorf("a file with problems stored something: %d", st)
	}
}
