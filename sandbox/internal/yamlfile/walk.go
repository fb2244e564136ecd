package yamlfile

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"
)

// MaxItems bounds a list, so that a small file cannot ask for a huge
// amount of work.
const MaxItems = 10000

// Wording is how a Decoder phrases a value of the wrong type or out of
// bounds. The config and scenario formats grew different house styles
// before they shared this package; users and tests rely on both, so the
// style is chosen per decoder while every other message is shared.
type Wording int

const (
	// MustBe reads `rule 1.status must be an integer, got "x"` and
	// `rule 1.probability must be between 0 and 1, got 2`.
	MustBe Wording = iota
	// Want reads `limits.max_count: want a whole number, got "ten"` and
	// `seed: want a whole number between 0 and 9, got 12`.
	Want
)

// Nouns of the values the primitives want, shared by both wordings.
const (
	aMapping  = "a mapping"
	aList     = "a list"
	aString   = "a string"
	aBool     = "true or false"
	aNumber   = "a number"
	aDuration = "a duration such as 250ms, 90s or 1h"
	aTime     = "a time such as 2027-12-31T00:00:00Z or a date 2027-12-31"
	aDate     = "a date YYYY-MM-DD"
)

// integer is the one noun the two wordings do not share.
func (d *Decoder) integer() string {
	if d.Wording == Want {
		return "a whole number"
	}
	return "an integer"
}

// mismatch reports that n, the value of what, is not the kind wanted.
func (d *Decoder) mismatch(n *yaml.Node, what, want string) {
	if d.Wording == Want {
		d.Addf(n, "%s: want %s, got %s", what, want, describe(n))
		return
	}
	d.Addf(n, "%s must be %s, got %s", what, want, describe(n))
}

// outOfBounds reports that n, the value of what, is of the right kind but
// not between lo and hi.
func (d *Decoder) outOfBounds(n *yaml.Node, what, want string, lo, hi any) {
	if d.Wording == Want {
		d.Addf(n, "%s: want %s between %v and %v, got %s", what, want, lo, hi, shown(n.Value))
		return
	}
	d.Addf(n, "%s must be between %v and %v, got %s", what, lo, hi, shown(n.Value))
}

// describe names what a node is, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if IsNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// shown writes a value into a message as the user wrote it, or quoted when
// it holds a line break or another unprintable character: a problem is one
// line of an Error's text.
func shown(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}

// IsNull reports whether n is a null scalar (null, ~ or nothing at all).
func IsNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// Check reports n if it is an alias or carries a tag outside the YAML core
// schema, and says whether n may be decoded. Every primitive checks the
// node it is given; callers that look into a node themselves check it
// first.
func (d *Decoder) Check(n *yaml.Node, what string) bool {
	if n.Kind == yaml.AliasNode {
		// Refusing aliases rules out alias bombs, and a value written
		// where it is used is easier to review.
		d.Addf(n, "%s: YAML aliases are not allowed; write the value of *%s out", what, n.Value)
		return false
	}
	if !coreTag(n) {
		// !!binary, !!set or an application tag would give a value a
		// meaning the loaders do not implement.
		d.Addf(n, "%s: YAML tag %s is not allowed; write the plain value", what, shown(n.ShortTag()))
		return false
	}
	return true
}

func coreTag(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.MappingNode:
		return n.ShortTag() == "!!map"
	case yaml.SequenceNode:
		return n.ShortTag() == "!!seq"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str", "!!int", "!!float", "!!bool", "!!null", "!!timestamp":
			return true
		}
		return false
	}
	return true
}

// keyRule is what a mapping accepts as keys.
type keyRule int

const (
	nameKey keyRule = iota // a string: a field of a known set
	freeKey                // any non-empty scalar: a header or parameter name
	jsonKey                // any scalar: a JSON member name
)

// key reports k if it cannot be a key of the mapping what under rule, or
// repeats one in seen, and says whether to go on with its value.
func (d *Decoder) key(k *yaml.Node, what string, rule keyRule, seen map[string]int) bool {
	if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
		d.Addf(k, "%s: YAML merge keys (<<) are not allowed", what)
		return false
	}
	if !d.Check(k, what) {
		return false
	}
	switch {
	case rule == nameKey && (k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str"):
		d.Addf(k, "%s: keys must be plain names, got %s", what, describe(k))
		return false
	case rule == freeKey && (k.Kind != yaml.ScalarNode || k.Value == ""):
		d.Addf(k, "%s: keys must be non-empty names, got %s", what, describe(k))
		return false
	case k.Kind != yaml.ScalarNode:
		d.Addf(k, "%s: keys must be plain names, got %s", what, describe(k))
		return false
	}
	if first, dup := seen[k.Value]; dup {
		d.Addf(k, "%s: duplicate key %q (first set at line %d)", what, k.Value, first)
		return false
	}
	seen[k.Value] = k.Line
	return true
}

// entries walks the key-value pairs of mapping n, calling f for each pair
// whose key passes rule.
func (d *Decoder) entries(n *yaml.Node, what string, rule keyRule, f func(k, v *yaml.Node)) bool {
	if !d.Check(n, what) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.mismatch(n, what, aMapping)
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; d.key(k, what, rule, seen) {
			f(k, n.Content[i+1])
		}
	}
	return true
}

// Keys walks a mapping whose keys must be among known, calling f with each
// key and value; an unknown key is reported with the known ones, in the
// order given. It says whether n was a mapping.
func (d *Decoder) Keys(n *yaml.Node, what string, known []string, f func(k, v *yaml.Node)) bool {
	return d.entries(n, what, nameKey, func(k, v *yaml.Node) {
		if !slices.Contains(known, k.Value) {
			d.Addf(k, "%s: unknown key %q (known: %s)", what, k.Value, strings.Join(known, ", "))
			return
		}
		f(k, v)
	})
}

// Fields maps each known key of a mapping to what decodes its value.
type Fields map[string]func(v *yaml.Node)

// Mapping walks a mapping whose keys are those of fields (listed sorted
// when one is unknown) and decodes each value with its field. It says
// whether n was a mapping.
func (d *Decoder) Mapping(n *yaml.Node, what string, fields Fields) bool {
	known := slices.Sorted(maps.Keys(fields))
	return d.Keys(n, what, known, func(k, v *yaml.Node) { fields[k.Value](v) })
}

// Pairs walks a mapping of free-form names (query parameters, headers,
// variables), calling f with each key and value.
func (d *Decoder) Pairs(n *yaml.Node, what string, f func(k, v *yaml.Node)) bool {
	return d.entries(n, what, freeKey, f)
}

// List walks a list of at most MaxItems, calling f with each item. It says
// whether n was such a list.
func (d *Decoder) List(n *yaml.Node, what string, f func(item *yaml.Node)) bool {
	if !d.Check(n, what) {
		return false
	}
	if n.Kind != yaml.SequenceNode {
		d.mismatch(n, what, aList)
		return false
	}
	if len(n.Content) > MaxItems {
		d.Addf(n, "%s has %d items, at most %d allowed", what, len(n.Content), MaxItems)
		return false
	}
	for _, c := range n.Content {
		f(c)
	}
	return true
}

// Str decodes a string. Any core scalar but null is one, so that a tenant
// named 1984 or a header value of true is taken as written.
func (d *Decoder) Str(n *yaml.Node, what string) (string, bool) {
	if !d.Check(n, what) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || IsNull(n) {
		d.mismatch(n, what, aString)
		return "", false
	}
	return n.Value, true
}

// Int64 decodes a YAML integer (decimal, 0x hex, 0o octal, with _ as
// separators, as yaml.v3 reads them) between lo and hi.
func (d *Decoder) Int64(n *yaml.Node, what string, lo, hi int64) (int64, bool) {
	if !d.Check(n, what) {
		return 0, false
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.mismatch(n, what, d.integer())
		return 0, false
	}
	if !d.unambiguous(n, what) {
		return 0, false
	}
	var v int64
	if n.Decode(&v) != nil || v < lo || v > hi {
		d.outOfBounds(n, what, d.integer(), lo, hi)
		return 0, false
	}
	return v, true
}

// unambiguous refuses an integer written with a leading zero, such as 010:
// yaml.v3 reads it as octal (8) where most readers, and the scenario loader
// before this package, see 10. Refusing it is the one reading that
// surprises nobody; 0o10 and 10 say which was meant.
func (d *Decoder) unambiguous(n *yaml.Node, what string) bool {
	digits := strings.ReplaceAll(strings.TrimLeft(n.Value, "+-"), "_", "")
	if n.ShortTag() == "!!int" && len(digits) > 1 && digits[0] == '0' && digits[1] >= '0' && digits[1] <= '9' {
		d.Addf(n, "%s: %s has a leading 0, which YAML reads as octal; drop the 0, or write 0o for octal", what, shown(n.Value))
		return false
	}
	return true
}

// Int is Int64 for an int.
func (d *Decoder) Int(n *yaml.Node, what string, lo, hi int) (int, bool) {
	v, ok := d.Int64(n, what, int64(lo), int64(hi))
	return int(v), ok
}

// Float decodes a number, integer or not, between lo and hi; NaN is never
// in bounds.
func (d *Decoder) Float(n *yaml.Node, what string, lo, hi float64) (float64, bool) {
	if !d.Check(n, what) {
		return 0, false
	}
	if tag := n.ShortTag(); n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") {
		d.mismatch(n, what, aNumber)
		return 0, false
	}
	if !d.unambiguous(n, what) {
		return 0, false
	}
	var v float64
	if n.Decode(&v) != nil || math.IsNaN(v) || v < lo || v > hi {
		d.outOfBounds(n, what, aNumber, lo, hi)
		return 0, false
	}
	return v, true
}

// Bool decodes true or false. The YAML 1.1 spellings (yes, on) are
// strings to yaml.v3 and refused here rather than guessed at.
func (d *Decoder) Bool(n *yaml.Node, what string) (bool, bool) {
	if !d.Check(n, what) {
		return false, false
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.mismatch(n, what, aBool)
		return false, false
	}
	return b, true
}

// Duration decodes a Go duration ("250ms", "1h30m", or a bare 0) between
// lo and hi.
func (d *Decoder) Duration(n *yaml.Node, what string, lo, hi time.Duration) (time.Duration, bool) {
	if !d.Check(n, what) {
		return 0, false
	}
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || IsNull(n) || err != nil {
		d.mismatch(n, what, aDuration)
		return 0, false
	}
	if v < lo || v > hi {
		d.outOfBounds(n, what, "a duration", durationText(lo), durationText(hi))
		return 0, false
	}
	return v, true
}

// durationText writes 0 as users write it, not as "0s".
func durationText(v time.Duration) string {
	if v == 0 {
		return "0"
	}
	return v.String()
}

// Time decodes an RFC 3339 time, or a date meaning its midnight, in UTC.
func (d *Decoder) Time(n *yaml.Node, what string) (time.Time, bool) {
	if !d.Check(n, what) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil {
		t, err = time.Parse(time.DateOnly, n.Value)
	}
	if n.Kind != yaml.ScalarNode || IsNull(n) || err != nil {
		d.mismatch(n, what, aTime)
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Date decodes a calendar date YYYY-MM-DD as its midnight in UTC.
func (d *Decoder) Date(n *yaml.Node, what string) (time.Time, bool) {
	if !d.Check(n, what) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, n.Value)
	if n.Kind != yaml.ScalarNode || IsNull(n) || err != nil {
		d.mismatch(n, what, aDate)
		return time.Time{}, false
	}
	return t, true
}

// StrTo is a field that decodes a string into dst.
func (d *Decoder) StrTo(dst *string, what string) func(*yaml.Node) {
	return func(n *yaml.Node) {
		if v, ok := d.Str(n, what); ok {
			*dst = v
		}
	}
}

// IntTo is a field that decodes an int between lo and hi into dst.
func (d *Decoder) IntTo(dst *int, what string, lo, hi int) func(*yaml.Node) {
	return func(n *yaml.Node) {
		if v, ok := d.Int(n, what, lo, hi); ok {
			*dst = v
		}
	}
}

// BoolTo is a field that decodes true or false into dst.
func (d *Decoder) BoolTo(dst *bool, what string) func(*yaml.Node) {
	return func(n *yaml.Node) {
		if v, ok := d.Bool(n, what); ok {
			*dst = v
		}
	}
}

// DurationTo is a field that decodes a duration between lo and hi into dst.
func (d *Decoder) DurationTo(dst *time.Duration, what string, lo, hi time.Duration) func(*yaml.Node) {
	return func(n *yaml.Node) {
		if v, ok := d.Duration(n, what, lo, hi); ok {
			*dst = v
		}
	}
}

// StringList decodes a list of strings, leaving out items that are not.
func (d *Decoder) StringList(n *yaml.Node, what string) []string {
	var out []string
	d.List(n, what, func(c *yaml.Node) {
		if s, ok := d.Str(c, what+" item"); ok {
			out = append(out, s)
		}
	})
	return out
}

// StringMap decodes a mapping of free-form names to strings, leaving out
// entries that are not.
func (d *Decoder) StringMap(n *yaml.Node, what string) map[string]string {
	out := map[string]string{}
	d.Pairs(n, what, func(k, v *yaml.Node) {
		if s, ok := d.Str(v, what+" "+k.Value); ok {
			out[k.Value] = s
		}
	})
	return out
}

// OneOf decodes "kind" or {kind: params}: one of kinds, with optional
// parameters (nil when absent or null) for the caller to decode.
func (d *Decoder) OneOf(n *yaml.Node, what string, kinds []string) (kind string, params *yaml.Node, ok bool) {
	if !d.Check(n, what) {
		return "", nil, false
	}
	switch n.Kind {
	case yaml.ScalarNode:
		kind = n.Value
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			d.Addf(n, "%s must name exactly one of: %s", what, strings.Join(kinds, ", "))
			return "", nil, false
		}
		kind, params = n.Content[0].Value, n.Content[1]
		if !d.Check(params, what) {
			return "", nil, false
		}
		if IsNull(params) {
			params = nil
		}
	default:
		d.mismatch(n, what, "a name or a one-key mapping")
		return "", nil, false
	}
	if !slices.Contains(kinds, kind) {
		d.Addf(n, "%s: unknown kind %q (known: %s)", what, kind, strings.Join(kinds, ", "))
		return "", nil, false
	}
	return kind, params, true
}
