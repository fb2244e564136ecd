package sandbox

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// TestRealDataAnswersTheInterface loads real Synthea exports of each
// release as fixtures and runs every query of the Patients app against
// them, as the app sends it, following every page. The expected answers
// are computed here from the files themselves (their ids, docs/fixtures.md's
// rule for entries without one, their references, categories and dates),
// not from the server: totals, ids, newest-first order, _count paging,
// and each batch entry against the same query sent alone.
func TestRealDataAnswersTheInterface(t *testing.T) {
	t.Parallel()
	for _, rel := range spec.Releases() {
		t.Run(rel.Name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), rel.Name)
			files := copyRealData(t, rel.Name, dir)
			cfgFile := filepath.Join(t.TempDir(), "sandbox.yaml")
			if err := os.WriteFile(cfgFile, []byte(`auth: {required: false}
tenants:
  - id: `+FabrikamTenant+`
    name: Synthea
    patients: 0
    fixtures_validation: warn
    fixtures:
      - {path: `+dir+`, fhir_version: `+rel.Name+`}
`), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(cfgFile)
			if err != nil {
				t.Fatal(err)
			}
			s, err := New(cfg, Options{ValidateFixture: structural.Release})
			if err != nil {
				t.Fatal(err)
			}
			srv := newHTTPTest(t, s)
			want := readExport(t, files)
			if len(want.patients) == 0 {
				t.Fatal("no patients in the export")
			}
			checked := 0
			for _, p := range want.patients {
				checked += checkPatientQueries(t, srv, rel, want, p)
			}
			if checked == 0 {
				t.Error("every query answered nothing: the comparison proved nothing")
			}
			t.Logf("%s: %d patients, %d resources, %d non-empty answers compared", rel.Name, len(want.patients), len(want.resources), checked)
		})
	}
}

// export is what the test reads from the files, independently of the
// server: every resource under the id it is stored as, with its
// references resolved the way docs/fixtures.md says fixtures are.
type export struct {
	patients  []exported
	resources []exported
}

type exported struct {
	typ, id string
	res     map[string]any
	family  string
}

func readExport(t *testing.T, files []string) export {
	t.Helper()
	var ex export
	byURL := map[string]string{} // fullUrl -> Type/id
	for _, f := range files {    // name order, as fixtures load
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var b struct {
			Entry []struct {
				FullURL  string         `json:"fullUrl"`
				Resource map[string]any `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), &b); err != nil {
			t.Fatal(err)
		}
		// docs/fixtures.md: characters outside A-Z a-z 0-9 - . become -
		stem := strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
				return r
			}
			return '-'
		}, strings.TrimSuffix(filepath.Base(f), filepath.Ext(f)))
		for i, e := range b.Entry {
			typ, _ := e.Resource["resourceType"].(string)
			id, _ := e.Resource["id"].(string)
			if id == "" {
				id = stem + "-" + strconv.Itoa(i+1) // docs/fixtures.md: <file name>-<entry number>
			}
			if e.FullURL != "" {
				byURL[e.FullURL] = typ + "/" + id
			}
			ex.resources = append(ex.resources, exported{typ: typ, id: id, res: e.Resource})
		}
	}
	for i := range ex.resources {
		resolveRefs(ex.resources[i].res, byURL)
		if r := ex.resources[i]; r.typ == "Patient" {
			r.family = familyOf(r.res)
			ex.patients = append(ex.patients, r)
		}
	}
	return ex
}

func resolveRefs(v any, byURL map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "reference" {
				if to, ok := byURL[s]; ok {
					v[k] = to
				}
				continue
			}
			resolveRefs(x, byURL)
		}
	case []any:
		for _, x := range v {
			resolveRefs(x, byURL)
		}
	}
}

func familyOf(p map[string]any) string {
	names, _ := p["name"].([]any)
	if len(names) == 0 {
		return ""
	}
	n, _ := names[0].(map[string]any)
	switch f := n["family"].(type) {
	case string:
		return f
	case []any: // DSTU2
		if len(f) > 0 {
			s, _ := f[0].(string)
			return s
		}
	}
	return ""
}

// refOf is the reference at key (an object with "reference").
func refOf(r map[string]any, key string) string {
	m, _ := r[key].(map[string]any)
	s, _ := m["reference"].(string)
	return s
}

// about: the resource is about the patient (subject, or patient in the
// types and releases that name it so).
func (e exported) about(patient string) bool {
	return refOf(e.res, "subject") == patient || refOf(e.res, "patient") == patient || refOf(e.res, "beneficiary") == patient
}

func (e exported) hasCategory(code string) bool {
	b, _ := json.Marshal(e.res["category"]) // one CodeableConcept (DSTU2) or a list
	return bytes.Contains(b, []byte(`"code":"`+code+`"`))
}

// checkPatientQueries runs the interface's queries for one patient and
// returns how many answers had matches.
func checkPatientQueries(t *testing.T, srv httpTest, rel spec.Release, ex export, p exported) int {
	t.Helper()
	pref := "Patient/" + p.id
	dstu2 := rel == spec.DSTU2() // what the app sends differs for DSTU2
	sortDesc := "_sort=-date"
	if dstu2 {
		sortDesc = "_sort:desc=date"
	}
	of := func(typ string, keep func(exported) bool) []string {
		var ids []string
		for _, r := range ex.resources {
			if r.typ == typ && r.about(pref) && (keep == nil || keep(r)) {
				ids = append(ids, r.id)
			}
		}
		sort.Strings(ids)
		return ids
	}
	queries := []struct {
		typ, query string
		want       []string
	}{
		{"Observation", "patient=" + p.id + "&category=vital-signs&" + sortDesc, of("Observation", func(r exported) bool { return r.hasCategory("vital-signs") })},
		{"Condition", "patient=" + p.id + "&_count=10", of("Condition", nil)},
		{"Encounter", "patient=" + p.id + "&_sort:desc=date&_count=1", of("Encounter", nil)},
		{"AllergyIntolerance", "patient=" + p.id, of("AllergyIntolerance", nil)},
		{rel.MedicationType, "patient=" + p.id + "&_count=10", of(rel.MedicationType, nil)},
		{"Coverage", "patient=" + p.id, of("Coverage", nil)},
	}
	matched := 0
	var batch []string
	for _, q := range queries {
		first, all := srv.allPages(rel.Base() + "/" + q.typ + "?" + q.query)
		got := entryIDs(all)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(q.want) || first.Total != len(q.want) {
			t.Errorf("%s %s?%s: total %d ids %v, want %d %v", rel.Name, q.typ, q.query, first.Total, got, len(q.want), q.want)
		}
		if len(q.want) > 0 {
			matched++
		}
		switch q.typ {
		case "Observation": // newest first, every page
			checkOrder(t, rel.Name+" vitals", all, func(r map[string]any) string { s, _ := r["effectiveDateTime"].(string); return s })
		case "Encounter": // the latest one: docs/fhir-api.md's Period order, by end descending
			if len(first.Entry) == 1 {
				latest := ""
				for _, r := range ex.resources {
					if r.typ == "Encounter" && r.about(pref) {
						latest = max(latest, periodEnd(r.res))
					}
				}
				if got := periodEnd(first.Entry[0].Resource); got != latest {
					t.Errorf("%s latest encounter ends %s, want %s", rel.Name, got, latest)
				}
			}
		}
		batch = append(batch, `{"request":{"method":"GET","url":"`+q.typ+"?"+q.query+`"}}`)
	}

	// the six clinical queries in one batch answer what they answer alone
	res := srv.post(rel.Base(), rel.MediaType, `{"resourceType":"Bundle","type":"batch","entry":[`+strings.Join(batch, ",")+`]}`)
	var br struct {
		Entry []struct {
			Resource searchset
			Response struct{ Status string }
		}
	}
	if err := json.Unmarshal(res, &br); err != nil || len(br.Entry) != len(queries) {
		t.Fatalf("%s batch: %v %.300s", rel.Name, err, res)
	}
	for i, q := range queries {
		alone, _ := srv.allPages(rel.Base() + "/" + q.typ + "?" + q.query)
		if got, want := fmt.Sprint(br.Entry[i].Resource.Total, entryIDs([]searchset{br.Entry[i].Resource})), fmt.Sprint(alone.Total, entryIDs([]searchset{alone})); got != want || !strings.HasPrefix(br.Entry[i].Response.Status, "200") {
			t.Errorf("%s batch entry %d (%s): %s %s, alone %s", rel.Name, i+1, q.typ, br.Entry[i].Response.Status, got, want)
		}
	}

	// the patient search by form POST, by a family substring
	if len(p.family) >= 3 {
		sub := strings.ToLower(p.family[:3])
		var want []string
		for _, o := range ex.patients {
			if strings.Contains(strings.ToLower(o.family), sub) {
				want = append(want, o.id)
			}
		}
		sort.Strings(want)
		param := "family"
		if dstu2 {
			param = "family:contains"
		}
		var page searchset
		body := srv.postForm(rel.Base()+"/Patient/_search", url.Values{param: {sub}, "_count": {"1"}})
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		_, all := srv.allPagesFrom(page)
		got := entryIDs(all)
		sort.Strings(got)
		if fmt.Sprint(got) != fmt.Sprint(want) || page.Total != len(want) || len(page.Entry) != min(1, len(want)) {
			t.Errorf("%s Patient/_search %s=%s: total %d, %d on the first page, ids %v; want %v", rel.Name, param, sub, page.Total, len(page.Entry), got, want)
		}
	}
	return matched
}

type searchset struct {
	Total int
	Link  []struct{ Relation, URL string }
	Entry []struct {
		Resource map[string]any
		Search   struct{ Mode string }
	}
}

func entryIDs(pages []searchset) []string {
	ids := []string{}
	for _, p := range pages {
		for _, e := range p.Entry {
			if e.Search.Mode == "match" || e.Search.Mode == "" {
				id, _ := e.Resource["id"].(string)
				ids = append(ids, id)
			}
		}
	}
	return ids
}

func checkOrder(t *testing.T, what string, pages []searchset, key func(map[string]any) string) {
	t.Helper()
	var keys []string
	for _, p := range pages {
		for _, e := range p.Entry {
			keys = append(keys, key(e.Resource))
		}
	}
	if !slices.IsSortedFunc(keys, func(a, b string) int { return strings.Compare(b, a) }) {
		t.Errorf("%s not newest first: %v", what, keys)
	}
}

func periodEnd(r map[string]any) string {
	p, _ := r["period"].(map[string]any)
	s, _ := p["end"].(string)
	return s
}

// allPages gets a search and follows its next links to the end.
func (h httpTest) allPages(path string) (searchset, []searchset) {
	st, body := h.get(path)
	var first searchset
	if err := json.Unmarshal([]byte(body), &first); err != nil || st != 200 {
		h.t.Fatalf("GET %s: %d %.300s", path, st, body)
	}
	return h.allPagesFrom(first)
}

func (h httpTest) allPagesFrom(first searchset) (searchset, []searchset) {
	pages := []searchset{first}
	for cur := first; len(pages) < 1000; {
		next := ""
		for _, l := range cur.Link {
			if l.Relation == "next" {
				next = l.URL
			}
		}
		if next == "" {
			return first, pages
		}
		u, err := url.Parse(next)
		if err != nil {
			h.t.Fatal(err)
		}
		st, body := h.get(u.RequestURI())
		cur = searchset{}
		if err := json.Unmarshal([]byte(body), &cur); err != nil || st != 200 {
			h.t.Fatalf("GET %s: %d", next, st)
		}
		pages = append(pages, cur)
	}
	h.t.Fatal("paging never ends")
	return first, nil
}

func (h httpTest) post(path, contentType, body string) []byte {
	res, err := http.Post(h.url+path, contentType, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return b
}

func (h httpTest) postForm(path string, form url.Values) []byte {
	return h.post(path, "application/x-www-form-urlencoded", form.Encode())
}
