package sandbox

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
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
	AuthRequired bool
	Tenants      []tenant.Tenant
	TenantID     string
	ClientID     string
}

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
		AuthRequired: s.cfg.Auth.Required,
		Tenants:      s.tenants.List(), // as mapped now, portal changes included
		TenantID:     "TENANT_GUID",
		ClientID:     "CLIENT_ID",
	}
	if len(d.Tenants) > 0 {
		d.TenantID = d.Tenants[0].ID
	}
	if len(s.cfg.Clients) > 0 {
		d.ClientID = s.cfg.Clients[0].ID
	}
	d.Releases = spec.LabelList()
	for _, rel := range spec.Releases() {
		b := indexBase{Label: rel.Label, FHIRVersion: rel.FHIRVersion, URL: base + rel.Base(), Default: rel.Name == s.cfg.FHIRVersion}
		if b.Default {
			d.DefaultBase = b.URL
		}
		d.Bases = append(d.Bases, b)
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
