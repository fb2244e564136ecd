package yamlfile

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// FuzzParse holds Parse and the walk to their contract on any input: no
// panic; every problem names the file and a line of the text (or none)
// and fits on one line;
// text that is not UTF-8 gets exactly that one problem; no root and no
// problem only for text without a document; and the same text gives the
// same problems twice.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "# c\n", "---\n", "a: 1\n", "a: 1\n---\nb: 2\n", "a: 1\n---\nb: [\n",
		"a: &x [1, 2]\nb: *x\n", "a: {<<: {b: 1}}\n", "a: !!binary aGk=\n", "a: !x {b: 1}\n",
		"a: [1, 0x10, 010, .inf, True, ~, 2030-01-02]\n", "a: 1\na: 2\n", "{[a]: 1, 1: 2, ~: 3}\n",
		"a: \"\xff\"\n", "!%0A x\n", "a: !!int \"1\\n2\"\n", "\xef\xbb\xbfa: 1\n", strings.Repeat("[", 100) + strings.Repeat("]", 100),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &Decoder{File: "f.yaml"}
		root := d.Parse(data)
		if root != nil {
			walkAll(d, root, "v", 0)
			d.JSON(root, "v")
		}
		ps := d.Problems()
		lines := 1 + lineBreaks(data)
		for _, p := range ps {
			if p.File != "f.yaml" || p.Line < 0 || p.Line > lines+1 || p.Msg == "" || strings.ContainsAny(p.Msg, "\r\n") {
				t.Fatalf("problem %+v is not located in the text (%d lines)", p, lines)
			}
		}
		if !utf8.Valid(data) && (len(ps) != 1 || !strings.Contains(ps[0].Msg, "not valid UTF-8")) {
			t.Fatalf("text that is not UTF-8 gave %v", ps)
		}
		if root == nil && len(ps) == 0 {
			var doc yaml.Node
			if err := yaml.Unmarshal(data, &doc); err != nil || doc.Kind != 0 {
				t.Fatalf("no root and no problem for a document (%v)", err)
			}
		}
		again := &Decoder{File: "f.yaml"}
		if root2 := again.Parse(data); root2 != nil {
			walkAll(again, root2, "v", 0)
			again.JSON(root2, "v")
		}
		if !slices.Equal(again.Problems(), ps) {
			t.Fatalf("problems differ between two runs:\n%v\n%v", ps, again.Problems())
		}
	})
}

// walkAll visits every node through the primitives, as a loader would.
func walkAll(d *Decoder, n *yaml.Node, what string, depth int) {
	if depth > 50 {
		return
	}
	switch n.Kind {
	case yaml.MappingNode:
		d.Pairs(n, what, func(k, v *yaml.Node) { walkAll(d, v, what+"."+k.Value, depth+1) })
	case yaml.SequenceNode:
		d.List(n, what, func(c *yaml.Node) { walkAll(d, c, what+"[]", depth+1) })
	default:
		d.Str(n, what)
		d.Int64(n, what, -1, 1)
		d.Float(n, what, -1, 1)
		d.Bool(n, what)
		d.Duration(n, what, 0, 1)
		d.Time(n, what)
		d.Date(n, what)
		d.OneOf(n, what, []string{"a"})
	}
}
