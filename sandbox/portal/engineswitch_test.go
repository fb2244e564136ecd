package portal

import (
	"fmt"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// EngineScenarios is the switchboard the portal's tests drive: a real
// scenario engine over a library (read on each call, as the sandbox's
// is). The sandbox hands the portal its own, the admin API's.
func EngineScenarios(e *scenario.Engine, library func() ([]*scenario.Scenario, error)) admin.Scenarios {
	return engineSwitch{e: e, library: library}
}

type engineSwitch struct {
	e       *scenario.Engine
	library func() ([]*scenario.Scenario, error)
}

func (s engineSwitch) Library() ([]admin.ScenarioInfo, error) {
	lib, err := s.library()
	out := make([]admin.ScenarioInfo, 0, len(lib))
	for _, sc := range lib {
		out = append(out, admin.ScenarioInfo{Name: sc.Name, Description: sc.Description, Rules: len(sc.Rules), Timeline: len(sc.Timeline), Steps: len(sc.Steps)})
	}
	return out, err
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

func (s engineSwitch) ActivateYAML(file []byte) error {
	sc, err := scenario.Load("request.yaml", file)
	if err != nil {
		return err
	}
	return s.e.Activate(sc)
}

func (s engineSwitch) Deactivate(name string) bool { return s.e.Deactivate(name) }
