package sandbox

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

//go:embed templates/index.html
var templateFS embed.FS

// indexTemplate is parsed once at init; a broken template is a build
// mistake, caught by the landing page test.
var indexTemplate = template.Must(template.ParseFS(templateFS, "templates/index.html"))

type indexBase struct {
	Label, FHIRVersion, URL string
	Default                 bool
}

type indexData struct {
	Releases     string // "DSTU2, STU3 and R4"
	Bases        []indexBase
	DefaultBase  string
	TokenURL     string
	PortalURL    string
	JournalURL   string // the portal's live request page
	AdminAPIURL  string // the request journal as JSON
	AuthRequired bool
	Tenants      []indexTenant
	TenantID     string
	ClientID     string
	// DevSecret is the built-in development secret when the example's
	// client has it and the page is shown on this machine only (never
	// through a proxy or a public URL): then the example defines
	// CLIENT_SECRET itself.
	DevSecret string
	Scenarios []string // active scenario names
}

// indexTenant is a tenant and a few of its patients.
type indexTenant struct {
	tenant.Tenant
	Patients []indexPatient
	More     int    // patients beyond those listed
	Total    int    // patients in the default release's store: synthetic, loaded and written
	Base     string // the default release's base path ("/stu3")
}

type indexPatient struct {
	ID, Name, URL string
}

// indexPatients is how many patients of each tenant the landing page
// lists.
const indexPatients = 3

// securityHeaders are set on every HTML page: no sniffing, no framing, no
// script at all.
func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	h.Set("Referrer-Policy", "no-referrer")
}

func (s *Server) handleIndex(w http.ResponseWriter, r *http.Request) {
	base := s.PublicBase(r)
	d := indexData{
		TokenURL:     base + "/token",
		PortalURL:    base + "/portal/",
		JournalURL:   base + "/portal/requests",
		AdminAPIURL:  base + "/admin/api/requests",
		AuthRequired: s.cfg.Auth.Required,
		TenantID:     "TENANT_GUID",
		ClientID:     "CLIENT_ID",
		Scenarios:    s.engine.Active(),
	}
	d.Releases = spec.LabelList()
	for _, rel := range spec.Releases() {
		b := indexBase{Label: rel.Label, FHIRVersion: rel.FHIRVersion, URL: base + rel.Base(), Default: rel.Name == s.cfg.FHIRVersion}
		if b.Default {
			d.DefaultBase = b.URL
		}
		d.Bases = append(d.Bases, b)
	}
	for _, t := range s.tenants.List() { // as mapped now, portal changes included
		d.Tenants = append(d.Tenants, s.indexTenant(t, d.DefaultBase))
	}
	if len(d.Tenants) > 0 {
		d.TenantID = d.Tenants[0].ID
	}
	if len(s.cfg.Clients) > 0 {
		c := s.cfg.Clients[0]
		d.ClientID = c.ID
		if s.shownLocally(r) {
			for _, sec := range c.Secrets {
				if sec.Value == DevSecret && (sec.Expires.IsZero() || s.now().Before(sec.Expires)) {
					d.DevSecret = DevSecret
				}
			}
		}
	}
	// Rendered to a buffer first so a template error becomes a clean 500,
	// not half a page.
	var buf bytes.Buffer
	if err := indexTemplate.Execute(&buf, d); err != nil {
		s.log.Error("render landing page", "request_id", RequestID(r.Context()), "err", err)
		http.Error(w, "internal server error", http.StatusInternalServerError)
		return
	}
	securityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// indexTenant lists a few patients of a local tenant, from its store of
// the default release, each with its read URL.
func (s *Server) indexTenant(t tenant.Tenant, base string) indexTenant {
	it := indexTenant{Tenant: t}
	if t.Upstream != "" || t.Down {
		return it
	}
	st, err := s.tenants.Store(t.ID, s.cfg.FHIRVersion)
	if err != nil {
		s.log.Warn("landing page: tenant store", "tenant", t.ID, "err", err)
		return it
	}
	res := st.Search(store.Query{Type: "Patient", Count: indexPatients})
	for _, doc := range res.Matches {
		it.Patients = append(it.Patients, indexPatient{ID: doc.ID, Name: patientName(doc.JSON), URL: base + "/Patient/" + doc.ID})
	}
	it.More = res.Total - len(it.Patients)
	it.Total = res.Total
	if rel, ok := spec.Lookup(s.cfg.FHIRVersion); ok {
		it.Base = rel.Base()
	}
	return it
}

// patientName is "Given Family" of a Patient's first name, or "".
func patientName(b []byte) string {
	var p struct {
		Name []struct {
			Text   string   `json:"text"`
			Family any      `json:"family"` // a string, or a list in DSTU2
			Given  []string `json:"given"`
		} `json:"name"`
	}
	if json.Unmarshal(b, &p) != nil || len(p.Name) == 0 {
		return ""
	}
	n := p.Name[0]
	if n.Text != "" {
		return n.Text
	}
	parts := slices.Clone(n.Given)
	switch f := n.Family.(type) {
	case string:
		parts = append(parts, f)
	case []any:
		for _, x := range f {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
	}
	return strings.Join(parts, " ")
}

// shownLocally reports whether r came straight from this machine (a
// loopback peer, no proxy or tunnel header) to a sandbox without a public
// URL elsewhere: only then may the page show the development secret,
// which is published anyway but must not be handed out on the internet.
func (s *Server) shownLocally(r *http.Request) bool {
	if s.cfg.PublicURL != "" && !loopbackURL(s.cfg.PublicURL) {
		return false
	}
	for _, h := range []string{"X-Forwarded-For", "Forwarded", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip"} {
		if _, ok := r.Header[h]; ok {
			return false
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
