package sandbox

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestStateSurvivesRestart writes a resource and creates a client through
// the real server, restarts it on the same state file, and finds both.
func TestStateSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 3, 2
	cfg.Admin.Token = "admin-token-for-state-tests"
	cfg.StateFile = filepath.Join(t.TempDir(), "sandbox.state")
	start := func() (*Server, *httptest.Server) {
		s, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		return s, srv
	}
	do := func(srv *httptest.Server, method, path, auth, ctype, body string) (int, []byte) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	token := func(srv *httptest.Server, client, secret string) string {
		st, b := do(srv, "POST", "/token", "", "application/x-www-form-urlencoded", url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {ContosoTenant}}.Encode())
		if st != 200 {
			t.Fatalf("token: %d %s", st, b)
		}
		return between(string(b), `"access_token":"`, `"`)
	}

	s1, srv1 := start()
	tok := token(srv1, "teams-patients-app", "change-me-dev-secret")
	if st, b := do(srv1, "PUT", "/stu3/Patient/kept", tok, "application/fhir+json", `{"resourceType":"Patient","id":"kept","gender":"other"}`); st != 201 {
		t.Fatalf("write: %d %s", st, b)
	}
	// the release that is not the default is built on first use: its
	// writes are journalled too
	if st, b := do(srv1, "PUT", "/dstu2/Patient/kept2", tok, "application/json+fhir", `{"resourceType":"Patient","id":"kept2","gender":"female"}`); st != 201 {
		t.Fatalf("dstu2 write: %d %s", st, b)
	}
	st, b := do(srv1, "POST", "/admin/api/clients", cfg.Admin.Token, "application/json", `{"name":"Kept app","tenants":["*"]}`)
	if st != 201 && st != 200 {
		t.Fatalf("create client: %d %s", st, b)
	}
	var created struct {
		Client struct {
			ID string `json:"id"`
		} `json:"client"`
		Secret struct {
			Value string `json:"value"`
		} `json:"secret"`
	}
	if err := json.Unmarshal(b, &created); err != nil || created.Client.ID == "" || created.Secret.Value == "" {
		t.Fatalf("create client answer: %s", b)
	}
	srv1.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, srv2 := start()
	t.Cleanup(func() { srv2.Close(); _ = s2.Close() })
	tok2 := token(srv2, created.Client.ID, created.Secret.Value)
	if st, b := do(srv2, "GET", "/stu3/Patient/kept", tok2, "", ""); st != 200 || !strings.Contains(string(b), `"gender":"other"`) {
		t.Errorf("written resource after restart: %d %s", st, b)
	}
	if st, b := do(srv2, "GET", "/dstu2/Patient/kept2", tok2, "", ""); st != 200 || !strings.Contains(string(b), `"gender":"female"`) {
		t.Errorf("dstu2 write after restart: %d %s", st, b)
	}
	if st, _ := do(srv2, "GET", "/stu3/Patient/pat-1", tok2, "", ""); st != 200 {
		t.Errorf("generated data after restart: %d", st)
	}
	if st, _ := do(srv2, "GET", "/admin/api/clients", "", "", ""); st != 401 {
		t.Errorf("admin API without token: %d", st)
	}
}

// stateServer starts a server on cfg (a state file set) without auth, so
// the first tenant answers unauthenticated requests; restart closes it
// (releasing the state file) and starts another on the same file.
type stateServer struct {
	t   *testing.T
	cfg Config
	log io.Writer // where the server logs; nil discards
	// sync, when set, replaces the state file's fsync
	sync func(*os.File) error
	s    *Server
	srv  *httptest.Server
}

func newStateServer(t *testing.T) *stateServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Auth.Required = false
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 1, 1
	cfg.StateFile = filepath.Join(t.TempDir(), "sandbox.state")
	ss := &stateServer{t: t, cfg: cfg}
	ss.start()
	t.Cleanup(ss.stop)
	return ss
}

func (ss *stateServer) start() {
	ss.t.Helper()
	opts := Options{StateSync: ss.sync}
	if ss.log != nil {
		opts.Logger = slog.New(slog.NewTextHandler(ss.log, nil))
	}
	s, err := New(ss.cfg, opts)
	if err != nil {
		ss.t.Fatal(err)
	}
	ss.s, ss.srv = s, httptest.NewServer(s.Handler())
}

func (ss *stateServer) stop() {
	ss.srv.Close()
	_ = ss.s.Close()
}

func (ss *stateServer) restart() {
	ss.t.Helper()
	ss.stop()
	ss.start()
}

func (ss *stateServer) do(method, path, body string) (int, http.Header, []byte) {
	ss.t.Helper()
	req, _ := http.NewRequest(method, ss.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ss.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// TestEmptyTransactionWithState: a transaction with no entries writes
// nothing and answers an empty transaction-response, with a state file as
// without one (it was a 500: the journal refused a write of no ops).
func TestEmptyTransactionWithState(t *testing.T) {
	t.Parallel()
	ss := newStateServer(t)
	for _, body := range []string{
		`{"resourceType":"Bundle","type":"transaction"}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[]}`,
	} {
		st, _, b := ss.do("POST", "/stu3", body)
		if st != 200 || !strings.Contains(string(b), `"type":"transaction-response"`) {
			t.Errorf("POST %s: %d %s", body, st, b)
		}
	}
	ss.restart()
	if st, _, b := ss.do("GET", "/stu3/metadata", ""); st != 200 {
		t.Errorf("restart after empty transactions: %d %s", st, b)
	}
}

// TestTornTailLogged: a torn last record (a crash mid-append) is cut at
// the next start, as before, and now also logged with its offset.
func TestTornTailLogged(t *testing.T) {
	t.Parallel()
	ss := newStateServer(t)
	if st, _, b := ss.do("PUT", "/stu3/Patient/kept", `{"resourceType":"Patient","id":"kept"}`); st != 201 {
		t.Fatalf("write: %d %s", st, b)
	}
	ss.stop()
	fi, err := os.Stat(ss.cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.OpenFile(ss.cfg.StateFile, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"crc":"0000`)
	f.Close()
	var log bytes.Buffer
	ss.log = &log
	ss.start()
	if want := fmt.Sprintf("offset=%d bytes=12", fi.Size()); !strings.Contains(log.String(), "torn last record") || !strings.Contains(log.String(), want) {
		t.Errorf("log lacks the cut (%s):\n%s", want, log.String())
	}
	if st, _, b := ss.do("GET", "/stu3/Patient/kept", ""); st != 200 {
		t.Errorf("write before the torn record: %d %s", st, b)
	}
}

// TestLastUpdatedSurvivesRestart: a replayed write keeps the lastUpdated
// (and so Last-Modified) it was given, not the time of the restart.
func TestLastUpdatedSurvivesRestart(t *testing.T) {
	t.Parallel()
	ss := newStateServer(t)
	if st, _, b := ss.do("PUT", "/stu3/Patient/kept", `{"resourceType":"Patient","id":"kept"}`); st != 201 {
		t.Fatalf("write: %d %s", st, b)
	}
	if st, _, b := ss.do("POST", "/stu3", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"tx"},"request":{"method":"PUT","url":"Patient/tx"}}]}`); st != 200 {
		t.Fatalf("transaction: %d %s", st, b)
	}
	read := func(path string) (string, string) {
		st, h, b := ss.do("GET", path, "")
		if st != 200 {
			t.Fatalf("GET %s: %d %s", path, st, b)
		}
		return between(string(b), `"lastUpdated":"`, `"`), h.Get("Last-Modified")
	}
	paths := []string{"/stu3/Patient/kept", "/stu3/Patient/tx"}
	var before [][2]string
	for _, p := range paths {
		lu, lm := read(p)
		if lu == "" || lm == "" {
			t.Fatalf("GET %s: lastUpdated %q, Last-Modified %q", p, lu, lm)
		}
		before = append(before, [2]string{lu, lm})
	}
	time.Sleep(1100 * time.Millisecond) // Last-Modified has whole seconds
	ss.restart()
	for i, p := range paths {
		if lu, lm := read(p); lu != before[i][0] || lm != before[i][1] {
			t.Errorf("GET %s after restart: lastUpdated %s, Last-Modified %s; before %s, %s", p, lu, lm, before[i][0], before[i][1])
		}
	}
}

// TestCompactionAtStart: a journal of a thousand updates of one resource
// is rewritten at the next start as the current state, much smaller, and
// restores the same resources (body, versionId, lastUpdated) and the same
// search order, also across deletes and re-creates and for generated
// resources.
func TestCompactionAtStart(t *testing.T) {
	t.Parallel()
	ss := newStateServer(t)
	put := func(path, body string) {
		t.Helper()
		if st, _, b := ss.do("PUT", path, body); st != 200 && st != 201 {
			t.Fatalf("PUT %s: %d %s", path, st, b)
		}
	}
	del := func(path string) {
		t.Helper()
		if st, _, b := ss.do("DELETE", path, ""); st >= 300 {
			t.Fatalf("DELETE %s: %d %s", path, st, b)
		}
	}
	put("/stu3/Patient/early", `{"resourceType":"Patient","id":"early"}`)
	for i := range 1000 {
		put("/stu3/Patient/hot", fmt.Sprintf(`{"resourceType":"Patient","id":"hot","name":[{"family":"Hot%d"}]}`, i))
	}
	put("/stu3/Patient/again", `{"resourceType":"Patient","id":"again","gender":"male"}`)
	del("/stu3/Patient/again")
	put("/stu3/Patient/late", `{"resourceType":"Patient","id":"late"}`)
	put("/stu3/Patient/again", `{"resourceType":"Patient","id":"again","gender":"female"}`)
	put("/stu3/Patient/pat-1", `{"resourceType":"Patient","id":"pat-1","gender":"other"}`)
	put("/stu3/Patient/pat-1", `{"resourceType":"Patient","id":"pat-1","gender":"unknown"}`)
	del("/stu3/Patient/gone")
	put("/stu3/Patient/gone", `{"resourceType":"Patient","id":"gone"}`)
	del("/stu3/Patient/gone")

	read := func() map[string]string {
		out := map[string]string{}
		for _, p := range []string{"/stu3/Patient/early", "/stu3/Patient/hot", "/stu3/Patient/again", "/stu3/Patient/late", "/stu3/Patient/pat-1", "/stu3/Patient/gone", "/stu3/Patient?_count=50"} {
			st, h, b := ss.do("GET", p, "")
			body := strings.ReplaceAll(string(b), ss.srv.URL, "BASE") // a new port each start
			if strings.Contains(p, "?") {
				// the search Bundle's own id and timestamp are per request
				body = strings.Join(strings.Split(body, `"fullUrl"`)[1:], `"fullUrl"`)
			}
			out[p] = fmt.Sprintf("%d %s %s", st, h.Get("Last-Modified"), body)
		}
		return out
	}
	want := read()
	if !strings.Contains(want["/stu3/Patient/hot"], `"versionId":"1000"`) {
		t.Fatalf("hot before restart: %s", want["/stu3/Patient/hot"])
	}
	fi, err := os.Stat(ss.cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 { // the compacted file compacts to itself
		ss.restart()
		after, err := os.Stat(ss.cfg.StateFile)
		if err != nil {
			t.Fatal(err)
		}
		if after.Size() > fi.Size()/20 {
			t.Errorf("round %d: journal of %d bytes compacted to %d", round, fi.Size(), after.Size())
		}
		got := read()
		for p, w := range want {
			if got[p] != w {
				t.Errorf("round %d: GET %s after compaction:\n%s\nwant\n%s", round, p, got[p], w)
			}
		}
	}
}

// TestDiskFullWriteRefusedAndUndone: when the state file cannot be synced
// (a full or failing disk), the FHIR write is answered 503 with an
// OperationOutcome and Retry-After, the store goes back to what the file
// holds, later writes (FHIR and admin) are refused rather than
// acknowledged on top of a hole, it is logged, and a restart finds
// exactly the acknowledged writes.
func TestDiskFullWriteRefusedAndUndone(t *testing.T) {
	t.Parallel()
	var fails atomic.Int32 // syncs still to fail
	var log syncBuffer
	cfg := DefaultConfig()
	cfg.Auth.Required = false
	cfg.Admin.Token = "admin-token-for-disk-full"
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 1, 1
	cfg.StateFile = filepath.Join(t.TempDir(), "sandbox.state")
	ss := &stateServer{t: t, cfg: cfg, log: &log, sync: func(f *os.File) error {
		if fails.Load() > 0 {
			fails.Add(-1)
			return fmt.Errorf("sync %s: %w", f.Name(), syscall.ENOSPC)
		}
		return f.Sync()
	}}
	ss.start()
	t.Cleanup(ss.stop)

	if st, _, b := ss.do("PUT", "/stu3/Patient/kept", `{"resourceType":"Patient","id":"kept","gender":"other"}`); st != 201 {
		t.Fatalf("write: %d %s", st, b)
	}
	acked, err := os.ReadFile(cfg.StateFile)
	if err != nil {
		t.Fatal(err)
	}

	_, _, b := ss.do("GET", "/stu3/Patient?_count=100", "")
	total := between(string(b), `"total":`, `,`)
	if total == "" {
		t.Fatalf("no total: %s", b)
	}

	fails.Store(1)
	st, h, b := ss.do("PUT", "/stu3/Patient/kept", `{"resourceType":"Patient","id":"kept","gender":"female"}`)
	if st != 503 || h.Get("Retry-After") == "" || !strings.Contains(string(b), `"resourceType":"OperationOutcome"`) {
		t.Fatalf("update on a failing disk: %d Retry-After=%q %s", st, h.Get("Retry-After"), b)
	}
	if !strings.Contains(log.String(), "fsync of the state file failed") || !strings.Contains(log.String(), "no space left on device") {
		t.Errorf("the failure is not logged:\n%s", log.String())
	}
	// the store is what the file holds: version 1, indexed as such
	st, _, b = ss.do("GET", "/stu3/Patient/kept", "")
	if st != 200 || !strings.Contains(string(b), `"gender":"other"`) || !strings.Contains(string(b), `"versionId":"1"`) {
		t.Errorf("after the failed update: %d %s", st, b)
	}
	for q, want := range map[string]string{"gender=female": `"total":0`, "gender=other": `"total":1`} {
		if st, _, b := ss.do("GET", "/stu3/Patient?_id=kept&"+q, ""); st != 200 || !strings.Contains(string(b), want) {
			t.Errorf("search %s after the failed update: %d %s", q, st, b)
		}
	}
	if got, _ := os.ReadFile(cfg.StateFile); !bytes.Equal(got, acked) {
		t.Errorf("the refused write stayed in the state file (%d bytes, %d acknowledged)", len(got), len(acked))
	}

	// after a failed fsync nothing more is acknowledged, even with the
	// disk back: the server must be restarted
	if st, _, b := ss.do("POST", "/stu3/Patient", `{"resourceType":"Patient","gender":"male"}`); st != 503 {
		t.Errorf("create after the failure: %d %s", st, b)
	}
	if st, _, b := ss.do("DELETE", "/stu3/Patient/kept", ""); st != 503 {
		t.Errorf("delete after the failure: %d %s", st, b)
	}
	if st, _, b := ss.do("GET", "/stu3/Patient/kept", ""); st != 200 {
		t.Errorf("refused delete applied: %d %s", st, b)
	}
	req, _ := http.NewRequest("POST", ss.srv.URL+"/admin/api/clients", strings.NewReader(`{"name":"Not kept","tenants":["*"]}`))
	req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 503 || !json.Valid(ab) || !strings.Contains(string(ab), "not_persisted") {
		t.Errorf("admin change after the failure: %d %s", res.StatusCode, ab)
	}
	if st, _, b := ss.do("GET", "/stu3/Patient?_count=100", ""); st != 200 || between(string(b), `"total":`, `,`) != total {
		t.Errorf("patients after the refused create: %d (want total %s) %s", st, total, b)
	}

	ss.restart()
	st, _, b = ss.do("GET", "/stu3/Patient/kept", "")
	if st != 200 || !strings.Contains(string(b), `"gender":"other"`) || !strings.Contains(string(b), `"versionId":"1"`) {
		t.Errorf("after restart: %d %s", st, b)
	}
	if st, _, b := ss.do("PUT", "/stu3/Patient/kept", `{"resourceType":"Patient","id":"kept","gender":"female"}`); st != 200 {
		t.Errorf("write after restart on a healthy disk: %d %s", st, b)
	}
}

// TestRevokeAllSurvivesRestart: "revoke every issued token" (a scenario's
// revoke-issued-tokens action) still holds after a restart on the same
// state file, while tokens issued after it, before or after the restart,
// stay valid.
func TestRevokeAllSurvivesRestart(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 1, 1
	cfg.PublicURL = "http://sandbox.test" // tokens name it; the httptest port changes
	cfg.StateFile = filepath.Join(t.TempDir(), "sandbox.state")
	key := filepath.Join(t.TempDir(), "key.pem")
	writeTestKey(t, key)
	cfg.Auth.SigningAlg, cfg.Auth.SigningKeyFile = "ES256", key
	ss := &stateServer{t: t, cfg: cfg}
	ss.start()
	t.Cleanup(ss.stop)
	token := func() string {
		st, _, b := ss.form("/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant}})
		if st != 200 {
			t.Fatalf("token: %d %s", st, b)
		}
		return between(string(b), `"access_token":"`, `"`)
	}
	read := func(tok string) int {
		req, _ := http.NewRequest("GET", ss.srv.URL+"/stu3/Patient?_count=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	old := token()
	if err := (controls{ss.s}).RevokeIssuedTokens(); err != nil {
		t.Fatal(err)
	}
	after := token()
	if read(old) != 401 || read(after) != 200 {
		t.Fatalf("before the restart: revoked %d, issued after %d", read(old), read(after))
	}
	ss.restart()
	if st := read(old); st != 401 {
		t.Errorf("token revoked before the restart: %d, want 401", st)
	}
	if st := read(after); st != 200 {
		t.Errorf("token issued after the revocation: %d, want 200", st)
	}
	if st := read(token()); st != 200 {
		t.Errorf("token issued after the restart: %d, want 200", st)
	}
}

func (ss *stateServer) form(path string, v url.Values) (int, http.Header, []byte) {
	ss.t.Helper()
	res, err := http.PostForm(ss.srv.URL+path, v)
	if err != nil {
		ss.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b
}

// writeTestKey writes a new ES256 signing key to path in PKCS#8 PEM.
func writeTestKey(t *testing.T, path string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
