package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// TestErrorsInTheReleaseTheyAreServedOn: an injected fault's
// OperationOutcome and a recovered panic on a FHIR path come out like
// every other FHIR error of that release: its media type, an
// OperationOutcome body.
func TestErrorsInTheReleaseTheyAreServedOn(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Auth.Required = false
	s, _ := newTestServer(t, cfg)
	sc, err := scenario.Load("outcome.yaml", []byte(`name: outcome-everywhere
description: every FHIR read answers 429 with an OperationOutcome
rules:
  - name: throttle
    match: {path: "/*/Patient/*"}
    respond:
      status: 429
      operation_outcome: {code: throttled, diagnostics: slow down}
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ActivateScenario(sc); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	for _, rel := range spec.Releases() {
		res, err := http.Get(ts.URL + rel.Base() + "/Patient/pat-1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 429 {
			t.Fatalf("%s: status %d, the scenario did not apply: %s", rel.Name, res.StatusCode, body)
		}
		checkOutcome(t, rel, res.Header.Get("Content-Type"), body, "throttled")
	}

	// a panic under a FHIR base, through the real middleware chain
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(http.ResponseWriter, *http.Request) { panic("internal detail") })
	h := s.observe(mux)
	for _, rel := range spec.Releases() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", rel.Base()+"/Patient/x", nil))
		if w.Code != 500 || strings.Contains(w.Body.String(), "internal detail") {
			t.Errorf("%s panic: %d %s", rel.Name, w.Code, w.Body)
		}
		checkOutcome(t, rel, w.Header().Get("Content-Type"), w.Body.Bytes(), "exception")
		if id := w.Header().Get("X-Request-Id"); id == "" || !strings.Contains(w.Body.String(), id) {
			t.Errorf("%s panic answer does not name the request id %q: %s", rel.Name, id, w.Body)
		}
	}
	// elsewhere a panic stays a JSON error
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/token", nil))
	if w.Code != 500 || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("panic off the FHIR bases: %d %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func checkOutcome(t *testing.T, rel spec.Release, contentType string, body []byte, code string) {
	t.Helper()
	if want := rel.MediaType + "; charset=utf-8"; contentType != want {
		t.Errorf("%s: Content-Type %q, want %q", rel.Name, contentType, want)
	}
	var oo struct {
		ResourceType string
		Issue        []struct{ Severity, Code string }
	}
	if err := json.Unmarshal(body, &oo); err != nil || oo.ResourceType != "OperationOutcome" || len(oo.Issue) != 1 || oo.Issue[0].Code != code {
		t.Errorf("%s: not an OperationOutcome with code %s: %s", rel.Name, code, body)
	}
}

// TestMethodOverrideIgnored (reliability checklist 26): a request's method
// is its method; X-HTTP-Method-Override changes nothing, on any release.
func TestMethodOverrideIgnored(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Auth.Required = false
	s, _ := newTestServer(t, cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	for _, rel := range spec.Releases() {
		for _, override := range []string{"DELETE", "PUT", "POST"} {
			req, _ := http.NewRequest("GET", ts.URL+rel.Base()+"/Patient/pat-1", nil)
			req.Header.Set("X-HTTP-Method-Override", override)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("%s GET with override %s: %d", rel.Name, override, res.StatusCode)
			}
		}
		res, err := http.Get(ts.URL + rel.Base() + "/Patient/pat-1")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Etag") != `W/"1"` {
			t.Errorf("%s: the patient changed after overridden GETs: %d %s", rel.Name, res.StatusCode, res.Header.Get("Etag"))
		}
	}
}

// TestQueryParameterCap (reliability checklist 36): a query with more
// parameters than the cap is a 400 OperationOutcome of the release, on a
// search and on the _search form alike.
func TestQueryParameterCap(t *testing.T) {
	t.Parallel()
	cfg := smallConfig()
	cfg.Auth.Required = false
	s, _ := newTestServer(t, cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	many := strings.Repeat("gender=male&", spec.MaxQueryParams+1)
	for _, rel := range spec.Releases() {
		res, err := http.Get(ts.URL + rel.Base() + "/Patient?" + many)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("%s GET with %d parameters: %d", rel.Name, spec.MaxQueryParams+1, res.StatusCode)
		}
		checkOutcome(t, rel, res.Header.Get("Content-Type"), body, "too-costly")
		res, err = http.Post(ts.URL+rel.Base()+"/Patient/_search", "application/x-www-form-urlencoded", strings.NewReader(many))
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 400 {
			t.Errorf("%s POST _search with %d parameters: %d", rel.Name, spec.MaxQueryParams+1, res.StatusCode)
		}
		checkOutcome(t, rel, res.Header.Get("Content-Type"), body, "too-costly")
		// at the store's cap of search parameters (below the query's) it is a search
		if res, err := http.Get(ts.URL + rel.Base() + "/Patient?" + strings.Repeat("gender=male&", store.MaxParams)); err != nil || res.StatusCode != 200 {
			t.Errorf("%s GET at the cap: %v %v", rel.Name, err, res.StatusCode)
		} else {
			res.Body.Close()
		}
	}
}
