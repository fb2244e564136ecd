package store

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakePop is a small population with the id scheme and the Patient shape
// of the generated ones: a Patient and three Observations a patient.
type fakePop struct {
	n      int
	badMRN bool // an MRN the index cannot hold: Patient searches scan
}

var (
	fakeFamilies = []string{"Smith", "Müller", "O'Brien", "Johnson", "Nguyen", "Smithers", "García"}
	fakeGivens   = []string{"Anna", "Zoë", "Luis", "Ann", "Mark", "Marta"}
	fakeRef      = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (p fakePop) Len() int { return p.n }
func (p fakePop) Holds(typ string) bool {
	return typ == "Patient" || typ == "Observation"
}
func (p fakePop) Owner(typ, id string) (int, bool) {
	prefix := map[string]string{"Patient": "pat-", "Observation": "obs-"}[typ]
	if prefix == "" || !strings.HasPrefix(id, prefix) {
		return 0, false
	}
	num, _, _ := strings.Cut(id[len(prefix):], "-")
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > p.n {
		return 0, false
	}
	return n - 1, true
}
func (p fakePop) PatientID(i int) string { return "pat-" + strconv.Itoa(i+1) }

func (p fakePop) Demographics(i int) Demographics {
	d := Demographics{ID: p.PatientID(i), MRN: strconv.Itoa(10_000_000 + (i*7919)%90_000_000), MRNSystem: "urn:mrn",
		Family: fakeFamilies[i%len(fakeFamilies)], Given: []string{fakeGivens[i%len(fakeGivens)]},
		Gender: []string{"female", "male", "other"}[i%3], BirthDate: fakeRef.AddDate(0, 0, -(i*37)%20000).Format("2006-01-02")}
	if i%4 == 1 {
		d.Given = append(d.Given, fakeGivens[(i+1)%len(fakeGivens)])
	}
	if i%5 == 2 {
		d.Prefix = []string{"Dr."}
	}
	if p.badMRN && i == 3 {
		d.MRN = "MRN-3"
	}
	return d
}

func (p fakePop) Record(i int, emit func(typ, id string, json []byte)) {
	d := p.Demographics(i)
	name := map[string]any{"use": "official", "family": d.Family, "given": d.Given}
	if len(d.Prefix) > 0 {
		name["prefix"] = d.Prefix
	}
	pat := fmt.Sprintf(`{"resourceType":"Patient","id":%q,"identifier":[{"system":%q,"value":%q}],"name":[%s],"gender":%q,"birthDate":%q}`,
		d.ID, d.MRNSystem, d.MRN, mustJSON(name), d.Gender, d.BirthDate)
	emit("Patient", d.ID, []byte(pat))
	for k := 1; k <= 3; k++ {
		id := fmt.Sprintf("obs-%d-%d", i+1, k)
		code := []string{"8867-4", "8310-5", "29463-7"}[(i+k)%3]
		emit("Observation", id, []byte(fmt.Sprintf(`{"resourceType":"Observation","id":%q,"code":{"coding":[{"system":"http://loinc.org","code":%q}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2025-0%d-1%dT10:00:00Z"}`,
			id, code, d.ID, 1+k, i%10)))
	}
}

func mustJSON(v map[string]any) string {
	var b strings.Builder
	b.WriteString("{")
	keys := []string{"use", "family", "given", "prefix"}
	first := true
	for _, k := range keys {
		x, ok := v[k]
		if !ok {
			continue
		}
		if !first {
			b.WriteString(",")
		}
		first = false
		switch t := x.(type) {
		case string:
			fmt.Fprintf(&b, "%q:%q", k, t)
		case []string:
			q := make([]string, len(t))
			for j, s := range t {
				q[j] = strconv.Quote(s)
			}
			fmt.Fprintf(&b, "%q:[%s]", k, strings.Join(q, ","))
		}
	}
	b.WriteString("}")
	return b.String()
}

func fakeDefs() Definitions {
	return Definitions{
		"Patient": {
			{Name: "identifier", Type: Token, Paths: []string{"identifier"}},
			{Name: "name", Type: String, Paths: []string{"name"}},
			{Name: "family", Type: String, Paths: []string{"name.family"}},
			{Name: "given", Type: String, Paths: []string{"name.given"}},
			{Name: "birthdate", Type: Date, Paths: []string{"birthDate"}},
			{Name: "gender", Type: Token, Paths: []string{"gender"}},
		},
		"Observation": {
			{Name: "patient", Type: Reference, Paths: []string{"subject"}, Target: "Patient"},
			{Name: "subject", Type: Reference, Paths: []string{"subject"}},
			{Name: "code", Type: Token, Paths: []string{"code"}},
			{Name: "date", Type: Date, Paths: []string{"effectiveDateTime"}},
		},
		"Organization": {},
	}
}

// storedAndDerived builds the same population twice: every resource
// stored, and derived with a cache of cache patients.
func storedAndDerived(t testing.TB, pop fakePop, cache int) (stored, derived *Store) {
	t.Helper()
	now := func() time.Time { return fakeRef.Add(time.Hour) }
	stored, derived = New(fakeDefs(), now), New(fakeDefs(), now)
	org := []byte(`{"resourceType":"Organization","id":"org-1"}`)
	for _, s := range []*Store{stored, derived} {
		if _, err := s.Put(org, "", fakeRef); err != nil {
			t.Fatal(err)
		}
	}
	for i := range pop.n {
		pop.Record(i, func(typ, id string, b []byte) {
			if _, err := stored.Put(b, id, fakeRef); err != nil {
				t.Fatal(err)
			}
		})
	}
	idx := BuildPopulationIndex(pop, 2)
	if err := idx.Wait(); (err != nil) != pop.badMRN {
		t.Fatalf("index build: %v", err)
	}
	if err := derived.SetPopulation(pop, DerivedOptions{Updated: fakeRef, CachePatients: cache, Index: idx}); err != nil {
		t.Fatal(err)
	}
	return stored, derived
}

var derivedQueries = []string{
	"Patient?", "Patient?family=smi", "Patient?family=SMITH&_count=3&_offset=2", "Patient?family:exact=Smith",
	"Patient?family=muller", "Patient?family=o'b&_count=1", "Patient?given=an", "Patient?given=zoe&family=smi",
	"Patient?name=dr", "Patient?name=ann&_count=50", "Patient?gender=other&_count=4&_offset=4", "Patient?gender=female,other",
	"Patient?birthdate=ge2000&_count=5", "Patient?birthdate=" + fakeRef.AddDate(0, 0, -37*5).Format("2006-01-02"),
	"Patient?identifier=10039595", "Patient?identifier=urn:mrn|10000000", "Patient?identifier=urn:mrn|&_count=2",
	"Patient?identifier=other|10000000", "Patient?_id=pat-4,pat-9", "Patient?_id=pat-04", "Patient?_sort=family&_count=5",
	"Patient?_sort=-birthdate&family=a&_count=4", "Patient?name:missing=true", "Patient?gender:not=male&_count=7",
	"Patient?_lastUpdated=gt2026-01-01&_count=3",
	"Observation?patient=pat-5", "Observation?subject=Patient/pat-5&code=8867-4", "Observation?patient=pat-5,pat-6&_sort=-date",
	"Observation?code=8310-5&_count=4&_offset=3", "Observation?_id=obs-7-2", "Observation?patient=pat-999",
	"Observation?date=ge2025-03-01&_count=2", "Observation?patient=pat-2&_include=Observation:patient",
}

func searchIDs(t *testing.T, s *Store, raw string) string {
	t.Helper()
	out, err := searchIDsErr(s, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// searchIDsErr is searchIDs for a goroutine other than the test's.
func searchIDsErr(s *Store, raw string) (string, error) {
	typ, qs, _ := strings.Cut(raw, "?")
	vals, err := url.ParseQuery(qs)
	if err != nil {
		return "", err
	}
	var kvs []KV
	for _, part := range strings.Split(qs, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		kvs = append(kvs, KV{k, vals.Get(k)})
		_ = v
	}
	q, err := s.Definitions().ParseQuery(typ, kvs, Options{DefaultCount: 20, MaxCount: 100})
	if err != nil {
		return "", fmt.Errorf("%s: %v", raw, err)
	}
	res := s.Search(q)
	var b strings.Builder
	fmt.Fprintf(&b, "total %d:", res.Total)
	for _, d := range append(res.Matches, res.Included...) {
		fmt.Fprintf(&b, " %s/%s/%d/%s", d.Type, d.ID, d.Version, d.JSON)
	}
	return b.String(), nil
}

func compareStores(t *testing.T, stored, derived *Store, pop fakePop, extra ...string) {
	t.Helper()
	matched := 0
	for _, q := range append(slices.Clone(derivedQueries), extra...) {
		want, got := searchIDs(t, stored, q), searchIDs(t, derived, q)
		if want != got {
			t.Errorf("%s:\nstored:  %.400s\nderived: %.400s", q, want, got)
		}
		if !strings.HasPrefix(want, "total 0:") {
			matched++
		}
	}
	if matched < len(derivedQueries)/2 {
		t.Errorf("only %d queries matched anything: the comparison proves little", matched)
	}
	for i := range pop.n + 2 {
		for _, id := range []string{fmt.Sprintf("Patient/pat-%d", i), fmt.Sprintf("Observation/obs-%d-1", i), fmt.Sprintf("Observation/obs-%d-4", i)} {
			typ, rid, _ := strings.Cut(id, "/")
			d1, e1 := stored.Get(typ, rid)
			d2, e2 := derived.Get(typ, rid)
			if e1 != e2 || (d1 == nil) != (d2 == nil) || d1 != nil && (string(d1.JSON) != string(d2.JSON) || d1.Version != d2.Version) {
				t.Errorf("Get %s: stored %v %v, derived %v %v", id, d1, e1, d2, e2)
			}
		}
	}
}

// TestDerivedMatchesStored: a store deriving a population answers every
// search and read exactly as one storing it, through the index and
// through scans, with a cache far smaller than the population.
func TestDerivedMatchesStored(t *testing.T) {
	t.Parallel()
	for _, pop := range []fakePop{{n: 150}, {n: 60, badMRN: true}} {
		t.Run(fmt.Sprintf("n=%d,badMRN=%v", pop.n, pop.badMRN), func(t *testing.T) {
			t.Parallel()
			stored, derived := storedAndDerived(t, pop, 3)
			compareStores(t, stored, derived, pop)
			if n := derived.CachedPatients(); n > 3 || n == 0 {
				t.Errorf("cache holds %d patients, want 1 to 3", n)
			}
		})
	}
}

// TestDerivedOverlay: writes overlay generated resources in both stores
// alike: an updated Patient is found by its new name and not its old one,
// a deleted one is gone from reads and searches, a created one is found,
// versions continue from the generated version 1.
func TestDerivedOverlay(t *testing.T) {
	t.Parallel()
	pop := fakePop{n: 80}
	stored, derived := storedAndDerived(t, pop, 4)
	for _, s := range []*Store{stored, derived} {
		if _, err := s.Put([]byte(`{"resourceType":"Patient","id":"pat-3","name":[{"family":"Zebedee","given":["Quentin"]}],"gender":"male","birthDate":"1970-01-01"}`), "pat-3", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if ok, err := s.Delete("Patient", "pat-8"); !ok || err != nil {
			t.Fatalf("delete pat-8: %v %v", ok, err)
		}
		if ok, err := s.Delete("Observation", "obs-5-1"); !ok || err != nil {
			t.Fatalf("delete obs-5-1: %v %v", ok, err)
		}
		if _, err := s.Put([]byte(`{"resourceType":"Patient","id":"new-1","name":[{"family":"Smithson"}],"gender":"female"}`), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Put([]byte(`{"resourceType":"Observation","id":"obs-9-2","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},"subject":{"reference":"Patient/pat-10"}}`), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.PutIf([]byte(`{"resourceType":"Patient","id":"pat-4","name":[{"family":"Smith"}]}`), "pat-4", time.Time{}, func(d *Doc) bool { return d != nil && d.Version == 1 }); err != nil {
			t.Fatalf("PutIf on a generated version 1: %v", err)
		}
		if _, err := s.DeleteIf("Patient", "pat-5", func(d *Doc) bool { return d != nil && d.Version == 2 }); err != ErrPrecondition {
			t.Fatalf("DeleteIf on a stale version: %v", err)
		}
	}
	compareStores(t, stored, derived, pop, "Patient?family=zebedee", "Patient?given=quentin", "Patient?family=nguyen",
		"Patient?family=smith&_count=100", "Observation?patient=pat-5", "Observation?patient=pat-10", "Observation?patient=pat-9",
		"Patient?_id=pat-8", "Patient?birthdate=1970-01-01")
	if got := searchIDs(t, derived, "Patient?family=zebedee"); !strings.Contains(got, "pat-3/2/") {
		t.Errorf("updated patient not found by its new name: %s", got)
	}
	if _, err := derived.Get("Patient", "pat-8"); err != ErrGone {
		t.Errorf("deleted generated patient: %v, want ErrGone", err)
	}
}

// TestUnitCacheLRU: the cache keeps the most recently used patients.
func TestUnitCacheLRU(t *testing.T) {
	t.Parallel()
	c := newUnitCache(2)
	a, b, d := &unit{}, &unit{}, &unit{}
	c.put(1, a)
	c.put(2, b)
	if c.get(1) != a { // 1 is now the most recent
		t.Fatal("1 not cached")
	}
	c.put(3, d)
	if c.get(2) != nil || c.get(1) != a || c.get(3) != d || c.len() != 2 {
		t.Errorf("after 3 puts in a cache of 2: 1=%v 2=%v 3=%v len %d", c.get(1), c.get(2), c.get(3), c.len())
	}
	if got := c.put(1, &unit{}); got != a {
		t.Error("a second put of a cached patient replaced the first")
	}
}

// FuzzDerivedSearch: for any search a client can send, a store deriving
// a population answers exactly what a store holding it answers.
func FuzzDerivedSearch(f *testing.F) {
	for _, q := range derivedQueries {
		f.Add(q)
	}
	pop := fakePop{n: 40}
	stored, derived := storedAndDerived(f, pop, 3)
	f.Fuzz(func(t *testing.T, raw string) {
		typ, qs, _ := strings.Cut(raw, "?")
		if typ != "Patient" && typ != "Observation" {
			return
		}
		var kvs []KV
		for _, part := range strings.Split(qs, "&") {
			k, v, _ := strings.Cut(part, "=")
			if k != "" {
				kvs = append(kvs, KV{k, v})
			}
		}
		q, err := stored.Definitions().ParseQuery(typ, kvs, Options{DefaultCount: 20, MaxCount: 100})
		if err != nil {
			return
		}
		r1, r2 := stored.Search(q), derived.Search(q)
		if r1.Total != r2.Total || len(r1.Matches) != len(r2.Matches) || len(r1.Included) != len(r2.Included) {
			t.Fatalf("%s: stored %d/%d/%d, derived %d/%d/%d", raw, r1.Total, len(r1.Matches), len(r1.Included), r2.Total, len(r2.Matches), len(r2.Included))
		}
		for i := range r1.Matches {
			if string(r1.Matches[i].JSON) != string(r2.Matches[i].JSON) {
				t.Fatalf("%s: match %d: stored %s, derived %s", raw, i, r1.Matches[i].JSON, r2.Matches[i].JSON)
			}
		}
	})
}

// patientPop is fakePop rendering a Patient alone too, counting how many
// whole records it generates.
type patientPop struct {
	fakePop
	records *atomic.Int64
}

func (p patientPop) Record(i int, emit func(typ, id string, json []byte)) {
	p.records.Add(1)
	p.fakePop.Record(i, emit)
}

func (p patientPop) RecordPatient(i int) (id string, json []byte) {
	p.fakePop.Record(i, func(typ, rid string, b []byte) {
		if typ == "Patient" && json == nil {
			id, json = rid, b
		}
	})
	return id, json
}

// TestDerivedPatientAlone: a population that renders a Patient alone is
// answered as a stored one; reading a Patient or paging a Patient search
// generates no whole record, and the Patient's Doc stays the same once
// the record is generated.
func TestDerivedPatientAlone(t *testing.T) {
	t.Parallel()
	pop := fakePop{n: 120}
	stored, _ := storedAndDerived(t, pop, 1)
	pp := patientPop{fakePop: pop, records: &atomic.Int64{}}
	derived := New(fakeDefs(), func() time.Time { return fakeRef.Add(time.Hour) })
	if _, err := derived.Put([]byte(`{"resourceType":"Organization","id":"org-1"}`), "", fakeRef); err != nil {
		t.Fatal(err)
	}
	if err := derived.SetPopulation(pp, DerivedOptions{Updated: fakeRef, CachePatients: 10}); err != nil {
		t.Fatal(err)
	}
	before, err := derived.Get("Patient", "pat-7")
	if err != nil {
		t.Fatal(err)
	}
	searchIDs(t, derived, "Patient?family=smi&_count=5")
	if n := pp.records.Load(); n != 0 {
		t.Fatalf("a Patient read and a Patient search page generated %d whole records, want 0", n)
	}
	searchIDs(t, derived, "Observation?patient=pat-7")
	if n := pp.records.Load(); n != 1 {
		t.Fatalf("a patient's Observations generated %d whole records, want 1", n)
	}
	res := derived.Search(mustQuery(t, derived, "Patient", KV{"_id", "pat-7"}))
	if after, _ := derived.Get("Patient", "pat-7"); after != before || len(res.Matches) != 1 || res.Matches[0] != before {
		t.Error("the Patient's Doc changed when its whole record was generated")
	}
	compareStores(t, stored, derived, pop)
}

func mustQuery(t *testing.T, s *Store, typ string, kvs ...KV) Query {
	t.Helper()
	q, err := s.Definitions().ParseQuery(typ, kvs, Options{DefaultCount: 20, MaxCount: 100})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestDerivedConcurrentFirstSearches: many readers searching and reading
// the same never-touched patients at once, each generated resource's
// index values extracted on first need by whichever reader gets there
// first, all see what a store holding the population sees (run with
// -race: the extraction is shared).
func TestDerivedConcurrentFirstSearches(t *testing.T) {
	t.Parallel()
	pop := fakePop{n: 40}
	stored, derived := storedAndDerived(t, pop, 40)
	queries := []string{"Observation?patient=pat-3&_sort=-date", "Observation?code=8867-4&_count=50", "Patient?family=smi",
		"Observation?patient=pat-7&_include=Observation:patient", "Observation?date=ge2025-03-01&_count=50"}
	want := make([]string, len(queries))
	for k, q := range queries {
		want[k] = searchIDs(t, stored, q)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for k := range queries {
				q := queries[(k+g)%len(queries)]
				got, err := searchIDsErr(derived, q)
				if err != nil {
					t.Error(err)
				} else if got != want[(k+g)%len(queries)] {
					t.Errorf("%s:\nstored:  %.300s\nderived: %.300s", q, want[(k+g)%len(queries)], got)
				}
				if _, err := derived.Get("Observation", fmt.Sprintf("obs-%d-2", 1+(k*7+g)%pop.n)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}
