package docs_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const root = ".." // the repository root, from docs/

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// fenced returns the bodies of the ```lang blocks of a Markdown text that
// follow the heading (any level) named heading.
func fenced(md, heading, lang string) []string {
	i := strings.Index(md, "# "+heading+"\n")
	if i < 0 {
		return nil
	}
	md = md[i:]
	if j := regexp.MustCompile(`\n#{1,2} `).FindStringIndex(md[1:]); j != nil {
		md = md[:j[0]+1]
	}
	var out []string
	for _, m := range regexp.MustCompile("(?ms)^```"+lang+"\n(.*?)^```").FindAllStringSubmatch(md, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestFrontPage: the README is a front page (at most about 150 lines)
// and gives the test command CI runs, saying so.
func TestFrontPage(t *testing.T) {
	readme := read(t, "README.md")
	if n := strings.Count(readme, "\n"); n > 150 {
		t.Errorf("README.md has %d lines; the front page keeps to 150 (move detail to docs/)", n)
	}
	// the test command of .ci/run, found there, not written here
	var ciTest string
	for _, l := range strings.Split(read(t, ".ci/run"), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "go test ") {
			ciTest = strings.TrimSpace(l)
		}
	}
	if ciTest == "" {
		t.Fatal(".ci/run runs no go test command")
	}
	blocks := fenced(readme, "Run the tests", "sh")
	if len(blocks) == 0 || strings.TrimSpace(blocks[0]) != ciTest {
		t.Errorf("README.md's \"Run the tests\" block is %q; .ci/run runs %q", blocks, ciTest)
	}
	if !strings.Contains(readme, "CI runs exactly this command") {
		t.Error("README.md does not say that CI runs exactly its test command")
	}
	mod := modulePath(t)
	if !strings.Contains(readme, "go install "+mod+"@latest") {
		t.Errorf("README.md does not give go install %s@latest", mod)
	}
}

func modulePath(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^module (\S+)`).FindStringSubmatch(read(t, "go.mod"))
	if m == nil {
		t.Fatal("go.mod names no module")
	}
	return m[1]
}

// writtenElsewhere are docs pages other topics add; a link to one of them
// is excused while it does not exist yet, and checked once it does.
var writtenElsewhere = map[string]bool{
	"docs/install.md": true, "docs/hardening.md": true, "docs/smart-backend-services.md": true,
	"docs/performance.md": true, "docs/performance-requests.md": true, "docs/scaling-out.md": true,
	"docs/observability.md": true, "docs/configuration-rules.md": true, "docs/cli.md": true,
}

// TestLinks: every relative link of the README and the docs pages names a
// file or directory of the repository, and every #anchor a heading of it.
func TestLinks(t *testing.T) {
	pages := []string{"README.md", "scenarios/README.md", "docs/examples/testcontainers/README.md"}
	mds, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	for _, p := range mds {
		rel, _ := filepath.Rel(root, p)
		pages = append(pages, filepath.ToSlash(rel))
	}
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for _, page := range pages {
		md := read(t, page)
		for _, m := range link.FindAllStringSubmatch(md, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := page
			if file != "" {
				path = filepath.ToSlash(filepath.Join(filepath.Dir(page), file))
			}
			if _, err := os.Stat(filepath.Join(root, path)); err != nil {
				if !writtenElsewhere[path] {
					t.Errorf("%s: link %q: %s does not exist", page, target, path)
				}
				continue
			}
			if anchor != "" && strings.HasSuffix(path, ".md") && !hasAnchor(read(t, path), anchor) {
				t.Errorf("%s: link %q: %s has no heading #%s", page, target, path, anchor)
			}
		}
	}
}

// hasAnchor: GitHub's anchor of a heading is its text lower case, with
// spaces as "-" and punctuation other than "-" and "_" dropped.
func hasAnchor(md, anchor string) bool {
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "#") {
			continue
		}
		text := strings.TrimSpace(strings.TrimLeft(l, "#"))
		var a strings.Builder
		for _, r := range strings.ToLower(text) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
				a.WriteRune(r)
			}
		}
		if a.String() == anchor {
			return true
		}
	}
	return false
}

// binary builds the fhirsandbox command into a temporary directory.
func binary(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"go", "bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run the documented commands: %v", tool, err)
		}
	}
	dir := t.TempDir()
	out, err := exec.Command("go", "build", "-o", filepath.Join(dir, "fhirsandbox"), modulePath(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return dir
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serve starts the binary's serve on addr with extra flags, waits for
// /healthz, and stops it (SIGTERM) when the test ends.
func serve(t *testing.T, bin, addr string, args ...string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "fhirsandbox"), append([]string{"serve", "--listen", addr}, args...)...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	})
	waitHealthy(t, "http://"+addr, &logs)
}

func waitHealthy(t *testing.T, base string, logs *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never became healthy\n%s", base, logs)
}

// runBash runs a script as GitHub Actions runs a step (bash -eo pipefail),
// or, with interactive, as a user's shell does (no pipefail: a pager
// closing early is fine) but stopping at the first failing command.
func runBash(t *testing.T, dir string, env []string, script string, interactive bool) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	flags := []string{"--noprofile", "--norc", "-eo", "pipefail", "-c", script}
	if interactive {
		flags = []string{"--noprofile", "--norc", "-e", "-c", script}
	}
	cmd := exec.CommandContext(ctx, "bash", flags...)
	cmd.Dir, cmd.Env = dir, env
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestDocumentedCommands runs, against the real binary, the README's
// first session as written (on a free port instead of 8080, which another
// program may hold) and the shell steps of the GitHub Actions example.
func TestDocumentedCommands(t *testing.T) {
	bin := binary(t)
	path := bin + string(os.PathListSeparator) + os.Getenv("PATH")

	t.Run("README first session", func(t *testing.T) {
		addr := freeAddr(t)
		serve(t, bin, addr)
		blocks := fenced(read(t, "README.md"), "First session", "sh")
		if len(blocks) != 1 {
			t.Fatalf("README.md's First session has %d sh blocks, want 1", len(blocks))
		}
		script := strings.ReplaceAll(blocks[0], "127.0.0.1:8080", addr)
		out, err := runBash(t, t.TempDir(), []string{"PATH=" + path, "HOME=" + t.TempDir()}, script, true)
		if err != nil {
			t.Fatalf("the first session fails: %v\n%s", err, out)
		}
		// the release, then a count, then the families found
		for _, want := range []string{`"fhirVersion":"4.0.1"`, `"type":"searchset"`, `"total":`, `"family":"Smi`} {
			if !strings.Contains(out, want) {
				t.Errorf("the first session's output lacks %s:\n%s", want, out)
			}
		}
		if strings.Contains(out, "OperationOutcome") {
			t.Errorf("the first session got an error:\n%s", out)
		}
	})

	t.Run("GitHub Actions workflow", func(t *testing.T) {
		runWorkflow(t, path)
	})
}

type workflow struct {
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			If   string            `yaml:"if"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func runWorkflow(t *testing.T, path string) {
	var wf workflow
	if err := yaml.Unmarshal([]byte(read(t, "docs/examples/github-actions.yml")), &wf); err != nil {
		t.Fatal(err)
	}
	job, ok := wf.Jobs["test"]
	if !ok {
		t.Fatal("github-actions.yml has no job test")
	}
	addr := freeAddr(t)
	env := []string{"PATH=" + path, "HOME=" + t.TempDir()}
	for k, v := range job.Env {
		env = append(env, k+"="+strings.ReplaceAll(v, "127.0.0.1:8080", addr))
	}
	dir := t.TempDir()
	t.Cleanup(func() { // stop the sandbox even when a step failed
		if b, err := os.ReadFile(filepath.Join(dir, "fhirsandbox.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	var installed, clientTests, uploaded bool
	var uploads []string
	for _, st := range job.Steps {
		switch {
		case st.Uses != "":
			if strings.HasPrefix(st.Uses, "actions/upload-artifact@") {
				uploaded = true
				uploads = strings.Fields(st.With["path"])
			}
			continue
		case st.Name == "Install fhirsandbox":
			// the test's PATH has the binary just built from this tree
			if want := "go install " + modulePath(t) + "@latest"; strings.TrimSpace(st.Run) != want {
				t.Errorf("install step runs %q, want %q", st.Run, want)
			}
			installed = true
			continue
		case st.Name == "Run the client's tests":
			// the client's own suite: nothing of it here
			clientTests = strings.Contains(st.Run, "go test")
			continue
		}
		script := strings.ReplaceAll(st.Run, "127.0.0.1:8080", addr)
		out, err := runBash(t, dir, env, script, false)
		if err != nil {
			logs, _ := os.ReadFile(filepath.Join(dir, "fhirsandbox.log"))
			t.Fatalf("step %q fails: %v\n%s\nsandbox log:\n%s", st.Name, err, out, logs)
		}
	}
	if !installed || !clientTests || !uploaded {
		t.Errorf("the workflow lacks a step: install %v, client tests %v, upload %v", installed, clientTests, uploaded)
	}
	reports := 0
	for _, f := range uploads {
		if !strings.HasSuffix(f, ".xml") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Errorf("uploaded report %s: %v", f, err)
			continue
		}
		var rep struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		}
		if err := xml.Unmarshal(b, &rep); err != nil || rep.Tests == 0 || rep.Failures != 0 {
			t.Errorf("uploaded report %s: %v, %d tests, %d failures\n%s", f, err, rep.Tests, rep.Failures, b)
		}
		reports++
	}
	if reports < 2 {
		t.Errorf("%d JUnit reports uploaded, want the scenarios' and the check's", reports)
	}
}

// TestTestcontainersModule: the Testcontainers example is a module of its
// own, so the main module never depends on Testcontainers, and its README
// says that it needs Docker.
func TestTestcontainersModule(t *testing.T) {
	mod := read(t, "docs/examples/testcontainers/go.mod")
	if m := regexp.MustCompile(`(?m)^module (\S+)`).FindStringSubmatch(mod); m == nil || m[1] == modulePath(t) {
		t.Errorf("docs/examples/testcontainers/go.mod is not a module of its own: %v", m)
	}
	if !strings.Contains(mod, "github.com/testcontainers/testcontainers-go ") {
		t.Error("the example module does not require testcontainers-go")
	}
	if strings.Contains(read(t, "go.mod"), "testcontainers") {
		t.Error("the main module's go.mod names testcontainers")
	}
	if !strings.Contains(read(t, "docs/examples/testcontainers/README.md"), "needs Docker") {
		t.Error("the example's README does not say that it needs Docker")
	}
}
