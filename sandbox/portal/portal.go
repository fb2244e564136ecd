package portal

import (
	"bytes"
	crand "crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Prefix is where the portal is mounted: mux.Handle(Prefix, h).
const Prefix = "/portal/"

// Defaults of Options.
const (
	DefaultIdleTimeout = 30 * time.Minute
	DefaultMaxSession  = 12 * time.Hour
	// DefaultHeartbeat is how often an idle request stream sends a comment
	// line, so proxies keep it open and a gone client is noticed.
	DefaultHeartbeat = 15 * time.Second
	maxFormBytes     = 64 << 10
	cookieName       = "fhirsandbox_portal"
)

//go:embed templates/*.html assets/*
var files embed.FS

// Options configure the portal. Service and AdminToken are required; an
// empty AdminToken disables sign-in (the portal says so).
type Options struct {
	Service    admin.Service
	AdminToken string
	// AdminTokenSHA256 stands for AdminToken when only the token's digest
	// is known (a generated token kept in a state file); used when
	// AdminToken is empty and the digest is not zero.
	AdminTokenSHA256 [32]byte
	Now              func() time.Time // default time.Now
	Rand             io.Reader        // session ids; default crypto/rand
	Logger           *slog.Logger     // default: discard
	// PublicBase returns the sandbox's public base URL for a request (no
	// trailing slash); the header shows PublicBase(r)+"/token". Default:
	// the request's scheme and Host.
	PublicBase func(*http.Request) string
	// AllowRemote lets callers other than loopback in, and requests that
	// came through a proxy (X-Forwarded-For, X-Forwarded-Host, Forwarded).
	AllowRemote bool
	// Name is the sandbox's name in the page header (default fhirsandbox).
	Name string
	// IdleTimeout ends a session not used for that long (default
	// DefaultIdleTimeout); MaxSession ends any session that old (default
	// DefaultMaxSession).
	IdleTimeout, MaxSession time.Duration
	// Scenarios switches scenarios on live traffic; nil hides the page.
	// It is the admin API's switchboard, so the page and the API agree.
	Scenarios admin.Scenarios
	// Journal is the request journal the requests page shows and streams;
	// nil hides the page.
	Journal *scenario.Journal
	// Done, when closed, ends every open request stream: close it when the
	// server begins to shut down, or http.Server.Shutdown waits for the
	// streams until its deadline. Nil: streams end when their client goes.
	Done <-chan struct{}
	// TenantDefaults are the population and seed the add-tenant form
	// starts with and a synthetic tenant gets when the form leaves them
	// empty (config: tenant_defaults). Nil: 100 patients, seed 42.
	TenantDefaults *TenantDefaults
}

// TenantDefaults are what a new synthetic tenant gets when not told.
type TenantDefaults struct {
	Patients int
	Seed     int64
}

type portal struct {
	svc         admin.Service
	defaults    TenantDefaults
	tokenDigest [32]byte
	tokenSet    bool
	now         func() time.Time
	log         *slog.Logger
	base        func(*http.Request) string
	name        string
	sessions    *sessions
	throttle    *throttle
	pages       func() map[string]*template.Template // parsed on the first page served, not at every start
	css, js     []byte
	reqJS       []byte
	scen        admin.Scenarios
	journal     *scenario.Journal
	done        <-chan struct{}
	heartbeat   time.Duration
}

// New returns the portal's handler, to be mounted at Prefix. It panics
// when Options.Service is nil or an embedded template does not parse:
// both are programming mistakes caught by the tests.
func New(o Options) http.Handler {
	return newHandler(o, DefaultHeartbeat)
}

func newHandler(o Options, heartbeat time.Duration) http.Handler {
	if o.Service == nil {
		panic("portal: Options.Service is required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = crand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.PublicBase == nil {
		o.PublicBase = requestBase
	}
	if o.Name == "" {
		o.Name = "fhirsandbox"
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxSession <= 0 {
		o.MaxSession = DefaultMaxSession
	}
	defaults := TenantDefaults{Patients: 100, Seed: 42}
	if o.TenantDefaults != nil {
		defaults = *o.TenantDefaults
	}
	digest := o.AdminTokenSHA256
	if o.AdminToken != "" {
		digest = sha256.Sum256([]byte(o.AdminToken))
	}
	p := &portal{
		svc: o.Service, defaults: defaults, now: o.Now, log: o.Logger, base: o.PublicBase, name: o.Name,
		tokenSet: digest != [32]byte{}, tokenDigest: digest,
		sessions: newSessions(o.Rand, o.IdleTimeout, o.MaxSession),
		throttle: newThrottle(),
		pages:    sync.OnceValue(parsePages),
		css:      mustRead("assets/portal.css"),
		js:       mustRead("assets/portal.js"),
		reqJS:    mustRead("assets/requests.js"),
		scen:     o.Scenarios, journal: o.Journal, done: o.Done, heartbeat: heartbeat,
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /portal/assets/portal.css", p.asset("text/css; charset=utf-8", p.css))
	mux.HandleFunc("GET /portal/assets/portal.js", p.asset("text/javascript; charset=utf-8", p.js))
	mux.HandleFunc("GET /portal/{$}", p.dashboard)
	mux.HandleFunc("POST /portal/signin", p.signin)
	mux.HandleFunc("POST /portal/signout", p.signout)
	mux.HandleFunc("GET /portal/secret", p.authed(p.showSecret))
	mux.HandleFunc("POST /portal/clients", p.authed(p.createClient))
	mux.HandleFunc("GET /portal/clients/{id}", p.authed(p.clientPage))
	mux.HandleFunc("POST /portal/clients/{id}/tenants", p.authed(p.setClientTenants))
	mux.HandleFunc("POST /portal/clients/{id}/delete", p.authed(p.deleteClient))
	mux.HandleFunc("POST /portal/clients/{id}/secrets", p.authed(p.addSecret))
	mux.HandleFunc("POST /portal/clients/{id}/secrets/{sid}/revoke", p.authed(p.revokeSecret))
	mux.HandleFunc("POST /portal/clients/{id}/secrets/{sid}/expiry", p.authed(p.setSecretExpiry))
	mux.HandleFunc("POST /portal/clients/{id}/secrets/{sid}/delete", p.authed(p.deleteSecret))
	mux.HandleFunc("POST /portal/clients/{id}/keys", p.authed(p.addKeys))
	mux.HandleFunc("POST /portal/clients/{id}/keys/{kid}/revoke", p.authed(p.revokeKey))
	mux.HandleFunc("POST /portal/clients/{id}/keys/{kid}/delete", p.authed(p.deleteKey))
	mux.HandleFunc("POST /portal/clients/{id}/jwks_uri", p.authed(p.setJWKSURI))
	mux.HandleFunc("POST /portal/clients/{id}/scopes", p.authed(p.setScopes))
	mux.HandleFunc("POST /portal/tenants", p.authed(p.addTenant))
	mux.HandleFunc("GET /portal/tenants/{id}", p.authed(p.tenantPage))
	mux.HandleFunc("POST /portal/tenants/{id}", p.authed(p.updateTenant))
	mux.HandleFunc("POST /portal/tenants/{id}/delete", p.authed(p.removeTenant))
	if p.scen != nil {
		mux.HandleFunc("GET /portal/scenarios", p.authed(p.scenariosPage))
		mux.HandleFunc("POST /portal/scenarios/{name}/activate", p.authed(p.activateScenario))
		mux.HandleFunc("POST /portal/scenarios/{name}/deactivate", p.authed(p.deactivateScenario))
	}
	if p.journal != nil {
		mux.HandleFunc("GET /portal/assets/requests.js", p.asset("text/javascript; charset=utf-8", p.reqJS))
		mux.HandleFunc("GET /portal/requests", p.authed(p.requestsPage))
		mux.HandleFunc("GET /portal/requests/stream", p.requestStream)
		mux.HandleFunc("POST /portal/requests/clear", p.authed(p.clearRequests))
	}
	mux.HandleFunc("GET /portal/", p.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fail(w, r, http.StatusForbidden, "Cross-origin request refused",
			"This form was posted from another site. Open the portal directly and try again.")
	}))
	// Security headers go on every answer, the loopback refusal included.
	return p.headers(admin.LocalOnly(o.AllowRemote, cop.Handler(mux)))
}

func mustRead(name string) []byte {
	b, err := files.ReadFile(name)
	if err != nil {
		panic(fmt.Sprintf("portal: embedded %s: %v", name, err))
	}
	return b
}

// parsePages parses each page together with layout.html.
func parsePages() map[string]*template.Template {
	pageNames := []string{"signin", "dashboard", "client", "tenant", "secret", "confirm", "error", "scenarios", "requests"}
	funcs := template.FuncMap{
		"when": fmtTime,
		"day":  func(t time.Time) string { return t.UTC().Format("2006-01-02") },
		"plural": func(n int, one, many string) string {
			if n == 1 {
				return one
			}
			return many
		},
	}
	out := make(map[string]*template.Template, len(pageNames))
	for _, n := range pageNames {
		out[n] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/partials.html", "templates/"+n+".html"))
	}
	return out
}

func fmtTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if v == nil {
			return ""
		}
		return v.UTC().Format("2006-01-02 15:04 UTC")
	}
	return ""
}

func requestBase(r *http.Request) string {
	return scheme(r) + "://" + r.Host
}

func scheme(r *http.Request) string {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return "https"
	}
	return "http"
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// headers sets the security headers on every response. Pages are never
// cached: they list clients, and one of them shows a secret.
func (p *portal) headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

func (p *portal) asset(ctype string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}
}

// view is what every page template gets.
type view struct {
	Name     string
	Title    string
	TokenURL string
	SignedIn bool
	Notice   string
	Nav      []navLink
	Page     any
}

// navLink is one entry of the header navigation.
type navLink struct {
	Href, Label string
	Current     bool
}

// nav lists the pages the header links to, marking the one at path.
func (p *portal) nav(path string) []navLink {
	links := []navLink{{Href: Prefix, Label: "Clients and tenants"}}
	if p.scen != nil {
		links = append(links, navLink{Href: Prefix + "scenarios", Label: "Scenarios"})
	}
	if p.journal != nil {
		links = append(links, navLink{Href: Prefix + "requests", Label: "Requests"})
	}
	for i := range links {
		if links[i].Href == Prefix {
			links[i].Current = path == Prefix || strings.HasPrefix(path, Prefix+"clients/") || strings.HasPrefix(path, Prefix+"tenants/")
		} else {
			links[i].Current = path == links[i].Href || strings.HasPrefix(path, links[i].Href+"/")
		}
	}
	return links
}

func (p *portal) render(w http.ResponseWriter, r *http.Request, status int, page, title string, signedIn bool, notice string, data any) {
	v := view{Name: p.name, Title: title, TokenURL: strings.TrimSuffix(p.base(r), "/") + "/token", SignedIn: signedIn, Notice: notice, Page: data}
	if signedIn {
		v.Nav = p.nav(r.URL.Path)
	}
	var buf bytes.Buffer
	if err := p.pages()[page].Execute(&buf, v); err != nil {
		p.log.Error("portal: render page", "page", page, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, "internal error rendering the page\n")
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

type errorPage struct {
	Heading, Message string
	Back             string
}

// fail renders an error page with the given status.
func (p *portal) fail(w http.ResponseWriter, r *http.Request, status int, heading, msg string) {
	p.render(w, r, status, "error", heading, p.signedIn(r), "", errorPage{Heading: heading, Message: msg, Back: Prefix})
}

func (p *portal) notFound(w http.ResponseWriter, r *http.Request) {
	p.fail(w, r, http.StatusNotFound, "Not found", "There is no portal page at this address.")
}

// failErr renders a Service error with the status its kind calls for.
func (p *portal) failErr(w http.ResponseWriter, r *http.Request, heading string, err error) {
	status := http.StatusBadRequest
	msg := err.Error()
	switch {
	case errors.Is(err, admin.ErrNotFound), errors.Is(err, auth.ErrNoClient), errors.Is(err, auth.ErrNoSecret), errors.Is(err, auth.ErrNoKey), errors.Is(err, tenant.ErrUnknown):
		status = http.StatusNotFound
	case errors.Is(err, admin.ErrConflict), errors.Is(err, auth.ErrTooMany), errors.Is(err, tenant.ErrDuplicate):
		status = http.StatusConflict
	case errors.Is(err, admin.ErrPersist):
		status = http.StatusServiceUnavailable
		msg = "The change could not be saved, so it was not made. The server log has the details."
		p.log.Error("portal: change not persisted", "err", err)
	case errors.Is(err, admin.ErrInvalid), errors.Is(err, errInput):
	default:
		status = http.StatusInternalServerError
		msg = "The change failed. The server log has the details."
		p.log.Error("portal: service error", "err", err)
	}
	p.fail(w, r, status, heading, msg)
}

// session handling

func (p *portal) sessionID(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	return c.Value
}

func (p *portal) signedIn(r *http.Request) bool {
	id := p.sessionID(r)
	return id != "" && p.sessions.touch(id, p.now())
}

// authed runs h for a signed-in administrator; others get the sign-in
// page (401), or a redirect to it for a page they asked for by GET.
func (p *portal) authed(h func(w http.ResponseWriter, r *http.Request, sid string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := p.sessionID(r)
		if id == "" || !p.sessions.touch(id, p.now()) {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix, http.StatusSeeOther)
				return
			}
			p.render(w, r, http.StatusUnauthorized, "signin", "Sign in", false, "", signinPage{Enabled: p.tokenSet, Error: "Your session has ended. Sign in again, then repeat the change."})
			return
		}
		h(w, r, id)
	}
}

type signinPage struct {
	Enabled bool
	Error   string
}

func (p *portal) signin(w http.ResponseWriter, r *http.Request) {
	now := p.now()
	addr := hostOf(r.RemoteAddr)
	if d := p.throttle.blocked(addr, now); d > 0 {
		secs := int(d.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		p.render(w, r, http.StatusTooManyRequests, "signin", "Sign in", false, "", signinPage{Enabled: p.tokenSet, Error: fmt.Sprintf("Too many wrong tokens. Try again in %d seconds.", secs)})
		return
	}
	if err := parseForm(w, r); err != nil {
		p.render(w, r, http.StatusBadRequest, "signin", "Sign in", false, "", signinPage{Enabled: p.tokenSet, Error: "The form could not be read."})
		return
	}
	got := sha256.Sum256([]byte(r.PostForm.Get("token")))
	if !p.tokenSet || subtle.ConstantTimeCompare(got[:], p.tokenDigest[:]) != 1 {
		p.throttle.fail(addr, now)
		p.log.Warn("portal: sign-in failed", "addr", addr)
		p.render(w, r, http.StatusUnauthorized, "signin", "Sign in", false, "", signinPage{Enabled: p.tokenSet, Error: "That is not the admin token."})
		return
	}
	if old := p.sessionID(r); old != "" {
		p.sessions.delete(old)
	}
	id, err := p.sessions.create(now)
	if err != nil {
		p.log.Error("portal: new session", "err", err)
		p.fail(w, r, http.StatusInternalServerError, "Sign-in failed", "No session could be started. The server log has the details.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: scheme(r) == "https"})
	p.log.Info("portal: signed in", "addr", addr)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (p *portal) signout(w http.ResponseWriter, r *http.Request) {
	if id := p.sessionID(r); id != "" {
		p.sessions.delete(id)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: scheme(r) == "https"})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

// parseForm reads a bounded urlencoded body.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("%w: form: %w", errInput, err)
	}
	return nil
}

var errInput = errors.New("invalid input")

func inputf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errInput, fmt.Sprintf(format, args...))
}
