package scenario

import (
	"context"
	"errors"
	"fmt"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// EngineOptions are the engine's collaborators; zero values get working
// defaults except Controls (timeline actions are then logged and skipped).
type EngineOptions struct {
	// Now is the clock for time windows and the timeline.
	Now func() time.Time
	// Rand draws probabilities and latencies; it is used under a lock.
	Rand *rand.Rand
	// Sleep waits d or until ctx ends (then it returns ctx's error).
	Sleep func(ctx context.Context, d time.Duration) error
	// Identify names the tenant and client of a request (either may be
	// empty). It runs ahead of the bearer check, so it must read the token
	// or the token request form itself without consuming the body.
	Identify func(*http.Request) (tenant, clientID string)
	Controls Controls
	Logger   *slog.Logger
	// DefaultClientID is the client of time events whose action names
	// none.
	DefaultClientID string
	// OnApply, when set, is told what the engine did to each affected
	// request (the Journal learns it through the request context).
	OnApply func(r *http.Request, applied []string)
	// TickInterval is how often time events are checked between requests
	// (default 100ms).
	TickInterval time.Duration
	// MaxCapture bounds the response bytes buffered for quirks and faults
	// (default 8 MiB); larger responses pass through unmodified.
	MaxCapture int
	// MaxHang bounds the hang fault (default 10m).
	MaxHang time.Duration
	// Outcome, when set, writes a respond rule's OperationOutcome the way
	// the server writes its own errors for the request: the shape and
	// media type of the FHIR release the request is for.
	Outcome func(r *http.Request, o Outcome) (contentType string, body []byte)
}

// Engine applies active scenarios to live traffic.
type Engine struct {
	opts EngineOptions

	randMu sync.Mutex

	mu     sync.Mutex // serializes Activate and Deactivate
	active atomic.Pointer[[]*running]
}

// maxStateKeys bounds the per-client state; further clients share one.
const maxStateKeys = 10000

// NewEngine returns an engine with no scenario active.
func NewEngine(opts EngineOptions) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if opts.Sleep == nil {
		opts.Sleep = SleepContext
	}
	if opts.Identify == nil {
		opts.Identify = func(*http.Request) (string, string) { return "", "" }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.TickInterval <= 0 {
		opts.TickInterval = 100 * time.Millisecond
	}
	if opts.MaxCapture <= 0 {
		opts.MaxCapture = 8 << 20
	}
	if opts.MaxHang <= 0 {
		opts.MaxHang = 10 * time.Minute
	}
	return &Engine{opts: opts}
}

// SleepContext sleeps d, or less when ctx ends first (returning its error).
func SleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// running is one active scenario and its state.
type running struct {
	s        *Scenario
	start    time.Time
	rules    []compiledRule
	events   []compiledEvent
	hasTimed bool
	stop     chan struct{}
	done     chan struct{}

	mu        sync.Mutex
	keys      map[string]*keyState
	timeFired []bool
}

type compiledRule struct {
	Rule
	m matcher
}

type compiledEvent struct {
	Event
	m *matcher
}

// keyState is the progress of one client (or tenant) through a scenario,
// so parallel suites with different clients see their own count windows
// and request-count events.
type keyState struct {
	ruleMatches []int
	eventCounts []int
	eventsFired []bool
}

// ErrAlreadyActive is returned by Activate for a scenario of the same name.
var ErrAlreadyActive = errors.New("scenario already active")

// Activate starts applying s; its timeline starts now.
func (e *Engine) Activate(s *Scenario) error {
	if s == nil {
		return errors.New("activate: nil scenario")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var cur []*running
	if p := e.active.Load(); p != nil {
		cur = *p
	}
	for _, r := range cur {
		if r.s.Name == s.Name {
			return fmt.Errorf("activate %s: %w", s.Name, ErrAlreadyActive)
		}
	}
	run := &running{
		s:         s,
		start:     e.opts.Now(),
		keys:      map[string]*keyState{},
		timeFired: make([]bool, len(s.Timeline)),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	for _, r := range s.Rules {
		run.rules = append(run.rules, compiledRule{Rule: r, m: compileMatch(r.Match)})
	}
	for _, ev := range s.Timeline {
		ce := compiledEvent{Event: ev}
		if ev.Match != nil {
			m := compileMatch(*ev.Match)
			ce.m = &m
		}
		if ev.At != nil {
			run.hasTimed = true
		}
		run.events = append(run.events, ce)
	}
	next := append(slices.Clip(cur), run)
	e.active.Store(&next)
	e.opts.Logger.Info("scenario activated", "scenario", s.Name, "rules", len(s.Rules), "timeline", len(s.Timeline))
	// Events due at once (at: 0s) fire before Activate returns, so the
	// first request already sees them.
	e.fireTimed(run, run.start)
	if run.hasTimed {
		go e.tick(run)
	} else {
		close(run.done)
	}
	return nil
}

// Deactivate stops the named scenario and waits for its ticker to end. It
// reports whether the scenario was active. Effects already carried out
// through Controls (an expired secret) stay.
func (e *Engine) Deactivate(name string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.active.Load()
	if p == nil {
		return false
	}
	cur := *p
	i := slices.IndexFunc(cur, func(r *running) bool { return r.s.Name == name })
	if i < 0 {
		return false
	}
	run := cur[i]
	next := slices.Delete(slices.Clone(cur), i, i+1)
	if len(next) == 0 {
		e.active.Store(nil)
	} else {
		e.active.Store(&next)
	}
	close(run.stop)
	<-run.done
	e.opts.Logger.Info("scenario deactivated", "scenario", name)
	return true
}

// DeactivateAll stops every active scenario.
func (e *Engine) DeactivateAll() {
	for _, n := range e.Active() {
		e.Deactivate(n)
	}
}

// Active lists the names of the active scenarios in activation order.
func (e *Engine) Active() []string {
	p := e.active.Load()
	if p == nil {
		return nil
	}
	out := make([]string, len(*p))
	for i, r := range *p {
		out[i] = r.s.Name
	}
	return out
}

func (e *Engine) tick(run *running) {
	defer close(run.done)
	t := time.NewTicker(e.opts.TickInterval)
	defer t.Stop()
	for {
		select {
		case <-run.stop:
			return
		case <-t.C:
			if e.fireTimed(run, e.opts.Now()) {
				return // every time event fired: nothing left to watch
			}
		}
	}
}

// fireTimed carries out the time events that are due and reports whether
// none is left to wait for.
func (e *Engine) fireTimed(run *running, now time.Time) bool {
	for _, a := range e.dueTimed(run, now) {
		e.act(run.s.Name, a, e.opts.DefaultClientID, now)
	}
	run.mu.Lock()
	defer run.mu.Unlock()
	for i, ev := range run.events {
		if ev.At != nil && !run.timeFired[i] {
			return false
		}
	}
	return true
}

// act carries out one timeline action and returns its journal label.
func (e *Engine) act(scenario string, a Action, client string, now time.Time) string {
	if a.ClientID != "" {
		client = a.ClientID
	}
	label := "timeline " + a.Kind
	c := e.opts.Controls
	var err error
	switch {
	case c == nil:
		err = errors.New("no controls configured")
	case a.Kind == ActionSetScopes:
		if client == "" {
			err = errors.New("no client to act on")
			break
		}
		label += " " + client + " " + strings.Join(a.Scopes, " ")
		err = c.SetClientScopes(client, a.Scopes)
	case a.Kind == ActionExpireSecret || a.Kind == ActionRevokeSecret || a.Kind == ActionDeleteClient:
		if client == "" {
			err = errors.New("no client to act on")
			break
		}
		label += " " + client
		switch a.Kind {
		case ActionExpireSecret:
			err = c.ExpireSecrets(client, now)
		case ActionRevokeSecret:
			err = c.RevokeSecrets(client, a.KeepNewest)
		default:
			err = c.DeleteClient(client)
		}
	case a.Kind == ActionRotateSigningKey:
		err = c.RotateSigningKey(a.RetireOld)
	case a.Kind == ActionRevokeTokens:
		err = c.RevokeIssuedTokens()
	case a.Kind == ActionSetTokenTTL:
		label += " " + a.TTL.String()
		err = c.SetTokenTTL(a.TTL)
	case a.Kind == ActionUnmapTenant:
		label += " " + a.Tenant
		err = c.UnmapTenant(a.Tenant)
	case a.Kind == ActionTenantDown:
		label += fmt.Sprintf(" %s down=%t", a.Tenant, a.Down)
		err = c.SetTenantDown(a.Tenant, a.Down)
	case a.Kind == ActionMetadata:
		c.SetMetadataDrift(a.Metadata)
	}
	if err != nil {
		e.opts.Logger.Warn("scenario action failed", "scenario", scenario, "action", a.Kind, "client_id", client, "err", err)
		return label + " (failed)"
	}
	e.opts.Logger.Info("scenario action", "scenario", scenario, "action", a.Kind, "client_id", client)
	return label
}

func (run *running) state(key string) *keyState {
	ks, ok := run.keys[key]
	if !ok {
		if len(run.keys) >= maxStateKeys {
			key = "\x00overflow"
			if ks, ok = run.keys[key]; ok {
				return ks
			}
		}
		ks = &keyState{
			ruleMatches: make([]int, len(run.rules)),
			eventCounts: make([]int, len(run.events)),
			eventsFired: make([]bool, len(run.events)),
		}
		run.keys[key] = ks
	}
	return ks
}

func stateKey(tenant, client string) string {
	switch {
	case client != "":
		return "client:" + client
	case tenant != "":
		return "tenant:" + tenant
	}
	return "anonymous"
}

// Middleware applies the active scenarios to each request. With none
// active it costs an atomic load and a branch.
func (e *Engine) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		act := e.active.Load()
		if act == nil {
			next.ServeHTTP(w, r)
			return
		}
		e.serve(*act, next, w, r)
	})
}

// plan is what the active rules do to one request.
type plan struct {
	latency   time.Duration
	respond   *Respond
	fault     *Fault
	quirks    []Quirk
	applied   []string
	faults    []reqnote.Fault // the rule effects among applied, for the metrics
	afterward []func() string // request-count events fired once the response is out
}

func (e *Engine) serve(act []*running, next http.Handler, w http.ResponseWriter, r *http.Request) {
	now := e.opts.Now()
	note := noteFrom(r.Context())
	if note == nil {
		// Without the journal in front, the engine carries its own note:
		// MarkVerified needs somewhere to record the verified client.
		note = &reqNote{}
		r = r.WithContext(withNote(r.Context(), note))
	}
	tenant, client := e.identify(note, r)
	ri := newReqInfo(r, tenant, client)
	key := stateKey(tenant, client)
	var p plan
	for _, run := range act {
		for _, a := range e.dueTimed(run, now) {
			p.applied = append(p.applied, e.act(run.s.Name, a, e.opts.DefaultClientID, now))
		}
		e.planRun(run, ri, key, now, &p)
	}
	if len(p.applied) > 0 || len(p.afterward) > 0 {
		defer func() {
			for _, f := range p.afterward {
				if l := f(); l != "" {
					p.applied = append(p.applied, l)
				}
			}
			if note != nil {
				note.AddApplied(p.applied...)
				for _, f := range p.faults {
					note.AddFault(f)
				}
			}
			if e.opts.OnApply != nil && len(p.applied) > 0 {
				e.opts.OnApply(r, p.applied)
			}
		}()
	}
	e.execute(&p, next, w, r)
}

// dueTimed claims the time events that are due, so the request that finds
// them due is the first to see their effect.
func (e *Engine) dueTimed(run *running, now time.Time) []Action {
	if !run.hasTimed {
		return nil
	}
	elapsed := now.Sub(run.start)
	var due []Action
	run.mu.Lock()
	for i, ev := range run.events {
		if ev.At != nil && !run.timeFired[i] && *ev.At <= elapsed {
			run.timeFired[i] = true
			due = append(due, ev.Action)
		}
	}
	run.mu.Unlock()
	return due
}

func (e *Engine) identify(note *reqNote, r *http.Request) (string, string) {
	if note != nil {
		if t, c, ok := note.Identity(); ok {
			return t, c
		}
	}
	t, c := e.opts.Identify(r)
	if note != nil {
		note.SetIdentity(t, c)
	}
	return t, c
}

// actsOnRequester reports whether a triggered action would act on the
// client that made the request (rather than one the scenario names, or
// none).
func actsOnRequester(a Action) bool {
	switch a.Kind {
	case ActionExpireSecret, ActionRevokeSecret, ActionDeleteClient, ActionSetScopes:
		return a.ClientID == ""
	}
	return false
}

// verified reports whether the auth layer vouched for client during the
// request (MarkVerified).
func (ri *reqInfo) verified(client string) bool {
	n := noteFrom(ri.r.Context())
	return n != nil && client != "" && n.IsVerified(client)
}

func (e *Engine) planRun(run *running, ri *reqInfo, key string, now time.Time, p *plan) {
	elapsed := now.Sub(run.start)
	var locked bool
	var ks *keyState
	lock := func() {
		if !locked {
			run.mu.Lock()
			locked = true
			ks = run.state(key)
		}
	}
	defer func() {
		if locked {
			run.mu.Unlock()
		}
	}()
	for i := range run.events {
		ev := &run.events[i]
		if ev.AfterRequests == 0 || (ev.m != nil && !ev.m.matches(ri)) {
			continue
		}
		a, name, client, idx, need := ev.Action, run.s.Name, ri.client, i, ev.AfterRequests
		if actsOnRequester(a) {
			// The client is known only once the response is out: the
			// auth layer verifies it while serving. A request naming a
			// client it did not prove to be neither counts towards that
			// client's event nor fires it.
			p.afterward = append(p.afterward, func() string {
				if !ri.verified(client) {
					return ""
				}
				run.mu.Lock()
				st := run.state(key)
				fire := false
				if !st.eventsFired[idx] {
					st.eventCounts[idx]++
					fire = st.eventCounts[idx] >= need
					st.eventsFired[idx] = fire
				}
				run.mu.Unlock()
				if !fire {
					return ""
				}
				return e.act(name, a, client, e.opts.Now())
			})
			continue
		}
		lock()
		if ks.eventsFired[i] {
			continue
		}
		ks.eventCounts[i]++
		if ks.eventCounts[i] >= need {
			ks.eventsFired[i] = true
			p.afterward = append(p.afterward, func() string { return e.act(name, a, client, e.opts.Now()) })
		}
	}
	for i := range run.rules {
		rule := &run.rules[i]
		if !rule.m.matches(ri) {
			continue
		}
		if w := rule.Window; w != nil && (elapsed < w.After || (w.Until > 0 && elapsed >= w.Until)) {
			continue
		}
		if c := rule.Count; c != nil {
			lock()
			ks.ruleMatches[i]++
			n := ks.ruleMatches[i]
			if n < c.From || (c.To > 0 && n > c.To) || (n-c.From)%c.Every != 0 {
				continue
			}
		}
		if rule.Probability < 1 && !(e.float64() < rule.Probability) {
			continue
		}
		e.addEffects(run.s.Name, rule, p)
	}
}

func (e *Engine) addEffects(scenario string, rule *compiledRule, p *plan) {
	effect := func(kind string) {
		p.faults = append(p.faults, reqnote.Fault{Scenario: scenario, Rule: rule.Name, Effect: kind})
	}
	if rule.Latency != nil {
		effect("latency")
		d := e.sample(rule.Latency)
		p.latency += d
		p.applied = append(p.applied, fmt.Sprintf("%s: latency %s", rule.Name, d.Round(time.Millisecond)))
	}
	if rule.Respond != nil && p.respond == nil && p.fault == nil {
		p.respond = rule.Respond
		effect("respond")
		p.applied = append(p.applied, fmt.Sprintf("%s: respond %d", rule.Name, rule.Respond.Status))
	}
	if rule.Fault != nil && p.fault == nil {
		p.fault = rule.Fault
		effect("fault")
		p.applied = append(p.applied, fmt.Sprintf("%s: fault %s", rule.Name, rule.Fault.Kind))
	}
	for _, q := range rule.Quirks {
		p.quirks = append(p.quirks, q)
		effect("quirk")
		p.applied = append(p.applied, fmt.Sprintf("%s: quirk %s", rule.Name, q.Kind))
	}
}

func (e *Engine) float64() float64 {
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.opts.Rand.Float64()
}

func (e *Engine) sample(l *Latency) time.Duration {
	switch {
	case l.Uniform != nil:
		span := int64(l.Uniform.Max - l.Uniform.Min)
		if span <= 0 {
			return l.Uniform.Min
		}
		e.randMu.Lock()
		n := e.opts.Rand.Int64N(span + 1)
		e.randMu.Unlock()
		return l.Uniform.Min + time.Duration(n)
	case l.LogNorm != nil:
		e.randMu.Lock()
		z := e.opts.Rand.NormFloat64()
		e.randMu.Unlock()
		d := float64(l.LogNorm.Median) * math.Exp(l.LogNorm.Sigma*z)
		return time.Duration(min(d, float64(maxLatency)))
	}
	return l.Fixed
}
