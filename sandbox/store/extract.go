package store

import (
	"math"
	"strings"
	"time"
)

// value is one index key extracted from a resource for one parameter.
type value struct {
	param  uint16 // index into the type's parameter list
	str    string // folded string, token code/value, or "Type/id" reference
	system string // token system
	text   string // folded CodeableConcept text and coding displays (token :text); the original text of a string
	lo, hi int64  // date range [lo, hi) in Unix seconds; number and quantity: lo holds the value (see num)
}

// splitPath splits a parameter path into its segments at the dots outside
// parentheses, so that a segment's filter may hold a URL.
func splitPath(path string) []string {
	var segs []string
	depth, start := 0, 0
	for i := 0; i < len(path); i++ {
		switch path[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 {
				segs = append(segs, path[start:i])
				start = i + 1
			}
		}
	}
	return append(segs, path[start:])
}

// cutFilter splits a segment "extension(URL)" into its element name and
// the url its items must have; a plain segment has no filter.
func cutFilter(seg string) (name, url string) {
	if name, rest, ok := strings.Cut(seg, "("); ok && strings.HasSuffix(rest, ")") {
		return name, rest[:len(rest)-1]
	}
	return seg, ""
}

// numValue is the value a number or quantity index key is made of. The
// number lives in lo as float64 bits rather than in a field of its own:
// every resource carries dozens of index keys, and a wider value would cost
// every parameter type memory for the benefit of two.
func numValue(param uint16, f float64) value {
	return value{param: param, lo: int64(math.Float64bits(f))}
}

// num is the number of a number or quantity index key.
func (v value) num() float64 { return math.Float64frombits(uint64(v.lo)) }

// walk calls fn for every value reached by following path from v, walking
// arrays transparently. A segment "name(URL)" keeps only the items of name
// whose url is URL: extensions are told apart by url, not by element name.
func walk(v any, path []string, fn func(any)) {
	if len(path) == 0 {
		if arr, ok := v.([]any); ok {
			for _, e := range arr {
				fn(e)
			}
			return
		}
		fn(v)
		return
	}
	switch t := v.(type) {
	case map[string]any:
		name, url := cutFilter(path[0])
		next, ok := t[name]
		switch {
		case !ok:
		case url == "":
			walk(next, path[1:], fn)
		default:
			walkURL(next, url, path[1:], fn)
		}
	case []any:
		for _, e := range t {
			walk(e, path, fn)
		}
	}
}

// walkURL walks path from the items of v (an array or one item) whose url
// is url.
func walkURL(v any, url string, path []string, fn func(any)) {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	for _, e := range items {
		if m, ok := e.(map[string]any); ok && m["url"] == url {
			walk(m, path, fn)
		}
	}
}

// nameParts are the string elements of HumanName and Address that string
// search parameters match.
var nameParts = [...]string{"text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"}

func extract(param uint16, typ ParamType, v any, out []value) []value {
	switch typ {
	case String:
		switch t := v.(type) {
		case string:
			out = append(out, value{param: param, str: fold(t), text: t})
		case map[string]any:
			for _, k := range nameParts {
				walk(t[k], nil, func(e any) {
					if s, ok := e.(string); ok {
						out = append(out, value{param: param, str: fold(s), text: s})
					}
				})
			}
		}
	case Token:
		switch t := v.(type) {
		case string:
			out = append(out, value{param: param, str: t})
		case bool:
			if t {
				out = append(out, value{param: param, str: "true"})
			} else {
				out = append(out, value{param: param, str: "false"})
			}
		case map[string]any:
			if codings, ok := t["coding"].([]any); ok || t["text"] != nil {
				text := ""
				if s, ok := t["text"].(string); ok {
					text = fold(s)
				}
				for _, c := range codings {
					cm, _ := c.(map[string]any)
					code, _ := cm["code"].(string)
					sys, _ := cm["system"].(string)
					disp, _ := cm["display"].(string)
					out = append(out, value{param: param, str: code, system: sys, text: text + "\x00" + fold(disp)})
				}
				if len(codings) == 0 {
					out = append(out, value{param: param, text: text})
				}
				return out
			}
			sys, _ := t["system"].(string)
			if val, ok := t["value"].(string); ok { // Identifier, ContactPoint
				out = append(out, value{param: param, str: val, system: sys})
			} else if code, ok := t["code"].(string); ok { // Coding
				disp, _ := t["display"].(string)
				out = append(out, value{param: param, str: code, system: sys, text: fold(disp)})
			}
		}
	case Date:
		switch t := v.(type) {
		case string:
			if lo, hi, ok := parseDateRange(t); ok {
				out = append(out, value{param: param, lo: lo, hi: hi})
			}
		case map[string]any: // Period
			lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
			found := false
			if s, ok := t["start"].(string); ok {
				if l, _, ok := parseDateRange(s); ok {
					lo, found = l, true
				}
			}
			if s, ok := t["end"].(string); ok {
				if _, h, ok := parseDateRange(s); ok {
					hi, found = h, true
				}
			}
			if found {
				out = append(out, value{param: param, lo: lo, hi: hi})
			}
		}
	case Reference:
		switch t := v.(type) {
		case map[string]any:
			if ref, ok := t["reference"].(string); ok {
				if r := normalizeRef(ref); r != "" {
					out = append(out, value{param: param, str: r})
				}
			}
		case string: // a canonical (R4 reference parameters on canonical elements)
			ref, _, _ := strings.Cut(t, "|") // without its |version
			if r := normalizeRef(ref); r != "" {
				out = append(out, value{param: param, str: r})
			}
		}
	case Number:
		if f, ok := v.(float64); ok {
			out = append(out, numValue(param, f))
		}
	case Quantity:
		// Quantity, and its profiles Age, Duration, Distance, Count; Money
		// (R4) has a currency where a quantity has a code.
		if t, ok := v.(map[string]any); ok {
			if f, ok := t["value"].(float64); ok {
				q := numValue(param, f)
				q.system, _ = t["system"].(string)
				q.str, _ = t["code"].(string)
				if q.str == "" {
					q.str, _ = t["currency"].(string)
				}
				q.text, _ = t["unit"].(string)
				out = append(out, q)
			}
		}
	case URI:
		if t, ok := v.(string); ok {
			out = append(out, value{param: param, str: t})
		}
	}
	return out
}

// normalizeRef reduces a literal reference to "Type/id": absolute URLs
// lose their base and version suffixes are dropped.
func normalizeRef(ref string) string {
	if i := strings.Index(ref, "/_history/"); i >= 0 {
		ref = ref[:i]
	}
	parts := strings.Split(ref, "/")
	if len(parts) < 2 {
		return ""
	}
	typ, id := parts[len(parts)-2], parts[len(parts)-1]
	if typ == "" || id == "" {
		return ""
	}
	return typ + "/" + id
}

// parseDateRange parses a FHIR date, dateTime or instant into the range of
// time it covers: "2020" is the whole year, "2020-03-04" the whole day,
// "2020-03-04T10:00:00Z" one second. Values without a zone are taken as UTC.
func parseDateRange(s string) (lo, hi int64, ok bool) {
	switch len(s) {
	case 4:
		t, err := time.Parse("2006", s)
		if err != nil {
			return 0, 0, false
		}
		return t.Unix(), t.AddDate(1, 0, 0).Unix(), true
	case 7:
		t, err := time.Parse("2006-01", s)
		if err != nil {
			return 0, 0, false
		}
		return t.Unix(), t.AddDate(0, 1, 0).Unix(), true
	case 10:
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return 0, 0, false
		}
		return t.Unix(), t.AddDate(0, 0, 1).Unix(), true
	}
	if len(s) < 16 || len(s) > 40 || s[10] != 'T' {
		return 0, 0, false
	}
	for _, f := range dateTimeLayouts {
		if t, err := time.Parse(f.layout, s); err == nil {
			return t.Unix(), t.Unix() + f.step, true
		}
	}
	return 0, 0, false
}

// dateTimeLayouts are the dateTime precisions accepted, with the span of
// time (seconds) one value covers.
var dateTimeLayouts = [...]struct {
	layout string
	step   int64
}{
	{time.RFC3339Nano, 1},
	{"2006-01-02T15:04:05", 1},
	{"2006-01-02T15:04Z07:00", 60},
	{"2006-01-02T15:04", 60},
}
