package yamlfile

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// walkCase decodes the value of key v of text with walk, which renders
// what it decoded; got and the problems are compared.
type walkCase struct {
	name    string
	wording Wording
	text    string
	walk    func(d *Decoder, v *yaml.Node) string
	got     string
	want    []string
}

func runWalk(t *testing.T, tests []walkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &Decoder{File: "t.yaml", Wording: tt.wording}
			root := d.Parse([]byte(tt.text))
			if root == nil || len(d.Problems()) > 0 {
				t.Fatalf("test text does not parse: %q", problems(d))
			}
			var v *yaml.Node
			for i := 0; i+1 < len(root.Content); i += 2 {
				if root.Content[i].Value == "v" {
					v = root.Content[i+1]
				}
			}
			if v == nil {
				t.Fatalf("test text has no key v")
			}
			if got := tt.walk(d, v); got != tt.got {
				t.Errorf("decoded %q, want %q", got, tt.got)
			}
			if got := problems(d); !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func str(d *Decoder, v *yaml.Node) string {
	s, ok := d.Str(v, "v")
	return fmt.Sprintf("%v %v", s, ok)
}

func integer(lo, hi int64) func(d *Decoder, v *yaml.Node) string {
	return func(d *Decoder, v *yaml.Node) string {
		i, ok := d.Int64(v, "v", lo, hi)
		return fmt.Sprint(i, ok)
	}
}

func float(lo, hi float64) func(d *Decoder, v *yaml.Node) string {
	return func(d *Decoder, v *yaml.Node) string {
		f, ok := d.Float(v, "v", lo, hi)
		return fmt.Sprint(f, ok)
	}
}

func boolean(d *Decoder, v *yaml.Node) string {
	b, ok := d.Bool(v, "v")
	return fmt.Sprint(b, ok)
}

func duration(lo, hi time.Duration) func(d *Decoder, v *yaml.Node) string {
	return func(d *Decoder, v *yaml.Node) string {
		x, ok := d.Duration(v, "v", lo, hi)
		return fmt.Sprint(x, ok)
	}
}

func timestamp(d *Decoder, v *yaml.Node) string {
	x, ok := d.Time(v, "v")
	return fmt.Sprintf("%v %v", x.Format(time.RFC3339), ok)
}

func date(d *Decoder, v *yaml.Node) string {
	x, ok := d.Date(v, "v")
	return fmt.Sprintf("%v %v", x.Format(time.RFC3339), ok)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "alias", text: "a: &x 1\nv: *x\n", walk: str, got: " false",
			want: []string{"t.yaml:2: v: YAML aliases are not allowed; write the value of *x out"}},
		{name: "binary tag", text: "v: !!binary aGk=\n", walk: str, got: " false",
			want: []string{"t.yaml:1: v: YAML tag !!binary is not allowed; write the plain value"}},
		{name: "application tag", text: "v: !color red\n", walk: str, got: " false",
			want: []string{"t.yaml:1: v: YAML tag !color is not allowed; write the plain value"}},
		{name: "set tag on a mapping", text: "v: !!set {a, b}\n",
			walk: func(d *Decoder, v *yaml.Node) string { return fmt.Sprint(d.Pairs(v, "v", func(k, v *yaml.Node) {})) },
			got:  "false", want: []string{"t.yaml:1: v: YAML tag !!set is not allowed; write the plain value"}},
		{name: "ordered map tag on a list", text: "v: !!omap [a: 1]\n",
			walk: func(d *Decoder, v *yaml.Node) string { return fmt.Sprint(d.List(v, "v", func(*yaml.Node) {})) },
			got:  "false", want: []string{"t.yaml:1: v: YAML tag !!omap is not allowed; write the plain value"}},
		{name: "tag with a line break", text: "v: !%0A x\n", walk: str, got: " false",
			want: []string{`t.yaml:1: v: YAML tag "!\n" is not allowed; write the plain value`}},
		{name: "core tags are plain", text: "v: !!str 5\n", walk: str, got: "5 true"},
	})
}

func TestStr(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "string", text: "v: hello\n", walk: str, got: "hello true"},
		{name: "number as written", text: "v: 1984\n", walk: str, got: "1984 true"},
		{name: "list", text: "v: [a]\n", walk: str, got: " false",
			want: []string{"t.yaml:1: v must be a string, got a list"}},
		{name: "null", text: "v:\n", walk: str, got: " false",
			want: []string{"t.yaml:1: v must be a string, got null"}},
		{name: "want wording", wording: Want, text: "v: {a: 1}\n", walk: str, got: " false",
			want: []string{"t.yaml:1: v: want a string, got a mapping"}},
	})
}

func TestInt(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "decimal", text: "v: 42\n", walk: integer(0, 100), got: "42 true"},
		{name: "yaml forms", text: "v: [0x10, 0o17, 1_000, +5, 0]\n", got: "[16 15 1000 5 0]",
			walk: func(d *Decoder, v *yaml.Node) string {
				var out []int64
				d.List(v, "v", func(c *yaml.Node) {
					i, _ := d.Int64(c, "v", math.MinInt64, math.MaxInt64)
					out = append(out, i)
				})
				return fmt.Sprint(out)
			}},
		{name: "leading zero", text: "v: 010\n", walk: integer(0, 100), got: "0 false",
			want: []string{"t.yaml:1: v: 010 has a leading 0, which YAML reads as octal; drop the 0, or write 0o for octal"}},
		{name: "text", text: "v: ten\n", walk: integer(0, 100), got: "0 false",
			want: []string{`t.yaml:1: v must be an integer, got "ten"`}},
		{name: "fraction", text: "v: 1.5\n", walk: integer(0, 100), got: "0 false",
			want: []string{`t.yaml:1: v must be an integer, got "1.5"`}},
		{name: "above", text: "v: 12\n", walk: integer(0, 9), got: "0 false",
			want: []string{"t.yaml:1: v must be between 0 and 9, got 12"}},
		{name: "below", text: "v: -1\n", walk: integer(0, 9), got: "0 false",
			want: []string{"t.yaml:1: v must be between 0 and 9, got -1"}},
		{name: "not an integer after all", text: "v: !!int \"1\\n2\"\n", walk: integer(0, 9), got: "0 false",
			want: []string{`t.yaml:1: v must be between 0 and 9, got "1\n2"`}},
		{name: "want wording", wording: Want, text: "v: ten\n", walk: integer(0, 100), got: "0 false",
			want: []string{`t.yaml:1: v: want a whole number, got "ten"`}},
		{name: "want wording out of bounds", wording: Want, text: "v: 12\n", walk: integer(0, 9), got: "0 false",
			want: []string{"t.yaml:1: v: want a whole number between 0 and 9, got 12"}},
		{name: "int", text: "v: 7\n", got: "7 true",
			walk: func(d *Decoder, v *yaml.Node) string { i, ok := d.Int(v, "v", 0, 9); return fmt.Sprint(i, ok) }},
	})
}

func TestFloat(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "fraction", text: "v: 0.25\n", walk: float(0, 1), got: "0.25 true"},
		{name: "integer", text: "v: 1\n", walk: float(0, 1), got: "1 true"},
		{name: "text", text: "v: half\n", walk: float(0, 1), got: "0 false",
			want: []string{`t.yaml:1: v must be a number, got "half"`}},
		{name: "above", text: "v: 1.5\n", walk: float(0, 1), got: "0 false",
			want: []string{"t.yaml:1: v must be between 0 and 1, got 1.5"}},
		{name: "not a number", text: "v: .nan\n", walk: float(0, 1), got: "0 false",
			want: []string{"t.yaml:1: v must be between 0 and 1, got .nan"}},
		{name: "infinite", text: "v: .inf\n", walk: float(0, 1e6), got: "0 false",
			want: []string{"t.yaml:1: v must be between 0 and 1e+06, got .inf"}},
		{name: "leading zero", text: "v: 01\n", walk: float(0, 9), got: "0 false",
			want: []string{"t.yaml:1: v: 01 has a leading 0, which YAML reads as octal; drop the 0, or write 0o for octal"}},
	})
}

func TestBool(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "true", text: "v: true\n", walk: boolean, got: "true true"},
		{name: "capitalised", text: "v: False\n", walk: boolean, got: "false true"},
		{name: "yaml 1.1 yes", text: "v: yes\n", walk: boolean, got: "false false",
			want: []string{`t.yaml:1: v must be true or false, got "yes"`}},
		{name: "want wording", wording: Want, text: "v: 1\n", walk: boolean, got: "false false",
			want: []string{`t.yaml:1: v: want true or false, got "1"`}},
	})
}

func TestDuration(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "duration", text: "v: 1m30s\n", walk: duration(0, time.Hour), got: "1m30s true"},
		{name: "bare zero", text: "v: 0\n", walk: duration(0, time.Hour), got: "0s true"},
		{name: "no unit", text: "v: 60\n", walk: duration(0, time.Hour), got: "0s false",
			want: []string{`t.yaml:1: v must be a duration such as 250ms, 90s or 1h, got "60"`}},
		{name: "null", text: "v: ~\n", walk: duration(0, time.Hour), got: "0s false",
			want: []string{"t.yaml:1: v must be a duration such as 250ms, 90s or 1h, got null"}},
		{name: "above", text: "v: 2h\n", walk: duration(0, time.Hour), got: "0s false",
			want: []string{"t.yaml:1: v must be between 0 and 1h0m0s, got 2h"}},
		{name: "below", text: "v: 10ms\n", walk: duration(time.Second, time.Hour), got: "0s false",
			want: []string{"t.yaml:1: v must be between 1s and 1h0m0s, got 10ms"}},
		{name: "want wording", wording: Want, text: "v: [1s]\n", walk: duration(0, time.Hour), got: "0s false",
			want: []string{"t.yaml:1: v: want a duration such as 250ms, 90s or 1h, got a list"}},
		{name: "want wording out of bounds", wording: Want, text: "v: -1s\n", walk: duration(0, time.Hour), got: "0s false",
			want: []string{"t.yaml:1: v: want a duration between 0 and 1h0m0s, got -1s"}},
	})
}

func TestTimeAndDate(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "time in UTC", text: "v: 2030-01-02T03:04:05+02:00\n", walk: timestamp, got: "2030-01-02T01:04:05Z true"},
		{name: "date as time", text: "v: 2030-01-02\n", walk: timestamp, got: "2030-01-02T00:00:00Z true"},
		{name: "not a time", text: "v: soon\n", walk: timestamp, got: "0001-01-01T00:00:00Z false",
			want: []string{`t.yaml:1: v must be a time such as 2027-12-31T00:00:00Z or a date 2027-12-31, got "soon"`}},
		{name: "date", text: "v: 2030-01-02\n", walk: date, got: "2030-01-02T00:00:00Z true"},
		{name: "no such day", wording: Want, text: "v: 2030-02-30\n", walk: date, got: "0001-01-01T00:00:00Z false",
			want: []string{`t.yaml:1: v: want a date YYYY-MM-DD, got "2030-02-30"`}},
	})
}

func fieldsAB(d *Decoder, v *yaml.Node) string {
	var a, b string
	ok := d.Mapping(v, "v", Fields{"b": d.StrTo(&b, "v.b"), "a": d.StrTo(&a, "v.a")})
	return fmt.Sprintf("%v,%v %v", a, b, ok)
}

func TestMappingAndKeys(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "fields", text: "v: {a: x, b: y}\n", walk: fieldsAB, got: "x,y true"},
		{name: "unknown key, known sorted", text: "v:\n  a: x\n  zz: 1\n", walk: fieldsAB, got: "x, true",
			want: []string{`t.yaml:3: v: unknown key "zz" (known: a, b)`}},
		{name: "keys in the order given", text: "v: {c: 1}\n", got: "true",
			walk: func(d *Decoder, v *yaml.Node) string {
				return fmt.Sprint(d.Keys(v, "v", []string{"b", "a"}, func(k, v *yaml.Node) {}))
			},
			want: []string{`t.yaml:1: v: unknown key "c" (known: b, a)`}},
		{name: "duplicate key", text: "v:\n  a: x\n  b: y\n  a: z\n", walk: fieldsAB, got: "x,y true",
			want: []string{`t.yaml:4: v: duplicate key "a" (first set at line 2)`}},
		{name: "merge key", text: "x: &x {a: 1}\nv:\n  <<: *x\n", walk: fieldsAB, got: ", true",
			want: []string{"t.yaml:3: v: YAML merge keys (<<) are not allowed"}},
		{name: "number key", text: "v: {1: x}\n", walk: fieldsAB, got: ", true",
			want: []string{`t.yaml:1: v: keys must be plain names, got "1"`}},
		{name: "list key", text: "v: {[a]: x}\n", walk: fieldsAB, got: ", true",
			want: []string{"t.yaml:1: v: keys must be plain names, got a list"}},
		{name: "alias value refused by its field", text: "x: &x hi\nv:\n  a: *x\n", walk: fieldsAB, got: ", true",
			want: []string{"t.yaml:3: v.a: YAML aliases are not allowed; write the value of *x out"}},
		{name: "not a mapping", text: "v: [a]\n", walk: fieldsAB, got: ", false",
			want: []string{"t.yaml:1: v must be a mapping, got a list"}},
		{name: "want wording", wording: Want, text: "v: x\n", walk: fieldsAB, got: ", false",
			want: []string{`t.yaml:1: v: want a mapping, got "x"`}},
	})
}

func TestPairsAndStringMap(t *testing.T) {
	t.Parallel()
	stringMap := func(d *Decoder, v *yaml.Node) string { return fmt.Sprint(d.StringMap(v, "v")) }
	runWalk(t, []walkCase{
		{name: "free-form keys", text: "v: {X-A: 1, 2: b}\n", walk: stringMap, got: "map[2:b X-A:1]"},
		{name: "empty key", text: "v: {\"\": x}\n", walk: stringMap, got: "map[]",
			want: []string{`t.yaml:1: v: keys must be non-empty names, got ""`}},
		{name: "duplicate key", text: "v:\n  a: x\n  a: y\n", walk: stringMap, got: "map[a:x]",
			want: []string{`t.yaml:3: v: duplicate key "a" (first set at line 2)`}},
		{name: "value not a string", text: "v: {a: [x]}\n", walk: stringMap, got: "map[]",
			want: []string{"t.yaml:1: v a must be a string, got a list"}},
		{name: "not a mapping", text: "v: x\n", walk: stringMap, got: "map[]",
			want: []string{`t.yaml:1: v must be a mapping, got "x"`}},
	})
}

func TestListAndStringList(t *testing.T) {
	t.Parallel()
	stringList := func(d *Decoder, v *yaml.Node) string { return fmt.Sprintf("%q", d.StringList(v, "v")) }
	tooMany := "v: [" + strings.Repeat("x, ", MaxItems) + "x]\n"
	runWalk(t, []walkCase{
		{name: "strings", text: "v: [a, 1, true]\n", walk: stringList, got: `["a" "1" "true"]`},
		{name: "an item is not", text: "v:\n  - a\n  - [b]\n  - c\n", walk: stringList, got: `["a" "c"]`,
			want: []string{"t.yaml:3: v item must be a string, got a list"}},
		{name: "not a list", text: "v: a\n", walk: stringList, got: "[]",
			want: []string{`t.yaml:1: v must be a list, got "a"`}},
		{name: "too many items", text: tooMany, walk: stringList, got: "[]",
			want: []string{"t.yaml:1: v has 10001 items, at most 10000 allowed"}},
		{name: "want wording", wording: Want, text: "v: {a: 1}\n", walk: stringList, got: "[]",
			want: []string{"t.yaml:1: v: want a list, got a mapping"}},
	})
}

func TestOneOf(t *testing.T) {
	t.Parallel()
	oneOf := func(d *Decoder, v *yaml.Node) string {
		kind, params, ok := d.OneOf(v, "v", []string{"reset", "slow"})
		p := "<nil>"
		if params != nil {
			p = describe(params)
		}
		return fmt.Sprintf("%s %s %v", kind, p, ok)
	}
	runWalk(t, []walkCase{
		{name: "name", text: "v: reset\n", walk: oneOf, got: "reset <nil> true"},
		{name: "with parameters", text: "v: {slow: {rate: 1}}\n", walk: oneOf, got: "slow a mapping true"},
		{name: "null parameters", text: "v: {slow: ~}\n", walk: oneOf, got: "slow <nil> true"},
		{name: "unknown", text: "v: explode\n", walk: oneOf, got: " <nil> false",
			want: []string{`t.yaml:1: v: unknown kind "explode" (known: reset, slow)`}},
		{name: "two keys", text: "v: {reset: ~, slow: ~}\n", walk: oneOf, got: " <nil> false",
			want: []string{"t.yaml:1: v must name exactly one of: reset, slow"}},
		{name: "list", text: "v: [reset]\n", walk: oneOf, got: " <nil> false",
			want: []string{"t.yaml:1: v must be a name or a one-key mapping, got a list"}},
		{name: "alias parameters", text: "x: &x {rate: 1}\nv: {slow: *x}\n", walk: oneOf, got: " <nil> false",
			want: []string{"t.yaml:2: v: YAML aliases are not allowed; write the value of *x out"}},
	})
}

func TestJSON(t *testing.T) {
	t.Parallel()
	toJSON := func(d *Decoder, v *yaml.Node) string {
		b, ok := d.JSON(v, "v")
		if !ok {
			return "refused"
		}
		return string(b)
	}
	deep := "v: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "\n"
	runWalk(t, []walkCase{
		{name: "key order kept", text: "v: {b: 1, a: [true, False, ~, 1.5, x, 0x10, 2030-01-02, \"3\"]}\n", walk: toJSON,
			got: `{"b":1,"a":[true,false,null,1.5,"x",16,"2030-01-02","3"]}`},
		{name: "number keys are names", text: "v: {200: ok}\n", walk: toJSON, got: `{"200":"ok"}`},
		{name: "infinite", text: "v: [.inf]\n", walk: toJSON, got: "refused",
			want: []string{`t.yaml:1: v: ".inf" is not a JSON number`}},
		{name: "leading zero", text: "v: [010]\n", walk: toJSON, got: "refused",
			want: []string{"t.yaml:1: v: 010 has a leading 0, which YAML reads as octal; drop the 0, or write 0o for octal"}},
		{name: "duplicate key", text: "v:\n  a: 1\n  a: 2\n", walk: toJSON, got: "refused",
			want: []string{`t.yaml:3: v: duplicate key "a" (first set at line 2)`}},
		{name: "alias inside", text: "x: &x 1\nv: [1, *x]\n", walk: toJSON, got: "refused",
			want: []string{"t.yaml:2: v: YAML aliases are not allowed; write the value of *x out"}},
		{name: "tag inside", text: "v: {a: !!binary aGk=}\n", walk: toJSON, got: "refused",
			want: []string{"t.yaml:1: v: YAML tag !!binary is not allowed; write the plain value"}},
		{name: "too deep", text: deep, walk: toJSON, got: "refused",
			want: []string{"t.yaml:1: v is nested too deeply"}},
	})
}

// The To helpers leave the destination alone when the value is refused,
// so a default survives a mistake next to it.
func TestToHelpers(t *testing.T) {
	t.Parallel()
	runWalk(t, []walkCase{
		{name: "all set", text: "v: {s: x, i: 3, b: true, d: 2s}\n", got: "x 3 true 2s",
			walk: func(d *Decoder, v *yaml.Node) string {
				s, i, b, dur := "def", 1, false, time.Second
				d.Mapping(v, "v", Fields{
					"s": d.StrTo(&s, "v.s"), "i": d.IntTo(&i, "v.i", 0, 9),
					"b": d.BoolTo(&b, "v.b"), "d": d.DurationTo(&dur, "v.d", 0, time.Minute),
				})
				return fmt.Sprintf("%v %v %v %v", s, i, b, dur)
			}},
		{name: "defaults kept", text: "v: {s: [x], i: 30, b: 1, d: 2h}\n", got: "def 1 false 1s",
			walk: func(d *Decoder, v *yaml.Node) string {
				s, i, b, dur := "def", 1, false, time.Second
				d.Mapping(v, "v", Fields{
					"s": d.StrTo(&s, "v.s"), "i": d.IntTo(&i, "v.i", 0, 9),
					"b": d.BoolTo(&b, "v.b"), "d": d.DurationTo(&dur, "v.d", 0, time.Minute),
				})
				return fmt.Sprintf("%v %v %v %v", s, i, b, dur)
			},
			want: []string{
				"t.yaml:1: v.s must be a string, got a list",
				"t.yaml:1: v.i must be between 0 and 9, got 30",
				`t.yaml:1: v.b must be true or false, got "1"`,
				"t.yaml:1: v.d must be between 0 and 1m0s, got 2h",
			}},
	})
}
