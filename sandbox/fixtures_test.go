package sandbox

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// TestFixturesLoadedAtStart loads generate's output (a transaction Bundle)
// and an ndjson file into a tenant through the config, then reads them
// over FHIR; a broken fixture stops the start with its position.
func TestFixturesLoadedAtStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	h, err := seed.NewHospital(seed.Options{Seed: 9, Tenant: FabrikamTenant, Patients: 3, ReferenceDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var bundle bytes.Buffer
	if err := fhir.WriteTransactionBundle(&bundle, fhir.STU3{}, h, 3, nil); err != nil {
		t.Fatal(err)
	}
	bundleFile := filepath.Join(dir, "hospital.json")
	ndjsonFile := filepath.Join(dir, "extra.ndjson")
	os.WriteFile(bundleFile, bundle.Bytes(), 0o600)
	os.WriteFile(ndjsonFile, []byte(`{"resourceType":"Patient","id":"fixture-1","gender":"female"}`+"\n"+`{"resourceType":"Patient","gender":"male"}`+"\n"), 0o600)

	cfg := DefaultConfig()
	cfg.Auth.Required = false // the open "EHR mode": the first tenant serves
	cfg.Tenants = []TenantConfig{{ID: FabrikamTenant, Name: "Fixture clinic", Fixtures: []FixtureConfig{{Path: bundleFile}, {Path: ndjsonFile, FHIRVersion: "stu3"}}}}
	cfg.Clients[0].Tenants = []string{"*"}
	s, err := New(cfg, Options{ValidateFixture: structural.Release})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	get := func(path string) (int, string) {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if st, b := get("/stu3/Patient/pat-2"); st != 200 || !strings.Contains(b, h.Patient(1).Patient.MRN) {
		t.Errorf("generated patient from the Bundle fixture: %d %.200s", st, b)
	}
	if st, b := get("/stu3/Patient/fixture-1"); st != 200 || !strings.Contains(b, `"gender":"female"`) {
		t.Errorf("ndjson fixture: %d %s", st, b)
	}
	if st, b := get("/stu3/Patient?gender=male&_summary=count"); st != 200 || !strings.Contains(b, `"total":`) {
		t.Errorf("count: %d %s", st, b)
	}

	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(`{"resourceType":"Patient","id":"ok"}`+"\n"+`{"resourceType":"Patient","id":"a","id":"b"}`+"\n"), 0o600)
	cfg.Tenants[0].Fixtures = []FixtureConfig{{Path: bad}}
	if _, err := New(cfg, Options{ValidateFixture: structural.Release}); err == nil || !strings.Contains(err.Error(), bad+": entry 2: ") || !strings.Contains(err.Error(), "duplicate") {
		t.Errorf("bad fixture: %v", err)
	}
}

// TestFixturesValidation: with fixtures_validation error (the default) a
// resource the release's validator refuses fails the start, named by
// file, entry and path; with warn it is served and the problem logged.
func TestFixturesValidation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "invalid.ndjson")
	os.WriteFile(file, []byte(`{"resourceType":"Patient","id":"ok","gender":"female"}`+"\n"+`{"resourceType":"Patient","id":"odd","gender":"sometimes"}`+"\n"), 0o600)
	for _, mode := range []string{"", "error", "warn"} {
		cfg := DefaultConfig()
		cfg.Auth.Required = false
		cfg.Tenants = []TenantConfig{{ID: FabrikamTenant, Name: "V", FixturesValidation: mode, Fixtures: []FixtureConfig{{Path: file, FHIRVersion: "stu3"}}}}
		cfg.Clients[0].Tenants = []string{"*"}
		var logs bytes.Buffer
		s, err := New(cfg, Options{ValidateFixture: structural.Release, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		if mode != "warn" {
			var fe *FixtureError
			if !errors.As(err, &fe) || len(fe.Problems) != 2 || !strings.HasPrefix(fe.Problems[0].String(), file+": entry 2: resource: ") || !strings.Contains(err.Error(), "sometimes") ||
				!strings.Contains(fe.Problems[1].String(), "1 resource is invalid") || !strings.Contains(fe.Problems[1].String(), "fixtures_validation: warn") {
				t.Errorf("mode %q: %v", mode, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("warn: %v", err)
		}
		srv := newHTTPTest(t, s)
		if st, b := srv.get("/stu3/Patient/odd"); st != 200 {
			t.Errorf("warn: invalid resource not served: %d %s", st, b)
		}
		if !strings.Contains(logs.String(), "loaded anyway") || !strings.Contains(logs.String(), "entry 2: resource: ") {
			t.Errorf("warn: not logged:\n%s", logs.String())
		}
	}
}
