// Command gencore derives stu3defs.json and r4defs.json, the compact STU3
// (3.0.1) and R4 (4.0.1) definitions embedded by package structural, from
// the official FHIR core packages (hl7.fhir.core 3.0.1 and 4.0.1, CC0-1.0)
// as kept unmodified in the repository github.com/google/fhir at commit
// 74fce9530cd710d1fa27bcad0e4b4dbd5031b16d, under
//
//	spec/hl7.fhir.core/3.0.1/package/
//	spec/hl7.fhir.core/4.0.1/package/
//
// (never the modified/ folders next to them). It reads, from one package:
//
//   - package.json: the release (3.0.1 or 4.0.1);
//   - StructureDefinition-*.json of kind primitive-type, complex-type and
//     resource that specialize their base (datatypes, primitives and
//     resources, not profiles or extensions), from their snapshots:
//     element paths, min/max, type codes, contentReference, Reference
//     target profiles, required bindings, and for primitives the regex
//     of the value;
//   - ValueSet-*.json and CodeSystem-*.json: the codes of the value sets
//     that required bindings on code elements name. A value set is
//     expanded when its compose lists codes or includes whole code systems
//     of the package with content "complete" (and other value sets so
//     expandable); one with filters, or codes from systems the package
//     does not hold (bcp47, mime types, UCUM...), is left unchecked and
//     printed as a note.
//
// Extract a package into a temporary directory outside the repository and
// run from the package directory of structural:
//
//	mkdir -p /tmp/hl7 && git --git-dir=<google/fhir clone> archive 74fce9530cd710d1fa27bcad0e4b4dbd5031b16d spec/hl7.fhir.core/4.0.1/package | tar -x -C /tmp/hl7
//	go run ./gencore -pkg /tmp/hl7/spec/hl7.fhir.core/4.0.1/package -out r4defs.json
//
// The output is deterministic (sorted), so a rerun on the same package
// reproduces the committed file byte for byte.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural/internal/defsfile"
)

// the format written, defsfile's
type (
	Defs          = defsfile.Defs
	PrimitiveRule = defsfile.PrimitiveRule
	Type          = defsfile.Type
	Element       = defsfile.Element
)

func main() {
	pkg := flag.String("pkg", "", "directory of an unpacked hl7.fhir.core package (3.0.1 or 4.0.1)")
	out := flag.String("out", "", "output file")
	flag.Parse()
	if *pkg == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "gencore: -pkg and -out are required")
		os.Exit(2)
	}
	defs, notes, err := build(*pkg)
	defsfile.Main("gencore", *out, defs, notes, err)
}

type extension struct {
	URL         string `json:"url"`
	ValueString string `json:"valueString"`
	ValueURL    string `json:"valueUrl"`
	ValueURI    string `json:"valueUri"`
}

// targetProfiles is a string in STU3 and a list in R4.
type targetProfiles []string

func (t *targetProfiles) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*t = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*t = many
	return nil
}

type sdType struct {
	Code          string         `json:"code"`
	Extension     []extension    `json:"extension"`
	TargetProfile targetProfiles `json:"targetProfile"`
}

type sdElement struct {
	Path             string   `json:"path"`
	SliceName        string   `json:"sliceName"`
	Min              int      `json:"min"`
	Max              string   `json:"max"`
	ContentReference string   `json:"contentReference"`
	Type             []sdType `json:"type"`
	Binding          *struct {
		Strength          string `json:"strength"`
		ValueSet          string `json:"valueSet"` // R4
		ValueSetURI       string `json:"valueSetUri"`
		ValueSetReference *struct {
			Reference string `json:"reference"`
		} `json:"valueSetReference"`
	} `json:"binding"`
}

type structureDefinition struct {
	ResourceType string `json:"resourceType"`
	ID           string `json:"id"`
	URL          string `json:"url"`
	Kind         string `json:"kind"`
	Abstract     bool   `json:"abstract"`
	Type         string `json:"type"`
	Derivation   string `json:"derivation"`
	FhirVersion  string `json:"fhirVersion"`
	Snapshot     struct {
		Element []sdElement `json:"element"`
	} `json:"snapshot"`
}

type concept struct {
	Code    string    `json:"code"`
	Concept []concept `json:"concept"`
}

type codeSystem struct {
	URL     string    `json:"url"`
	Content string    `json:"content"`
	Concept []concept `json:"concept"`
}

type vsInclude struct {
	System   string            `json:"system"`
	Concept  []concept         `json:"concept"`
	Filter   []json.RawMessage `json:"filter"`
	ValueSet []string          `json:"valueSet"`
}

type valueSet struct {
	ID      string `json:"id"`
	URL     string `json:"url"`
	Compose *struct {
		Include []vsInclude `json:"include"`
		Exclude []vsInclude `json:"exclude"`
	} `json:"compose"`
}

type pkgFiles struct {
	sds         []*structureDefinition
	sdByURL     map[string]*structureDefinition
	valueSets   map[string]*valueSet
	codeSystems map[string]*codeSystem
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("parse %s: %w", filepath.Base(path), err)
	}
	return nil
}

func readPackage(dir string) (*pkgFiles, error) {
	p := &pkgFiles{sdByURL: map[string]*structureDefinition{}, valueSets: map[string]*valueSet{}, codeSystems: map[string]*codeSystem{}}
	glob := func(prefix string) ([]string, error) {
		files, err := filepath.Glob(filepath.Join(dir, prefix+"-*.json"))
		sort.Strings(files)
		return files, err
	}
	files, err := glob("StructureDefinition")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		sd := &structureDefinition{}
		if err := readJSON(f, sd); err != nil {
			return nil, err
		}
		if sd.ResourceType != "StructureDefinition" {
			continue
		}
		p.sds = append(p.sds, sd)
		p.sdByURL[sd.URL] = sd
	}
	if files, err = glob("ValueSet"); err != nil {
		return nil, err
	}
	for _, f := range files {
		vs := &valueSet{}
		if err := readJSON(f, vs); err != nil {
			return nil, err
		}
		p.valueSets[vs.URL] = vs
	}
	if files, err = glob("CodeSystem"); err != nil {
		return nil, err
	}
	for _, f := range files {
		cs := &codeSystem{}
		if err := readJSON(f, cs); err != nil {
			return nil, err
		}
		p.codeSystems[cs.URL] = cs
	}
	return p, nil
}

const base = "http://hl7.org/fhir/StructureDefinition/"

func build(dir string) (*Defs, []string, error) {
	var manifest struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := readJSON(filepath.Join(dir, "package.json"), &manifest); err != nil {
		return nil, nil, err
	}
	if !(manifest.Name == "hl7.fhir.core" && manifest.Version == "3.0.1") && !(manifest.Name == "hl7.fhir.r4.core" && manifest.Version == "4.0.1") {
		return nil, nil, fmt.Errorf("package %s %s: want hl7.fhir.core 3.0.1 or hl7.fhir.r4.core 4.0.1", manifest.Name, manifest.Version)
	}
	p, err := readPackage(dir)
	if err != nil {
		return nil, nil, err
	}
	g := &gen{
		pkg:      p,
		defs:     &Defs{Source: manifest.Name + " " + manifest.Version + " (github.com/google/fhir 74fce9530cd710d1fa27bcad0e4b4dbd5031b16d spec/hl7.fhir.core/" + manifest.Version + "/package): StructureDefinition, ValueSet and CodeSystem resources", FHIRVersion: manifest.Version, PrimitiveRules: map[string]PrimitiveRule{}, Types: map[string]*Type{}, ValueSets: map[string][]string{}},
		expanded: map[string][]string{},
		failed:   map[string]string{},
	}
	for _, sd := range p.sds {
		if sd.URL != base+sd.ID || sd.FhirVersion != manifest.Version {
			continue // profiles and extensions of other authors, or other releases
		}
		switch {
		case sd.Kind == "primitive-type":
			if err := g.primitive(sd); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", sd.ID, err)
			}
		case sd.Kind == "complex-type" && sd.Derivation != "constraint",
			sd.Kind == "resource" && sd.Derivation != "constraint" && !sd.Abstract:
			if err := g.structure(sd); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", sd.ID, err)
			}
			if sd.Kind == "resource" {
				g.defs.Resources = append(g.defs.Resources, sd.ID)
			}
		}
	}
	sort.Strings(g.defs.Resources)
	sort.Strings(g.defs.Primitives)
	if len(g.defs.Resources) == 0 || g.defs.Types["Element"] == nil || g.defs.Types["Reference"] == nil {
		return nil, nil, errors.New("package without resources or the Element and Reference datatypes")
	}
	known := map[string]bool{"Resource": true}
	for _, p := range g.defs.Primitives {
		known[p] = true
	}
	for n := range g.defs.Types {
		known[n] = true
	}
	resources := map[string]bool{}
	for _, r := range g.defs.Resources {
		resources[r] = true
	}
	for tn, t := range g.defs.Types {
		for _, e := range t.Elements {
			for _, ty := range e.Types {
				if !known[ty] {
					return nil, nil, fmt.Errorf("%s.%s: type %q undefined", tn, e.Name, ty)
				}
			}
			for _, ty := range e.Targets {
				if !resources[ty] {
					return nil, nil, fmt.Errorf("%s.%s: reference target %q is no resource", tn, e.Name, ty)
				}
			}
		}
	}
	sort.Strings(g.notes)
	return g.defs, slices.Compact(g.notes), nil
}

type gen struct {
	pkg      *pkgFiles
	defs     *Defs
	notes    []string
	expanded map[string][]string // value set URL -> codes
	failed   map[string]string   // value set URL -> why it cannot be expanded
}

func (g *gen) primitive(sd *structureDefinition) error {
	g.defs.Primitives = append(g.defs.Primitives, sd.ID)
	for _, el := range sd.Snapshot.Element {
		if el.Path != sd.ID+".value" {
			continue
		}
		rule := PrimitiveRule{}
		for _, t := range el.Type {
			for _, x := range t.Extension {
				switch x.URL {
				case "http://hl7.org/fhir/StructureDefinition/structuredefinition-regex", "http://hl7.org/fhir/StructureDefinition/regex":
					rule.Regex = x.ValueString
				}
			}
		}
		if rule.Regex == "" {
			g.notes = append(g.notes, fmt.Sprintf("primitive %s: the definition carries no regex (only its JSON type and the rules a regex cannot state are checked)", sd.ID))
		}
		g.defs.PrimitiveRules[sd.ID] = rule
		return nil
	}
	return errors.New("primitive without a value element")
}

// typeCode names the type of one element type entry. R4 types the id of
// Element and a few other elements with a FHIRPath system type, giving the
// FHIR type in an extension.
func typeCode(t sdType) (string, error) {
	if !strings.HasPrefix(t.Code, "http://hl7.org/fhirpath/System.") {
		return t.Code, nil
	}
	for _, x := range t.Extension {
		if x.URL == "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type" {
			return x.ValueURL + x.ValueURI, nil
		}
	}
	switch strings.TrimPrefix(t.Code, "http://hl7.org/fhirpath/System.") {
	case "String":
		return "string", nil
	case "Boolean":
		return "boolean", nil
	case "Integer":
		return "integer", nil
	case "Decimal":
		return "decimal", nil
	}
	return "", fmt.Errorf("system type %s without a FHIR type", t.Code)
}

func occurs(s string) (int, error) {
	if s == "*" {
		return -1, nil
	}
	return strconv.Atoi(s)
}

// structure converts the snapshot of one datatype or resource; backbone
// elements become types named by their path (Patient.contact).
func (g *gen) structure(sd *structureDefinition) error {
	els := sd.Snapshot.Element
	if len(els) == 0 {
		return errors.New("no snapshot")
	}
	root := els[0].Path
	rename := func(path string) string { return sd.ID + strings.TrimPrefix(path, root) }
	g.defs.Types[sd.ID] = &Type{Elements: []*Element{}}
	var names []string
	for _, el := range els[1:] {
		if el.SliceName != "" || !strings.HasPrefix(el.Path, root+".") {
			continue
		}
		path := rename(el.Path)
		i := strings.LastIndex(path, ".")
		parent, name := path[:i], path[i+1:]
		pt, ok := g.defs.Types[parent]
		if !ok {
			return fmt.Errorf("%s: parent %s is not a backbone element", el.Path, parent)
		}
		max, err := occurs(el.Max)
		if err != nil {
			return fmt.Errorf("%s: max %q", el.Path, el.Max)
		}
		if max == 0 {
			continue // prohibited: unknown to instances
		}
		e := &Element{Name: name, Min: el.Min, Max: max}
		if n, ok := strings.CutSuffix(name, "[x]"); ok {
			e.Name, e.Choice = n, true
		}
		switch {
		case el.ContentReference != "":
			ref := strings.TrimPrefix(el.ContentReference, "#")
			e.Types = []string{rename(ref)}
		case len(el.Type) == 1 && (el.Type[0].Code == "BackboneElement" || el.Type[0].Code == "Element"):
			e.Types = []string{path}
			g.defs.Types[path] = &Type{Elements: []*Element{}}
			names = append(names, path)
		default:
			anyTarget := false
			for _, t := range el.Type {
				code, err := typeCode(t)
				if err != nil {
					return fmt.Errorf("%s: %w", el.Path, err)
				}
				if code == "string" && sd.Kind == "resource" && name == "id" && parent == sd.ID && t.Code != code {
					// R4's snapshots type Resource.id as System.String with
					// FHIR type string; the resource pages and the JSON
					// format make it an id (as STU3's definitions do).
					code = "id"
					g.notes = append(g.notes, "Resource.id: typed System.String (FHIR type string) in the definitions; validated as id")
				}
				if !slices.Contains(e.Types, code) {
					e.Types = append(e.Types, code)
				}
				if code != "Reference" {
					continue
				}
				if len(t.TargetProfile) == 0 {
					anyTarget = true
				}
				for _, tp := range t.TargetProfile {
					target := g.targetType(tp)
					switch target {
					case "Resource":
						anyTarget = true
					case "":
						anyTarget = true
						g.notes = append(g.notes, fmt.Sprintf("%s: reference target profile %s unknown; targets unchecked", el.Path, tp))
					default:
						if !slices.Contains(e.Targets, target) {
							e.Targets = append(e.Targets, target)
						}
					}
				}
			}
			if anyTarget {
				e.Targets = nil
			}
		}
		if len(e.Types) == 0 {
			return fmt.Errorf("%s: no type", el.Path)
		}
		if el.Binding != nil && el.Binding.Strength == "required" && len(e.Types) == 1 && e.Types[0] == "code" {
			e.ValueSet = g.valueSetFor(path, el)
		}
		pt.Elements = append(pt.Elements, e)
	}
	for _, n := range append(names, sd.ID) {
		t := g.defs.Types[n]
		sort.Slice(t.Elements, func(i, j int) bool { return t.Elements[i].Name < t.Elements[j].Name })
	}
	return nil
}

// targetType maps a target profile to the resource type it constrains.
func (g *gen) targetType(url string) string {
	sd, ok := g.pkg.sdByURL[url]
	if !ok {
		return ""
	}
	return sd.Type
}

// valueSetFor returns the name under which the expansion of the element's
// required value set is recorded, or "" (with a note) when the package
// does not enumerate it.
func (g *gen) valueSetFor(path string, el sdElement) string {
	url := el.Binding.ValueSet + el.Binding.ValueSetURI
	if el.Binding.ValueSetReference != nil {
		url = el.Binding.ValueSetReference.Reference
	}
	url, _, _ = strings.Cut(url, "|")
	codes, err := g.expand(url, 0)
	if err != nil {
		g.notes = append(g.notes, fmt.Sprintf("%s: required binding %s not expanded (%v); codes unchecked", path, url, err))
		return ""
	}
	name := g.pkg.valueSets[url].ID
	g.defs.ValueSets[name] = codes
	return name
}

func (g *gen) expand(url string, depth int) ([]string, error) {
	url, _, _ = strings.Cut(url, "|")
	if codes, ok := g.expanded[url]; ok {
		return codes, nil
	}
	if why, ok := g.failed[url]; ok {
		return nil, errors.New(why)
	}
	codes, err := g.expandOnce(url, depth)
	if err != nil {
		g.failed[url] = err.Error()
		return nil, err
	}
	g.expanded[url] = codes
	return codes, nil
}

func (g *gen) expandOnce(url string, depth int) ([]string, error) {
	if depth > 10 {
		return nil, errors.New("value sets include each other too deeply")
	}
	vs, ok := g.pkg.valueSets[url]
	if !ok {
		return nil, errors.New("value set not in the package")
	}
	if vs.Compose == nil || len(vs.Compose.Include) == 0 {
		return nil, errors.New("value set without compose")
	}
	var codes []string
	for _, inc := range vs.Compose.Include {
		c, err := g.include(inc, depth)
		if err != nil {
			return nil, err
		}
		codes = append(codes, c...)
	}
	for _, exc := range vs.Compose.Exclude {
		if len(exc.Concept) == 0 || len(exc.Filter) > 0 || len(exc.ValueSet) > 0 {
			return nil, errors.New("exclude other than a list of codes")
		}
		for _, c := range exc.Concept {
			codes = slices.DeleteFunc(codes, func(s string) bool { return s == c.Code })
		}
	}
	seen := map[string]bool{}
	out := []string{}
	for _, c := range codes {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no codes")
	}
	return out, nil
}

func (g *gen) include(inc vsInclude, depth int) ([]string, error) {
	if len(inc.Filter) > 0 {
		return nil, fmt.Errorf("filter on %s", inc.System)
	}
	if len(inc.ValueSet) > 0 {
		if inc.System != "" {
			return nil, errors.New("include of a system within value sets")
		}
		var codes []string
		for _, u := range inc.ValueSet {
			c, err := g.expand(u, depth+1)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", u, err)
			}
			codes = append(codes, c...)
		}
		return codes, nil
	}
	if len(inc.Concept) > 0 {
		var codes []string
		for _, c := range inc.Concept {
			codes = append(codes, c.Code)
		}
		return codes, nil
	}
	cs, ok := g.pkg.codeSystems[inc.System]
	if !ok {
		return nil, fmt.Errorf("code system %s not in the package", inc.System)
	}
	if cs.Content != "complete" {
		return nil, fmt.Errorf("code system %s has content %q", inc.System, cs.Content)
	}
	var codes []string
	var walk func([]concept)
	walk = func(cs []concept) {
		for _, c := range cs {
			codes = append(codes, c.Code)
			walk(c.Concept)
		}
	}
	walk(cs.Concept)
	return codes, nil
}
