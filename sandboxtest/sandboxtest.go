// Package sandboxtest starts a fhirsandbox in-process for go test, the way
// net/http/httptest starts an HTTP server: a synthetic hospital served
// over FHIR DSTU2, STU3 and R4 on a loopback port, with its OAuth2 token
// endpoint, a client id and secret that work, tenant GUIDs, and the admin
// API behind a token the package knows, so that a test can switch
// scenarios (injected faults) on and off and read the request journal.
//
//	func TestMyClient(t *testing.T) {
//		sb := sandboxtest.New(t, sandboxtest.WithPatients(10))
//		client := myfhir.New(sb.BaseURL("stu3"), sb.TokenURL, sb.ClientID, sb.ClientSecret, sb.Tenants[0])
//		...
//		if err := sb.EnableScenario("throttled-429"); err != nil {
//			t.Fatal(err)
//		}
//		...
//		reqs, err := sb.Requests()
//		...
//	}
//
// The server stops when the test ends (t.Cleanup); NewServer starts one
// outside a test, closed with Close. Everything runs over
// real HTTP, exactly as against `fhirsandbox serve`.
//
// Importing the package links the sandbox server only: not the project's
// FHIR validators (fixtures loaded through WithConfigYAML are checked by
// the fixture loader for JSON, ids and references, not against the FHIR
// definitions; `fhirsandbox config check` does that) and not the browser
// driver of its portal tests.
package sandboxtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Request is one entry of the request journal: what a client asked, what
// the sandbox answered and which faults it injected.
type Request = scenario.Entry

// Server is a running in-process sandbox. Its fields are set by New and
// must not be changed.
type Server struct {
	// URL is the root, "http://127.0.0.1:PORT", without a trailing slash.
	URL string
	// Bases maps each release name ("dstu2", "stu3", "r4") to its FHIR
	// base URL.
	Bases map[string]string
	// TokenURL is the OAuth2 token endpoint (client credentials).
	TokenURL string
	// ClientID and ClientSecret are a client registration allowed every
	// tenant. The secret is fresh for each Server unless WithConfigYAML
	// gives clients; then they are the first client's id and its first
	// secret written in clear ("" when it has none).
	ClientID, ClientSecret string
	// Tenants are the GUIDs of the tenants, in configuration order.
	Tenants []string
	// AdminToken is the bearer credential of the admin API at
	// URL+"/admin/api/".
	AdminToken string
	// Config is the configuration the sandbox runs with.
	Config sandbox.Config

	t            testing.TB // nil for NewServer
	http         *http.Client
	scenariosDir string
	close        func() error
	closeOnce    sync.Once
}

// Option changes how New configures the sandbox.
type Option func(*settings) error

type settings struct {
	patients     *int
	seed         *int64
	tenants      int
	release      string
	scenariosDir string
	configYAML   []byte
	configName   string
	now          func() time.Time
}

// WithPatients sets the synthetic population of every tenant (default: 20,
// small enough to start in milliseconds). 0..1,000,000.
func WithPatients(n int) Option {
	return func(s *settings) error {
		if n < 0 || n > 1_000_000 {
			return fmt.Errorf("WithPatients(%d): want 0..1000000", n)
		}
		s.patients = &n
		return nil
	}
}

// WithSeed sets the seed of the generated data (default: the
// configuration's seeds, 42 and 7 for the two default tenants). Tenant k
// gets seed+k, so two tenants never hold the same patients. The same seed
// and population give the same patients, run after run.
func WithSeed(seed int64) Option {
	return func(s *settings) error { s.seed = &seed; return nil }
}

// WithTenants sets the number of tenants, 1..100 (default: the two of the
// default configuration, Contoso and Fabrikam). The default tenants keep
// their GUIDs; more get GUIDs derived from their position, the same in
// every run.
func WithTenants(n int) Option {
	return func(s *settings) error {
		if n < 1 || n > 100 {
			return fmt.Errorf("WithTenants(%d): want 1..100", n)
		}
		s.tenants = n
		return nil
	}
}

// WithDefaultRelease sets the release of the configuration's fhir_version
// (what the landing page and the CLI default to). Every release is always
// served under its own base, whatever this says.
func WithDefaultRelease(name string) Option {
	return func(s *settings) error {
		if _, ok := spec.Lookup(name); !ok {
			return fmt.Errorf("WithDefaultRelease(%q): want one of %s", name, spec.NameChoices())
		}
		s.release = name
		return nil
	}
}

// WithScenariosDir names a directory of scenario YAML files: EnableScenario
// looks a name up there (NAME.yaml, then NAME.yml) before the built-in
// library.
func WithScenariosDir(dir string) Option {
	return func(s *settings) error {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("WithScenariosDir: %w", err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("WithScenariosDir: %s is not a directory", dir)
		}
		s.scenariosDir = dir
		return nil
	}
}

// WithConfigYAML lays a configuration, written as in sandbox.yaml, over
// the defaults before the other options apply (so WithPatients still
// resizes its tenants). listen, state_file and admin.token are ignored:
// the sandbox always runs in memory on a free loopback port with a token
// of its own. A problem in the text fails the test with file:line
// messages naming "sandbox.yaml".
func WithConfigYAML(text string) Option {
	return func(s *settings) error {
		s.configYAML, s.configName = []byte(text), "sandbox.yaml"
		return nil
	}
}

// WithConfigFile is WithConfigYAML with the text of a file; relative
// fixture and key paths in it are relative to the file.
func WithConfigFile(path string) Option {
	return func(s *settings) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("WithConfigFile: %w", err)
		}
		s.configYAML, s.configName = b, path
		return nil
	}
}

// WithClock makes the sandbox read the time from now (token lifetimes,
// secret expiry, the journal's times). Default: time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *settings) error { s.now = now; return nil }
}

// defaultPatients keeps a test's sandbox quick to start.
const defaultPatients = 20

// New starts a sandbox and stops it when the test ends. A bad option or a
// sandbox that cannot start fails the test at once (t.Fatal).
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s, err := NewServer(opts...)
	if err != nil {
		t.Fatalf("sandboxtest: %v", err)
	}
	s.t = t
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sandboxtest: %v", err)
		}
	})
	return s
}

// NewServer starts a sandbox outside a test (an example, a TestMain);
// the caller must Close it. Prefer New in a test.
func NewServer(opts ...Option) (*Server, error) {
	var st settings
	for _, o := range opts {
		if err := o(&st); err != nil {
			return nil, err
		}
	}
	cfg := sandbox.DefaultConfig()
	var err error
	if st.configYAML != nil {
		if st.configName == "sandbox.yaml" {
			cfg, err = sandbox.ParseConfig(st.configName, st.configYAML)
		} else {
			cfg, err = sandbox.LoadConfig(st.configName)
		}
		if err != nil {
			return nil, err
		}
	}
	secret := ""
	if reflect.DeepEqual(cfg.Clients, sandbox.DefaultConfig().Clients) {
		// a fresh secret: a test never depends on the development one
		if secret, err = randomHex(16); err != nil {
			return nil, err
		}
		cfg.Clients = []sandbox.ClientConfig{{
			ID: sandbox.DefaultClientID, Name: "sandboxtest client", Tenants: []string{"*"},
			Secrets: []sandbox.SecretConfig{{Value: secret}},
		}}
	}
	applySettings(&cfg, st)
	admin, err := randomHex(32)
	if err != nil {
		return nil, err
	}
	cfg.Listen, cfg.StateFile, cfg.Admin.Token, cfg.Admin.AllowRemote = "127.0.0.1:0", "", admin, false
	sb, err := sandbox.New(cfg, sandbox.Options{Now: st.now})
	if err != nil {
		return nil, err
	}
	hs := httptest.NewServer(sb.Handler())
	cfg = sb.Config()
	s := &Server{
		URL: hs.URL, TokenURL: hs.URL + "/token", AdminToken: admin, Config: cfg,
		Bases: map[string]string{}, http: hs.Client(), scenariosDir: st.scenariosDir,
		close: func() error { hs.Close(); return sb.Close() },
	}
	for _, rel := range spec.Releases() {
		s.Bases[rel.Name] = hs.URL + rel.Base()
	}
	for _, tc := range cfg.Tenants {
		s.Tenants = append(s.Tenants, tc.ID)
	}
	if len(cfg.Clients) > 0 {
		s.ClientID, s.ClientSecret = cfg.Clients[0].ID, secret
		if secret == "" {
			for _, sec := range cfg.Clients[0].Secrets {
				if sec.Value != "" {
					s.ClientSecret = sec.Value
					break
				}
			}
		}
	}
	return s, nil
}

// Close stops the sandbox: the listener closes and in-flight requests
// finish first. New's cleanup calls it; calling it again does nothing.
func (s *Server) Close() error {
	var err error
	s.closeOnce.Do(func() {
		if err = s.close(); err != nil {
			err = fmt.Errorf("close: %w", err)
		}
	})
	return err
}

// fatalf fails the test of New, or panics for NewServer (like
// httptest's misuse panics): a helper called wrongly.
func (s *Server) fatalf(format string, args ...any) {
	if s.t != nil {
		s.t.Helper()
		s.t.Fatalf("sandboxtest: "+format, args...)
	}
	panic(fmt.Sprintf("sandboxtest: "+format, args...))
}

// applySettings lays the options other than the config text over cfg.
func applySettings(cfg *sandbox.Config, st settings) {
	if st.tenants > 0 {
		def := sandbox.DefaultConfig().Tenants
		tenants := make([]sandbox.TenantConfig, st.tenants)
		for i := range tenants {
			if i < len(def) {
				tenants[i] = def[i]
				continue
			}
			tenants[i] = sandbox.TenantConfig{ID: derivedGUID(i), Name: fmt.Sprintf("Test Hospital %d", i+1), Patients: defaultPatients, Seed: int64(i + 1)}
		}
		cfg.Tenants = tenants
	}
	for i := range cfg.Tenants {
		tc := &cfg.Tenants[i]
		if tc.Upstream != "" {
			continue
		}
		switch {
		case st.patients != nil:
			tc.Patients = *st.patients
		case st.configYAML == nil:
			tc.Patients = min(tc.Patients, defaultPatients)
		}
		if st.seed != nil {
			tc.Seed = *st.seed + int64(i)
		}
	}
	if st.release != "" {
		cfg.FHIRVersion = st.release
	}
}

// derivedGUID is a version-4-shaped GUID fixed by position.
func derivedGUID(i int) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(append([]byte("sandboxtest tenant "), b[:]...))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// BaseURL returns the FHIR base URL of a release ("dstu2", "stu3", "r4");
// an unknown name fails the test (panics for NewServer).
func (s *Server) BaseURL(release string) string {
	if s.t != nil {
		s.t.Helper()
	}
	u, ok := s.Bases[release]
	if !ok {
		s.fatalf("no release %q (want one of %s)", release, spec.NameChoices())
	}
	return u
}

// Client returns an HTTP client for the sandbox (plain: it adds no token).
func (s *Server) Client() *http.Client { return s.http }

// TokenError is a refusal of the token endpoint: its HTTP status and RFC
// 6749 error code.
type TokenError struct {
	Status      int
	Code        string
	Description string
}

func (e *TokenError) Error() string {
	return fmt.Sprintf("token endpoint: %d %s: %s", e.Status, e.Code, e.Description)
}

// FetchToken asks the token endpoint for an access token for tenant with
// ClientID and ClientSecret (client_secret_post, the tenant GUID as the
// scope, as the Patients app asks). A refusal is a *TokenError, so a test
// can expect one (an expired-secret scenario).
func (s *Server) FetchToken(ctx context.Context, tenant string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID}, "client_secret": {s.ClientSecret}, "scope": {tenant}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := s.http.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var body struct {
		AccessToken      string `json:"access_token"`
		Error            string `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&body); err != nil {
		return "", fmt.Errorf("token endpoint: %s: %w", res.Status, err)
	}
	if res.StatusCode != http.StatusOK || body.AccessToken == "" {
		return "", &TokenError{Status: res.StatusCode, Code: body.Error, Description: body.ErrorDescription}
	}
	return body.AccessToken, nil
}

// Token is FetchToken that fails the test on error (panics for
// NewServer).
func (s *Server) Token(tenant string) string {
	if s.t != nil {
		s.t.Helper()
	}
	tok, err := s.FetchToken(context.Background(), tenant)
	if err != nil {
		s.fatalf("%v", err)
	}
	return tok
}

// EnableScenario switches a scenario on: NAME.yaml (or .yml) of the
// WithScenariosDir directory when there is one, else the built-in
// scenario of that name (`fhirsandbox scenario list`). An unknown name or
// a scenario already on is an error.
func (s *Server) EnableScenario(name string) error {
	body := map[string]string{"name": name}
	if s.scenariosDir != "" {
		for _, ext := range []string{".yaml", ".yml"} {
			b, err := os.ReadFile(filepath.Join(s.scenariosDir, name+ext))
			if err == nil {
				body = map[string]string{"yaml": string(b)}
				break
			}
		}
	}
	return s.admin(http.MethodPost, "/admin/api/scenarios", body, http.StatusOK, nil)
}

// EnableScenarioYAML switches on the scenario a file's text describes.
func (s *Server) EnableScenarioYAML(text string) error {
	return s.admin(http.MethodPost, "/admin/api/scenarios", map[string]string{"yaml": text}, http.StatusOK, nil)
}

// DisableScenario switches a scenario off by name (the name: key of a
// file). A scenario that is not on is an error.
func (s *Server) DisableScenario(name string) error {
	return s.admin(http.MethodDelete, "/admin/api/scenarios/"+url.PathEscape(name), nil, http.StatusNoContent, nil)
}

// ActiveScenarios names the scenarios switched on, in activation order.
func (s *Server) ActiveScenarios() ([]string, error) {
	var out struct {
		Active []string `json:"active"`
	}
	err := s.admin(http.MethodGet, "/admin/api/scenarios", nil, http.StatusOK, &out)
	return out.Active, err
}

// Requests returns the request journal, oldest first (the sandbox keeps
// the most recent requests).
func (s *Server) Requests() ([]Request, error) {
	var out struct {
		Entries []Request `json:"entries"`
	}
	err := s.admin(http.MethodGet, "/admin/api/requests", nil, http.StatusOK, &out)
	return out.Entries, err
}

// ClearRequests empties the request journal.
func (s *Server) ClearRequests() error {
	return s.admin(http.MethodDelete, "/admin/api/requests", nil, http.StatusNoContent, nil)
}

// AdminError is an admin API answer other than the one expected.
type AdminError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *AdminError) Error() string {
	return fmt.Sprintf("admin API %s %s: %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// admin calls the admin API with the admin token.
func (s *Server) admin(method, path string, in any, want int, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+s.AdminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("admin API %s %s: %w", method, path, err)
	}
	if res.StatusCode != want {
		return &AdminError{Method: method, Path: path, Status: res.StatusCode, Body: string(bytes.TrimSpace(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("admin API %s %s: %w", method, path, err)
		}
	}
	return nil
}
