package structural

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// elementName is the JSON spelling of a FHIR element (lower camel case),
// optionally prefixed by "_" for the extension part of a primitive.
var elementName = lazyRegexp(`^_?[a-z][A-Za-z0-9]*$`)

const xhtmlNS = "http://www.w3.org/1999/xhtml"

// shapeRules holds the release differences of the JSON-level rules.
type shapeRules struct {
	// comments allows "fhir_comments" (DSTU2 JSON carried XML comments in
	// it; STU3 dropped it).
	comments bool
	// divByType leaves Narrative.div to the type-driven DSTU2 walk, which
	// knows where xhtml is expected.
	divByType bool
}

// problems collects findings; capped so a hostile input cannot make the
// report itself large.
type problems struct {
	list []string
}

const maxProblems = 200

func (p *problems) addf(path, format string, args ...any) {
	if len(p.list) >= maxProblems {
		return
	}
	p.list = append(p.list, orRoot(path)+": "+fmt.Sprintf(format, args...))
	if len(p.list) == maxProblems {
		p.list = append(p.list, "further problems not reported")
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	errs := make([]error, len(p.list))
	for i, s := range p.list {
		errs[i] = errors.New(s)
	}
	return errors.Join(errs...)
}

// JSONRules applies the FHIR JSON rules that hold for every element of
// every STU3 or R4 resource, independent of any type definition: no
// duplicate keys, no null outside the primitive-array alignment with its
// "_x" sibling, no empty strings, objects or arrays, lower camel case
// element names, "_x" siblings shaped as {id, extension}, and Narrative div
// as well-formed XHTML rooted in a namespaced <div>. STU3 and R4 run them
// before their typed walk; they are exported for validators that add their
// own typed checks (the tests' independent validator).
func JSONRules(b []byte) error {
	if err := CheckInput(b); err != nil {
		return err
	}
	root, err := parseTree(b)
	if err != nil {
		return err
	}
	var p problems
	walkShape(root, rootPath(root), shapeRules{}, &p)
	return p.err()
}

// rootPath names the root of a resource by its resourceType, so problems
// read Patient.name[0] rather than (root).name[0].
func rootPath(root *node) string {
	if root.kind == kindObject {
		if rt, ok := root.get("resourceType"); ok && rt.kind == kindString {
			return rt.text
		}
	}
	return ""
}

func walkShape(n *node, path string, r shapeRules, p *problems) {
	switch n.kind {
	case kindString:
		if n.text == "" {
			p.addf(path, "empty string")
		}
	case kindArray:
		if len(n.items) == 0 {
			p.addf(path, "empty array")
		}
		for i, it := range n.items {
			walkShape(it, fmt.Sprintf("%s[%d]", path, i), r, p)
		}
	case kindObject:
		if len(n.keys) == 0 {
			p.addf(path, "empty object")
		}
		for i, key := range n.keys {
			val := n.vals[i]
			kp := joinPath(path, key)
			if key == "fhir_comments" && r.comments {
				continue
			}
			if key != "resourceType" && !elementName().MatchString(key) {
				p.addf(path, "invalid element name %q", key)
				continue
			}
			if strings.HasPrefix(key, "_") {
				checkPrimitiveExtension(n, key, val, kp, r, p)
				continue
			}
			switch val.kind {
			case kindNull:
				p.addf(kp, "null value")
				continue
			case kindArray:
				checkArrayNulls(n, key, val, kp, p)
			}
			if key == "div" && val.kind == kindString && !r.divByType {
				if err := checkXHTML(val.text, true); err != nil {
					p.addf(kp, "%v", err)
				}
				continue
			}
			walkShape(val, kp, r, p)
		}
	}
}

// checkArrayNulls allows null in an array of primitives only where the
// "_key" sibling carries the extension for that position.
func checkArrayNulls(parent *node, key string, arr *node, path string, p *problems) {
	ext, hasExt := parent.get("_" + key)
	for i, it := range arr.items {
		if it.kind != kindNull {
			continue
		}
		if !hasExt || ext.kind != kindArray || i >= len(ext.items) || ext.items[i].kind == kindNull {
			p.addf(fmt.Sprintf("%s[%d]", path, i), "null value without extension in _%s", key)
		}
	}
}

func checkPrimitiveExtension(parent *node, key string, val *node, path string, r shapeRules, p *problems) {
	base, hasBase := parent.get(key[1:])
	switch val.kind {
	case kindObject:
		if hasBase && base.kind == kindArray {
			p.addf(path, "want array (as %s)", key[1:])
			return
		}
		checkExtensionObject(val, path, r, p)
	case kindArray:
		if hasBase && base.kind != kindArray {
			p.addf(path, "want object (as %s)", key[1:])
			return
		}
		if hasBase && len(base.items) != len(val.items) {
			p.addf(path, "has %d items, %s has %d", len(val.items), key[1:], len(base.items))
		}
		if len(val.items) == 0 {
			p.addf(path, "empty array")
		}
		for i, it := range val.items {
			ip := fmt.Sprintf("%s[%d]", path, i)
			switch it.kind {
			case kindNull:
				if !hasBase || base.kind != kindArray || i >= len(base.items) || base.items[i].kind == kindNull {
					p.addf(ip, "null on both sides")
				}
			case kindObject:
				checkExtensionObject(it, ip, r, p)
			default:
				p.addf(ip, "want object or null, got %s", it.kind)
			}
		}
	default:
		p.addf(path, "want object, got %s", val.kind)
	}
}

func checkExtensionObject(n *node, path string, r shapeRules, p *problems) {
	for _, k := range n.keys {
		if k != "id" && k != "extension" && (k != "fhir_comments" || !r.comments) {
			p.addf(path, "unknown element %q in primitive extension", k)
		}
	}
	walkShape(n, path, r, p)
}

// checkXHTML requires one well-formed <div> element, as the FHIR Narrative
// rules demand, and nothing but whitespace around it. With requireNS the div
// must declare the XHTML namespace (STU3); DSTU2 JSON, whose official
// examples omit it, also accepts a div without namespace, but no other one.
func checkXHTML(s string, requireNS bool) error {
	dec := xml.NewDecoder(strings.NewReader(s))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("xhtml not well-formed: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				nsOK := t.Name.Space == xhtmlNS || (!requireNS && t.Name.Space == "")
				if t.Name.Local != "div" || !nsOK {
					return fmt.Errorf("xhtml root is <%s> in %q, want <div> in %q", t.Name.Local, t.Name.Space, xhtmlNS)
				}
				if roots > 1 {
					return errors.New("xhtml has more than one root element")
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && strings.TrimSpace(string(t)) != "" {
				return errors.New("xhtml has text outside the root <div>")
			}
		case xml.ProcInst, xml.Directive:
			return errors.New("xhtml has a processing instruction or directive")
		}
	}
	if roots == 0 {
		return errors.New("xhtml has no root <div>")
	}
	return nil
}
