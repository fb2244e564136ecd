package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// searchCachePair starts a server with the search cache on and one with
// it off, over the same configuration.
func searchCachePair(t *testing.T, mutate func(*Config)) (cached, uncached string, cachedSrv *Server) {
	t.Helper()
	var urls []string
	for _, bytes := range []int{32 << 20, 0} {
		cfg := DefaultConfig()
		cfg.Auth.Required = false
		cfg.Tenants[0].Patients = 60
		cfg.Tenants[1].Patients = 3
		cfg.PublicURL = "https://sandbox.example.test"
		cfg.Limits.SearchCacheBytes = bytes
		if mutate != nil {
			mutate(&cfg)
		}
		s, _ := newTestServer(t, cfg)
		if bytes > 0 {
			cachedSrv = s
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	return urls[0], urls[1], cachedSrv
}

// TestSearchCacheSameBytes: a search asked again is answered from the
// cache, with the same bytes as a server without the cache (its own
// Bundle id and lastUpdated aside), a new Bundle id each time, and the
// Patients app's batch of six queries too.
func TestSearchCacheSameBytes(t *testing.T) {
	t.Parallel()
	cached, uncached, s := searchCachePair(t, nil)
	h, err := seed.NewHospital(seed.Options{Seed: DefaultConfig().Tenants[0].Seed, Tenant: ContosoTenant, ReferenceDate: DefaultConfig().ReferenceDate.Time})
	if err != nil {
		t.Fatal(err)
	}
	family := h.Demographics(11).Name.Family
	var exchanges []exchange
	for _, rel := range spec.Releases() {
		b := rel.Base()
		exchanges = append(exchanges,
			exchange{method: "GET", path: b + "/Observation?patient=pat-12&category=vital-signs&_sort=-date"},
			exchange{method: "GET", path: b + "/Patient?family=" + strings.ToLower(family[:3]) + "&_count=5"},
			exchange{method: "GET", path: b + "/Patient?_count=7&_offset=7"},
			exchange{method: "GET", path: b + "/Encounter?patient=pat-12&_include=Encounter:patient"},
			exchange{method: "GET", path: b + "/Condition?patient=pat-12&_elements=code"},
			exchange{method: "GET", path: b + "/Patient?_summary=count"},
			exchange{method: "POST", path: b + "/Patient/_search", form: "family=" + strings.ToLower(family[:2]) + "&_count=10"},
			exchange{method: "POST", path: b, body: `{"resourceType":"Bundle","type":"batch","entry":[
{"request":{"method":"GET","url":"Observation?patient=pat-12&category=vital-signs"}},
{"request":{"method":"GET","url":"Condition?patient=pat-12"}},
{"request":{"method":"GET","url":"Patient/pat-12"}}]}`},
		)
	}
	ids := map[string]bool{}
	for _, e := range exchanges {
		_, want := do(t, uncached, e)
		for round := 0; round < 3; round++ {
			st, got := do(t, cached, e)
			if st != http.StatusOK || !bytes.Equal(normalise(got), normalise(want)) {
				t.Fatalf("%s, round %d: %d\ncached:   %.400s\nuncached: %.400s", e, round, st, normalise(got), normalise(want))
			}
			var head struct {
				ID   string `json:"id"`
				Meta struct {
					LastUpdated string `json:"lastUpdated"`
				} `json:"meta"`
			}
			if err := json.Unmarshal(got, &head); err != nil || head.ID == "" {
				t.Fatalf("%s: no Bundle id (%v)", e, err)
			}
			if ids[head.ID] {
				t.Fatalf("%s: Bundle id %s served twice", e, head.ID)
			}
			ids[head.ID] = true
			if e.body == "" && head.Meta.LastUpdated == "" {
				t.Fatalf("%s: no meta.lastUpdated", e)
			}
		}
	}
	// the repeated searches were served from the cache
	n := 0
	for _, rel := range spec.Releases() {
		st, err := s.tenants.Store(ContosoTenant, rel.Name)
		if err != nil {
			t.Fatal(err)
		}
		n += st.RenderedBytes()
	}
	if n == 0 {
		t.Fatal("the cache holds nothing after the searches were repeated")
	}
}

// heartRate4 is an R4 vital sign of pat-4, to write.
const heartRate4 = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"8867-4","display":"Heart rate"}]},"subject":{"reference":"Patient/pat-4"},"effectiveDateTime":"2099-01-01T10:00:00Z","valueQuantity":{"value":61,"unit":"/min","system":"http://unitsofmeasure.org","code":"/min"}}`

// TestSearchCacheSeesWrites: a write empties the cache of the tenant's
// release it went to, so the next search sees the write (created,
// updated, deleted), and the other tenant's searches, cached the same,
// do not.
func TestSearchCacheSeesWrites(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.FHIRVersion = "r4"
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 30, 30
	cfg.Limits.SearchCacheBytes = 32 << 20
	s, err := New(cfg, Options{}) // crypto/rand: tokens for both tenants and created ids
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	tokA, tokB := tenantToken(t, srv.URL, ContosoTenant), tenantToken(t, srv.URL, cfg.Tenants[1].ID)
	const vitals = "/r4/Observation?patient=pat-4&category=vital-signs&_sort=-date&_count=100"
	total := func(tok string) (int, string) {
		t.Helper()
		st, b := authed(t, srv.URL, tok, "GET", vitals, "")
		if st != 200 {
			t.Fatalf("vitals: %d %.300s", st, b)
		}
		var bundle struct {
			Total int `json:"total"`
		}
		if err := json.Unmarshal([]byte(b), &bundle); err != nil {
			t.Fatal(err)
		}
		return bundle.Total, b
	}
	before, _ := total(tokA)
	beforeB, _ := total(tokB)
	total(tokA) // cached now
	obs := heartRate4
	st, b := authed(t, srv.URL, tokA, "POST", "/r4/Observation", obs)
	if st != 201 {
		t.Fatalf("POST Observation: %d %s", st, b)
	}
	id := between(b, `"id":"`, `"`)
	after, body := total(tokA)
	if after != before+1 || !strings.Contains(body, `"id":"`+id+`"`) {
		t.Fatalf("after a create: total %d, want %d, new id %s in it: %v", after, before+1, id, strings.Contains(body, id))
	}
	if n, _ := total(tokB); n != beforeB {
		t.Fatalf("the other tenant's vitals went from %d to %d", beforeB, n)
	}
	upd := strings.Replace(obs, `{"resourceType":"Observation",`, `{"resourceType":"Observation","id":"`+id+`",`, 1)
	upd = strings.Replace(upd, `"value":61`, `"value":97`, 1)
	if st, b := authed(t, srv.URL, tokA, "PUT", "/r4/Observation/"+id, upd); st != 200 {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if _, body := total(tokA); !strings.Contains(body, `"value":97`) {
		t.Fatal("after an update the search still shows the old value")
	}
	if st, b := authed(t, srv.URL, tokA, "DELETE", "/r4/Observation/"+id, ""); st != 200 && st != 204 {
		t.Fatalf("DELETE: %d %s", st, b)
	}
	if n, body := total(tokA); n != before || strings.Contains(body, id) {
		t.Fatalf("after a delete: total %d, want %d", n, before)
	}
}

// TestSearchCacheKeyedByBase: the links and fullUrls of a cached search
// are those of the base URL the request came in on.
func TestSearchCacheKeyedByBase(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Auth.Required = false
	cfg.Tenants[0].Patients = 20
	s, _ := newTestServer(t, cfg)
	h := s.Handler()
	for _, host := range []string{"a.example.test", "b.example.test", "a.example.test"} {
		req := httptest.NewRequest("GET", "/stu3/Observation?patient=pat-3&_count=2", nil)
		req.Host = host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		b := rec.Body.String()
		other := "b.example.test"
		if host == other {
			other = "a.example.test"
		}
		if rec.Code != 200 || !strings.Contains(b, "http://"+host+"/stu3/Observation/") || strings.Contains(b, other) {
			t.Fatalf("Host %s: %d %.400s", host, rec.Code, b)
		}
	}
}

// TestSearchCacheScopes: a search under a SMART scope that restricts it
// is never answered from a render made without the restriction, nor the
// other way round.
func TestSearchCacheScopes(t *testing.T) {
	t.Parallel()
	e := newSmartEnv(t, `[system/Patient.rs, "system/AllergyIntolerance.rs?category=food"]`)
	full := e.secretToken()
	tok, _ := e.token(ContosoTenant)
	const path = "/r4/AllergyIntolerance?_count=100"
	food := e.bundle("/r4/AllergyIntolerance?category=food&_count=100", full)
	for i := 0; i < 2; i++ { // the second answer is the cache's
		all := e.bundle(path, full)
		if food.Total == 0 || all.Total <= food.Total {
			t.Fatalf("the tenant's data does not exercise the scope: %d food of %d", food.Total, all.Total)
		}
		if got := e.bundle(path, tok); got.Total != food.Total {
			t.Fatalf("round %d: scoped search found %d, want the %d food allergies", i, got.Total, food.Total)
		}
	}
	if all := e.bundle(path, full); all.Total <= food.Total {
		t.Fatalf("after the scoped searches the unrestricted one finds %d", all.Total)
	}
}

// TestSearchCacheBound: the cache keeps to its bound, and 0 turns it off.
func TestSearchCacheBound(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{0, 96 << 10} {
		cfg := DefaultConfig()
		cfg.Auth.Required = false
		cfg.Tenants[0].Patients = 40
		cfg.Limits.SearchCacheBytes = limit
		s, _ := newTestServer(t, cfg)
		h := s.Handler()
		st, err := s.tenants.Store(ContosoTenant, cfg.FHIRVersion)
		if err != nil {
			t.Fatal(err)
		}
		peak := 0
		for p := 1; p <= 40; p++ {
			for r := 0; r < 2; r++ {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/stu3/Observation?patient=pat-"+strconv.Itoa(p)+"&category=vital-signs", nil))
				if rec.Code != 200 {
					t.Fatalf("%d %.200s", rec.Code, rec.Body.String())
				}
			}
			peak = max(peak, st.RenderedBytes())
		}
		if limit == 0 && peak != 0 || limit > 0 && (peak == 0 || peak > limit) {
			t.Fatalf("limit %d: the cache held up to %d bytes", limit, peak)
		}
	}
}
