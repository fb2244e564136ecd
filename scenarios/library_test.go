package scenarios_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/scenarios"
)

func loadAll(t *testing.T) []*scenario.Scenario {
	t.Helper()
	names, err := fs.Glob(scenarios.FS, "*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var out []*scenario.Scenario
	for _, n := range names {
		data, err := fs.ReadFile(scenarios.FS, n)
		if err != nil {
			t.Fatal(err)
		}
		s, err := scenario.Load(n, data)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		out = append(out, s)
	}
	return out
}

// TestLibraryValidates loads every built-in file: each must validate, be
// named after its file, say what it does and demonstrate it with steps.
func TestLibraryValidates(t *testing.T) {
	t.Parallel()
	all := loadAll(t)
	if len(all) < 20 {
		t.Errorf("%d built-in scenarios, want at least 20", len(all))
	}
	for _, s := range all {
		if want := strings.TrimSuffix(path.Base(s.File), ".yaml"); s.Name != want {
			t.Errorf("%s: name %q, want the file name %q", s.File, s.Name, want)
		}
		if len(s.Description) < 80 {
			t.Errorf("%s: description too short to help anyone (%d chars)", s.File, len(s.Description))
		}
		if len(s.Steps) == 0 {
			t.Errorf("%s: no steps to demonstrate it", s.File)
		}
	}
}

// clock is the one fake clock of a run: the sandbox, the engine and the
// runner share it, so waits and latencies cost no real time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// adminControls carries out timeline actions through the sandbox's admin
// API: the same mechanisms an operator uses.
type adminControls struct {
	h     http.Handler
	token string
	now   func() time.Time
}

func (a *adminControls) call(method, p string, body any) ([]byte, error) {
	var b bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&b).Encode(body)
	}
	r := httptest.NewRequest(method, p, &b)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("Authorization", "Bearer "+a.token)
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	if w.Code >= 300 {
		return nil, fmt.Errorf("%s %s: %d %s", method, p, w.Code, w.Body)
	}
	return w.Body.Bytes(), nil
}

type secretJSON struct {
	ID      string    `json:"id"`
	Created time.Time `json:"created"`
	Revoked bool      `json:"revoked"`
}

func (a *adminControls) secrets(client string) ([]secretJSON, error) {
	b, err := a.call("GET", "/admin/api/clients/"+client, nil)
	if err != nil {
		return nil, err
	}
	var c struct {
		Secrets []secretJSON `json:"secrets"`
	}
	return c.Secrets, json.Unmarshal(b, &c)
}

func (a *adminControls) ExpireSecrets(client string, at time.Time) error {
	ss, err := a.secrets(client)
	for _, s := range ss {
		if _, e := a.call("PATCH", "/admin/api/clients/"+client+"/secrets/"+s.ID, map[string]any{"expires": at}); e != nil {
			return e
		}
	}
	return err
}

func (a *adminControls) RevokeSecrets(client string, keepNewest bool) error {
	ss, err := a.secrets(client)
	if err != nil {
		return err
	}
	newest := -1
	for i, s := range ss {
		if newest < 0 || s.Created.After(ss[newest].Created) {
			newest = i
		}
	}
	for i, s := range ss {
		if (keepNewest && i == newest) || s.Revoked {
			continue
		}
		if _, err := a.call("POST", "/admin/api/clients/"+client+"/secrets/"+s.ID+"/revoke", nil); err != nil {
			return err
		}
	}
	return nil
}

func (a *adminControls) DeleteClient(client string) error {
	_, err := a.call("DELETE", "/admin/api/clients/"+client, nil)
	return err
}

func (a *adminControls) UnmapTenant(id string) error {
	_, err := a.call("DELETE", "/admin/api/tenants/"+id, nil)
	return err
}

func (a *adminControls) SetTenantDown(id string, down bool) error {
	_, err := a.call("PATCH", "/admin/api/tenants/"+id, map[string]any{"down": down})
	return err
}

var errUnsupported = fmt.Errorf("not reachable through the admin API")

func (a *adminControls) RotateSigningKey(bool) error             { return errUnsupported }
func (a *adminControls) RevokeIssuedTokens() error               { return errUnsupported }
func (a *adminControls) SetTokenTTL(time.Duration) error         { return errUnsupported }
func (a *adminControls) SetMetadataDrift(scenario.MetadataDrift) {}

// needsServerWiring lists the actions only the server's own Controls can
// carry out; scenarios using them are checked once the server mounts the
// engine.
var needsServerWiring = []string{scenario.ActionRotateSigningKey, scenario.ActionRevokeTokens, scenario.ActionSetTokenTTL, scenario.ActionMetadata}

func applySetup(cfg *sandbox.Config, su *scenario.Setup, now time.Time) {
	if su == nil {
		return
	}
	if su.FHIRVersion != "" {
		cfg.FHIRVersion = su.FHIRVersion
	}
	if su.AuthRequired != nil {
		cfg.Auth.Required = *su.AuthRequired
	}
	if su.TokenTTL != nil {
		cfg.Auth.TokenTTL = *su.TokenTTL
	}
	if su.Patients != nil {
		for i := range cfg.Tenants {
			cfg.Tenants[i].Patients = *su.Patients
		}
	}
	for _, t := range su.Tenants {
		tc := sandbox.TenantConfig{ID: strings.ToLower(t.ID), Name: t.Name, Patients: t.Patients, Seed: t.Seed}
		if i := slices.IndexFunc(cfg.Tenants, func(c sandbox.TenantConfig) bool { return c.ID == tc.ID }); i >= 0 {
			cfg.Tenants[i] = tc
		} else {
			cfg.Tenants = append(cfg.Tenants, tc)
		}
	}
	for _, c := range su.Clients {
		cc := sandbox.ClientConfig{ID: c.ID, Name: c.Name, Tenants: c.Tenants}
		if cc.Name == "" {
			cc.Name = c.ID
		}
		if len(cc.Tenants) == 0 {
			cc.Tenants = []string{"*"}
		}
		for _, s := range c.Secrets {
			sc := sandbox.SecretConfig{Value: s.Value, Expires: s.Expires}
			if s.ExpiresIn > 0 {
				sc.Expires = now.Add(s.ExpiresIn)
			}
			cc.Secrets = append(cc.Secrets, sc)
		}
		if i := slices.IndexFunc(cfg.Clients, func(x sandbox.ClientConfig) bool { return x.ID == c.ID }); i >= 0 {
			cfg.Clients[i] = cc
		} else {
			cfg.Clients = append(cfg.Clients, cc)
		}
	}
}

// TestLibraryAgainstSandbox runs each built-in scenario's steps against a
// real sandbox with the scenario active, the way `scenario run` does.
func TestLibraryAgainstSandbox(t *testing.T) {
	t.Parallel()
	for _, s := range loadAll(t) {
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			if s.Setup != nil && len(s.Setup.Tenants) > 0 && s.Setup.Tenants[0].Patients > 1000 && testing.Short() {
				t.Skip("builds a large population; skipped in -short mode")
			}
			for _, ev := range s.Timeline {
				if slices.Contains(needsServerWiring, ev.Action.Kind) {
					t.Skipf("timeline action %s needs the server's Controls", ev.Action.Kind)
				}
			}
			clk := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
			cfg := sandbox.DefaultConfig()
			cfg.Listen = "127.0.0.1:0"
			cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 30, 10
			applySetup(&cfg, s.Setup, clk.Now())
			srv, err := sandbox.New(cfg, sandbox.Options{Now: clk.Now})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = srv.Close() })
			ctl := &adminControls{h: srv.Handler(), token: srv.AdminToken(), now: clk.Now}
			eng := scenario.NewEngine(scenario.EngineOptions{
				Now: clk.Now, Sleep: clk.Sleep, Rand: rand.New(rand.NewPCG(1, 2)),
				Identify: scenario.IdentifyFromRequest, Controls: ctl,
				DefaultClientID: sandbox.DefaultClientID, TickInterval: time.Hour,
			})
			j := scenario.NewJournal(1000, scenario.WithJournalClock(clk.Now), scenario.WithJournalIdentify(scenario.IdentifyFromRequest))
			hs := httptest.NewServer(j.Middleware(eng.Middleware(srv.Handler())))
			t.Cleanup(hs.Close)
			if err := eng.Activate(s); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(eng.DeactivateAll)
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Minute}
			rep := scenario.Run(t.Context(), s, scenario.RunOptions{
				BaseURL: hs.URL, Client: client,
				ClientID: sandbox.DefaultClientID, ClientSecret: "change-me-dev-secret", Tenant: sandbox.ContosoTenant,
				Now: clk.Now, Sleep: clk.Sleep,
				Journal: func(context.Context) ([]scenario.Entry, error) { return j.Entries(scenario.Filter{}), nil },
			})
			if !rep.Passed() {
				var b strings.Builder
				_ = rep.WriteText(&b)
				t.Errorf("%s", b.String())
			}
		})
	}
}
