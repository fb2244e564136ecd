package sandbox

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// sample is one parsed line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

var (
	metricLineRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$`)
	labelRE      = regexp.MustCompile(`^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)`)
	typeRE       = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$`)
)

// parseMetrics reads a text exposition strictly: every sample belongs to
// the family of the TYPE line before it, and label values are unescaped.
func parseMetrics(t *testing.T, body string) []sample {
	t.Helper()
	var out []sample
	family, typ := "", ""
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if m := typeRE.FindStringSubmatch(line); m != nil {
			family, typ = m[1], m[2]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := metricLineRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a metric line: %q", line)
		}
		name := m[1]
		base := name
		if typ == "histogram" {
			base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		}
		if base != family {
			t.Fatalf("sample %s outside its family (TYPE %s)", name, family)
		}
		labels := map[string]string{}
		for rest := m[3]; rest != ""; {
			lm := labelRE.FindStringSubmatch(rest)
			if lm == nil {
				t.Fatalf("bad labels in %q", line)
			}
			v := strings.NewReplacer(`\\`, `\`, `\"`, `"`, `\n`, "\n").Replace(lm[2])
			labels[lm[1]] = v
			rest = rest[len(lm[0]):]
		}
		v, err := strconv.ParseFloat(m[4], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		out = append(out, sample{name, labels, v})
	}
	return out
}

// value is the sample with exactly these labels (missing: 0).
func value(ss []sample, name string, labels map[string]string) float64 {
	for _, s := range ss {
		if s.name != name || len(s.labels) != len(labels) {
			continue
		}
		ok := true
		for k, v := range labels {
			if s.labels[k] != v {
				ok = false
			}
		}
		if ok {
			return s.value
		}
	}
	return 0
}

// TestRequestLogAndMetrics drives a server over real HTTP with good and
// bad credentials, token reads and a scenario fault, then checks the one
// log line per request (tenant, client, faults, why a token was refused,
// no secret or token anywhere) and a scrape of GET /metrics counting
// exactly those requests.
func TestRequestLogAndMetrics(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	const (
		expiredSecret = "expired-secret-value-0001"
		narrowSecret  = "narrow-secret-value-00001"
		wrongSecret   = "wrong-secret-value-000001"
		nobodySecret  = "nobody-secret-value-00001"
		queryToken    = "query-token-value-0000001"
	)
	cfg.Clients = append(cfg.Clients,
		ClientConfig{ID: "expired-app", Name: "Expired", Tenants: []string{"*"},
			Secrets: []SecretConfig{{Value: expiredSecret, Expires: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}}},
		ClientConfig{ID: "narrow-app", Name: "Narrow", Tenants: []string{FabrikamTenant},
			Secrets: []SecretConfig{{Value: narrowSecret}}})
	devSecret := cfg.Clients[0].Secrets[0].Value
	clientID := cfg.Clients[0].ID
	logs := &syncBuffer{}
	s, err := New(cfg, Options{
		Now:    func() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) },
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)

	tokenReq := func(client, secret, scope string) (int, string) {
		res, err := http.PostForm(ts.URL+"/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {client}, "client_secret": {secret}, "scope": {scope}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	get := func(path, tok string, header ...string) int {
		req, _ := http.NewRequest("GET", ts.URL+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}

	st, body := tokenReq(clientID, devSecret, ContosoTenant)
	tok := between(body, `"access_token":"`, `"`)
	if st != 200 || tok == "" {
		t.Fatalf("token: %d %s", st, body)
	}
	refusals := []struct{ client, secret, scope, reason string }{
		{"nobody-app", nobodySecret, ContosoTenant, auth.RefusedUnknownClient},
		{clientID, wrongSecret, ContosoTenant, auth.RefusedWrongSecret},
		{"expired-app", expiredSecret, ContosoTenant, auth.RefusedSecretExpired},
		{"narrow-app", narrowSecret, ContosoTenant, auth.RefusedTenantNotAllowed},
	}
	for _, r := range refusals {
		if st, body := tokenReq(r.client, r.secret, r.scope); st == 200 {
			t.Fatalf("%s: token issued: %s", r.reason, body)
		}
	}
	const reads = 5
	for range reads {
		if st := get("/stu3/Patient/pat-1", tok); st != 200 {
			t.Fatalf("read: %d", st)
		}
	}
	// a token in the query is no credential (it is ignored) and is never logged
	if st := get("/stu3/Patient/pat-1?access_token="+queryToken, ""); st != 401 {
		t.Fatalf("read with a query token: %d", st)
	}

	sc, err := scenario.Load("throttle.yaml", []byte(`name: throttle-observations
description: every Observation search is answered 429
rules:
  - name: throttle observations
    match: {path: "/stu3/Observation"}
    respond:
      status: 429
      headers: {Retry-After: "1"}
      operation_outcome: {code: throttled, diagnostics: slow down}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateScenario(sc); err != nil {
		t.Fatal(err)
	}
	const throttled = 3
	for range throttled {
		if st := get("/stu3/Observation?patient=pat-1", tok); st != 429 {
			t.Fatalf("scenario did not apply: %d", st)
		}
	}

	// the scrape, from loopback without credentials
	res, err := http.Get(ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	mbody, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	ms := parseMetrics(t, string(mbody))
	check := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got := value(ms, name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	check("fhirsandbox_http_requests_total", map[string]string{"route": "/stu3/Patient/{id}", "status": "200", "tenant": ContosoTenant}, reads)
	check("fhirsandbox_http_requests_total", map[string]string{"route": "/stu3/Patient/{id}", "status": "401", "tenant": ""}, 1)
	check("fhirsandbox_http_requests_total", map[string]string{"route": "/stu3/Observation", "status": "429", "tenant": ContosoTenant}, throttled)
	check("fhirsandbox_tokens_issued_total", map[string]string{"tenant": ContosoTenant}, 1)
	for _, r := range refusals {
		check("fhirsandbox_tokens_refused_total", map[string]string{"reason": r.reason}, 1)
	}
	check("fhirsandbox_scenario_faults_total", map[string]string{"scenario": "throttle-observations", "rule": "throttle observations", "effect": "respond"}, throttled)
	check("fhirsandbox_http_request_duration_seconds_count", map[string]string{"route": "/stu3/Patient/{id}"}, reads+1)
	// buckets are cumulative and end at the count
	prev := -1.0
	for _, sm := range ms {
		if sm.name == "fhirsandbox_http_request_duration_seconds_bucket" && sm.labels["route"] == "/stu3/Patient/{id}" {
			if sm.value < prev {
				t.Errorf("bucket le=%s (%v) below the previous one (%v)", sm.labels["le"], sm.value, prev)
			}
			prev = sm.value
			if sm.labels["le"] == "+Inf" && sm.value != reads+1 {
				t.Errorf("+Inf bucket %v, want %d", sm.value, reads+1)
			}
		}
	}
	if prev < 0 {
		t.Errorf("no latency histogram for the reads:\n%s", mbody)
	}

	// through a proxy or tunnel, /metrics gets the admin guards
	if st := get("/metrics", "", "X-Forwarded-For", "203.0.113.9"); st != 403 {
		t.Errorf("GET /metrics through a proxy: %d, want 403 (admin.allow_remote is false)", st)
	}

	// the log: one line per request, the facts above, no secret
	out := logs.String()
	for _, secret := range []string{devSecret, expiredSecret, narrowSecret, wrongSecret, nobodySecret, tok, queryToken} {
		if strings.Contains(out, secret) {
			t.Errorf("the log contains a secret or token %q", secret)
		}
	}
	type line struct {
		Msg     string  `json:"msg"`
		Method  string  `json:"method"`
		Path    string  `json:"path"`
		Query   string  `json:"query"`
		Status  int     `json:"status"`
		Latency float64 `json:"latency_ms"`
		Tenant  string  `json:"tenant"`
		Client  string  `json:"client"`
		Faults  string  `json:"faults"`
		Refused string  `json:"refused"`
		ID      string  `json:"request_id"`
	}
	var lines []line
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var ln line
		if err := json.Unmarshal([]byte(l), &ln); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		if ln.Msg == "request" {
			lines = append(lines, ln)
		}
	}
	if want := 1 + len(refusals) + reads + 1 + throttled + 2; len(lines) != want {
		t.Errorf("%d request lines, want %d (one per request)", len(lines), want)
	}
	refusedSeen := map[string]int{}
	var readLines, faultLines int
	for _, ln := range lines {
		if ln.ID == "" || ln.Method == "" || ln.Path == "" || ln.Status == 0 {
			t.Errorf("incomplete line: %+v", ln)
		}
		switch {
		case ln.Path == "/token" && ln.Status != 200:
			refusedSeen[ln.Refused]++
		case ln.Path == "/stu3/Patient/pat-1" && ln.Status == 200:
			readLines++
			if ln.Tenant != ContosoTenant || ln.Client != clientID || ln.Faults != "" {
				t.Errorf("read line: %+v", ln)
			}
		case ln.Path == "/stu3/Patient/pat-1" && ln.Status == 401:
			if !strings.Contains(ln.Query, "access_token=REDACTED") || ln.Refused == "" {
				t.Errorf("query token line: %+v", ln)
			}
		case ln.Path == "/stu3/Observation":
			faultLines++
			if ln.Status != 429 || ln.Tenant != ContosoTenant || ln.Client != clientID ||
				ln.Faults != "throttle observations: respond 429" || ln.Query != "patient=pat-1" {
				t.Errorf("fault line: %+v", ln)
			}
		}
	}
	for _, r := range refusals {
		if refusedSeen[r.reason] != 1 {
			t.Errorf("refusal %s logged %d times (%v)", r.reason, refusedSeen[r.reason], refusedSeen)
		}
	}
	if readLines != reads || faultLines != throttled {
		t.Errorf("%d read lines and %d fault lines, want %d and %d", readLines, faultLines, reads, throttled)
	}
	// the journal reads the same note: a bearer read's tenant and client
	// come from the verified token
	for _, e := range s.requests.Entries(scenario.Filter{}) {
		if e.Path == "/stu3/Patient/pat-1" && e.Status == 200 && (e.Tenant != ContosoTenant || e.Client != clientID) {
			t.Errorf("journal entry %+v", e)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"family=smi&_count=10", "family=smi&_count=10"},
		{"access_token=abc", "access_token=REDACTED"},
		{"a=1&Client_Secret=s3cret&b=2", "a=1&Client_Secret=REDACTED&b=2"},
		{"a=1&client%5Fsecret=s3cret", "a=1&client%5Fsecret=REDACTED"},
		{"code", "code"},
		{"x=%zz&token=t", "x=%zz&token=REDACTED"},
		{"%zz=v&y=1", "%zz=REDACTED&y=1"},
		{"a=1&&password=p&", "a=1&&password=REDACTED&"},
	} {
		if got := redactQuery(c.in); got != c.want {
			t.Errorf("redactQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// FuzzRedactQuery: no value of a secret-bearing parameter survives, and a
// query without one comes back unchanged.
func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{"family=smi", "access_token=x&a=b", "a=1&&TOKEN=2&", "%41ssertion=z", "=&=", "code=1;x=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := redactQuery(raw)
		gotPairs := strings.Split(got, "&")
		inPairs := strings.Split(raw, "&")
		if len(gotPairs) != len(inPairs) {
			t.Fatalf("redactQuery(%q) = %q: pair count changed", raw, got)
		}
		for i, p := range inPairs {
			k, _, hasValue := strings.Cut(p, "=")
			key, err := url.QueryUnescape(k)
			secret := err != nil
			for _, name := range redactedParams {
				if strings.EqualFold(key, name) {
					secret = true
				}
			}
			want := p
			if secret && hasValue {
				want = k + "=REDACTED"
			}
			if gotPairs[i] != want {
				t.Fatalf("redactQuery(%q) pair %d = %q, want %q", raw, i, gotPairs[i], want)
			}
		}
	})
}
