package portal

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Page data.

type tenantRef struct {
	ID, Name string
	Known    bool
}

type secretRow struct {
	ID, Hint  string
	Created   time.Time
	Expires   *time.Time
	RevokedAt time.Time
	State     string // live, expired, revoked
}

type clientRow struct {
	ID, Name   string
	AllTenants bool
	Tenants    []tenantRef
	Created    time.Time
	Secrets    []secretRow
	Keys       []keyRow
	LiveKeys   int
	JWKSURI    string
	Scopes     string
	Live       int
	Expired    int
	Revoked    int
}

type tenantRow struct {
	tenant.Tenant
	Clients []string // names of the clients that may use it
}

type tenantChoice struct {
	ID, Name string
	Checked  bool
}

type dashboardPage struct {
	Blank   tenant.Tenant // defaults of the new tenant form
	Clients []clientRow
	Tenants []tenantRow
	Choices []tenantChoice
}

type clientPage struct {
	Client  clientRow
	Choices []tenantChoice
}

type tenantPage struct {
	Tenant tenantRow
}

type secretPage struct {
	Flash *flash
	Scope string // a tenant GUID for the example request
}

type confirmPage struct {
	Heading, Message, Action, Button, Cancel string
}

func (p *portal) clientRow(c auth.Client, names map[string]string, now time.Time) clientRow {
	row := clientRow{ID: c.ID, Name: c.Name, Created: c.Created}
	for _, t := range c.Tenants {
		if t == auth.AnyTenant {
			row.AllTenants = true
			continue
		}
		n, ok := names[t]
		row.Tenants = append(row.Tenants, tenantRef{ID: t, Name: n, Known: ok})
	}
	for _, s := range c.Secrets {
		sr := secretRow{ID: s.ID, Hint: s.Hint, Created: s.Created, Expires: s.Expires, RevokedAt: s.RevokedAt}
		switch {
		case s.Revoked:
			sr.State = "revoked"
			row.Revoked++
		case !s.Live(now):
			sr.State = "expired"
			row.Expired++
		default:
			sr.State = "live"
			row.Live++
		}
		row.Secrets = append(row.Secrets, sr)
	}
	// Newest secret first: after a rotation the new one leads.
	slices.Reverse(row.Secrets)
	row.Keys, row.LiveKeys = keyRows(c)
	row.JWKSURI, row.Scopes = c.JWKSURI, strings.Join(c.Scopes, " ")
	return row
}

func (p *portal) tenantNames() ([]tenant.Tenant, map[string]string) {
	ts := p.svc.Tenants()
	names := make(map[string]string, len(ts))
	for _, t := range ts {
		names[t.ID] = t.Name
	}
	return ts, names
}

func choices(ts []tenant.Tenant, checked []string) []tenantChoice {
	out := make([]tenantChoice, 0, len(ts))
	for _, t := range ts {
		out = append(out, tenantChoice{ID: t.ID, Name: t.Name, Checked: slices.Contains(checked, t.ID)})
	}
	return out
}

func (p *portal) dashboard(w http.ResponseWriter, r *http.Request) {
	id := p.sessionID(r)
	if id == "" || !p.sessions.touch(id, p.now()) {
		p.render(w, r, http.StatusOK, "signin", "Sign in", false, "", signinPage{Enabled: p.tokenSet})
		return
	}
	now := p.now()
	ts, names := p.tenantNames()
	clients := p.svc.Clients()
	d := dashboardPage{Choices: choices(ts, nil), Blank: tenant.Tenant{Patients: p.defaults.Patients, Seed: p.defaults.Seed}}
	for _, c := range clients {
		d.Clients = append(d.Clients, p.clientRow(c, names, now))
	}
	for _, t := range ts {
		d.Tenants = append(d.Tenants, tenantRow{Tenant: t, Clients: clientsOf(clients, t.ID)})
	}
	p.render(w, r, http.StatusOK, "dashboard", "Clients and tenants", true, p.sessions.takeNotice(id), d)
}

func clientsOf(clients []auth.Client, tid string) []string {
	var out []string
	for _, c := range clients {
		if c.Allows(tid) {
			out = append(out, c.Name)
		}
	}
	return out
}

func (p *portal) clientPage(w http.ResponseWriter, r *http.Request, sid string) {
	c, ok := p.svc.Client(r.PathValue("id"))
	if !ok {
		p.fail(w, r, http.StatusNotFound, "No such client", "There is no client with this id. It may have been deleted.")
		return
	}
	ts, names := p.tenantNames()
	d := clientPage{Client: p.clientRow(c, names, p.now()), Choices: choices(ts, c.Tenants)}
	p.render(w, r, http.StatusOK, "client", c.Name, true, p.sessions.takeNotice(sid), d)
}

func (p *portal) showSecret(w http.ResponseWriter, r *http.Request, sid string) {
	f := p.sessions.takeSecret(sid)
	d := secretPage{Flash: f}
	if f != nil {
		for _, t := range f.Tenants {
			if t != auth.AnyTenant {
				d.Scope = t
				break
			}
		}
		if d.Scope == "" {
			if ts := p.svc.Tenants(); len(ts) > 0 {
				d.Scope = ts[0].ID
			} else {
				d.Scope = "TENANT_GUID"
			}
		}
	}
	p.render(w, r, http.StatusOK, "secret", "New secret", true, "", d)
}

// redirect ends a successful change: a one-time notice, then GET.
func (p *portal) redirect(w http.ResponseWriter, r *http.Request, sid, to, notice string) {
	p.sessions.with(sid, func(s *session) { s.notice = notice })
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func clientURL(id string) string { return Prefix + "clients/" + url.PathEscape(id) }
func tenantURL(id string) string { return Prefix + "tenants/" + url.PathEscape(id) }

// formTenants reads the tenant checkboxes: "all", or the checked GUIDs.
func formTenants(r *http.Request) []string {
	if r.PostForm.Get("all") != "" {
		return []string{auth.AnyTenant}
	}
	return r.PostForm["tenant"]
}

func (p *portal) createClient(w http.ResponseWriter, r *http.Request, sid string) {
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Client not created", err)
		return
	}
	c, plain, err := p.svc.CreateClient(strings.TrimSpace(r.PostForm.Get("name")), formTenants(r))
	if err != nil {
		p.failErr(w, r, "Client not created", err)
		return
	}
	p.log.Info("portal: client created", "client_id", c.ID, "secret_id", firstSecretID(c))
	p.sessions.with(sid, func(s *session) {
		s.secret = &flash{Heading: "Client registered", ClientID: c.ID, ClientName: c.Name, SecretID: firstSecretID(c), Secret: plain, Tenants: c.Tenants}
	})
	http.Redirect(w, r, Prefix+"secret", http.StatusSeeOther)
}

func firstSecretID(c auth.Client) string {
	if len(c.Secrets) == 0 {
		return ""
	}
	return c.Secrets[0].ID
}

func (p *portal) setClientTenants(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Tenants not changed", err)
		return
	}
	if err := p.svc.SetClientTenants(id, formTenants(r)); err != nil {
		p.failErr(w, r, "Tenants not changed", err)
		return
	}
	p.log.Info("portal: client tenants set", "client_id", id)
	p.redirect(w, r, sid, clientURL(id), "Tenants saved.")
}

// confirmed reports whether the form carries the confirmation of a
// destructive action; when it does not, it renders the question.
func (p *portal) confirmed(w http.ResponseWriter, r *http.Request, q confirmPage) bool {
	if r.PostForm.Get("confirm") == "yes" {
		return true
	}
	q.Action = r.URL.Path
	p.render(w, r, http.StatusOK, "confirm", q.Heading, true, "", q)
	return false
}

func (p *portal) deleteClient(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Client not deleted", err)
		return
	}
	c, ok := p.svc.Client(id)
	if !ok {
		p.fail(w, r, http.StatusNotFound, "Client not deleted", "There is no client with this id. It may have been deleted already.")
		return
	}
	if !p.confirmed(w, r, confirmPage{
		Heading: "Delete client " + c.Name + "?",
		Message: "Every secret of this client stops working at once and its tokens stop verifying. This cannot be undone.",
		Button:  "Delete client", Cancel: clientURL(id),
	}) {
		return
	}
	if err := p.svc.DeleteClient(id); err != nil {
		p.failErr(w, r, "Client not deleted", err)
		return
	}
	p.log.Info("portal: client deleted", "client_id", id)
	p.redirect(w, r, sid, Prefix, "Client "+c.Name+" deleted.")
}

func (p *portal) addSecret(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Secret not created", err)
		return
	}
	exp, err := parseExpiry(r.PostForm, p.now())
	if err != nil {
		p.failErr(w, r, "Secret not created", err)
		return
	}
	sec, plain, err := p.svc.AddSecret(id, exp)
	if err != nil {
		p.failErr(w, r, "Secret not created", err)
		return
	}
	c, _ := p.svc.Client(id)
	p.log.Info("portal: secret added", "client_id", id, "secret_id", sec.ID)
	p.sessions.with(sid, func(s *session) {
		s.secret = &flash{Heading: "New secret", ClientID: id, ClientName: c.Name, SecretID: sec.ID, Secret: plain, Expires: sec.Expires, Tenants: c.Tenants}
	})
	http.Redirect(w, r, Prefix+"secret", http.StatusSeeOther)
}

// secretOp runs a change of one secret after checking the form.
func (p *portal) secretOp(w http.ResponseWriter, r *http.Request, sid, heading string, q *confirmPage, op func(clientID, secretID string) error, done string) {
	id, secID := r.PathValue("id"), r.PathValue("sid")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, heading, err)
		return
	}
	if q != nil {
		c, ok := p.svc.Client(id)
		if !ok || !slices.ContainsFunc(c.Secrets, func(s auth.Secret) bool { return s.ID == secID }) {
			p.fail(w, r, http.StatusNotFound, heading, "There is no such secret. It may have been deleted already.")
			return
		}
		q.Heading = fmt.Sprintf(q.Heading, secID, c.Name)
		q.Cancel = clientURL(id)
		if !p.confirmed(w, r, *q) {
			return
		}
	}
	if err := op(id, secID); err != nil {
		p.failErr(w, r, heading, err)
		return
	}
	p.log.Info("portal: "+done, "client_id", id, "secret_id", secID)
	p.redirect(w, r, sid, clientURL(id), "Secret "+secID+" "+done+".")
}

func (p *portal) revokeSecret(w http.ResponseWriter, r *http.Request, sid string) {
	p.secretOp(w, r, sid, "Secret not revoked", &confirmPage{
		Heading: "Revoke secret %s of %s?",
		Message: "The secret stops working at once: token requests with it get 401 invalid_client. It stays listed as revoked until you delete it. This cannot be undone.",
		Button:  "Revoke secret",
	}, p.svc.RevokeSecret, "revoked")
}

func (p *portal) deleteSecret(w http.ResponseWriter, r *http.Request, sid string) {
	p.secretOp(w, r, sid, "Secret not deleted", &confirmPage{
		Heading: "Delete secret %s of %s?",
		Message: "The secret stops working at once and disappears from the list. This cannot be undone.",
		Button:  "Delete secret",
	}, p.svc.DeleteSecret, "deleted")
}

func (p *portal) setSecretExpiry(w http.ResponseWriter, r *http.Request, sid string) {
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Expiry not changed", err)
		return
	}
	exp, err := parseExpiry(r.PostForm, p.now())
	if err != nil {
		p.failErr(w, r, "Expiry not changed", err)
		return
	}
	p.secretOp(w, r, sid, "Expiry not changed", nil, func(c, s string) error {
		return p.svc.SetSecretExpiry(c, s, exp)
	}, "expiry changed")
}

// expiryChoices are the relative expiries the forms offer.
func expiryChoice(v string) (time.Duration, bool) {
	switch v {
	case "1h":
		return time.Hour, true
	case "1d":
		return 24 * time.Hour, true
	case "7d":
		return 7 * 24 * time.Hour, true
	case "30d":
		return 30 * 24 * time.Hour, true
	case "90d":
		return 90 * 24 * time.Hour, true
	case "365d":
		return 365 * 24 * time.Hour, true
	}
	return 0, false
}

// parseExpiry reads the expiry fields: "expires" is never,
// now, one of the relative choices, or "at" with "expires_at" a UTC
// date and time (the datetime-local form 2006-01-02T15:04).
func parseExpiry(f url.Values, now time.Time) (*time.Time, error) {
	v := f.Get("expires")
	switch v {
	case "":
		return nil, inputf("expiry: choose when the secret expires")
	case "never":
		return nil, nil
	case "now":
		return &now, nil
	case "at":
		s := strings.TrimSpace(f.Get("expires_at"))
		for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return &t, nil
			}
		}
		return nil, inputf("expiry %q: want a date and time like 2027-01-31T17:00 (UTC)", clip(s))
	}
	d, ok := expiryChoice(v)
	if !ok {
		return nil, inputf("expiry %q: not one of the offered choices", clip(v))
	}
	t := now.Add(d)
	return &t, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Tenants.

// tenantForm reads the tenant fields other than the id.
func tenantForm(f url.Values) (name, upstream string, patients int, seed int64, down bool, err error) {
	name = strings.TrimSpace(f.Get("name"))
	if name == "" {
		return "", "", 0, 0, false, inputf("name: give the tenant a name")
	}
	down = f.Get("down") != ""
	switch f.Get("backend") {
	case "upstream":
		upstream = strings.TrimSpace(f.Get("upstream"))
		if upstream == "" {
			return "", "", 0, 0, false, inputf("upstream: give the FHIR base URL of the server to proxy to")
		}
	case "synthetic", "":
		if s := strings.TrimSpace(f.Get("patients")); s != "" {
			n, perr := strconv.Atoi(s)
			if perr != nil {
				return "", "", 0, 0, false, inputf("patients %q: want a whole number", clip(s))
			}
			patients = n
		}
		if s := strings.TrimSpace(f.Get("seed")); s != "" {
			n, perr := strconv.ParseInt(s, 10, 64)
			if perr != nil {
				return "", "", 0, 0, false, inputf("seed %q: want a whole number", clip(s))
			}
			seed = n
		}
	default:
		return "", "", 0, 0, false, inputf("backend: want synthetic or upstream")
	}
	return name, upstream, patients, seed, down, nil
}

func (p *portal) addTenant(w http.ResponseWriter, r *http.Request, sid string) {
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Tenant not added", err)
		return
	}
	name, upstream, patients, seed, down, err := tenantForm(r.PostForm)
	if err != nil {
		p.failErr(w, r, "Tenant not added", err)
		return
	}
	if upstream == "" {
		// left empty: the sandbox's tenant_defaults, as the CLI and the
		// admin API give
		if strings.TrimSpace(r.PostForm.Get("patients")) == "" {
			patients = p.defaults.Patients
		}
		if strings.TrimSpace(r.PostForm.Get("seed")) == "" {
			seed = p.defaults.Seed
		}
	}
	t, err := p.svc.AddTenant(tenant.Tenant{ID: strings.TrimSpace(r.PostForm.Get("id")), Name: name, Upstream: upstream, Patients: patients, Seed: seed, Down: down})
	if err != nil {
		p.failErr(w, r, "Tenant not added", err)
		return
	}
	p.log.Info("portal: tenant added", "tenant", t.ID)
	p.redirect(w, r, sid, Prefix+"#tenants", "Tenant "+t.ID+" added.")
}

func (p *portal) findTenant(id string) (tenantRow, bool) {
	g, err := spec.ParseGUID(id)
	if err != nil {
		return tenantRow{}, false
	}
	for _, t := range p.svc.Tenants() {
		if t.ID == g {
			return tenantRow{Tenant: t, Clients: clientsOf(p.svc.Clients(), t.ID)}, true
		}
	}
	return tenantRow{}, false
}

func (p *portal) tenantPage(w http.ResponseWriter, r *http.Request, sid string) {
	t, ok := p.findTenant(r.PathValue("id"))
	if !ok {
		p.fail(w, r, http.StatusNotFound, "No such tenant", "There is no tenant with this id. It may have been removed.")
		return
	}
	p.render(w, r, http.StatusOK, "tenant", t.Name, true, p.sessions.takeNotice(sid), tenantPage{Tenant: t})
}

func (p *portal) updateTenant(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Tenant not changed", err)
		return
	}
	name, upstream, patients, seed, down, err := tenantForm(r.PostForm)
	if err != nil {
		p.failErr(w, r, "Tenant not changed", err)
		return
	}
	t, err := p.svc.UpdateTenant(id, func(t *tenant.Tenant) {
		t.Name, t.Upstream, t.Patients, t.Seed, t.Down = name, upstream, patients, seed, down
	})
	if err != nil {
		p.failErr(w, r, "Tenant not changed", err)
		return
	}
	p.log.Info("portal: tenant changed", "tenant", t.ID)
	p.redirect(w, r, sid, tenantURL(t.ID), "Tenant saved.")
}

func (p *portal) removeTenant(w http.ResponseWriter, r *http.Request, sid string) {
	id := r.PathValue("id")
	if err := parseForm(w, r); err != nil {
		p.failErr(w, r, "Tenant not removed", err)
		return
	}
	t, ok := p.findTenant(id)
	if !ok {
		p.fail(w, r, http.StatusNotFound, "Tenant not removed", "There is no tenant with this id. It may have been removed already.")
		return
	}
	if !p.confirmed(w, r, confirmPage{
		Heading: "Remove tenant " + t.Name + "?",
		Message: "Requests for tenant " + t.ID + " will be refused, and its synthetic data (with anything written to it) is dropped.",
		Button:  "Remove tenant", Cancel: tenantURL(t.ID),
	}) {
		return
	}
	if err := p.svc.RemoveTenant(t.ID); err != nil {
		p.failErr(w, r, "Tenant not removed", err)
		return
	}
	p.log.Info("portal: tenant removed", "tenant", t.ID)
	p.redirect(w, r, sid, Prefix+"#tenants", "Tenant "+t.Name+" removed.")
}

// clearRequests empties the request journal (as DELETE
// /admin/api/requests does), for example between two test runs.
func (p *portal) clearRequests(w http.ResponseWriter, r *http.Request, sid string) {
	p.journal.Clear()
	p.log.Info("portal: request journal cleared")
	p.redirect(w, r, sid, Prefix+"requests", "The request journal was cleared.")
}
