package scenario

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds what a step reads of a response.
const maxResponseBytes = 32 << 20

// RunOptions say where and as whom the steps run.
type RunOptions struct {
	// BaseURL is the sandbox root, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Client is the HTTP client (default: one with a 60s timeout).
	Client       *http.Client
	ClientID     string
	ClientSecret string
	Tenant       string
	// TokenPath is the token endpoint path (default /token).
	TokenPath string
	Now       func() time.Time
	// Sleep carries out wait steps (default SleepContext); an in-process
	// run with a fake clock advances the clock here instead.
	Sleep func(ctx context.Context, d time.Duration) error
	// Journal fetches the server's request journal (for example GET
	// /admin/api/requests); without it journal expectations are skipped.
	Journal func(ctx context.Context) ([]Entry, error)
	// Wall is the real clock, for the wall time of steps and of the run
	// (default time.Now). Now may be a simulated clock that waits move
	// forward; Wall is what a CI system charts.
	Wall func() time.Time
	// SkipAfterTokenFailure skips, rather than fails, every step that
	// would send a token once a get_token step has failed: they report the
	// token failure once instead of each failing on a 401.
	SkipAfterTokenFailure bool
	// Signer signs client assertions for get_token steps with an
	// assertion (and for every get_token when ClientSecret is empty);
	// without it those steps fail.
	Signer func(AssertionRequest) (string, error)
	// Rand makes assertion jtis (default crypto/rand).
	Rand io.Reader
}

// StepResult is the outcome of one step (or journal check).
type StepResult struct {
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Duration is the time the step took on the run's clock, which is
	// simulated for an in-process run (waits take no real time).
	Duration time.Duration `json:"duration_ns"`
	// Wall is the real time the step took.
	Wall time.Duration `json:"wall_ns"`
}

// Report is the outcome of one scenario run.
type Report struct {
	Scenario    string       `json:"scenario"`
	Description string       `json:"description,omitempty"`
	Steps       []StepResult `json:"steps"`
	// Duration is the run's time on its clock (simulated in-process:
	// a scenario that waits an hour has a Duration of an hour).
	Duration time.Duration `json:"duration_ns"`
	// Wall is the real time the run took.
	Wall time.Duration `json:"wall_ns"`
}

// Passed reports whether no step failed.
func (r Report) Passed() bool {
	for _, s := range r.Steps {
		if !s.Pass && !s.Skipped {
			return false
		}
	}
	return true
}

// Failed counts the failed steps.
func (r Report) Failed() int {
	n := 0
	for _, s := range r.Steps {
		if !s.Pass && !s.Skipped {
			n++
		}
	}
	return n
}

type runner struct {
	opts  RunOptions
	vars  map[string]string
	token string
	base  string
}

// Run executes the scenario's steps over HTTP, in order, then its journal
// expectations. A failed step does not stop the run: later steps may
// still tell something, and the report shows every one.
func Run(ctx context.Context, s *Scenario, opts RunOptions) Report {
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 60 * time.Second}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = SleepContext
	}
	if opts.Wall == nil {
		opts.Wall = time.Now
	}
	if opts.TokenPath == "" {
		opts.TokenPath = "/token"
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	run := &runner{
		opts: opts,
		base: strings.TrimRight(opts.BaseURL, "/"),
		vars: map[string]string{
			"client_id":     opts.ClientID,
			"client_secret": opts.ClientSecret,
			"tenant":        opts.Tenant,
			"base_url":      strings.TrimRight(opts.BaseURL, "/"),
		},
	}
	rep := Report{Scenario: s.Name, Description: s.Description}
	start, wallStart := opts.Now(), opts.Wall()
	failedToken := "" // the get_token step that failed, when skipping after it
	for _, st := range s.Steps {
		if ctx.Err() != nil {
			rep.Steps = append(rep.Steps, StepResult{Name: st.Name, Reason: "not run: " + ctx.Err().Error()})
			continue
		}
		if failedToken != "" && st.Request != nil && st.Request.Auth != AuthNone && st.Request.Auth != AuthBasic {
			rep.Steps = append(rep.Steps, StepResult{Name: st.Name, Skipped: true, Reason: "needs the token that step " + strconv.Quote(failedToken) + " failed to get"})
			continue
		}
		t0, w0 := opts.Now(), opts.Wall()
		reason := run.step(ctx, &st)
		rep.Steps = append(rep.Steps, StepResult{Name: st.Name, Pass: reason == "", Reason: reason, Duration: opts.Now().Sub(t0), Wall: opts.Wall().Sub(w0)})
		if opts.SkipAfterTokenFailure && st.GetToken != nil && reason != "" {
			failedToken = st.Name
		}
	}
	if s.Journal != nil {
		w0 := opts.Wall()
		js := run.journal(ctx, s.Journal, start)
		if len(js) > 0 {
			js[0].Wall = opts.Wall().Sub(w0)
		}
		rep.Steps = append(rep.Steps, js...)
	}
	rep.Duration = opts.Now().Sub(start)
	rep.Wall = opts.Wall().Sub(wallStart)
	return rep
}

func (run *runner) step(ctx context.Context, st *Step) string {
	if st.Wait > 0 {
		if err := run.opts.Sleep(ctx, st.Wait); err != nil {
			return "wait interrupted: " + err.Error()
		}
	}
	if st.Request == nil && st.GetToken == nil {
		return ""
	}
	var doc any
	for i := range max(st.Repeat, 1) {
		var reason string
		reason, doc = run.attempt(ctx, st)
		if reason != "" {
			if st.Repeat > 1 {
				return fmt.Sprintf("attempt %d of %d: %s", i+1, st.Repeat, reason)
			}
			return reason
		}
	}
	for name, path := range st.Capture {
		v, ok := lookup(doc, path)
		if !ok {
			return fmt.Sprintf("capture %s: %s is absent from the response", name, path)
		}
		run.vars[name] = scalarString(v)
	}
	return ""
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// subst replaces ${var}; unknown variables are left visible so the
// failure names them.
func (run *runner) subst(s string) string {
	return varRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := run.vars[m[2:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

func (run *runner) substJSON(b []byte) []byte {
	return varRE.ReplaceAllFunc(b, func(m []byte) []byte {
		v, ok := run.vars[string(m[2:len(m)-1])]
		if !ok {
			return m
		}
		q, _ := json.Marshal(v)
		return q[1 : len(q)-1]
	})
}

func (run *runner) buildRequest(ctx context.Context, st *Step) (*http.Request, error) {
	if g := st.GetToken; g != nil {
		pick := func(v, def string) string {
			if v == "" {
				return def
			}
			return run.subst(v)
		}
		scope := pick(g.Tenant, run.opts.Tenant)
		if g.Scope != "" {
			scope += " " + run.subst(g.Scope)
		}
		form := url.Values{
			"grant_type": {"client_credentials"},
			"client_id":  {pick(g.ClientID, run.opts.ClientID)},
			"scope":      {scope},
		}
		as := g.Assertion
		if as == nil && g.ClientSecret == "" && run.opts.ClientSecret == "" && run.opts.Signer != nil {
			as = &AssertionSpec{} // a run with a key and no secret
		}
		if as != nil {
			a, err := run.assertion(form.Get("client_id"), as)
			if err != nil {
				return nil, err
			}
			form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			form.Set("client_assertion", a)
		} else {
			form.Set("client_secret", pick(g.ClientSecret, run.opts.ClientSecret))
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, run.base+run.opts.TokenPath, strings.NewReader(form.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		return req, nil
	}
	sr := st.Request
	target := run.subst(sr.Path)
	if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		target = run.base + target
	} else if !strings.HasPrefix(target, run.base+"/") {
		// A captured link (a next page) is followed only on the server
		// under test, so a scenario cannot send the token elsewhere.
		return nil, fmt.Errorf("captured URL %s is not on %s", target, run.base)
	}
	if len(sr.Query) > 0 {
		q := url.Values{}
		for _, kv := range sr.Query {
			q.Add(kv[0], run.subst(kv[1]))
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		target += sep + q.Encode()
	}
	var body io.Reader
	contentType := ""
	switch {
	case sr.Form != nil:
		f := url.Values{}
		for _, kv := range sr.Form {
			f.Add(kv[0], run.subst(kv[1]))
		}
		body, contentType = strings.NewReader(f.Encode()), "application/x-www-form-urlencoded"
	case sr.JSON != nil:
		body, contentType = bytes.NewReader(run.substJSON(sr.JSON)), "application/fhir+json"
	}
	req, err := http.NewRequestWithContext(ctx, sr.Method, target, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/fhir+json, application/json")
	for k, v := range sr.Headers {
		req.Header.Set(k, run.subst(v))
	}
	auth := sr.Auth
	if auth == "" && run.token != "" {
		auth = AuthToken
	}
	switch auth {
	case AuthToken:
		if run.token == "" {
			return nil, errors.New("auth token: no token obtained yet (a get_token step failed?)")
		}
		req.Header.Set("Authorization", "Bearer "+run.token)
	case AuthBasic:
		req.SetBasicAuth(url.QueryEscape(run.opts.ClientID), url.QueryEscape(run.opts.ClientSecret))
	}
	if strings.Contains(req.URL.String(), "${") {
		return nil, fmt.Errorf("unresolved variable in %s", sr.Path)
	}
	return req, nil
}

// assertion signs a client assertion shaped by spec.
func (run *runner) assertion(clientID string, spec *AssertionSpec) (string, error) {
	if run.opts.Signer == nil {
		return "", errors.New("get_token with an assertion: this run has no client key (check and scenario run take --client-key)")
	}
	now := run.opts.Now()
	req := AssertionRequest{ClientID: clientID, Audience: run.base + run.opts.TokenPath, JTI: run.subst(spec.JTI), KID: run.subst(spec.KID), Key: spec.Key, Expiry: now.Add(4 * time.Minute)}
	if spec.Audience != "" {
		req.Audience = run.subst(spec.Audience)
	}
	if spec.ExpIn != nil {
		req.Expiry = now.Add(*spec.ExpIn)
	}
	if spec.IatIn != nil {
		t := now.Add(*spec.IatIn)
		req.IssuedAt = &t
	}
	if req.JTI == "" {
		b := make([]byte, 16)
		if _, err := io.ReadFull(run.opts.Rand, b); err != nil {
			return "", fmt.Errorf("assertion jti: %w", err)
		}
		req.JTI = base64.RawURLEncoding.EncodeToString(b)
	}
	return run.opts.Signer(req)
}

// attempt sends the step's request once and checks every expectation,
// returning the first failure and the decoded JSON body.
func (run *runner) attempt(ctx context.Context, st *Step) (string, any) {
	req, err := run.buildRequest(ctx, st)
	if err != nil {
		return err.Error(), nil
	}
	exp := &st.Expect
	t0 := run.opts.Now()
	resp, err := run.opts.Client.Do(req)
	var body []byte
	if err == nil {
		body, err = io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
		resp.Body.Close()
	}
	elapsed := run.opts.Now().Sub(t0)
	if exp.Error != nil {
		if err == nil {
			return fmt.Sprintf("expected a transport error matching %q, got status %d", exp.Error, resp.StatusCode), nil
		}
		if !exp.Error.MatchString(err.Error()) {
			return fmt.Sprintf("transport error %q does not match %q", err, exp.Error), nil
		}
		return run.timing(exp, elapsed), nil
	}
	if err != nil {
		return "request failed: " + err.Error(), nil
	}
	if r := checkStatus(exp.Status, resp.StatusCode, body); r != "" {
		return r, nil
	}
	for name, re := range exp.Headers {
		got := resp.Header.Values(name)
		ok := false
		for _, g := range got {
			if re.MatchString(g) {
				ok = true
			}
		}
		if !ok {
			return fmt.Sprintf("header %s = %q, want a match for %q", name, got, re), nil
		}
	}
	var doc any
	jsonErr := json.Unmarshal(body, &doc)
	if exp.JSONValid != nil {
		if *exp.JSONValid && jsonErr != nil {
			return "body is not valid JSON: " + jsonErr.Error(), nil
		}
		if !*exp.JSONValid && jsonErr == nil {
			return "body is valid JSON, expected it malformed", nil
		}
	}
	if (len(exp.JSON) > 0 || exp.ResourceCount != nil || len(st.Capture) > 0 || (st.GetToken != nil && resp.StatusCode == http.StatusOK)) && jsonErr != nil {
		return fmt.Sprintf("body is not JSON (%v): %s", jsonErr, snippet(body)), nil
	}
	for _, je := range exp.JSON {
		if sv, ok := je.Value.(string); ok {
			je.Value = run.subst(sv)
		}
		if r := checkJSON(doc, je); r != "" {
			return r, nil
		}
	}
	if exp.ResourceCount != nil {
		n := 0
		if entries, ok := lookup(doc, "entry"); ok {
			arr, _ := entries.([]any)
			n = len(arr)
		}
		if n != *exp.ResourceCount {
			return fmt.Sprintf("bundle has %d entries, want %d", n, *exp.ResourceCount), nil
		}
	}
	if r := run.timing(exp, elapsed); r != "" {
		return r, nil
	}
	if st.GetToken != nil {
		tok, _ := lookup(doc, "access_token")
		if s, ok := tok.(string); ok && resp.StatusCode == http.StatusOK {
			run.token = s
			run.vars["token"] = s
		}
	}
	return "", doc
}

func (run *runner) timing(exp *Expect, elapsed time.Duration) string {
	ms := elapsed.Seconds() * 1000
	if exp.MaxMS > 0 && ms > float64(exp.MaxMS) {
		return fmt.Sprintf("took %.0fms, want at most %dms", ms, exp.MaxMS)
	}
	if exp.MinMS > 0 && ms < float64(exp.MinMS) {
		return fmt.Sprintf("took %.0fms, want at least %dms", ms, exp.MinMS)
	}
	return ""
}

func checkStatus(want []int, got int, body []byte) string {
	if len(want) == 0 {
		if got >= 200 && got < 300 {
			return ""
		}
		return fmt.Sprintf("status %d, want 2xx: %s", got, snippet(body))
	}
	for _, w := range want {
		if w == got {
			return ""
		}
	}
	return fmt.Sprintf("status %d, want %v: %s", got, want, snippet(body))
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// checkJSON checks one expectation on every value its path reaches (one,
// or each element under a "*" segment; none passes, see lookupEach) and
// answers the first failure, named by its concrete path.
func checkJSON(doc any, je JSONExpect) string {
	if !strings.Contains(je.Path, "*") {
		v, ok := lookup(doc, je.Path)
		return checkValue(v, ok, je)
	}
	var fail string
	lookupEach(doc, je.Path, func(at string, v any, ok bool) {
		if fail == "" {
			one := je
			one.Path = at
			fail = checkValue(v, ok, one)
		}
	})
	return fail
}

func checkValue(v any, ok bool, je JSONExpect) string {
	switch je.Op {
	case OpExists:
		if !ok {
			return fmt.Sprintf("json %s is absent, want present", je.Path)
		}
		return ""
	case OpAbsent:
		if ok {
			return fmt.Sprintf("json %s = %s, want absent", je.Path, short(v))
		}
		return ""
	}
	if !ok {
		return fmt.Sprintf("json %s is absent, want %s %s", je.Path, je.Op, short(je.Value))
	}
	switch je.Op {
	case OpEq:
		if !reflect.DeepEqual(v, je.Value) {
			return fmt.Sprintf("json %s = %s, want %s", je.Path, short(v), short(je.Value))
		}
	case OpContains:
		if !containsValue(v, je.Value) {
			return fmt.Sprintf("json %s = %s, want it to contain %s", je.Path, short(v), short(je.Value))
		}
	case OpGt, OpLt:
		n, isNum := v.(float64)
		want := je.Value.(float64)
		if !isNum {
			return fmt.Sprintf("json %s = %s is not a number", je.Path, short(v))
		}
		if je.Op == OpGt && !(n > want) || je.Op == OpLt && !(n < want) {
			return fmt.Sprintf("json %s = %s, want %s %s", je.Path, short(v), je.Op, short(want))
		}
	case OpLen:
		want := int(je.Value.(float64))
		n := -1
		switch x := v.(type) {
		case []any:
			n = len(x)
		case map[string]any:
			n = len(x)
		case string:
			n = len(x)
		}
		if n != want {
			return fmt.Sprintf("json %s has length %d, want %d", je.Path, n, want)
		}
	}
	return ""
}

func containsValue(v, want any) bool {
	switch x := v.(type) {
	case string:
		w, ok := want.(string)
		return ok && strings.Contains(x, w)
	case []any:
		for _, e := range x {
			if reflect.DeepEqual(e, want) {
				return true
			}
			if w, ok := want.(string); ok {
				if s, ok := e.(string); ok && s == w {
					return true
				}
			}
		}
	case map[string]any:
		w, ok := want.(string)
		if ok {
			_, has := x[w]
			return has
		}
	}
	return false
}

func short(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return s
}

// journal checks the journal expectations on the entries of this run's
// client since the run started.
func (run *runner) journal(ctx context.Context, je *JournalExpect, start time.Time) []StepResult {
	names := journalCheckNames(je)
	if run.opts.Journal == nil {
		out := make([]StepResult, len(names))
		for i, n := range names {
			out[i] = StepResult{Name: n, Skipped: true, Reason: "no journal access"}
		}
		return out
	}
	entries, err := run.opts.Journal(ctx)
	if err != nil {
		out := make([]StepResult, len(names))
		for i, n := range names {
			out[i] = StepResult{Name: n, Reason: "fetch journal: " + err.Error()}
		}
		return out
	}
	var mine []Entry
	for _, e := range entries {
		if e.Client == run.opts.ClientID && !e.Time.Before(start) {
			mine = append(mine, e)
		}
	}
	return CheckJournal(je, mine, run.opts.TokenPath)
}

func journalCheckNames(je *JournalExpect) []string {
	var names []string
	if je.TokenRequestsMax != nil {
		names = append(names, "journal: token requests")
	}
	if je.MaxRPS > 0 {
		names = append(names, "journal: request rate")
	}
	if je.HonouredRetryAfter {
		names = append(names, "journal: Retry-After honoured")
	}
	return names
}

// CheckJournal evaluates journal expectations on one client's entries
// (oldest first), for `scenario run` and for checking a real client's
// traffic against a scenario.
func CheckJournal(je *JournalExpect, entries []Entry, tokenPath string) []StepResult {
	if tokenPath == "" {
		tokenPath = "/token"
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Time.Before(entries[j].Time) })
	var out []StepResult
	if je.TokenRequestsMax != nil {
		n := 0
		for _, e := range entries {
			if e.Path == tokenPath {
				n++
			}
		}
		r := StepResult{Name: "journal: token requests", Pass: n <= *je.TokenRequestsMax}
		if !r.Pass {
			r.Reason = fmt.Sprintf("%d token requests, want at most %d (cache the token until it expires)", n, *je.TokenRequestsMax)
		}
		out = append(out, r)
	}
	if je.MaxRPS > 0 {
		peak := 0
		for i := range entries {
			n := 0
			for j := i; j < len(entries) && entries[j].Time.Sub(entries[i].Time) < time.Second; j++ {
				n++
			}
			peak = max(peak, n)
		}
		r := StepResult{Name: "journal: request rate", Pass: float64(peak) <= je.MaxRPS}
		if !r.Pass {
			r.Reason = fmt.Sprintf("%d requests within one second, want at most %g", peak, je.MaxRPS)
		}
		out = append(out, r)
	}
	if je.HonouredRetryAfter {
		r := StepResult{Name: "journal: Retry-After honoured", Pass: true}
		for i, e := range entries {
			wait, ok := retryAfter(e.RetryAfter, e.Time)
			if !ok || (e.Status != http.StatusTooManyRequests && e.Status != http.StatusServiceUnavailable) || i+1 >= len(entries) {
				continue
			}
			nx := entries[i+1]
			// The response came back LatencyMS after the request started.
			answered := e.Time.Add(time.Duration(e.LatencyMS * float64(time.Millisecond)))
			if gap := nx.Time.Sub(answered); gap < wait {
				r.Pass = false
				r.Reason = fmt.Sprintf("request %d came %s after a %d with Retry-After %s", nx.Seq, gap.Round(time.Millisecond), e.Status, e.RetryAfter)
				break
			}
		}
		out = append(out, r)
	}
	return out
}

// retryAfter reads delay-seconds or an HTTP date.
func retryAfter(v string, at time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(min(n, math.MaxInt32)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(at), true
	}
	return 0, false
}
