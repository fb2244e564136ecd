package fhir

import (
	"testing"

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
