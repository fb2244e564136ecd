package admin

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// The sandbox hands the API its request journal as is.
var _ Journal = (*scenario.Journal)(nil)

// fakeScenarios is a switchboard over a fixed library. A posted file is
// "name: <name>", enough to tell the API's two ways of switching on apart.
type fakeScenarios struct {
	mu     sync.Mutex
	lib    []ScenarioInfo
	libErr error
	active []string
}

func (f *fakeScenarios) Library() ([]ScenarioInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lib), f.libErr
}

// Active is nil when nothing is on, as the scenario engine's is.
func (f *fakeScenarios) Active() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.active)
}

func (f *fakeScenarios) Activate(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.ContainsFunc(f.lib, func(s ScenarioInfo) bool { return s.Name == name }) {
		return fmt.Errorf("no built-in scenario %q", name)
	}
	return f.on(name)
}

func (f *fakeScenarios) ActivateYAML(file []byte) error {
	name, ok := strings.CutPrefix(string(file), "name: ")
	if !ok || name == "" {
		return errors.New("request.yaml: name is required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on(name)
}

func (f *fakeScenarios) on(name string) error {
	if slices.Contains(f.active, name) {
		return fmt.Errorf("activate %s: already active", name)
	}
	f.active = append(f.active, name)
	return nil
}

func (f *fakeScenarios) Deactivate(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := slices.Index(f.active, name)
	if i < 0 {
		return false
	}
	f.active = slices.Delete(f.active, i, i+1)
	if len(f.active) == 0 {
		f.active = nil
	}
	return true
}

type liveFixture struct {
	*fixture
	journal   *scenario.Journal
	scenarios *fakeScenarios
	log       *bytes.Buffer // the API's log; written by handlers, read after
	logMu     *sync.Mutex
}

// newLiveFixture serves the admin API with a real request journal and a
// fake scenario library on a loopback server, beside a FHIR-shaped route
// whose requests (only) the journal records.
func newLiveFixture(t *testing.T) *liveFixture {
	t.Helper()
	f := newFixture(t)
	lf := &liveFixture{
		journal: scenario.NewJournal(100, scenario.WithJournalIdentify(func(r *http.Request) (string, string) {
			return "", r.Header.Get("X-Client")
		})),
		scenarios: &fakeScenarios{lib: []ScenarioInfo{
			{Name: "flaky-token-endpoint", Description: "Token requests fail now and then.", Rules: 1},
			{Name: "slow-ehr", Description: "Everything is slow.", Rules: 2, Timeline: 1, Steps: 3},
		}},
		log:   &bytes.Buffer{},
		logMu: &sync.Mutex{},
	}
	logger := slog.New(slog.NewTextHandler(lockedWriter{lf.logMu, lf.log}, nil))
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", NewAPI(f.svc, APIOptions{Token: adminToken, Journal: lf.journal, Scenarios: lf.scenarios, Logger: logger}))
	mux.Handle("/fhir/", lf.journal.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	})))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	lf.fixture = f
	return lf
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (lf *liveFixture) logged() string {
	lf.logMu.Lock()
	defer lf.logMu.Unlock()
	return lf.log.String()
}

// fhir makes a request the journal records.
func (lf *liveFixture) fhir(t *testing.T, path, client string) {
	t.Helper()
	req, err := http.NewRequest("GET", lf.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Client", client)
	res, err := lf.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}

type journalJSON struct {
	Entries []scenario.Entry `json:"entries"`
}

func TestLiveRoutesAreGuarded(t *testing.T) {
	t.Parallel()
	lf := newLiveFixture(t)
	lf.fhir(t, "/fhir/Patient", "app")
	routes := []struct{ method, path, body string }{
		{"GET", "/admin/api/requests", ""},
		{"DELETE", "/admin/api/requests", ""},
		{"GET", "/admin/api/requests/stream", ""},
		{"GET", "/admin/api/scenarios", ""},
		{"POST", "/admin/api/scenarios", `{"name":"slow-ehr"}`},
		{"DELETE", "/admin/api/scenarios/slow-ehr", ""},
	}
	refusals := []struct {
		name   string
		hdr    []string
		status int
		code   string
		unsafe bool // only methods that change state are refused
	}{
		{"no token", []string{"Authorization", ""}, 401, "unauthorized", false},
		{"wrong token", []string{"Authorization", "Bearer nope"}, 401, "unauthorized", false},
		{"through a tunnel", []string{"X-Forwarded-For", "198.51.100.7"}, 403, "remote_refused", false},
		{"cross-site", []string{"Sec-Fetch-Site", "cross-site"}, 403, "cross_origin", true},
	}
	for _, rt := range routes {
		for _, rf := range refusals {
			if rf.unsafe && rt.method == "GET" {
				continue
			}
			t.Run(rt.method+" "+rt.path+" "+rf.name, func(t *testing.T) {
				r := lf.do(t, rt.method, rt.path, rt.body, rf.hdr...)
				if r.status != rf.status || r.errCode() != rf.code {
					t.Fatalf("%d %s, want %d %s", r.status, r.body, rf.status, rf.code)
				}
				if ct := r.header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("Content-Type = %q", ct)
				}
				if rf.status == 401 && r.header.Get("WWW-Authenticate") != `Bearer realm="fhirsandbox-admin"` {
					t.Errorf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
				}
			})
		}
		// A caller off loopback, token and all.
		t.Run(rt.method+" "+rt.path+" from another address", func(t *testing.T) {
			h := NewAPI(lf.svc, APIOptions{Token: adminToken, Journal: lf.journal, Scenarios: lf.scenarios})
			req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(rt.body))
			req.RemoteAddr = "203.0.113.5:5000"
			req.Header.Set("Authorization", "Bearer "+adminToken)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"remote_refused"`) {
				t.Errorf("%d %s", rec.Code, rec.Body)
			}
		})
	}
	// Nothing refused changed anything.
	if got := lf.scenarios.Active(); got != nil {
		t.Errorf("refused requests switched on %v", got)
	}
	if got := lf.journal.Entries(scenario.Filter{}); len(got) != 1 {
		t.Errorf("journal after refused requests: %+v", got)
	}
}

func TestScenarioSwitches(t *testing.T) {
	t.Parallel()
	lf := newLiveFixture(t)
	list := func() ScenarioListJSON {
		t.Helper()
		r := lf.do(t, "GET", "/admin/api/scenarios", "")
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		return mustJSON[ScenarioListJSON](t, r)
	}

	// Nothing on: "active" is null, as it always was.
	if r := lf.do(t, "GET", "/admin/api/scenarios", ""); !strings.HasPrefix(string(r.body), `{"active":null,"scenarios":[{"name":"flaky-token-endpoint","description":"Token requests fail now and then.","active":false,"rules":1,"timeline":0,"steps":0}`) {
		t.Errorf("list with nothing on: %s", r.body)
	}

	r := lf.do(t, "POST", "/admin/api/scenarios", `{"name":"slow-ehr"}`)
	if r.status != http.StatusOK || !slices.Equal(mustJSON[ActiveScenariosJSON](t, r).Active, []string{"slow-ehr"}) {
		t.Fatalf("activate by name: %d %s", r.status, r.body)
	}
	// A scenario file, posted without a Content-Type as scripts always could.
	r = lf.do(t, "POST", "/admin/api/scenarios", `{"yaml":"name: my-outage"}`, "Content-Type", "")
	if r.status != http.StatusOK || !slices.Equal(mustJSON[ActiveScenariosJSON](t, r).Active, []string{"slow-ehr", "my-outage"}) {
		t.Fatalf("activate by YAML: %d %s", r.status, r.body)
	}
	l := list()
	if !slices.Equal(l.Active, []string{"slow-ehr", "my-outage"}) || len(l.Scenarios) != 2 || l.Scenarios[0].Active || !l.Scenarios[1].Active {
		t.Errorf("list with two on: %+v", l)
	}
	if s := l.Scenarios[1]; s.Name != "slow-ehr" || s.Rules != 2 || s.Timeline != 1 || s.Steps != 3 || s.Description == "" {
		t.Errorf("slow-ehr listed as %+v", s)
	}

	bad := []struct {
		name, body string
		code       string
	}{
		{"already on", `{"name":"slow-ehr"}`, "invalid_scenario"},
		{"not built in", `{"name":"../../etc/passwd"}`, "invalid_scenario"},
		{"file without a name", `{"yaml":"rules: []"}`, "invalid_scenario"},
		{"both", `{"name":"slow-ehr","yaml":"name: x"}`, "invalid_request"},
		{"neither", `{}`, "invalid_request"},
		{"unknown field", `{"name":"slow-ehr","force":true}`, "invalid_request"},
		{"not JSON", `name: slow-ehr`, "invalid_request"},
		{"no body", ``, "invalid_request"},
	}
	for _, tc := range bad {
		r := lf.do(t, "POST", "/admin/api/scenarios", tc.body)
		if r.status != http.StatusBadRequest || r.errCode() != tc.code || !strings.Contains(string(r.body), `"message":"`) {
			t.Errorf("%s: %d %s, want 400 %s", tc.name, r.status, r.body, tc.code)
		}
	}
	if r := lf.do(t, "POST", "/admin/api/scenarios", `{"name":"nope"}`); !strings.Contains(string(r.body), `no built-in scenario \"nope\"`) {
		t.Errorf("the switchboard's error is not shown: %s", r.body)
	}
	// A scenario file may be larger than the API's other bodies.
	big := `{"yaml":"name: ` + strings.Repeat("x", MaxBodyBytes) + `"}`
	if r := lf.do(t, "POST", "/admin/api/scenarios", big); r.status != http.StatusOK {
		t.Errorf("a large scenario file: %d %.200s", r.status, r.body)
	}
	// Only slow-ehr stays on, for the API to switch off.
	lf.scenarios.Deactivate("my-outage")
	lf.scenarios.Deactivate(strings.Repeat("x", MaxBodyBytes))

	if r := lf.do(t, "DELETE", "/admin/api/scenarios/slow-ehr", ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("deactivate: %d %s", r.status, r.body)
	}
	if r := lf.do(t, "DELETE", "/admin/api/scenarios/slow-ehr", ""); r.status != http.StatusNotFound || r.errCode() != "not_found" || !strings.Contains(string(r.body), "no active scenario named slow-ehr") {
		t.Errorf("deactivate again: %d %s", r.status, r.body)
	}
	if l := list(); l.Active != nil || l.Scenarios[1].Active {
		t.Errorf("list after switching off: %+v", l)
	}
	for _, m := range []struct{ method, path, allow string }{
		{"PUT", "/admin/api/scenarios", "GET, HEAD, POST"},
		{"GET", "/admin/api/scenarios/slow-ehr", "DELETE"},
	} {
		if r := lf.do(t, m.method, m.path, ""); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != m.allow {
			t.Errorf("%s %s: %d Allow %q", m.method, m.path, r.status, r.header.Get("Allow"))
		}
	}

	// A library that loads in part is listed as far as it goes, and the
	// rest is logged, not shown.
	lf.scenarios.mu.Lock()
	lf.scenarios.libErr = errors.New("broken.yaml: line 3: unknown field")
	lf.scenarios.mu.Unlock()
	if l := list(); len(l.Scenarios) != 2 {
		t.Errorf("partial library: %+v", l)
	}
	if !strings.Contains(lf.logged(), "broken.yaml") {
		t.Errorf("the library's error is not logged: %q", lf.logged())
	}
}

func TestJournalListAndClear(t *testing.T) {
	t.Parallel()
	lf := newLiveFixture(t)
	for _, c := range []string{"app-a", "app-b", "app-a"} {
		lf.fhir(t, "/fhir/Patient", c)
	}
	entries := func(query string) []scenario.Entry {
		t.Helper()
		r := lf.do(t, "GET", "/admin/api/requests"+query, "")
		if r.status != http.StatusOK {
			t.Fatalf("list%s: %d %s", query, r.status, r.body)
		}
		return mustJSON[journalJSON](t, r).Entries
	}
	if got := entries(""); len(got) != 3 || got[0].Path != "/fhir/Patient" || got[2].Seq != 3 {
		t.Fatalf("journal: %+v", got)
	}
	if got := entries("?client=app-a"); len(got) != 2 {
		t.Errorf("client filter: %+v", got)
	}
	// The journal answers a bad filter itself, as it always did.
	if r := lf.do(t, "GET", "/admin/api/requests?nope=1", ""); r.status != http.StatusBadRequest || !strings.Contains(r.errCode(), "unknown parameter") {
		t.Errorf("bad filter: %d %s", r.status, r.body)
	}

	if r := lf.do(t, "DELETE", "/admin/api/requests", ""); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("clear: %d %s", r.status, r.body)
	}
	if r := lf.do(t, "GET", "/admin/api/requests", ""); r.status != http.StatusOK || !strings.HasPrefix(string(r.body), `{"entries":[]`) {
		t.Errorf("after clear: %d %s", r.status, r.body)
	}
	lf.fhir(t, "/fhir/Observation", "app-b")
	got := entries("")
	if len(got) != 1 || got[0].Path != "/fhir/Observation" || got[0].Seq != 4 {
		t.Fatalf("after clear and one request: %+v (want seq 4: numbers carry on)", got)
	}

	// The stream, resumed from the start, replays only what is kept.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", lf.srv.URL+"/admin/api/requests/stream?since=0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := lf.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "id: 4\n" {
		t.Errorf("stream's first line %q (%v), want the one kept entry, id 4", line, err)
	}
}

// Without a journal or a switchboard their routes do not exist.
func TestLiveRoutesOptional(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	for _, p := range []string{"/admin/api/requests", "/admin/api/requests/stream", "/admin/api/scenarios"} {
		if r := f.do(t, "GET", p, ""); r.status != http.StatusNotFound || r.errCode() != "not_found" {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
}
