package portal

import (
	"bufio"
	"context"
	"encoding/json"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/scenarios"
)

// outageYAML is a scenario beside the built-in library whose fault the
// tests can trigger with a plain GET.
const outageYAML = `name: demo-outage
description: |
  Patient searches fail with 503 Service Unavailable.
  Everything else works.
rules:
  - name: patients down
    match: {method: GET, resource_type: Patient}
    respond: {status: 503}
`

// library loads the built-in scenarios and demo-outage with scenario.Load.
func library() ([]*scenario.Scenario, error) {
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*scenario.Scenario
	for _, n := range names {
		b, err := fs.ReadFile(scenarios.FS, n)
		if err != nil {
			return nil, err
		}
		s, err := scenario.Load(n, b)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	s, err := scenario.Load("demo-outage.yaml", []byte(outageYAML))
	if err != nil {
		return nil, err
	}
	return append(out, s), nil
}

// liveEnv is the miniature sandbox with the server's middleware chain
// around it: the request journal outermost, the scenario engine inside
// it, and a FHIR-shaped route that answers every GET with 200.
type liveEnv struct {
	*env
	journal *scenario.Journal
	engine  *scenario.Engine
	done    chan struct{}
}

func newLiveEnv(t *testing.T, heartbeat time.Duration) *liveEnv {
	t.Helper()
	le := &liveEnv{done: make(chan struct{})}
	clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	le.journal = scenario.NewJournal(1000, scenario.WithJournalClock(clk.Now), scenario.WithJournalIdentify(scenario.IdentifyFromRequest))
	le.engine = scenario.NewEngine(scenario.EngineOptions{Now: clk.Now, Rand: rand.New(rand.NewPCG(1, 2)), Identify: scenario.IdentifyFromRequest})
	t.Cleanup(le.engine.DeactivateAll)
	le.env = newEnvWith(t, envConfig{
		options: func(o *Options) {
			o.Now = clk.Now
			o.Scenarios = EngineScenarios(le.engine, library)
			o.Journal = le.journal
			o.Done = le.done
		},
		routes: func(mux *http.ServeMux) {
			mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/fhir+json")
				w.Write([]byte(`{"resourceType":"Bundle","type":"searchset","total":0}`))
			})
		},
		wrap:      func(h http.Handler) http.Handler { return le.journal.Middleware(le.engine.Middleware(h)) },
		heartbeat: heartbeat,
	})
	le.env.clock = clk
	return le
}

// fhirGet makes a request to the sandbox outside the portal.
func (le *liveEnv) fhirGet(target string) int {
	le.t.Helper()
	req, err := http.NewRequest(http.MethodGet, le.srv.URL+target, nil)
	if err != nil {
		le.t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		le.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func builtinNames(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil || len(names) == 0 {
		t.Fatalf("built-in library: %v %v", names, err)
	}
	for i, n := range names {
		names[i] = strings.TrimSuffix(path.Base(n), ".yaml")
	}
	return names
}

func TestScenariosPage(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	page := le.want(le.get("/portal/scenarios"), http.StatusOK).body
	for _, n := range builtinNames(t) {
		if !strings.Contains(page, `<code class="strong">`+n+`</code>`) || !strings.Contains(page, `action="/portal/scenarios/`+n+`/activate"`) {
			t.Errorf("scenario %s not listed with a switch-on form", n)
		}
	}
	if !strings.Contains(page, "Patient searches fail with 503 Service Unavailable.</td>") || strings.Contains(page, "Everything else works.</td>") {
		t.Errorf("the summary is not the description's first line")
	}
	if !strings.Contains(page, `<td class="num">1</td>`) {
		t.Errorf("rule count missing")
	}
	if !strings.Contains(page, `href="/portal/scenarios" class="current"`) || !strings.Contains(page, `href="/portal/requests"`) {
		t.Errorf("navigation lacks the new pages")
	}

	tests := []struct {
		name, path string
		wantStatus int
		wantNotice string
		wantActive []string
	}{
		{"switch on", "/portal/scenarios/demo-outage/activate", http.StatusSeeOther, "Scenario demo-outage is on", []string{"demo-outage"}},
		{"already on", "/portal/scenarios/demo-outage/activate", http.StatusSeeOther, "Scenario demo-outage is already on.", []string{"demo-outage"}},
		{"second one", "/portal/scenarios/slow-ehr/activate", http.StatusSeeOther, "Scenario slow-ehr is on", []string{"demo-outage", "slow-ehr"}},
		{"switch off", "/portal/scenarios/demo-outage/deactivate", http.StatusSeeOther, "Scenario demo-outage is off.", []string{"slow-ehr"}},
		{"not on", "/portal/scenarios/demo-outage/deactivate", http.StatusSeeOther, "Scenario demo-outage was not on.", []string{"slow-ehr"}},
		{"unknown", "/portal/scenarios/no-such/activate", http.StatusNotFound, "There is no built-in scenario &#34;no-such&#34;.", []string{"slow-ehr"}},
		{"unknown off", "/portal/scenarios/%3Cscript%3E/deactivate", http.StatusSeeOther, "Scenario &lt;script&gt; was not on.", []string{"slow-ehr"}},
	}
	for _, tc := range tests { // in order: each step builds on the last
		r := le.post(tc.path, nil)
		if r.status != tc.wantStatus {
			t.Fatalf("%s: status %d, want %d\n%s", tc.name, r.status, tc.wantStatus, clipBody(r.body))
		}
		body := r.body
		if r.status == http.StatusSeeOther {
			body = le.follow(r, "/portal/scenarios").body
		}
		if !strings.Contains(body, tc.wantNotice) {
			t.Errorf("%s: page lacks %q", tc.name, tc.wantNotice)
		}
		if got := le.engine.Active(); !slices.Equal(got, tc.wantActive) {
			t.Fatalf("%s: active %v, want %v", tc.name, got, tc.wantActive)
		}
	}
	page = le.get("/portal/scenarios").body
	if !strings.Contains(page, `action="/portal/scenarios/slow-ehr/deactivate"`) || strings.Contains(page, `action="/portal/scenarios/slow-ehr/activate"`) {
		t.Errorf("an active scenario is not offered for switching off")
	}
	if !strings.Contains(page, `<span class="badge live">1 on</span>`) {
		t.Errorf("active count missing")
	}
	checkEscaped(t, "scenarios page", page, []string{"<script>"})
}

// A scenario switched on elsewhere from its own file is listed, and can be
// switched off from the page.
func TestScenariosPageListsForeignActive(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	s, err := scenario.Load("own.yaml", []byte(strings.ReplaceAll(outageYAML, "demo-outage", "own-file")))
	if err != nil {
		t.Fatal(err)
	}
	if err := le.engine.Activate(s); err != nil {
		t.Fatal(err)
	}
	le.signIn()
	page := le.get("/portal/scenarios").body
	if !strings.Contains(page, "not in the built-in library") || !strings.Contains(page, `action="/portal/scenarios/own-file/deactivate"`) {
		t.Fatalf("foreign active scenario not listed:\n%s", clipBody(page))
	}
	le.follow(le.post("/portal/scenarios/own-file/deactivate", nil), "/portal/scenarios")
	if len(le.engine.Active()) != 0 {
		t.Fatalf("still active: %v", le.engine.Active())
	}
}

func TestScenariosCrossOriginRefused(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	le.follow(le.post("/portal/scenarios/slow-ehr/activate", nil), "/portal/scenarios")
	for _, hdr := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {"Origin": "http://evil.example"}} {
		for _, p := range []string{"/portal/scenarios/demo-outage/activate", "/portal/scenarios/slow-ehr/deactivate"} {
			if r := le.do(http.MethodPost, p, url.Values{}, hdr); r.status != http.StatusForbidden {
				t.Errorf("POST %s with %v: %d, want 403", p, hdr, r.status)
			}
		}
	}
	if got := le.engine.Active(); !slices.Equal(got, []string{"slow-ehr"}) {
		t.Fatalf("a cross-origin POST changed the active scenarios: %v", got)
	}
	// GET never switches anything.
	if r := le.get("/portal/scenarios/demo-outage/activate"); r.status != http.StatusNotFound {
		t.Errorf("GET activate: %d", r.status)
	}
	if got := le.engine.Active(); !slices.Equal(got, []string{"slow-ehr"}) {
		t.Fatalf("a GET changed the active scenarios: %v", got)
	}
}

func TestLivePagesSignedOut(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	for _, p := range []string{"/portal/scenarios", "/portal/requests"} {
		if r := le.get(p); r.status != http.StatusSeeOther || r.header.Get("Location") != "/portal/" {
			t.Errorf("GET %s signed out: %d %q", p, r.status, r.header.Get("Location"))
		}
	}
	if r := le.get("/portal/requests/stream"); r.status != http.StatusUnauthorized || strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Errorf("stream signed out: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r := le.post("/portal/scenarios/slow-ehr/activate", nil); r.status != http.StatusUnauthorized {
		t.Errorf("POST activate signed out: %d", r.status)
	}
	if len(le.engine.Active()) != 0 {
		t.Fatalf("signed-out POST switched a scenario on")
	}
}

// Without Options.Scenarios and Options.Journal the pages do not exist.
func TestLivePagesHidden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	for _, p := range []string{"/portal/scenarios", "/portal/requests", "/portal/requests/stream", "/portal/assets/requests.js"} {
		e.want(e.get(p), http.StatusNotFound)
	}
	if dash := e.get("/portal/").body; strings.Contains(dash, `href="/portal/scenarios"`) || strings.Contains(dash, `href="/portal/requests"`) {
		t.Error("navigation links to hidden pages")
	}
}

func TestRequestsPage(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	id, secret := le.createClient("Journal app", tenantA)
	if code, _ := le.token(id, secret, tenantA); code != http.StatusOK {
		t.Fatalf("token: %d", code)
	}
	if err := le.engine.Activate(mustFind(t, "demo-outage")); err != nil {
		t.Fatal(err)
	}
	if got := le.fhirGet("/stu3/Patient?name=smith&access_token=tok-SHOULD-NOT-SHOW"); got != http.StatusServiceUnavailable {
		t.Fatalf("patient search under demo-outage: %d", got)
	}
	le.fhirGet("/stu3/Observation?patient=1")
	le.fhirGet("/%3Cscript%3Ealert(1)%3C/script%3E?x=%22%3E%3Cimg%20src=x%3E")

	page := le.want(le.get("/portal/requests"), http.StatusOK).body
	checkEscaped(t, "requests page", page, []string{"<script>alert(1)</script>", `"><img src=x>`})
	for _, s := range []string{secret, "tok-SHOULD-NOT-SHOW"} {
		if strings.Contains(page, s) {
			t.Fatalf("requests page shows a secret %q", s)
		}
	}
	rows := strings.Split(page, "<tr data-seq=")[1:]
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4 (token, two searches, hostile path; no portal requests):\n%s", len(rows), clipBody(page))
	}
	// Newest first.
	want := []struct{ has []string }{
		{[]string{"/&lt;script&gt;alert(1)&lt;/script&gt;", `status s2xx`}},
		{[]string{"/stu3/Observation?patient=1", "status s2xx"}},
		{[]string{"/stu3/Patient?access_token=REDACTED&amp;name=smith", `status s5xx">503`, `badge fault`}},
		{[]string{"/token", "POST", tenantA, id, "status s2xx"}},
	}
	for i, w := range want {
		for _, s := range w.has {
			if !strings.Contains(rows[i], s) {
				t.Errorf("row %d lacks %q:\n%s", i, s, rows[i])
			}
		}
	}
	if !strings.Contains(page, `data-stream="/portal/requests/stream?after=`) || !strings.Contains(page, `<script src="/portal/assets/requests.js" defer></script>`) {
		t.Error("page lacks its stream or script")
	}
}

func mustFind(t *testing.T, name string) *scenario.Scenario {
	t.Helper()
	lib, err := library()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range lib {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no scenario %s", name)
	return nil
}

// stream opens the request stream with the signed-in client and reads it
// event by event.
type stream struct {
	t   *testing.T
	res *http.Response
	br  *bufio.Reader
}

func (le *liveEnv) openStream(ctx context.Context, query string, hdr map[string]string) *stream {
	le.t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, le.srv.URL+"/portal/requests/stream"+query, nil)
	if err != nil {
		le.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := le.client.Do(req)
	if err != nil {
		le.t.Fatal(err)
	}
	le.t.Cleanup(func() { res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		le.t.Fatalf("stream: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &stream{t: le.t, res: res, br: bufio.NewReader(res.Body)}
	// The retry hint is written after the subscription: from here on no
	// request is missed.
	if block, err := s.next(); err != nil || block != "retry: 3000" {
		le.t.Fatalf("first block %q, %v", block, err)
	}
	return s
}

// next returns the next event block (its lines joined by \n).
func (s *stream) next() (string, error) {
	var lines []string
	for {
		line, err := s.br.ReadString('\n')
		if err != nil {
			return strings.Join(lines, "\n"), err
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if len(lines) > 0 {
				return strings.Join(lines, "\n"), nil
			}
			continue
		}
		lines = append(lines, line)
	}
}

// entry reads blocks until a data event and decodes it.
func (s *stream) entry() (id string, e scenario.Entry) {
	s.t.Helper()
	for {
		block, err := s.next()
		if err != nil {
			s.t.Fatalf("stream ended before an event: %v (last %q)", err, block)
		}
		var data string
		for _, l := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(l, "id: "); ok {
				id = v
			}
			if v, ok := strings.CutPrefix(l, "data: "); ok {
				data = v
			}
		}
		if data == "" {
			continue
		}
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			s.t.Fatalf("event data %q: %v", data, err)
		}
		return id, e
	}
}

func TestRequestStream(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := le.openStream(ctx, "", nil)
	for _, k := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
		if s.res.Header.Get(k) == "" {
			t.Errorf("stream lacks %s", k)
		}
	}
	if cc := s.res.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("stream Cache-Control %q", cc)
	}
	le.fhirGet("/portal/") // the portal's own requests are not streamed
	le.fhirGet("/stu3/Patient?_count=5&client_secret=hunter2")
	le.fhirGet("/<script>x</script>")
	id, e := s.entry()
	if e.Path != "/stu3/Patient" || e.Query != "_count=5&client_secret=REDACTED" || e.Status != http.StatusOK || e.Method != http.MethodGet || id != strconv.FormatUint(e.Seq, 10) {
		t.Fatalf("event: id %s %+v", id, e)
	}
	if _, e := s.entry(); e.Path != "/<script>x</script>" {
		t.Fatalf("second event: %+v", e)
	}
}

func TestRequestStreamResume(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	for i := range 3 {
		le.fhirGet("/stu3/Observation?n=" + strconv.Itoa(i))
	}
	all := le.journal.Entries(scenario.Filter{})
	if len(all) < 5 { // sign-in, dashboard, three searches
		t.Fatalf("journal: %d entries", len(all))
	}
	first := all[len(all)-3].Seq
	tests := []struct {
		name  string
		query string
		hdr   map[string]string
		want  string // query of the first event
	}{
		{"after the page's last entry", "?after=" + strconv.FormatUint(first, 10), nil, "n=1"},
		{"Last-Event-ID wins", "?after=0", map[string]string{"Last-Event-ID": strconv.FormatUint(first+1, 10)}, "n=2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s := le.openStream(ctx, tc.query, tc.hdr)
			if _, e := s.entry(); e.Query != tc.want {
				t.Fatalf("first event %+v, want query %s", e, tc.want)
			}
		})
	}
	for _, bad := range []string{"?after=x", "?after=-1", "?after=99999999999999999999999"} {
		if r := le.get("/portal/requests/stream" + bad); r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", bad, r.status)
		}
	}
}

// waitStreamEnd waits for the journal entry the stream's own request
// leaves when its handler returns: proof that it ended, not just that the
// client stopped reading.
func (le *liveEnv) waitStreamEnd(ctx context.Context, sub <-chan scenario.Entry) {
	le.t.Helper()
	for {
		select {
		case e := <-sub:
			if e.Path == "/portal/requests/stream" {
				return
			}
		case <-ctx.Done():
			le.t.Fatal("the stream handler did not return")
		}
	}
}

func TestRequestStreamEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		end  func(le *liveEnv, cancelClient context.CancelFunc)
	}{
		{"client goes", func(_ *liveEnv, cancelClient context.CancelFunc) { cancelClient() }},
		{"server shuts down", func(le *liveEnv, _ context.CancelFunc) { close(le.done) }},
		{"signed out", func(le *liveEnv, _ context.CancelFunc) {
			le.follow(le.post("/portal/signout", nil), "/portal/")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			le := newLiveEnv(t, 20*time.Millisecond)
			le.signIn()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			sub := le.journal.Subscribe(ctx)
			cctx, cancelClient := context.WithCancel(ctx)
			defer cancelClient()
			s := le.openStream(cctx, "", nil)
			// A heartbeat arrives while nothing happens.
			if block, err := s.next(); err != nil || block != ": keep-alive" {
				t.Fatalf("heartbeat: %q %v", block, err)
			}
			tc.end(le, cancelClient)
			le.waitStreamEnd(ctx, sub)
		})
	}
}

func TestLiveSecurityHeaders(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	for _, p := range []string{"/portal/scenarios", "/portal/requests", "/portal/assets/requests.js"} {
		r := le.want(le.get(p), http.StatusOK)
		csp := r.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " style=") || strings.Contains(r.body, " onclick=") {
			t.Errorf("%s: inline script or style", p)
		}
	}
	if ct := le.get("/portal/assets/requests.js").header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("requests.js Content-Type %q", ct)
	}
}
