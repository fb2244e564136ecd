// Command gen derives dstu2defs.json, the compact DSTU2 (1.0.2) definitions
// embedded by package structural, from the official HL7 definitions shipped in
// the npm package fhir@3.3.1 (FHIR.js):
//
//   - package/profiles/dstu2/*.profile.json: the official 1.0.2 resource
//     StructureDefinitions (fhirVersion 1.0.2, as published under
//     hl7.org/fhir/DSTU2), read from their snapshots: element paths,
//     min/max, type codes, reference target profiles, binding strength;
//   - package/schemas/dstu2/*.xsd: the official DSTU2 XML schemas
//     (fhir-base.xsd and one per resource) for the datatypes (HumanName,
//     Identifier, ..., which the package ships no StructureDefinitions for)
//     and for the code lists of required bindings (the "<Name>-list"
//     enumerations).
//
// Run from this directory, after `npm pack fhir@3.3.1` and unpacking it into
// a temporary directory outside the repository:
//
//	go run . -pkg /tmp/fhirjs/package -out ../dstu2defs.json
//
// The output is deterministic (sorted keys), so a rerun on the same package
// reproduces the committed file byte for byte.
package main

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural/internal/defsfile"
)

// the format written, defsfile's
type (
	Defs    = defsfile.Defs
	Type    = defsfile.Type
	Element = defsfile.Element
)

func main() {
	pkg := flag.String("pkg", "", "directory of the unpacked fhir@3.3.1 npm package (holds profiles/ and schemas/)")
	out := flag.String("out", "../dstu2defs.json", "output file")
	flag.Parse()
	if *pkg == "" {
		fmt.Fprintln(os.Stderr, "gen: -pkg is required")
		os.Exit(2)
	}
	defs, warnings, err := build(*pkg)
	defsfile.Main("gen", *out, defs, warnings, err)
}

// ---- XSD ----

type xsdSchema struct {
	ComplexTypes []xsdComplex `xml:"complexType"`
	SimpleTypes  []xsdSimple  `xml:"simpleType"`
}

type xsdComplex struct {
	Name       string     `xml:"name,attr"`
	Sequence   *xsdSeq    `xml:"sequence"`
	Attributes []xsdAttr  `xml:"attribute"`
	Ext        *xsdExtend `xml:"complexContent>extension"`
}

type xsdExtend struct {
	Base       string    `xml:"base,attr"`
	Sequence   *xsdSeq   `xml:"sequence"`
	Attributes []xsdAttr `xml:"attribute"`
}

type xsdSeq struct {
	Elements []xsdElement `xml:"element"`
	Choices  []xsdChoice  `xml:"choice"`
}

type xsdChoice struct {
	MinOccurs string       `xml:"minOccurs,attr"`
	MaxOccurs string       `xml:"maxOccurs,attr"`
	Elements  []xsdElement `xml:"element"`
}

type xsdElement struct {
	Name      string `xml:"name,attr"`
	Ref       string `xml:"ref,attr"`
	Type      string `xml:"type,attr"`
	MinOccurs string `xml:"minOccurs,attr"`
	MaxOccurs string `xml:"maxOccurs,attr"`
}

type xsdAttr struct {
	Name string `xml:"name,attr"`
	Type string `xml:"type,attr"`
	Use  string `xml:"use,attr"`
}

type xsdSimple struct {
	Name   string   `xml:"name,attr"`
	Values []xsdVal `xml:"restriction>enumeration"`
}

type xsdVal struct {
	Value string `xml:"value,attr"`
}

func readXSD(path string) (*xsdSchema, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s xsdSchema
	if err := xml.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return &s, nil
}

// ---- StructureDefinition ----

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	FhirVersion  string `json:"fhirVersion"`
	Kind         string `json:"kind"`
	Snapshot     struct {
		Element []sdElement `json:"element"`
	} `json:"snapshot"`
}

type sdElement struct {
	Path          string `json:"path"`
	Name          string `json:"name"`
	NameReference string `json:"nameReference"`
	Min           int    `json:"min"`
	Max           string `json:"max"`
	Type          []struct {
		Code    string   `json:"code"`
		Profile []string `json:"profile"`
	} `json:"type"`
	Binding *struct {
		Strength          string `json:"strength"`
		ValueSetReference *struct {
			Reference string `json:"reference"`
		} `json:"valueSetReference"`
		ValueSetURI string `json:"valueSetUri"`
	} `json:"binding"`
}

func occurs(s string, def int) (int, error) {
	switch s {
	case "":
		return def, nil
	case "unbounded", "*":
		return -1, nil
	}
	return strconv.Atoi(s)
}

func build(pkg string) (*Defs, []string, error) {
	var warnings []string
	defs := &Defs{
		Source:    "npm fhir@3.3.1: profiles/dstu2/*.profile.json (StructureDefinitions, fhirVersion 1.0.2) and schemas/dstu2/*.xsd (DSTU2 XML schemas)",
		Types:     map[string]*Type{},
		ValueSets: map[string][]string{},
	}
	xsdDir := filepath.Join(pkg, "schemas", "dstu2")
	xsdFiles, err := filepath.Glob(filepath.Join(xsdDir, "*.xsd"))
	if err != nil {
		return nil, nil, err
	}
	complexes := map[string]xsdComplex{}
	lists := map[string][]string{}
	for _, f := range xsdFiles {
		base := filepath.Base(f)
		if base == "fhir-all.xsd" || base == "fhir-single.xsd" || base == "fhir-xhtml.xsd" || base == "xml.xsd" || base == "xmldsig-core-schema.xsd" {
			continue
		}
		s, err := readXSD(f)
		if err != nil {
			return nil, nil, err
		}
		for _, c := range s.ComplexTypes {
			complexes[c.Name] = c
		}
		for _, st := range s.SimpleTypes {
			if strings.HasSuffix(st.Name, "-list") && len(st.Values) > 0 {
				var codes []string
				for _, v := range st.Values {
					codes = append(codes, v.Value)
				}
				lists[strings.TrimSuffix(st.Name, "-list")] = codes
			}
		}
	}
	if _, ok := complexes["HumanName"]; !ok {
		return nil, nil, errors.New("fhir-base.xsd not found or without HumanName")
	}

	// Primitive types are the complex types carrying a value attribute; the
	// ones whose value is a "-list" are codes with a fixed value set.
	enumTypes := map[string]string{}
	primitives := map[string]bool{"xhtml": true}
	for name, c := range complexes {
		attrs := c.Attributes
		if c.Ext != nil {
			attrs = append(attrs, c.Ext.Attributes...)
		}
		for _, a := range attrs {
			if a.Name != "value" {
				continue
			}
			if strings.HasSuffix(a.Type, "-list") {
				enumTypes[name] = strings.TrimSuffix(a.Type, "-list")
			} else {
				primitives[name] = true
			}
		}
	}

	// Datatypes: every remaining complex type of fhir-base.xsd.
	baseXSD, err := readXSD(filepath.Join(xsdDir, "fhir-base.xsd"))
	if err != nil {
		return nil, nil, err
	}
	for _, c := range baseXSD.ComplexTypes {
		if primitives[c.Name] || enumTypes[c.Name] != "" || c.Name == "Resource" || c.Name == "DomainResource" || c.Name == "ResourceContainer" {
			continue
		}
		t, err := xsdType(c.Name, complexes, enumTypes, lists, defs.ValueSets)
		if err != nil {
			return nil, nil, err
		}
		defs.Types[c.Name] = t
	}

	// Resources: the official StructureDefinitions.
	sdFiles, err := filepath.Glob(filepath.Join(pkg, "profiles", "dstu2", "*.profile.json"))
	if err != nil {
		return nil, nil, err
	}
	if len(sdFiles) == 0 {
		return nil, nil, errors.New("no profiles/dstu2/*.profile.json")
	}
	for _, f := range sdFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		var sd structureDefinition
		if err := json.Unmarshal(b, &sd); err != nil {
			return nil, nil, fmt.Errorf("parse %s: %w", f, err)
		}
		if sd.ResourceType != "StructureDefinition" || sd.FhirVersion != "1.0.2" || sd.Kind != "resource" {
			return nil, nil, fmt.Errorf("%s: not a 1.0.2 resource StructureDefinition", f)
		}
		w, err := addResource(defs, &sd, complexes, enumTypes, lists, primitives)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		warnings = append(warnings, w...)
		defs.Resources = append(defs.Resources, sd.ID)
	}
	sort.Strings(defs.Resources)
	// The resource-types value set is the list of resources itself.
	defs.ValueSets[resourceTypesList] = defs.Resources
	for p := range primitives {
		defs.Primitives = append(defs.Primitives, p)
	}
	sort.Strings(defs.Primitives)
	// Every referenced type must be defined.
	known := map[string]bool{"Resource": true}
	for _, p := range defs.Primitives {
		known[p] = true
	}
	for n := range defs.Types {
		known[n] = true
	}
	for tn, t := range defs.Types {
		for _, e := range t.Elements {
			for _, ty := range e.Types {
				if !known[ty] {
					return nil, nil, fmt.Errorf("%s.%s: type %q undefined", tn, e.Name, ty)
				}
			}
		}
	}
	sort.Strings(warnings)
	return defs, warnings, nil
}

// xsdType converts one XSD complex type, with the members it inherits, into
// a Type. XSD element types that are enumerated codes become "code" with the
// list recorded as a value set of the same name.
func xsdType(name string, complexes map[string]xsdComplex, enumTypes map[string]string, lists map[string][]string, vs map[string][]string) (*Type, error) {
	t := &Type{}
	seen := map[string]bool{}
	for cur := name; cur != ""; {
		c, ok := complexes[cur]
		if !ok {
			return nil, fmt.Errorf("xsd type %q undefined", cur)
		}
		seqs := []*xsdSeq{c.Sequence}
		attrs := c.Attributes
		next := ""
		if c.Ext != nil {
			seqs = append(seqs, c.Ext.Sequence)
			attrs = append(attrs, c.Ext.Attributes...)
			next = c.Ext.Base
		}
		for _, a := range attrs {
			var e *Element
			switch a.Name {
			case "id":
				e = &Element{Name: "id", Max: 1, Types: []string{"id"}}
			case "url":
				e = &Element{Name: "url", Max: 1, Types: []string{"uri"}}
				if a.Use == "required" {
					e.Min = 1
				}
			default:
				return nil, fmt.Errorf("xsd type %q: unexpected attribute %q", cur, a.Name)
			}
			if !seen[e.Name] {
				seen[e.Name] = true
				t.Elements = append(t.Elements, e)
			}
		}
		for _, s := range seqs {
			if s == nil {
				continue
			}
			for _, x := range s.Elements {
				e, err := xsdElementDef(x, enumTypes, lists, vs)
				if err != nil {
					return nil, fmt.Errorf("xsd type %q: %w", cur, err)
				}
				if !seen[e.Name] {
					seen[e.Name] = true
					t.Elements = append(t.Elements, e)
				}
			}
			for _, ch := range s.Choices {
				e, err := xsdChoiceDef(ch)
				if err != nil {
					return nil, fmt.Errorf("xsd type %q: %w", cur, err)
				}
				if !seen[e.Name] {
					seen[e.Name] = true
					t.Elements = append(t.Elements, e)
				}
			}
		}
		cur = next
	}
	sort.Slice(t.Elements, func(i, j int) bool { return t.Elements[i].Name < t.Elements[j].Name })
	return t, nil
}

func xsdElementDef(x xsdElement, enumTypes map[string]string, lists map[string][]string, vs map[string][]string) (*Element, error) {
	min, err := occurs(x.MinOccurs, 1)
	if err != nil {
		return nil, err
	}
	max, err := occurs(x.MaxOccurs, 1)
	if err != nil {
		return nil, err
	}
	if x.Ref == "xhtml:div" {
		return &Element{Name: "div", Min: min, Max: max, Types: []string{"xhtml"}}, nil
	}
	if x.Name == "" || x.Type == "" {
		return nil, fmt.Errorf("element without name or type (ref %q)", x.Ref)
	}
	e := &Element{Name: x.Name, Min: min, Max: max, Types: []string{x.Type}}
	if l, ok := enumTypes[x.Type]; ok {
		e.Types = []string{"code"}
		e.ValueSet = l
		vs[l] = lists[l]
	}
	return e, nil
}

// xsdChoiceDef turns an xs:choice of valueBoolean, valueCode, ... back into
// the choice element value[x] with its type list.
func xsdChoiceDef(ch xsdChoice) (*Element, error) {
	min, err := occurs(ch.MinOccurs, 1)
	if err != nil {
		return nil, err
	}
	max, err := occurs(ch.MaxOccurs, 1)
	if err != nil {
		return nil, err
	}
	prefix := ""
	for _, x := range ch.Elements {
		if x.Type != "" && strings.HasSuffix(x.Name, upperFirst(x.Type)) {
			prefix = strings.TrimSuffix(x.Name, upperFirst(x.Type))
			break
		}
	}
	if prefix == "" {
		return nil, fmt.Errorf("choice without a member named after its type")
	}
	var types []string
	for _, x := range ch.Elements {
		suffix, ok := strings.CutPrefix(x.Name, prefix)
		if !ok || suffix == "" {
			return nil, fmt.Errorf("choice mixes %q and %q", prefix, x.Name)
		}
		// A profiled type (boundsQuantity typed Duration) is named in JSON
		// after its base type, which is what the instance must conform to.
		ty := x.Type
		if upperFirst(ty) != suffix {
			ty = suffix
		}
		if ty == upperFirst(ty) && strings.ToLower(ty[:1])+ty[1:] != ty && isPrimitiveSuffix(suffix) {
			ty = strings.ToLower(ty[:1]) + ty[1:]
		}
		types = append(types, ty)
	}
	return &Element{Name: prefix, Choice: true, Min: min, Max: max, Types: types}, nil
}

// isPrimitiveSuffix tells the JSON suffixes of primitive types, whose type
// names start lower case (valueDateTime is a dateTime).
func isPrimitiveSuffix(s string) bool {
	switch s {
	case "Boolean", "Integer", "Decimal", "Base64Binary", "Instant", "String", "Uri", "Date", "DateTime", "Time", "Code", "Oid", "Id", "UnsignedInt", "PositiveInt", "Markdown", "Uuid":
		return true
	}
	return false
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// addResource converts the snapshot of one resource StructureDefinition;
// BackboneElements become types named by their path (Patient.contact).
func addResource(defs *Defs, sd *structureDefinition, complexes map[string]xsdComplex, enumTypes map[string]string, lists map[string][]string, primitives map[string]bool) ([]string, error) {
	var warnings []string
	byName := map[string]string{}
	for _, el := range sd.Snapshot.Element {
		if el.Name != "" {
			byName[el.Name] = el.Path
		}
	}
	root := sd.ID
	defs.Types[root] = &Type{}
	for _, el := range sd.Snapshot.Element {
		if el.Path == root {
			continue
		}
		i := strings.LastIndex(el.Path, ".")
		parent, name := el.Path[:i], el.Path[i+1:]
		pt, ok := defs.Types[parent]
		if !ok {
			return nil, fmt.Errorf("%s: parent %s not a backbone element", el.Path, parent)
		}
		max, err := occurs(el.Max, 1)
		if err != nil {
			return nil, fmt.Errorf("%s: max %q", el.Path, el.Max)
		}
		e := &Element{Name: name, Min: el.Min, Max: max}
		if strings.HasSuffix(name, "[x]") {
			e.Name = strings.TrimSuffix(name, "[x]")
			e.Choice = true
		}
		switch {
		case el.NameReference != "":
			target, ok := byName[el.NameReference]
			if !ok {
				return nil, fmt.Errorf("%s: nameReference %q unknown", el.Path, el.NameReference)
			}
			e.Types = []string{target}
		case len(el.Type) == 1 && (el.Type[0].Code == "BackboneElement" || el.Type[0].Code == "Element"):
			e.Types = []string{el.Path}
			defs.Types[el.Path] = &Type{}
		default:
			seenRef := false
			for _, ty := range el.Type {
				if ty.Code == "Reference" {
					if seenRef {
						// One Reference type per target profile in DSTU2.
					} else {
						e.Types = append(e.Types, "Reference")
						seenRef = true
					}
					for _, p := range ty.Profile {
						target := p[strings.LastIndex(p, "/")+1:]
						if target == "Resource" {
							e.Targets = nil
							continue
						}
						e.Targets = append(e.Targets, target)
					}
					continue
				}
				e.Types = append(e.Types, ty.Code)
			}
			if anyTargetIsResource(el) {
				e.Targets = nil
			}
		}
		if len(e.Types) == 0 {
			return nil, fmt.Errorf("%s: no type", el.Path)
		}
		if el.Binding != nil && el.Binding.Strength == "required" && len(e.Types) == 1 && e.Types[0] == "code" {
			l := xsdListFor(sd.ID, el.Path, complexes, enumTypes)
			url := bindingURL(el)
			if l == "" {
				// Value sets shared across resources are enumerated once in
				// fhir-base.xsd, named after the value set's id in upper camel
				// case, while the resource schemas type the element as code.
				if name := kebabToCamel(url[strings.LastIndex(url, "/")+1:]); lists[name] != nil {
					l = name
				}
			}
			if l == "" && url == resourceTypesURL {
				l = resourceTypesList
			}
			if l == "" {
				warnings = append(warnings, fmt.Sprintf("%s: required binding %s has no enumerated code list; codes unchecked", el.Path, bindingURL(el)))
			} else {
				e.ValueSet = l
				if l != resourceTypesList {
					defs.ValueSets[l] = lists[l]
				}
			}
		}
		pt.Elements = append(pt.Elements, e)
	}
	for n, t := range defs.Types {
		if n == root || strings.HasPrefix(n, root+".") {
			sort.Slice(t.Elements, func(i, j int) bool { return t.Elements[i].Name < t.Elements[j].Name })
		}
	}
	return warnings, nil
}

const (
	resourceTypesURL  = "http://hl7.org/fhir/ValueSet/resource-types"
	resourceTypesList = "ResourceType"
)

func kebabToCamel(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "-") {
		b.WriteString(upperFirst(part))
	}
	return b.String()
}

func anyTargetIsResource(el sdElement) bool {
	for _, ty := range el.Type {
		for _, p := range ty.Profile {
			if strings.HasSuffix(p, "/Resource") {
				return true
			}
		}
	}
	return false
}

func bindingURL(el sdElement) string {
	if el.Binding.ValueSetReference != nil {
		return el.Binding.ValueSetReference.Reference
	}
	return el.Binding.ValueSetURI
}

// xsdListFor walks the resource's XSD along the element path and returns
// the name of the code list its leaf is typed with, or "" when the schema
// types it as a plain code.
func xsdListFor(resource, path string, complexes map[string]xsdComplex, enumTypes map[string]string) string {
	segs := strings.Split(path, ".")[1:]
	cur := resource
	for i, seg := range segs {
		c, ok := complexes[cur]
		if !ok || c.Ext == nil || c.Ext.Sequence == nil {
			return ""
		}
		found := ""
		for _, x := range c.Ext.Sequence.Elements {
			if x.Name == seg {
				found = x.Type
			}
		}
		if found == "" {
			return ""
		}
		if i == len(segs)-1 {
			return enumTypes[found]
		}
		cur = found
	}
	return ""
}
