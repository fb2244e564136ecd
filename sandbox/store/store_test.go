package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var testDefs = Definitions{
	"Patient": {
		{Name: "name", Type: String, Paths: []string{"name"}},
		{Name: "family", Type: String, Paths: []string{"name.family"}},
		{Name: "identifier", Type: Token, Paths: []string{"identifier"}},
		{Name: "gender", Type: Token, Paths: []string{"gender"}},
		{Name: "birthdate", Type: Date, Paths: []string{"birthDate"}},
	},
	"Observation": {
		{Name: "patient", Type: Reference, Paths: []string{"subject"}, Target: "Patient"},
		{Name: "subject", Type: Reference, Paths: []string{"subject"}},
		{Name: "code", Type: Token, Paths: []string{"code"}},
		{Name: "category", Type: Token, Paths: []string{"category"}},
		{Name: "date", Type: Date, Paths: []string{"effectiveDateTime", "effectivePeriod"}},
	},
}

func fixedNow() time.Time { return time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) }

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s := New(testDefs, fixedNow)
	pats := []struct{ id, family, given, gender, birth, mrn string }{
		{"p1", "Müller", "Zoë", "female", "1980-05-01", "100"},
		{"p2", "O'Brien", "Seán", "male", "1990-01-31", "200"},
		{"p3", "Smith", "John", "male", "1980-05-01", "300"},
		{"p4", "Smithson", "Jane", "female", "2025-12-20", "400"},
	}
	for _, p := range pats {
		j := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":"urn:mrn","value":%q}],"name":[{"use":"official","family":%q,"given":[%q]}],"gender":%q,"birthDate":%q}`, p.id, p.mrn, p.family, p.given, p.gender, p.birth)
		if _, err := s.Put([]byte(j), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	obs := []struct{ id, pat, code, date string }{
		{"o1", "p1", "8867-4", "2025-01-01T10:00:00Z"},
		{"o2", "p1", "8867-4", "2025-06-01T10:00:00Z"},
		{"o3", "p1", "9279-1", "2024-03-01T10:00:00Z"},
		{"o4", "p2", "8867-4", "2025-02-01T10:00:00Z"},
	}
	for _, o := range obs {
		j := fmt.Sprintf(`{"resourceType":"Observation","id":%q,"category":[{"coding":[{"system":"http://hl7.org/fhir/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":%q,"display":"Heart rate"}],"text":"Heart rate"},"subject":{"reference":"Patient/%s"},"effectiveDateTime":%q}`, o.id, o.code, o.pat, o.date)
		if _, err := s.Put([]byte(j), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func ids(r Result) string {
	var out []string
	for _, d := range r.Matches {
		out = append(out, d.ID)
	}
	for _, d := range r.Included {
		out = append(out, "+"+d.Type+"/"+d.ID)
	}
	return strings.Join(out, ",")
}

func TestSearch(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	cases := []struct {
		typ, query string
		want       string
		total      int
	}{
		{"Patient", "family=smith", "p3,p4", 2},
		{"Patient", "family:contains=mith", "p3,p4", 2},
		{"Patient", "family=MULLER", "p1", 1},
		{"Patient", "family=Mu\u0308ller", "p1", 1}, // NFD finds NFC
		{"Patient", "name=sean", "p2", 1},
		{"Patient", "name=o'brien", "p2", 1},
		{"Patient", "family:exact=Smith", "p3", 1},
		{"Patient", "family:exact=smith", "", 0},
		{"Patient", "family=' OR 1=1", "", 0},
		{"Patient", "family=.*", "", 0},
		{"Patient", "gender=male", "p2,p3", 2},
		{"Patient", "gender=male&family=smith", "p3", 1},
		{"Patient", "identifier=300", "p3", 1},
		{"Patient", "identifier=urn:mrn|300", "p3", 1},
		{"Patient", "identifier=urn:other|300", "", 0},
		{"Patient", "identifier=urn:mrn|", "p1,p2,p3,p4", 4},
		{"Patient", "birthdate=1980-05-01", "p1,p3", 2},
		{"Patient", "birthdate=1980", "p1,p3", 2},
		{"Patient", "birthdate=gt1985-01-01", "p2,p4", 2},
		{"Patient", "birthdate=lt1985-01-01", "p1,p3", 2},
		{"Patient", "birthdate=ge1990-01-31", "p2,p4", 2},
		{"Patient", "birthdate=le1990-01-31", "p1,p2,p3", 3},
		{"Patient", "birthdate=ne1980-05-01", "p2,p4", 2},
		{"Patient", "_id=p2,p4", "p2,p4", 2},
		{"Patient", "gender:not=male", "p1,p4", 2},
		{"Patient", "gender:missing=true", "", 0},
		{"Patient", "_sort=-birthdate", "p4,p2,p1,p3", 4},
		{"Patient", "_sort=family", "p1,p2,p3,p4", 4},
		{"Patient", "_count=2", "p1,p2", 4},
		{"Patient", "_count=2&_offset=2", "p3,p4", 4},
		{"Patient", "_count=0", "", 4},
		{"Patient", "unknown=1", "p1,p2,p3,p4", 4},
		{"Observation", "patient=p1&_sort:desc=date", "o2,o1,o3", 3},
		{"Observation", "patient=Patient/p1&_sort=-date&category=vital-signs", "o2,o1,o3", 3},
		{"Observation", "subject=p1&code=http://loinc.org|8867-4", "o1,o2", 2},
		{"Observation", "patient=http://example.org/fhir/Patient/p2", "o4", 1},
		{"Observation", "code:text=heart", "o1,o2,o3,o4", 4},
		{"Observation", "date=ge2025-01-01&date=lt2025-06-01", "o1,o4", 2},
		{"Observation", "patient=p2&_include=Observation:patient", "o4,+Patient/p2", 1},
		{"Observation", "patient=nope", "", 0},
	}
	for _, c := range cases {
		kvs := parseKV(c.query)
		q, err := testDefs.ParseQuery(c.typ, kvs, Options{DefaultCount: 10, MaxCount: 100})
		if err != nil {
			t.Errorf("%s?%s: %v", c.typ, c.query, err)
			continue
		}
		r := s.Search(q)
		if got := ids(r); got != c.want || r.Total != c.total {
			t.Errorf("%s?%s = %q total %d; want %q total %d", c.typ, c.query, got, r.Total, c.want, c.total)
		}
	}
}

func parseKV(q string) []KV {
	var out []KV
	for _, part := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(part, "=")
		out = append(out, KV{k, v})
	}
	return out
}

func TestParseQueryErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		query, param, code string
	}{
		{"family:foo=x", "family:foo", "code-invalid"},
		{"gender:contains=x", "gender:contains", "code-invalid"},
		{"birthdate=yesterday", "birthdate", "value"},
		{"birthdate=2020-13-01", "birthdate", "value"},
		{"birthdate=xx2020", "birthdate", "value"},
		{"_count=-1", "_count", "value"},
		{"_count=abc", "_count", "value"},
		{"_sort=color", "_sort", "not-supported"},
		{"_include=Patient:name", "_include", "value"},
		{"gender:missing=maybe", "gender:missing", "value"},
	}
	for _, c := range cases {
		_, err := testDefs.ParseQuery("Patient", parseKV(c.query), Options{DefaultCount: 10, MaxCount: 100})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != c.param || pe.Code != c.code {
			t.Errorf("%s: got %v, want ParamError{%s, %s}", c.query, err, c.param, c.code)
		}
	}
	q, err := testDefs.ParseQuery("Patient", parseKV("_count=100000&bogus=1&family=x"), Options{DefaultCount: 10, MaxCount: 100})
	if err != nil || q.Count != 100 || len(q.Ignored) != 1 || q.Encode(20) != "_count=100&family=x&_offset=20" {
		t.Errorf("clamp/ignore: %+v %v %q", q, err, q.Encode(20))
	}
}

func TestPutVersionsAndDelete(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	r, err := s.Put([]byte(`{"resourceType":"Patient","id":"p1","meta":{"versionId":"99","tag":[{"code":"x"}]},"gender":"other","name":[{"family":"Renamed"}]}`), "p1", time.Time{})
	if err != nil || r.Created || r.Doc.Version != 2 {
		t.Fatalf("update: %+v %v", r, err)
	}
	want := `{"resourceType":"Patient","id":"p1","meta":{"versionId":"2","lastUpdated":"2026-01-01T12:00:00.000Z","tag":[{"code":"x"}]},"gender":"other","name":[{"family":"Renamed"}]}`
	if string(r.Doc.JSON) != want {
		t.Errorf("stored\n%s\nwant\n%s", r.Doc.JSON, want)
	}
	q, _ := testDefs.ParseQuery("Patient", parseKV("family=muller"), Options{DefaultCount: 10, MaxCount: 10})
	if got := ids(s.Search(q)); got != "" {
		t.Errorf("old index entry still found: %q", got)
	}
	q, _ = testDefs.ParseQuery("Patient", parseKV("family=renamed"), Options{DefaultCount: 10, MaxCount: 10})
	if got := ids(s.Search(q)); got != "p1" {
		t.Errorf("new value not found: %q", got)
	}
	if ok, err := s.Delete("Patient", "p1"); !ok || err != nil {
		t.Fatal("delete said missing")
	}
	if _, err := s.Get("Patient", "p1"); !errors.Is(err, ErrGone) {
		t.Errorf("get after delete: %v", err)
	}
	r, err = s.Put([]byte(`{"resourceType":"Patient","id":"p1"}`), "p1", time.Time{})
	if err != nil || !r.Created || r.Doc.Version != 3 {
		t.Errorf("recreate: %+v %v", r, err)
	}
	for _, bad := range []string{`{"resourceType":"Patient","id":"x"}`, `{"resourceType":"Nope"}`, `[]`, `{"id":"p9"}`} {
		if _, err := s.Put([]byte(bad), "p9", time.Time{}); err == nil {
			t.Errorf("Put(%s) succeeded", bad)
		}
	}
	for _, id := range []string{"..", ".", "a/b", strings.Repeat("a", 65), "%2e%2e", ""} {
		if _, err := s.Put([]byte(`{"resourceType":"Patient"}`), id, time.Time{}); err == nil && id != "" {
			t.Errorf("id %q accepted", id)
		}
	}
}

func TestCheckJSON(t *testing.T) {
	t.Parallel()
	ok := []string{`{"a":1}`, `[]`, `{}`, `-0.5e+10`, `"\u00e9"`, ` {"a" : [ 1 , { } ] } `, `{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"10":0}`, `{"a":{"a":1},"b":[{"a":1},{"a":2}]}`, `{"s":"\u0000"}`}
	for _, s := range ok {
		if err := CheckJSON([]byte(s)); err != nil {
			t.Errorf("CheckJSON(%s) = %v", s, err)
		}
	}
	bad := []string{`{"a":1,"a":2}`, `{"a\u0062":1,"ab":2}`, `{"a":01}`, `{"a":tru}`, `{"a":"\x"}`, "{\"a\":\"\x01\"}", `{"1":1,"2":2,"3":3,"4":4,"5":5,"6":6,"7":7,"8":8,"9":9,"1":0}`, `[1,]`, ``, `   `, `{"a":{"b":1,"b":2}}`, `{"a":1} {}`, `{"a":`, "{\"a\":\"\xff\"}", strings.Repeat("[", 101) + strings.Repeat("]", 101), `{"a":1,}`}
	for _, s := range bad {
		var ie *InputError
		if err := CheckJSON([]byte(s)); !errors.As(err, &ie) || ie.Code != "structure" {
			t.Errorf("CheckJSON(%.40q) = %v, want structure error", s, err)
		}
	}
}

func FuzzCheckJSONAndPut(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","id":"a","name":[{"family":"x"}]}`))
	f.Add([]byte(`{"resourceType":"Observation","subject":{"reference":"Patient/1"},"effectivePeriod":{"start":"2020"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckJSON(b) != nil {
			return
		}
		s := New(testDefs, fixedNow)
		if r, err := s.Put(b, "fz", time.Time{}); err == nil {
			if err := CheckJSON(r.Doc.JSON); err != nil {
				t.Fatalf("stored bytes are not clean JSON: %v\n%s", err, r.Doc.JSON)
			}
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add("family", "x,y\\,z")
	f.Add("birthdate", "ge2020-01")
	f.Add("_sort:desc", "-birthdate,family")
	f.Fuzz(func(t *testing.T, k, v string) {
		s := newFuzzStore()
		q, err := testDefs.ParseQuery("Patient", []KV{{k, v}}, Options{DefaultCount: 5, MaxCount: 10})
		if err != nil {
			return
		}
		s.Search(q)
	})
}

func newFuzzStore() *Store {
	s := New(testDefs, fixedNow)
	_, _ = s.Put([]byte(`{"resourceType":"Patient","id":"a","name":[{"family":"Zoë"}],"birthDate":"2000"}`), "", time.Time{})
	return s
}

// FuzzCheckJSON holds CheckJSON to encoding/json: whatever CheckJSON
// accepts must be valid JSON, and valid JSON without duplicate keys or
// deep nesting must be accepted.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":null}]}`, `{"a":1,"a":2}`, `"x"`, `[[[]]]`, `{"\u0061":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := CheckJSON(b)
		if err == nil && !json.Valid(b) {
			t.Fatalf("CheckJSON accepted invalid JSON %q", b)
		}
		if err != nil && json.Valid(b) && utf8.Valid(b) {
			var ie *InputError
			if !errors.As(err, &ie) || !strings.Contains(ie.Msg, "duplicate") && !strings.Contains(ie.Msg, "deeper") {
				t.Fatalf("CheckJSON refused valid JSON %q: %v", b, err)
			}
		}
		if json.Valid(b) && utf8.Valid(b) {
			dup := hasDuplicateKey(b)
			var ie *InputError
			saysDup := errors.As(err, &ie) && strings.Contains(ie.Msg, "duplicate")
			deep := errors.As(err, &ie) && strings.Contains(ie.Msg, "deeper")
			if !deep && saysDup != dup {
				t.Fatalf("CheckJSON on %q: %v; an object with a repeated (decoded) key: %v", b, err, dup)
			}
		}
	})
}

// hasDuplicateKey reports whether valid JSON b has an object with two
// equal keys once decoded, by encoding/json's token stream.
func hasDuplicateKey(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		obj     bool
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && top.obj {
					top.wantKey = true
				}
				stack = append(stack, &frame{obj: v == '{', keys: map[string]bool{}, wantKey: v == '{'})
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					stack[len(stack)-1].wantKey = true
				}
			}
		default:
			if top != nil && top.obj {
				if top.wantKey {
					k := v.(string)
					if top.keys[k] {
						return true
					}
					top.keys[k] = true
					top.wantKey = false
				} else {
					top.wantKey = true
				}
			}
		}
	}
}

func TestRefuseSortModifiers(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	for _, tt := range []struct {
		key    string
		refuse bool
		ok     bool
	}{{"_sort", true, true}, {"_sort:desc", false, true}, {"_sort:desc", true, false}, {"_sort:asc", true, false}} {
		_, err := s.defs.ParseQuery("Observation", []KV{{tt.key, "date"}}, Options{DefaultCount: 10, MaxCount: 10, RefuseSortModifiers: tt.refuse})
		if (err == nil) != tt.ok {
			t.Errorf("%s with RefuseSortModifiers=%v: err %v", tt.key, tt.refuse, err)
		}
	}
}

// TestExtensionPath: a path segment "extension(URL)" indexes only the
// extensions with that url, whether extension is the root element or
// nested, so another extension's reference never matches.
func TestExtensionPath(t *testing.T) {
	t.Parallel()
	const u = "http://hl7.org/fhir/3.0/StructureDefinition/extension-Coverage.beneficiary"
	defs := Definitions{"Coverage": {
		{Name: "patient", Type: Reference, Target: "Patient", Paths: []string{"extension(" + u + ").valueReference"}},
		{Name: "nested", Type: Reference, Target: "Patient", Paths: []string{"issuer.extension(" + u + ").valueReference"}},
	}}
	s := New(defs, fixedNow)
	docs := []string{
		`{"resourceType":"Coverage","id":"c1","extension":[{"url":"http://example.org/other","valueReference":{"reference":"Patient/p2"}},{"url":"` + u + `","valueReference":{"reference":"Patient/p1"}}]}`,
		`{"resourceType":"Coverage","id":"c2","extension":[{"url":"http://example.org/other","valueReference":{"reference":"Patient/p1"}}]}`,
		`{"resourceType":"Coverage","id":"c3","issuer":{"extension":[{"url":"` + u + `","valueReference":{"reference":"Patient/p1"}}]}}`,
	}
	for _, j := range docs {
		if _, err := s.Put([]byte(j), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	for query, want := range map[string]string{"patient=p1": "c1", "patient=p2": "", "nested=p1": "c3"} {
		q, err := defs.ParseQuery("Coverage", parseKV(query), Options{DefaultCount: 10, MaxCount: 100})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(s.Search(q)); got != want {
			t.Errorf("Coverage?%s = %q, want %q", query, got, want)
		}
	}
	if got := splitPath("a.extension(http://x.org/y).valueReference"); len(got) != 3 || got[1] != "extension(http://x.org/y)" {
		t.Errorf("splitPath = %q", got)
	}
}

// TestApplyKeepMeta: an op with KeepMeta keeps the resource's own
// versionId (a positive integer) and lastUpdated (a valid instant); other
// values, and ops without it, get the store's.
func TestApplyKeepMeta(t *testing.T) {
	t.Parallel()
	at := time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		name    string
		meta    string
		keep    bool
		version int
		updated time.Time
	}{
		{"kept", `{"versionId":"9","lastUpdated":"2020-01-02T03:04:05.678+01:00"}`, true, 9, time.Date(2020, 1, 2, 2, 4, 5, 678e6, time.UTC)},
		{"not asked", `{"versionId":"9","lastUpdated":"2020-01-02T03:04:05Z"}`, false, 1, at},
		{"not a number, not an instant", `{"versionId":"v9","lastUpdated":"yesterday"}`, true, 1, at},
		{"no meta", `{"tag":[]}`, true, 1, at},
	}
	for i, tt := range tests {
		s := newTestStore(t)
		id := fmt.Sprintf("k%d", i)
		res, err := s.ApplyAt([]Op{{Type: "Patient", ID: id, JSON: []byte(`{"resourceType":"Patient","id":"` + id + `","meta":` + tt.meta + `}`), KeepMeta: tt.keep}}, at)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		d := res[0].Doc
		if d.Version != tt.version || !d.Updated.Equal(tt.updated) || !strings.Contains(string(d.JSON), `"versionId":"`+fmt.Sprint(tt.version)+`"`) {
			t.Errorf("%s: v%d %v %s", tt.name, d.Version, d.Updated, d.JSON)
		}
	}
}

// TestPutIf: the condition sees the current version and, when it fails,
// nothing is written; a missing resource is offered as nil.
func TestPutIf(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	cur, err := s.Get("Patient", "p1")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"resourceType":"Patient","id":"p1","gender":"other"}`)
	var seen *Doc
	if _, err := s.PutIf(body, "p1", time.Time{}, func(d *Doc) bool { seen = d; return false }); !errors.Is(err, ErrPrecondition) {
		t.Fatalf("failed condition: %v", err)
	}
	if seen == nil || seen.Version != cur.Version {
		t.Errorf("condition saw %+v, want version %d", seen, cur.Version)
	}
	if d, _ := s.Get("Patient", "p1"); d.Version != cur.Version || strings.Contains(string(d.JSON), "other") {
		t.Errorf("a failed PutIf wrote: v%d %s", d.Version, d.JSON)
	}
	res, err := s.PutIf(body, "p1", time.Time{}, func(d *Doc) bool { return d != nil && d.Version == cur.Version })
	if err != nil || res.Doc.Version != cur.Version+1 {
		t.Errorf("holding condition: %v, v%d", err, res.Doc.Version)
	}
	if _, err := s.PutIf([]byte(`{"resourceType":"Patient","id":"new1"}`), "new1", time.Time{}, func(d *Doc) bool { return d != nil }); !errors.Is(err, ErrPrecondition) {
		t.Errorf("If-Match on a missing resource: %v", err)
	}
}
