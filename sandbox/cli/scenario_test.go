package cli

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

func TestScenarioListShowValidate(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(context.Background(), "scenario", "list")
	if code != 0 || !strings.Contains(out, "expired-secret") || !strings.Contains(out, "patients-app-stu3") || strings.Count(out, "\n") < 21 {
		t.Fatalf("list: %d\n%s", code, out)
	}
	code, out, _ = runCLI(context.Background(), "scenario", "show", "slow-ehr")
	if code != 0 || !strings.HasPrefix(out, "name: slow-ehr") {
		t.Errorf("show: %d %.80s", code, out)
	}
	if code, _, errOut := runCLI(context.Background(), "scenario", "show", "../etc/passwd"); code != 2 || !strings.Contains(errOut, "no built-in scenario") {
		t.Errorf("show of a path: %d %s", code, errOut)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bad\ndescription: x\nrules:\n  - match: {method: GET}\n    latency: soon\n    colour: red\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(context.Background(), "scenario", "validate", bad)
	if code != 2 || !strings.Contains(errOut, bad+":5:") || !strings.Contains(errOut, bad+":6:") {
		t.Errorf("validate: %d\n%s", code, errOut)
	}
}

// TestScenarioRun runs built-in scenarios through the command, with JUnit
// and JSON reports, and a failing scenario file that must exit non-zero.
func TestScenarioRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	junit := filepath.Join(dir, "report.xml")
	code, out, errOut := runCLI(context.Background(), "scenario", "run", "expired-secret", "throttled-429", "--junit", junit)
	if code != 0 || !strings.Contains(out, "scenario expired-secret") || !strings.Contains(out, "PASS") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Tests int    `xml:"tests,attr"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &suites); err != nil || len(suites.Suites) != 2 || suites.Suites[0].Tests == 0 {
		t.Errorf("junit: %v %+v\n%s", err, suites, b)
	}
	failing := filepath.Join(dir, "failing.yaml")
	os.WriteFile(failing, []byte("name: failing\ndescription: metadata is not a teapot\nsteps:\n  - name: wrong status\n    request: {path: /stu3/metadata, auth: none}\n    expect: {status: 418}\n"), 0o600)
	code, out, _ = runCLI(context.Background(), "scenario", "run", failing, "--json")
	var reports []struct {
		Scenario string `json:"scenario"`
		Steps    []struct {
			Pass   bool   `json:"pass"`
			Reason string `json:"reason"`
		} `json:"steps"`
	}
	if code != 1 || json.Unmarshal([]byte(out), &reports) != nil || len(reports) != 1 || reports[0].Steps[0].Pass || !strings.Contains(reports[0].Steps[0].Reason, "418") {
		t.Errorf("failing scenario: %d\n%s", code, out)
	}
}

// TestCheck points check at a sandbox's DSTU2 and STU3 bases: it reads
// each base's metadata and runs the matching conformance scenario.
func TestCheck(t *testing.T) {
	t.Parallel()
	cfg := sandbox.DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 20, 1
	s, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	for _, rel := range spec.Releases() {
		release := rel.Name
		code, out, errOut := runCLI(context.Background(), "check", "--target", srv.URL+rel.Base(),
			"--client-id", "teams-patients-app", "--client-secret", "change-me-dev-secret", "--tenant", sandbox.ContosoTenant)
		if code != 0 || !strings.Contains(out, "patients-app-"+release) || strings.Contains(out, "FAIL") {
			t.Errorf("check %s: %d\n%s\n%s", release, code, out, errOut)
		}
	}
	if code, _, errOut := runCLI(context.Background(), "check", "--target", srv.URL+"/nowhere", "--client-id", "x"); code != 1 || !strings.Contains(errOut, "metadata") {
		t.Errorf("check of a non-FHIR base: %d %s", code, errOut)
	}
}
