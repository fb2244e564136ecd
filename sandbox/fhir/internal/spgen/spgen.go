// Package spgen turns a release's official SearchParameter definitions
// (the compact derivative kept under sandbox/fhir/searchparams) into the Go
// tables of the parameters the store can index: per resource type, each
// parameter's name, type, element paths and reference target.
//
// Only expressions that are element paths are translated: `Type.a.b`,
// unions `A.x | A.y`, `.where(resolve() is X)` (X becomes the target),
// casts `(A.x as T)` / `A.x.as(T)` (the concrete choice element xT), and
// choice elements named without a cast, expanded to the concrete names the
// definition's xpath lists. Anything else (composites, special parameters,
// FHIRPath functions and filters, extensions) is skipped and listed in the
// generated file, so the metadata never claims a parameter that does not
// work.
package spgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// Def is one official SearchParameter, reduced to what the generator reads.
type Def struct {
	ID          string   `json:"id"`
	Code        string   `json:"code"`
	Base        []string `json:"base"`
	Type        string   `json:"type"`
	Expression  string   `json:"expression,omitempty"`
	XPath       string   `json:"xpath,omitempty"`
	Target      []string `json:"target,omitempty"`
	Description string   `json:"description,omitempty"`
	// Docs is the one-line description for each base type: Compact
	// derives it from Description (shared definitions describe every type
	// on a line of their own) and drops Description, which is long.
	Docs map[string]string `json:"docs,omitempty"`
}

// Compact reduces an official search-parameters.json Bundle to the
// definitions of the base specification (url under
// http://hl7.org/fhir/SearchParameter/, and of version when version is not
// empty: copies of the bundle may carry other parameters), sorted by id,
// one per line so a diff of a regeneration reads well.
func Compact(bundle []byte, version string) ([]byte, error) {
	var b struct {
		Entry []struct {
			Resource struct {
				Def
				URL     string `json:"url"`
				Version string `json:"version"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(bundle, &b); err != nil {
		return nil, err
	}
	var defs []Def
	for _, e := range b.Entry {
		r := e.Resource
		if !strings.HasPrefix(r.URL, "http://hl7.org/fhir/SearchParameter/") || version != "" && r.Version != version {
			continue
		}
		d := r.Def
		d.Docs = map[string]string{}
		for _, base := range d.Base {
			d.Docs[base] = doc(d.Description, base)
		}
		d.Description = ""
		defs = append(defs, d)
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].ID < defs[j].ID })
	var out bytes.Buffer
	out.WriteString("[\n")
	for i, d := range defs {
		line, err := json.Marshal(d)
		if err != nil {
			return nil, err
		}
		out.Write(line)
		if i < len(defs)-1 {
			out.WriteByte(',')
		}
		out.WriteByte('\n')
	}
	out.WriteString("]\n")
	return out.Bytes(), nil
}

// Param is one translated parameter of one resource type.
type Param struct {
	Name, Type, Target, Doc string
	Paths                   []string
}

// Skip is one official parameter of one type left out, and why.
type Skip struct {
	Type, Name, Why string
}

// storeType gives the store's constant for a FHIR search parameter type,
// or "" for the types the store does not index (composite, special).
func storeType(t string) string {
	switch t {
	case "string":
		return "store.String"
	case "token":
		return "store.Token"
	case "date":
		return "store.Date"
	case "reference":
		return "store.Reference"
	case "quantity":
		return "store.Quantity"
	case "uri":
		return "store.URI"
	case "number":
		return "store.Number"
	}
	return ""
}

// Skip reasons, also the categories the report counts.
const (
	WhyType       = "type"       // composite or special
	WhyExpression = "expression" // no expression at all
	WhyFunction   = "function"   // FHIRPath beyond element paths
)

// Translate turns the definitions into parameters per resource type
// (every type that is a base of some definition, Resource and
// DomainResource aside), and lists what it skipped.
func Translate(defs []Def) (map[string][]Param, []Skip) {
	out := map[string][]Param{}
	var skipped []Skip
	re := newPatterns()
	for _, d := range defs {
		for _, base := range d.Base {
			if base == "Resource" || base == "DomainResource" {
				continue // _id, _lastUpdated are implicit; the rest is not indexed
			}
			if _, ok := out[base]; !ok {
				out[base] = nil
			}
			p, why := re.translate(d, base)
			if why != "" {
				skipped = append(skipped, Skip{Type: base, Name: d.Code, Why: why})
				continue
			}
			out[base] = append(out[base], p)
		}
	}
	for t := range out {
		slices.SortStableFunc(out[t], func(a, b Param) int { return strings.Compare(a.Name, b.Name) })
	}
	sort.Slice(skipped, func(i, j int) bool {
		if skipped[i].Type != skipped[j].Type {
			return skipped[i].Type < skipped[j].Type
		}
		return skipped[i].Name < skipped[j].Name
	})
	return out, skipped
}

// patterns are the expression forms translate understands.
type patterns struct{ path, where, as *regexp.Regexp }

func newPatterns() patterns {
	return patterns{
		path:  regexp.MustCompile(`^[A-Z][A-Za-z]*(\.[a-z][A-Za-z0-9]*)+$`),
		where: regexp.MustCompile(`\.where\(resolve\(\) is ([A-Z][A-Za-z]*)\)$`),
		as:    regexp.MustCompile(`^(.*?)(?: as |\.as\()([A-Za-z]+)\)?$`),
	}
}

func translate(d Def, base string) (Param, string) { return newPatterns().translate(d, base) }

func (re patterns) translate(d Def, base string) (Param, string) {
	if storeType(d.Type) == "" {
		return Param{}, WhyType
	}
	if d.Expression == "" {
		return Param{}, WhyExpression
	}
	xpaths := xpathPaths(d.XPath, base)
	p := Param{Name: d.Code, Type: d.Type, Doc: d.Docs[base]}
	var targets []string
	whereAll := true
	for _, alt := range strings.Split(d.Expression, "|") {
		alt = strings.TrimSpace(alt)
		if strings.HasPrefix(alt, "(") && strings.HasSuffix(alt, ")") && strings.Count(alt, "(") == 1 {
			alt = alt[1 : len(alt)-1]
		}
		first, _, _ := strings.Cut(alt, ".")
		if first != base {
			if slices.Contains(d.Base, first) {
				continue // another base type's alternative
			}
			if !strings.HasPrefix(first, "(") {
				return Param{}, WhyFunction
			}
			first = strings.TrimPrefix(first, "(")
			if first != base {
				continue
			}
		}
		target := ""
		if m := re.where.FindStringSubmatch(alt); m != nil {
			target, alt = m[1], strings.TrimSuffix(alt, m[0])
		} else {
			whereAll = false
		}
		cast := ""
		if m := re.as.FindStringSubmatch(alt); m != nil && (strings.Contains(alt, " as ") || strings.HasSuffix(alt, ")")) {
			alt, cast = m[1], m[2]
		}
		if !re.path.MatchString(alt) {
			return Param{}, WhyFunction
		}
		path := strings.TrimPrefix(alt, base+".")
		var paths []string
		switch {
		case cast != "":
			paths = []string{path + strings.ToUpper(cast[:1]) + cast[1:]}
		default:
			paths = expandChoice(path, xpaths)
		}
		for _, q := range paths {
			if !slices.Contains(p.Paths, q) {
				p.Paths = append(p.Paths, q)
			}
		}
		if target != "" && !slices.Contains(targets, target) {
			targets = append(targets, target)
		}
	}
	if len(p.Paths) == 0 {
		return Param{}, WhyFunction
	}
	if d.Type == "reference" {
		switch {
		case whereAll && len(targets) == 1:
			p.Target = targets[0]
		case !whereAll && len(targets) == 0 && len(d.Target) == 1:
			p.Target = d.Target[0]
		}
	}
	return p, ""
}

// xpathPaths reads the dotted element paths of base out of an xpath
// union ("f:Observation/f:effectiveDateTime | ..."), ignoring any
// alternative with a predicate or of another type.
func xpathPaths(xpath, base string) []string {
	var out []string
	for _, alt := range strings.Split(xpath, "|") {
		alt = strings.TrimSpace(alt)
		if strings.ContainsAny(alt, "[(@") || !strings.HasPrefix(alt, "f:"+base+"/") {
			continue
		}
		segs := strings.Split(strings.TrimPrefix(alt, "f:"+base+"/"), "/")
		for i, s := range segs {
			segs[i] = strings.TrimPrefix(s, "f:")
		}
		out = append(out, strings.Join(segs, "."))
	}
	return out
}

// expandChoice gives the concrete element names of a choice element the
// expression names without [x] ("effective"), as its xpath lists them
// ("effectiveDateTime", "effectivePeriod"); any other path as it is.
func expandChoice(path string, xpaths []string) []string {
	if slices.Contains(xpaths, path) {
		return []string{path}
	}
	var out []string
	for _, x := range xpaths {
		if strings.HasPrefix(x, path) && len(x) > len(path) && x[len(path)] >= 'A' && x[len(path)] <= 'Z' && !strings.Contains(x[len(path):], ".") {
			out = append(out, x)
		}
	}
	if len(out) == 0 {
		return []string{path}
	}
	return out
}

// doc is the one-line description of a parameter for one type: shared
// definitions describe each type on its own "* [Type](...): text" line.
func doc(desc, base string) string {
	if strings.HasPrefix(desc, "Multiple Resources") {
		for _, line := range strings.Split(desc, "\n") {
			line = strings.TrimSpace(line)
			if rest, ok := strings.CutPrefix(line, "* ["+base+"]"); ok {
				if _, text, ok := strings.Cut(rest, ": "); ok {
					desc = text
					break
				}
			}
		}
	}
	desc, _, _ = strings.Cut(strings.TrimSpace(desc), "\n")
	return strings.Join(strings.Fields(desc), " ")
}

// Generate writes the Go source of a function funcName returning the
// translated table of defs, with the skipped parameters in a comment.
func Generate(pkg, funcName, source, version string, defs []Def) ([]byte, error) {
	params, skipped := Translate(defs)
	types := make([]string, 0, len(params))
	n := 0
	for t, ps := range params {
		types = append(types, t)
		n += len(ps)
	}
	sort.Strings(types)
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by spgen from %s (FHIR %s); DO NOT EDIT.\n\n", source, version)
	fmt.Fprintf(&b, "package %s\n\nimport \"github.com/fhirsandbox/fhirsandbox/sandbox/store\"\n\n", pkg)
	fmt.Fprintf(&b, "// %s returns the official FHIR %s search parameters the store can\n", funcName, version)
	fmt.Fprintf(&b, "// index: %d resource types, %d parameters; %d official parameters are\n", len(types), n, len(skipped))
	fmt.Fprintf(&b, "// skipped (listed at the end of this file).\n")
	fmt.Fprintf(&b, "func %s() store.Definitions {\n\treturn store.Definitions{\n", funcName)
	for _, t := range types {
		if len(params[t]) == 0 {
			fmt.Fprintf(&b, "%q: nil,\n", t)
			continue
		}
		fmt.Fprintf(&b, "%q: {\n", t)
		for _, p := range params[t] {
			fmt.Fprintf(&b, "{Name: %q, Type: %s, Paths: %#v", p.Name, storeType(p.Type), p.Paths)
			if p.Target != "" {
				fmt.Fprintf(&b, ", Target: %q", p.Target)
			}
			fmt.Fprintf(&b, ", Doc: %q},\n", p.Doc)
		}
		b.WriteString("},\n")
	}
	b.WriteString("}\n}\n")
	whys := map[string]string{
		WhyType:       "composite or special type",
		WhyExpression: "no expression",
		WhyFunction:   "expression beyond element paths (functions, filters, extensions)",
	}
	for _, why := range []string{WhyType, WhyExpression, WhyFunction} {
		var names []string
		for _, s := range skipped {
			if s.Why == why {
				names = append(names, s.Type+"."+s.Name)
			}
		}
		if len(names) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n// Skipped, %s (%d):\n", whys[why], len(names))
		for len(names) > 0 {
			k := min(4, len(names))
			fmt.Fprintf(&b, "//   %s\n", strings.Join(names[:k], " "))
			names = names[k:]
		}
	}
	return format.Source(b.Bytes())
}
