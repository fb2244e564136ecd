package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

const head = "name: t\ndescription: test scenario\n"

func TestNoScenarioPassesThrough(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	r := rg.get(t, "/stu3/Observation")
	if r.status != 200 || !strings.Contains(string(r.body), `"category":[`) {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	if n, _ := rg.sleep.total(); n != 0 {
		t.Errorf("slept %d times with no scenario", n)
	}
}

func TestActivateDeactivate(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+"rules: [{match: {path: /stu3/Observation}, respond: {status: 503}}]\n")
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	if err := rg.eng.Activate(s); !errors.Is(err, ErrAlreadyActive) {
		t.Errorf("second activate: %v", err)
	}
	if got := rg.eng.Active(); !reflect.DeepEqual(got, []string{"t"}) {
		t.Errorf("Active = %v", got)
	}
	if r := rg.get(t, "/stu3/Observation"); r.status != 503 {
		t.Errorf("active: status %d", r.status)
	}
	if !rg.eng.Deactivate("t") || rg.eng.Deactivate("t") {
		t.Error("Deactivate should report true once")
	}
	if r := rg.get(t, "/stu3/Observation"); r.status != 200 {
		t.Errorf("deactivated: status %d", r.status)
	}
}

func TestMatching(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		match string
		path  string
		hdr   []string
		want  bool
	}{
		{"glob prefix", `{path: "/stu3/Observation*"}`, "/stu3/Observation?patient=1", nil, true},
		{"glob prefix deeper", `{path: "/stu3/Observation*"}`, "/stu3/Observation/1", nil, true},
		{"glob segment", `{path: "/*/Patient/*"}`, "/dstu2/Patient/7", nil, true},
		{"glob segment no match", `{path: "/*/Patient/*"}`, "/stu3/Patient", nil, false},
		{"glob segment not across", `{path: "/*/Patient"}`, "/a/b/Patient", nil, false},
		{"double star", `{path: "/**/Patient"}`, "/a/b/Patient", nil, true},
		{"exact", `{path: /stu3/Patient}`, "/stu3/Patient", nil, true},
		{"exact is exact", `{path: /stu3/Patient}`, "/stu3/Patient/1", nil, false},
		{"method", `{method: POST}`, "/x", nil, false},
		{"resource type", `{resource_type: Patient}`, "/stu3/Patient/1", nil, true},
		{"resource type other", `{resource_type: Patient}`, "/stu3/Observation", nil, false},
		{"resource type list", `{resource_type: [Condition, Observation]}`, "/stu3/Observation", nil, true},
		{"query any", `{query: {patient: "*"}}`, "/stu3/Observation?patient=9", nil, true},
		{"query value", `{query: {patient: "9"}}`, "/stu3/Observation?patient=8", nil, false},
		{"query missing", `{query: {patient: "*"}}`, "/stu3/Observation", nil, false},
		{"header", `{header: {x-probe: "yes"}}`, "/x", []string{"X-Probe", "yes"}, true},
		{"header wrong", `{header: {x-probe: "yes"}}`, "/x", []string{"X-Probe", "no"}, false},
		{"client", `{client_id: app-a}`, "/x", []string{"X-Client", "app-a"}, true},
		{"client other", `{client_id: app-a}`, "/x", []string{"X-Client", "app-b"}, false},
		{"tenant", `{tenant: 2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C}`, "/x", []string{"X-Tenant", "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t, 1)
			if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: "+tc.match+", respond: {status: 418}}]\n")); err != nil {
				t.Fatal(err)
			}
			r := rg.get(t, tc.path, tc.hdr...)
			if got := r.status == 418; got != tc.want {
				t.Errorf("%s on %s: matched=%t, want %t", tc.match, tc.path, got, tc.want)
			}
		})
	}
}

func TestRespond(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+`rules:
  - match: {path: /throttled}
    respond:
      status: 429
      headers: {Retry-After: "3"}
      operation_outcome: {code: throttled, diagnostics: too many requests}
  - match: {path: /mapping}
    respond: {status: 200, body: {resourceType: Bundle, total: 0, entry: []}}
  - match: {path: /text}
    respond: {status: 502, body: "<html>Bad Gateway</html>", headers: {Content-Type: text/html}}
`)
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	r := rg.get(t, "/throttled")
	oo := decode(t, r.body)
	if r.status != 429 || r.header.Get("Retry-After") != "3" || oo["resourceType"] != "OperationOutcome" {
		t.Fatalf("throttled: %d %v %s", r.status, r.header, r.body)
	}
	if iss := oo["issue"].([]any)[0].(map[string]any); iss["code"] != "throttled" || iss["diagnostics"] != "too many requests" {
		t.Errorf("issue = %v", iss)
	}
	r = rg.get(t, "/mapping")
	if string(r.body) != `{"resourceType":"Bundle","total":0,"entry":[]}` || !strings.Contains(r.header.Get("Content-Type"), "fhir+json") {
		t.Errorf("mapping body = %s (%s)", r.body, r.header.Get("Content-Type"))
	}
	r = rg.get(t, "/text")
	if r.status != 502 || string(r.body) != "<html>Bad Gateway</html>" || r.header.Get("Content-Type") != "text/html" {
		t.Errorf("text: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	// The journal lists what was applied.
	entries := rg.journal.Entries(Filter{})
	if len(entries) != 3 || !slices.ContainsFunc(entries[0].Faults, func(s string) bool { return strings.Contains(s, "respond 429") }) {
		t.Errorf("journal = %+v", entries)
	}
	if entries[0].Status != 429 || entries[0].RetryAfter != "3" {
		t.Errorf("journal entry = %+v", entries[0])
	}
}

func TestLatencyDistributions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		latency string
		check   func(time.Duration) bool
	}{
		{"250ms", func(d time.Duration) bool { return d == 250*time.Millisecond }},
		{"{fixed: 2s}", func(d time.Duration) bool { return d == 2*time.Second }},
		{"{uniform: {min: 100ms, max: 300ms}}", func(d time.Duration) bool { return d >= 100*time.Millisecond && d <= 300*time.Millisecond }},
		{"{lognormal: {median: 200ms, sigma: 0.8}}", func(d time.Duration) bool { return d > 0 && d <= maxLatency }},
	}
	for _, tc := range tests {
		t.Run(tc.latency, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t, 7)
			if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: {path: /stu3/Observation}, latency: "+tc.latency+"}]\n")); err != nil {
				t.Fatal(err)
			}
			for range 20 {
				if r := rg.get(t, "/stu3/Observation"); r.status != 200 {
					t.Fatalf("status %d", r.status)
				}
			}
			rg.sleep.mu.Lock()
			defer rg.sleep.mu.Unlock()
			if len(rg.sleep.slept) != 20 {
				t.Fatalf("slept %d times, want 20", len(rg.sleep.slept))
			}
			distinct := map[time.Duration]bool{}
			for _, d := range rg.sleep.slept {
				if !tc.check(d) {
					t.Errorf("latency %s out of range", d)
				}
				distinct[d] = true
			}
			if strings.Contains(tc.latency, "uniform") || strings.Contains(tc.latency, "lognormal") {
				if len(distinct) < 10 {
					t.Errorf("only %d distinct latencies from a distribution", len(distinct))
				}
			}
		})
	}
}

// TestLatencyIsAccurate runs the real SleepContext on a fake clock: a 2s
// latency takes exactly 2s, and a cancelled client ends the wait.
func TestLatencyIsAccurate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		eng := NewEngine(EngineOptions{})
		if err := eng.Activate(mustLoad(t, head+"rules: [{match: {path: /slow}, latency: 2s}]\n")); err != nil {
			t.Fatal(err)
		}
		defer eng.DeactivateAll()
		h := eng.Middleware(backend())
		start := time.Now()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/slow", nil))
		if got := time.Since(start); got != 2*time.Second || rec.Code != 200 {
			t.Errorf("took %s (status %d), want exactly 2s", got, rec.Code)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		start = time.Now()
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/slow", nil).WithContext(ctx))
		if got := time.Since(start); got != 500*time.Millisecond || rec.Body.Len() != 0 {
			t.Errorf("cancelled after %s with body %q, want 500ms and nothing", got, rec.Body)
		}
	})
}

func TestFaultsOverRealHTTP(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+`rules:
  - {match: {path: /reset}, fault: connection_reset}
  - {match: {path: /empty}, fault: empty_response}
  - {match: {path: /truncated}, fault: truncated_body}
  - {match: {path: /malformed}, fault: malformed_json}
  - {match: {path: /dribble}, fault: {slow_dribble: {bytes_per_second: 100}}}
  - {match: {path: /canned-truncated}, respond: {status: 200, body: "0123456789"}, fault: truncated_body}
`)
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	// Entries are recorded once each handler returns, which may be after
	// the client saw the fault: collect them from a subscription.
	sub := rg.journal.Subscribe(t.Context())
	// Fresh connections each time: a fault kills the connection.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	t.Cleanup(client.CloseIdleConnections)

	r := doGet(t, client, rg.srv.URL+"/reset")
	if r.err == nil {
		t.Errorf("reset: no error, status %d", r.status)
	} else if !strings.Contains(r.err.Error(), "reset") && !strings.Contains(r.err.Error(), "EOF") {
		t.Errorf("reset: error %v", r.err)
	}

	r = doGet(t, client, rg.srv.URL+"/empty")
	if r.err == nil || !strings.Contains(r.err.Error(), "EOF") {
		t.Errorf("empty: err %v status %d", r.err, r.status)
	}

	full := []byte(`{"path":"/truncated","query":""}`)
	r = doGet(t, client, rg.srv.URL+"/truncated")
	if !errors.Is(r.err, io.ErrUnexpectedEOF) || r.status != 200 || string(r.body) != string(full[:len(full)/2]) {
		t.Errorf("truncated: err %v status %d body %q", r.err, r.status, r.body)
	}
	if cl := r.header.Get("Content-Length"); cl != "32" {
		t.Errorf("truncated: Content-Length %q, want the full 32", cl)
	}

	r = doGet(t, client, rg.srv.URL+"/canned-truncated")
	if !errors.Is(r.err, io.ErrUnexpectedEOF) || string(r.body) != "01234" {
		t.Errorf("canned truncated: err %v body %q", r.err, r.body)
	}

	r = doGet(t, client, rg.srv.URL+"/malformed")
	var v any
	if r.err != nil || r.status != 200 || json.Unmarshal(r.body, &v) == nil || !strings.HasPrefix(string(r.body), `{"path":"/malformed"`) {
		t.Errorf("malformed: err %v status %d body %s", r.err, r.status, r.body)
	}

	before, _ := rg.sleep.total()
	r = doGet(t, client, rg.srv.URL+"/dribble")
	after, sum := rg.sleep.total()
	want := `{"path":"/dribble","query":""}`
	if r.err != nil || string(r.body) != want {
		t.Errorf("dribble: err %v body %s", r.err, r.body)
	}
	// 30 bytes at 100 B/s in 10-byte chunks: 3 writes, 2 waits of 100ms.
	if after-before != 2 || sum != 200*time.Millisecond {
		t.Errorf("dribble slept %d times, %s in all", after-before, sum)
	}

	var entries []Entry
	for len(entries) < 6 {
		entries = append(entries, <-sub)
	}
	i := slices.IndexFunc(entries, func(e Entry) bool { return e.Path == "/reset" })
	if i < 0 {
		t.Fatalf("no /reset entry in %+v", entries)
	}
	if e := entries[i]; e.Status != 0 || !strings.Contains(strings.Join(e.Faults, ","), "fault connection_reset") {
		t.Errorf("reset entry = %+v", e)
	}
}

func TestHangEndsWithTheClient(t *testing.T) {
	t.Parallel()
	eng := NewEngine(EngineOptions{}) // the real sleep: hang until the client leaves
	t.Cleanup(eng.DeactivateAll)
	if err := eng.Activate(mustLoad(t, head+"rules: [{match: {path: /hang}, fault: hang}]\n")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	h := eng.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the next handler must not run")
	}))
	wrapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(wrapped.Close)
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, wrapped.URL+"/hang", nil)
	_, err := http.DefaultClient.Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the client's deadline", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler still hangs after the client left")
	}
}

func TestCountWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		count string
		want  []int // 1-based request numbers that get the effect, of 12
	}{
		{"{from: 3, to: 5}", []int{3, 4, 5}},
		{"{every: 4}", []int{4, 8, 12}},
		{"{from: 2, every: 3}", []int{2, 5, 8, 11}},
		{"{from: 10}", []int{10, 11, 12}},
	}
	for _, tc := range tests {
		t.Run(tc.count, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t, 1)
			if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: {path: /x}, respond: {status: 500}, count: "+tc.count+"}]\n")); err != nil {
				t.Fatal(err)
			}
			var got []int
			for i := 1; i <= 12; i++ {
				rg.get(t, "/other") // does not match, does not count
				if rg.get(t, "/x").status == 500 {
					got = append(got, i)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("affected requests %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTimeWindow(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: {path: /x}, respond: {status: 503}, window: {after: 10s, until: 20s}}]\n")); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{{0, 200}, {9 * time.Second, 200}, {time.Second, 503}, {9 * time.Second, 503}, {time.Second, 200}} {
		rg.clock.Advance(step.advance)
		if got := rg.get(t, "/x").status; got != step.want {
			t.Errorf("at %s: status %d, want %d", rg.clock.Now().Sub(newClock().Now()), got, step.want)
		}
	}
}

func TestProbability(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p      string
		lo, hi int
	}{{"0", 0, 0}, {"1", 200, 200}, {"0.25", 30, 70}} {
		t.Run(tc.p, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t, 99)
			if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: {path: /x}, respond: {status: 500}, probability: "+tc.p+"}]\n")); err != nil {
				t.Fatal(err)
			}
			n := 0
			for range 200 {
				if rg.get(t, "/x").status == 500 {
					n++
				}
			}
			if n < tc.lo || n > tc.hi {
				t.Errorf("probability %s: %d of 200 affected, want %d..%d", tc.p, n, tc.lo, tc.hi)
			}
		})
	}
}

func TestPerClientStateIsolation(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+`rules:
  - {match: {path: /x}, respond: {status: 500}, count: {from: 2, to: 2}}
# The injected 500 never reaches the auth layer, so it does not count as
# the client's request: the 3rd request is the 2nd verified one.
timeline:
  - after_requests: 2
    match: {path: /x}
    action: expire_secret
`)
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	seq := func(client string) []int {
		var out []int
		for range 3 {
			out = append(out, rg.get(t, "/x", "X-Client", client).status)
		}
		return out
	}
	// Interleaved clients each see their own second request fail.
	a1 := rg.get(t, "/x", "X-Client", "app-a").status
	b := seq("app-b")
	a := append([]int{a1}, seq("app-a")[:2]...)
	if want := []int{200, 500, 200}; !reflect.DeepEqual(a, want) || !reflect.DeepEqual(b, want) {
		t.Errorf("app-a %v, app-b %v, want %v each", a, b, want)
	}
	calls := rg.ctl.Calls()
	want := []string{"ExpireSecrets(app-b, 2026-01-01T12:00:00Z)", "ExpireSecrets(app-a, 2026-01-01T12:00:00Z)"}
	if !reflect.DeepEqual(calls, want) {
		t.Errorf("controls calls %v, want %v", calls, want)
	}
}

// A request that names a client without proving to be it neither fires
// nor advances an event that acts on the requesting client.
func TestTimelineClientActionNeedsVerifiedClient(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+`timeline:
  - after_requests: 2
    match: {path: /x}
    action: delete_client
  - after_requests: 1
    match: {path: /x}
    action: revoke_tokens
`)
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	rg.get(t, "/x", "X-Client", "app-b", "X-Unverified", "1")
	rg.get(t, "/x", "X-Client", "app-b", "X-Unverified", "1")
	rg.get(t, "/x", "X-Client", "app-b")
	if got := rg.ctl.Calls(); !reflect.DeepEqual(got, []string{"RevokeIssuedTokens()"}) {
		t.Fatalf("unverified requests counted towards app-b's event: calls %v", got)
	}
	if got := rg.ctl.Calls(); !reflect.DeepEqual(got, []string{"RevokeIssuedTokens()"}) {
		t.Fatalf("after an unverified request naming app-b: calls %v, want only the action that names no client", got)
	}
	rg.get(t, "/x", "X-Client", "app-b")
	if got := rg.ctl.Calls(); !reflect.DeepEqual(got, []string{"RevokeIssuedTokens()", "DeleteClient(app-b)"}) {
		t.Errorf("after app-b's own second request: calls %v", got)
	}
}

func TestTimelineActions(t *testing.T) {
	t.Parallel()
	rg := newRig(t, 1)
	s := mustLoad(t, head+`timeline:
  - at: 0s
    action: {metadata: {token_url: "https://elsewhere.example/token", drop_oauth_uris: true, fhir_version: "1.0.2"}}
  - at: 10s
    action: {expire_secret: {}}
  - at: 10s
    action: {revoke_secret: {client_id: app-x, keep_newest: true}}
  - at: 20s
    action: {rotate_signing_key: {retire_old: true}}
  - at: 20s
    action: revoke_tokens
  - at: 30s
    action: {set_token_ttl: {ttl: 30s}}
  - at: 30s
    action: {unmap_tenant: {tenant: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c}}
  - at: 40s
    action: {tenant_down: {tenant: 7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d}}
  - at: 50s
    action: {tenant_down: {tenant: 7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d, down: false}}
  - after_requests: 2
    action: {delete_client: {}}
`)
	if err := rg.eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	if got := rg.ctl.Calls(); len(got) != 1 || !strings.HasPrefix(got[0], "SetMetadataDrift(https://elsewhere.example/token, true, 1.0.2)") {
		t.Fatalf("at 0s: %v", got)
	}
	rg.clock.Advance(10 * time.Second)
	rg.get(t, "/x", "X-Client", "app-y")
	rg.clock.Advance(10 * time.Second)
	rg.get(t, "/x", "X-Client", "app-y") // second request of app-y: delete_client after it
	rg.clock.Advance(30 * time.Second)
	rg.get(t, "/x")
	want := []string{
		"SetMetadataDrift(https://elsewhere.example/token, true, 1.0.2)",
		"ExpireSecrets(default-app, 2026-01-01T12:00:10Z)",
		"RevokeSecrets(app-x, true)",
		"RotateSigningKey(true)",
		"RevokeIssuedTokens()",
		"DeleteClient(app-y)",
		"SetTokenTTL(30s)",
		"UnmapTenant(2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c)",
		"SetTenantDown(7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d, true)",
		"SetTenantDown(7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d, false)",
	}
	if got := rg.ctl.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	e := rg.journal.Entries(Filter{Client: "app-y"})
	if len(e) != 2 || !slices.Contains(e[1].Faults, "timeline delete_client app-y") {
		t.Errorf("journal of app-y: %+v", e)
	}
}

// TestTimelineTicker: time events fire without traffic, and Deactivate
// stops the ticker (synctest fails the test on a leaked goroutine).
func TestTimelineTicker(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctl := &recordingControls{}
		eng := NewEngine(EngineOptions{Controls: ctl, DefaultClientID: "app", TickInterval: time.Second})
		s := mustLoad(t, head+"timeline:\n  - {at: 5s, action: revoke_tokens}\n  - {at: 1h, action: revoke_tokens}\n")
		if err := eng.Activate(s); err != nil {
			t.Fatal(err)
		}
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if got := ctl.Calls(); len(got) != 0 {
			t.Fatalf("fired early: %v", got)
		}
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if got := ctl.Calls(); !reflect.DeepEqual(got, []string{"RevokeIssuedTokens()"}) {
			t.Fatalf("after 5.5s: %v", got)
		}
		eng.Deactivate("t")
		time.Sleep(2 * time.Hour)
		if got := ctl.Calls(); len(got) != 1 {
			t.Errorf("fired after Deactivate: %v", got)
		}
	})
}

func TestQuirks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		quirks string
		path   string
		check  func(t *testing.T, doc map[string]any)
	}{
		{"drop_optional", "[{drop_optional: {fields: [telecom, Patient.address.postalCode, Observation.status]}}]", "/stu3/Patient", func(t *testing.T, doc map[string]any) {
			p := firstResource(doc)
			if _, ok := p["telecom"]; ok {
				t.Error("telecom kept")
			}
			addr := p["address"].([]any)[0].(map[string]any)
			if _, ok := addr["postalCode"]; ok || addr["city"] != "Springfield" {
				t.Errorf("address = %v", addr)
			}
			if p["birthDate"] != "1970-03-04" {
				t.Error("birthDate dropped")
			}
		}},
		{"sloppy_dates", "[sloppy_dates]", "/stu3/Patient", func(t *testing.T, doc map[string]any) {
			p := firstResource(doc)
			if got := p["meta"].(map[string]any)["lastUpdated"]; got != "09/17/2018 1:00:00 PM" {
				t.Errorf("lastUpdated = %v", got)
			}
			if p["birthDate"] != "03/04/1970" {
				t.Errorf("birthDate = %v", p["birthDate"])
			}
		}},
		{"sloppy_dates midnight", "[sloppy_dates]", "/stu3/Observation", func(t *testing.T, doc map[string]any) {
			if got := doc["effectiveDateTime"]; got != "09/17/2018 12:30:00 AM" {
				t.Errorf("effectiveDateTime = %v", got)
			}
		}},
		{"dstu2_shape_in_stu3 patient", "[dstu2_shape_in_stu3]", "/stu3/Patient", func(t *testing.T, doc map[string]any) {
			fam := firstResource(doc)["name"].([]any)[0].(map[string]any)["family"]
			if !reflect.DeepEqual(fam, []any{"Smith"}) {
				t.Errorf("family = %v", fam)
			}
		}},
		{"dstu2_shape_in_stu3 observation", "[dstu2_shape_in_stu3]", "/stu3/Observation", func(t *testing.T, doc map[string]any) {
			if _, ok := doc["category"].(map[string]any); !ok {
				t.Errorf("category = %v", doc["category"])
			}
		}},
		{"category round trip", "[category_as_object, category_as_array]", "/stu3/Observation", func(t *testing.T, doc map[string]any) {
			if arr, ok := doc["category"].([]any); !ok || len(arr) != 1 {
				t.Errorf("category = %v", doc["category"])
			}
			if doc["valueQuantity"].(map[string]any)["value"] != 72.5 {
				t.Errorf("numbers changed: %v", doc["valueQuantity"])
			}
		}},
		{"wrong_total value", "[{wrong_total: {value: 0}}]", "/stu3/Patient", func(t *testing.T, doc map[string]any) {
			if doc["total"] != 0.0 {
				t.Errorf("total = %v", doc["total"])
			}
		}},
		{"wrong_total delta", "[{wrong_total: {delta: -2}}]", "/stu3/Patient", func(t *testing.T, doc map[string]any) {
			if doc["total"] != 40.0 {
				t.Errorf("total = %v", doc["total"])
			}
		}},
		{"broken_next_link", "[broken_next_link]", "/stu3/Patient?_count=1", func(t *testing.T, doc map[string]any) {
			if got := linkURL(doc, "next"); got != "http://x/stu3/Patient-page-expired?_count=1&_offset=2" {
				t.Errorf("next = %v", got)
			}
		}},
		{"broken_next_link loop", "[{broken_next_link: {mode: loop}}]", "/stu3/Patient?_count=1", func(t *testing.T, doc map[string]any) {
			if linkURL(doc, "next") != linkURL(doc, "self") {
				t.Errorf("next = %v", linkURL(doc, "next"))
			}
		}},
		{"ignore_count", "[ignore_count]", "/stu3/Patient?_count=1&family=x", func(t *testing.T, doc map[string]any) {
			if got := linkURL(doc, "self"); got != "http://x/stu3/Patient?_count=" {
				t.Errorf("the backend saw _count: %v", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rg := newRig(t, 1)
			if err := rg.eng.Activate(mustLoad(t, head+"rules: [{match: {path: \"/stu3/**\"}, quirks: "+tc.quirks+"}]\n")); err != nil {
				t.Fatal(err)
			}
			r := rg.get(t, tc.path)
			if r.status != 200 || r.err != nil {
				t.Fatalf("status %d err %v", r.status, r.err)
			}
			if cl := r.header.Get("Content-Length"); cl != "" && cl != itoa(len(r.body)) {
				t.Errorf("Content-Length %s for %d bytes", cl, len(r.body))
			}
			tc.check(t, decode(t, r.body))
		})
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func firstResource(doc map[string]any) map[string]any {
	return doc["entry"].([]any)[0].(map[string]any)["resource"].(map[string]any)
}

func linkURL(doc map[string]any, rel string) any {
	for _, l := range doc["link"].([]any) {
		if m := l.(map[string]any); m["relation"] == rel {
			return m["url"]
		}
	}
	return nil
}

func TestQuirksLeaveLargeResponsesAlone(t *testing.T) {
	t.Parallel()
	eng := NewEngine(EngineOptions{MaxCapture: 64})
	t.Cleanup(eng.DeactivateAll)
	if err := eng.Activate(mustLoad(t, head+"rules: [{match: {path: \"/**\"}, quirks: [sloppy_dates]}]\n")); err != nil {
		t.Fatal(err)
	}
	big := `{"resourceType":"Patient","birthDate":"1970-03-04","text":"` + strings.Repeat("x", 200) + `"}`
	srv := httptest.NewServer(eng.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, big[:50])
		_, _ = io.WriteString(w, big[50:])
	})))
	t.Cleanup(srv.Close)
	r := doGet(t, srv.Client(), srv.URL+"/p")
	if string(r.body) != big {
		t.Errorf("large body changed: %s", r.body)
	}
}

func TestJournalMiddlewareKeepsFlusherAndHijacker(t *testing.T) {
	t.Parallel()
	j := NewJournal(10)
	got := make(chan [2]bool, 1)
	srv := httptest.NewServer(j.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, flusher := w.(http.Flusher)
		rc := http.NewResponseController(w)
		_ = rc.Flush()
		c, _, err := rc.Hijack()
		if err == nil {
			c.Close()
		}
		got <- [2]bool{flusher, err == nil}
	})))
	t.Cleanup(srv.Close)
	_, _ = srv.Client().Get(srv.URL)
	if g := <-got; !g[0] || !g[1] {
		t.Errorf("flusher %t hijacker %t", g[0], g[1])
	}
}

func TestOnApplyAndWithoutControls(t *testing.T) {
	t.Parallel()
	got := make(chan []string, 1)
	eng := NewEngine(EngineOptions{
		Sleep:   func(context.Context, time.Duration) error { return nil },
		OnApply: func(r *http.Request, applied []string) { got <- applied },
	})
	t.Cleanup(eng.DeactivateAll)
	s := mustLoad(t, head+"rules: [{name: slow, match: {path: /x}, latency: 5ms}]\ntimeline: [{after_requests: 1, action: revoke_tokens}]\n")
	if err := eng.Activate(s); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(eng.Middleware(backend()))
	t.Cleanup(srv.Close)
	if r := doGet(t, srv.Client(), srv.URL+"/x"); r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	want := []string{"slow: latency 5ms", "timeline revoke_tokens (failed)"}
	if a := <-got; !reflect.DeepEqual(a, want) {
		t.Errorf("applied %q, want %q", a, want)
	}
}
