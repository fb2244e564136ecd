package structural

import (
	"fmt"
	"strconv"
	"strings"
)

// release is what differs between the releases' walks besides their
// definitions.
type release struct {
	name  string // prefix of every error: dstu2, stu3, r4
	load  func() (*defs, error)
	shape shapeRules
	// dstu2 keeps the DSTU2 validator's own lexical rules, Narrative div
	// without namespace, and fhir_comments.
	dstu2 bool
}

var (
	dstu2Release = release{name: "dstu2", load: loadDSTU2, shape: shapeRules{comments: true, divByType: true}, dstu2: true}
	stu3Release  = release{name: "stu3", load: loadSTU3}
	r4Release    = release{name: "r4", load: loadR4}
)

// validate runs the shared JSON rules and the walk along the definitions,
// returning all problems joined, or nil.
func (r release) validate(resourceJSON []byte) error {
	if err := CheckInput(resourceJSON); err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	d, err := r.load()
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	root, err := parseTree(resourceJSON)
	if err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	var p problems
	path := rootPath(root)
	walkShape(root, path, r.shape, &p)
	w := walker{defs: d, rel: &r, p: &p}
	w.resource(root, path)
	if err := p.err(); err != nil {
		return fmt.Errorf("%s: %w", r.name, err)
	}
	return nil
}

type walker struct {
	defs *defs
	rel  *release
	p    *problems
}

func (w walker) resource(n *node, path string) {
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
func (w walker) lookup(t *typeDef, name string) (*elemDef, string) {
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

func (w walker) object(n *node, typeName, path string, isResource bool) {
	t := w.defs.Types[typeName]
	present := map[*elemDef]bool{}
	choiceKey := map[*elemDef]string{}
	for i, key := range n.keys {
		val := n.vals[i]
		if (key == "fhir_comments" && w.rel.shape.comments) || (isResource && key == "resourceType") {
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
func (w walker) primitiveExtension(val *node, types []string, many bool, path string) {
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

func (w walker) value(n *node, typeName string, e *elemDef, path string) {
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
		// STU3 and R4: the shared JSON rules check every div (with the
		// XHTML namespace); DSTU2 leaves it to the type, without it
		if w.rel.dstu2 {
			if err := checkXHTML(n.text, false); err != nil {
				w.p.addf(path, "%v", err)
			}
		}
	case w.defs.primitives[typeName]:
		var err error
		if w.rel.dstu2 {
			err = dstu2Primitive(n, typeName)
		} else {
			err = w.defs.primitive(n, typeName)
		}
		if err != nil {
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
var referenceTypeRe = lazyRegexp(`(?:^|/)([A-Z][A-Za-z]+)/[A-Za-z0-9\-.]{1,64}(?:/_history/[A-Za-z0-9\-.]{1,64})?$`)

func (w walker) referenceTarget(n *node, targets []string, path string) {
	ref, ok := n.get("reference")
	if !ok || ref.kind != kindString {
		return
	}
	m := referenceTypeRe().FindStringSubmatch(ref.text)
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
