// Package defsfile is the format of the definitions files package
// structural embeds (dstu2defs.json, stu3defs.json, r4defs.json) and how
// its generators, gen and gencore, write them.
package defsfile

import (
	"encoding/json"
	"fmt"
	"os"
)

// Defs is one release's definitions, as package structural reads them
// (its type defs). DSTU2's have no FHIR version and no primitive rules:
// the validator keeps its own DSTU2 lexical rules.
type Defs struct {
	Source         string                   `json:"source"`
	FHIRVersion    string                   `json:"fhirVersion,omitempty"`
	Resources      []string                 `json:"resources"`
	Primitives     []string                 `json:"primitives"`
	PrimitiveRules map[string]PrimitiveRule `json:"primitiveRules,omitempty"`
	Types          map[string]*Type         `json:"types"`
	ValueSets      map[string][]string      `json:"valueSets"`
}

// PrimitiveRule is the lexical rule of a primitive type as its definition
// states it: the regex of its value (an XML Schema regex, implicitly
// anchored), empty where the definition carries none.
type PrimitiveRule struct {
	Regex string `json:"regex,omitempty"`
}

// Type is a resource, backbone element or datatype: its elements.
type Type struct {
	Elements []*Element `json:"elements"`
}

// Element is one element of a type.
type Element struct {
	Name     string   `json:"name"`
	Choice   bool     `json:"choice,omitempty"`
	Min      int      `json:"min"`
	Max      int      `json:"max"` // -1: unbounded
	Types    []string `json:"types"`
	Targets  []string `json:"targets,omitempty"`
	ValueSet string   `json:"valueSet,omitempty"`
}

// Main ends a generator's run: it prints notes to standard error, then
// writes defs to out (sorted keys, a token a line, so a rerun on the same
// sources reproduces the file byte for byte), or prints err and exits 1.
func Main(prog, out string, defs *Defs, notes []string, err error) {
	if err == nil {
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, "note:", n)
		}
		var b []byte
		if b, err = json.MarshalIndent(defs, "", ""); err == nil {
			err = os.WriteFile(out, append(b, '\n'), 0o644)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, prog+":", err)
		os.Exit(1)
	}
}
