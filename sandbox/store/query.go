package store

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// Limits on what one search may ask for.
const (
	MaxValuesPerParam = 100 // comma-separated alternatives of one parameter
	MaxParams         = 50  // parameters in one search
	MaxOffset         = 10_000_000
)

// ParamError is a search parameter the store cannot honour. Code is the
// FHIR issue-type code of the answer: "code-invalid" for an unsupported
// modifier, "value" for a value that does not parse, "not-supported" for an
// unknown parameter in strict handling.
type ParamError struct {
	Param string
	Code  string
	Msg   string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

// KV is one query parameter as the client sent it, in order.
type KV struct{ Key, Value string }

// Query is a parsed search.
type Query struct {
	Type     string
	Filters  []Filter
	Sort     []SortKey
	Count    int // page size; 0 asks for the total only
	Offset   int
	Includes []Include
	// Accepted are the parameters the search honours, as the client wrote
	// them; links (self, next) are built from them. Ignored are the ones it
	// does not know.
	Accepted []KV
	Ignored  []string
}

// Filter is one parameter: a resource matches when any of Values matches.
type Filter struct {
	Name     string
	Type     ParamType
	Modifier string // "", "contains", "exact", "missing", "text", "not", "below", "above"
	param    int    // index in the type's parameters; -1 for _id, -2 for _lastUpdated
	target   string
	Missing  bool // for :missing
	Values   []FilterValue
}

// FilterValue is one alternative of a filter.
type FilterValue struct {
	Raw       string
	Prefix    string // date: eq ne gt lt ge le sa eb; number and quantity also ap
	System    string // token, quantity
	HasSystem bool   // token value had a "|"; quantity value had a system or code
	Code      string // token code, folded string, reference "Type/id" / id, uri, quantity code or unit
	lo, hi    int64
	// num is a number or quantity value; [numLo, numHi) is the range its
	// precision implies ("5.4" is [5.35, 5.45)), which eq and ne compare to.
	num, numLo, numHi float64
}

// SortKey orders results by a parameter.
type SortKey struct {
	Name  string
	Desc  bool
	param int
}

// Include asks for the resources a reference parameter points to.
type Include struct {
	Raw    string // "Encounter:location"
	param  int
	target string
}

// Options bound a search.
type Options struct {
	DefaultCount int
	MaxCount     int
	// RefuseSortModifiers refuses _sort:asc=x and _sort:desc=x (the DSTU2
	// syntax), for releases that only know _sort=-x.
	RefuseSortModifiers bool
}

// ParseQuery parses a search on resourceType. Control parameters handled
// by the renderer (_format, _pretty, _summary, _elements) must be removed by
// the caller; everything else is either honoured, ignored (unknown
// parameters, listed in Ignored) or refused with a *ParamError.
func (d Definitions) ParseQuery(resourceType string, params []KV, opt Options) (Query, error) {
	q := Query{Type: resourceType, Count: opt.DefaultCount}
	if len(params) > MaxParams {
		return q, &ParamError{Param: "query", Code: "too-costly", Msg: fmt.Sprintf("more than %d search parameters", MaxParams)}
	}
	typeParams := d[resourceType]
	for _, kv := range params {
		name, mod, _ := strings.Cut(kv.Key, ":")
		switch name {
		case "_count":
			if mod != "" {
				return q, modErr(kv.Key, mod)
			}
			n, err := strconv.Atoi(kv.Value)
			if err != nil || n < 0 {
				return q, &ParamError{Param: "_count", Code: "value", Msg: fmt.Sprintf("_count must be a whole number >= 0, not %q", kv.Value)}
			}
			q.Count = min(n, opt.MaxCount)
			q.Accepted = append(q.Accepted, KV{"_count", strconv.Itoa(q.Count)})
			continue
		case "_offset":
			n, err := strconv.Atoi(kv.Value)
			if err != nil || n < 0 || n > MaxOffset || mod != "" {
				return q, &ParamError{Param: "_offset", Code: "value", Msg: fmt.Sprintf("_offset must be a whole number >= 0, not %q", kv.Value)}
			}
			q.Offset = n
			continue // links carry their own _offset
		case "_sort":
			if mod != "" && opt.RefuseSortModifiers {
				return q, &ParamError{Param: kv.Key, Code: "code-invalid", Msg: fmt.Sprintf("_sort takes no modifier in this release: sort descending with a leading - (_sort=-%s)", kv.Value)}
			}
			if err := q.parseSort(typeParams, kv, mod); err != nil {
				return q, err
			}
			q.Accepted = append(q.Accepted, kv)
			continue
		case "_include":
			inc, err := parseInclude(d, resourceType, kv.Value)
			if err != nil {
				return q, err
			}
			q.Includes = append(q.Includes, inc)
			q.Accepted = append(q.Accepted, kv)
			continue
		}
		f, known, err := parseFilter(d, resourceType, typeParams, name, mod, kv.Value)
		if err != nil {
			return q, err
		}
		if !known {
			q.Ignored = append(q.Ignored, kv.Key)
			continue
		}
		q.Filters = append(q.Filters, f)
		q.Accepted = append(q.Accepted, kv)
	}
	return q, nil
}

func modErr(key, mod string) error {
	name, _, _ := strings.Cut(key, ":")
	return &ParamError{Param: key, Code: "code-invalid", Msg: fmt.Sprintf("the modifier :%s is not supported on %s", mod, name)}
}

func paramIndex(ps []Param, name string) int {
	for i, p := range ps {
		if p.Name == name {
			return i
		}
	}
	return -3
}

func (q *Query) parseSort(ps []Param, kv KV, mod string) error {
	desc := false
	switch mod {
	case "":
	case "asc":
	case "desc":
		desc = true
	default:
		return &ParamError{Param: kv.Key, Code: "code-invalid", Msg: fmt.Sprintf("the modifier :%s is not supported on _sort (use :asc, :desc or a leading -)", mod)}
	}
	for _, field := range strings.Split(kv.Value, ",") {
		d := desc
		if strings.HasPrefix(field, "-") {
			d, field = true, field[1:]
		}
		k := SortKey{Name: field, Desc: d}
		switch field {
		case "_id":
			k.param = -1
		case "_lastUpdated":
			k.param = -2
		default:
			k.param = paramIndex(ps, field)
			if k.param < 0 {
				return &ParamError{Param: kv.Key, Code: "not-supported", Msg: fmt.Sprintf("cannot sort by %q: not a search parameter of %s", field, q.Type)}
			}
		}
		q.Sort = append(q.Sort, k)
	}
	return nil
}

func parseInclude(d Definitions, resourceType, v string) (Include, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] != resourceType {
		return Include{}, &ParamError{Param: "_include", Code: "value", Msg: fmt.Sprintf("_include must be %s:<reference parameter>[:<type>], not %q", resourceType, v)}
	}
	ps := d[resourceType]
	i := paramIndex(ps, parts[1])
	if i < 0 || ps[i].Type != Reference {
		return Include{}, &ParamError{Param: "_include", Code: "value", Msg: fmt.Sprintf("%q is not a reference search parameter of %s", parts[1], resourceType)}
	}
	inc := Include{Raw: v, param: i}
	if len(parts) == 3 {
		inc.target = parts[2]
	}
	return inc, nil
}

// splitValues splits a parameter value on unescaped commas.
func splitValues(v string) []string {
	if !strings.Contains(v, ",") {
		return []string{strings.ReplaceAll(v, `\,`, ",")}
	}
	var out []string
	var cur strings.Builder
	for i := 0; i < len(v); i++ {
		switch {
		case v[i] == '\\' && i+1 < len(v) && v[i+1] == ',':
			cur.WriteByte(',')
			i++
		case v[i] == ',':
			out = append(out, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(v[i])
		}
	}
	return append(out, cur.String())
}

func parseFilter(d Definitions, resourceType string, ps []Param, name, mod, raw string) (Filter, bool, error) {
	if name == "id" && paramIndex(ps, "id") < 0 {
		name = "_id" // the Patients app sends id as well as _id
	}
	p, ok := d.Lookup(resourceType, name)
	if !ok {
		return Filter{}, false, nil
	}
	key := name
	if mod != "" {
		key += ":" + mod
	}
	f := Filter{Name: name, Type: p.Type, Modifier: mod, target: p.Target}
	switch name {
	case "_id":
		f.param = -1
	case "_lastUpdated":
		f.param = -2
	default:
		f.param = paramIndex(ps, name)
	}
	if mod == "missing" {
		switch raw {
		case "true":
			f.Missing = true
		case "false":
		default:
			return f, true, &ParamError{Param: key, Code: "value", Msg: fmt.Sprintf(":missing takes true or false, not %q", raw)}
		}
		if f.param == -1 {
			return f, true, modErr(key, mod)
		}
		return f, true, nil
	}
	switch p.Type {
	case String:
		if mod != "" && mod != "contains" && mod != "exact" {
			return f, true, modErr(key, mod)
		}
	case Token:
		if mod != "" && mod != "text" && mod != "not" || (f.param == -1 && mod != "") {
			return f, true, modErr(key, mod)
		}
	case Date:
		if mod != "" {
			return f, true, modErr(key, mod)
		}
	case Reference:
		if mod != "" {
			if !isTypeName(mod) {
				return f, true, modErr(key, mod)
			}
			f.target = mod
			f.Modifier = ""
		}
	case URI:
		if mod != "" && mod != "below" && mod != "above" {
			return f, true, modErr(key, mod)
		}
	case Number, Quantity:
		if mod != "" {
			return f, true, modErr(key, mod)
		}
	}
	vals := splitValues(raw)
	if len(vals) > MaxValuesPerParam {
		return f, true, &ParamError{Param: key, Code: "too-costly", Msg: fmt.Sprintf("more than %d alternatives", MaxValuesPerParam)}
	}
	for _, v := range vals {
		fv := FilterValue{Raw: v}
		switch p.Type {
		case String:
			if mod == "exact" {
				fv.Code = v
			} else {
				fv.Code = fold(v)
			}
		case Token:
			if mod == "text" {
				fv.Code = fold(v)
				break
			}
			if sys, code, ok := strings.Cut(v, "|"); ok {
				fv.System, fv.Code, fv.HasSystem = sys, code, true
			} else {
				fv.Code = v
			}
		case Date:
			prefix := "eq"
			if len(v) > 2 {
				switch v[:2] {
				case "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb":
					prefix, v = v[:2], v[2:]
				case "ap":
					return f, true, &ParamError{Param: key, Code: "value", Msg: "the date prefix ap is not supported (use eq, ne, gt, lt, ge, le, sa or eb)"}
				}
			}
			lo, hi, ok := parseDateRange(v)
			if !ok {
				return f, true, &ParamError{Param: key, Code: "value", Msg: fmt.Sprintf("%q is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)", fv.Raw)}
			}
			fv.Prefix, fv.lo, fv.hi = prefix, lo, hi
		case Reference:
			ref := v
			if strings.Contains(ref, "/") {
				ref = normalizeRef(ref)
				if ref == "" {
					return f, true, &ParamError{Param: key, Code: "value", Msg: fmt.Sprintf("%q is not a reference (Type/id or id)", v)}
				}
			} else if f.target != "" {
				ref = f.target + "/" + ref
			}
			fv.Code = ref
		case URI:
			fv.Code = v
		case Number, Quantity:
			if err := parseNumber(&fv, p.Type, key, v); err != nil {
				return f, true, err
			}
		}
		f.Values = append(f.Values, fv)
	}
	return f, true, nil
}

// parseNumber reads a number search value ([prefix]number) or a quantity
// one ([prefix]number[|system|code]) into fv.
func parseNumber(fv *FilterValue, typ ParamType, key, v string) error {
	fv.Prefix = "eq"
	if len(v) > 2 {
		switch v[:2] {
		case "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap":
			fv.Prefix, v = v[:2], v[2:]
		}
	}
	n := v
	if typ == Quantity {
		var unit string
		var ok bool
		if n, unit, ok = strings.Cut(v, "|"); ok {
			sys, code, ok := strings.Cut(unit, "|")
			if !ok {
				return &ParamError{Param: key, Code: "value", Msg: fmt.Sprintf("%q is not a quantity (number, or number|system|code)", fv.Raw)}
			}
			fv.System, fv.Code, fv.HasSystem = sys, code, true
		}
	}
	f, err := strconv.ParseFloat(n, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return &ParamError{Param: key, Code: "value", Msg: fmt.Sprintf("%q is not a %s (a decimal number, optionally after a prefix eq, ne, gt, lt, ge, le, sa, eb or ap)", fv.Raw, typ)}
	}
	// the precision the client wrote: "5.4" means [5.35, 5.45); an
	// exponent makes the value exact
	half := 0.5
	if _, frac, ok := strings.Cut(n, "."); ok && !strings.ContainsAny(n, "eE") {
		half = 0.5 * math.Pow10(-len(frac))
	} else if strings.ContainsAny(n, "eE") {
		half = 0
	}
	fv.num, fv.numLo, fv.numHi = f, f-half, f+half
	if half == 0 {
		fv.numHi = math.Nextafter(f, math.Inf(1)) // [f, f]: just f
	}
	return nil
}

// numMatch applies a number prefix to a resource's value x, as the FHIR
// search page defines the prefixes: eq and ne against the range the
// search value's precision implies, ap within 10% of it.
func numMatch(fv FilterValue, x float64) bool {
	switch fv.Prefix {
	case "eq":
		return x >= fv.numLo && x < fv.numHi
	case "ne":
		return !(x >= fv.numLo && x < fv.numHi)
	case "gt", "sa":
		return x > fv.num
	case "lt", "eb":
		return x < fv.num
	case "ge":
		return x >= fv.num
	case "le":
		return x <= fv.num
	case "ap":
		return math.Abs(x-fv.num) <= math.Abs(fv.num)*0.1 || x >= fv.numLo && x < fv.numHi
	}
	return false
}

func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// Encode returns the query string of a link to this search at offset:
// the accepted parameters in the client's order, then _offset.
func (q *Query) Encode(offset int) string {
	v := make([]string, 0, len(q.Accepted)+1)
	for _, kv := range q.Accepted {
		v = append(v, linkEscape(kv.Key)+"="+linkEscape(kv.Value))
	}
	if offset > 0 {
		v = append(v, "_offset="+strconv.Itoa(offset))
	}
	return strings.Join(v, "&")
}

// linkEscape query-escapes s but keeps the characters FHIR search syntax
// uses (":", "|", ",", "/"), which are legal in a query, so links read the
// way a person would write them.
func linkEscape(s string) string {
	e := url.QueryEscape(s)
	if !strings.Contains(e, "%") {
		return e
	}
	return strings.NewReplacer("%3A", ":", "%7C", "|", "%2C", ",", "%2F", "/").Replace(e)
}
