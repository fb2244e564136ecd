package tenant

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// UpstreamAuth is how the sandbox authenticates to an upstream FHIR
// server. At most one mode is set: a static bearer token, HTTP Basic, or
// OAuth2 client credentials against the upstream's own token endpoint.
// None set means the upstream is called without credentials.
type UpstreamAuth struct {
	BearerToken              string
	BasicUser, BasicPassword string
	// Client credentials (RFC 6749 §4.4) against the upstream's token
	// endpoint; the credentials go in the form body (client_secret_post),
	// which Azure AD, Keycloak and most others accept.
	TokenURL, ClientID, ClientSecret, Scope string
}

// maxTokenResponse bounds what is read from an upstream token endpoint: a
// token response is a few KiB at most, and anything larger is not one.
const maxTokenResponse = 1 << 20

// upstreamCredential adds the sandbox's credentials to an upstream request.
type upstreamCredential interface {
	// authorize sets the Authorization header and returns the value used,
	// so that a 401 can invalidate exactly that token.
	authorize(ctx context.Context, req *http.Request) (string, error)
	// refreshable reports whether a 401 is worth one retry with a freshly
	// fetched credential.
	refreshable() bool
	// invalidate drops a credential the upstream refused.
	invalidate(used string)
}

// tokenError is a failure to obtain a token from the upstream's token
// endpoint. Its message is safe to show a client: it names what failed,
// never the endpoint's answer.
type tokenError struct {
	msg string
	err error
}

func (e *tokenError) Error() string { return e.msg + ": " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

func newCredential(a UpstreamAuth, rt http.RoundTripper, now func() time.Time, timeout time.Duration) (upstreamCredential, error) {
	modes := 0
	if a.BearerToken != "" {
		modes++
	}
	if a.BasicUser != "" || a.BasicPassword != "" {
		modes++
	}
	cc := a.TokenURL != "" || a.ClientID != "" || a.ClientSecret != "" || a.Scope != ""
	if cc {
		modes++
	}
	if modes > 1 {
		return nil, errors.New("upstream auth: set only one of bearer token, basic user/password, or client credentials")
	}
	switch {
	case a.BearerToken != "":
		if !validHeaderValue(a.BearerToken) {
			return nil, errors.New("upstream auth: bearer token contains characters not allowed in a header")
		}
		return staticCredential("Bearer " + a.BearerToken), nil
	case a.BasicUser != "" || a.BasicPassword != "":
		if strings.Contains(a.BasicUser, ":") {
			return nil, errors.New("upstream auth: basic user must not contain ':'")
		}
		return staticCredential("Basic " + base64.StdEncoding.EncodeToString([]byte(a.BasicUser+":"+a.BasicPassword))), nil
	case cc:
		u, err := url.Parse(a.TokenURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("upstream auth: token URL %q is not an absolute http(s) URL without credentials", a.TokenURL)
		}
		if a.ClientID == "" {
			return nil, errors.New("upstream auth: client credentials need a client id")
		}
		return &tokenSource{
			rt: rt, now: now, timeout: timeout,
			tokenURL: u.String(), clientID: a.ClientID, secret: a.ClientSecret, scope: a.Scope,
		}, nil
	}
	return noCredential{}, nil
}

func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

type noCredential struct{}

func (noCredential) authorize(context.Context, *http.Request) (string, error) { return "", nil }
func (noCredential) refreshable() bool                                        { return false }
func (noCredential) invalidate(string)                                        {}

type staticCredential string

func (c staticCredential) authorize(_ context.Context, req *http.Request) (string, error) {
	req.Header.Set("Authorization", string(c))
	return string(c), nil
}
func (staticCredential) refreshable() bool { return false }
func (staticCredential) invalidate(string) {}

// tokenSource fetches and caches client-credentials tokens. Concurrent
// callers that find no valid token share one fetch, so a burst of
// requests after expiry costs the upstream's token endpoint one call.
type tokenSource struct {
	rt       http.RoundTripper
	now      func() time.Time
	timeout  time.Duration
	tokenURL string
	clientID string
	secret   string
	scope    string

	mu       sync.Mutex
	token    string
	refresh  time.Time // when the cached token stops being used
	inflight *tokenFetch
}

type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

func (s *tokenSource) refreshable() bool { return true }

func (s *tokenSource) authorize(ctx context.Context, req *http.Request) (string, error) {
	tok, err := s.get(ctx)
	if err != nil {
		return "", err
	}
	v := "Bearer " + tok
	req.Header.Set("Authorization", v)
	return v, nil
}

// invalidate drops the cached token if it is the one the upstream refused;
// a newer token fetched meanwhile by another request is kept, so a burst
// of 401s on one stale token causes one refetch, not one each.
func (s *tokenSource) invalidate(used string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && "Bearer "+s.token == used {
		s.token = ""
	}
}

func (s *tokenSource) get(ctx context.Context) (string, error) {
	s.mu.Lock()
	if s.token != "" && s.now().Before(s.refresh) {
		tok := s.token
		s.mu.Unlock()
		return tok, nil
	}
	f := s.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		s.inflight = f
		// The fetch runs detached from the request that started it: a
		// client hanging up must not fail every other request waiting
		// on the same token. It is bounded by its own timeout.
		go s.run(f)
	}
	s.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (s *tokenSource) run(f *tokenFetch) {
	ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
	defer cancel()
	tok, life, err := s.fetch(ctx)
	s.mu.Lock()
	if err == nil {
		s.token = tok
		s.refresh = s.now().Add(life - refreshMargin(life))
	}
	f.token, f.err = tok, err
	s.inflight = nil
	s.mu.Unlock()
	close(f.done)
}

// refreshMargin is how long before expiry a token is replaced: a minute,
// or a fifth of a short lifetime, so a token is never sent in its last
// seconds and rejected in flight.
func refreshMargin(life time.Duration) time.Duration {
	return min(time.Minute, life/5)
}

// defaultTokenLife applies when the endpoint omits expires_in (RFC 6749
// makes it optional): short, because a 401 also triggers a refetch.
const defaultTokenLife = 5 * time.Minute

func (s *tokenSource) fetch(ctx context.Context) (string, time.Duration, error) {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.clientID}}
	if s.secret != "" {
		form.Set("client_secret", s.secret)
	}
	if s.scope != "" {
		form.Set("scope", s.scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, &tokenError{msg: "the upstream token request could not be built", err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := s.rt.RoundTrip(req)
	if err != nil {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint is unreachable", err: stripURL(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse+1))
	if err != nil {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint answered incompletely", err: stripURL(err)}
	}
	if resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint refused the sandbox's client credentials", err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	if resp.StatusCode != http.StatusOK {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint failed", err: fmt.Errorf("status %d", resp.StatusCode)}
	}
	if len(body) > maxTokenResponse {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint sent an oversized answer", err: fmt.Errorf("more than %d bytes", maxTokenResponse)}
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint sent no token", err: fmt.Errorf("decode token response: %w", err)}
	}
	if tr.AccessToken == "" || !validHeaderValue(tr.AccessToken) {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint sent no token", err: errors.New("access_token missing or not a header value")}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "bearer") {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint sent a token the sandbox cannot use", err: fmt.Errorf("token_type %q", tr.TokenType)}
	}
	life, err := parseExpiresIn(tr.ExpiresIn)
	if err != nil {
		return "", 0, &tokenError{msg: "the upstream server's token endpoint sent no token", err: err}
	}
	return tr.AccessToken, life, nil
}

// parseExpiresIn reads expires_in as a JSON number or, as Azure AD v1
// sends it, a string of digits.
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return defaultTokenLife, nil
	}
	if unq, err := strconv.Unquote(s); err == nil {
		s = unq
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n > 0 && n <= 366*24*3600) { // also refuses NaN
		return 0, fmt.Errorf("expires_in %q is not a positive number of seconds", s)
	}
	return time.Duration(n * float64(time.Second)), nil
}

// stripURL drops the URL a *url.Error carries: it holds the query string,
// which may name a patient, and logs must not.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", strings.ToLower(ue.Op), ue.Err)
	}
	return err
}
