package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

const (
	// MaxBodySize caps the form body of the token, introspection and
	// revocation endpoints.
	MaxBodySize = 64 << 10

	maxSecretLen  = 1024
	formMediaType = "application/x-www-form-urlencoded"
	basicRealm    = `Basic realm="fhirsandbox"`
	grantClient   = "client_credentials"
)

// oauthError is an RFC 6749 §5.2 error answer.
type oauthError struct {
	status     int
	code       string
	desc       string // ASCII without '"' or '\' (RFC 6749 §5.2)
	challenge  bool   // add WWW-Authenticate: Basic
	retryAfter time.Duration
	reason     string // why, for the log and the metrics (Refused*); empty: code
}

// Why the token endpoints refused a request, as the request's log line
// and the fhirsandbox_tokens_refused_total metric name it. The client is
// told less (an unknown client and a wrong secret get the same answer);
// the operator is told this. Other refusals are named by their RFC 6749
// error code (invalid_request, unsupported_grant_type, invalid_scope...).
const (
	RefusedUnknownClient    = "unknown_client"
	RefusedWrongSecret      = "wrong_secret"
	RefusedSecretExpired    = "secret_expired"
	RefusedSecretRevoked    = "secret_revoked"
	RefusedInvalidClient    = "invalid_client"
	RefusedNoCredentials    = "no_client_credentials"
	RefusedTooLong          = "credentials_too_long"
	RefusedNoTenant         = "no_tenant_in_scope"
	RefusedUnknownTenant    = "unknown_tenant"
	RefusedTenantNotAllowed = "tenant_not_allowed"
	RefusedThrottled        = "throttled"
	RefusedAssertion        = "invalid_client_assertion"
	RefusedScopeNotAllowed  = "scope_not_allowed"
)

// refuse records why the request was refused in its request note.
func refuse(r *http.Request, reason string) {
	if n := reqnote.From(r.Context()); n != nil && reason != "" {
		n.Refuse(reason)
	}
}

func badRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", desc: desc}
}

func invalidClient(desc string, challenge bool) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", desc: desc, challenge: challenge}
}

func invalidScope(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", desc: desc}
}

func tooMany(d time.Duration) *oauthError {
	secs := max(int64(math.Ceil(d.Seconds())), 1)
	return &oauthError{
		status: http.StatusTooManyRequests, code: "temporarily_unavailable",
		desc:       "too many failed authentication attempts; retry after " + strconv.FormatInt(secs, 10) + " seconds",
		retryAfter: time.Duration(secs) * time.Second,
	}
}

// noStore marks every token endpoint answer uncacheable (RFC 6749 §5.1).
func noStore(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"server_error"}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	if e.challenge {
		w.Header().Set("WWW-Authenticate", basicRealm)
	}
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64(e.retryAfter/time.Second), 10))
	}
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.desc})
}

type endpoint int

const (
	epToken endpoint = iota
	epIntrospect
	epRevoke
)

// formRequest is a parsed token, introspection or revocation request.
type formRequest struct {
	grantType string
	scope     string
	hasScope  bool
	clientID  string
	secret    string
	basic     bool // credentials came in the Authorization header
	token     string
	assertion string // private_key_jwt client_assertion
}

// parseForm reads a request's inputs once: the content type, the raw
// query (which must not carry credentials), the Authorization header
// values and the body. It checks shape only; credentials are checked by
// the caller.
func parseForm(ep endpoint, contentType string, authz []string, rawQuery string, body []byte) (*formRequest, *oauthError) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != formMediaType {
		return nil, badRequest("the body must be " + formMediaType)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, badRequest("the body must be UTF-8")
	}
	if rawQuery != "" {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return nil, badRequest("malformed query string")
		}
		for _, k := range [...]string{"client_id", "client_secret", "client-id", "client-secret", "client_assertion"} {
			if q.Has(k) {
				return nil, badRequest("client credentials must not be sent in the query string; use the body or HTTP Basic")
			}
		}
	}
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, badRequest("malformed form body")
	}
	// RFC 6749 §3.2: parameters must not repeat, and url.Values.Get would
	// silently take the first.
	for _, k := range [...]string{"grant_type", "scope", "client_id", "client_secret", "token", "token_type_hint", "client_assertion", "client_assertion_type"} {
		if len(v[k]) > 1 {
			return nil, badRequest("parameter " + k + " given more than once")
		}
	}
	for _, typo := range [...][2]string{{"grant-type", "grant_type"}, {"client-id", "client_id"}, {"client-secret", "client_secret"}} {
		if v.Has(typo[0]) && !v.Has(typo[1]) {
			return nil, badRequest("unknown parameter " + typo[0] + ": the parameter is " + typo[1] + " (with an underscore)")
		}
	}
	req := &formRequest{
		grantType: v.Get("grant_type"),
		scope:     v.Get("scope"),
		hasScope:  v.Has("scope"),
		clientID:  v.Get("client_id"),
		secret:    v.Get("client_secret"),
		token:     v.Get("token"),
		assertion: v.Get("client_assertion"),
	}
	if v.Has("client_assertion") || v.Has("client_assertion_type") {
		switch {
		case v.Get("client_assertion_type") != AssertionType:
			return nil, invalidClient("client_assertion_type must be "+AssertionType, false)
		case req.assertion == "":
			return nil, invalidClient("client_assertion missing", false)
		case v.Has("client_secret") || len(authz) > 0:
			return nil, badRequest("more than one client authentication method: send client_assertion alone, without client_secret or HTTP Basic")
		}
	}
	if ep == epToken {
		switch {
		case !v.Has("grant_type") || req.grantType == "":
			return nil, badRequest("missing grant_type (want client_credentials)")
		case req.grantType != grantClient:
			return nil, &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", desc: "only the client_credentials grant is supported"}
		}
	} else if req.token == "" {
		return nil, badRequest("missing token parameter")
	}
	switch len(authz) {
	case 0:
	case 1:
		if v.Has("client_secret") {
			return nil, badRequest("client credentials sent both in the Authorization header and in the body; use one")
		}
		if e := req.basicAuth(authz[0]); e != nil {
			return nil, e
		}
	default:
		return nil, badRequest("more than one Authorization header")
	}
	if !req.basic && v.Has("client_secret") && !v.Has("client_id") {
		return nil, invalidClient("client_secret without client_id", false)
	}
	return req, nil
}

// basicAuth reads HTTP Basic client credentials. RFC 6749 §2.3.1 has the
// client form-urlencode id and secret before base64, so a secret with ':',
// '+' or '%' survives; a bad %-escape is a malformed request.
func (req *formRequest) basicAuth(h string) *oauthError {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if !strings.EqualFold(scheme, "Basic") {
		return invalidClient("unsupported authentication scheme: use HTTP Basic or client_id and client_secret in the body", true)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return badRequest("malformed Basic credentials: not base64")
	}
	id, secret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return badRequest("malformed Basic credentials: no colon between client id and secret")
	}
	if id, err = url.QueryUnescape(id); err != nil {
		return badRequest("malformed Basic credentials: the client id must be form-urlencoded (RFC 6749 section 2.3.1)")
	}
	if secret, err = url.QueryUnescape(secret); err != nil {
		return badRequest("malformed Basic credentials: the secret must be form-urlencoded (RFC 6749 section 2.3.1)")
	}
	if req.clientID != "" && req.clientID != id {
		return badRequest("client_id in the body differs from the one in the Authorization header")
	}
	req.clientID, req.secret, req.basic = id, secret, true
	return nil
}

// parseScope finds the one tenant GUID among the space-separated scope
// tokens and returns it canonical, with the other scopes in their order.
func parseScope(s string) (string, []string, *oauthError) {
	if len(s) > maxScopeLen {
		return "", nil, invalidScope("scope too long")
	}
	var tid string
	var extra []string
	for _, tok := range strings.Split(s, " ") {
		if tok == "" {
			continue
		}
		if !validScopeToken(tok) {
			return "", nil, invalidScope("scope holds characters RFC 6749 section 3.3 does not allow")
		}
		g, err := spec.ParseGUID(tok)
		switch {
		case err == nil && tid != "" && g != tid:
			return "", nil, invalidScope("scope names more than one tenant; ask for one token per tenant")
		case err == nil:
			tid = g
		case looksLikeGUID(tok):
			return "", nil, invalidScope("malformed tenant GUID in scope (want 8-4-4-4-12 hex digits)")
		default:
			extra = append(extra, tok)
		}
	}
	if tid == "" {
		return "", nil, invalidScope("scope must carry the tenant GUID")
	}
	extra, err := extraScopes(extra)
	if err != nil {
		return "", nil, invalidScope("too many scopes")
	}
	return tid, extra, nil
}

// readBody reads at most MaxBodySize bytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, *oauthError) {
	tooLarge := &oauthError{status: http.StatusRequestEntityTooLarge, code: "invalid_request", desc: "request body over 64 KiB"}
	if r.ContentLength > MaxBodySize {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodySize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, badRequest("could not read the request body")
	}
	return b, nil
}

// Token returns the RFC 6749 §4.4 token endpoint (POST /token).
func (a *Authority) Token() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serveForm(w, r, epToken) })
}

// Introspect returns the RFC 7662 introspection endpoint
// (POST /token/introspect). A client sees only its own tokens as active.
func (a *Authority) Introspect() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serveForm(w, r, epIntrospect) })
}

// Revoke returns the RFC 7009 revocation endpoint (POST /token/revoke).
func (a *Authority) Revoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { a.serveForm(w, r, epRevoke) })
}

func (a *Authority) serveForm(w http.ResponseWriter, r *http.Request, ep endpoint) {
	noStore(w)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", desc: "use POST"})
		return
	}
	addr := a.remoteAddr(r)
	if d := a.throttle.check("", addr, a.now()); d > 0 {
		a.log.Warn("auth request throttled", "addr", addr)
		refuse(r, RefusedThrottled)
		writeOAuthError(w, tooMany(d))
		return
	}
	body, e := readBody(w, r)
	if e != nil {
		refuse(r, e.code)
		writeOAuthError(w, e)
		return
	}
	req, e := parseForm(ep, r.Header.Get("Content-Type"), r.Header.Values("Authorization"), r.URL.RawQuery, body)
	if e != nil {
		if e.status == http.StatusUnauthorized {
			a.throttle.fail("", addr, a.now())
		}
		refuse(r, e.code)
		writeOAuthError(w, e)
		return
	}
	base := a.base(r)
	client, secret, e := a.authenticate(r, req, addr, base+a.tokenPath)
	if e != nil {
		refuse(r, e.reason)
		writeOAuthError(w, e)
		return
	}
	if n := reqnote.From(r.Context()); n != nil {
		n.Authenticated("", client.ID)
	}
	a.onAuth(r, client.ID)
	switch ep {
	case epToken:
		a.issue(w, r, req, client, secret, base)
	case epIntrospect:
		a.introspect(w, req, client, base)
	case epRevoke:
		a.revoke(w, req, client, base)
	}
}

func (a *Authority) authenticate(r *http.Request, req *formRequest, addr, tokenURL string) (*Client, *Secret, *oauthError) {
	now := a.now()
	if req.assertion != "" {
		return a.authenticateJWT(r, req, addr, tokenURL)
	}
	if d := a.throttle.check(req.clientID, addr, now); d > 0 {
		a.log.Warn("auth request throttled", "client_id", truncate(req.clientID), "addr", addr)
		e := tooMany(d)
		e.reason = RefusedThrottled
		return nil, nil, e
	}
	// desc is what the client is told; reason is what the log and the
	// metrics say (an unknown client and a wrong secret look alike to
	// the caller, not to the operator)
	fail := func(reason, desc string) (*Client, *Secret, *oauthError) {
		a.throttle.fail(req.clientID, addr, now)
		a.log.Info("client authentication failed", "client_id", truncate(req.clientID), "addr", addr, "reason", reason)
		e := invalidClient(desc, req.basic || req.clientID == "")
		e.reason = reason
		return nil, nil, e
	}
	switch {
	case req.clientID == "":
		return fail(RefusedNoCredentials, "client authentication required: HTTP Basic, or client_id and client_secret in the body")
	case req.secret == "":
		return fail(RefusedNoCredentials, "client_secret missing")
	case len(req.clientID) > maxIDLen || len(req.secret) > maxSecretLen:
		return fail(RefusedTooLong, "client authentication failed")
	}
	c, s, err := a.reg.Authenticate(req.clientID, req.secret)
	switch {
	case errors.Is(err, ErrSecretExpired):
		return fail(RefusedSecretExpired, "client secret expired")
	case errors.Is(err, ErrSecretRevoked):
		return fail(RefusedSecretRevoked, "client secret revoked")
	case errors.Is(err, ErrUnknownClient):
		return fail(RefusedUnknownClient, "client authentication failed")
	case errors.Is(err, ErrWrongSecret):
		return fail(RefusedWrongSecret, "client authentication failed")
	case err != nil:
		return fail(RefusedInvalidClient, "client authentication failed")
	}
	return c, s, nil
}

// authenticateJWT authenticates by private_key_jwt. Failures count in
// the same throttle as wrong secrets, keyed by the client id the request
// or the assertion names.
func (a *Authority) authenticateJWT(r *http.Request, req *formRequest, addr, tokenURL string) (*Client, *Secret, *oauthError) {
	now := a.now()
	as, err := ParseAssertion(req.assertion)
	id := req.clientID
	if id == "" && err == nil {
		id = as.Issuer
	}
	if d := a.throttle.check(id, addr, now); d > 0 {
		a.log.Warn("auth request throttled", "client_id", truncate(id), "addr", addr)
		e := tooMany(d)
		e.reason = RefusedThrottled
		return nil, nil, e
	}
	var c *Client
	if err == nil {
		c, id, err = a.authenticateAssertion(r.Context(), req, as, tokenURL)
	}
	if err != nil {
		a.throttle.fail(id, addr, now)
		desc := err.Error()
		a.log.Info("client authentication failed", "client_id", truncate(id), "addr", addr, "reason", desc)
		e := invalidClient(safeDesc(desc), false)
		e.reason = RefusedAssertion
		return nil, nil, e
	}
	return c, nil, nil
}

// safeDesc makes text fit for error_description (RFC 6749 section 5.2:
// printable ASCII without '"' or '\').
func safeDesc(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c == '"':
			b[i] = '\''
		case c == '\\':
			b[i] = '/'
		case c < 0x20 || c > 0x7e:
			b[i] = '?'
		}
	}
	return string(b)
}

// grantScopes decides the scopes beside the tenant GUID. SMART system
// scopes asked for are parsed (a malformed one is invalid_scope). A client
// without registered scopes gets what it asks for, as before scopes were
// registered; a client with scopes gets those of its allowed scopes the
// request covers (all of them when it asks for none), and invalid_scope
// when it asks only for system scopes none of which is allowed.
func grantScopes(c *Client, extra []string) ([]string, *oauthError) {
	var other []string
	var asked smartscope.Set
	for _, tok := range extra {
		if !smartscope.IsSystemScope(tok) {
			other = append(other, tok)
			continue
		}
		sc, err := smartscope.Parse(tok)
		if err != nil {
			return nil, invalidScope(safeDesc(err.Error()))
		}
		asked = append(asked, sc)
	}
	if len(c.Scopes) == 0 {
		return extra, nil
	}
	allowed, err := smartscope.ParseSet(strings.Join(c.Scopes, " "))
	if err != nil { // checked when registered
		return nil, invalidScope("the client's registered scopes are malformed")
	}
	granted := smartscope.Grant(asked, allowed)
	if len(asked) > 0 && len(granted) == 0 {
		return nil, invalidScope("none of the requested system scopes is allowed for this client (allowed: " + strings.Join(c.Scopes, " ") + ")")
	}
	return append(other, granted.Strings()...), nil
}

func (a *Authority) issue(w http.ResponseWriter, r *http.Request, req *formRequest, c *Client, s *Secret, base string) {
	if !req.hasScope {
		refuse(r, RefusedNoTenant)
		writeOAuthError(w, invalidScope("scope must carry the tenant GUID"))
		return
	}
	tid, extra, e := parseScope(req.scope)
	if e != nil {
		refuse(r, e.code)
		writeOAuthError(w, e)
		return
	}
	if !a.tenantKnown(tid) {
		refuse(r, RefusedUnknownTenant)
		writeOAuthError(w, invalidScope("unknown tenant "+tid))
		return
	}
	if !c.Allows(tid) {
		a.log.Info("token refused", "client_id", c.ID, "tenant", tid, "reason", RefusedTenantNotAllowed)
		refuse(r, RefusedTenantNotAllowed)
		writeOAuthError(w, invalidScope("this client is not allowed tenant "+tid))
		return
	}
	if extra, e = grantScopes(c, extra); e != nil {
		refuse(r, RefusedScopeNotAllowed)
		writeOAuthError(w, e)
		return
	}
	if n := reqnote.From(r.Context()); n != nil {
		n.Authenticated(tid, c.ID)
	}
	secretID := ""
	if s != nil {
		secretID = s.ID
	}
	raw, cl, err := a.mint(c.ID, tid, extra, secretID, base)
	if err != nil {
		a.log.Error("mint token", "client_id", c.ID, "err", err)
		writeOAuthError(w, &oauthError{status: http.StatusInternalServerError, code: "server_error", desc: "could not issue a token"})
		return
	}
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: raw, TokenType: "Bearer",
		ExpiresIn: int64(cl.Expiry.Sub(cl.IssuedAt) / time.Second), Scope: cl.Scope,
	})
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// introspection is an RFC 7662 §2.2 answer.
type introspection struct {
	Active    bool     `json:"active"`
	Scope     string   `json:"scope,omitempty"`
	ClientID  string   `json:"client_id,omitempty"`
	TokenType string   `json:"token_type,omitempty"`
	Exp       int64    `json:"exp,omitempty"`
	Iat       int64    `json:"iat,omitempty"`
	Nbf       int64    `json:"nbf,omitempty"`
	Sub       string   `json:"sub,omitempty"`
	Aud       []string `json:"aud,omitempty"`
	Iss       string   `json:"iss,omitempty"`
	Jti       string   `json:"jti,omitempty"`
	Tid       string   `json:"tid,omitempty"`
}

func (a *Authority) introspect(w http.ResponseWriter, req *formRequest, c *Client, base string) {
	cl, err := a.Verify(req.token, base)
	if err != nil || cl.ClientID != c.ID {
		// Another client's token is reported inactive: introspection must
		// not become a way to probe tokens one does not hold.
		writeJSON(w, http.StatusOK, introspection{Active: false})
		return
	}
	writeJSON(w, http.StatusOK, introspection{
		Active: true, Scope: cl.Scope, ClientID: cl.ClientID, TokenType: "Bearer",
		Exp: cl.Expiry.Unix(), Iat: cl.IssuedAt.Unix(), Nbf: cl.NotBefore.Unix(),
		Sub: cl.Subject, Aud: cl.Audience, Iss: cl.Issuer, Jti: cl.ID, Tid: cl.Tenant,
	})
}

func (a *Authority) revoke(w http.ResponseWriter, req *formRequest, c *Client, base string) {
	cl, err := a.Verify(req.token, base)
	if err != nil {
		// RFC 7009 §2.2: an invalid token is no error; it is dead already.
		w.WriteHeader(http.StatusOK)
		return
	}
	if cl.ClientID != c.ID {
		writeOAuthError(w, &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", desc: "the token was not issued to this client"})
		return
	}
	if err := a.RevokeToken(cl.ID); err != nil {
		a.log.Error("revoke token", "client_id", c.ID, "err", err)
		if errors.Is(err, ErrRevocationNotPersisted) {
			// revoked in this process, but a restart would forget it
			writeOAuthError(w, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "the revocation could not be saved; it applies until the server restarts: try again later"})
			return
		}
		writeOAuthError(w, &oauthError{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "cannot record more revocations now"})
		return
	}
	w.WriteHeader(http.StatusOK)
}

// JWKS returns the key set endpoint (GET /.well-known/jwks.json): public
// keys only, every published key with kid, alg and use.
func (a *Authority) JWKS() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method_not_allowed", "error_description": "use GET"})
			return
		}
		b, err := a.keys.jwks()
		if err != nil {
			a.log.Error("render jwks", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error"})
			return
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", jwksCacheAge)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(b)
		}
	})
}
