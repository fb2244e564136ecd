package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// partner is a minimal token endpoint and FHIR server for runner tests.
func partner() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("client_id") != "app" || r.FormValue("client_secret") != "pw" {
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		fmt.Fprintf(w, `{"access_token":"tok-%s","token_type":"Bearer","expires_in":3600}`, r.FormValue("scope"))
	})
	mux.HandleFunc("GET /stu3/Patient/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok-ten" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprintf(w, `{"resourceType":"Patient","id":%q,"name":[{"family":"Smith"}]}`, r.PathValue("id"))
	})
	mux.HandleFunc("GET /stu3/Patient", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("X-Echo", r.URL.RawQuery)
		fmt.Fprint(w, `{"resourceType":"Bundle","total":3,"entry":[{"resource":{"resourceType":"Patient","id":"p7"}},{"resource":{"id":"p8"}}],"tags":["a","b"]}`)
	})
	mux.HandleFunc("POST /stu3/Patient", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.WriteHeader(201)
		_ = json.NewEncoder(w).Encode(body)
	})
	return mux
}

func TestRunPassesAndFails(t *testing.T) {
	t.Parallel()
	clock := newClock()
	sl := &sleepRecorder{clock: clock}
	eng := NewEngine(EngineOptions{Now: clock.Now, Sleep: sl.Sleep})
	t.Cleanup(eng.DeactivateAll)
	j := NewJournal(100, WithJournalClock(clock.Now), WithJournalIdentify(func(*http.Request) (string, string) { return "", "app" }))
	srv := httptest.NewServer(j.Middleware(eng.Middleware(partner())))
	t.Cleanup(srv.Close)
	s := mustLoad(t, `name: runner
description: runner test
rules:
  - {match: {path: /stu3/Patient/slow}, latency: 3s}
  - {match: {path: /stu3/Patient/reset}, fault: connection_reset}
steps:
  - name: token
    get_token: {}
    expect: {json: {token_type: Bearer, expires_in: {gt: 60}}}
  - name: bad secret
    get_token: {client_secret: wrong}
    expect: {status: 401, json: {error: invalid_client}}
  - name: search
    request: {path: /stu3/Patient, query: {family: smi, _count: "2"}}
    expect:
      headers: {X-Echo: "family=smi"}
      json: {total: 3, entry: {len: 2}, "entry[0].resource.id": p7, tags: {contains: b}, missing: {absent: true}}
      resource_count: 2
    capture: {pid: entry.0.resource.id}
  - name: read captured
    request: {path: "${base_url}/stu3/Patient/${pid}"}
    expect: {json: {id: "${pid}", name.0.family: {contains: Smi}}}
    repeat: 2
  - name: create with vars
    request: {method: POST, path: /stu3/Patient, json: {resourceType: Patient, id: "${pid}", note: "by ${client_id}"}, auth: none}
    expect: {status: 201, json: {id: p7, note: by app}}
  - name: slow read
    request: {path: /stu3/Patient/slow}
    expect: {max_ms: 1000}
  - name: wrong expectation
    request: {path: /stu3/Patient/x1}
    expect: {json: {id: x2}}
  - name: reset
    request: {path: /stu3/Patient/reset}
    expect: {error: "EOF|reset"}
  - name: wait
    wait: 5s
journal:
  token_requests: {max: 1}
  max_rps: 100
`)
	if err := eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	rep := Run(t.Context(), s, RunOptions{
		BaseURL: srv.URL, Client: client, ClientID: "app", ClientSecret: "pw", Tenant: "ten",
		Now: clock.Now, Sleep: sl.Sleep,
		Journal: func(context.Context) ([]Entry, error) { return j.Entries(Filter{}), nil },
	})
	want := map[string]string{
		"token":                   "",
		"bad secret":              "",
		"search":                  "",
		"read captured":           "",
		"create with vars":        "",
		"slow read":               "took 3000ms, want at most 1000ms",
		"wrong expectation":       `json id = "x1", want "x2"`,
		"reset":                   "",
		"wait":                    "",
		"journal: token requests": "2 token requests, want at most 1",
		"journal: request rate":   "",
	}
	if len(rep.Steps) != len(want) {
		t.Fatalf("%d results: %+v", len(rep.Steps), rep.Steps)
	}
	for _, st := range rep.Steps {
		w, ok := want[st.Name]
		if !ok {
			t.Errorf("unexpected step %q", st.Name)
			continue
		}
		if w == "" && !st.Pass {
			t.Errorf("%s failed: %s", st.Name, st.Reason)
		}
		if w != "" && (st.Pass || !strings.Contains(st.Reason, w)) {
			t.Errorf("%s: pass=%t reason %q, want failure %q", st.Name, st.Pass, st.Reason, w)
		}
	}
	if rep.Passed() || rep.Failed() != 3 {
		t.Errorf("Passed %t Failed %d", rep.Passed(), rep.Failed())
	}
	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "  FAIL  slow read (3s): took 3000ms") || !strings.Contains(text.String(), "8 passed, 3 failed\n") {
		t.Errorf("text:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Steps) != len(rep.Steps) {
		t.Errorf("JSON round trip: %v", err)
	}
}

func TestRunWithoutJournalSkips(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(partner())
	t.Cleanup(srv.Close)
	s := mustLoad(t, "name: j\ndescription: d\nsteps:\n  - get_token: {}\njournal: {honoured_retry_after: true}\n")
	rep := Run(t.Context(), s, RunOptions{BaseURL: srv.URL, ClientID: "app", ClientSecret: "pw", Tenant: "ten"})
	if len(rep.Steps) != 2 || !rep.Steps[1].Skipped || !rep.Passed() {
		t.Errorf("report %+v", rep)
	}
}

func TestCheckJournalRetryAfter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	je := &JournalExpect{HonouredRetryAfter: true}
	early := []Entry{
		{Seq: 1, Time: t0, Status: 429, RetryAfter: "2", LatencyMS: 10},
		{Seq: 2, Time: t0.Add(time.Second), Status: 200},
	}
	if r := CheckJournal(je, early, ""); r[0].Pass || !strings.Contains(r[0].Reason, "request 2 came 990ms after a 429") {
		t.Errorf("early retry: %+v", r)
	}
	patient := []Entry{
		{Seq: 1, Time: t0, Status: 429, RetryAfter: "2"},
		{Seq: 2, Time: t0.Add(2 * time.Second), Status: 200},
	}
	if r := CheckJournal(je, patient, ""); !r[0].Pass {
		t.Errorf("patient retry: %+v", r)
	}
	rps := CheckJournal(&JournalExpect{MaxRPS: 2}, []Entry{{Time: t0}, {Time: t0.Add(100 * time.Millisecond)}, {Time: t0.Add(900 * time.Millisecond)}}, "")
	if rps[0].Pass {
		t.Errorf("3 requests in a second passed max_rps 2")
	}
}

func TestWriteJUnitParses(t *testing.T) {
	t.Parallel()
	reps := []Report{
		{Scenario: "a", Duration: time.Second, Steps: []StepResult{
			{Name: "ok", Pass: true, Duration: 5 * time.Millisecond},
			{Name: "bad <step> & co", Reason: `status 500, want [200]: {"x":"<y>"}`},
			{Name: "skipped", Skipped: true, Reason: "no journal access"},
		}},
		{Scenario: "b", Steps: []StepResult{{Name: "ok", Pass: true}}},
	}
	var buf bytes.Buffer
	if err := WriteJUnit(&buf, reps...); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("JUnit does not parse: %v\n%s", err, buf.String())
	}
	if doc.Tests != 4 || doc.Failures != 1 || len(doc.Suites) != 2 || doc.Suites[0].Cases[1].Name != "bad <step> & co" {
		t.Errorf("parsed %+v", doc)
	}
	if f := doc.Suites[0].Cases[1].Failure; f == nil || !strings.Contains(f.Message, `"<y>"`) {
		t.Errorf("failure = %+v", f)
	}
	if doc.Suites[0].Cases[2].Skipped == nil {
		t.Error("skipped case not marked")
	}
}

func TestRunFollowsCapturedURLsOnlyOnTheServer(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(partner())
	t.Cleanup(srv.Close)
	s := mustLoad(t, `name: u
description: d
steps:
  - get_token: {}
    capture: {elsewhere: token_type}
  - request: {path: "${elsewhere}"}
`)
	s.Steps[1].Request.Path = "https://elsewhere.example/steal"
	rep := Run(t.Context(), s, RunOptions{BaseURL: srv.URL, ClientID: "app", ClientSecret: "pw", Tenant: "ten"})
	if rep.Steps[1].Pass || !strings.Contains(rep.Steps[1].Reason, "is not on "+srv.URL) {
		t.Errorf("step = %+v", rep.Steps[1])
	}
}

// TestCheckJSONEveryElement: a "*" segment checks every element of an
// array, names the failing one by its index, and passes when there is no
// element (an empty searchset), while a field missing under an element
// still fails.
func TestCheckJSONEveryElement(t *testing.T) {
	t.Parallel()
	var full, empty, none any
	for s, dst := range map[string]*any{
		`{"entry":[{"resource":{"status":"active","code":{"coding":[{"code":"a"}]}}},{"resource":{"status":"active"}}]}`: &full,
		`{"entry":[]}`:         &empty,
		`{"type":"searchset"}`: &none,
	} {
		if err := json.Unmarshal([]byte(s), dst); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		doc  any
		je   JSONExpect
		want string // substring of the failure; "" passes
	}{
		{full, JSONExpect{Path: "entry.*.resource.status", Op: OpExists}, ""},
		{full, JSONExpect{Path: "entry.*.resource.status", Op: OpEq, Value: "active"}, ""},
		{full, JSONExpect{Path: "entry.*.resource.code.coding.0.code", Op: OpExists}, "entry.1.resource.code is absent"},
		{full, JSONExpect{Path: "entry[*].resource.status", Op: OpEq, Value: "x"}, "entry.0.resource.status"},
		{full, JSONExpect{Path: "entry.*.resource.id", Op: OpAbsent}, ""},
		{empty, JSONExpect{Path: "entry.*.resource.code.coding.0.code", Op: OpExists}, ""},
		{none, JSONExpect{Path: "entry.*.resource.code", Op: OpExists}, ""},
		{none, JSONExpect{Path: "type.*", Op: OpExists}, ""},
	}
	for _, c := range cases {
		got := checkJSON(c.doc, c.je)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s %s: %q, want %q", c.je.Path, c.je.Op, got, c.want)
		}
	}
}

// TestSetupSecretLength: a setup secret the token endpoint would refuse
// fails the load, at its line, so scenario validate agrees with run.
func TestSetupSecretLength(t *testing.T) {
	for n, ok := range map[int]bool{minSecretLen - 1: false, minSecretLen: true, maxSecretLen: true, maxSecretLen + 1: false} {
		text := "name: s\ndescription: d\nsetup:\n  clients:\n    - id: c\n      tenants: [\"*\"]\n      secrets:\n        - {value: " + strings.Repeat("x", n) + "}\n"
		_, err := Load("s.yaml", []byte(text))
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), "s.yaml:8: ")) {
			t.Errorf("secret of %d characters: %v", n, err)
		}
	}
}
