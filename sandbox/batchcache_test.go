package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// sixQueries is the Patients app's batch of its six clinical queries
// about patient id in release rel (MedicationOrder in DSTU2).
func sixQueries(rel, id string) string {
	meds := "MedicationRequest"
	if rel == "dstu2" {
		meds = "MedicationOrder"
	}
	var entries []string
	for _, u := range []string{"Observation?patient=" + id + "&category=vital-signs&_sort=-date", "Condition?patient=" + id + "&_count=10",
		"Encounter?patient=" + id + "&_sort:desc=date&_count=1", "AllergyIntolerance?patient=" + id, meds + "?patient=" + id + "&_count=10",
		"Coverage?patient=" + id} {
		entries = append(entries, `{"request":{"method":"GET","url":"`+u+`"}}`)
	}
	return `{"resourceType":"Bundle","type":"batch","entry":[` + strings.Join(entries, ",") + `]}`
}

// batchStamps is what a batch-response has of its own: its id, and each
// entry's searchset id and meta.lastUpdated.
type batchStamps struct {
	ID    string `json:"id"`
	Entry []struct {
		Resource struct {
			ID   string `json:"id"`
			Meta struct {
				LastUpdated string `json:"lastUpdated"`
			} `json:"meta"`
		} `json:"resource"`
	} `json:"entry"`
}

// entryTotals is the total of each entry's searchset in a batch-response.
func entryTotals(t *testing.T, b []byte) []int {
	t.Helper()
	var out struct {
		Entry []struct {
			Resource struct {
				Total int `json:"total"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("batch-response: %v %.300s", err, b)
	}
	totals := make([]int, len(out.Entry))
	for i, en := range out.Entry {
		totals[i] = en.Resource.Total
	}
	return totals
}

// TestBatchCache: a batch of searches asked again is answered from its
// kept response with the same bytes as a server without caches, besides
// a new id for the batch-response and for every searchset and a current
// lastUpdated; the response is kept (the store's renders grow by about
// its size on top of its six searches' renders); and a write to the
// tenant shows in the next batch.
func TestBatchCache(t *testing.T) {
	t.Parallel()
	// ids drawn from crypto/rand, as serve draws them: GUIDs (a test
	// server's fixed random source runs out and falls back to other ids,
	// which a kept batch-response cannot take: it is then run every time)
	var urls []string
	var s *Server
	for _, size := range []int{32 << 20, 0} {
		cfg := DefaultConfig()
		cfg.Auth.Required = false
		cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 60, 3
		cfg.PublicURL = "https://sandbox.example.test"
		cfg.Limits.SearchCacheBytes = size
		srv, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if size > 0 {
			s = srv
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		urls = append(urls, hs.URL)
	}
	cached, uncached := urls[0], urls[1]
	ids := map[string]bool{}
	for _, rel := range spec.Releases() {
		b := rel.Base()
		batch := exchange{method: "POST", path: b, body: sixQueries(rel.Name, "pat-12")}
		_, want := do(t, uncached, batch)
		st, err := s.tenants.Store(ContosoTenant, rel.Name)
		if err != nil {
			t.Fatal(err)
		}
		// the six searches on their own first: their renders are kept
		var batchIn struct {
			Entry []struct {
				Request struct{ URL string } `json:"request"`
			} `json:"entry"`
		}
		if err := json.Unmarshal([]byte(batch.body), &batchIn); err != nil {
			t.Fatal(err)
		}
		for _, en := range batchIn.Entry {
			if code, body := do(t, cached, exchange{method: "GET", path: b + "/" + en.Request.URL}); code != http.StatusOK {
				t.Fatalf("%s: %d %.300s", en.Request.URL, code, body)
			}
		}
		searches := st.RenderedBytes()
		for round := 0; round < 3; round++ {
			code, got := do(t, cached, batch)
			if code != http.StatusOK || !bytes.Equal(normalise(got), normalise(want)) {
				t.Fatalf("%s batch, round %d: %d\ncached:   %.600s\nuncached: %.600s", rel.Name, round, code, normalise(got), normalise(want))
			}
			if round == 0 {
				if kept := st.RenderedBytes() - searches; kept < len(got) {
					t.Fatalf("%s: the first batch added %d bytes to the renders, less than its %d-byte response", rel.Name, kept, len(got))
				}
			}
			var stamps batchStamps
			if err := json.Unmarshal(got, &stamps); err != nil || len(stamps.Entry) != 6 {
				t.Fatalf("%s: %v, %d entries", rel.Name, err, len(stamps.Entry))
			}
			fresh := []string{stamps.ID}
			for _, en := range stamps.Entry {
				fresh = append(fresh, en.Resource.ID)
				if _, err := time.Parse(time.RFC3339Nano, en.Resource.Meta.LastUpdated); err != nil || len(en.Resource.Meta.LastUpdated) != 24 {
					t.Fatalf("%s round %d: searchset lastUpdated %q", rel.Name, round, en.Resource.Meta.LastUpdated)
				}
			}
			for _, id := range fresh {
				if len(id) != 36 || ids[id] {
					t.Fatalf("%s round %d: Bundle id %q new and a GUID? seen before: %v", rel.Name, round, id, ids[id])
				}
				ids[id] = true
			}
		}
	}
}

// TestBatchCacheSeesWrites: a write to the tenant empties what was kept,
// so the next batch shows it, and a batch that was not all searches (here
// with a read) is run every time.
func TestBatchCacheSeesWrites(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.FHIRVersion = "r4"
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 30, 3
	cfg.Limits.SearchCacheBytes = 32 << 20
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	srv := hs.URL
	tok := tenantToken(t, srv, ContosoTenant)
	batch := sixQueries("r4", "pat-4")
	vitals := func() int {
		t.Helper()
		st, b := authed(t, srv, tok, "POST", "/r4", batch)
		if st != 200 {
			t.Fatalf("batch: %d %.300s", st, b)
		}
		totals := entryTotals(t, []byte(b))
		if len(totals) != 6 {
			t.Fatalf("batch: %d entries: %.300s", len(totals), b)
		}
		return totals[0]
	}
	before := vitals()
	if again := vitals(); again != before { // the kept answer
		t.Fatalf("the batch asked again: %d vitals, then %d", before, again)
	}
	if st, b := authed(t, srv, tok, "POST", "/r4/Observation", heartRate4); st != 201 {
		t.Fatalf("POST Observation: %d %s", st, b)
	}
	if after := vitals(); after != before+1 {
		t.Fatalf("after a create the batch shows %d vitals, want %d", after, before+1)
	}
	// with a read among the searches: answered right every time
	withRead := strings.Replace(batch, `{"request":{"method":"GET","url":"Coverage?patient=pat-4"}}`, `{"request":{"method":"GET","url":"Patient/pat-4"}}`, 1)
	for i := 0; i < 2; i++ {
		st, b := authed(t, srv, tok, "POST", "/r4", withRead)
		if st != 200 || !strings.Contains(b, `"id":"pat-4"`) {
			t.Fatalf("batch with a read, round %d: %d %.300s", i, st, b)
		}
	}
}

// TestBatchCacheScopes: a batch under a SMART scope that restricts its
// searches is never answered from a response kept for an unrestricted
// token, nor the other way round.
func TestBatchCacheScopes(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, `[system/Patient.rs, "system/AllergyIntolerance.rs?category=food"]`)
	full := e.secretToken()
	tok, _ := e.token(ContosoTenant)
	const batch = `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"AllergyIntolerance?_count=100"}}]}`
	total := func(bearer string) int {
		t.Helper()
		st, b := e.do("POST", "/r4", bearer, "application/fhir+json", batch)
		if st != http.StatusOK {
			t.Fatalf("batch: %d %.300s", st, b)
		}
		totals := entryTotals(t, b)
		if len(totals) != 1 {
			t.Fatalf("batch: %d entries: %.300s", len(totals), b)
		}
		return totals[0]
	}
	food := e.bundle("/r4/AllergyIntolerance?category=food&_count=100", full).Total
	for i := 0; i < 2; i++ { // the second full answer is the kept one
		all := total(full)
		if food == 0 || all <= food {
			t.Fatalf("the tenant's data does not exercise the scope: %d food of %d", food, all)
		}
		if got := total(tok); got != food {
			t.Fatalf("round %d: the scoped batch found %d allergies, want the %d food ones", i, got, food)
		}
	}
}
