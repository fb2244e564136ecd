package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
	"github.com/fhirsandbox/fhirsandbox/scenarios"
)

// RequestJournalSize is how many requests the journal keeps.
const RequestJournalSize = 2000

// newScenarioEngine builds the request journal and the scenario engine,
// whose timeline acts on the server through controls (the real
// mechanisms: an expired secret is an expiry set on the secret).
func (s *Server) newScenarioEngine(seed uint64, sleep func(context.Context, time.Duration) error) {
	s.requests = scenario.NewJournal(RequestJournalSize,
		scenario.WithJournalClock(s.now),
		scenario.WithJournalIdentify(scenario.IdentifyFromRequest),
		scenario.WithJournalDone(s.streamsDone),
		scenario.WithJournalRequestID(func(_ *http.Request, w http.ResponseWriter) string { return w.Header().Get("X-Request-Id") }),
	)
	s.engine = scenario.NewEngine(scenario.EngineOptions{
		Now:             s.now,
		Sleep:           sleep,
		Rand:            rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		Identify:        scenario.IdentifyFromRequest,
		Controls:        controls{s},
		Logger:          s.log,
		DefaultClientID: defaultClientID(s.cfg),
		Outcome:         s.injectedOutcome,
	})
}

// injectedOutcome writes a scenario's OperationOutcome as the server
// writes its own errors: in the media type of the release whose base the
// request is under (the default release's elsewhere, the token endpoint
// for one).
func (s *Server) injectedOutcome(r *http.Request, o scenario.Outcome) (string, []byte) {
	rel := s.releaseOf(r.URL.Path)
	return rel.MediaType + "; charset=utf-8", fhir.OperationOutcome(o.Severity, o.Code, o.Diagnostics, "")
}

func defaultClientID(cfg Config) string {
	if len(cfg.Clients) > 0 {
		return cfg.Clients[0].ID
	}
	return ""
}

// ActivateScenario applies a scenario's rules and timeline to live traffic.
func (s *Server) ActivateScenario(sc *scenario.Scenario) error { return s.engine.Activate(sc) }

// DeactivateScenario switches a scenario off; it reports whether it was on.
func (s *Server) DeactivateScenario(name string) bool { return s.engine.Deactivate(name) }

// BuiltinScenario loads a scenario of the built-in library by name.
func BuiltinScenario(name string) (*scenario.Scenario, error) {
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, fmt.Errorf("no built-in scenario %q", name)
	}
	b, err := fs.ReadFile(scenarios.FS, name+".yaml")
	if err != nil {
		return nil, fmt.Errorf("no built-in scenario %q (fhirsandbox scenario list names them)", name)
	}
	return scenario.Load(name+".yaml", b)
}

// BuiltinScenarioYAML returns a built-in scenario's file as written.
func BuiltinScenarioYAML(name string) ([]byte, error) {
	if _, err := BuiltinScenario(name); err != nil {
		return nil, err
	}
	return fs.ReadFile(scenarios.FS, name+".yaml")
}

// BuiltinScenarios lists the built-in library, sorted by name.
func BuiltinScenarios() ([]*scenario.Scenario, error) {
	entries, err := fs.ReadDir(scenarios.FS, ".")
	if err != nil {
		return nil, err
	}
	var out []*scenario.Scenario
	var errs []error
	for _, e := range entries {
		if path.Ext(e.Name()) != ".yaml" {
			continue
		}
		sc, err := BuiltinScenario(strings.TrimSuffix(e.Name(), ".yaml"))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b *scenario.Scenario) int { return strings.Compare(a.Name, b.Name) })
	return out, errors.Join(errs...)
}

// controls carries timeline actions out on the server.
type controls struct{ s *Server }

func (c controls) SetClientScopes(clientID string, scopes []string) error {
	return c.s.auth.Registry().SetScopes(clientID, scopes)
}

func (c controls) ExpireSecrets(clientID string, at time.Time) error {
	cl, ok := c.s.auth.Registry().Client(clientID)
	if !ok {
		return fmt.Errorf("expire secrets: unknown client %q", clientID)
	}
	for _, sec := range cl.Secrets {
		if sec.Live(c.s.now()) {
			at := at
			if err := c.s.auth.Registry().SetSecretExpiry(clientID, sec.ID, &at); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c controls) RevokeSecrets(clientID string, keepNewest bool) error {
	cl, ok := c.s.auth.Registry().Client(clientID)
	if !ok {
		return fmt.Errorf("revoke secrets: unknown client %q", clientID)
	}
	newest := -1
	for i, sec := range cl.Secrets {
		if newest < 0 || sec.Created.After(cl.Secrets[newest].Created) {
			newest = i
		}
	}
	for i, sec := range cl.Secrets {
		if keepNewest && i == newest || sec.Revoked {
			continue
		}
		if err := c.s.auth.Registry().RevokeSecret(clientID, sec.ID); err != nil {
			return err
		}
	}
	return nil
}

func (c controls) DeleteClient(clientID string) error {
	return c.s.auth.Registry().DeleteClient(clientID)
}

func (c controls) RotateSigningKey(retireOld bool) error {
	_, old := c.s.auth.Keys()
	if _, err := c.s.auth.RotateKey(); err != nil {
		return err
	}
	if retireOld {
		return c.s.auth.RetireKey(old)
	}
	return nil
}

func (c controls) RevokeIssuedTokens() error {
	return c.s.auth.RevokeAllIssued()
}

func (c controls) SetTokenTTL(d time.Duration) error { return c.s.auth.SetTTL(d) }

func (c controls) UnmapTenant(id string) error { return c.s.tenants.Remove(id) }

func (c controls) SetTenantDown(id string, down bool) error {
	_, err := c.s.tenants.Update(id, func(t *tenant.Tenant) { t.Down = down })
	return err
}

func (c controls) SetMetadataDrift(d scenario.MetadataDrift) {
	c.s.drift.Store(&fhir.Drift{TokenURL: d.TokenURL, DropOAuthURIs: d.DropOAuthURIs, FHIRVersion: d.FHIRVersion})
}

// metadataDrift is the FHIR APIs' Drift option.
func (s *Server) metadataDrift() fhir.Drift {
	if d := s.drift.Load(); d != nil {
		return *d
	}
	return fhir.Drift{}
}

// scenarioSwitch is the server's admin.Scenarios: the built-in library
// over the scenario engine. The admin API and the portal share it, so the
// two switch scenarios the same way and agree on which are on.
type scenarioSwitch struct{ s *Server }

func (c scenarioSwitch) Library() ([]admin.ScenarioInfo, error) {
	lib, err := BuiltinScenarios()
	out := make([]admin.ScenarioInfo, 0, len(lib))
	for _, sc := range lib {
		out = append(out, admin.ScenarioInfo{Name: sc.Name, Description: sc.Description, Rules: len(sc.Rules), Timeline: len(sc.Timeline), Steps: len(sc.Steps)})
	}
	return out, err
}

func (c scenarioSwitch) Active() []string { return c.s.engine.Active() }

func (c scenarioSwitch) Activate(name string) error {
	sc, err := BuiltinScenario(name)
	if err != nil {
		return err
	}
	return c.s.engine.Activate(sc)
}

func (c scenarioSwitch) ActivateYAML(file []byte) error {
	sc, err := scenario.Load("request.yaml", file)
	if err != nil {
		return err
	}
	return c.s.engine.Activate(sc)
}

func (c scenarioSwitch) Deactivate(name string) bool { return c.s.engine.Deactivate(name) }

// ApplySetup lays a scenario's setup over a configuration: tenants and
// clients added or replaced by id, population, default release, auth and
// token lifetime. start anchors secrets' relative expiries.
func (c *Config) ApplySetup(su *scenario.Setup, start time.Time) error {
	if su == nil {
		return c.Validate()
	}
	for _, st := range su.Tenants {
		id, err := spec.ParseGUID(st.ID)
		if err != nil {
			return fmt.Errorf("setup tenant %q: %w", st.ID, err)
		}
		tc := TenantConfig{ID: id, Name: st.Name, Patients: st.Patients, Seed: st.Seed}
		if i := slices.IndexFunc(c.Tenants, func(t TenantConfig) bool { return t.ID == id }); i >= 0 {
			c.Tenants[i] = tc
		} else {
			c.Tenants = append(c.Tenants, tc)
		}
	}
	if su.Patients != nil {
		for i := range c.Tenants {
			if c.Tenants[i].Upstream == "" {
				c.Tenants[i].Patients = *su.Patients
			}
		}
	}
	if su.FHIRVersion != "" {
		c.FHIRVersion = su.FHIRVersion
	}
	if su.AuthRequired != nil {
		c.Auth.Required = *su.AuthRequired
	}
	if su.TokenTTL != nil {
		c.Auth.TokenTTL = *su.TokenTTL
	}
	for _, sc := range su.Clients {
		cc := ClientConfig{ID: sc.ID, Name: sc.Name, Tenants: sc.Tenants}
		for _, sec := range sc.Secrets {
			exp := sec.Expires
			if sec.ExpiresIn != 0 {
				exp = start.Add(sec.ExpiresIn)
			}
			cc.Secrets = append(cc.Secrets, SecretConfig{Value: sec.Value, Expires: exp})
		}
		if i := slices.IndexFunc(c.Clients, func(x ClientConfig) bool { return x.ID == sc.ID }); i >= 0 {
			c.Clients[i] = cc
		} else {
			c.Clients = append(c.Clients, cc)
		}
	}
	return c.Validate()
}

// ScenarioRun says where and as whom RunScenario runs a scenario's steps.
type ScenarioRun struct {
	ClientID, ClientSecret, Tenant string // default: the config's first client and tenant
	// Signer signs client assertions. Nil: a scenario whose steps use
	// assertions gets a fresh key for the client, published at a JWKS URL
	// the run serves on loopback (which a step may rotate).
	Signer func(scenario.AssertionRequest) (string, error)
}

// RunScenario starts a sandbox with the scenario's setup on a free
// loopback port, switches the scenario on, runs its steps over real HTTP
// and stops the sandbox. The sandbox, the scenario engine and the step
// runner share one fake clock: waits, injected latency, token lifetimes
// and timeline events take no real time, so a scenario that spans an hour
// runs in a moment and the same way every time.
func RunScenario(ctx context.Context, sc *scenario.Scenario, run ScenarioRun) (scenario.Report, error) {
	clk := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	cfg := DefaultConfig()
	for i := range cfg.Tenants { // small hospitals start fast; a setup may resize them
		cfg.Tenants[i].Patients = min(cfg.Tenants[i].Patients, 30)
	}
	cfg.Listen = "127.0.0.1:0"
	if err := cfg.ApplySetup(sc.Setup, clk.Now()); err != nil {
		return scenario.Report{}, fmt.Errorf("scenario %s: setup: %w", sc.Name, err)
	}
	srv, err := New(cfg, Options{Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		return scenario.Report{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	defer srv.Close()
	if err := srv.ActivateScenario(sc); err != nil {
		return scenario.Report{}, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	defer srv.engine.DeactivateAll()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return scenario.Report{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Run(runCtx, ln) }()
	defer func() { stop(); <-done }()

	client, secret, tid := run.ClientID, run.ClientSecret, run.Tenant
	if client == "" && len(cfg.Clients) > 0 {
		client = cfg.Clients[0].ID
		if secret == "" {
			for _, sec := range cfg.Clients[0].Secrets {
				if sec.Value != "" {
					secret = sec.Value
					break
				}
			}
		}
	}
	if tid == "" && len(cfg.Tenants) > 0 {
		tid = cfg.Tenants[0].ID
	}
	signer := run.Signer
	if signer == nil && usesAssertions(sc) {
		kl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return scenario.Report{}, err
		}
		rk, err := startRunKeys(kl)
		if err != nil {
			kl.Close()
			return scenario.Report{}, fmt.Errorf("scenario %s: client key: %w", sc.Name, err)
		}
		defer rk.close()
		if err := srv.auth.Registry().SetJWKSURI(client, rk.url); err != nil {
			return scenario.Report{}, fmt.Errorf("scenario %s: client key: %w", sc.Name, err)
		}
		signer = rk.sign
	}
	// a fresh connection per request: transport faults close them
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
	return scenario.Run(ctx, sc, scenario.RunOptions{
		BaseURL: "http://" + ln.Addr().String(), Client: hc,
		ClientID: client, ClientSecret: secret, Tenant: tid,
		Now: clk.Now, Sleep: clk.Sleep, Signer: signer,
		Journal: func(context.Context) ([]scenario.Entry, error) { return srv.requests.Entries(scenario.Filter{}), nil },
	}), nil
}

// fakeClock is RunScenario's clock: it moves only when something sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if d > 0 {
		c.mu.Lock()
		c.t = c.t.Add(d)
		c.mu.Unlock()
	}
	return ctx.Err()
}
