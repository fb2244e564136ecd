package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// runCLI runs the command line in-process with a context the test owns.
func runCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(ctx, append([]string{"fhirsandbox"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelpGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		golden string
		args   []string
	}{
		{"help.golden", []string{"--help"}},
		{"help.golden", nil},
		{"help-serve.golden", []string{"serve", "--help"}},
		{"help-generate.golden", []string{"generate", "--help"}},
		{"help-version.golden", []string{"version", "-h"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(append([]string{"fhirsandbox"}, tt.args...), " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(context.Background(), tt.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			path := filepath.Join("testdata", tt.golden)
			if *update && tt.args != nil {
				if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if out != string(want) {
				t.Errorf("help differs from %s (run go test -update if intended):\n%s", path, out)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(context.Background(), "version")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"fhirsandbox ", runtime.Version(), "DSTU2 (FHIR 1.0.2)", "STU3 (FHIR 3."} {
		if !strings.Contains(out, want) {
			t.Errorf("version output lacks %q:\n%s", want, out)
		}
	}
}

type bundle struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		} `json:"resource"`
		Request struct {
			Method string `json:"method"`
		} `json:"request"`
	} `json:"entry"`
}

func TestGenerate(t *testing.T) {
	t.Parallel()
	for _, rel := range spec.Releases() {
		version := rel.Name
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			args := []string{"generate", "--patients", "4", "--seed", "9", "--fhir-version", version}
			code, out, errOut := runCLI(context.Background(), args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			var b bundle
			if err := json.Unmarshal([]byte(out), &b); err != nil {
				t.Fatalf("output is not JSON: %v", err)
			}
			patients := 0
			for _, e := range b.Entry {
				if e.Resource.ResourceType == "Patient" {
					patients++
				}
			}
			if b.ResourceType != "Bundle" || b.Type != "transaction" || patients != 4 {
				t.Errorf("got a %s of type %q with %d Patient entries, want a transaction Bundle with 4", b.ResourceType, b.Type, patients)
			}

			_, again, _ := runCLI(context.Background(), args...)
			if again != out {
				t.Errorf("two runs with the same flags differ")
			}
			_, other, _ := runCLI(context.Background(), "generate", "--patients", "4", "--seed", "10", "--fhir-version", version)
			if other == out {
				t.Errorf("a different seed gave the same output")
			}

			file := filepath.Join(t.TempDir(), "out.json")
			if code, _, errOut := runCLI(context.Background(), append(args, "-o", file)...); code != 0 {
				t.Fatalf("-o: exit %d: %s", code, errOut)
			}
			if data, err := os.ReadFile(file); err != nil || string(data) != out {
				t.Errorf("-o file differs from standard output (%v)", err)
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*tmp*")); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

func TestGenerateNDJSON(t *testing.T) {
	t.Parallel()
	code, out, errOut := runCLI(context.Background(), "generate", "--patients", "3", "--format", "ndjson", "--tenant", "{7C1E5B9D-3A2F-4D8E-B6C4-0E9F1A2B3C4D}")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	patients, lines := 0, 0
	for sc.Scan() {
		lines++
		var r struct{ ResourceType string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not JSON: %v", lines, err)
		}
		if r.ResourceType == "Patient" {
			patients++
		}
	}
	if patients != 3 || lines <= 3 {
		t.Errorf("%d lines, %d patients; want 3 patients and their records", lines, patients)
	}
}

func TestGenerateInterrupted(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	file := filepath.Join(t.TempDir(), "out.json")
	code, _, errOut := runCLI(ctx, "generate", "--patients", "50", "-o", file)
	if code == 0 || !strings.Contains(errOut, "interrupted") {
		t.Errorf("exit %d, stderr %q: want a failure saying it was interrupted", code, errOut)
	}
	if entries, _ := os.ReadDir(filepath.Dir(file)); len(entries) != 0 {
		t.Errorf("an interrupted run left files: %v", entries)
	}
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"serve", "--nope"}, "flag provided but not defined: -nope"},
		{[]string{"serve", "extra"}, `serve: unexpected argument "extra"`},
		{[]string{"serve", "--listen", "nohost"}, "--listen: \"nohost\" is not HOST:PORT"},
		{[]string{"serve", "--listen", "127.0.0.1:70000"}, "--listen: port \"70000\""},
		{[]string{"serve", "--fhir-version", "r5"}, `--fhir-version: "r5" is not a supported release`},
		{[]string{"serve", "--public-url", "ftp://x"}, "--public-url: \"ftp://x\" is not an http or https URL"},
		{[]string{"serve", "--patients", "-1"}, "--patients: -1 is out of range"},
		{[]string{"serve", "--log-format", "xml"}, `--log-format: "xml" is not a format`},
		{[]string{"serve", "--log-level", "loud"}, `--log-level: "loud" is not a level`},
		{[]string{"serve", "--patients", "many"}, "invalid value \"many\" for flag -patients"},
		{[]string{"generate", "--patients", "1000001"}, "--patients: 1000001 is out of range"},
		{[]string{"generate", "--tenant", "contoso"}, `--tenant: "contoso" is not a GUID`},
		{[]string{"generate", "--reference-date", "01/02/2026"}, `--reference-date: "01/02/2026" is not a date`},
		{[]string{"generate", "--fhir-version", "r5"}, `--fhir-version: "r5" is not a supported release`},
		{[]string{"generate", "--format", "xml"}, `--format: "xml" is not a format`},
		{[]string{"generate", "-o", ""}, "--output: empty file name"},
		{[]string{"version", "now"}, `version: unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(context.Background(), tt.args...)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "--help") {
				t.Errorf("stderr lacks %q and a pointer to --help:\n%s", tt.want, errOut)
			}
			if out != "" {
				t.Errorf("a usage error wrote to stdout:\n%s", out)
			}
		})
	}
}

func TestServeBadConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	text := "listen: 127.0.0.1:0\nfhir_version: r5\ntenants:\n  - id: nope\n    name: X\n    colour: blue\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(context.Background(), "serve", "--config", path)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{path + ":6: tenants[0]: unknown key \"colour\""} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "listening") {
		t.Errorf("server started despite a bad config:\n%s", out)
	}

	// Type problems stop before semantic checks; fix them and the
	// semantic problems all show together.
	text = "listen: 127.0.0.1:0\nfhir_version: r5\ntenants:\n  - id: nope\n    name: X\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut = runCLI(context.Background(), "serve", "--config", path)
	for _, want := range []string{path + ":2: fhir_version", path + ":4: tenants[0].id"} {
		if code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("exit %d, stderr lacks %q:\n%s", code, want, errOut)
		}
	}
}

// TestServePrecedence runs serve with an already-cancelled context: it
// loads, validates, listens, prints its banner and shuts down at once.
// Not parallel: it sets environment variables.
func TestServePrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	text := "listen: 127.0.0.1:0\npublic_url: https://file.example\nfhir_version: dstu2\n" +
		"tenants: [{id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: Small, patients: 1}]\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	serve := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(ctx, append([]string{"serve"}, args...)...)
		if code != 0 {
			t.Fatalf("serve %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	out := serve("--config", path)
	if !strings.Contains(out, "https://file.example/dstu2 (default)") {
		t.Errorf("file not applied over defaults:\n%s", out)
	}
	t.Setenv("FHIRSANDBOX_PUBLIC_URL", "https://env.example")
	t.Setenv("FHIRSANDBOX_FHIR_VERSION", "stu3")
	t.Setenv("FHIRSANDBOX_CONFIG", path)
	out = serve()
	if !strings.Contains(out, "https://env.example/stu3 (default)") {
		t.Errorf("environment does not override the file:\n%s", out)
	}
	out = serve("--public-url", "https://flag.example/")
	if !strings.Contains(out, "https://flag.example/token") || !strings.Contains(out, "https://flag.example/stu3 (default)") {
		t.Errorf("flag does not override the environment:\n%s", out)
	}
	if !strings.Contains(out, "admin token") || !strings.HasPrefix(out, "listening on http://127.0.0.1:") {
		t.Errorf("banner lacks the listen address or the generated admin token:\n%s", out)
	}
	t.Setenv("FHIRSANDBOX_PATIENTS", "lots")
	if code, _, errOut := runCLI(ctx, "serve"); code != exitUsage || !strings.Contains(errOut, "FHIRSANDBOX_PATIENTS") {
		t.Errorf("a bad environment value: exit %d, stderr %q", code, errOut)
	}
}

// TestServeBadFixtures: every problem of every fixture file (a missing
// file, an XML file, a bad entry, a dangling reference, an unknown release
// in the config) is listed at once, and serve exits 2 as for a bad config.
func TestServeBadFixtures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	xml := write("a.json", `<Bundle xmlns="http://hl7.org/fhir"/>`)
	bad := write("b.ndjson", `{"resourceType":"Patient","id":"ok"}`+"\n"+`{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"urn:uuid:x"}}`+"\n"+`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/b"}}]}`)
	cfg := write("c.yaml", "listen: 127.0.0.1:0\nfhir_version: r4\ntenants:\n  - id: 00000000-0000-0000-0000-00000000c0de\n    name: X\n    fixtures: [a.json, {path: b.ndjson, fhir_version: stu3}, missing.json, \"empty-dir/*.json\"]\n")
	code, out, errOut := runCLI(context.Background(), "serve", "--config", cfg)
	if code != exitUsage {
		t.Errorf("exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{
		"invalid fixtures",
		xml + ": FHIR XML is not supported; convert it to JSON",
		bad + `: entry 2: resource.managingOrganization.reference: reference "urn:uuid:x" names no entry`,
		bad + `: entry 3: request.url: Patient/b does not match the resource id "a"`,
		filepath.Join(dir, "missing.json") + ": no such file or directory",
		filepath.Join(dir, "empty-dir/*.json") + ": the glob matches no .json or .ndjson file",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(out, "listening") {
		t.Errorf("server started despite bad fixtures:\n%s", out)
	}
}
