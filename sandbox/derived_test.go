package sandbox

import (
	"bytes"
	"encoding/json"

	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// identityPatients is the population of the byte-identity harness: big
// enough for every edge-case class (they repeat every 20 and 50 patients)
// and for searches with many matches and several pages.
const identityPatients = 240

// samplePatients are the harness's patients: every edge class of seed
// (Smith, accented, no allergies, no encounters, centenarian, Johnson,
// apostrophe, newborn, gender other/unknown, in-progress, no coverage,
// self-pay, deceased), the first and the last.
var samplePatients = []int{0, 1, 3, 5, 7, 9, 11, 13, 15, 17, 21, 29, 33, 45, 71, 128, identityPatients - 1}

// bundleHead is the part of a search Bundle that differs per request (a
// fresh id and the time of the search); the harness blanks it.
// A batch-response Bundle has a fresh id too.
var (
	bundleHead = regexp.MustCompile(`"resourceType":"Bundle","id":"[^"]*","meta":\{"lastUpdated":"[^"]*"\}`)
	batchHead  = regexp.MustCompile(`^\{"resourceType":"Bundle","id":"[^"]*","type":"batch-response"`)
)

func normalise(b []byte) []byte {
	b = batchHead.ReplaceAll(b, []byte(`{"resourceType":"Bundle","id":"X","type":"batch-response"`))
	return bundleHead.ReplaceAll(b, []byte(`"resourceType":"Bundle","id":"X","meta":{"lastUpdated":"X"}`))
}

// identityPair starts two servers over the same configuration, one
// storing every generated resource (the way before derived records) and
// one deriving them, and returns their base URLs.
func identityPair(t *testing.T, mutate func(*Config)) (stored, derived string) {
	t.Helper()
	var urls []string
	for _, storeAll := range []bool{true, false} {
		cfg := DefaultConfig()
		cfg.Auth.Required = false
		cfg.Tenants[0].Patients = identityPatients
		cfg.Tenants[1].Patients = 3
		cfg.Limits.StoreGenerated = storeAll
		cfg.PublicURL = "https://sandbox.example.test" // the same links from both
		cfg.Limits.PatientCache = 7                    // small: the harness also reads evicted patients again
		if mutate != nil {
			mutate(&cfg)
		}
		s, _ := newTestServer(t, cfg)
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls[0], urls[1]
}

// exchange is one request of the harness.
type exchange struct {
	method, path, form, body string
}

func (e exchange) String() string { return e.method + " " + e.path + " " + e.form }

func do(t *testing.T, base string, e exchange) (int, []byte) {
	t.Helper()
	var body io.Reader
	ct := ""
	switch {
	case e.form != "":
		body, ct = strings.NewReader(e.form), "application/x-www-form-urlencoded"
	case e.body != "":
		body, ct = strings.NewReader(e.body), "application/fhir+json"
	}
	req, err := http.NewRequest(e.method, base+e.path, body)
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// sameBytes sends e to both servers and fails unless they answer the same
// status and the same bytes (search Bundle id and time aside); it returns
// the answer.
func sameBytes(t *testing.T, stored, derived string, e exchange) []byte {
	t.Helper()
	s1, b1 := do(t, stored, e)
	s2, b2 := do(t, derived, e)
	n1, n2 := normalise(b1), normalise(b2)
	if s1 != s2 || !bytes.Equal(n1, n2) {
		t.Errorf("%s: stored %d, derived %d\nstored:  %.600s\nderived: %.600s", e, s1, s2, n1, n2)
	}
	return b1
}

type identitySet struct {
	Total int `json:"total"`
	Link  []struct {
		Relation string `json:"relation"`
		URL      string `json:"url"`
	} `json:"link"`
	Entry []struct {
		Resource struct {
			ResourceType string `json:"resourceType"`
			ID           string `json:"id"`
		} `json:"resource"`
	} `json:"entry"`
}

// pages compares a search and every next page after it; it returns every
// resource it listed.
func pages(t *testing.T, stored, derived string, first exchange) (total int, refs []string) {
	t.Helper()
	e := first
	for n := 0; n < 50; n++ {
		b := sameBytes(t, stored, derived, e)
		var ss identitySet
		if err := json.Unmarshal(b, &ss); err != nil {
			t.Fatalf("%s: %v: %.300s", e, err, b)
		}
		if n == 0 {
			total = ss.Total
		}
		for _, en := range ss.Entry {
			refs = append(refs, en.Resource.ResourceType+"/"+en.Resource.ID)
		}
		next := ""
		for _, l := range ss.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		if next == "" {
			return total, refs
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		e = exchange{method: "GET", path: u.RequestURI()}
	}
	t.Fatalf("%s: more than 50 pages", first)
	return 0, nil
}

// TestDerivedByteIdentity is the harness of derived records: on the same
// population, the server deriving patients on demand serves the very
// bytes the server storing everything serves, for every read and every
// query of the partner interface, per release.
func TestDerivedByteIdentity(t *testing.T) {
	t.Parallel()
	stored, derived := identityPair(t, nil)
	h, err := seed.NewHospital(seed.Options{Seed: DefaultConfig().Tenants[0].Seed, Tenant: ContosoTenant, ReferenceDate: DefaultConfig().ReferenceDate.Time})
	if err != nil {
		t.Fatal(err)
	}
	for _, rel := range spec.Releases() {
		t.Run(rel.Name, func(t *testing.T) {
			t.Parallel()
			identityRelease(t, stored, derived, rel, h)
		})
	}
}

func identityRelease(t *testing.T, stored, derived string, rel spec.Release, h *seed.Hospital) {
	base := rel.Base()
	med := "MedicationRequest"
	vitals := "category=vital-signs&_sort=-date"
	family := "family"
	if rel.Name == "dstu2" {
		med, vitals, family = "MedicationOrder", "_sort:desc=date&category=vital-signs", "family:contains"
	}
	get := func(path string) exchange { return exchange{method: "GET", path: base + path} }
	search := func(form string) exchange {
		return exchange{method: "POST", path: base + "/Patient/_search", form: form}
	}
	totalAll := 0
	for _, i := range samplePatients {
		d := h.Demographics(i)
		pid := d.ID
		fam := strings.ToLower(d.Name.Family)
		sub := fam[:min(3, len(fam))]
		if len(fam) > 4 {
			sub = fam[1:4] // a substring that is not a prefix
		}
		given := d.Name.Given[0]
		sameBytes(t, stored, derived, get("/Patient/"+pid))
		forms := []string{
			family + "=" + url.QueryEscape(sub) + "&_count=3",
			family + "=" + url.QueryEscape(sub) + "&given=" + url.QueryEscape(given[:min(2, len(given))]) + "&_count=5",
			"given=" + url.QueryEscape(strings.ToUpper(given[:min(3, len(given))])) + "&_count=4",
			"birthdate=" + d.BirthDate,
			"identifier=" + d.MRN,
			"identifier=" + url.QueryEscape(seed.MRNSystem(ContosoTenant)+"|"+d.MRN),
			"_id=" + pid,
			"name=" + url.QueryEscape(sub) + "&_count=2",
			"gender=" + d.Gender + "&" + family + "=" + url.QueryEscape(sub),
		}
		for _, f := range forms {
			total, _ := pages(t, stored, derived, search(f))
			totalAll += total
		}
		q := url.QueryEscape("Patient/" + pid)
		clinical := []string{
			"/Observation?patient=" + pid + "&" + vitals,
			"/Condition?patient=" + pid + "&_count=10",
			"/Encounter?patient=" + pid + "&_sort:desc=date&_count=1",
			"/AllergyIntolerance?patient=" + pid,
			"/" + med + "?patient=" + pid + "&_count=10",
			"/Coverage?patient=" + pid,
		}
		var refs []string
		for _, c := range clinical {
			_, r := pages(t, stored, derived, get(c))
			refs = append(refs, r...)
		}
		// every resource of the patient, paged, and each one read
		for _, typ := range []string{"Observation", "Encounter", "Condition", "AllergyIntolerance", med, "Coverage"} {
			_, r := pages(t, stored, derived, get("/"+typ+"?patient="+q+"&_count=4"))
			refs = append(refs, r...)
		}
		_, r := pages(t, stored, derived, get("/Observation?subject="+q+"&_count=7&_include=Observation:patient"))
		refs = append(refs, r...)
		for _, ref := range refs {
			sameBytes(t, stored, derived, get("/"+ref))
		}
		// the batch of the six clinical queries
		var entries []string
		for _, c := range clinical {
			entries = append(entries, `{"request":{"method":"GET","url":`+strconv.Quote(strings.TrimPrefix(c, "/"))+`}}`)
		}
		entries = append(entries, `{"request":{"method":"GET","url":"Patient/`+pid+`"}}`)
		sameBytes(t, stored, derived, exchange{method: "POST", path: base + "/", body: `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`})
	}
	if totalAll == 0 {
		t.Fatal("no Patient search matched: the harness compares nothing")
	}
	// searches over the whole population, and ids no record holds
	for _, path := range []string{
		"/Patient?_count=7", "/Patient?family=smi&_count=10", "/Patient?family=SMITH&_count=0",
		"/Patient?gender=female&_count=5&_offset=40", "/Patient?_sort=family&_count=5", "/Patient?address-city=a&_count=3",
		"/Patient?birthdate=ge1990&_count=3", "/Patient?name:exact=Smith&_count=3", "/Patient?identifier=" + url.QueryEscape(seed.MRNSystem(ContosoTenant)+"|") + "&_count=2",
		"/Observation?code=8867-4&_count=3", "/Observation?category=vital-signs&_count=2&_offset=100",
		"/Encounter?_count=5&_sort=-date", "/Condition?patient=pat-0", "/Condition?patient=pat-99999", "/Observation?encounter=enc-8-1",
		"/Patient/pat-0", "/Patient/pat-" + strconv.Itoa(identityPatients+1), "/Observation/obs-1-999", "/Observation/obs-01-1",
		"/Coverage/cov-2", "/Coverage/cov-2-1", "/Practitioner?_count=3", "/Organization/org-hospital",
	} {
		sameBytes(t, stored, derived, get(path))
	}
	if _, refs := pages(t, stored, derived, get("/Patient?family=son&_count=9")); len(refs) < 10 {
		t.Errorf("family=son paged over %d patients only: the harness wants several pages", len(refs))
	}

}

// authed sends a request with a bearer token to srv and returns status
// and body.
func authed(t *testing.T, srv, tok, method, path, body string) (int, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv+path, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != "" {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func tenantToken(t *testing.T, srv, tenantID string) string {
	t.Helper()
	res, err := http.PostForm(srv+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {"change-me-dev-secret"}, "scope": {tenantID}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	tok := between(string(b), `"access_token":"`, `"`)
	if res.StatusCode != 200 || tok == "" {
		t.Fatalf("token for %s: %d %s", tenantID, res.StatusCode, b)
	}
	return tok
}

// TestDerivedWritesOverlay: on derived records, FHIR writes and fixtures
// overlay the generated resources: an updated patient is found by its new
// name and no longer by its old one, a deleted resource disappears from
// reads and searches, created and loaded resources are found next to the
// generated ones; --state keeps all of it across a restart, and the other
// tenant, generated from the same ids, sees none of it.
func TestDerivedWritesOverlay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture := filepath.Join(dir, "fixture.json")
	// a fixture replaces generated pat-7 and adds an observation to it
	if err := os.WriteFile(fixture, []byte(`{"resourceType":"Bundle","type":"collection","entry":[
{"resource":{"resourceType":"Patient","id":"pat-7","name":[{"family":"Fixturely","given":["Fiona"]}],"gender":"female","birthDate":"1961-02-03"}},
{"resource":{"resourceType":"Observation","id":"fx-obs-1","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/pat-7"},"effectiveDateTime":"2025-12-30T10:00:00Z","valueQuantity":{"value":71,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FHIRVersion = "r4"
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 60, 60
	cfg.Tenants[0].Fixtures = []FixtureConfig{{Path: fixture, FHIRVersion: "r4"}}
	cfg.StateFile = filepath.Join(dir, "sandbox.state")
	cfg.Admin.Token = "admin-token-for-derived-tests"
	cfg.Limits.PatientCache = 5
	start := func() (*Server, *httptest.Server) {
		s, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		return s, srv
	}
	s1, srv1 := start()
	tokA := tenantToken(t, srv1.URL, ContosoTenant)
	h, err := seed.NewHospital(seed.Options{Seed: cfg.Tenants[0].Seed, Tenant: ContosoTenant, ReferenceDate: cfg.ReferenceDate.Time})
	if err != nil {
		t.Fatal(err)
	}
	oldFamily := h.Demographics(2).Name.Family // pat-3's generated family name
	if st, b := authed(t, srv1.URL, tokA, "PUT", "/r4/Patient/pat-3", `{"resourceType":"Patient","id":"pat-3","name":[{"family":"Zebedee","given":["Quentin"]}],"gender":"male","birthDate":"1970-01-01"}`); st != 200 || !strings.Contains(b, `"versionId":"2"`) {
		t.Fatalf("PUT pat-3: %d %s", st, b)
	}
	if st, b := authed(t, srv1.URL, tokA, "DELETE", "/r4/Observation/obs-5-1", ""); st != 200 && st != 204 {
		t.Fatalf("DELETE obs-5-1: %d %s", st, b)
	}
	st, b := authed(t, srv1.URL, tokA, "POST", "/r4/Patient", `{"resourceType":"Patient","name":[{"family":"Zebedee","given":["Newton"]}],"gender":"female"}`)
	if st != 201 {
		t.Fatalf("POST Patient: %d %s", st, b)
	}
	newID := between(b, `"id":"`, `"`)

	check := func(srv, tokA, tokB string) {
		t.Helper()
		st, b := authed(t, srv, tokA, "GET", "/r4/Patient?family=zebedee", "")
		if st != 200 || !strings.Contains(b, `"total":2`) || !strings.Contains(b, `"id":"pat-3"`) || !strings.Contains(b, `"id":"`+newID+`"`) {
			t.Errorf("family=zebedee: %d %.500s", st, b)
		}
		st, b = authed(t, srv, tokA, "GET", "/r4/Patient?family="+url.QueryEscape(oldFamily)+"&_count=100", "")
		if st != 200 || strings.Contains(b, `"id":"pat-3"`) {
			t.Errorf("family=%s still finds the updated pat-3: %d %.300s", oldFamily, st, b)
		}
		if st, b := authed(t, srv, tokA, "GET", "/r4/Observation/obs-5-1", ""); st != 410 {
			t.Errorf("GET deleted obs-5-1: %d %.200s", st, b)
		}
		st, b = authed(t, srv, tokA, "GET", "/r4/Observation?patient=pat-5&_count=100", "")
		if st != 200 || strings.Contains(b, `"id":"obs-5-1"`) || !strings.Contains(b, `"id":"obs-5-2"`) {
			t.Errorf("Observation?patient=pat-5 after deleting obs-5-1: %d %.300s", st, b)
		}
		st, b = authed(t, srv, tokA, "GET", "/r4/Patient/pat-7", "")
		if st != 200 || !strings.Contains(b, "Fixturely") {
			t.Errorf("fixture pat-7: %d %.300s", st, b)
		}
		st, b = authed(t, srv, tokA, "GET", "/r4/Observation?patient=pat-7&category=vital-signs&_sort=-date&_count=1", "")
		if st != 200 || !strings.Contains(b, `"id":"fx-obs-1"`) {
			t.Errorf("fixture observation not first of pat-7's vitals: %d %.300s", st, b)
		}
		// the other tenant's generated records, same ids, are untouched
		for _, p := range []string{"/r4/Patient/pat-3", "/r4/Observation/obs-5-1", "/r4/Patient/pat-7"} {
			st, b := authed(t, srv, tokB, "GET", p, "")
			if st != 200 || !strings.Contains(b, `"versionId":"1"`) || strings.Contains(b, "Zebedee") || strings.Contains(b, "Fixturely") {
				t.Errorf("tenant B %s: %d %.200s", p, st, b)
			}
		}
		st, b = authed(t, srv, tokB, "GET", "/r4/Patient?family=zebedee", "")
		if st != 200 || !strings.Contains(b, `"total":0`) {
			t.Errorf("tenant B sees tenant A's writes: %d %.300s", st, b)
		}
	}
	check(srv1.URL, tokA, tenantToken(t, srv1.URL, FabrikamTenant))
	srv1.Close()
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	s2, srv2 := start()
	t.Cleanup(func() { srv2.Close(); _ = s2.Close() })
	check(srv2.URL, tenantToken(t, srv2.URL, ContosoTenant), tenantToken(t, srv2.URL, FabrikamTenant))
}
