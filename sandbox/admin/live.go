package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
)

// MaxScenarioBytes caps the body of POST /admin/api/scenarios: a scenario
// file posted as {"yaml": ...} may be far larger than MaxBodyBytes.
const MaxScenarioBytes = 1 << 20

// Journal is the request journal the admin API serves; the scenario
// package's Journal is one. The journal answers its own list and stream
// requests (their filters and JSON are its own), so the API needs only
// those handlers, behind its guards, and a way to empty it.
type Journal interface {
	// Handler answers GET with the kept requests as JSON.
	Handler() http.Handler
	// SSEHandler answers GET with new requests as server-sent events.
	SSEHandler() http.Handler
	// Clear forgets the kept requests.
	Clear()
}

// Scenarios switches scenarios on live traffic. The admin API and the
// portal both drive it; the sandbox implements it over its scenario
// engine and built-in library.
type Scenarios interface {
	// Library lists the built-in scenarios by name. When part of the
	// library cannot be loaded it returns what did load with the error.
	Library() ([]ScenarioInfo, error)
	// Active names the scenarios switched on, in activation order.
	Active() []string
	// Activate switches on the built-in scenario called name.
	Activate(name string) error
	// ActivateYAML switches on the scenario a file's text describes.
	ActivateYAML(file []byte) error
	// Deactivate switches a scenario off; it reports whether it was on.
	Deactivate(name string) bool
}

// ScenarioInfo describes one scenario of the library.
type ScenarioInfo struct {
	Name, Description      string
	Rules, Timeline, Steps int
}

// mountLive adds the routes over the live traffic: the request journal
// and the scenario switches. Either is left out when not given, and its
// paths answer 404 like any unknown route.
func mountLive(route func(string, map[string]http.HandlerFunc), opts APIOptions, log *slog.Logger) {
	if j := opts.Journal; j != nil {
		route("/admin/api/requests", map[string]http.HandlerFunc{"GET": j.Handler().ServeHTTP, "DELETE": clearJournal(j)})
		route("/admin/api/requests/stream", map[string]http.HandlerFunc{"GET": j.SSEHandler().ServeHTTP})
	}
	if sc := opts.Scenarios; sc != nil {
		a := scenarioAPI{sc: sc, log: log}
		route("/admin/api/scenarios", map[string]http.HandlerFunc{"GET": a.list, "POST": a.activate})
		route("/admin/api/scenarios/{name}", map[string]http.HandlerFunc{"DELETE": a.deactivate})
	}
}

func clearJournal(j Journal) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		j.Clear()
		w.WriteHeader(http.StatusNoContent)
	}
}

type scenarioAPI struct {
	sc  Scenarios
	log *slog.Logger
}

func (a scenarioAPI) list(w http.ResponseWriter, _ *http.Request) {
	lib, err := a.sc.Library()
	if err != nil {
		// Still a 200: what loaded can be switched on, and the broken
		// files are for the operator's log, not the caller.
		a.log.Error("admin: scenario library", "err", err)
	}
	active := a.sc.Active()
	out := ScenarioListJSON{Active: active, Scenarios: make([]ScenarioJSON, 0, len(lib))}
	for _, s := range lib {
		out.Scenarios = append(out.Scenarios, ScenarioJSON{Name: s.Name, Description: s.Description, Active: slices.Contains(active, s.Name), Rules: s.Rules, Timeline: s.Timeline, Steps: s.Steps})
	}
	writeJSON(w, http.StatusOK, out)
}

func (a scenarioAPI) activate(w http.ResponseWriter, r *http.Request) {
	// Not decode: scripts have posted scenarios without a Content-Type and
	// with files larger than MaxBodyBytes since before this endpoint was
	// part of the API, and a bad body keeps its own error code.
	var req ActivateScenarioRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxScenarioBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || (req.Name == "") == (req.YAML == "") {
		writeError(w, http.StatusBadRequest, "invalid_request", `send {"name": "<built-in scenario>"} or {"yaml": "<scenario file>"}`)
		return
	}
	var err error
	if req.Name != "" {
		err = a.sc.Activate(req.Name)
	} else {
		err = a.sc.ActivateYAML([]byte(req.YAML))
	}
	if err != nil {
		// Every failure here is the caller's: an unknown name, a file
		// that does not load, or a scenario already on.
		writeError(w, http.StatusBadRequest, "invalid_scenario", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, ActiveScenariosJSON{Active: a.sc.Active()})
}

func (a scenarioAPI) deactivate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !a.sc.Deactivate(name) {
		writeError(w, http.StatusNotFound, "not_found", "no active scenario named "+name)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
