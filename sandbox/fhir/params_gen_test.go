package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir/internal/spgen"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// TestGeneratedParamsUpToDate regenerates each release's official table
// in memory from the compact definitions under searchparams/ and fails
// when the checked-in file differs: the definitions or the generator
// changed without `go generate ./sandbox/fhir`.
func TestGeneratedParamsUpToDate(t *testing.T) {
	t.Parallel()
	for _, g := range []struct{ defs, version, fn, out string }{
		{"searchparams/stu3.json", "3.0.1", "stu3Official", "params_stu3_gen.go"},
		{"searchparams/r4.json", "4.0.1", "r4Official", "params_r4_gen.go"},
	} {
		in, err := os.ReadFile(g.defs)
		if err != nil {
			t.Fatal(err)
		}
		var defs []spgen.Def
		if err := json.Unmarshal(in, &defs); err != nil {
			t.Fatalf("%s: %v", g.defs, err)
		}
		want, err := spgen.Generate("fhir", g.fn, g.defs, g.version, defs)
		if err != nil {
			t.Fatalf("%s: %v", g.defs, err)
		}
		got, err := os.ReadFile(g.out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what %s generates: run go generate ./sandbox/fhir", g.out, g.defs)
		}
	}
}

// TestOfficialParams stores resources of types the hospital never
// generates, as a Synthea export has them, and finds them through the
// official parameters of each release.
func TestOfficialParams(t *testing.T) {
	t.Parallel()
	type query struct{ typ, q, want string }
	cases := []struct {
		v       Version
		docs    []string
		queries []query
	}{
		{R4{}, []string{
			`{"resourceType":"Immunization","id":"i1","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"patient":{"reference":"urn:uuid:x/Patient/p1"},"occurrenceDateTime":"2020-10-01T10:00:00Z","lotNumber":"L1"}`,
			`{"resourceType":"Immunization","id":"i2","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"08"}]},"patient":{"reference":"Patient/p2"},"occurrenceDateTime":"2021-03-01"}`,
			`{"resourceType":"Procedure","id":"pr1","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001"}]},"subject":{"reference":"Patient/p1"},"performedPeriod":{"start":"2019-01-01T10:00:00Z","end":"2019-01-01T11:00:00Z"}}`,
			`{"resourceType":"Observation","id":"o1","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"29463-7"}]},"subject":{"reference":"Patient/p1"},"valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`,
			`{"resourceType":"RiskAssessment","id":"r1","status":"final","subject":{"reference":"Patient/p1"},"prediction":[{"probabilityDecimal":0.3}]}`,
			`{"resourceType":"ValueSet","id":"vs1","status":"active","url":"http://example.org/ValueSet/a"}`,
		}, []query{
			{"Immunization", "patient=p1", "i1"},
			{"Immunization", "vaccine-code=http://hl7.org/fhir/sid/cvx|08", "i2"},
			{"Immunization", "date=ge2021", "i2"},
			{"Immunization", "lot-number=L1", "i1"},
			{"Procedure", "patient=p1&date=2019-01-01", "pr1"},
			{"Observation", "value-quantity=gt70|http://unitsofmeasure.org|kg", "o1"},
			{"RiskAssessment", "probability=lt0.5", "r1"},
			{"ValueSet", "url:below=http://example.org/", "vs1"},
		}},
		{STU3{}, []string{
			`{"resourceType":"Immunization","id":"i1","status":"completed","notGiven":false,"vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"patient":{"reference":"Patient/p1"},"primarySource":true,"date":"2020-10-01"}`,
			`{"resourceType":"CarePlan","id":"c1","status":"active","intent":"plan","subject":{"reference":"Patient/p1"},"category":[{"coding":[{"system":"http://snomed.info/sct","code":"734163000"}]}],"period":{"start":"2020-01-01"}}`,
		}, []query{
			{"Immunization", "patient=p1&date=2020", "i1"},
			{"CarePlan", "patient=Patient/p1&category=734163000&date=ge2020-06-01", "c1"},
		}},
	}
	for _, c := range cases {
		defs := c.v.SearchParams()
		s := store.New(defs, func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) })
		for _, d := range c.docs {
			if _, err := s.Put([]byte(d), "", time.Time{}); err != nil {
				t.Fatalf("%s: %v: %s", c.v.Release().Name, err, d)
			}
		}
		for _, q := range c.queries {
			var kvs []store.KV
			for _, part := range strings.Split(q.q, "&") {
				k, v, _ := strings.Cut(part, "=")
				kvs = append(kvs, store.KV{Key: k, Value: v})
			}
			pq, err := defs.ParseQuery(q.typ, kvs, store.Options{DefaultCount: 10, MaxCount: 100})
			if err != nil || len(pq.Ignored) > 0 {
				t.Errorf("%s %s?%s: %v (ignored %v)", c.v.Release().Name, q.typ, q.q, err, pq.Ignored)
				continue
			}
			var got []string
			for _, d := range s.Search(pq).Matches {
				got = append(got, d.ID)
			}
			if g := strings.Join(got, ","); g != q.want {
				t.Errorf("%s %s?%s = %q; want %q", c.v.Release().Name, q.typ, q.q, g, q.want)
			}
		}
	}
}

// TestOfficialParamsMerge: the hand-written parameters win on a name clash
// and the official ones they do not name are all served.
func TestOfficialParamsMerge(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v              Version
		official, hand store.Definitions
	}{{STU3{}, stu3Official(), stu3HandParams()}, {R4{}, r4Official(), r4HandParams()}} {
		served := c.v.SearchParams()
		for typ, ps := range c.official {
			for _, p := range ps {
				got, ok := served.Lookup(typ, p.Name)
				if !ok {
					t.Errorf("%s %s: official %q not served", c.v.Release().Name, typ, p.Name)
					continue
				}
				if h, isHand := c.hand.Lookup(typ, p.Name); isHand && fmt.Sprint(got) != fmt.Sprint(h) {
					t.Errorf("%s %s: %q is not the hand-written one", c.v.Release().Name, typ, p.Name)
				}
			}
		}
		// Coverage's patient is no STU3 base parameter; the app sends it
		if _, ok := served.Lookup("Coverage", "patient"); !ok {
			t.Errorf("%s: Coverage patient lost", c.v.Release().Name)
		}
	}
}

// TestOfficialTypesThroughAPI posts a transaction of types the hospital
// never generates, as a Synthea export sends them, and searches them by
// their official parameters; the fixture validates every response.
func TestOfficialTypesThroughAPI(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, R4{}, 2)
	tx := `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:6b1c4f3e-0000-4000-8000-000000000001","resource":{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"140"}]},"patient":{"reference":"Patient/pat-1"},"occurrenceDateTime":"2020-10-01T10:00:00Z","primarySource":true},"request":{"method":"POST","url":"Immunization"}},
{"fullUrl":"urn:uuid:6b1c4f3e-0000-4000-8000-000000000002","resource":{"resourceType":"Procedure","status":"completed","code":{"coding":[{"system":"http://snomed.info/sct","code":"73761001"}]},"subject":{"reference":"Patient/pat-1"},"performedDateTime":"2019-01-01T10:00:00Z"},"request":{"method":"POST","url":"Procedure"}}]}`
	r := f.do(t, "POST", "/", strings.NewReader(tx), "Content-Type", "application/fhir+json")
	if r.status != 200 || at(r.json, "type") != "transaction-response" {
		t.Fatalf("transaction: %d %.1000s", r.status, r.body)
	}
	for _, q := range []struct {
		q    string
		want int
	}{
		{"/Immunization?patient=pat-1&vaccine-code=http://hl7.org/fhir/sid/cvx|140&date=2020", 1},
		{"/Immunization?patient=pat-2", 0},
		{"/Procedure?subject=Patient/pat-1&date=lt2020&_include=Procedure:patient", 2},
	} {
		r := f.do(t, "GET", q.q, nil)
		if r.status != 200 || len(entries(r)) != q.want {
			t.Errorf("%s: %d, %d entries, want %d: %.1000s", q.q, r.status, len(entries(r)), q.want, r.body)
		}
	}
	r = f.do(t, "GET", "/metadata", nil)
	if !strings.Contains(string(r.body), `"type":"Immunization"`) {
		t.Error("metadata does not list Immunization")
	}
}
