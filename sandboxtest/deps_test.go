package sandboxtest_test

import (
	"os/exec"
	"strings"
	"testing"
)

// testOnly are the import path prefixes of what the project needs only in
// its own tests and tools: the independent FHIR validator (and google/fhir
// and protobuf behind it) and the browser driver of the portal tests.
func testOnly() []string {
	return []string{
		"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate",
		"github.com/google/fhir/",
		"google.golang.org/protobuf/",
		"github.com/golang/protobuf/",
		"github.com/chromedp/",
	}
}

// deps lists what building pkg links (go list -deps: no test files).
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(goBin, "list", "-deps", pkg).CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
	}
	return strings.Fields(string(out))
}

func offending(list []string) []string {
	var bad []string
	for _, p := range list {
		for _, prefix := range testOnly() {
			if p == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(p, prefix) {
				bad = append(bad, p)
				break
			}
		}
	}
	return bad
}

// TestImportStaysLight: a client's test suite that imports sandboxtest
// builds the sandbox, not the tests' independent validator or browser
// driver; nor does the command.
func TestImportStaysLight(t *testing.T) {
	list := deps(t, "github.com/fhirsandbox/fhirsandbox/sandboxtest")
	if !strings.Contains(strings.Join(list, "\n"), "github.com/fhirsandbox/fhirsandbox/sandbox\n") {
		t.Fatalf("go list -deps sandboxtest does not list the sandbox package: %q", list)
	}
	if bad := offending(list); len(bad) > 0 {
		t.Errorf("importing sandboxtest links %d test-only packages, such as %q", len(bad), bad[:min(5, len(bad))])
	}
	// the command validates fixtures with the structural validator, which
	// links none of them either
	if bad := offending(deps(t, "github.com/fhirsandbox/fhirsandbox")); len(bad) > 0 {
		t.Errorf("the fhirsandbox command links %d test-only packages, such as %q", len(bad), bad[:min(5, len(bad))])
	}
	if bad := offending(deps(t, "github.com/fhirsandbox/fhirsandbox/sandbox/cli")); len(bad) > 0 {
		t.Errorf("the CLI links %d test-only packages, such as %q", len(bad), bad[:min(5, len(bad))])
	}
	// the check sees them where they are linked: the tests' independent
	// validator is built on google/fhir
	if bad := offending(deps(t, "github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate")); len(bad) == 0 {
		t.Error("the check finds no test-only package in the independent validator's dependencies, which link google/fhir: it cannot fail")
	}
}
