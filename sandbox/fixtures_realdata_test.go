package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
)

// realDataDir holds unmodified Synthea exports of each release (see its
// README for their source and licence).
var realDataDir = filepath.Join("..", "testdata", "realdata")

// supportedOnly rewrites a real Synthea Bundle down to the entries whose
// resource type the release's store knows, then drops, until none is left,
// every entry that refers to a dropped entry's fullUrl: the loader would
// rightly refuse those dangling references. It asks the store's
// definitions rather than listing types, so it keeps working as types are
// added.
func supportedOnly(t testing.TB, release string, data []byte) []byte {
	t.Helper()
	v, ok := fhir.Lookup(release)
	if !ok {
		t.Fatalf("release %s", release)
	}
	defs := v.SearchParams()
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var b map[string]json.RawMessage
	if err := json.Unmarshal(data, &b); err != nil {
		t.Fatal(err)
	}
	var entries []struct {
		FullURL  string          `json:"fullUrl,omitempty"`
		Resource json.RawMessage `json:"resource"`
		Request  json.RawMessage `json:"request,omitempty"`
	}
	if err := json.Unmarshal(b["entry"], &entries); err != nil {
		t.Fatal(err)
	}
	var dropped []string
	keep := entries[:0]
	for _, e := range entries {
		var h struct{ ResourceType string }
		_ = json.Unmarshal(e.Resource, &h)
		if _, ok := defs[h.ResourceType]; ok {
			keep = append(keep, e)
		} else if e.FullURL != "" {
			dropped = append(dropped, e.FullURL)
		}
	}
	entries = keep
	for len(dropped) > 0 {
		var next []string
		keep := entries[:0]
		for _, e := range entries {
			gone := false
			for _, d := range dropped {
				if bytes.Contains(e.Resource, []byte(`"`+d+`"`)) {
					gone = true
					break
				}
			}
			if !gone {
				keep = append(keep, e)
			} else if e.FullURL != "" {
				next = append(next, e.FullURL)
			}
		}
		entries, dropped = keep, next
	}
	out, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	b["entry"] = out
	if data, err = json.Marshal(b); err != nil {
		t.Fatal(err)
	}
	return data
}

// copyRealData writes the filtered files of one release into dir.
func copyRealData(t testing.TB, release, dir string) []string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(realDataDir, release, "*.json"))
	if len(files) == 0 {
		t.Fatalf("no real data in %s", filepath.Join(realDataDir, release))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(f))
		if err := os.WriteFile(p, supportedOnly(t, release, data), 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestRealDataEachReleaseItsOwnStore serves Synthea's DSTU2 and STU3
// exports from one process: the DSTU2 directory is named as such in the
// config, the STU3 files are found by a glob and their release detected;
// each release's store holds its own patients only.
func TestRealDataEachReleaseItsOwnStore(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	copyRealData(t, "dstu2", filepath.Join(dir, "dstu2"))
	copyRealData(t, "stu3", filepath.Join(dir, "stu3"))
	// the names are the same in both exports; the ids are not
	cfgFile := filepath.Join(dir, "sandbox.yaml")
	os.WriteFile(cfgFile, []byte(`auth: {required: false}
fhir_version: r4
tenants:
  - id: `+FabrikamTenant+`
    name: Synthea clinic
    fixtures_validation: warn
    fixtures:
      - {path: dstu2, fhir_version: dstu2}
      - stu3/*.json
clients:
  - {id: 00000000-0000-0000-0000-0000000000c1, name: app, tenants: ["*"], secrets: [{value: a-long-enough-s3cret}]}
`), 0o600)
	cfg, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	start := time.Now()
	s, err := New(cfg, Options{ValidateFixture: structural.Release, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("dstu2 and stu3 real data loaded in %v; %d validation warnings", time.Since(start), strings.Count(logs.String(), "loaded anyway"))
	if !strings.Contains(logs.String(), "release=stu3") || !strings.Contains(logs.String(), "release=dstu2") {
		t.Errorf("logs:\n%s", logs.String())
	}
	srv := newHTTPTest(t, s)
	count := func(release string) string {
		st, b := srv.get("/" + release + "/Patient?_summary=count")
		if st != 200 {
			t.Fatalf("%s: %d %s", release, st, b)
		}
		var c struct{ Total int }
		_ = json.Unmarshal([]byte(b), &c)
		return release + "=" + strconv.Itoa(c.Total)
	}
	want := "dstu2=" + strconv.Itoa(patientsIn(t, "dstu2")) + " stu3=" + strconv.Itoa(patientsIn(t, "stu3")) + " r4=0"
	if got := count("dstu2") + " " + count("stu3") + " " + count("r4"); got != want {
		t.Errorf("patients per release: %s, want %s", got, want)
	}
	// a urn:uuid reference of the export now names the stored patient
	st, b := srv.get("/stu3/Condition?_count=1")
	if st != 200 || !strings.Contains(b, `"reference":"Patient/`) || strings.Contains(b, "urn:uuid") {
		t.Errorf("stu3 Condition: %d %.400s", st, b)
	}
}

type httpTest struct {
	t   testing.TB
	url string
}

func newHTTPTest(t testing.TB, s *Server) httpTest {
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return httpTest{t: t, url: srv.URL}
}

func (h httpTest) get(path string) (int, string) {
	res, err := http.Get(h.url + path)
	if err != nil {
		h.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// patientsIn counts the Patient resources in a release's real files.
func patientsIn(t testing.TB, release string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(realDataDir, release, "*.json"))
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n += bytes.Count(data, []byte(`"resourceType": "Patient"`)) + bytes.Count(data, []byte(`"resourceType":"Patient"`))
	}
	if n == 0 {
		t.Fatalf("no patients in the %s real data", release)
	}
	return n
}

// TestRealDataR4DirectoryDetected: Synthea's R4 export as it comes (a
// directory of patient files with the hospital's organizations and
// practitioners beside them), named without a release in a config whose
// fhir_version is another: every file goes to R4, the patient files by
// their content (Immunization.occurrenceDateTime among the markers), the
// organization and practitioner files, whose content cannot tell, by the
// release of the other files of their directory.
func TestRealDataR4DirectoryDetected(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := copyRealData(t, "r4", filepath.Join(dir, "r4"))
	cfgFile := filepath.Join(dir, "sandbox.yaml")
	os.WriteFile(cfgFile, []byte(`auth: {required: false}
fhir_version: stu3
tenants:
  - id: `+FabrikamTenant+`
    name: Synthea clinic
    fixtures_validation: warn
    fixtures: [r4]
clients:
  - {id: 00000000-0000-0000-0000-0000000000c1, name: app, tenants: ["*"], secrets: [{value: a-long-enough-s3cret}]}
`), 0o600)
	cfg, err := LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err := New(cfg, Options{ValidateFixture: structural.Release, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		line := ""
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, "msg=\"fixture loaded\"") && strings.Contains(l, "file="+f+" ") {
				line = l
			}
		}
		if !strings.Contains(line, "release=r4") {
			t.Errorf("%s: loaded as %q\nlogs:\n%s", filepath.Base(f), line, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "using the release of the other files of its fixture") {
		t.Errorf("no file took its directory's release:\n%s", logs.String())
	}
	srv := newHTTPTest(t, s)
	st, b := srv.get("/r4/Patient?_summary=count")
	if st != 200 || !strings.Contains(b, `"total":`+strconv.Itoa(patientsIn(t, "r4"))) {
		t.Errorf("r4 patients: %d %s", st, b)
	}
	st, b = srv.get("/r4/Organization?_summary=count")
	var c struct{ Total int }
	_ = json.Unmarshal([]byte(b), &c)
	if st != 200 || c.Total < 100 {
		t.Errorf("r4 organizations (the hospital file's): %d %s", st, b)
	}
	if st, b := srv.get("/stu3/Organization?_summary=count"); st != 200 || !strings.Contains(b, `"total":0`) {
		t.Errorf("stu3 organizations: %d %s", st, b)
	}
}
