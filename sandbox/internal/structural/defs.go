package structural

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
)

// The definitions are compact derivatives of the official ones: gen/ reads
// the DSTU2 StructureDefinitions and schemas, gencore/ the hl7.fhir.core
// packages of STU3 and R4 (their doc comments name the exact sources).
//
//go:generate go run ./gen -pkg /tmp/fhirjs/package -out dstu2defs.json
//go:generate go run ./gencore -pkg /tmp/hl7/spec/hl7.fhir.core/3.0.1/package -out stu3defs.json
//go:generate go run ./gencore -pkg /tmp/hl7/spec/hl7.fhir.core/4.0.1/package -out r4defs.json
var (
	//go:embed dstu2defs.json
	dstu2DefsJSON []byte
	//go:embed stu3defs.json
	stu3DefsJSON []byte
	//go:embed r4defs.json
	r4DefsJSON []byte
)

// Each release's definitions are parsed on first use, never at package
// init (a command that validates nothing pays nothing), and only read
// afterwards.
var (
	loadDSTU2 = sync.OnceValues(func() (*defs, error) { return parseDefs("dstu2", dstu2DefsJSON) })
	loadSTU3  = sync.OnceValues(func() (*defs, error) { return parseDefs("stu3", stu3DefsJSON) })
	loadR4    = sync.OnceValues(func() (*defs, error) { return parseDefs("r4", r4DefsJSON) })
)

// defs is one release's definitions. DSTU2's carry no primitive rules: its
// lexical forms are the validator's own (dstu2Primitive).
type defs struct {
	Source         string                    `json:"source"`
	Resources      []string                  `json:"resources"`
	Primitives     []string                  `json:"primitives"`
	PrimitiveRules map[string]*primitiveRule `json:"primitiveRules"`
	Types          map[string]*typeDef       `json:"types"`
	ValueSets      map[string][]string       `json:"valueSets"`

	resources  map[string]bool
	primitives map[string]bool
	valueSets  map[string]map[string]bool
}

// primitiveRule is the regex the official primitive definition gives its
// value (implicitly anchored), compiled.
type primitiveRule struct {
	Regex string `json:"regex"`
	re    *regexp.Regexp
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

func parseDefs(release string, b []byte) (*defs, error) {
	var d defs
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s definitions: %w", release, err)
	}
	d.resources = map[string]bool{}
	for _, r := range d.Resources {
		if d.Types[r] == nil {
			return nil, fmt.Errorf("%s definitions: resource %s has no type", release, r)
		}
		d.resources[r] = true
	}
	d.primitives = map[string]bool{}
	for _, p := range d.Primitives {
		d.primitives[p] = true
	}
	for name, r := range d.PrimitiveRules {
		if !d.primitives[name] {
			return nil, fmt.Errorf("%s definitions: rule for %s, which is no primitive", release, name)
		}
		if r.Regex == "" {
			continue
		}
		re, err := regexp.Compile(`^(?:` + r.Regex + `)$`)
		if err != nil {
			return nil, fmt.Errorf("%s definitions: regex of %s: %w", release, name, err)
		}
		r.re = re
	}
	d.valueSets = map[string]map[string]bool{}
	for name, codes := range d.ValueSets {
		set := map[string]bool{}
		for _, c := range codes {
			set[c] = true
		}
		d.valueSets[name] = set
	}
	if d.Types["Element"] == nil {
		return nil, fmt.Errorf("%s definitions: no Element type", release)
	}
	for name, t := range d.Types {
		t.byName = map[string]*elemDef{}
		for _, e := range t.Elements {
			if len(e.Types) == 0 {
				return nil, fmt.Errorf("%s definitions: %s.%s has no type", release, name, e.Name)
			}
			if e.Choice {
				t.choices = append(t.choices, e)
				continue
			}
			t.byName[e.Name] = e
		}
		for _, e := range t.Elements {
			for _, ty := range e.Types {
				if ty == "" || (ty != "Resource" && !d.primitives[ty] && d.Types[ty] == nil) {
					return nil, fmt.Errorf("%s definitions: %s.%s has undefined type %q", release, name, e.Name, ty)
				}
			}
			if e.ValueSet != "" && d.valueSets[e.ValueSet] == nil {
				return nil, fmt.Errorf("%s definitions: %s.%s has undefined value set %s", release, name, e.Name, e.ValueSet)
			}
		}
	}
	return &d, nil
}
