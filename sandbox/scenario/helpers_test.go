package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustLoad(t testing.TB, src string) *Scenario {
	t.Helper()
	s, err := Load(t.Name()+".yaml", []byte(src))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return s
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sleepRecorder records requested sleeps and advances the clock instead
// of waiting.
type sleepRecorder struct {
	mu    sync.Mutex
	clock *fakeClock
	slept []time.Duration
}

func (s *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.slept = append(s.slept, d)
	s.mu.Unlock()
	if s.clock != nil {
		s.clock.Advance(d)
	}
	return ctx.Err()
}

func (s *sleepRecorder) total() (n int, sum time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.slept {
		sum += d
	}
	return len(s.slept), sum
}

// recordingControls records the calls timeline actions make.
type recordingControls struct {
	mu    sync.Mutex
	calls []string
	drift MetadataDrift
}

func (c *recordingControls) rec(format string, args ...any) error {
	c.mu.Lock()
	c.calls = append(c.calls, fmt.Sprintf(format, args...))
	c.mu.Unlock()
	return nil
}

func (c *recordingControls) ExpireSecrets(id string, at time.Time) error {
	return c.rec("ExpireSecrets(%s, %s)", id, at.Format(time.RFC3339))
}
func (c *recordingControls) RevokeSecrets(id string, keep bool) error {
	return c.rec("RevokeSecrets(%s, %t)", id, keep)
}
func (c *recordingControls) DeleteClient(id string) error      { return c.rec("DeleteClient(%s)", id) }
func (c *recordingControls) RotateSigningKey(r bool) error     { return c.rec("RotateSigningKey(%t)", r) }
func (c *recordingControls) RevokeIssuedTokens() error         { return c.rec("RevokeIssuedTokens()") }
func (c *recordingControls) SetTokenTTL(d time.Duration) error { return c.rec("SetTokenTTL(%s)", d) }
func (c *recordingControls) UnmapTenant(id string) error       { return c.rec("UnmapTenant(%s)", id) }
func (c *recordingControls) SetTenantDown(id string, down bool) error {
	return c.rec("SetTenantDown(%s, %t)", id, down)
}
func (c *recordingControls) SetMetadataDrift(d MetadataDrift) {
	c.mu.Lock()
	c.drift = d
	c.mu.Unlock()
	_ = c.rec("SetMetadataDrift(%s, %t, %s)", d.TokenURL, d.DropOAuthURIs, d.FHIRVersion)
}

func (c *recordingControls) SetClientScopes(id string, scopes []string) error {
	return c.rec("SetClientScopes(%s, %v)", id, scopes)
}

func (c *recordingControls) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

// identifyByHeader names the client and tenant from test headers.
func identifyByHeader(r *http.Request) (string, string) {
	return r.Header.Get("X-Tenant"), r.Header.Get("X-Client")
}

// backend serves small FHIR-shaped JSON.
func backend() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/stu3/Patient", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		count := r.URL.Query().Get("_count")
		fmt.Fprintf(w, `{"resourceType":"Bundle","type":"searchset","total":42,"link":[`+
			`{"relation":"self","url":"http://x/stu3/Patient?_count=%[1]s"},`+
			`{"relation":"next","url":"http://x/stu3/Patient?_count=%[1]s&_offset=2"}],`+
			`"entry":[{"fullUrl":"http://x/stu3/Patient/p1","resource":{"resourceType":"Patient","id":"p1",`+
			`"name":[{"family":"Smith","given":["Ann"]}],"telecom":[{"system":"phone","value":"555"}],`+
			`"birthDate":"1970-03-04","address":[{"city":"Springfield","postalCode":"12345"}],`+
			`"meta":{"lastUpdated":"2018-09-17T13:00:00Z"}}}]}`, count)
	})
	mux.HandleFunc("/stu3/Observation", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		fmt.Fprint(w, `{"resourceType":"Observation","id":"o1","status":"final",`+
			`"category":[{"coding":[{"code":"vital-signs"}]}],"effectiveDateTime":"2018-09-17T00:30:00+02:00",`+
			`"valueQuantity":{"value":72.5,"unit":"/min"}}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// Stands in for the auth layer: the named client authenticated,
		// unless the test says it did not.
		if r.Header.Get("X-Unverified") == "" {
			MarkVerified(r, r.Header.Get("X-Client"))
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"path":%q,"query":%q}`, r.URL.Path, r.URL.RawQuery)
	})
	return mux
}

type rig struct {
	eng     *Engine
	journal *Journal
	clock   *fakeClock
	sleep   *sleepRecorder
	ctl     *recordingControls
	srv     *httptest.Server
}

func newRig(t *testing.T, seed uint64) *rig {
	t.Helper()
	clock := newClock()
	sl := &sleepRecorder{clock: clock}
	ctl := &recordingControls{}
	eng := NewEngine(EngineOptions{
		Now:             clock.Now,
		Rand:            rand.New(rand.NewPCG(seed, seed)),
		Sleep:           sl.Sleep,
		Identify:        identifyByHeader,
		Controls:        ctl,
		DefaultClientID: "default-app",
		TickInterval:    time.Hour, // time events fire on requests in these tests
	})
	j := NewJournal(100, WithJournalClock(clock.Now), WithJournalIdentify(identifyByHeader))
	srv := httptest.NewServer(j.Middleware(eng.Middleware(backend())))
	t.Cleanup(srv.Close)
	t.Cleanup(eng.DeactivateAll)
	return &rig{eng: eng, journal: j, clock: clock, sleep: sl, ctl: ctl, srv: srv}
}

type resp struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (rg *rig) get(t *testing.T, path string, hdr ...string) resp {
	t.Helper()
	return doGet(t, rg.srv.Client(), rg.srv.URL+path, hdr...)
}

func doGet(t *testing.T, c *http.Client, url string, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		return resp{err: err}
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, rerr := res.Body.Read(buf)
		b.Write(buf[:n])
		if rerr != nil {
			if rerr.Error() != "EOF" {
				return resp{status: res.StatusCode, header: res.Header, body: []byte(b.String()), err: rerr}
			}
			break
		}
	}
	return resp{status: res.StatusCode, header: res.Header, body: []byte(b.String())}
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return m
}
