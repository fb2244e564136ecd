package tenant

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// received is what the fake upstream saw of one request.
type received struct {
	Method, Path, RawQuery string
	Header                 http.Header
	Body                   string
}

// fakeUpstream is a FHIR server at {URL}/r3 with its own client-credentials
// token endpoint at {URL}/oauth/token, recording every request.
type fakeUpstream struct {
	t   *testing.T
	srv *httptest.Server

	mu      sync.Mutex
	reqs    []received
	handler http.HandlerFunc // the FHIR side; default echoes a Patient

	fetches    atomic.Int32
	tokenLife  atomic.Int64 // expires_in seconds; 0 omits it
	tokenFail  atomic.Int32 // status the token endpoint answers with; 0 = 200
	tokenGate  chan struct{}
	requireTok atomic.Bool // FHIR side demands a current token
	current    atomic.Value
}

func newFakeUpstream(t *testing.T, h http.HandlerFunc) *fakeUpstream {
	t.Helper()
	f := &fakeUpstream{t: t, handler: h}
	f.tokenLife.Store(3600)
	f.current.Store("")
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeUpstream) base() string { return f.srv.URL + "/r3" }

// upBase is the fake upstream's FHIR base as a handler sees it.
func upBase(r *http.Request) string { return "http://" + r.Host + "/r3" }

func (f *fakeUpstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/oauth/token" {
		f.serveToken(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.reqs = append(f.reqs, received{Method: r.Method, Path: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body)})
	f.mu.Unlock()
	if f.requireTok.Load() && r.Header.Get("Authorization") != "Bearer "+f.current.Load().(string) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.Header().Set("Content-Type", "application/fhir+json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"login"}]}`)
		return
	}
	if f.handler != nil {
		f.handler(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/fhir+json;charset=utf-8")
	_, _ = fmt.Fprintf(w, `{"resourceType":"Patient","id":"1","meta":{"source":%q}}`, upBase(r)+"/Patient/1")
}

func (f *fakeUpstream) serveToken(w http.ResponseWriter, r *http.Request) {
	if f.tokenGate != nil {
		<-f.tokenGate
	}
	n := f.fetches.Add(1)
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("client_id") != "sandbox" || r.PostForm.Get("client_secret") != "s3cret" || r.PostForm.Get("scope") != "system/*.read" {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
		return
	}
	if st := f.tokenFail.Load(); st != 0 {
		w.WriteHeader(int(st))
		_, _ = io.WriteString(w, `<html>stack trace at 10.0.0.7</html>`)
		return
	}
	tok := fmt.Sprintf("tok-%d", n)
	f.current.Store(tok)
	w.Header().Set("Content-Type", "application/json")
	resp := map[string]any{"access_token": tok, "token_type": "Bearer"}
	if life := f.tokenLife.Load(); life != 0 {
		resp["expires_in"] = life
	}
	_ = json.NewEncoder(w).Encode(resp)
}

func (f *fakeUpstream) received() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.reqs...)
}

func (f *fakeUpstream) ccAuth() UpstreamAuth {
	return UpstreamAuth{TokenURL: f.srv.URL + "/oauth/token", ClientID: "sandbox", ClientSecret: "s3cret", Scope: "system/*.read"}
}

// clock is an injected, settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sandboxFront serves the proxy under /stu3 on a real server whose
// public base is its own address, as the sandbox does; a middleware sets
// X-Request-Id and a CORS header first, as the sandbox's middleware does.
func sandboxFront(t *testing.T, o ProxyOptions) *httptest.Server {
	t.Helper()
	o.Prefix = "/stu3"
	o.PublicBase = func(r *http.Request) string { return "http://" + r.Host + "/stu3" }
	h, err := NewProxy(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Request-Id", "req-42")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

type outcome struct {
	ResourceType string
	Issue        []struct{ Severity, Code, Diagnostics string }
}

func do(t *testing.T, method, u string, body string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	var rb io.Reader
	if body != "" {
		rb = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rb)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func wantOutcome(t *testing.T, resp *http.Response, body []byte, status int, code string, forbidden ...string) outcome {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var oo outcome
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 {
		t.Fatalf("not an OperationOutcome: %s (%v)", body, err)
	}
	if oo.Issue[0].Code != code {
		t.Errorf("issue code = %q, want %q (%s)", oo.Issue[0].Code, code, body)
	}
	for _, f := range forbidden {
		if f != "" && bytes.Contains(body, []byte(f)) {
			t.Errorf("answer leaks %q: %s", f, body)
		}
	}
	return oo
}

func TestProxyForwardsRequests(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	front := sandboxFront(t, ProxyOptions{Upstream: up.base() + "/", Auth: UpstreamAuth{BearerToken: "upstream-token"}})
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      map[string]string
		wantPath, wantQuery      string
		wantHdr                  map[string]string // "" = must be absent
	}{
		{name: "read with query", method: "GET", path: "/stu3/Patient/1?x=y&_format=json", wantPath: "/r3/Patient/1", wantQuery: "x=y&_format=json",
			hdr:     map[string]string{"Accept": "application/fhir+json", "Authorization": "Bearer sandbox-jwt", "Cookie": "session=abc", "Proxy-Authorization": "Basic eA==", "X-Api-Key": "k"},
			wantHdr: map[string]string{"Accept": "application/fhir+json", "Authorization": "Bearer upstream-token", "Cookie": "", "Proxy-Authorization": "", "X-Api-Key": "", "X-Request-Id": "req-42", "X-Forwarded-Proto": "http", "X-Forwarded-For": "127.0.0.1"}},
		{name: "base itself, paging style", method: "GET", path: "/stu3?_getpages=abc&_getpagesoffset=10", wantPath: "/r3", wantQuery: "_getpages=abc&_getpagesoffset=10"},
		{name: "base with slash", method: "GET", path: "/stu3/", wantPath: "/r3/"},
		{name: "escaped id kept escaped", method: "GET", path: "/stu3/Patient/a%20b", wantPath: "/r3/Patient/a%20b"},
		{name: "search encoded query verbatim", method: "GET", path: "/stu3/Patient?name=J%C3%B6rg&birthdate=ge2000-01-01", wantPath: "/r3/Patient", wantQuery: "name=J%C3%B6rg&birthdate=ge2000-01-01"},
		{name: "create", method: "POST", path: "/stu3/Patient", body: `{"resourceType":"Patient"}`, wantPath: "/r3/Patient",
			hdr:     map[string]string{"Content-Type": "application/fhir+json", "Prefer": "return=representation", "If-None-Exist": "identifier=x|1"},
			wantHdr: map[string]string{"Content-Type": "application/fhir+json", "Prefer": "return=representation", "If-None-Exist": "identifier=x|1"}},
		{name: "conditional update", method: "PUT", path: "/stu3/Patient/1", body: `{"resourceType":"Patient","id":"1"}`, wantPath: "/r3/Patient/1",
			hdr: map[string]string{"If-Match": `W/"3"`, "Content-Type": "application/fhir+json"}, wantHdr: map[string]string{"If-Match": `W/"3"`}},
		{name: "hop-by-hop named in Connection dropped", method: "GET", path: "/stu3/Patient/1", wantPath: "/r3/Patient/1",
			hdr: map[string]string{"Connection": "Prefer", "Prefer": "handling=strict", "Te": "trailers"}, wantHdr: map[string]string{"Prefer": "", "Te": "", "Connection": ""}},
		{name: "delete", method: "DELETE", path: "/stu3/Patient/1", wantPath: "/r3/Patient/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.received())
			resp, body := do(t, tc.method, front.URL+tc.path, tc.body, tc.hdr)
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var got *received
			for _, r := range up.received()[before:] {
				if r.Method == tc.method && r.Path == tc.wantPath && r.RawQuery == tc.wantQuery && r.Body == tc.body {
					got = &r
				}
			}
			if got == nil {
				t.Fatalf("upstream never saw %s %s?%s; saw %+v", tc.method, tc.wantPath, tc.wantQuery, up.received()[before:])
			}
			if a := got.Header.Get("Authorization"); a != "Bearer upstream-token" {
				t.Errorf("upstream Authorization = %q", a)
			}
			for k, want := range tc.wantHdr {
				if g := got.Header.Get(k); g != want {
					t.Errorf("upstream header %s = %q, want %q", k, g, want)
				}
			}
			if h := got.Header.Get("X-Forwarded-Host"); h != strings.TrimPrefix(front.URL, "http://") {
				t.Errorf("X-Forwarded-Host = %q", h)
			}
		})
	}
}

func TestProxyRejectsBadRequests(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), MaxRequestBytes: 64})
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{name: "dot-dot", method: "GET", path: "/stu3/../admin", status: 400, code: "invalid"},
		{name: "escaped dot-dot", method: "GET", path: "/stu3/%2e%2e/admin", status: 400, code: "invalid"},
		{name: "escaped slash", method: "GET", path: "/stu3/Patient%2F..%2F..%2Fadmin", status: 400, code: "invalid"},
		{name: "outside prefix", method: "GET", path: "/stu3x/Patient", status: 404, code: "not-found"},
		{name: "trace", method: "TRACE", path: "/stu3/Patient", status: 405, code: "not-supported"},
		{name: "request body too large", method: "POST", path: "/stu3/Patient", body: strings.Repeat("x", 65), status: 413, code: "too-long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// a raw request line, so the client library cannot clean the path
			resp, body := rawRequest(t, front, tc.method, tc.path, tc.body)
			wantOutcome(t, resp, body, tc.status, tc.code)
		})
	}
	if n := len(up.received()); n != 0 {
		t.Errorf("upstream called %d times for refused requests", n)
	}
}

func rawRequest(t *testing.T, srv *httptest.Server, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.URL.Opaque = path
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestProxyUpstreamAuthModes(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	for _, tc := range []struct {
		name string
		auth UpstreamAuth
		want string
	}{
		{name: "none", auth: UpstreamAuth{}, want: ""},
		{name: "bearer", auth: UpstreamAuth{BearerToken: "static-tok"}, want: "Bearer static-tok"},
		{name: "basic", auth: UpstreamAuth{BasicUser: "svc", BasicPassword: "pw:with:colons"}, want: "Basic " + base64.StdEncoding.EncodeToString([]byte("svc:pw:with:colons"))},
		{name: "client credentials", auth: up.ccAuth(), want: "Bearer tok-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: tc.auth})
			marker := "m=" + tc.name
			resp, body := do(t, "GET", front.URL+"/stu3/Patient/1?"+url.QueryEscape(marker), "", map[string]string{"Authorization": "Bearer sandbox-jwt", "Cookie": "c=1"})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			for _, r := range up.received() {
				if r.RawQuery != url.QueryEscape(marker) {
					continue
				}
				a := r.Header.Get("Authorization")
				if strings.Contains(a, "sandbox-jwt") || r.Header.Get("Cookie") != "" {
					t.Fatalf("client credentials leaked upstream: %q", a)
				}
				if (tc.want == "" && a != "") || !strings.HasPrefix(a, tc.want) {
					t.Fatalf("upstream Authorization = %q, want prefix %q", a, tc.want)
				}
				return
			}
			t.Fatal("request not seen upstream")
		})
	}
}

func TestProxyTokenCachingAndRefresh(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	up.requireTok.Store(true)
	clk := newClock()
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: up.ccAuth(), Now: clk.now})
	get := func() {
		t.Helper()
		resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
	}
	for range 3 {
		get()
	}
	if n := up.fetches.Load(); n != 1 {
		t.Fatalf("token fetches after 3 requests = %d, want 1 (cached)", n)
	}
	clk.advance(3600*time.Second - 61*time.Second)
	get()
	if n := up.fetches.Load(); n != 1 {
		t.Fatalf("token refetched %d times before its refresh point", n-1)
	}
	clk.advance(2 * time.Second) // inside the last minute: replaced before expiry
	get()
	if n := up.fetches.Load(); n != 2 {
		t.Fatalf("token fetches near expiry = %d, want 2", n)
	}
	// The upstream revokes the token early: one 401, one refetch, success.
	up.current.Store("revoked-elsewhere")
	before := len(up.received())
	get()
	if n := up.fetches.Load(); n != 3 {
		t.Fatalf("token fetches after a 401 = %d, want 3", n)
	}
	if n := len(up.received()) - before; n != 2 {
		t.Fatalf("upstream attempts after a 401 = %d, want 2 (one replay)", n)
	}
	get()
	if n := up.fetches.Load(); n != 3 {
		t.Fatalf("fresh token not cached: fetches = %d", n)
	}
}

func TestProxyReplaysBodyAfter401(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	up.requireTok.Store(true)
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: up.ccAuth()})
	do(t, "GET", front.URL+"/stu3/Patient/1", "", nil)
	up.current.Store("rotated")
	const doc = `{"resourceType":"Patient","active":true}`
	resp, body := do(t, "POST", front.URL+"/stu3/Patient", doc, map[string]string{"Content-Type": "application/fhir+json"})
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var posts []string
	for _, r := range up.received() {
		if r.Method == "POST" {
			posts = append(posts, r.Body)
		}
	}
	if len(posts) != 2 || posts[0] != doc || posts[1] != doc {
		t.Fatalf("POST bodies upstream = %q, want the document twice", posts)
	}
}

func TestProxyUpstreamRefusesCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		auth     func(*fakeUpstream) UpstreamAuth
		attempts int
		fetches  int32
	}{
		{name: "static bearer: no retry", auth: func(*fakeUpstream) UpstreamAuth { return UpstreamAuth{BearerToken: "stale"} }, attempts: 1},
		{name: "client credentials: one retry", auth: (*fakeUpstream).ccAuth, attempts: 2, fetches: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="upstream-internal"`)
				w.WriteHeader(http.StatusUnauthorized)
			})
			front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: tc.auth(up)})
			resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", map[string]string{"Authorization": "Bearer sandbox-jwt"})
			wantOutcome(t, resp, body, 502, "transient", "upstream-internal")
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Error("the upstream's challenge reached the client, who would blame its own token")
			}
			if n := len(up.received()); n != tc.attempts {
				t.Errorf("upstream attempts = %d, want %d", n, tc.attempts)
			}
			if n := up.fetches.Load(); n != tc.fetches {
				t.Errorf("token fetches = %d, want %d", n, tc.fetches)
			}
		})
	}
}

func TestProxyTokenEndpointFailures(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name    string
		setup   func(*fakeUpstream) UpstreamAuth
		message string
	}{
		{name: "wrong secret", setup: func(f *fakeUpstream) UpstreamAuth {
			a := f.ccAuth()
			a.ClientSecret = "wrong"
			return a
		}, message: "refused the sandbox's client credentials"},
		{name: "endpoint error", setup: func(f *fakeUpstream) UpstreamAuth { f.tokenFail.Store(500); return f.ccAuth() }, message: "token endpoint failed"},
		{name: "unreachable", setup: func(f *fakeUpstream) UpstreamAuth {
			a := f.ccAuth()
			a.TokenURL = deadURL + "/oauth/token"
			return a
		}, message: "token endpoint is unreachable"},
		{name: "not a token", setup: func(f *fakeUpstream) UpstreamAuth {
			a := f.ccAuth()
			a.TokenURL = f.srv.URL + "/r3/not-a-token-endpoint"
			return a
		}, message: "sent no token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newFakeUpstream(t, nil)
			front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: tc.setup(up)})
			resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", nil)
			oo := wantOutcome(t, resp, body, 502, "transient", "10.0.0.7", "stack trace", strings.TrimPrefix(up.srv.URL, "http://"))
			if !strings.Contains(oo.Issue[0].Diagnostics, tc.message) {
				t.Errorf("diagnostics %q, want it to say %q", oo.Issue[0].Diagnostics, tc.message)
			}
			for _, r := range up.received() {
				if r.Path == "/r3/Patient/1" {
					t.Error("FHIR request sent without a token")
				}
			}
		})
	}
}

func TestProxyConcurrentCallersShareOneTokenFetch(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	up.tokenGate = make(chan struct{})
	h, err := NewProxy(ProxyOptions{Upstream: up.base(), Auth: up.ccAuth(), Prefix: "/stu3", PublicBase: func(*http.Request) string { return "https://sandbox.example/stu3" }})
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var entered sync.WaitGroup
	entered.Add(n)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	var wg sync.WaitGroup
	statuses := make([]int, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(front.URL + "/stu3/Patient/1")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	entered.Wait() // every request is inside the proxy while the token endpoint holds
	close(up.tokenGate)
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	if f := up.fetches.Load(); f != 1 {
		t.Fatalf("token fetches for %d concurrent requests = %d, want 1", n, f)
	}
}

func TestProxyRewritesUpstreamURLs(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b := upBase(r)
		escaped := strings.ReplaceAll(b, "/", `\/`)
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Location", b+"/Patient/9/_history/1")
		w.Header().Set("Content-Location", b+"/Patient/9/_history/1")
		w.Header().Set("Set-Cookie", "upstream=1")
		w.Header().Set("Access-Control-Allow-Origin", "https://upstream-only.example")
		w.Header().Set("X-Request-Id", "upstream-id")
		w.Header().Set("ETag", `W/"1"`)
		w.WriteHeader(http.StatusCreated)
		_, _ = fmt.Fprintf(w, `{"resourceType":"Bundle","link":[{"relation":"self","url":"%[1]s/Patient?name=x"},{"relation":"next","url":"%[1]s/Patient?page=2"}],`+
			`"entry":[{"fullUrl":"%[1]s/Patient/9"},{"fullUrl":"%[1]s"},{"fullUrl":"%[2]s\/Patient\/10"},{"fullUrl":"%[1]sx/Patient/11"},{"fullUrl":"http://elsewhere.example/r3/Patient/12"}]}`, b, escaped)
	})
	front := sandboxFront(t, ProxyOptions{Upstream: up.base() + "/"})
	pub := front.URL + "/stu3"
	resp, body := do(t, "POST", front.URL+"/stu3/Patient", `{"resourceType":"Patient"}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var bundle struct {
		Link  []struct{ Relation, URL string }
		Entry []struct{ FullURL string }
	}
	if err := json.Unmarshal(body, &bundle); err != nil {
		t.Fatalf("rewritten body is not JSON: %v\n%s", err, body)
	}
	want := []string{pub + "/Patient/9", pub, pub + "/Patient/10", up.base() + "x/Patient/11", "http://elsewhere.example/r3/Patient/12"}
	for i, e := range bundle.Entry {
		if e.FullURL != want[i] {
			t.Errorf("entry %d fullUrl = %q, want %q", i, e.FullURL, want[i])
		}
	}
	if bundle.Link[0].URL != pub+"/Patient?name=x" || bundle.Link[1].URL != pub+"/Patient?page=2" {
		t.Errorf("links = %+v", bundle.Link)
	}
	for _, k := range []string{"Location", "Content-Location"} {
		if g := resp.Header.Get(k); g != pub+"/Patient/9/_history/1" {
			t.Errorf("%s = %q", k, g)
		}
	}
	if resp.Header.Get("Content-Length") != strconv.Itoa(len(body)) {
		t.Errorf("Content-Length %q for %d bytes", resp.Header.Get("Content-Length"), len(body))
	}
	for k, want := range map[string]string{"Set-Cookie": "", "Access-Control-Allow-Origin": "*", "X-Request-Id": "req-42", "ETag": `W/"1"`} {
		if g := resp.Header.Get(k); g != want {
			t.Errorf("%s = %q, want %q", k, g, want)
		}
	}
}

func TestProxyPaging(t *testing.T) {
	t.Parallel()
	const total, pageSize = 23, 5
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		// HAPI style: the first page is a search, the next ones hang off
		// the base URL with _getpages.
		off := 0
		if r.URL.Path == "/r3" {
			off, _ = strconv.Atoi(r.URL.Query().Get("_getpagesoffset"))
		} else if r.URL.Path != "/r3/Patient" {
			http.NotFound(w, r)
			return
		}
		type link struct {
			Relation string `json:"relation"`
			URL      string `json:"url"`
		}
		type entry struct {
			FullURL string `json:"fullUrl"`
		}
		b := struct {
			ResourceType string  `json:"resourceType"`
			Total        int     `json:"total"`
			Link         []link  `json:"link"`
			Entry        []entry `json:"entry"`
		}{ResourceType: "Bundle", Total: total}
		b.Link = append(b.Link, link{"self", upBase(r) + "?" + r.URL.RawQuery})
		if off+pageSize < total {
			b.Link = append(b.Link, link{"next", fmt.Sprintf("%s?_getpages=q1&_getpagesoffset=%d&_count=%d", upBase(r), off+pageSize, pageSize)})
		}
		for i := off; i < min(off+pageSize, total); i++ {
			b.Entry = append(b.Entry, entry{fmt.Sprintf("%s/Patient/p%d", upBase(r), i)})
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		_ = json.NewEncoder(w).Encode(b)
	})
	front := sandboxFront(t, ProxyOptions{Upstream: up.base()})
	next := front.URL + "/stu3/Patient?_count=5"
	seen := map[string]bool{}
	for pages := 0; next != ""; pages++ {
		if pages > total {
			t.Fatal("paging does not end")
		}
		if !strings.HasPrefix(next, front.URL+"/stu3") {
			t.Fatalf("next link %q leaves the sandbox", next)
		}
		resp, body := do(t, "GET", next, "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var b struct {
			Link  []struct{ Relation, URL string }
			Entry []struct{ FullURL string }
		}
		if err := json.Unmarshal(body, &b); err != nil {
			t.Fatal(err)
		}
		next = ""
		for _, l := range b.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		for _, e := range b.Entry {
			if !strings.HasPrefix(e.FullURL, front.URL+"/stu3/Patient/") {
				t.Errorf("fullUrl %q leaves the sandbox", e.FullURL)
			}
			seen[e.FullURL] = true
		}
	}
	if len(seen) != total {
		t.Fatalf("paged through %d patients, want %d", len(seen), total)
	}
}

func TestProxyUpstreamDown(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	base := dead.URL + "/r3"
	dead.Close()
	front := sandboxFront(t, ProxyOptions{Upstream: base})
	resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", nil)
	wantOutcome(t, resp, body, 502, "transient", strings.TrimPrefix(dead.URL, "http://"), "connection refused", "dial")
}

func TestProxyUpstreamSlow(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	const timeout = 150 * time.Millisecond
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Timeout: timeout})
	start := time.Now()
	resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", nil)
	elapsed := time.Since(start)
	wantOutcome(t, resp, body, 504, "timeout")
	// generous: the point is that the request does not wait for the
	// upstream, which never answers on its own
	if elapsed > timeout+5*time.Second {
		t.Fatalf("answered after %s with a %s timeout", elapsed, timeout)
	}
}

func TestProxySlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		_, _ = io.WriteString(w, `{"resourceType":"Bundle",`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) })
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Timeout: 150 * time.Millisecond})
	resp, body := do(t, "GET", front.URL+"/stu3/Patient", "", nil)
	wantOutcome(t, resp, body, 504, "timeout")
}

func TestProxyResponseBodies(t *testing.T) {
	t.Parallel()
	const capBytes = 1024
	big := strings.Repeat("a", 2*capBytes)
	for _, tc := range []struct {
		name     string
		ct       string
		status   int
		body     string
		want     int
		wantCode string // "" = passed through
		wantBody string
	}{
		{name: "json over cap refused", ct: "application/fhir+json", status: 200, body: `{"x":"` + big + `"}`, want: 502, wantCode: "too-costly"},
		{name: "unlabelled over cap refused", ct: "", status: 200, body: big, want: 502, wantCode: "too-costly"},
		{name: "binary over cap streamed", ct: "application/pdf", status: 200, body: big, want: 200, wantBody: big},
		{name: "json at cap passed", ct: "application/fhir+json", status: 200, body: `"` + strings.Repeat("b", capBytes-2) + `"`, want: 200, wantBody: `"` + strings.Repeat("b", capBytes-2) + `"`},
		{name: "FHIR 404 passed", ct: "application/fhir+json", status: 404, body: `{"resourceType":"OperationOutcome"}`, want: 404, wantBody: `{"resourceType":"OperationOutcome"}`},
		{name: "FHIR 500 passed", ct: "application/fhir+xml", status: 500, body: `<OperationOutcome/>`, want: 500, wantBody: `<OperationOutcome/>`},
		{name: "load balancer page hidden", ct: "text/html", status: 503, body: `<h1>nginx at 10.0.0.7</h1>`, want: 502, wantCode: "transient"},
		{name: "gateway timeout page", ct: "text/html", status: 504, body: `<h1>10.0.0.7 timed out</h1>`, want: 504, wantCode: "timeout"},
		{name: "plain-text 400", ct: "text/plain", status: 400, body: `java.lang.NullPointerException at 10.0.0.7`, want: 400, wantCode: "processing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.ct != "" {
					w.Header().Set("Content-Type", tc.ct)
				} else {
					w.Header()["Content-Type"] = nil // no sniffing
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			})
			front := sandboxFront(t, ProxyOptions{Upstream: up.base(), MaxBodyBytes: capBytes})
			resp, body := do(t, "GET", front.URL+"/stu3/Binary/1", "", nil)
			if tc.wantCode != "" {
				wantOutcome(t, resp, body, tc.want, tc.wantCode, "10.0.0.7", "nginx", "java.lang")
				return
			}
			if resp.StatusCode != tc.want || string(body) != tc.wantBody {
				t.Fatalf("status %d body %.80q, want %d %.80q", resp.StatusCode, body, tc.want, tc.wantBody)
			}
		})
	}
}

func TestProxyGzipFromUpstreamIsRewritten(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept-Encoding") != "gzip" {
			t.Errorf("upstream asked with Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = fmt.Fprintf(zw, `{"fullUrl":%q}`, upBase(r)+"/Patient/1")
		_ = zw.Close()
	})
	front := sandboxFront(t, ProxyOptions{Upstream: up.base()})
	resp, body := do(t, "GET", front.URL+"/stu3/Patient/1", "", map[string]string{"Accept-Encoding": "br"})
	if resp.StatusCode != 200 || string(body) != fmt.Sprintf(`{"fullUrl":%q}`, front.URL+"/stu3/Patient/1") {
		t.Fatalf("status %d body %s", resp.StatusCode, body)
	}
}

func TestProxyConcurrentRequests(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/fhir+json")
		w.Header().Set("Location", upBase(r)+r.URL.Path[len("/r3"):])
		_, _ = fmt.Fprintf(w, `{"fullUrl":%q}`, upBase(r)+r.URL.Path[len("/r3"):])
	})
	up.requireTok.Store(true)
	front := sandboxFront(t, ProxyOptions{Upstream: up.base(), Auth: up.ccAuth()})
	if resp, body := do(t, "GET", front.URL+"/stu3/Patient/warm", "", nil); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	// The cached token goes stale: every request below meets a 401 with
	// it, and together they must cause exactly one refetch.
	up.current.Store("rotated")
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := fmt.Sprintf("/Patient/p%d", i)
			resp, err := http.Get(front.URL + "/stu3" + path)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			want := fmt.Sprintf(`{"fullUrl":%q}`, front.URL+"/stu3"+path)
			if resp.StatusCode != 200 || string(b) != want || resp.Header.Get("Location") != front.URL+"/stu3"+path {
				t.Errorf("request %d: status %d body %s", i, resp.StatusCode, b)
			}
		}()
	}
	wg.Wait()
	if n := up.fetches.Load(); n != 2 {
		t.Fatalf("token fetches = %d, want 2 (one start, one shared refresh)", n)
	}
}

func TestNewProxyValidates(t *testing.T) {
	t.Parallel()
	pb := func(*http.Request) string { return "http://x/stu3" }
	for _, tc := range []struct {
		name string
		o    ProxyOptions
		ok   bool
	}{
		{name: "ok", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Prefix: "/stu3"}, ok: true},
		{name: "no public base", o: ProxyOptions{Upstream: "https://fhir.example.org/r3"}},
		{name: "relative upstream", o: ProxyOptions{Upstream: "/r3", PublicBase: pb}},
		{name: "ftp upstream", o: ProxyOptions{Upstream: "ftp://fhir.example.org/r3", PublicBase: pb}},
		{name: "credentials in URL", o: ProxyOptions{Upstream: "https://u:p@fhir.example.org/r3", PublicBase: pb}},
		{name: "query in base", o: ProxyOptions{Upstream: "https://fhir.example.org/r3?x=1", PublicBase: pb}},
		{name: "prefix with slash", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Prefix: "/stu3/"}},
		{name: "two auth modes", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Auth: UpstreamAuth{BearerToken: "a", BasicUser: "u"}}},
		{name: "token with newline", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Auth: UpstreamAuth{BearerToken: "a\r\nX-Evil: 1"}}},
		{name: "bad token URL", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Auth: UpstreamAuth{TokenURL: "not a url", ClientID: "c"}}},
		{name: "client credentials without id", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Auth: UpstreamAuth{TokenURL: "https://login.example/token"}}},
		{name: "negative timeout", o: ProxyOptions{Upstream: "https://fhir.example.org/r3", PublicBase: pb, Timeout: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewProxy(tc.o)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRewriterVariants(t *testing.T) {
	t.Parallel()
	const pub = "https://abc.ngrok.app/stu3"
	for _, tc := range []struct {
		name, upstream, in, want string
	}{
		{name: "exact", upstream: "https://fhir.example.org/r3", in: `"https://fhir.example.org/r3/Patient/1"`, want: `"` + pub + `/Patient/1"`},
		{name: "configured with slash", upstream: "https://fhir.example.org/r3/", in: `"https://fhir.example.org/r3/Patient/1"`, want: `"` + pub + `/Patient/1"`},
		{name: "base alone", upstream: "https://fhir.example.org/r3", in: `"https://fhir.example.org/r3"`, want: `"` + pub + `"`},
		{name: "base with query", upstream: "https://fhir.example.org/r3", in: `https://fhir.example.org/r3?_getpages=1`, want: pub + `?_getpages=1`},
		{name: "http spelling of https upstream", upstream: "https://fhir.example.org/r3", in: `"http://fhir.example.org/r3/Patient/1"`, want: `"` + pub + `/Patient/1"`},
		{name: "explicit default port", upstream: "https://fhir.example.org/r3", in: `"https://fhir.example.org:443/r3/x"`, want: `"` + pub + `/x"`},
		{name: "configured upper-case host", upstream: "https://FHIR.example.org/r3", in: `"https://fhir.example.org/r3/x" "https://FHIR.example.org/r3/y"`, want: `"` + pub + `/x" "` + pub + `/y"`},
		{name: "custom port kept strict", upstream: "http://localhost:8080/fhir", in: `"http://localhost:8080/fhir/x" "http://localhost/fhir/x" "https://localhost:8080/fhir/x"`, want: `"` + pub + `/x" "http://localhost/fhir/x" "https://localhost:8080/fhir/x"`},
		{name: "longer path untouched", upstream: "https://fhir.example.org/r3", in: `"https://fhir.example.org/r3x/1"`, want: `"https://fhir.example.org/r3x/1"`},
		{name: "longer host untouched", upstream: "https://fhir.example.org", in: `"https://fhir.example.org.evil/x" "https://fhir.example.org:9/x" "https://fhir.example.org@evil/x"`, want: `"https://fhir.example.org.evil/x" "https://fhir.example.org:9/x" "https://fhir.example.org@evil/x"`},
		{name: "root upstream", upstream: "https://fhir.example.org", in: `"https://fhir.example.org/Patient/1"`, want: `"` + pub + `/Patient/1"`},
		{name: "json escaped", upstream: "https://fhir.example.org/r3", in: `"https:\/\/fhir.example.org\/r3\/Patient\/1"`, want: `"https:\/\/abc.ngrok.app\/stu3\/Patient\/1"`},
		{name: "xml", upstream: "https://fhir.example.org/r3", in: `<fullUrl value="https://fhir.example.org/r3/Patient/1"/>`, want: `<fullUrl value="` + pub + `/Patient/1"/>`},
		{name: "link header", upstream: "https://fhir.example.org/r3", in: `<https://fhir.example.org/r3/Patient?page=2>; rel="next"`, want: `<` + pub + `/Patient?page=2>; rel="next"`},
		{name: "nothing to do", upstream: "https://fhir.example.org/r3", in: `{"resourceType":"Patient","text":"http is fine"}`, want: `{"resourceType":"Patient","text":"http is fine"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, err := parseUpstream(tc.upstream)
			if err != nil {
				t.Fatal(err)
			}
			got := string(newRewriter(tc.upstream, base).rewrite([]byte(tc.in), pub, true))
			if got != tc.want {
				t.Errorf("rewrite(%s)\n got %s\nwant %s", tc.in, got, tc.want)
			}
		})
	}
}

func FuzzRewrite(f *testing.F) {
	const up, pub = "https://fhir.example.org/r3", "https://abc.ngrok.app/stu3"
	f.Add(`{"fullUrl":"https://fhir.example.org/r3/Patient/1"}`, true)
	f.Add(`https:\/\/fhir.example.org\/r3\/x https://fhir.example.org/r3https://fhir.example.org/r3`, true)
	f.Add(`http://fhir.example.org:80/r3?x https://fhir.example.org:443/r3x`, false)
	f.Add(`httphttps://fhir.example.org/r3`, false)
	base, err := parseUpstream(up)
	if err != nil {
		f.Fatal(err)
	}
	rw := newRewriter(up, base)
	f.Fuzz(func(t *testing.T, in string, jsonEsc bool) {
		out := rw.rewrite([]byte(in), pub, jsonEsc)
		// no upstream base is left for the client to follow
		for i := range out {
			if n, _ := rw.match(out[i:], jsonEsc); n > 0 {
				t.Fatalf("upstream base left at %d of %q (from %q)", i, out, in)
			}
		}
		// text without a match is returned as is
		hasMatch := false
		for i := range len(in) {
			if n, _ := rw.match([]byte(in[i:]), jsonEsc); n > 0 {
				hasMatch = true
				break
			}
		}
		if !hasMatch && string(out) != in {
			t.Fatalf("rewrite changed %q to %q without a match", in, out)
		}
		// a JSON string stays a JSON string
		if enc, err := json.Marshal(in); err == nil {
			var back string
			if err := json.Unmarshal(rw.rewrite(enc, pub, true), &back); err != nil {
				t.Fatalf("rewriting JSON %s broke it: %v", enc, err)
			}
		}
	})
}
