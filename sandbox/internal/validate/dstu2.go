package validate

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// dstu2DefsJSON is derived from the official DSTU2 definitions by gen/.
//
//go:generate go run ./gen -pkg /tmp/fhirjs/package -out dstu2defs.json
//go:embed dstu2defs.json
var dstu2DefsJSON []byte

// loadDSTU2 parses the embedded definitions once; the result is never
// modified afterwards, only read.
var loadDSTU2 = sync.OnceValues(func() (*dstu2Defs, error) {
	return parseDSTU2Defs(dstu2DefsJSON)
})

type dstu2Defs struct {
	Source     string              `json:"source"`
	Resources  []string            `json:"resources"`
	Primitives []string            `json:"primitives"`
	Types      map[string]*typeDef `json:"types"`
	ValueSets  map[string][]string `json:"valueSets"`

	resources  map[string]bool
	primitives map[string]bool
	valueSets  map[string]map[string]bool
}

type typeDef struct {
	Elements []*elemDef `json:"elements"`
	byName   map[string]*elemDef
	choices  []*elemDef
}

type elemDef struct {
	Name     string   `json:"name"`
	Choice   bool     `json:"choice"`
	Min      int      `json:"min"`
	Max      int      `json:"max"` // -1: unbounded
	Types    []string `json:"types"`
	Targets  []string `json:"targets"`
	ValueSet string   `json:"valueSet"`
}

func parseDSTU2Defs(b []byte) (*dstu2Defs, error) {
	var d dstu2Defs
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("dstu2 definitions: %w", err)
	}
	d.resources = map[string]bool{}
	for _, r := range d.Resources {
		if d.Types[r] == nil {
			return nil, fmt.Errorf("dstu2 definitions: resource %s has no type", r)
		}
		d.resources[r] = true
	}
	d.primitives = map[string]bool{}
	for _, p := range d.Primitives {
		d.primitives[p] = true
	}
	d.valueSets = map[string]map[string]bool{}
	for name, codes := range d.ValueSets {
		set := map[string]bool{}
		for _, c := range codes {
			set[c] = true
		}
		d.valueSets[name] = set
	}
	for name, t := range d.Types {
		t.byName = map[string]*elemDef{}
		for _, e := range t.Elements {
			if e.Choice {
				t.choices = append(t.choices, e)
				continue
			}
			t.byName[e.Name] = e
		}
		for _, e := range t.Elements {
			for _, ty := range e.Types {
				if ty != "Resource" && !d.primitives[ty] && d.Types[ty] == nil {
					return nil, fmt.Errorf("dstu2 definitions: %s.%s has undefined type %s", name, e.Name, ty)
				}
			}
			if e.ValueSet != "" && d.valueSets[e.ValueSet] == nil {
				return nil, fmt.Errorf("dstu2 definitions: %s.%s has undefined value set %s", name, e.Name, e.ValueSet)
			}
		}
	}
	return &d, nil
}

// DSTU2 validates one DSTU2 (1.0.2) resource of any type, including a
// Bundle with nested resources, against the embedded DSTU2 definitions and
// the shared FHIR JSON rules. It returns all problems joined, or nil.
func DSTU2(resourceJSON []byte) error {
	if err := checkInput(resourceJSON); err != nil {
		return fmt.Errorf("dstu2: %w", err)
	}
	defs, err := loadDSTU2()
	if err != nil {
		return fmt.Errorf("dstu2: %w", err)
	}
	root, err := parseTree(resourceJSON)
	if err != nil {
		return fmt.Errorf("dstu2: %w", err)
	}
	var p problems
	rootPath := ""
	if root.kind == kindObject {
		if rt, ok := root.get("resourceType"); ok && rt.kind == kindString {
			rootPath = rt.text
		}
	}
	walkShape(root, rootPath, shapeRules{comments: true, divByType: true}, &p)
	v := dstu2Walker{defs: defs, p: &p}
	v.resource(root, rootPath)
	if err := p.err(); err != nil {
		return fmt.Errorf("dstu2: %w", err)
	}
	return nil
}

type dstu2Walker struct {
	defs *dstu2Defs
	p    *problems
}

func (w dstu2Walker) resource(n *node, path string) {
	if n.kind != kindObject {
		w.p.addf(path, "want resource object, got %s", n.kind)
		return
	}
	rt, ok := n.get("resourceType")
	if !ok {
		w.p.addf(path, "missing resourceType")
		return
	}
	if rt.kind != kindString || !w.defs.resources[rt.text] {
		w.p.addf(path, "unknown resourceType %s", describe(rt))
		return
	}
	w.object(n, rt.text, path, true)
}

func describe(n *node) string {
	if n.kind == kindString {
		return strconv.Quote(n.text)
	}
	return n.kind.String()
}

// lookup finds the element a JSON key names, resolving choice elements
// (valueQuantity -> value[x] of type Quantity).
func (w dstu2Walker) lookup(t *typeDef, name string) (*elemDef, string) {
	if e, ok := t.byName[name]; ok {
		return e, ""
	}
	for _, e := range t.choices {
		suffix, ok := strings.CutPrefix(name, e.Name)
		if !ok || suffix == "" {
			continue
		}
		for _, ty := range e.Types {
			if strings.ToUpper(ty[:1])+ty[1:] == suffix {
				return e, ty
			}
		}
	}
	return nil, ""
}

func (w dstu2Walker) object(n *node, typeName, path string, isResource bool) {
	t := w.defs.Types[typeName]
	present := map[*elemDef]bool{}
	choiceKey := map[*elemDef]string{}
	for i, key := range n.keys {
		val := n.vals[i]
		if key == "fhir_comments" || (isResource && key == "resourceType") {
			continue
		}
		name, isExt := strings.CutPrefix(key, "_")
		e, choiceType := w.lookup(t, name)
		if e == nil {
			w.p.addf(path, "unknown element %q", key)
			continue
		}
		present[e] = true
		types := e.Types
		if e.Choice {
			if prev, ok := choiceKey[e]; ok && prev != name {
				w.p.addf(path, "both %s and %s given for %s[x]", prev, name, e.Name)
			}
			choiceKey[e] = name
			types = []string{choiceType}
		}
		kp := joinPath(path, key)
		many := e.Max != 1
		if isExt {
			w.primitiveExtension(val, types, many, kp)
			continue
		}
		if !many {
			if val.kind == kindArray {
				w.p.addf(kp, "want single value, got array (max 1)")
				continue
			}
			w.value(val, types[0], e, kp)
			continue
		}
		if val.kind != kindArray {
			w.p.addf(kp, "want array (max %s)", maxString(e.Max))
			continue
		}
		if e.Max > 0 && len(val.items) > e.Max {
			w.p.addf(kp, "%d items, max %d", len(val.items), e.Max)
		}
		for j, it := range val.items {
			w.value(it, types[0], e, fmt.Sprintf("%s[%d]", kp, j))
		}
	}
	for _, e := range t.Elements {
		if e.Min > 0 && !present[e] {
			name := e.Name
			if e.Choice {
				name += "[x]"
			}
			w.p.addf(joinPath(path, name), "missing required element (min %d)", e.Min)
		}
	}
}

func maxString(m int) string {
	if m < 0 {
		return "*"
	}
	return strconv.Itoa(m)
}

// primitiveExtension checks "_name": only for primitive elements, an
// object or array exactly as the element's cardinality says, each holding
// only id and extension (the shared JSON rules check the alignment).
func (w dstu2Walker) primitiveExtension(val *node, types []string, many bool, path string) {
	if !w.defs.primitives[types[0]] {
		w.p.addf(path, "extension sibling for non-primitive element of type %s", types[0])
		return
	}
	items := []*node{val}
	if many {
		if val.kind != kindArray {
			w.p.addf(path, "want array")
			return
		}
		items = val.items
	} else if val.kind == kindArray {
		w.p.addf(path, "want single value, got array (max 1)")
		return
	}
	for i, it := range items {
		ip := path
		if many {
			ip = fmt.Sprintf("%s[%d]", path, i)
		}
		if it.kind == kindObject {
			w.object(it, "Element", ip, false)
		}
	}
}

func (w dstu2Walker) value(n *node, typeName string, e *elemDef, path string) {
	if n.kind == kindNull {
		return // reported by the shared rules where it is not allowed
	}
	switch {
	case typeName == "Resource":
		w.resource(n, path)
	case typeName == "xhtml":
		if n.kind != kindString {
			w.p.addf(path, "want string, got %s", n.kind)
			return
		}
		if err := checkXHTML(n.text, false); err != nil {
			w.p.addf(path, "%v", err)
		}
	case w.defs.primitives[typeName]:
		if err := checkPrimitive(n, typeName); err != nil {
			w.p.addf(path, "%v", err)
			return
		}
		if e.ValueSet != "" && !w.defs.valueSets[e.ValueSet][n.text] {
			w.p.addf(path, "code %q not in required value set %s", n.text, e.ValueSet)
		}
	default:
		if n.kind != kindObject {
			w.p.addf(path, "want object (%s), got %s", typeName, n.kind)
			return
		}
		w.object(n, typeName, path, false)
		if typeName == "Reference" && len(e.Targets) > 0 {
			w.referenceTarget(n, e.Targets, path)
		}
	}
}

// referenceTypeRe matches the resource type of a literal reference:
// Type/id, optionally absolute and optionally versioned.
var referenceTypeRe = regexp.MustCompile(`(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$`)

func (w dstu2Walker) referenceTarget(n *node, targets []string, path string) {
	ref, ok := n.get("reference")
	if !ok || ref.kind != kindString {
		return
	}
	m := referenceTypeRe.FindStringSubmatch(ref.text)
	if m == nil || !w.defs.resources[m[1]] {
		return // contained (#id), urn:uuid: or not a resource URL
	}
	for _, t := range targets {
		if t == m[1] {
			return
		}
	}
	w.p.addf(joinPath(path, "reference"), "reference to %s, want one of %s", m[1], strings.Join(targets, ", "))
}

// Lexical forms of the DSTU2 primitives (hl7.org/fhir/DSTU2/datatypes.html).
var (
	integerRe     = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	unsignedRe    = regexp.MustCompile(`^(0|[1-9][0-9]*)$`)
	positiveRe    = regexp.MustCompile(`^[1-9][0-9]*$`)
	decimalRe     = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	codeRe        = regexp.MustCompile(`^[^\s]+( [^\s]+)*$`)
	idRe          = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)
	uriRe         = regexp.MustCompile(`^\S+$`)
	oidRe         = regexp.MustCompile(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	uuidRe        = regexp.MustCompile(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRe        = regexp.MustCompile(`^-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	dateTimeRe    = regexp.MustCompile(`^-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRe     = regexp.MustCompile(`^-?[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	timeRe        = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$`)
	base64SpaceRe = regexp.MustCompile(`\s+`)
)

func checkPrimitive(n *node, typeName string) error {
	switch typeName {
	case "boolean":
		if n.kind != kindBool {
			return fmt.Errorf("want boolean, got %s", n.kind)
		}
		return nil
	case "integer", "unsignedInt", "positiveInt", "decimal":
		if n.kind != kindNumber {
			return fmt.Errorf("want %s as JSON number, got %s", typeName, n.kind)
		}
		return checkNumber(n.text, typeName)
	}
	if n.kind != kindString {
		return fmt.Errorf("want %s as JSON string, got %s", typeName, n.kind)
	}
	s := n.text
	var re *regexp.Regexp
	switch typeName {
	case "string", "markdown", "SampledDataDataType":
		for _, r := range s {
			if r < 0x20 && r != '\t' && r != '\r' && r != '\n' {
				return fmt.Errorf("%s has control character %U", typeName, r)
			}
		}
		return nil
	case "code":
		re = codeRe
	case "id":
		re = idRe
	case "uri":
		re = uriRe
	case "oid":
		re = oidRe
	case "uuid":
		re = uuidRe
	case "base64Binary":
		if _, err := base64.StdEncoding.DecodeString(base64SpaceRe.ReplaceAllString(s, "")); err != nil {
			return fmt.Errorf("invalid base64Binary: %w", err)
		}
		return nil
	case "date":
		re = dateRe
	case "dateTime":
		re = dateTimeRe
	case "instant":
		re = instantRe
	case "time":
		re = timeRe
	default:
		return fmt.Errorf("no rule for primitive type %s", typeName)
	}
	if !re.MatchString(s) {
		return fmt.Errorf("invalid %s %q", typeName, s)
	}
	if typeName == "date" || typeName == "dateTime" || typeName == "instant" {
		return checkCalendarDay(s, typeName)
	}
	return nil
}

// checkCalendarDay rejects days the regexes let through (2015-02-30).
func checkCalendarDay(s, typeName string) error {
	if strings.HasPrefix(s, "-") || len(s) < 10 {
		return nil
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return fmt.Errorf("invalid %s %q: no such day", typeName, s)
	}
	return nil
}

func checkNumber(lit, typeName string) error {
	var re *regexp.Regexp
	switch typeName {
	case "integer":
		re = integerRe
	case "unsignedInt":
		re = unsignedRe
	case "positiveInt":
		re = positiveRe
	default:
		if !decimalRe.MatchString(lit) {
			return fmt.Errorf("invalid decimal %s", lit)
		}
		return nil
	}
	if !re.MatchString(lit) {
		return fmt.Errorf("invalid %s %s", typeName, lit)
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		return fmt.Errorf("%s %s out of 32-bit range", typeName, lit)
	}
	return nil
}

// DSTU2ResourceTypes lists the resource types of the DSTU2 (1.0.2)
// definitions, sorted: every type a DSTU2 server may hold.
func DSTU2ResourceTypes() ([]string, error) {
	d, err := loadDSTU2()
	if err != nil {
		return nil, err
	}
	return slices.Sorted(slices.Values(d.Resources)), nil
}
