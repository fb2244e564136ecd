package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
)

const (
	srcDir  = "../../sandbox"
	docFile = "../../docs/configuration.md"
)

// TestReferenceUpToDate regenerates the configuration reference in memory:
// docs/configuration.md must be exactly what go generate ./sandbox writes.
func TestReferenceUpToDate(t *testing.T) {
	want, err := Render(srcDir, sandbox.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("docs/configuration.md differs from the config struct from line %d (run go generate ./sandbox):\n have %q\n want %q", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("docs/configuration.md has %d lines, the config struct gives %d (run go generate ./sandbox)", len(gl), len(wl))
	}
}

// TestEveryKeyDocumented: each yaml key of the real config appears in
// the page with its default.
func TestEveryKeyDocumented(t *testing.T) {
	out, err := Render(srcDir, sandbox.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	def := sandbox.DefaultConfig()
	for _, want := range []string{
		"## `listen`", "`" + def.Listen + "`",
		"## `auth.token_ttl`", "## `tenants[].upstream_auth.basic.password`", "## `clients[].secrets[].expires`",
		"## `limits.max_response_bytes`",
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the reference lacks %q", want)
		}
	}
}

// copySource copies the package's non-test Go files to a temporary
// directory, with edit applied to config.go.
func copySource(t *testing.T, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	files, err := filepath.Glob(filepath.Join(srcDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(f) == "config.go" {
			b = []byte(edit(string(b)))
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestNewField: a field added to a config struct appears once documented;
// without a doc comment the generation fails naming it.
func TestNewField(t *testing.T) {
	const anchor = "\tShutdownGrace time.Duration `yaml:\"shutdown_grace\"`\n"
	undocumented := copySource(t, func(s string) string {
		if !strings.Contains(s, anchor) {
			t.Fatalf("config.go no longer has %q", anchor)
		}
		return strings.Replace(s, anchor, anchor+"\tBrandNew string `yaml:\"brand_new\"`\n", 1)
	})
	if _, err := Render(undocumented, sandbox.DefaultConfig()); err == nil || !strings.Contains(err.Error(), "Config.BrandNew (brand_new): no doc comment") {
		t.Errorf("an undocumented field: %v", err)
	}
	documented := copySource(t, func(s string) string {
		return strings.Replace(s, anchor, anchor+"\t// BrandNew turns on the brand new thing.\n\tBrandNew string `yaml:\"brand_new\"`\n", 1)
	})
	out, err := Render(documented, sandbox.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte("## `brand_new`\n\nType: string.\n\nBrandNew turns on the brand new thing.\n")) || !bytes.Contains(out, []byte("| [`brand_new`](#brand_new) | string |")) {
		t.Errorf("the new field is not documented:\n%s", out)
	}
}
