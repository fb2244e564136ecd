package yamlfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// problems renders what d recorded, in line order, as file:line: msg.
func problems(d *Decoder) []string {
	var out []string
	for _, p := range NewError(d.Problems()).Problems {
		out = append(out, p.String())
	}
	return out
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		root string // the root node's kind (describe), "" for none
		want []string
	}{
		{"empty", "", "", nil},
		{"only a comment", "# nothing here\n", "", nil},
		{"empty document", "---\n", "null", nil},
		{"one document", "a: 1\n", "a mapping", nil},
		{"too large", "# " + strings.Repeat("x", MaxBytes) + "\n", "",
			[]string{"t.yaml: file is larger than 1048576 bytes"}},
		{"not utf-8 at its line", "a: 1\nb: \"\xff\xfe\"\n", "",
			[]string{"t.yaml:2: file is not valid UTF-8"}},
		{"not utf-8 after old Mac line breaks", "a: 1\rb: 2\r\nc: \xff\n", "",
			[]string{"t.yaml:3: file is not valid UTF-8"}},
		{"truncated utf-8", "a: \xe2\x82", "",
			[]string{"t.yaml:1: file is not valid UTF-8"}},
		{"syntax error", "a: 1\n  b: [\n", "",
			[]string{"t.yaml:2: yaml syntax: mapping values are not allowed in this context"}},
		{"syntax error without a line", "a: *nowhere\n", "",
			[]string{"t.yaml: yaml syntax: unknown anchor 'nowhere' referenced"}},
		{"second document", "a: 1\n---\nb: 2\n", "a mapping",
			[]string{"t.yaml:2: a second YAML document is not allowed: put everything in one document"}},
		{"bad second document", "a: 1\n---\nb: [\n", "a mapping",
			[]string{"t.yaml:3: yaml syntax: did not find expected node content"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &Decoder{File: "t.yaml"}
			root := d.Parse([]byte(tt.text))
			switch {
			case root == nil && tt.root != "":
				t.Errorf("no root, want %s", tt.root)
			case root != nil && describe(root) != tt.root:
				t.Errorf("root is %s, want %q", describe(root), tt.root)
			}
			if got := problems(d); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ok := write("ok.yaml", []byte("a: 1\n"))
	big := write("big.yaml", []byte(strings.Repeat("#", MaxBytes+1)))
	missing := filepath.Join(dir, "missing.yaml")
	tests := []struct {
		path string
		data string
		want []Problem
	}{
		{ok, "a: 1\n", nil},
		{big, "", []Problem{{File: big, Msg: "file is larger than 1048576 bytes"}}},
		{missing, "", []Problem{{File: missing, Msg: "cannot open: no such file or directory"}}},
		{dir, "", []Problem{{File: dir, Msg: "not a regular file"}}},
	}
	for _, tt := range tests {
		data, ps := Read(tt.path)
		if string(data) != tt.data || !slices.Equal(ps, tt.want) {
			t.Errorf("Read(%s) = %q, %v; want %q, %v", tt.path, data, ps, tt.data, tt.want)
		}
	}
}

// The document node of a yaml.v3 tree never reaches the primitives, but a
// caller could pass one; it is named, not mistaken for a value.
func TestDescribeDocument(t *testing.T) {
	t.Parallel()
	if got := describe(&yaml.Node{Kind: yaml.DocumentNode}); got != "a document" {
		t.Errorf("describe(document) = %q", got)
	}
}
