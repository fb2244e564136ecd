package spec

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// owners may tell releases apart by name: the table itself, the
// renderers, which write each release's resources, and (ownerDirs) the
// validators, the structural one and the tests' independent one, which
// keep their own definitions of each release by version number rather than
// trust the table they check.
var ownerDirs = []string{"sandbox/internal/structural/", "sandbox/internal/validate/"}

var owners = map[string]bool{
	"sandbox/spec/release.go": true,
	"sandbox/fhir/dstu2.go":   true,
	"sandbox/fhir/stu3.go":    true,
	"sandbox/fhir/r4.go":      true,
}

// TestReleaseNamesComparedOnlyByOwners fails when code outside the table
// and the renderers compares something with a release's name, label or
// version number: such a comparison is a behavioural difference that
// belongs in a field of the row, and it would silently come out wrong for
// the next release.
func TestReleaseNamesComparedOnlyByOwners(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if owners[rel] || slices.ContainsFunc(ownerDirs, func(d string) bool { return strings.HasPrefix(rel, d) }) {
			return nil
		}
		for _, p := range releaseComparisons(t, path, nil) {
			t.Errorf("%s: compares with release %s: make it a field of spec.Release", p.pos, p.lit)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReleaseComparisonsFound proves the scan finds each form of
// comparison, so the test above cannot pass by seeing nothing.
func TestReleaseComparisonsFound(t *testing.T) {
	t.Parallel()
	src := `package x
import "strings"
func f(v, w string) bool {
	switch v {
	case "dstu2":
		return true
	}
	if strings.HasPrefix(w, "3.0.") { return true }
	if "/STU3" != w { return false }
	return v == "stu3" || w == "not a release"
}`
	got := releaseComparisons(t, "x.go", []byte(src))
	var lits []string
	for _, p := range got {
		lits = append(lits, p.lit)
	}
	want := `"dstu2" "3.0." "/STU3" "stu3"`
	if strings.Join(lits, " ") != want {
		t.Errorf("found %v, want %s", lits, want)
	}
}

type comparison struct {
	pos token.Position
	lit string
}

// releaseComparisons parses a Go file (src, or the file at path) and lists
// ==, != and switch-case comparisons, and strings.EqualFold/HasPrefix/
// HasSuffix calls, with a literal naming a release.
func releaseComparisons(t *testing.T, path string, src []byte) []comparison {
	t.Helper()
	fset := token.NewFileSet()
	var srcArg any
	if src != nil {
		srcArg = src
	}
	f, err := parser.ParseFile(fset, path, srcArg, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	var out []comparison
	check := func(e ast.Expr) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		s, err := strconv.Unquote(lit.Value)
		if err == nil && namesRelease(s) {
			out = append(out, comparison{fset.Position(lit.Pos()), lit.Value})
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.BinaryExpr:
			if n.Op == token.EQL || n.Op == token.NEQ {
				check(n.X)
				check(n.Y)
			}
		case *ast.CaseClause:
			for _, e := range n.List {
				check(e)
			}
		case *ast.CallExpr:
			if sel, ok := n.Fun.(*ast.SelectorExpr); ok {
				if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "strings" {
					switch sel.Sel.Name {
					case "EqualFold", "HasPrefix", "HasSuffix", "TrimPrefix", "Contains":
						for _, a := range n.Args {
							check(a)
						}
					}
				}
			}
		}
		return true
	})
	return out
}

// namesRelease reports whether s is a release's name or label (with or
// without a leading slash), its version number, or that number's
// major.minor prefix.
func namesRelease(s string) bool {
	s = strings.ToLower(strings.TrimPrefix(s, "/"))
	for _, r := range Releases() {
		if s == r.Name || s == strings.ToLower(r.Label) || s == r.FHIRVersion {
			return true
		}
		if mm := majorMinor(r.FHIRVersion); s == mm || s == mm+"." {
			return true
		}
	}
	return false
}
