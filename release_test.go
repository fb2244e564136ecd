package main

import (
	"bufio"
	"debug/elf"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// buildLine is the Dockerfile's go build command, as words.
type buildLine struct {
	env   []string // NAME=VALUE before "go"
	args  []string // after "go build"
	xvars map[string]string
}

// dockerBuild finds the RUN line of the Dockerfile that runs go build and
// splits it as a shell would (double-quoted words; no other quoting is
// used there).
func dockerBuild(t *testing.T) buildLine {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var run string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "RUN ") && strings.Contains(l, " go build ") {
			if run != "" {
				t.Fatal("the Dockerfile has two go build lines")
			}
			run = strings.TrimPrefix(l, "RUN ")
		}
	}
	if run == "" {
		t.Fatal("no RUN ... go build line in the Dockerfile")
	}
	words := shellWords(t, run)
	i := slices.Index(words, "go")
	if i < 0 || i+1 >= len(words) || words[i+1] != "build" {
		t.Fatalf("cannot find go build in %q", run)
	}
	b := buildLine{env: words[:i], args: words[i+2:]}
	j := slices.Index(b.args, "-ldflags")
	if j < 0 || j+1 >= len(b.args) {
		t.Fatalf("no -ldflags in %q", run)
	}
	b.xvars = xFlags(t, strings.Fields(b.args[j+1]))
	return b
}

func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, inWord := false, false
	for _, r := range s {
		switch {
		case r == '"':
			in, inWord = !in, true
		case (r == ' ' || r == '\t') && !in:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if in {
		t.Fatalf("unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// xFlags maps each -X package.var of linker flags to its value.
func xFlags(t *testing.T, fields []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < len(fields); i++ {
		if fields[i] != "-X" {
			continue
		}
		if i+1 >= len(fields) {
			t.Fatalf("-X without a value in %v", fields)
		}
		name, val, ok := strings.Cut(fields[i+1], "=")
		if !ok {
			t.Fatalf("-X %q has no =", fields[i+1])
		}
		out[name] = val
		i++
	}
	return out
}

// goreleaserBuild is the one build of .goreleaser.yaml.
type goreleaserBuild struct {
	Main    string   `yaml:"main"`
	Env     []string `yaml:"env"`
	Flags   []string `yaml:"flags"`
	Ldflags []string `yaml:"ldflags"`
	Goos    []string `yaml:"goos"`
	Goarch  []string `yaml:"goarch"`
}

func goreleaser(t *testing.T) goreleaserBuild {
	t.Helper()
	data, err := os.ReadFile(".goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Builds   []goreleaserBuild `yaml:"builds"`
		Archives []struct {
			Files []string `yaml:"files"`
		} `yaml:"archives"`
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		t.Fatalf(".goreleaser.yaml: %v", err)
	}
	if len(cfg.Builds) != 1 {
		t.Fatalf(".goreleaser.yaml has %d builds, want 1", len(cfg.Builds))
	}
	if len(cfg.Archives) != 1 || !slices.Contains(cfg.Archives[0].Files, "LICENSE") {
		t.Errorf(".goreleaser.yaml archives should ship the LICENSE")
	}
	return cfg.Builds[0]
}

// buildVars lists the package-level string variables of the package at
// dir that nothing in it assigns: the ones -X can set.
func buildVars(t *testing.T, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, sp := range gd.Specs {
				vs := sp.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "string" && len(vs.Values) == 0 {
					for _, n := range vs.Names {
						vars = append(vars, n.Name)
					}
				}
			}
		}
	}
	return vars
}

// TestReleaseBuildsAgree: the Dockerfile and .goreleaser.yaml build the
// same way (static, -trimpath) and stamp the same variables, which exist
// in the package they name; the platforms are the ones promised.
func TestReleaseBuildsAgree(t *testing.T) {
	t.Parallel()
	docker, rel := dockerBuild(t), goreleaser(t)
	if !slices.Contains(docker.env, "CGO_ENABLED=0") || !slices.Contains(rel.Env, "CGO_ENABLED=0") {
		t.Errorf("CGO_ENABLED=0: Dockerfile %v, goreleaser %v", docker.env, rel.Env)
	}
	if !slices.Contains(docker.args, "-trimpath") || !slices.Contains(rel.Flags, "-trimpath") {
		t.Errorf("-trimpath: Dockerfile %v, goreleaser %v", docker.args, rel.Flags)
	}
	relX := xFlags(t, strings.Fields(strings.Join(rel.Ldflags, " ")))
	dockerNames, relNames := slices.Sorted(maps.Keys(docker.xvars)), slices.Sorted(maps.Keys(relX))
	if !slices.Equal(dockerNames, relNames) || len(dockerNames) == 0 {
		t.Fatalf("stamped variables differ: Dockerfile %v, goreleaser %v", dockerNames, relNames)
	}
	mod := modulePath(t)
	for _, name := range dockerNames {
		i := strings.LastIndexByte(name, '.')
		pkg, v := name[:i], name[i+1:]
		if !strings.HasPrefix(pkg, mod+"/") && pkg != mod {
			t.Errorf("%s: package outside the module %s", name, mod)
			continue
		}
		dir := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		if dir == "" {
			dir = "."
		}
		if !slices.Contains(buildVars(t, dir), v) {
			t.Errorf("%s: no unassigned package-level string variable %s in %s", name, v, dir)
		}
	}
	for _, want := range []string{"linux", "darwin", "windows"} {
		if !slices.Contains(rel.Goos, want) {
			t.Errorf("goreleaser goos lacks %s", want)
		}
	}
	for _, want := range []string{"amd64", "arm64"} {
		if !slices.Contains(rel.Goarch, want) {
			t.Errorf("goreleaser goarch lacks %s", want)
		}
	}
}

func modulePath(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatal("no module line in go.mod")
	}
	return string(m[1])
}

// TestDockerfileBuild builds the binary with the Dockerfile's own command
// line (its build arguments given test values), runs --version and the
// version command on it, and checks the stamped values come out and the
// binary is static.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	b := dockerBuild(t)
	argValues := map[string]string{
		"VERSION": "v9.8.7-test",
		"COMMIT":  "0123456789abcdef0123456789abcdef01234567",
		"DATE":    "2026-12-02T08:00:00Z",
	}
	bin := filepath.Join(t.TempDir(), "fhirsandbox")
	args := []string{"build"}
	for i := 0; i < len(b.args); i++ {
		a := b.args[i]
		if a == "-o" && i+1 < len(b.args) {
			args = append(args, "-o", bin)
			i++
			continue
		}
		for k, v := range argValues {
			a = strings.ReplaceAll(a, "${"+k+"}", v)
		}
		if strings.Contains(a, "${") {
			t.Fatalf("the Dockerfile's go build uses a build argument the test does not know: %q", a)
		}
		args = append(args, a)
	}
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), b.env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	byFlag, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	byCmd, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("version: %v", err)
	}
	if string(byFlag) != string(byCmd) {
		t.Errorf("--version and version differ:\n%s\n%s", byFlag, byCmd)
	}
	// each stamped variable's value appears in the output
	for name, tmpl := range b.xvars {
		val := tmpl
		for k, v := range argValues {
			val = strings.ReplaceAll(val, "${"+k+"}", v)
		}
		if !strings.Contains(string(byFlag), val) {
			t.Errorf("--version lacks %s = %q:\n%s", name, val, byFlag)
		}
	}
	if !strings.HasPrefix(string(byFlag), "fhirsandbox "+argValues["VERSION"]+"\n") {
		t.Errorf("first line of --version:\n%s", byFlag)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("the binary has a dynamic loader (PT_INTERP): not static")
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("the binary needs shared libraries %v", libs)
		}
	}
}

// TestLicense: the LICENSE is the Apache License 2.0, whole.
func TestLicense(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	for _, want := range []string{"Apache License", "Version 2.0, January 2004", "http://www.apache.org/licenses/", "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION", "9. Accepting Warranty or Additional Liability.", "END OF TERMS AND CONDITIONS", "Copyright 2026 The fhirsandbox authors"} {
		if !strings.Contains(s, want) {
			t.Errorf("LICENSE lacks %q", want)
		}
	}
}
