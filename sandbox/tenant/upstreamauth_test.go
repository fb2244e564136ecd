package tenant

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseExpiresIn(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw  string
		want time.Duration
		ok   bool
	}{
		{raw: `3600`, want: time.Hour, ok: true},
		{raw: `"3599"`, want: 3599 * time.Second, ok: true}, // Azure AD v1
		{raw: `1.5`, want: 1500 * time.Millisecond, ok: true},
		{raw: ``, want: defaultTokenLife, ok: true},
		{raw: `null`, want: defaultTokenLife, ok: true},
		{raw: `0`},
		{raw: `-5`},
		{raw: `"soon"`},
		{raw: `1e300`},
		{raw: `NaN`},
		{raw: `"NaN"`},
		{raw: `"+Inf"`},
		{raw: `{}`},
	} {
		got, err := parseExpiresIn(json.RawMessage(tc.raw))
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("parseExpiresIn(%s) = %v, %v; want %v ok=%v", tc.raw, got, err, tc.want, tc.ok)
		}
	}
}

func TestRefreshMargin(t *testing.T) {
	t.Parallel()
	for life, want := range map[time.Duration]time.Duration{
		time.Hour:        time.Minute,
		10 * time.Second: 2 * time.Second,
		time.Second:      200 * time.Millisecond,
	} {
		if got := refreshMargin(life); got != want {
			t.Errorf("refreshMargin(%s) = %s, want %s", life, got, want)
		}
	}
}

// roundTripFunc serves token requests in process, for tests of the token
// source alone.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func tokenResponse(status int, body string) *http.Response {
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(strings.NewReader(body))}
}

func TestTokenSourceWaiterCancelDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	gate := make(chan struct{})
	calls := 0
	ts := &tokenSource{
		rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			calls++
			<-gate
			return tokenResponse(200, `{"access_token":"t1","token_type":"bearer","expires_in":60}`), nil
		}),
		now: newClock().now, timeout: time.Minute, tokenURL: "https://login.example/token", clientID: "c",
	}
	// The first caller starts the fetch and hangs up.
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := ts.get(ctx); first <- err }()
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
	// A second caller still gets the token the first one started fetching.
	second := make(chan string, 1)
	go func() { tok, _ := ts.get(context.Background()); second <- tok }()
	close(gate)
	if tok := <-second; tok != "t1" {
		t.Fatalf("second caller got %q", tok)
	}
	if calls != 1 {
		t.Fatalf("token endpoint called %d times", calls)
	}
}

func TestTokenSourceInvalidateOnlyTheRefusedToken(t *testing.T) {
	t.Parallel()
	n := 0
	ts := &tokenSource{
		rt: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			n++
			return tokenResponse(200, `{"access_token":"t`+string(rune('0'+n))+`","expires_in":"3600"}`), nil
		}),
		now: newClock().now, timeout: time.Minute, tokenURL: "https://login.example/token", clientID: "c",
	}
	ctx := context.Background()
	if tok, err := ts.get(ctx); err != nil || tok != "t1" {
		t.Fatalf("get = %q, %v", tok, err)
	}
	ts.invalidate("Bearer t1")
	if tok, _ := ts.get(ctx); tok != "t2" {
		t.Fatalf("after invalidate got %q", tok)
	}
	// a late 401 for the old token must not throw away the new one
	ts.invalidate("Bearer t1")
	if tok, _ := ts.get(ctx); tok != "t2" || n != 2 {
		t.Fatalf("stale invalidate refetched: token %q after %d fetches", tok, n)
	}
}

func TestTokenSourceSendsClientCredentials(t *testing.T) {
	t.Parallel()
	up := newFakeUpstream(t, nil)
	cred, err := newCredential(up.ccAuth(), http.DefaultTransport, newClock().now, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "http://x/", nil)
	used, err := cred.authorize(context.Background(), req)
	if err != nil || used != "Bearer tok-1" || req.Header.Get("Authorization") != used {
		t.Fatalf("authorize = %q, %v; header %q", used, err, req.Header.Get("Authorization"))
	}
}

func FuzzTokenResponse(f *testing.F) {
	f.Add(200, `{"access_token":"abc","token_type":"Bearer","expires_in":3600}`)
	f.Add(200, `{"access_token":"abc","expires_in":"3599"}`)
	f.Add(200, `{"access_token":"a\r\nb"}`)
	f.Add(200, `{"access_token":"abc","token_type":"mac"}`)
	f.Add(401, `{"error":"invalid_client"}`)
	f.Add(200, `[]`)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 100 || status > 999 {
			return
		}
		ts := &tokenSource{
			rt:  roundTripFunc(func(*http.Request) (*http.Response, error) { return tokenResponse(status, body), nil }),
			now: time.Now, timeout: time.Minute, tokenURL: "https://login.example/token", clientID: "c",
		}
		tok, life, err := ts.fetch(context.Background())
		if err != nil {
			var te *tokenError
			if !errors.As(err, &te) || te.msg == "" {
				t.Fatalf("error %v is not a tokenError with a message for the client", err)
			}
			return
		}
		if status != 200 || tok == "" || !validHeaderValue(tok) || life <= 0 {
			t.Fatalf("accepted status %d token %q life %s", status, tok, life)
		}
	})
}
