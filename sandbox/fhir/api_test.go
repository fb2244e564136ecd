package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

const testTenant = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"

var apiRefDate = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// apiFixture is one release's API over a generated hospital, served by a
// real HTTP server.
type apiFixture struct {
	v    Version
	api  *API
	srv  *httptest.Server
	st   *store.Store
	hosp *seed.Hospital
}

func newAPIFixture(t testing.TB, v Version, patients int) *apiFixture {
	t.Helper()
	f := buildAPIFixture(t, v, patients)
	t.Cleanup(f.srv.Close)
	return f
}

// buildAPIFixture is newAPIFixture without the cleanup: the caller closes
// it (benchmarks free a large population before building the next).
func buildAPIFixture(t testing.TB, v Version, patients int) *apiFixture {
	t.Helper()
	h, err := seed.NewHospital(seed.Options{Seed: 42, Tenant: testTenant, Patients: patients, ReferenceDate: apiRefDate})
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return apiRefDate.Add(time.Hour) }
	st := store.New(v.SearchParams(), now)
	if err := Populate(v, st, h, patients, apiRefDate); err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	f := &apiFixture{v: v, st: st, hosp: h}
	f.api = NewAPI(Options{
		Version:   v,
		Store:     func(*http.Request) (*store.Store, *Error) { return st, nil },
		Base:      func(r *http.Request) string { return "http://" + r.Host },
		Security:  Security{Token: "/token", Authorize: "/authorize", Register: "/portal/", Manage: "/portal/", JWKS: "/.well-known/jwks.json"},
		Published: apiRefDate,
		Now:       now,
		NewID:     func() string { return "id-" + strconv.FormatInt(n.Add(1), 10) },
	})
	mux := http.NewServeMux()
	mux.Handle(f.api.Prefix()+"/", f.api)
	mux.Handle(f.api.Prefix(), f.api)
	f.srv = httptest.NewServer(mux)
	return f
}

func (f *apiFixture) base() string { return f.srv.URL + f.api.Prefix() }

type resp struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func (f *apiFixture) do(t testing.TB, method, path string, body io.Reader, hdr ...string) resp {
	t.Helper()
	req, err := http.NewRequest(method, f.base()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	r := resp{status: res.StatusCode, header: res.Header, body: b}
	_ = json.Unmarshal(b, &r.json)
	if len(b) > 0 && r.json != nil {
		if err := validate.Release(f.v.Release().Name, b); err != nil {
			t.Errorf("%s %s: response is not valid %s: %v\n%.2000s", method, path, f.v.Release().Name, err, b)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, f.v.Release().MediaType) && !strings.Contains(path, "smart-configuration") {
			t.Errorf("%s %s: Content-Type %q, want %s", method, path, ct, f.v.Release().MediaType)
		}
	}
	return r
}

// at walks a decoded JSON value by a dotted path with numeric indexes.
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		switch t := v.(type) {
		case map[string]any:
			v = t[k]
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i >= len(t) {
				return nil
			}
			v = t[i]
		default:
			return nil
		}
	}
	return v
}

func str(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	case nil:
		return ""
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func entries(r resp) []any { e, _ := r.json["entry"].([]any); return e }

// patientWith finds a generated patient that has every kind of clinical
// data, so the interface queries all have something to return.
func (f *apiFixture) patientWith(t testing.TB) seed.PatientRecord {
	t.Helper()
	for i := 0; i < f.hosp.Options.Patients; i++ {
		p := f.hosp.Patient(i)
		if len(p.Vitals) > 2 && len(p.Conditions) > 0 && len(p.Allergies) > 0 && len(p.Meds) > 0 && len(p.Encounters) > 1 && p.Coverage != nil {
			return p
		}
	}
	t.Fatal("no patient with every kind of data")
	return seed.PatientRecord{}
}

// TestInterfaceQueries runs every query of the Patients app interface, as
// the client sends it, against both releases.
func TestInterfaceQueries(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, 80)
			p := f.patientWith(t)
			pid := p.Patient.ID
			dstu2 := v.Release().Name == "dstu2"
			fam := p.Patient.Name.Family
			sub := strings.ToLower(string([]rune(fam)[1:min(4, len([]rune(fam)))]))
			familyParam := "family"
			if dstu2 {
				familyParam = "family:contains"
			}
			form := func(vals url.Values) resp {
				return f.do(t, "POST", "/Patient/_search", strings.NewReader(vals.Encode()), "Content-Type", "application/x-www-form-urlencoded")
			}
			hasPatient := func(name string, r resp) {
				t.Helper()
				if r.status != 200 || at(r.json, "type") != "searchset" {
					t.Fatalf("%s: status %d %s", name, r.status, r.body)
				}
				for _, e := range entries(r) {
					if at(e, "resource.id") == pid {
						if !strings.HasSuffix(str(at(e, "fullUrl")), "/Patient/"+pid) || at(e, "search.mode") != "match" {
							t.Errorf("%s: entry %v", name, e)
						}
						return
					}
				}
				t.Errorf("%s: %s not among %d entries", name, pid, len(entries(r)))
			}
			hasPatient("family substring", form(url.Values{familyParam: {sub}}))
			hasPatient("given substring", form(url.Values{"given": {strings.ToLower(p.Patient.Name.Given[0][1:])}}))
			hasPatient("name substring", form(url.Values{"name": {strings.ToUpper(sub)}}))
			hasPatient("birthdate exact", form(url.Values{"birthdate": {p.Patient.BirthDate.Format("2006-01-02")}}))
			hasPatient("gender+family", form(url.Values{"gender": {p.Patient.Gender}, familyParam: {sub}}))
			hasPatient("identifier", form(url.Values{"identifier": {p.Patient.MRN}}))
			hasPatient("identifier system|value", form(url.Values{"identifier": {seed.MRNSystem(testTenant) + "|" + p.Patient.MRN}}))
			hasPatient("_id", form(url.Values{"_id": {pid}}))
			hasPatient("id", form(url.Values{"id": {pid}}))

			// _count limits the page, total counts every match
			r := form(url.Values{"_count": {"2"}, "gender": {"female"}})
			total := int(at(r.json, "total").(float64))
			if len(entries(r)) != 2 || total <= 2 {
				t.Errorf("_count=2: %d entries, total %d", len(entries(r)), total)
			}
			next := ""
			for _, l := range r.json["link"].([]any) {
				if at(l, "relation") == "next" {
					next = str(at(l, "url"))
				}
			}
			if !strings.Contains(next, "_offset=2") {
				t.Errorf("next link %q", next)
			} else {
				u, _ := url.Parse(next)
				r2 := f.do(t, "GET", strings.TrimPrefix(u.Path, f.api.Prefix())+"?"+u.RawQuery, nil)
				if at(r2.json, "entry.0.resource.id") == at(r.json, "entry.0.resource.id") || int(at(r2.json, "total").(float64)) != total {
					t.Errorf("next page repeats the first or changes total: %s", r2.body)
				}
			}

			// read: the minimum fields of the contract
			r = f.do(t, "GET", "/Patient/"+pid, nil)
			if r.status != 200 || r.header.Get("ETag") != `W/"1"` {
				t.Fatalf("read: %d %v", r.status, r.header)
			}
			fam0 := str(at(r.json, "name.0.family"))
			if dstu2 {
				fam0 = str(at(r.json, "name.0.family.0"))
			}
			if fam0 != fam || at(r.json, "name.0.use") != "official" || at(r.json, "gender") != p.Patient.Gender || at(r.json, "birthDate") != p.Patient.BirthDate.Format("2006-01-02") {
				t.Errorf("patient demographics: %s", r.body)
			}
			if at(r.json, "identifier.0.type.coding.0.code") != "MR" || at(r.json, "identifier.0.value") != p.Patient.MRN {
				t.Errorf("MRN identifier: %s", r.body)
			}
			gp := "generalPractitioner.0.display"
			if dstu2 {
				gp = "careProvider.0.display"
			}
			if str(at(r.json, gp)) == "" {
				t.Errorf("%s missing: %s", gp, r.body)
			}

			// vital signs, newest first
			q := "/Observation?patient=" + pid + "&category=vital-signs&_sort=-date"
			if dstu2 {
				q = "/Observation?patient=" + pid + "&_sort:desc=date&category=vital-signs"
			}
			r = f.do(t, "GET", q, nil)
			es := entries(r)
			if len(es) == 0 || int(at(r.json, "total").(float64)) != len(p.Vitals) && len(es) < f.api.o.Limits.DefaultCount {
				t.Fatalf("vitals: %d entries, total %v, seed has %d", len(es), at(r.json, "total"), len(p.Vitals))
			}
			prev := "9999"
			for _, e := range es {
				d := str(at(e, "resource.effectiveDateTime"))
				if d > prev {
					t.Errorf("vitals not newest first: %s after %s", d, prev)
				}
				prev = d
				if str(at(e, "resource.code.coding.0.code")) == "" || (at(e, "resource.valueQuantity.value") == nil && at(e, "resource.component.0.valueQuantity.value") == nil) {
					t.Errorf("vital without code or value: %v", e)
				}
			}

			r = f.do(t, "GET", "/Condition?patient="+pid+"&_count=10", nil)
			if len(entries(r)) != min(10, len(p.Conditions)) || str(at(r.json, "entry.0.resource.code.coding.0.display")) == "" {
				t.Errorf("conditions: %s", r.body)
			}
			r = f.do(t, "GET", "/Encounter?patient="+pid+"&_sort:desc=date&_count=1", nil)
			last := p.Encounters[len(p.Encounters)-1]
			if len(entries(r)) != 1 || at(r.json, "entry.0.resource.id") != last.ID || str(at(r.json, "entry.0.resource.type.0.coding.0.display")) == "" || str(at(r.json, "entry.0.resource.location.0.location.display")) == "" {
				t.Errorf("latest encounter (want %s): %s", last.ID, r.body)
			}
			r = f.do(t, "GET", "/AllergyIntolerance?patient="+pid, nil)
			if len(entries(r)) != len(p.Allergies) {
				t.Errorf("allergies: %d, want %d", len(entries(r)), len(p.Allergies))
			}
			medType := v.Release().MedicationType
			r = f.do(t, "GET", "/"+medType+"?patient="+pid+"&_count=10", nil)
			if len(entries(r)) != min(10, len(p.Meds)) {
				t.Errorf("%s: %d, want %d", medType, len(entries(r)), len(p.Meds))
			}
			r = f.do(t, "GET", "/Coverage?patient="+pid, nil)
			if len(entries(r)) != 1 {
				t.Errorf("coverage: %s", r.body)
			}
			r = f.do(t, "GET", "/Location/"+last.Location.ID, nil)
			if r.status != 200 || at(r.json, "name") != last.Location.Display {
				t.Errorf("location: %d %s", r.status, r.body)
			}
			r = f.do(t, "GET", "/Encounter?patient="+pid+"&_include=Encounter:location&_sort=-date&_count=1", nil)
			if len(entries(r)) != 2 || at(r.json, "entry.1.search.mode") != "include" {
				t.Errorf("_include: %s", r.body)
			}

			// the six clinical queries in one batch
			batch := batchOf(pid, v)
			r = f.do(t, "POST", "/", strings.NewReader(batch), "Content-Type", v.Release().MediaType)
			if r.status != 200 || at(r.json, "type") != "batch-response" || len(entries(r)) != 6 {
				t.Fatalf("batch: %d %s", r.status, r.body)
			}
			for i, e := range entries(r) {
				if at(e, "response.status") != "200 OK" || at(e, "resource.type") != "searchset" {
					t.Errorf("batch entry %d: %v", i, e)
				}
			}
		})
	}
}

func batchOf(pid string, v Version) string {
	sort := "_sort=-date"
	if v.Release().Name == "dstu2" {
		sort = "_sort:desc=date"
	}
	urls := []string{
		"Observation?patient=" + pid + "&category=vital-signs&" + sort,
		"Condition?patient=" + pid + "&_count=10",
		"Encounter?patient=" + pid + "&" + sort + "&_count=1",
		"AllergyIntolerance?patient=" + pid,
		v.Release().MedicationType + "?patient=" + pid + "&_count=10",
		"Coverage?patient=" + pid,
	}
	var es []string
	for _, u := range urls {
		es = append(es, fmt.Sprintf(`{"request":{"method":"GET","url":%q}}`, u))
	}
	return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(es, ",") + `]}`
}

// TestErrors holds the FHIR-route items of the reliability checklist.
func TestErrors(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, 5)
			cases := []struct {
				name, method, path, body string
				hdr                      []string
				status                   int
				code, location           string
			}{
				{"unknown type", "GET", "/Spaceship/1", "", nil, 404, "not-supported", ""},
				{"unknown id", "GET", "/Patient/nope", "", nil, 404, "not-found", ""},
				{"dot-dot id", "GET", "/Patient/%2e%2e", "", nil, 400, "invalid", ""},
				{"encoded slash id", "GET", "/Patient/..%2F..", "", nil, 400, "invalid", ""},
				{"long id", "GET", "/Patient/" + strings.Repeat("a", 65), "", nil, 400, "invalid", ""},
				{"deep path", "GET", "/Patient/1/2/3/4/5", "", nil, 404, "not-found", ""},
				{"method", "PATCH", "/Patient/pat-1", "", nil, 405, "not-supported", ""},
				{"method on metadata", "POST", "/metadata", "", nil, 405, "not-supported", ""},
				{"bad modifier", "GET", "/Patient?family:sounds=x", "", nil, 400, "code-invalid", "family:sounds"},
				{"bad date", "GET", "/Patient?birthdate=yesterday", "", nil, 400, "value", "birthdate"},
				{"negative count", "GET", "/Patient?_count=-1", "", nil, 400, "value", "_count"},
				{"count abc", "GET", "/Patient?_count=abc", "", nil, 400, "value", "_count"},
				{"strict unknown", "GET", "/Patient?color=blue", "", []string{"Prefer", "handling=strict"}, 400, "not-supported", "color"},
				{"bad escape", "GET", "/Patient?family=%zz", "", nil, 400, "invalid", ""},
				{"invalid utf-8", "GET", "/Patient?family=%ff", "", nil, 400, "invalid", ""},
				{"xml accept", "GET", "/Patient/pat-1", "", []string{"Accept", "application/fhir+xml"}, 406, "not-supported", ""},
				{"xml format", "GET", "/Patient/pat-1?_format=xml", "", nil, 406, "not-supported", ""},
				{"text/plain post", "POST", "/Patient", `{"resourceType":"Patient"}`, []string{"Content-Type", "text/plain"}, 415, "not-supported", ""},
				{"malformed json", "POST", "/Patient", `{"resourceType":`, nil, 400, "structure", ""},
				{"duplicate keys", "POST", "/Patient", `{"resourceType":"Patient","gender":"male","gender":"female"}`, nil, 400, "structure", ""},
				{"deep json", "POST", "/Patient", strings.Repeat(`{"a":`, 150) + "1" + strings.Repeat("}", 150), nil, 400, "structure", ""},
				{"wrong type", "POST", "/Patient", `{"resourceType":"Observation"}`, nil, 400, "invalid", ""},
				{"no type", "POST", "/Patient", `{"gender":"male"}`, nil, 400, "invalid", ""},
				{"id mismatch", "PUT", "/Patient/a", `{"resourceType":"Patient","id":"b"}`, nil, 400, "invalid", ""},
				{"too big", "POST", "/Patient", `{"resourceType":"Patient","x":"` + strings.Repeat("a", 2<<20) + `"}`, nil, 413, "too-long", ""},
				{"batch entry cap", "POST", "/", `{"resourceType":"Bundle","type":"batch","entry":[` + strings.TrimSuffix(strings.Repeat(`{"request":{"method":"GET","url":"Patient"}},`, 501), ",") + `]}`, nil, 400, "too-costly", ""},
				{"bundle type", "POST", "/", `{"resourceType":"Bundle","type":"collection"}`, nil, 400, "invalid", ""},
			}
			for _, c := range cases {
				var body io.Reader
				if c.body != "" {
					body = strings.NewReader(c.body)
				}
				r := f.do(t, c.method, c.path, body, c.hdr...)
				if r.status != c.status || at(r.json, "resourceType") != "OperationOutcome" || at(r.json, "issue.0.code") != c.code || at(r.json, "issue.0.severity") != "error" {
					t.Errorf("%s: %d %s; want %d %s", c.name, r.status, r.body, c.status, c.code)
					continue
				}
				if c.location != "" && at(r.json, "issue.0.location.0") != c.location {
					t.Errorf("%s: location %v, want %s", c.name, at(r.json, "issue.0.location.0"), c.location)
				}
				if c.status == 405 && r.header.Get("Allow") == "" {
					t.Errorf("%s: no Allow header", c.name)
				}
			}
			// literal matching of hostile strings: 200 and an empty Bundle
			for _, s := range []string{"' OR 1=1 --", "${jndi:ldap://x/a}", ".*", "%00"} {
				r := f.do(t, "GET", "/Patient?family="+url.QueryEscape(s), nil)
				if r.status != 200 || at(r.json, "total") != float64(0) {
					t.Errorf("family=%q: %d %s", s, r.status, r.body)
				}
			}
			// an unknown parameter is ignored and left out of self
			r := f.do(t, "GET", "/Patient?color=blue&gender=female&_count=1", nil)
			if r.status != 200 || strings.Contains(str(at(r.json, "link.0.url")), "color") || !strings.Contains(str(at(r.json, "link.0.url")), "gender=female") {
				t.Errorf("unknown parameter: %d %s", r.status, at(r.json, "link.0.url"))
			}
			// huge _count is clamped
			r = f.do(t, "GET", "/Observation?_count=100000", nil)
			if len(entries(r)) != f.api.o.Limits.MaxCount {
				t.Errorf("_count clamp: %d entries", len(entries(r)))
			}
			// format variants all answer JSON
			for _, h := range []string{"application/json", "application/fhir+json", "application/json+fhir", "*/*", "text/html,application/xhtml+xml,*/*;q=0.8"} {
				if r := f.do(t, "GET", "/Patient/pat-1", nil, "Accept", h); r.status != 200 {
					t.Errorf("Accept %s: %d", h, r.status)
				}
			}
			if r := f.do(t, "GET", "/Patient/pat-1?_format=json&_pretty=true", nil); r.status != 200 || !bytes.Contains(r.body, []byte("\n  \"id\"")) {
				t.Errorf("_pretty: %s", r.body)
			}
		})
	}
}

// TestWrites covers create, update, delete, transaction and batch writes.
func TestWrites(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, 3)
			fam := `"family":"Fixture"`
			if v.Release().Name == "dstu2" {
				fam = `"family":["Fixture"]`
			}
			pat := `{"resourceType":"Patient","id":"ignored","name":[{"use":"official",` + fam + `,"given":["Ada"]}],"gender":"female","birthDate":"1990-02-03"}`
			r := f.do(t, "POST", "/Patient", strings.NewReader(pat), "Content-Type", v.Release().MediaType)
			if r.status != 201 || r.header.Get("Location") == "" || at(r.json, "meta.versionId") != "1" || at(r.json, "id") == "ignored" {
				t.Fatalf("create: %d %v %s", r.status, r.header, r.body)
			}
			id := str(at(r.json, "id"))
			if !strings.HasSuffix(r.header.Get("Location"), "/Patient/"+id+"/_history/1") {
				t.Errorf("Location %q", r.header.Get("Location"))
			}
			upd := strings.Replace(pat, `"id":"ignored"`, `"id":"`+id+`"`, 1)
			upd = strings.Replace(upd, "1990-02-03", "1991-02-03", 1)
			r = f.do(t, "PUT", "/Patient/"+id, strings.NewReader(upd), "Content-Type", "application/json", "If-Match", `W/"1"`)
			if r.status != 200 || at(r.json, "meta.versionId") != "2" || r.header.Get("ETag") != `W/"2"` {
				t.Fatalf("update: %d %s", r.status, r.body)
			}
			if r = f.do(t, "PUT", "/Patient/"+id, strings.NewReader(upd), "If-Match", `W/"1"`); r.status != 412 {
				t.Errorf("stale If-Match: %d", r.status)
			}
			if r = f.do(t, "GET", "/Patient?family=fixture&birthdate=1991-02-03", nil); at(r.json, "total") != float64(1) {
				t.Errorf("updated resource not found by search: %s", r.body)
			}
			if r = f.do(t, "DELETE", "/Patient/"+id, nil); r.status != 204 {
				t.Errorf("delete: %d", r.status)
			}
			if r = f.do(t, "GET", "/Patient/"+id, nil); r.status != 410 {
				t.Errorf("read after delete: %d", r.status)
			}
			// transaction: a patient and an observation referring to it by urn:uuid
			obsCat := `"category":[{"coding":[{"system":"http://hl7.org/fhir/observation-category","code":"vital-signs"}]}]`
			if v.Release().Name == "dstu2" {
				obsCat = `"category":{"coding":[{"system":"http://hl7.org/fhir/observation-category","code":"vital-signs"}]}`
			}
			tx := `{"resourceType":"Bundle","type":"transaction","entry":[` +
				`{"fullUrl":"urn:uuid:6f1e0c1a-0000-4000-8000-000000000001","resource":` + strings.Replace(pat, `"id":"ignored",`, "", 1) + `,"request":{"method":"POST","url":"Patient"}},` +
				`{"resource":{"resourceType":"Observation","id":"tx-obs","status":"final",` + obsCat + `,"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"urn:uuid:6f1e0c1a-0000-4000-8000-000000000001"},"effectiveDateTime":"2025-12-01T10:00:00Z","valueQuantity":{"value":72,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}},"request":{"method":"PUT","url":"Observation/tx-obs"}}]}`
			r = f.do(t, "POST", "", strings.NewReader(tx), "Content-Type", v.Release().MediaType)
			if r.status != 200 || at(r.json, "type") != "transaction-response" || at(r.json, "entry.0.response.status") != "201 Created" {
				t.Fatalf("transaction: %d %s", r.status, r.body)
			}
			newPat := strings.TrimPrefix(str(at(r.json, "entry.0.resource.id")), "")
			r = f.do(t, "GET", "/Observation?patient="+newPat, nil)
			if at(r.json, "total") != float64(1) {
				t.Errorf("urn:uuid reference not rewritten: %s", r.body)
			}
			// a failing transaction changes nothing
			bad := `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"t1"},"request":{"method":"PUT","url":"Patient/t1"}},{"resource":{"resourceType":"Patient","id":"zz"},"request":{"method":"PUT","url":"Patient/t2"}}]}`
			if r = f.do(t, "POST", "", strings.NewReader(bad)); r.status != 400 {
				t.Errorf("bad transaction: %d %s", r.status, r.body)
			}
			if r = f.do(t, "GET", "/Patient/t1", nil); r.status != 404 {
				t.Errorf("half a transaction was applied: %d", r.status)
			}
			// batch: one failing entry does not fail the others
			batch := `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/pat-1"}},{"request":{"method":"GET","url":"Patient/nope"}},{"request":{"method":"GET","url":"Patient?birthdate=bad"}},{"request":{"method":"GET","url":"Patient?_count=1"}}]}`
			r = f.do(t, "POST", "/", strings.NewReader(batch))
			want := []string{"200 OK", "404 Not Found", "400 Bad Request", "200 OK"}
			for i, w := range want {
				if got := at(r.json, "entry."+strconv.Itoa(i)+".response.status"); got != w {
					t.Errorf("batch entry %d: %v, want %s", i, got, w)
				}
			}
			oo := "entry.1.resource.resourceType"
			if v.Release().OutcomeInResponse {
				oo = "entry.1.response.outcome.resourceType"
			}
			if at(r.json, oo) != "OperationOutcome" {
				t.Errorf("failed batch entry has no OperationOutcome at %s: %s", oo, r.body)
			}
		})
	}
}

// TestGolden pins metadata, a searchset and a batch-response per release.
func TestAPIGolden(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, 10)
			host := strings.TrimPrefix(f.srv.URL, "http://")
			generatedID := regexp.MustCompile(`"id": "id-[0-9]+"`) // a Bundle id from the fixture's counter
			get := func(method, path, body string) []byte {
				r := f.do(t, method, path, strings.NewReader(body))
				var buf bytes.Buffer
				if err := json.Indent(&buf, r.body, "", "  "); err != nil {
					t.Fatal(err)
				}
				buf.WriteByte('\n')
				// a batch's entries run side by side, so which of them
				// draws which Bundle id from the fixture's counter varies
				out := generatedID.ReplaceAll(buf.Bytes(), []byte(`"id": "id-n"`))
				return bytes.ReplaceAll(out, []byte(host), []byte("sandbox.test"))
			}
			golden := map[string][]byte{
				"metadata":       get("GET", "/metadata", ""),
				"searchset":      get("GET", "/Observation?patient=pat-2&category=vital-signs&_sort=-date&_count=3", ""),
				"batch-response": get("POST", "/", batchOf("pat-2", v)),
			}
			for name, got := range golden {
				path := filepath.Join("testdata", "api", v.Release().Name, name+".json")
				if *update {
					_ = os.MkdirAll(filepath.Dir(path), 0o755)
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("%v (run go test ./sandbox/fhir -run APIGolden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from %s (run with -update if intended)\n%s", name, path, got)
				}
			}
		})
	}
}

// TestMetadataDrift: a scenario can move the token URL, drop oauth-uris
// and change fhirVersion; without drift the statement is as published.
func TestMetadataDrift(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, STU3{}, 1)
	var d Drift
	f.api.o.Drift = func() Drift { return d }
	tokenURL := func() any {
		r := f.do(t, "GET", "/metadata", nil)
		for _, e := range at(r.json, "rest.0.security.extension.0.extension").([]any) {
			if at(e, "url") == "token" {
				return at(e, "valueUri")
			}
		}
		return nil
	}
	if got := tokenURL(); got != f.srv.URL+"/token" {
		t.Errorf("token URL %v", got)
	}
	d = Drift{TokenURL: "/oauth2/v2/token"}
	if got := tokenURL(); got != f.srv.URL+"/oauth2/v2/token" {
		t.Errorf("moved token URL %v", got)
	}
	d = Drift{DropOAuthURIs: true, FHIRVersion: "3.0.2"}
	r := f.do(t, "GET", "/metadata", nil)
	if at(r.json, "rest.0.security.extension") != nil || at(r.json, "fhirVersion") != "3.0.2" {
		t.Errorf("drift not applied: %s", r.body)
	}
}

// TestTotalAndPrefer: _total and Prefer: return= where the release
// defines them, ignored (or the default) where it does not.
func TestTotalAndPrefer(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			rel := v.Release()
			f := newAPIFixture(t, v, 3)
			r := f.do(t, "GET", "/Patient?_total=none&_count=1", nil)
			_, hasTotal := r.json["total"]
			if r.status != 200 || hasTotal == rel.Total {
				t.Errorf("_total=none: %d, total present %v (release honours _total: %v)", r.status, hasTotal, rel.Total)
			}
			if rel.Total {
				if next, _ := at(r.json, "link.1.url").(string); !strings.Contains(next, "_total=none") {
					t.Errorf("_total=none is lost from the paging links: %v", at(r.json, "link"))
				}
				if r := f.do(t, "GET", "/Patient?_total=accurate", nil); r.status != 200 || at(r.json, "total") != float64(3) {
					t.Errorf("_total=accurate: %d total %v", r.status, at(r.json, "total"))
				}
				if r := f.do(t, "GET", "/Patient?_total=lots", nil); r.status != 400 || at(r.json, "issue.0.code") != "value" {
					t.Errorf("_total=lots: %d %s", r.status, r.body)
				}
			}

			// a Bundle larger than net/http's first buffer still has a length
			big := f.do(t, "GET", "/Observation?_count=100", nil)
			if len(big.body) < 8<<10 || big.header.Get("Content-Length") != strconv.Itoa(len(big.body)) {
				t.Errorf("%d-byte searchset: Content-Length %q", len(big.body), big.header.Get("Content-Length"))
			}

			fam := `"family":"Prefer"`
			if rel == spec.DSTU2() { // DSTU2 family is a list
				fam = `"family":["Prefer"]`
			}
			pat := `{"resourceType":"Patient","name":[{` + fam + `}],"gender":"other"}`
			post := func(prefer string) resp {
				return f.do(t, "POST", "/Patient", strings.NewReader(pat), "Content-Type", rel.MediaType, "Prefer", prefer)
			}
			if r := post("return=minimal"); r.status != 201 || len(r.body) != 0 || r.header.Get("Location") == "" {
				t.Errorf("return=minimal: %d %q", r.status, r.body)
			}
			if r := post("return=representation"); r.status != 201 || at(r.json, "resourceType") != "Patient" {
				t.Errorf("return=representation: %d %s", r.status, r.body)
			}
			r = post("respond-async, return=OperationOutcome")
			want := "Patient"
			if rel.PreferOutcome {
				want = "OperationOutcome"
			}
			if r.status != 201 || at(r.json, "resourceType") != want {
				t.Errorf("return=OperationOutcome: %d %s, want a %s", r.status, r.body, want)
			}
			if want == "OperationOutcome" && at(r.json, "issue.0.severity") != "information" {
				t.Errorf("return=OperationOutcome: not an informational outcome: %s", r.body)
			}
		})
	}
}

// TestSameAnswersInEveryRelease: every query of the interface gives the
// same total and the same ids in every release, because every release
// renders the same records.
func TestSameAnswersInEveryRelease(t *testing.T) {
	t.Parallel()
	var fixtures []*apiFixture
	for _, v := range Versions() {
		fixtures = append(fixtures, newAPIFixture(t, v, 40))
	}
	h := fixtures[0].hosp
	nonEmpty := 0 // answers with matches: the comparison must not be of empty pages
	for _, i := range []int{0, 7, 13, 22, 39} {
		p := h.Patient(i)
		pid := p.Patient.ID
		fam := strings.ToLower(string([]rune(p.Patient.Name.Family)[:min(3, len([]rune(p.Patient.Name.Family)))]))
		var first []string // the answers of the first release, to compare the others with
		for fi, f := range fixtures {
			rel := f.v.Release()
			family, sort := "family", "_sort=-date"
			if rel == spec.DSTU2() { // what the client sends to a DSTU2 server
				family, sort = "family:contains", "_sort:desc=date"
			}
			queries := []string{
				"/Patient?" + family + "=" + url.QueryEscape(fam) + "&_count=100",
				"/Patient?_id=" + pid,
				"/Observation?patient=" + pid + "&category=vital-signs&" + sort + "&_count=100",
				"/Condition?patient=" + pid + "&_count=100",
				"/Encounter?patient=" + pid + "&_sort:desc=date&_count=1",
				"/AllergyIntolerance?patient=" + pid + "&_count=100",
				"/" + rel.MedicationType + "?patient=" + pid + "&_count=100",
				"/Coverage?patient=" + pid,
			}
			for qi, q := range queries {
				r := f.do(t, "GET", q, nil)
				if r.status != 200 {
					t.Fatalf("%s %s: %d %s", rel.Name, q, r.status, r.body)
				}
				var ids []string
				entries, _ := r.json["entry"].([]any)
				for _, e := range entries {
					ids = append(ids, fmt.Sprint(at(e, "resource.id")))
				}
				got := fmt.Sprintf("total %v ids %v", r.json["total"], ids)
				if fi == 0 {
					first = append(first, got)
					if len(ids) > 0 {
						nonEmpty++
					}
					continue
				}
				if got != first[qi] {
					t.Errorf("%s %s: %s, but %s answers %s", rel.Name, q, got, fixtures[0].v.Release().Name, first[qi])
				}
			}
		}
	}
	if nonEmpty < 25 {
		t.Errorf("only %d of 40 answers had matches", nonEmpty)
	}
}

// TestCoverageOfEveryPatient: Coverage?patient= finds every patient's
// coverage in every release, dependants' included (DSTU2 through the
// beneficiary extension), and every Coverage carries the STU3 interface's
// minimum fields, self-pay too: subscriberId and a named group. Who holds
// the policy is said the same way in every release: the patient as
// subscriber for relationship self, no subscriber otherwise.
func TestCoverageOfEveryPatient(t *testing.T) {
	t.Parallel()
	const n = 60 // holds the self-pay edge case (i%50 == 33), minors and adults
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, n)
			rel := v.Release().Name
			kinds := map[string]int{}
			for i := range n {
				p := f.hosp.Patient(i)
				r := f.do(t, "GET", "/Coverage?patient="+p.Patient.ID, nil)
				if p.Coverage == nil {
					if at(r.json, "total") != float64(0) {
						t.Errorf("%s has no coverage, but Coverage?patient= answers %s", p.Patient.ID, r.body)
					}
					continue
				}
				if at(r.json, "total") != float64(1) || at(r.json, "entry.0.resource.id") != p.Coverage.ID {
					t.Errorf("Coverage?patient=%s (relationship %s): %.300s", p.Patient.ID, p.Coverage.Relationship, r.body)
					continue
				}
				cov := at(r.json, "entry.0.resource")
				kinds[p.Coverage.Relationship]++
				if p.Coverage.PlanName == "No Primary Insurance" {
					kinds["self-pay"]++
				}
				subID, group := "subscriberId", "grouping.groupDisplay"
				switch rel {
				case "dstu2":
					subID, group = "subscriberId.value", "group"
				case "r4":
					group = "class.0.name"
				}
				if str(at(cov, subID)) == "" || str(at(cov, group)) == "" {
					t.Errorf("%s: no %s or %s: %v", p.Coverage.ID, subID, group, cov)
				}
				wantSub := ""
				if p.Coverage.Relationship == "self" {
					wantSub = "Patient/" + p.Patient.ID
				}
				if got := str(at(cov, "subscriber.reference")); got != wantSub {
					t.Errorf("%s (relationship %s): subscriber %q, want %q", p.Coverage.ID, p.Coverage.Relationship, got, wantSub)
				}
			}
			if kinds["self"] == 0 || kinds["child"] == 0 || kinds["self-pay"] == 0 {
				t.Errorf("the population lacks a kind of coverage: %v", kinds)
			}
		})
	}
}

// TestConditionalRequests: a DELETE with a stale If-Match is 412 and
// deletes nothing; a read with If-Modified-Since is 304 when the resource
// has not changed since (lastUpdated at second precision, as HTTP dates
// are), If-None-Match taking precedence; the metadata statement says so
// where the release has conditionalRead.
func TestConditionalRequests(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			f := newAPIFixture(t, v, 3)
			rel := v.Release()

			// a resource written at a fractional second: its Last-Modified
			// (whole seconds) must count as "not modified since" itself
			written := apiRefDate.Add(90*time.Minute + 400*time.Millisecond)
			_, err := f.st.Put([]byte(`{"resourceType":"Patient","id":"cond-1","gender":"female"}`), "", written)
			if err != nil {
				t.Fatal(err)
			}
			r := f.do(t, "GET", "/Patient/cond-1", nil)
			lm := r.header.Get("Last-Modified")
			if r.status != 200 || lm != written.Format(http.TimeFormat) {
				t.Fatalf("read: %d Last-Modified %q", r.status, lm)
			}
			if got := str(at(r.json, "meta.lastUpdated")); !strings.HasPrefix(got, "2026-01-01T01:30:00.4") {
				t.Fatalf("meta.lastUpdated %q, want the fractional second kept", got)
			}
			sec := written.Truncate(time.Second)
			for _, c := range []struct {
				name string
				hdr  []string
				want int
			}{
				{"its own Last-Modified", []string{"If-Modified-Since", lm}, 304},
				{"a later date", []string{"If-Modified-Since", sec.Add(time.Hour).Format(http.TimeFormat)}, 304},
				{"a second before", []string{"If-Modified-Since", sec.Add(-time.Second).Format(http.TimeFormat)}, 200},
				{"an unparsable date", []string{"If-Modified-Since", "yesterday"}, 200},
				{"the current ETag", []string{"If-None-Match", `W/"1"`}, 304},
				{"If-None-Match wins over If-Modified-Since", []string{"If-None-Match", `W/"9"`, "If-Modified-Since", lm}, 200},
			} {
				r := f.do(t, "GET", "/Patient/cond-1", nil, c.hdr...)
				if r.status != c.want {
					t.Errorf("%s: %d, want %d", c.name, r.status, c.want)
				}
				if c.want == 304 && (len(r.body) != 0 || r.header.Get("ETag") != `W/"1"` || r.header.Get("Last-Modified") != lm) {
					t.Errorf("%s: 304 with body %q, ETag %q, Last-Modified %q", c.name, r.body, r.header.Get("ETag"), r.header.Get("Last-Modified"))
				}
			}
			// a generated resource, written by Populate at apiRefDate
			if r := f.do(t, "GET", "/Patient/pat-1", nil, "If-Modified-Since", apiRefDate.Format(http.TimeFormat)); r.status != 304 {
				t.Errorf("generated resource, If-Modified-Since its lastUpdated: %d", r.status)
			}

			// DELETE with a stale If-Match: 412, the resource stays
			upd := `{"resourceType":"Patient","id":"cond-1","gender":"male"}`
			if r := f.do(t, "PUT", "/Patient/cond-1", strings.NewReader(upd), "Content-Type", rel.MediaType); r.status != 200 {
				t.Fatalf("update: %d %s", r.status, r.body)
			}
			for _, stale := range []string{`W/"1"`, "1"} {
				if r := f.do(t, "DELETE", "/Patient/cond-1", nil, "If-Match", stale); r.status != 412 || at(r.json, "resourceType") != "OperationOutcome" {
					t.Errorf("DELETE If-Match %s (stale): %d %s", stale, r.status, r.body)
				}
			}
			if r := f.do(t, "GET", "/Patient/cond-1", nil); r.status != 200 || at(r.json, "meta.versionId") != "2" {
				t.Errorf("after a stale conditional delete: %d %s", r.status, r.body)
			}
			if r := f.do(t, "DELETE", "/Patient/nobody", nil, "If-Match", `W/"1"`); r.status != 412 {
				t.Errorf("DELETE If-Match of a missing resource: %d", r.status)
			}
			if r := f.do(t, "DELETE", "/Patient/cond-1", nil, "If-Match", `W/"2"`); r.status != 204 {
				t.Errorf("DELETE If-Match current: %d %s", r.status, r.body)
			}
			if r := f.do(t, "GET", "/Patient/cond-1", nil); r.status != 410 {
				t.Errorf("read after conditional delete: %d", r.status)
			}

			// the statement says what reads honour, where it can
			r = f.do(t, "GET", "/metadata", nil)
			want := "full-support"
			if !rel.ConditionalRead {
				want = ""
			}
			for i, res := range at(r.json, "rest.0.resource").([]any) {
				if got := str(at(res, "conditionalRead")); got != want {
					t.Errorf("metadata resource %d (%v): conditionalRead %q, want %q", i, at(res, "type"), got, want)
				}
			}
			if rel.Name == "dstu2" && rel.ConditionalRead {
				t.Error("DSTU2 Conformance has no conditionalRead")
			}
		})
	}
}

// TestSortOnPeriod pins how _sort keys Encounter date, a Period, in every
// release (as docs/fhir-api.md says): ascending by the period's lower bound (start;
// none: before every start), descending by its upper bound (end at its
// precision; open, as while in progress: after every end), resources
// without a period last in both directions. So descending is not ascending
// reversed: enc-long starts before and ends after enc-short, and comes
// first both ways.
func TestSortOnPeriod(t *testing.T) {
	t.Parallel()
	encs := map[string]string{
		"enc-short":    `"period":{"start":"2025-01-01T10:00:00Z","end":"2025-01-01T11:00:00Z"}`,
		"enc-long":     `"period":{"start":"2025-01-01T09:00:00Z","end":"2025-01-01T12:00:00Z"}`,
		"enc-open":     `"period":{"start":"2025-01-02T08:00:00Z"}`,
		"enc-no-start": `"period":{"end":"2024-12-31"}`,
		"enc-none":     `"status":"finished"`,
	}
	for _, v := range Versions() {
		st := store.New(v.SearchParams(), func() time.Time { return apiRefDate })
		for id, body := range encs {
			if _, err := st.Put([]byte(`{"resourceType":"Encounter","id":"`+id+`",`+body+`}`), "", time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
		for sort, want := range map[string]string{
			"_sort=date":      "enc-no-start,enc-long,enc-short,enc-open,enc-none",
			"_sort=-date":     "enc-open,enc-long,enc-short,enc-no-start,enc-none",
			"_sort:desc=date": "enc-open,enc-long,enc-short,enc-no-start,enc-none",
		} {
			k, val, _ := strings.Cut(sort, "=")
			q, err := v.SearchParams().ParseQuery("Encounter", []store.KV{{Key: k, Value: val}}, store.Options{DefaultCount: 10, MaxCount: 10})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range st.Search(q).Matches {
				got = append(got, d.ID)
			}
			if g := strings.Join(got, ","); g != want {
				t.Errorf("%s Encounter?%s = %s, want %s", v.Release().Name, sort, g, want)
			}
		}
	}
}

// TestParallelIfMatch: of many PUTs with the same If-Match sent at once,
// exactly one wins; the others are 412. The check and the write are one
// step under the store's lock (store.PutIf, pinned by TestPutIf); this is
// the end-to-end stress of it, whose race a read-then-write rarely loses
// on a machine this small.
func TestParallelIfMatch(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, STU3{}, 2)
	body := `{"resourceType":"Patient","id":"pat-1","gender":"other"}`
	const n = 20
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("PUT", f.base()+"/Patient/pat-1", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/fhir+json")
			req.Header.Set("If-Match", `W/"1"`)
			res, err := f.srv.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			codes <- res.StatusCode
		}()
	}
	wg.Wait()
	close(codes)
	won := 0
	for c := range codes {
		switch c {
		case 200:
			won++
		case 412:
		default:
			t.Errorf("status %d", c)
		}
	}
	if won != 1 {
		t.Errorf("%d PUTs with If-Match W/\"1\" succeeded, want exactly 1", won)
	}
}
