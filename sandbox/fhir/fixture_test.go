package fhir

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

func problemLines(ps []FixtureProblem) string {
	var l []string
	for _, p := range ps {
		l = append(l, p.String())
	}
	return strings.Join(l, "\n")
}

func TestParseFixture(t *testing.T) {
	t.Parallel()
	pat := `{"resourceType":"Patient","id":"p1"}`
	tests := []struct {
		name     string
		file     string
		data     string
		ids      []string // Type/id of the entries, "-Type/id" for a delete
		problems []string // substrings, one per problem, in order
	}{
		{"ndjson", "a.ndjson", pat + "\n" + `{"resourceType":"Patient"}` + "\n", []string{"Patient/p1", "Patient/a-2"}, nil},
		{"byte order mark", "a.json", "\xef\xbb\xbf" + pat, []string{"Patient/p1"}, nil},
		{"xml", "a.json", "\n<Patient xmlns=\"http://hl7.org/fhir\"/>", nil, []string{"FHIR XML is not supported; convert it to JSON"}},
		{"empty", "a.json", " ", nil, []string{"the file holds no resource"}},
		{"bundle without resourceType (Synthea DSTU2/STU3)", "s.json", `{"type":"collection","entry":[{"fullUrl":"urn:uuid:1","resource":` + pat + `},{"resource":{"resourceType":"Condition"}}]}`, []string{"Patient/p1", "Condition/s-2"}, nil},
		{"transaction with put, post and delete", "t.json", `{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Patient/x"}},` +
			`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient"}},` +
			`{"request":{"method":"DELETE","url":"Patient/gone"}}]}`, []string{"Patient/x", "Patient/t-2", "-Patient/gone"}, nil},
		{"every problem at once", "bad.json", `{"resourceType":"Bundle","type":"transaction","entry":[` +
			`{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/b"}},` +
			`{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"Observation/c"}},` +
			`{"request":{"method":"POST","url":"Patient"}},` +
			`{"resource":{"id":"x"}},` +
			`{"resource":{"resourceType":"Patient","id":"no_underscores"}},` +
			`{"resource":{"resourceType":"Patient"},"request":{"method":"PATCH","url":"Patient/p"}},` +
			`{"resource":{"resourceType":"Patient"},"request":{"method":"POST","url":"Patient?identifier=x"}},` +
			`{"resource":` + pat + `}]}`, []string{"Patient/p1"}, []string{
			`entry 1: request.url: Patient/b does not match the resource id "a"`,
			"entry 2: request.url: Observation/c names a Observation but the resource is a Patient",
			"entry 3: resource: the entry has no resource",
			"entry 4: resource.resourceType: missing",
			`entry 5: resource.id: "no_underscores" is not a valid FHIR id`,
			"entry 6: request: PATCH Patient/p is not supported in a fixture",
			"entry 7: request.url: POST Patient?identifier=x: conditional requests are not supported",
		}},
		{"duplicate keys", "d.ndjson", pat + "\n" + `{"resourceType":"Patient","id":"a","id":"b"}`, []string{"Patient/p1"}, []string{"entry 2: ", "duplicate"}},
		{"syntax error", "s.ndjson", pat + "\n{nope", []string{"Patient/p1"}, []string{"entry 2: JSON value 2 does not parse"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			entries, problems := ParseFixture(tt.file, []byte(tt.data))
			var ids []string
			for _, e := range entries {
				id := e.Type + "/" + e.ID
				if e.Delete {
					id = "-" + id
				}
				ids = append(ids, id)
			}
			if strings.Join(ids, " ") != strings.Join(tt.ids, " ") {
				t.Errorf("entries %v, want %v", ids, tt.ids)
			}
			got := problemLines(problems)
			if len(tt.problems) == 0 && got != "" {
				t.Errorf("problems:\n%s", got)
			}
			if tt.name == "duplicate keys" {
				if len(problems) != 1 || !strings.Contains(got, tt.problems[0]) || !strings.Contains(got, tt.problems[1]) {
					t.Errorf("problems:\n%s", got)
				}
				return
			}
			if len(tt.problems) > 0 && len(problems) != len(tt.problems) {
				t.Fatalf("%d problems, want %d:\n%s", len(problems), len(tt.problems), got)
			}
			for i, want := range tt.problems {
				if !strings.Contains(problems[i].String(), want) {
					t.Errorf("problem %d = %q, want %q in it", i+1, problems[i].String(), want)
				}
			}
		})
	}
}

func TestDerivedIDs(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	for _, tt := range []struct{ file, want string }{
		{"/data/a b.ndjson", "a-b-7"},
		{"synthea_Will_Ozella_54.json", "synthea-Will-Ozella-54-7"},
		{".json", "fixture-7"},
		{long + ".json", strings.Repeat("x", 62) + "-7"},
	} {
		got := derivedID(idStem(tt.file), 7)
		if got != tt.want || !store.ValidID(got) {
			t.Errorf("derivedID(%q) = %q, want %q (valid)", tt.file, got, tt.want)
		}
	}
}

func newFixtureStore(t *testing.T) *store.Store {
	t.Helper()
	v, _ := Lookup("r4")
	return store.New(v.SearchParams(), func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) })
}

func subjectOf(t *testing.T, s *store.Store, typ, id string) string {
	t.Helper()
	d, err := s.Get(typ, id)
	if err != nil {
		t.Fatalf("%s/%s: %v", typ, id, err)
	}
	var r struct {
		Subject struct {
			Reference string `json:"reference"`
		} `json:"subject"`
	}
	_ = json.Unmarshal(d.JSON, &r)
	return r.Subject.Reference
}

func TestFixtureLoaderReferences(t *testing.T) {
	t.Parallel()
	obs := func(id, ref string) string {
		return `{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}}`
	}
	patID := func(id, value string) string {
		s := `{"resourceType":"Patient"`
		if id != "" {
			s += `,"id":"` + id + `"`
		}
		return s + `,"identifier":[{"system":"urn:mrn","value":"` + value + `"}]}`
	}
	tests := []struct {
		name    string
		data    string
		want    map[string]string // Observation id -> subject reference after load
		problem string
	}{
		{"urn:uuid", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:u1","resource":` + patID("p1", "1") + `},{"resource":` + obs("o1", "urn:uuid:u1") + `}]}`,
			map[string]string{"o1": "Patient/p1"}, ""},
		{"absolute fullUrl of an entry without id", `{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"http://old.example/fhir/Patient/old","resource":` + patID("", "1") + `},{"resource":` + obs("o1", "Patient/old") + `},{"resource":` + obs("o2", "http://old.example/fhir/Patient/old") + `}]}`,
			map[string]string{"o1": "Patient/f-1", "o2": "Patient/f-1"}, ""},
		{"conditional, one match in the file", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + patID("p1", "1") + `},{"resource":` + patID("p2", "2") + `},{"resource":` + obs("o1", "Patient?identifier=urn:mrn|2") + `}]}`,
			map[string]string{"o1": "Patient/p2"}, ""},
		{"conditional, one match in the store", obs("o1", "Patient?identifier=urn:mrn|stored"), map[string]string{"o1": "Patient/in-store"}, ""},
		{"conditional, no match", obs("o1", "Patient?identifier=urn:mrn|nobody"), nil, `entry 1: resource.subject.reference: conditional reference "Patient?identifier=urn:mrn|nobody" matches no resource`},
		{"conditional, several", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + patID("p1", "1") + `},{"resource":` + patID("p2", "1") + `},{"resource":` + obs("o1", "Patient?identifier=1") + `}]}`,
			nil, `entry 3: resource.subject.reference: conditional reference "Patient?identifier=1" matches several resources`},
		{"dangling urn:uuid", obs("o1", "urn:uuid:nowhere"), nil, `entry 1: resource.subject.reference: reference "urn:uuid:nowhere" names no entry`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newFixtureStore(t)
			if _, err := s.Put([]byte(patID("in-store", "stored")), "", time.Time{}); err != nil {
				t.Fatal(err)
			}
			l := NewFixtureLoader(s, FixtureOptions{})
			_, ps := l.Load("f.json", []byte(tt.data))
			if got := problemLines(ps); tt.problem == "" && got != "" || tt.problem != "" && !strings.HasPrefix(got, tt.problem) {
				t.Fatalf("problems:\n%s\nwant %q", got, tt.problem)
			}
			if tt.problem != "" && s.Count("Observation") != 0 {
				t.Error("a file with a problem stored some of its entries")
			}
			for id, want := range tt.want {
				if got := subjectOf(t, s, "Observation", id); got != want {
					t.Errorf("Observation/%s subject %q, want %q", id, got, want)
				}
			}
		})
	}
}

// TestFixtureLoaderAcrossFiles: a patient file names the urn:uuid of an
// organization in a file loaded before it, as Synthea's R4 export does,
// and a failed file leaves no names behind.
func TestFixtureLoaderAcrossFiles(t *testing.T) {
	t.Parallel()
	s := newFixtureStore(t)
	l := NewFixtureLoader(s, FixtureOptions{})
	if _, ps := l.Load("bad.json", []byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:ghost","resource":{"resourceType":"Organization","id":"ghost","name":"G"}},{"resource":{"resourceType":"Patient","id":"x_"}}]}`)); len(ps) != 1 {
		t.Fatalf("problems: %v", ps)
	}
	if _, ps := l.Load("org.json", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:org","resource":{"resourceType":"Organization","id":"o-1","name":"H"},"request":{"method":"POST","url":"Organization"}}]}`)); ps != nil {
		t.Fatal(ps)
	}
	_, ps := l.Load("pat.json", []byte(`{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"urn:uuid:org"}}`+"\n"+`{"resourceType":"Patient","id":"q","managingOrganization":{"reference":"urn:uuid:ghost"}}`))
	if got := problemLines(ps); got != `entry 2: resource.managingOrganization.reference: reference "urn:uuid:ghost" names no entry` {
		t.Errorf("problems:\n%s", got)
	}
	if _, ps := l.Load("pat.json", []byte(`{"resourceType":"Patient","id":"p","managingOrganization":{"reference":"urn:uuid:org"}}`)); ps != nil {
		t.Fatal(ps)
	}
	d, _ := s.Get("Patient", "p")
	if d == nil || !strings.Contains(string(d.JSON), `"reference":"Organization/o-1"`) {
		t.Errorf("patient: %s", d.JSON)
	}
}

// TestFixtureLoaderMetaAndDelete: a resource's own versionId and
// lastUpdated survive the load, other resources get the given time, and a
// DELETE entry removes what an earlier file stored.
func TestFixtureLoaderMetaAndDelete(t *testing.T) {
	t.Parallel()
	s := newFixtureStore(t)
	l := NewFixtureLoader(s, FixtureOptions{})
	if _, ps := l.Load("a.ndjson", []byte(`{"resourceType":"Patient","id":"m","meta":{"versionId":"7","lastUpdated":"2020-05-06T07:08:09.123Z","tag":[{"code":"t"}]}}`+"\n"+`{"resourceType":"Patient","id":"plain"}`+"\n"+`{"resourceType":"Patient","id":"doomed"}`)); ps != nil {
		t.Fatal(ps)
	}
	d, _ := s.Get("Patient", "m")
	if d.Version != 7 || !d.Updated.Equal(time.Date(2020, 5, 6, 7, 8, 9, 123e6, time.UTC)) || !strings.Contains(string(d.JSON), `"meta":{"versionId":"7","lastUpdated":"2020-05-06T07:08:09.123Z","tag":[{"code":"t"}]}`) {
		t.Errorf("meta not kept: v%d %v %s", d.Version, d.Updated, d.JSON)
	}
	if d, _ := s.Get("Patient", "plain"); d.Version != 1 || d.Updated.Year() != 2026 {
		t.Errorf("plain: v%d %v", d.Version, d.Updated)
	}
	if _, ps := l.Load("b.json", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/doomed"}}]}`)); ps != nil {
		t.Fatal(ps)
	}
	if _, err := s.Get("Patient", "doomed"); err == nil {
		t.Error("DELETE entry not applied")
	}
}

func TestFixtureLoaderValidation(t *testing.T) {
	t.Parallel()
	data := []byte(`{"resourceType":"Patient","id":"ok"}` + "\n" + `{"resourceType":"Patient","id":"bad"}`)
	check := func(b []byte) error {
		if strings.Contains(string(b), `"bad"`) {
			return errorString("gender: missing")
		}
		return nil
	}
	s := newFixtureStore(t)
	if n, ps := NewFixtureLoader(s, FixtureOptions{Validate: check}).Load("v.ndjson", data); n != 0 || problemLines(ps) != "entry 2: resource: gender: missing" {
		t.Errorf("error mode: %d %v", n, ps)
	}
	var warned []string
	n, ps := NewFixtureLoader(s, FixtureOptions{Validate: check, Warn: func(_ string, p FixtureProblem) { warned = append(warned, p.String()) }}).Load("v.ndjson", data)
	if n != 2 || ps != nil || strings.Join(warned, "|") != "entry 2: resource: gender: missing" {
		t.Errorf("warn mode: %d %v %v", n, ps, warned)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }

func TestDetectRelease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data, want string
	}{
		{"MedicationOrder", `{"resourceType":"MedicationOrder"}`, "dstu2"},
		{"family array", `{"resourceType":"Patient","name":[{"family":["Ng"]}]}`, "dstu2"},
		{"Encounter.class code", `{"resourceType":"Encounter","class":"inpatient"}`, "dstu2"},
		{"stu3: MedicationRequest and a coded clinicalStatus", `{"resourceType":"MedicationRequest"}` + "\n" + `{"resourceType":"Condition","clinicalStatus":"active"}`, "stu3"},
		{"r4: CodeableConcept clinicalStatus", `{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"active"}]}}`, "r4"},
		{"ServiceRequest", `{"resourceType":"ServiceRequest"}`, "r4"},
		{"no marker", `{"resourceType":"Patient","gender":"male"}`, ""},
		{"several left", `{"resourceType":"Patient","name":[{"family":"Ng"}]}`, ""},
		{"contradiction", `{"resourceType":"MedicationOrder"}` + "\n" + `{"resourceType":"ServiceRequest"}`, ""},
		{"Organization.name is not a HumanName", `{"resourceType":"Organization","name":"H"}` + "\n" + `{"resourceType":"Encounter","class":"x"}`, "dstu2"},
		{"Immunization.wasNotGiven", `{"resourceType":"Immunization","date":"2020-01-01","wasNotGiven":false}`, "dstu2"},
		{"Immunization.reported", `{"resourceType":"Immunization","reported":false}`, "dstu2"},
		{"Immunization.notGiven", `{"resourceType":"Immunization","date":"2020-01-01","notGiven":false}`, "stu3"},
		{"Immunization.occurrenceDateTime", `{"resourceType":"Immunization","occurrenceDateTime":"2020-01-01"}`, "r4"},
		{"Immunization.date and a string family", `{"resourceType":"Immunization","date":"2020-01-01"}` + "\n" + `{"resourceType":"Patient","name":[{"family":"Ng"}]}`, "stu3"},
		{"Immunization.occurrence with a different case is no marker", `{"resourceType":"Immunization","OccurrenceDateTime":"2020-01-01"}`, ""},
		{"Encounter.reasonCode", `{"resourceType":"Encounter","class":{"code":"AMB"},"reasonCode":[{"text":"x"}]}`, "r4"},
		{"Encounter.reason", `{"resourceType":"Encounter","class":{"code":"AMB"},"reason":[{"text":"x"}]}`, "stu3"},
		{"a Synthea R4 patient file without Conditions", `{"resourceType":"Patient","name":[{"family":"Wiegand"}]}` + "\n" + `{"resourceType":"Encounter","class":{"code":"AMB"}}` + "\n" + `{"resourceType":"Immunization","status":"completed","occurrenceDateTime":"2019-01-01T00:00:00Z","primarySource":true}`, "r4"},
	}
	for _, tt := range tests {
		entries, ps := ParseFixture("d.ndjson", []byte(tt.data))
		if ps != nil {
			t.Fatalf("%s: %v", tt.name, ps)
		}
		if got, why := DetectRelease(entries); got != tt.want || (got == "") != (why != "") {
			t.Errorf("%s: %q (%s), want %q", tt.name, got, why, tt.want)
		}
	}
}

// FuzzParseFixture: any bytes give entries or problems, never a panic,
// and every entry has a type and a valid id.
func FuzzParseFixture(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","id":"p"}`))
	f.Add([]byte("\xef\xbb\xbf{\"type\":\"collection\",\"entry\":[{\"fullUrl\":\"urn:uuid:1\",\"resource\":{\"resourceType\":\"Patient\"}}]}"))
	f.Add([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"request":{"method":"DELETE","url":"Patient/x"}},{"resource":{"resourceType":"Patient"},"request":{"method":"PUT","url":"http://h/fhir/Patient/y"}}]}`))
	f.Add([]byte("<Patient/>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, _ := ParseFixture("fuzz.json", data)
		for _, e := range entries {
			if e.Type == "" || !store.ValidID(e.ID) {
				t.Fatalf("entry %d: type %q id %q", e.Index, e.Type, e.ID)
			}
		}
		_, _ = DetectRelease(entries)
	})
}
