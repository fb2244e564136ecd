package portal

import (
	"fmt"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// EngineScenarios is the ScenarioSwitch of a scenario engine over a
// scenario library: library is read on each call, so the page always
// shows what Activate would load.
func EngineScenarios(e *scenario.Engine, library func() ([]*scenario.Scenario, error)) ScenarioSwitch {
	return engineSwitch{e: e, library: library}
}

type engineSwitch struct {
	e       *scenario.Engine
	library func() ([]*scenario.Scenario, error)
}

func (s engineSwitch) Scenarios() ([]ScenarioInfo, error) {
	lib, err := s.library()
	if err != nil && len(lib) == 0 {
		return nil, fmt.Errorf("scenario library: %w", err)
	}
	// A library that loads in part still lists what loaded; the broken
	// files are the library's tests' business.
	out := make([]ScenarioInfo, 0, len(lib))
	for _, sc := range lib {
		out = append(out, ScenarioInfo{Name: sc.Name, Description: sc.Description, Rules: len(sc.Rules), Timeline: len(sc.Timeline), Steps: len(sc.Steps)})
	}
	return out, nil
}

func (s engineSwitch) Active() []string { return s.e.Active() }

func (s engineSwitch) Activate(name string) error {
	lib, err := s.library()
	for _, sc := range lib {
		if sc.Name == name {
			return s.e.Activate(sc)
		}
	}
	if err != nil {
		return fmt.Errorf("activate %s: %w", name, err)
	}
	return fmt.Errorf("activate %s: not in the scenario library", name)
}

func (s engineSwitch) Deactivate(name string) bool { return s.e.Deactivate(name) }
