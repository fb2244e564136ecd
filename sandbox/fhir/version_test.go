package fhir

import (
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// TestEveryReleaseRenders: each row of the release table has exactly one
// renderer, so a row added without one (or a renderer naming a row that
// is gone) fails here rather than at a user's first request.
func TestEveryReleaseRenders(t *testing.T) {
	t.Parallel()
	vs := Versions()
	rows := spec.Releases()
	if len(vs) != len(rows) {
		t.Fatalf("%d renderers for %d releases", len(vs), len(rows))
	}
	seen := map[string]bool{}
	for i, v := range vs {
		if v.Release() != rows[i] {
			t.Errorf("renderer %d is for %+v, want the row %+v", i, v.Release(), rows[i])
		}
		if seen[v.Release().Name] {
			t.Errorf("two renderers for %s", v.Release().Name)
		}
		seen[v.Release().Name] = true
		if got, ok := Lookup(rows[i].Name); !ok || got.Release() != rows[i] {
			t.Errorf("Lookup(%q) = %v, %v", rows[i].Name, got, ok)
		}
	}
	if _, ok := Lookup("r5"); ok {
		t.Error("Lookup found a release that is not in the table")
	}
}

// TestDSTU2EveryType: every resource type of the DSTU2 definitions is
// served, as a real export holds them; the generated types keep their
// parameters.
func TestDSTU2EveryType(t *testing.T) {
	t.Parallel()
	types, err := validate.DSTU2ResourceTypes()
	if err != nil || len(types) < 90 {
		t.Fatalf("DSTU2 types: %d, %v", len(types), err)
	}
	defs := DSTU2{}.SearchParams()
	for _, typ := range types {
		if _, ok := defs[typ]; !ok && typ != "Parameters" {
			t.Errorf("%s is not served", typ)
		}
	}
	if len(defs["Observation"]) < 5 || len(defs["Immunization"]) != 1 {
		t.Errorf("Observation has %d parameters, Immunization %d", len(defs["Observation"]), len(defs["Immunization"]))
	}
}
