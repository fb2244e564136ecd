package admin

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// MaxBodyBytes caps every admin API request body.
const MaxBodyBytes = 64 << 10

// Realm is the realm of the admin API's WWW-Authenticate challenge.
const Realm = "fhirsandbox-admin"

// APIOptions configure the admin API.
type APIOptions struct {
	// Token is the admin bearer credential. Empty: TokenSHA256 is used,
	// and when that is zero too every request is refused with 401.
	Token string
	// TokenSHA256 is the SHA-256 of the admin token, for a server that
	// kept only the digest (a generated token restored from a state file).
	TokenSHA256 [32]byte
	// AllowRemote serves callers that are not on loopback or that came
	// through a proxy or tunnel (config: admin.allow_remote).
	AllowRemote bool
	// Journal serves /admin/api/requests; nil leaves those routes out.
	Journal Journal
	// Scenarios serves /admin/api/scenarios; nil leaves those routes out.
	Scenarios Scenarios
	// Importer serves POST /admin/api/tenants/{id}/import; nil leaves
	// the route out.
	Importer Importer
	// Logger receives what a caller is not shown (a scenario library
	// that loaded only in part). Default: discard.
	Logger *slog.Logger
	// NewTenantPatients and NewTenantSeed are what POST
	// /admin/api/tenants gives a synthetic tenant whose body leaves out
	// patients or seed (config: tenant_defaults).
	NewTenantPatients int
	NewTenantSeed     int64
}

// NewAPI returns the JSON admin API over svc, to be mounted at
// "/admin/api/". Middleware, outermost first: loopback-only (unless
// AllowRemote), cross-origin protection (a cross-site unsafe request is
// 403), the admin bearer token, then the routes. The API's OpenAPI
// document, GET /admin/api/openapi.json, needs no token (it holds no
// data) but is loopback-only like the rest.
func NewAPI(svc Service, opts APIOptions) http.Handler {
	h, _ := newAPI(svc, opts)
	return h
}

// apiRoute is one pattern of the API's mux and the methods it serves.
type apiRoute struct {
	pattern string
	methods []string
}

// OpenAPIPath is where the API serves its OpenAPI 3 document.
const OpenAPIPath = "/admin/api/openapi.json"

// openAPIDocument is the OpenAPI 3 document of the API; a test keeps its
// paths and methods equal to the routes newAPI registers.
//
//go:embed openapi.json
var openAPIDocument string

// newAPI builds the API and lists the routes it registered (every route,
// with the optional parts given), for the test that keeps the OpenAPI
// document complete.
func newAPI(svc Service, opts APIOptions) (http.Handler, []apiRoute) {
	a := &api{svc: svc, newPatients: opts.NewTenantPatients, newSeed: opts.NewTenantSeed}
	mux := http.NewServeMux()
	var routes []apiRoute
	route := func(pattern string, methods map[string]http.HandlerFunc) {
		mux.Handle(pattern, methodSwitch(methods))
		routes = append(routes, apiRoute{pattern, slices.Sorted(maps.Keys(methods))})
	}
	route("/admin/api/clients", map[string]http.HandlerFunc{"GET": a.listClients, "POST": a.createClient})
	route("/admin/api/clients/{id}", map[string]http.HandlerFunc{"GET": a.getClient, "DELETE": a.deleteClient})
	route("/admin/api/clients/{id}/tenants", map[string]http.HandlerFunc{"PUT": a.setClientTenants})
	route("/admin/api/clients/{id}/secrets", map[string]http.HandlerFunc{"POST": a.addSecret})
	route("/admin/api/clients/{id}/secrets/{sid}", map[string]http.HandlerFunc{"PATCH": a.patchSecret, "DELETE": a.deleteSecret})
	route("/admin/api/clients/{id}/secrets/{sid}/revoke", map[string]http.HandlerFunc{"POST": a.revokeSecret})
	route("/admin/api/clients/{id}/keys", map[string]http.HandlerFunc{"POST": a.addKeys})
	route("/admin/api/clients/{id}/keys/{kid}", map[string]http.HandlerFunc{"DELETE": a.deleteKey})
	route("/admin/api/clients/{id}/keys/{kid}/revoke", map[string]http.HandlerFunc{"POST": a.revokeKey})
	route("/admin/api/clients/{id}/jwks_uri", map[string]http.HandlerFunc{"PUT": a.setJWKSURI})
	route("/admin/api/clients/{id}/scopes", map[string]http.HandlerFunc{"PUT": a.setScopes})
	route("/admin/api/tenants", map[string]http.HandlerFunc{"GET": a.listTenants, "POST": a.createTenant})
	route("/admin/api/tenants/{id}", map[string]http.HandlerFunc{"GET": a.getTenant, "PATCH": a.patchTenant, "DELETE": a.deleteTenant})
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mountLive(route, opts, log)
	if opts.Importer != nil {
		route("/admin/api/tenants/{id}/import", map[string]http.HandlerFunc{"POST": importHandler(opts.Importer)})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no admin API route "+r.URL.Path)
	})

	outer := http.NewServeMux()
	if opts.Token != "" {
		outer.Handle("/", Guard(opts.Token, opts.AllowRemote, mux))
	} else {
		outer.Handle("/", GuardDigest(opts.TokenSHA256, opts.AllowRemote, mux))
	}
	doc := methodSwitch(map[string]http.HandlerFunc{"GET": serveOpenAPI})
	outer.Handle(OpenAPIPath, localOnly(opts.AllowRemote, doc, func(w http.ResponseWriter, msg string) {
		writeError(w, http.StatusForbidden, "remote_refused", msg)
	}))
	routes = append(routes, apiRoute{OpenAPIPath, []string{"GET"}})
	return outer, routes
}

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	io.WriteString(w, openAPIDocument)
}

// Guard puts next behind the admin API's own guards, outermost first:
// loopback-only (unless allowRemote), cross-origin protection (a
// cross-site unsafe request is 403), the admin bearer token. Other admin
// surfaces (the server's /debug/pprof/) use it so that they are exactly as
// reachable as the API, no more.
func Guard(token string, allowRemote bool, next http.Handler) http.Handler {
	var d [32]byte
	if token != "" {
		d = sha256.Sum256([]byte(token))
	}
	return GuardDigest(d, allowRemote, next)
}

// GuardDigest is Guard given the SHA-256 of the admin token instead of the
// token; a zero digest refuses every request.
func GuardDigest(digest [32]byte, allowRemote bool, next http.Handler) http.Handler {
	h := bearer(digest, next)
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusForbidden, "cross_origin", "cross-origin request refused")
	}))
	h = cop.Handler(h)
	h = localOnly(allowRemote, h, func(w http.ResponseWriter, msg string) {
		writeError(w, http.StatusForbidden, "remote_refused", msg)
	})
	return h
}

// LocalOnly serves only requests from loopback that did not come through
// a proxy or tunnel (no X-Forwarded-For, Forwarded, X-Forwarded-Host or
// X-Real-IP header), unless allowRemote. Others get 403 naming the config
// key that lifts the restriction.
func LocalOnly(allowRemote bool, next http.Handler) http.Handler {
	return localOnly(allowRemote, next, func(w http.ResponseWriter, msg string) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, msg+"\n")
	})
}

func localOnly(allowRemote bool, next http.Handler, deny func(http.ResponseWriter, string)) http.Handler {
	if allowRemote {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if why := RemoteReason(r); why != "" {
			deny(w, "the admin surface is served to loopback only and this request "+why+"; set admin.allow_remote: true in the config to allow it")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RemoteReason says why r is not a direct loopback request (it came
// through a proxy or tunnel, or from another host), or "".
func RemoteReason(r *http.Request) string {
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Forwarded-Host", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return "came through a proxy or tunnel (" + h + ")"
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Unmap().IsLoopback() {
		return "came from a non-loopback address"
	}
	return ""
}

// bearer checks the admin token in constant time. Both sides are hashed
// first so the comparison does not reveal the token's length either.
func bearer(want [32]byte, next http.Handler) http.Handler {
	set := want != [32]byte{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r)
		if !set || !ok {
			challenge(w, "the admin API needs Authorization: Bearer <admin token>")
			return
		}
		d := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(d[:], want[:]) != 1 {
			challenge(w, "wrong admin token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func bearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

func challenge(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", msg)
}

// methodSwitch answers a path's methods; any other method is 405 with
// Allow (HEAD is served where GET is).
func methodSwitch(methods map[string]http.HandlerFunc) http.Handler {
	allow := make([]string, 0, len(methods)+1)
	for m := range methods {
		allow = append(allow, m)
	}
	if _, ok := methods["GET"]; ok {
		allow = append(allow, "HEAD")
	}
	slices.Sort(allow)
	allowed := strings.Join(allow, ", ")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m := r.Method
		if m == http.MethodHead {
			m = http.MethodGet
		}
		if h, ok := methods[m]; ok {
			h(w, r)
			return
		}
		w.Header().Set("Allow", allowed)
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("%s is not allowed here (allowed: %s)", r.Method, allowed))
	})
}

type api struct {
	svc         Service
	newPatients int   // patients of a new synthetic tenant that names none
	newSeed     int64 // seed of a new synthetic tenant that names none
}

// httpError is an error with the status and code it is answered with.
type httpError struct {
	status int
	code   string
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) *httpError {
	return &httpError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, args...)}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"internal","message":"cannot encode the answer"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorJSON{Error: code, Message: msg})
}

// fail answers err: an httpError as it says, a Service error by its kind.
// Only an error of no known kind is a 500, and its text is not shown.
func fail(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, he.code, he.msg)
	case errors.Is(err, ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", err.Error())
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", err.Error())
	case errors.Is(err, ErrConflict):
		writeError(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, ErrPersist):
		writeError(w, http.StatusServiceUnavailable, "not_persisted", "the change could not be saved and was not made")
	default:
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// decode reads r's JSON body into v: one object, at most MaxBodyBytes,
// no unknown fields, nothing after it. With optional, an empty body
// leaves v as it is. It reports whether a body was present.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) (bool, error) {
	body, err := decodeBody(w, r, v, optional)
	return body != nil, err
}

// decodeBody is decode that also returns the body it decoded (nil when
// an optional body was absent).
func decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d bytes", MaxBodyBytes)}
		}
		return nil, badRequest("cannot read the body")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return nil, nil
		}
		return nil, badRequest("a JSON body is required")
	}
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return nil, &httpError{http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as Content-Type: application/json"}
	}
	if err := decodeBytes(body, v); err != nil {
		return nil, err
	}
	return body, nil
}

// decodeBytes is the strict JSON decoding of a request body.
func decodeBytes(body []byte, v any) error {
	// encoding/json lets the last of two equal keys win and replaces
	// invalid UTF-8: an administrator's mistake would pass unseen
	if err := store.CheckJSON(body); err != nil {
		return badRequest("invalid JSON body: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %s", jsonProblem(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("invalid JSON body: data after the object")
	}
	return nil
}

// jsonProblem describes a decoding error without echoing large input.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q: want %s", te.Field, te.Type)
		}
		return "want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + short(strings.TrimPrefix(msg, "json: unknown field "))
	}
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return strings.TrimPrefix(msg, "json: ")
}

func created(w http.ResponseWriter, location string, v any) {
	w.Header().Set("Location", location)
	writeJSON(w, http.StatusCreated, v)
}

func (a *api) listClients(w http.ResponseWriter, r *http.Request) {
	cs := a.svc.Clients()
	out := make([]ClientJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, ClientToJSON(c))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	c, ok := a.svc.Client(id)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no client %q", short(id)))
		return
	}
	writeJSON(w, http.StatusOK, ClientToJSON(c))
}

func (a *api) createClient(w http.ResponseWriter, r *http.Request) {
	var req CreateClientRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	c, plain, err := a.svc.CreateClient(req.Name, req.Tenants)
	if err != nil {
		fail(w, err)
		return
	}
	resp := CreateClientResponse{Client: ClientToJSON(c)}
	if len(c.Secrets) > 0 {
		resp.Secret = SecretToJSON(c.Secrets[0])
	}
	resp.Secret.Value = plain
	created(w, "/admin/api/clients/"+url.PathEscape(c.ID), resp)
}

func (a *api) deleteClient(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteClient(r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) setClientTenants(w http.ResponseWriter, r *http.Request) {
	var req SetTenantsRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	if req.Tenants == nil {
		fail(w, badRequest("tenants: want a list of tenant GUIDs (or \"*\")"))
		return
	}
	id := r.PathValue("id")
	if err := a.svc.SetClientTenants(id, req.Tenants); err != nil {
		fail(w, err)
		return
	}
	a.getClient(w, r)
}

func (a *api) addSecret(w http.ResponseWriter, r *http.Request) {
	var req AddSecretRequest
	if _, err := decode(w, r, &req, true); err != nil {
		fail(w, err)
		return
	}
	id := r.PathValue("id")
	sec, plain, err := a.svc.AddSecret(id, req.Expires)
	if err != nil {
		fail(w, err)
		return
	}
	out := SecretToJSON(sec)
	out.Value = plain
	created(w, "/admin/api/clients/"+url.PathEscape(id)+"/secrets/"+url.PathEscape(sec.ID), out)
}

// secretOf answers with one secret of a client after a change.
func (a *api) secretOf(w http.ResponseWriter, clientID, secretID string) {
	c, ok := a.svc.Client(clientID)
	if ok {
		for _, s := range c.Secrets {
			if s.ID == secretID {
				writeJSON(w, http.StatusOK, SecretToJSON(s))
				return
			}
		}
	}
	// Deleted in between by another administrator.
	writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no secret %q", short(secretID)))
}

func (a *api) revokeSecret(w http.ResponseWriter, r *http.Request) {
	if _, err := decode(w, r, &struct{}{}, true); err != nil {
		fail(w, err)
		return
	}
	id, sid := r.PathValue("id"), r.PathValue("sid")
	if err := a.svc.RevokeSecret(id, sid); err != nil {
		fail(w, err)
		return
	}
	a.secretOf(w, id, sid)
}

func (a *api) patchSecret(w http.ResponseWriter, r *http.Request) {
	expires, err := decodeSecretPatch(w, r)
	if err != nil {
		fail(w, err)
		return
	}
	id, sid := r.PathValue("id"), r.PathValue("sid")
	if err := a.svc.SetSecretExpiry(id, sid, expires); err != nil {
		fail(w, err)
		return
	}
	a.secretOf(w, id, sid)
}

// decodeSecretPatch reads {"expires": RFC3339 | null}; the field is
// required so that forgetting it does not clear an expiry.
func decodeSecretPatch(w http.ResponseWriter, r *http.Request) (*time.Time, error) {
	var req struct {
		Expires json.RawMessage `json:"expires"`
	}
	if _, err := decode(w, r, &req, false); err != nil {
		return nil, err
	}
	return parseExpiry(req.Expires)
}

func parseExpiry(raw json.RawMessage) (*time.Time, error) {
	if raw == nil {
		return nil, badRequest(`expires is required: an RFC 3339 time, or null for never`)
	}
	if string(raw) == "null" {
		return nil, nil
	}
	var t time.Time
	if err := json.Unmarshal(raw, &t); err != nil {
		return nil, badRequest("expires: want an RFC 3339 time such as 2030-01-02T15:04:05Z, or null")
	}
	return &t, nil
}

func (a *api) deleteSecret(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteSecret(r.PathValue("id"), r.PathValue("sid")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) addKeys(w http.ResponseWriter, r *http.Request) {
	var req AddKeysRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	var data []byte
	if string(req.JWKS) == "null" {
		req.JWKS = nil
	}
	switch {
	case len(req.JWKS) > 0 && req.PEM != "":
		fail(w, badRequest("give jwks or pem, not both"))
		return
	case len(req.JWKS) > 0:
		data = req.JWKS
	case req.PEM != "":
		data = []byte(req.PEM)
	default:
		fail(w, badRequest("give jwks (a JWK Set or one JWK) or pem (public keys in PEM)"))
		return
	}
	id := r.PathValue("id")
	keys, err := a.svc.AddClientKeys(id, data)
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]KeyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyToJSON(k))
	}
	created(w, "/admin/api/clients/"+url.PathEscape(id), out)
}

func (a *api) revokeKey(w http.ResponseWriter, r *http.Request) {
	if _, err := decode(w, r, &struct{}{}, true); err != nil {
		fail(w, err)
		return
	}
	if err := a.svc.RevokeClientKey(r.PathValue("id"), r.PathValue("kid")); err != nil {
		fail(w, err)
		return
	}
	a.getClient(w, r)
}

func (a *api) deleteKey(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.DeleteClientKey(r.PathValue("id"), r.PathValue("kid")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *api) setJWKSURI(w http.ResponseWriter, r *http.Request) {
	var req SetJWKSURIRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	if req.JWKSURI == nil {
		fail(w, badRequest(`jwks_uri is required: an http(s) URL, or "" to clear it`))
		return
	}
	if err := a.svc.SetClientJWKSURI(r.PathValue("id"), *req.JWKSURI); err != nil {
		fail(w, err)
		return
	}
	a.getClient(w, r)
}

func (a *api) setScopes(w http.ResponseWriter, r *http.Request) {
	var req SetScopesRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	if req.Scopes == nil {
		fail(w, badRequest("scopes: want a list of SMART system scopes ([] lifts the restriction)"))
		return
	}
	if err := a.svc.SetClientScopes(r.PathValue("id"), req.Scopes); err != nil {
		fail(w, err)
		return
	}
	a.getClient(w, r)
}

func (a *api) listTenants(w http.ResponseWriter, r *http.Request) {
	ts := a.svc.Tenants()
	out := make([]TenantJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, TenantToJSON(t))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) findTenant(id string) (tenant.Tenant, bool) {
	g, err := spec.ParseGUID(id)
	if err != nil {
		return tenant.Tenant{}, false
	}
	for _, t := range a.svc.Tenants() {
		if t.ID == g {
			return t, true
		}
	}
	return tenant.Tenant{}, false
}

func (a *api) getTenant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	t, ok := a.findTenant(id)
	if !ok {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no tenant %q", short(id)))
		return
	}
	writeJSON(w, http.StatusOK, TenantToJSON(t))
}

func (a *api) createTenant(w http.ResponseWriter, r *http.Request) {
	var req CreateTenantRequest
	body, err := decodeBody(w, r, &req, false)
	if err != nil {
		fail(w, err)
		return
	}
	// which of patients and seed the body gave (the strict decoding
	// above already accepted it, so this one cannot fail on its shape)
	var given struct {
		Patients *int   `json:"patients"`
		Seed     *int64 `json:"seed"`
	}
	_ = json.Unmarshal(body, &given)
	if req.Upstream != "" && (req.Patients != 0 || req.Seed != 0) {
		fail(w, badRequest("give upstream or patients/seed, not both"))
		return
	}
	if req.Upstream == "" {
		if given.Patients == nil {
			req.Patients = a.newPatients
		}
		if given.Seed == nil {
			req.Seed = a.newSeed
		}
	}
	t, err := a.svc.AddTenant(tenant.Tenant{ID: req.ID, Name: req.Name, Patients: req.Patients, Seed: req.Seed, Upstream: req.Upstream, Down: req.Down})
	if err != nil {
		fail(w, err)
		return
	}
	created(w, "/admin/api/tenants/"+t.ID, TenantToJSON(t))
}

func (a *api) patchTenant(w http.ResponseWriter, r *http.Request) {
	var req PatchTenantRequest
	if _, err := decode(w, r, &req, false); err != nil {
		fail(w, err)
		return
	}
	synthetic := req.Patients != nil || req.Seed != nil
	if req.Upstream != nil && *req.Upstream != "" && synthetic {
		fail(w, badRequest("give upstream or patients/seed, not both"))
		return
	}
	id := r.PathValue("id")
	if _, ok := a.findTenant(id); !ok {
		writeError(w, http.StatusNotFound, "not_found", fmt.Sprintf("no tenant %q", short(id)))
		return
	}
	t, err := a.svc.UpdateTenant(id, func(t *tenant.Tenant) { applyPatch(t, req) })
	if err != nil {
		fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, TenantToJSON(t))
}

func applyPatch(t *tenant.Tenant, p PatchTenantRequest) {
	if p.Name != nil {
		t.Name = *p.Name
	}
	if p.Upstream != nil {
		t.Upstream = *p.Upstream
	}
	if p.Patients != nil || p.Seed != nil {
		t.Upstream = ""
	}
	if p.Patients != nil {
		t.Patients = *p.Patients
	}
	if p.Seed != nil {
		t.Seed = *p.Seed
	}
	if p.Down != nil {
		t.Down = *p.Down
	}
}

func (a *api) deleteTenant(w http.ResponseWriter, r *http.Request) {
	if err := a.svc.RemoveTenant(r.PathValue("id")); err != nil {
		fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
