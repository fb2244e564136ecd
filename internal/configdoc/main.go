// Command configdoc writes docs/configuration.md, the configuration
// reference, from the source of the sandbox package: every key of the
// Config struct and the structs below it (found with go/ast by their yaml
// tags), its type, its default (from sandbox.DefaultConfig) and its doc
// comment. Run by go generate in package sandbox:
//
//	go generate ./sandbox
//
// A test regenerates the page in memory and fails when the file differs,
// so a config field added without `go generate` (or without a doc comment)
// fails the build's tests.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
)

func main() {
	src := flag.String("src", ".", "directory of package sandbox")
	out := flag.String("out", "../docs/configuration.md", "file to write")
	flag.Parse()
	b, err := Render(*src, sandbox.DefaultConfig())
	if err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "configdoc:", err)
		os.Exit(1)
	}
}

// key is one documented configuration key.
type key struct {
	path, typ, def, doc string
	section             bool // a mapping or list of mappings: its keys follow
}

// structs maps each struct type declared in the package to its AST and
// doc comment.
type structs map[string]struct {
	st  *ast.StructType
	doc string
}

// Render parses the non-test Go files of dir (package sandbox) and
// documents Config, with the values of defaults.
func Render(dir string, defaults sandbox.Config) ([]byte, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	types := structs{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		for _, d := range af.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, sp := range gd.Specs {
				ts := sp.(*ast.TypeSpec)
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				doc := ts.Doc.Text()
				if doc == "" && len(gd.Specs) == 1 {
					doc = gd.Doc.Text()
				}
				types[ts.Name.Name] = struct {
					st  *ast.StructType
					doc string
				}{st, doc}
			}
		}
	}
	if _, ok := types["Config"]; !ok {
		return nil, fmt.Errorf("%s: no type Config", dir)
	}
	var keys []key
	var problems []string
	walk(types, "Config", "", reflect.ValueOf(defaults), &keys, &problems)
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "\n"))
	}
	return write(keys), nil
}

// walk documents the fields of struct typeName under prefix; v is the
// default value of that struct (invalid inside lists: no default).
func walk(types structs, typeName, prefix string, v reflect.Value, keys *[]key, problems *[]string) {
	st := types[typeName].st
	for _, f := range st.Fields.List {
		if len(f.Names) == 0 || !f.Names[0].IsExported() || f.Tag == nil {
			continue
		}
		tag, _ := strconv.Unquote(f.Tag.Value)
		name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		goName := f.Names[0].Name
		path := prefix + name
		doc := f.Doc.Text()
		if doc == "" {
			doc = f.Comment.Text()
		}
		elem, list, ptr := baseType(f.Type)
		_, isStruct := types[elem]
		if doc == "" && isStruct {
			doc = types[elem].doc
		}
		if doc == "" {
			*problems = append(*problems, fmt.Sprintf("%s.%s (%s): no doc comment; every config field needs one, it is the configuration reference", typeName, goName, path))
		}
		var fv reflect.Value
		if v.IsValid() {
			fv = v.FieldByName(goName)
		}
		k := key{path: path, typ: typeLabel(elem, list, isStruct), doc: doc}
		switch {
		case isStruct && elem != "Date":
			k.section = true
			k.def = sectionDefault(fv, list)
			*keys = append(*keys, k)
			sub := path + "."
			var sv reflect.Value
			if list {
				sub = path + "[]."
			} else if ptr {
				if fv.IsValid() && !fv.IsNil() {
					sv = fv.Elem()
				}
			} else {
				sv = fv
			}
			walk(types, elem, sub, sv, keys, problems)
		default:
			k.def = scalarDefault(fv)
			*keys = append(*keys, k)
		}
	}
}

// baseType names a field's type without pointer and slice: "TenantConfig",
// "string", "time.Duration".
func baseType(e ast.Expr) (name string, list, ptr bool) {
	for {
		switch t := e.(type) {
		case *ast.StarExpr:
			ptr, e = true, t.X
		case *ast.ArrayType:
			list, e = true, t.Elt
		case *ast.Ident:
			return t.Name, list, ptr
		case *ast.SelectorExpr:
			return fmt.Sprint(t.X) + "." + t.Sel.Name, list, ptr
		default:
			return fmt.Sprintf("%T", e), list, ptr
		}
	}
}

func typeLabel(name string, list, isStruct bool) string {
	label := map[string]string{
		"string": "string", "bool": "boolean", "int": "integer", "int64": "integer",
		"time.Duration": "duration (`250ms`, `30s`, `1h30m`)",
		"time.Time":     "timestamp (RFC 3339, or a YYYY-MM-DD date)",
		"Date":          "date (YYYY-MM-DD)",
	}[name]
	switch {
	case isStruct && name != "Date" && list:
		return "list of mappings"
	case isStruct && name != "Date":
		return "mapping"
	case label == "":
		label = name
	}
	if list {
		return "list of " + label + "s"
	}
	return label
}

func scalarDefault(v reflect.Value) string {
	if !v.IsValid() {
		return ""
	}
	switch x := v.Interface().(type) {
	case time.Duration:
		if x == 0 {
			return "`0s`"
		}
		return "`" + fmtDuration(x) + "`"
	case time.Time:
		if x.IsZero() {
			return "none"
		}
		return "`" + x.Format(time.RFC3339) + "`"
	case sandbox.Date:
		return "`" + x.String() + "`"
	case string:
		if x == "" {
			return `""`
		}
		return "`" + x + "`"
	case []string:
		return "`[" + strings.Join(x, ", ") + "]`"
	}
	return "`" + fmt.Sprint(v.Interface()) + "`"
}

func sectionDefault(v reflect.Value, list bool) string {
	if !v.IsValid() || !list {
		return ""
	}
	switch n := v.Len(); n {
	case 0:
		return "none"
	case 1:
		return "1 entry (see sandbox.yaml)"
	default:
		return strconv.Itoa(n) + " entries (see sandbox.yaml)"
	}
}

const header = `# Configuration reference

<!-- Generated by internal/configdoc from the doc comments of the Config
struct in sandbox/ (go generate ./sandbox). Do not edit: change the doc
comment and regenerate; a test fails when this page and the source differ. -->

The sandbox reads one YAML file (` + "`fhirsandbox serve --config sandbox.yaml`" + `)
laid over the built-in defaults. Precedence, highest first: command-line
flags, ` + "`FHIRSANDBOX_*`" + ` environment variables, the file, the built-in
defaults. ` + "`sandbox.yaml`" + ` at the repository root holds exactly the defaults,
with comments that name each key's flag and environment variable.

Unknown keys, wrong types, duplicate keys, YAML aliases and a second
document are errors; every problem is reported at once as
` + "`file:line: message`" + `. Keys below are written as paths: ` + "`auth.token_ttl`" + ` is
` + "`token_ttl`" + ` inside the ` + "`auth`" + ` mapping; ` + "`tenants[].id`" + ` is ` + "`id`" + ` in each item of the
` + "`tenants`" + ` list.

See also: [configuration rules](configuration-rules.md) (secret rules and
checks), [clients and tenants](clients-and-tenants.md), [state](state.md).

`

// write renders the keys as Markdown: an index, then one entry per key.
func write(keys []key) []byte {
	var b bytes.Buffer
	b.WriteString(header)
	b.WriteString("| Key | Type | Default |\n|---|---|---|\n")
	for _, k := range keys {
		def := k.def
		if def == "" {
			def = "–"
		}
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s |\n", k.path, anchor(k.path), k.typ, def)
	}
	var p comment.Parser
	pr := comment.Printer{HeadingLevel: 4}
	for _, k := range keys {
		fmt.Fprintf(&b, "\n## %s\n\n", "`"+k.path+"`")
		fmt.Fprintf(&b, "Type: %s.", k.typ)
		if k.def != "" {
			fmt.Fprintf(&b, " Default: %s.", k.def)
		}
		b.WriteString("\n\n")
		md := bytes.TrimSpace(pr.Markdown(p.Parse(k.doc)))
		b.Write(md)
		b.WriteString("\n")
	}
	return b.Bytes()
}

// anchor is the GitHub heading anchor of "## `path`".
func anchor(path string) string {
	var a strings.Builder
	for _, r := range strings.ToLower(path) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			a.WriteRune(r)
		}
	}
	return a.String()
}

// fmtDuration writes 1h rather than 1h0m0s.
func fmtDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
