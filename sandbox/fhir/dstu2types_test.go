package fhir

import (
	"slices"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
)

// TestDSTU2TypesMatchDefinitions keeps the list the server is built with
// (dstu2types.go, so the server does not link the validators) equal to
// the types of the DSTU2 definitions the validator embeds.
func TestDSTU2TypesMatchDefinitions(t *testing.T) {
	want, err := validate.DSTU2ResourceTypes()
	if err != nil {
		t.Fatal(err)
	}
	if got := dstu2ResourceTypes(); !slices.Equal(got, want) {
		t.Errorf("dstu2ResourceTypes has %d types, the definitions %d: regenerate dstu2types.go from validate.DSTU2ResourceTypes\n got %q\nwant %q", len(got), len(want), got, want)
	}
}
