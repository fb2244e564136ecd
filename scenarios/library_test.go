package scenarios_test

import (
	"io/fs"
	"path"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/scenarios"
)

func loadAll(t *testing.T) []*scenario.Scenario {
	t.Helper()
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []*scenario.Scenario
	for _, n := range names {
		data, err := fs.ReadFile(scenarios.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load(n, data)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestLibraryValidates loads every built-in file: each must validate, be
// named after its file, say what it does and demonstrate it with steps.
func TestLibraryValidates(t *testing.T) {
	t.Parallel()
	all := loadAll(t)
	if len(all) < 20 {
		t.Errorf("%d built-in scenarios, want at least 20", len(all))
	}
	for _, s := range all {
		if want := strings.TrimSuffix(path.Base(s.File), ".yaml"); s.Name != want {
			t.Errorf("%s: name %q, want the file name %q", s.File, s.Name, want)
		}
		if len(s.Description) < 80 {
			t.Errorf("%s: description too short to help anyone (%d chars)", s.File, len(s.Description))
		}
		if len(s.Steps) == 0 {
			t.Errorf("%s: no steps to demonstrate it", s.File)
		}
	}
}

// TestLibraryAgainstSandbox runs every built-in scenario the way
// `fhirsandbox scenario run NAME` does: a fresh sandbox with the scenario's
// setup, the scenario switched on in the server's own engine (timeline
// actions through the real mechanisms), its steps over real HTTP, on one
// fake clock.
func TestLibraryAgainstSandbox(t *testing.T) {
	t.Parallel()
	for _, s := range loadAll(t) {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if s.Setup != nil && len(s.Setup.Tenants) > 0 && s.Setup.Tenants[0].Patients > 1000 && testing.Short() {
				t.Skip("builds a large population; skipped in -short mode")
			}
			rep, err := sandbox.RunScenario(t.Context(), s, sandbox.ScenarioRun{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed() {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("%s", b.String())
			}
		})
	}
}

// TestConformanceChecksHaveData: the conformance scenarios check the
// minimum fields of every resource a search returns ("entry.*"), which an
// empty search passes. Against the sandbox's own data every such search
// must return something, or the checks would pass without checking: the
// scenario is run with each of those steps also requiring a first entry.
func TestConformanceChecksHaveData(t *testing.T) {
	t.Parallel()
	for _, rel := range spec.Releases() {
		t.Run(rel.Name, func(t *testing.T) {
			t.Parallel()
			data, err := fs.ReadFile(scenarios.FS, rel.ConformanceScenario()+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			s, err := scenario.Load(rel.ConformanceScenario()+".yaml", data)
			if err != nil {
				t.Fatal(err)
			}
			checked := 0
			for i := range s.Steps {
				exp := &s.Steps[i].Expect
				for _, je := range exp.JSON {
					if strings.HasPrefix(je.Path, "entry.*.resource.") {
						exp.JSON = append(exp.JSON, scenario.JSONExpect{Path: "entry.0.resource", Op: scenario.OpExists})
						checked++
						break
					}
				}
			}
			if checked < 6 { // vital signs, conditions, encounter, allergies, medications, coverage
				t.Errorf("%d steps check the fields of every entry, want 6", checked)
			}
			rep, err := sandbox.RunScenario(t.Context(), s, sandbox.ScenarioRun{})
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Passed() {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("a search of the sandbox's own data came back empty:\n%s", b.String())
			}
		})
	}
}
