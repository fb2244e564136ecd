package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

var (
	initTenant = regexp.MustCompile(`(?m)^\s+tenant GUID\s+(\S+)`)
	initClient = regexp.MustCompile(`(?m)^\s+client id\s+(\S+)$`)
	initSecret = regexp.MustCompile(`(?m)^\s+client secret\s+(\S+)$`)
)

// TestInit: init writes a config that config check accepts and serve
// starts on, with the tenant, client and secret it printed (the secret
// only as its digest in the file); it refuses to overwrite without
// --force; two runs make different credentials.
func TestInit(t *testing.T) {
	t.Setenv("FHIRSANDBOX_PUBLIC_URL", "")
	t.Setenv("FHIRSANDBOX_ADMIN_TOKEN", "")
	os.Unsetenv("FHIRSANDBOX_ADMIN_TOKEN")
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	dir := filepath.Join(t.TempDir(), "new", "sub")
	var out, errb strings.Builder
	code := runWith(context.Background(), []string{"fhirsandbox", "init", dir}, &out, &errb, fixedDeps(now, 3))
	if code != 0 {
		t.Fatalf("init: exit %d %s", code, errb.String())
	}
	path := filepath.Join(dir, "sandbox.yaml")
	tenantID, clientID, secret := match(t, initTenant, out.String()), match(t, initClient, out.String()), match(t, initSecret, out.String())
	if _, err := spec.ParseGUID(tenantID); err != nil || tenantID[14] != '4' {
		t.Errorf("tenant GUID %q: %v (want a version 4 GUID)", tenantID, err)
	}
	if len(secret) < sandbox.MinSecretLen {
		t.Errorf("secret of %d characters", len(secret))
	}
	file, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if strings.Contains(string(file), secret) || !strings.Contains(string(file), hex.EncodeToString(sum[:])) {
		t.Error("the file should hold the secret's SHA-256, never the secret")
	}
	if !strings.Contains(string(file), "# ") {
		t.Error("the file has no comments")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}

	if code, out, errOut := runCLI(context.Background(), "config", "check", path); code != 0 || !strings.Contains(out, "valid, 0 warning(s)") {
		t.Fatalf("config check on init's file: exit %d\n%s%s", code, out, errOut)
	}

	// the config serves: a token with the printed credentials, then the
	// tenant's patients
	cfg, err := sandbox.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.StateFile != filepath.Join(dir, "sandbox.state") {
		t.Errorf("state file %q", cfg.StateFile)
	}
	srv, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	if st := tokenStatus(t, hs.URL, clientID, secret, tenantID); st != http.StatusOK {
		t.Fatalf("token with init's credentials: %d", st)
	}
	if st := tokenStatus(t, hs.URL, clientID, secret+"x", tenantID); st != http.StatusUnauthorized {
		t.Errorf("token with a wrong secret: %d", st)
	}
	srv.Close()

	// and serve --config starts on it (the same file, in the CLI)
	s := startServe(t, defaultDeps(), "--config", path)
	if !strings.Contains(s.stdout.String(), tenantID) {
		t.Errorf("serve banner lacks the tenant:\n%s", s.stdout)
	}
	if st := tokenStatus(t, s.url, clientID, secret, tenantID); st != http.StatusOK {
		t.Errorf("token from serve --config: %d", st)
	}
	s.stop()

	// no overwrite without --force
	before, _ := os.ReadFile(path)
	out.Reset()
	errb.Reset()
	if code := runWith(context.Background(), []string{"fhirsandbox", "init", dir}, &out, &errb, fixedDeps(now, 9)); code != 1 || !strings.Contains(errb.String(), "--force") {
		t.Fatalf("second init: exit %d %s", code, errb.String())
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Fatal("init without --force changed the file")
	}
	out.Reset()
	if code := runWith(context.Background(), []string{"fhirsandbox", "init", dir, "--force"}, &out, &errb, fixedDeps(now, 9)); code != 0 {
		t.Fatalf("init --force: exit %d %s", code, errb.String())
	}
	if match(t, initSecret, out.String()) == secret || match(t, initTenant, out.String()) == tenantID {
		t.Error("init --force with other random bytes made the same credentials")
	}
	if after, _ := os.ReadFile(path); string(after) == string(before) {
		t.Error("init --force left the file as it was")
	}
	if code, _, errOut := runCLI(context.Background(), "init", "a", "b"); code != exitUsage {
		t.Errorf("two dirs: exit %d %s", code, errOut)
	}
}

// TestVersionFlag: --version and the version command print the same.
func TestVersionFlag(t *testing.T) {
	t.Parallel()
	c1, byFlag, _ := runCLI(context.Background(), "--version")
	c2, byCmd, _ := runCLI(context.Background(), "version")
	if c1 != 0 || c2 != 0 || byFlag != byCmd || !strings.HasPrefix(byFlag, "fhirsandbox ") {
		t.Fatalf("--version (exit %d):\n%s\nversion (exit %d):\n%s", c1, byFlag, c2, byCmd)
	}
	if code, _, _ := runCLI(context.Background(), "--version", "x"); code != exitUsage {
		t.Errorf("--version x: exit %d", code)
	}
}

// TestHealth probes a real sandbox, a failing server and nothing.
func TestHealth(t *testing.T) {
	t.Parallel()
	base, _ := realSandbox(t, nil)
	if code, out, errOut := runCLI(context.Background(), "health", "--url", base+"/healthz"); code != 0 || !strings.Contains(out, "200") {
		t.Errorf("healthy sandbox: exit %d %s%s", code, out, errOut)
	}
	if code, out, _ := runCLI(context.Background(), "health", "-q", "--url", base+"/healthz"); code != 0 || out != "" {
		t.Errorf("-q: exit %d %q", code, out)
	}
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer sick.Close()
	if code, _, errOut := runCLI(context.Background(), "health", "--url", sick.URL+"/healthz"); code != 1 || !strings.Contains(errOut, "503") {
		t.Errorf("503: exit %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(context.Background(), "health", "--url", "http://127.0.0.1:1/healthz", "--timeout", "1s"); code != 1 || !strings.Contains(errOut, "unhealthy") {
		t.Errorf("nothing listening: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(context.Background(), "health", "--url", "ftp://x"); code != exitUsage {
		t.Errorf("bad url: exit %d", code)
	}
	if code, _, _ := runCLI(context.Background(), "health", "--timeout", "1h"); code != exitUsage {
		t.Errorf("timeout out of range: exit %d", code)
	}
}

// TestCompletion: each shell gets a script naming the binary, and the
// hidden flag the scripts call lists the commands and a command's
// subcommands and flags, from the command tree itself.
func TestCompletion(t *testing.T) {
	t.Parallel()
	for _, shell := range completionShells {
		code, out, errOut := runCLI(context.Background(), "completion", shell)
		if code != 0 || !strings.Contains(out, "fhirsandbox") || len(out) < 200 {
			t.Errorf("completion %s: exit %d %s\n%s", shell, code, errOut, out)
		}
	}
	code, out, _ := runCLI(context.Background(), "completion", "fish")
	if code != 0 || !strings.Contains(out, "complete -c fhirsandbox") {
		t.Errorf("fish script:\n%s", out)
	}
	if code, _, errOut := runCLI(context.Background(), "completion", "tcsh"); code != exitUsage || !strings.Contains(errOut, "bash, zsh, fish, powershell") {
		t.Errorf("unknown shell: exit %d %s", code, errOut)
	}
	if code, _, _ := runCLI(context.Background(), "completion"); code != exitUsage {
		t.Errorf("no shell: exit %d", code)
	}

}

// TestCompletionCandidates runs the real binary as the scripts do: the
// hidden --generate-bash-completion flag lists the commands, a command's
// subcommands, and a command's flags after a dash, from the command tree
// itself (urfave/cli reads os.Args for these, so only a process tells).
func TestCompletionCandidates(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "fhirsandbox")
	if out, err := exec.Command("go", "build", "-o", bin, "../..").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	complete := func(args ...string) []string {
		cmd := exec.Command(bin, append(args, "--generate-bash-completion")...)
		cmd.Env = append(os.Environ(), "0=bash")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	var stdout, stderr strings.Builder
	app := newApp(&stdout, &stderr, defaultDeps())
	top := complete()
	for _, c := range app.Commands {
		if !slices.Contains(top, c.Name) {
			t.Errorf("top-level candidates lack %s: %v", c.Name, top)
		}
		if len(c.Subcommands) > 0 {
			subs := complete(c.Name)
			for _, sc := range c.Subcommands {
				if !slices.Contains(subs, sc.Name) {
					t.Errorf("%s candidates lack %s: %v", c.Name, sc.Name, subs)
				}
			}
		}
		if c.Name == "serve" {
			flags := complete("serve", "-") // a dash typed: the flags (urfave/cli takes a bare "--" as the end of flags)
			for _, f := range c.Flags {
				if name := f.Names()[0]; name != "help" && !slices.Contains(flags, "--"+name) {
					t.Errorf("serve flag candidates lack --%s: %v", name, flags)
				}
			}
		}
	}
}

// TestMergeBuildInfo: where version, commit and date come from in each
// way of building.
func TestMergeBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name    string
		stamped BuildInfo
		info    *debug.BuildInfo
		want    BuildInfo
	}{
		{"no build info", BuildInfo{}, nil, BuildInfo{Version: "(devel)", Commit: "unknown"}},
		{"go install @v1.2.3", BuildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, BuildInfo{Version: "v1.2.3", Commit: "unknown"}},
		{"go build in a dirty checkout", BuildInfo{}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, BuildInfo{Version: "(devel)", Commit: "abc123", Date: "2026-11-30T10:00:00Z", Modified: true}},
		{"release build", BuildInfo{Version: "v2.0.0", Commit: "fff", Date: "2026-12-01T00:00:00Z"}, &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs}, BuildInfo{Version: "v2.0.0", Commit: "fff", Date: "2026-12-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		if got := mergeBuildInfo(tt.stamped, tt.info); got != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
