package sandbox

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

var (
	preBlock    = regexp.MustCompile(`(?s)<pre>(.*?)</pre>`)
	patientLink = regexp.MustCompile(`<a href="([^"]+/Patient/([^"/]+))">([^<]*)</a>`)
)

// landing fetches the landing page over HTTP with extra headers.
func (p *partner) landing(header http.Header) string {
	p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, p.srv.URL+"/", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		p.t.Fatalf("landing page: %d", res.StatusCode)
	}
	return string(b)
}

// TestLandingPageContents: the bases, the token URL, every tenant with a
// few patients whose links read those patients, the active scenarios, and
// links to the portal and the request journal.
func TestLandingPageContents(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	page := p.landing(nil)
	base := p.srv.URL
	for _, rel := range spec.Releases() {
		if !strings.Contains(page, base+rel.Base()) {
			t.Errorf("no base %s%s", base, rel.Base())
		}
	}
	for _, want := range []string{base + "/token", `href="` + base + `/portal/"`, `href="` + base + `/portal/requests"`, base + "/admin/api/requests", "None: the sandbox answers normally"} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	links := patientLink.FindAllStringSubmatch(page, -1)
	cfg := p.s.Config()
	if want := len(cfg.Tenants) * min(indexPatients, cfg.Tenants[0].Patients); len(links) != want {
		t.Fatalf("%d patient links, want %d:\n%s", len(links), want, page)
	}
	// each link reads its patient, under the tenant it is listed with
	for i, tn := range cfg.Tenants {
		if !strings.Contains(page, html.EscapeString(tn.Name)) {
			t.Errorf("landing page lacks tenant %s", tn.Name)
		}
		tok := p.token(DefaultClientID, DevSecret, tn.ID)
		for _, l := range links[i*indexPatients : (i+1)*indexPatients] {
			path := strings.TrimPrefix(html.UnescapeString(l[1]), base)
			code, _, body := p.fhir("GET", path, tok, "")
			if code != http.StatusOK || body["id"] != l[2] {
				t.Errorf("%s: %d id %v", path, code, body["id"])
				continue
			}
			names, _ := body["name"].([]any)
			if len(names) == 0 {
				t.Errorf("%s has no name", path)
				continue
			}
			if fam, _ := names[0].(map[string]any)["family"].(string); fam == "" || !strings.Contains(html.UnescapeString(l[3]), fam) {
				t.Errorf("link text %q does not name %s's patient (family %q)", l[3], path, fam)
			}
		}
	}

	lib, err := BuiltinScenarios()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.s.ActivateScenario(lib[0]); err != nil {
		t.Fatal(err)
	}
	defer p.s.engine.DeactivateAll()
	if page := p.landing(nil); !strings.Contains(page, "<code>"+lib[0].Name+"</code>") {
		t.Errorf("active scenario %s not shown", lib[0].Name)
	}
}

// runExample runs the landing page's two examples (the token, then the
// patient search) in a POSIX shell, exactly as a user pastes them.
func runExample(t *testing.T, page string, env ...string) (string, error) {
	t.Helper()
	blocks := preBlock.FindAllStringSubmatch(page, -1)
	if len(blocks) != 2 {
		t.Fatalf("%d <pre> blocks, want 2", len(blocks))
	}
	search := strings.Split(html.UnescapeString(blocks[1][1]), "\n")
	script := html.UnescapeString(blocks[0][1]) + "\n" + search[len(search)-1] + "\n"
	cmd := exec.Command("sh", "-c", script)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestLandingPageExampleRuns: pasted as is, the landing page's curl
// example gets a token and searches patients. On this machine it defines
// the development secret itself; through a proxy or tunnel it shows no
// secret and stops with a clear message until CLIENT_SECRET is set.
func TestLandingPageExampleRuns(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	unset := "CLIENT_SECRET="
	out, err := runExample(t, p.landing(nil), unset)
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	if err != nil || json.Unmarshal([]byte(out), &bundle) != nil || bundle.ResourceType != "Bundle" || bundle.Type != "searchset" {
		t.Fatalf("local example: %v\n%s", err, out)
	}

	tunnelled := p.landing(http.Header{"X-Forwarded-Host": {"abc.ngrok.app"}, "X-Forwarded-Proto": {"http"}})
	if strings.Contains(tunnelled, DevSecret) {
		t.Fatal("the page shows the development secret through a tunnel")
	}
	// the tunnel's address is not real here: point the example back at
	// the test server
	tunnelled = strings.ReplaceAll(tunnelled, "http://abc.ngrok.app", p.srv.URL)
	if out, err := runExample(t, tunnelled); err == nil || !strings.Contains(out, "set CLIENT_SECRET") {
		t.Errorf("example without CLIENT_SECRET: %v\n%s", err, out)
	}
	out, err = runExample(t, tunnelled, "CLIENT_SECRET="+DevSecret)
	if err != nil || json.Unmarshal([]byte(out), &bundle) != nil || bundle.ResourceType != "Bundle" {
		t.Errorf("example with CLIENT_SECRET set: %v\n%s", err, out)
	}
}

// TestOrganizationNamedForTenant: each tenant's hospital Organization,
// in every release, bears the tenant's name, and its patients point at it
// by that name.
func TestOrganizationNamedForTenant(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	for _, tn := range p.s.Config().Tenants {
		tok := p.token(DefaultClientID, DevSecret, tn.ID)
		for _, rel := range spec.Releases() {
			code, _, org := p.fhir("GET", rel.Base()+"/Organization/org-hospital", tok, "")
			if code != http.StatusOK || org["name"] != tn.Name {
				t.Errorf("%s %s: Organization %d name %v, want %q", rel.Name, tn.ID, code, org["name"], tn.Name)
			}
			code, _, pat := p.fhir("GET", rel.Base()+"/Patient?_count=1", tok, "")
			if code != http.StatusOK || !strings.Contains(fmt.Sprint(pat), "display:"+tn.Name) {
				t.Errorf("%s %s: a patient does not name its hospital %q: %v", rel.Name, tn.ID, tn.Name, pat)
			}
		}
	}
}

// TestUnknownFHIRBase: a FHIR-looking path outside every base gets a 404
// OperationOutcome listing the bases served; other unknown paths keep the
// plain 404.
func TestUnknownFHIRBase(t *testing.T) {
	t.Parallel()
	p := newPartner(t)
	def, _ := spec.Lookup(p.s.Config().FHIRVersion)
	for _, path := range []string{"/r5/metadata", "/fhir/Patient?name=x", "/R4/Patient", "/Stu3/metadata", "/metadata", "/Patient/1", "/baseR4/metadata", "/dstu3"} {
		res, err := http.Get(p.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var oo struct {
			ResourceType string `json:"resourceType"`
			Issue        []struct {
				Code        string `json:"code"`
				Diagnostics string `json:"diagnostics"`
			} `json:"issue"`
		}
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), def.MediaType) || json.Unmarshal(b, &oo) != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != "not-found" {
			t.Errorf("%s: %d %s %s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
			continue
		}
		for _, rel := range spec.Releases() {
			if !strings.Contains(oo.Issue[0].Diagnostics, p.srv.URL+rel.Base()) {
				t.Errorf("%s: diagnostics lack the base %s: %s", path, rel.Base(), oo.Issue[0].Diagnostics)
			}
		}
		if path == "/R4/Patient" && !strings.Contains(oo.Issue[0].Diagnostics, p.srv.URL+"/r4/Patient") {
			t.Errorf("%s: no lower-case suggestion: %s", path, oo.Issue[0].Diagnostics)
		}
	}
	for _, path := range []string{"/nope", "/favicon.ico", "/robots.txt", "/portalx"} {
		res, err := http.Get(p.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") || !strings.Contains(string(b), "404 page not found") {
			t.Errorf("%s: %d %s %q, want the mux's plain 404", path, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
	}
}

// TestLandingPageCountsLoadedPatients: a tenant with loaded or written
// patients besides its synthetic ones says how many there are in all,
// rather than counting them as synthetic ones.
func TestLandingPageCountsLoadedPatients(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture := filepath.Join(dir, "p.ndjson")
	if err := os.WriteFile(fixture, []byte(`{"resourceType":"Patient","id":"fx-1","name":[{"family":"Loaded","given":["Lou"]}]}`+"\n"+
		`{"resourceType":"Patient","id":"fx-2","name":[{"family":"Loaded","given":["Liv"]}]}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := smallConfig()
	cfg.Tenants[0].Patients = 3
	cfg.Tenants[0].Fixtures = []FixtureConfig{{Path: fixture, FHIRVersion: cfg.FHIRVersion}}
	s, _ := newTestServer(t, cfg)
	page := get(t, s.Handler(), "/", nil).Body.String()
	rel, _ := spec.Lookup(cfg.FHIRVersion)
	for _, want := range []string{"3 synthetic patients; 5 patients in all at <code>" + rel.Base() + "</code>", "and 2 more"} {
		if !strings.Contains(page, want) {
			t.Errorf("landing page lacks %q", want)
		}
	}
	if strings.Contains(page, "1 synthetic patients;") {
		t.Error("the other tenant, synthetic only, says it has others")
	}
}
