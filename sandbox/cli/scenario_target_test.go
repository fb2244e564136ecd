package cli

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandboxtest"
)

// teapot is a scenario whose steps pass only while its rule is on at the
// server the steps run against.
const teapot = `name: teapot-at-target
description: Patient reads are answered 418 while the scenario is on.
rules:
  - name: teapot
    match: {path: "/stu3/Patient"}
    respond: {status: 418, operation_outcome: {code: processing, diagnostics: "short and stout"}}
steps:
  - get_token: {}
  - name: the rule is on at the target
    request: {path: /stu3/Patient}
    expect: {status: 418}
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func activeAt(t *testing.T, sb *sandboxtest.Server) []string {
	t.Helper()
	active, err := sb.ActiveScenarios()
	if err != nil {
		t.Fatal(err)
	}
	return active
}

// TestScenarioRunTarget: --target switches the scenario on at the target
// through its admin API and off afterwards, after a failing run and an
// interrupted one too; without an admin token it refuses with exit 2.
func TestScenarioRunTarget(t *testing.T) {
	t.Parallel()
	sb := sandboxtest.New(t, sandboxtest.WithPatients(3))
	creds := []string{"--target", sb.URL, "--client-id", sb.ClientID, "--client-secret", sb.ClientSecret, "--tenant", sb.Tenants[0]}
	file := writeFile(t, "teapot.yaml", teapot)

	code, _, errOut := runCLI(context.Background(), append([]string{"scenario", "run", file}, creds...)...)
	if code != 2 || !strings.Contains(errOut, "--admin-token") || !strings.Contains(errOut, "switched on at the target") {
		t.Errorf("without an admin token: exit %d, want 2 and why\n%s", code, errOut)
	}

	withToken := append(creds, "--admin-token", sb.AdminToken)
	code, out, errOut := runCLI(context.Background(), append([]string{"scenario", "run", file}, withToken...)...)
	if code != 0 || !strings.Contains(out, "PASS  the rule is on at the target") {
		t.Errorf("run at the target: exit %d\n%s\n%s", code, out, errOut)
	}
	if a := activeAt(t, sb); len(a) != 0 {
		t.Errorf("after the run, active at the target: %q", a)
	}

	// a built-in scenario by name, and a run whose step fails
	code, out, _ = runCLI(context.Background(), append([]string{"scenario", "run", "throttled-429", "--json"}, withToken...)...)
	if code != 0 || !strings.Contains(out, `"scenario": "throttled-429"`) {
		t.Errorf("built-in at the target: exit %d\n%s", code, out)
	}
	failing := writeFile(t, "failing.yaml", strings.Replace(teapot, "status: 418}\n", "status: 200}\n", 1))
	if code, _, _ := runCLI(context.Background(), append([]string{"scenario", "run", failing}, withToken...)...); code != 1 {
		t.Errorf("failing step: exit %d, want 1", code)
	}
	if a := activeAt(t, sb); len(a) != 0 {
		t.Errorf("after a failing run, active at the target: %q", a)
	}

	// interrupted during a long wait: switched off all the same
	waiting := writeFile(t, "waiting.yaml", teapot+"  - name: a long wait\n    wait: 1h\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		code, _, _ := runCLI(ctx, append([]string{"scenario", "run", waiting}, withToken...)...)
		done <- code
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Contains(activeAt(t, sb), "teapot-at-target") {
		if time.Now().After(deadline) {
			t.Fatal("the scenario was never switched on at the target")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code == 0 {
			t.Error("an interrupted run exited 0")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the interrupted run did not end")
	}
	if a := activeAt(t, sb); len(a) != 0 {
		t.Errorf("after an interrupted run, active at the target: %q", a)
	}
}

// TestJUnitWallTime: the time attributes of the JUnit report are wall
// time; the in-process clock's time is the simulated_time property.
func TestJUnitWallTime(t *testing.T) {
	t.Parallel()
	const wait = time.Hour
	file := writeFile(t, "wait.yaml", fmt.Sprintf("name: waits\ndescription: one long wait\nsteps:\n  - name: wait\n    wait: %s\n    request: {path: /stu3/metadata, auth: none}\n    expect: {status: 200}\n", wait))
	junit := filepath.Join(t.TempDir(), "report.xml")
	start := time.Now()
	code, out, errOut := runCLI(context.Background(), "scenario", "run", file, "--junit", junit)
	elapsed := time.Since(start)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	type props struct {
		Props []struct {
			Name  string `xml:"name,attr"`
			Value string `xml:"value,attr"`
		} `xml:"property"`
	}
	var rep struct {
		Time   string `xml:"time,attr"`
		Suites []struct {
			Time  string `xml:"time,attr"`
			Props props  `xml:"properties"`
			Cases []struct {
				Time  string `xml:"time,attr"`
				Props props  `xml:"properties"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &rep); err != nil || len(rep.Suites) != 1 || len(rep.Suites[0].Cases) != 1 {
		t.Fatalf("%v\n%s", err, b)
	}
	secs := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("time %q: %v", s, err)
		}
		return f
	}
	sim := func(p props) float64 {
		for _, x := range p.Props {
			if x.Name == "simulated_time" {
				return secs(x.Value)
			}
		}
		t.Fatalf("no simulated_time property in %s", b)
		return 0
	}
	s := rep.Suites[0]
	for what, wall := range map[string]string{"testsuites": rep.Time, "testsuite": s.Time, "testcase": s.Cases[0].Time} {
		if w := secs(wall); w > elapsed.Seconds() {
			t.Errorf("%s time %gs is more than the %s the run took", what, w, elapsed)
		}
	}
	if sim(s.Props) < wait.Seconds() || sim(s.Cases[0].Props) < wait.Seconds() {
		t.Errorf("simulated_time %g / %g, want at least %g\n%s", sim(s.Props), sim(s.Cases[0].Props), wait.Seconds(), b)
	}
}

// TestCheckCredentialsSkipsAndProbes: check wants explicit credentials
// for a target off this machine, skips what needs a token it could not
// get, and lists the bases under a server root.
func TestCheckCredentialsSkipsAndProbes(t *testing.T) {
	t.Parallel()
	for _, target := range []string{"http://192.0.2.1/stu3", "https://partner.example.org/fhir"} {
		code, _, errOut := runCLI(context.Background(), "check", "--target", target, "--tenant", "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c")
		if code != 2 || !strings.Contains(errOut, "--client-id") || !strings.Contains(errOut, "--client-secret") {
			t.Errorf("%s without credentials: exit %d, want 2\n%s", target, code, errOut)
		}
		code, _, errOut = runCLI(context.Background(), "check", "--target", target, "--client-id", "x")
		if code != 2 || strings.Contains(errOut, "--client-id (") || !strings.Contains(errOut, "--client-secret") {
			t.Errorf("%s with an id only: exit %d, want 2 naming the secret only\n%s", target, code, errOut)
		}
	}

	sb := sandboxtest.New(t, sandboxtest.WithPatients(3))
	code, out, errOut := runCLI(context.Background(), "check", "--target", sb.BaseURL("stu3"), "--client-id", sb.ClientID, "--client-secret", "wrong-secret-for-this-client", "--tenant", sb.Tenants[0])
	fails, skips := strings.Count(out, "  FAIL  "), strings.Count(out, "  SKIP  ")
	if code != 1 || fails != 1 || skips == 0 || !strings.Contains(out, "FAIL  a token for the tenant") || !strings.Contains(out, "failed to get") {
		t.Errorf("wrong secret: exit %d, %d failed %d skipped, want 1 failure (the token) and the rest skipped\n%s\n%s", code, fails, skips, out, errOut)
	}

	code, _, errOut = runCLI(context.Background(), "check", "--target", sb.URL, "--client-id", sb.ClientID, "--client-secret", sb.ClientSecret)
	if code != 1 {
		t.Errorf("server root: exit %d, want 1", code)
	}
	for _, rel := range spec.Releases() {
		if want := sb.URL + rel.Base() + " (FHIR " + rel.FHIRVersion + ")"; !strings.Contains(errOut, want) {
			t.Errorf("server root: the answer does not suggest %s\n%s", want, errOut)
		}
	}
}
