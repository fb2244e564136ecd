package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/yamlfile"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// FixtureError lists every problem of every fixture file of a start, each
// read as file: entry N: JSON path: message. It is a type of its own so
// that serve tells it from a failure of the machine and exits 2, as for a
// bad config: the fix is in the files.
type FixtureError yamlfile.Error

func (e *FixtureError) Error() string { return (*yamlfile.Error)(e).Error() }

// fixtureProblems turns a file's problems into FixtureError lines.
func fixtureProblems(file string, ps []fhir.FixtureProblem) []Problem {
	out := make([]Problem, len(ps))
	for i, p := range ps {
		out[i] = Problem{File: file, Msg: p.String()}
	}
	return out
}

// fixtureFile is one file of a tenant's fixtures and the release it is
// loaded into.
type fixtureFile struct {
	path    string
	release string
	// entries are the parsed file when detection had to read it
	entries  []fhir.FixtureEntry
	problems []fhir.FixtureProblem
	parsed   bool
	// untold is why the file's content did not tell its release, when
	// it did not
	untold string
}

// fixtureConfigs returns a tenant's fixtures with their releases: those of
// the config when the tenant is configured with these paths, else the
// paths alone (a tenant the admin API added keeps no releases).
func (s *Server) fixtureConfigs(t tenant.Tenant) ([]FixtureConfig, string) {
	for _, tc := range s.cfg.Tenants {
		if tc.ID != t.ID || len(tc.Fixtures) != len(t.Fixtures) {
			continue
		}
		same := true
		for i, f := range tc.Fixtures {
			same = same && f.Path == t.Fixtures[i]
		}
		if same {
			return tc.Fixtures, tc.FixturesValidation
		}
	}
	out := make([]FixtureConfig, len(t.Fixtures))
	for i, p := range t.Fixtures {
		out[i] = FixtureConfig{Path: p}
	}
	return out, ""
}

// fixturePaths returns the paths of tenant fixtures, as the registry
// keeps them.
func fixturePaths(fs []FixtureConfig) []string {
	if len(fs) == 0 {
		return nil
	}
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Path
	}
	return out
}

// expandFixture lists the files of one fixture path: the file itself; for
// a directory, its .json and .ndjson files; for a glob, the .json and
// .ndjson files it matches; both in name order, so ids derived from entry
// positions and the store's order are the same on every start.
func expandFixture(path string) ([]string, error) {
	if strings.ContainsAny(path, "*?[") {
		matches, err := filepath.Glob(path)
		if err != nil {
			return nil, fmt.Errorf("not a valid glob: %v", err)
		}
		files := dataFiles(matches)
		if len(files) == 0 {
			return nil, errors.New("the glob matches no .json or .ndjson file")
		}
		return files, nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, errors.New(strings.TrimPrefix(err.Error(), "stat "+path+": "))
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	des, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, de := range des {
		names = append(names, filepath.Join(path, de.Name()))
	}
	files := dataFiles(names)
	if len(files) == 0 {
		return nil, errors.New("the directory holds no .json or .ndjson file")
	}
	return files, nil
}

// FixtureFiles lists the files a fixture path loads, as serve and the
// import command read it: the file itself, or a directory's or a glob's
// .json and .ndjson files in name order.
func FixtureFiles(path string) ([]string, error) { return expandFixture(path) }

// dataFiles keeps the regular .json and .ndjson files of names, sorted.
func dataFiles(names []string) []string {
	var out []string
	for _, n := range names {
		ext := strings.ToLower(filepath.Ext(n))
		if ext != ".json" && ext != ".ndjson" {
			continue
		}
		if fi, err := os.Stat(n); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// readFixture reads and parses one fixture file.
func readFixture(path string) ([]fhir.FixtureEntry, []fhir.FixtureProblem) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []fhir.FixtureProblem{{Msg: strings.TrimPrefix(err.Error(), "open "+path+": ")}}
	}
	defer f.Close()
	// one byte over the cap lets ParseFixture say the file is too large
	data, err := io.ReadAll(io.LimitReader(f, fhir.MaxFixtureBytes+1))
	if err != nil {
		return nil, []fhir.FixtureProblem{{Msg: err.Error()}}
	}
	return fhir.ParseFixture(path, data)
}

// fixturePlan expands a tenant's fixtures into files and settles each
// file's release: the fixture's fhir_version, else the one its content
// shows (fhir.DetectRelease), else the one every other file of the same
// fixture (directory or glob) shows, else the config's fhir_version.
func (s *Server) fixturePlan(t tenant.Tenant) ([]fixtureFile, []Problem) {
	fcs, _ := s.fixtureConfigs(t)
	var files []fixtureFile
	var problems []Problem
	for _, fc := range fcs {
		paths, err := expandFixture(fc.Path)
		if err != nil {
			problems = append(problems, Problem{File: fc.Path, Msg: err.Error()})
			continue
		}
		var these []fixtureFile
		for _, p := range paths {
			ff := fixtureFile{path: p, release: fc.FHIRVersion}
			if ff.release == "" {
				ff.release = s.detected.get(p)
			}
			if ff.release == "" {
				ff.entries, ff.problems = readFixture(p)
				ff.parsed = true
				var rel string
				if rel, ff.untold = fhir.DetectRelease(ff.entries); rel != "" {
					s.log.Info("fixture release detected", "file", p, "release", rel)
					ff.release = rel
					if len(ff.problems) == 0 {
						s.detected.set(p, rel)
					}
				}
			}
			these = append(these, ff)
		}
		// a file that does not tell (a Synthea export's organizations
		// or practitioners alone, still without a release here) takes
		// the release of the other files of its directory or glob when
		// they all have the same one; else fhir_version
		sibling := ""
		for _, ff := range these {
			if ff.release == "" {
				continue
			}
			if sibling != "" && sibling != ff.release {
				sibling = ""
				break
			}
			sibling = ff.release
		}
		for i := range these {
			ff := &these[i]
			if ff.release != "" {
				continue
			}
			if sibling != "" {
				ff.release = sibling
				s.log.Info("fixture release not detected; using the release of the other files of its fixture", "file", ff.path, "reason", ff.untold, "fixture", fc.Path, "release", sibling)
			} else {
				ff.release = s.cfg.FHIRVersion
				s.log.Info("fixture release not detected; using fhir_version", "file", ff.path, "reason", ff.untold, "release", ff.release)
			}
			if len(ff.problems) == 0 {
				s.detected.set(ff.path, ff.release)
			}
		}
		files = append(files, these...)
	}
	return files, problems
}

// detectedReleases remembers the release detected for each fixture file,
// so the stores of a tenant's several releases, built at start and on
// first use, read a file to detect its release once, not once per build.
type detectedReleases struct {
	mu sync.Mutex
	m  map[string]string
}

func (d *detectedReleases) get(path string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.m[path]
}

func (d *detectedReleases) set(path, release string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = map[string]string{}
	}
	d.m[path] = release
}

// fixtureReleases lists the releases a tenant's fixtures go into.
func (s *Server) fixtureReleases(t tenant.Tenant) []string {
	files, _ := s.fixturePlan(t)
	var rels []string
	for _, f := range files {
		if !slices.Contains(rels, f.release) {
			rels = append(rels, f.release)
		}
	}
	return rels
}

// storeLoaders keeps the fixture loader of each tenant store, so that an
// import resolves the fullUrls of the fixtures and imports loaded before
// it, as a fixture file does those of the files before it. The mutex also
// serialises loads into one store: a loader is not safe for concurrent
// use. A store a remapped tenant dropped keeps its small entry.
type storeLoaders struct {
	mu sync.Mutex
	m  map[*store.Store]*fhir.FixtureLoader
}

// loaderFor returns st's loader, made on first use with the tenant's
// validation mode; l.mu must be held.
func (s *Server) loaderFor(st *store.Store, t tenant.Tenant, release string) *fhir.FixtureLoader {
	if l := s.loaders.m[st]; l != nil {
		return l
	}
	_, mode := s.fixtureConfigs(t)
	var opts fhir.FixtureOptions
	if v := s.validate; v != nil {
		opts.Validate = func(b []byte) error { return v(release, b) }
	}
	if mode == "warn" {
		opts.Warn = func(file string, p fhir.FixtureProblem) {
			s.log.Warn("fixture resource invalid; loaded anyway", "tenant", t.ID, "file", file, "problem", p.String())
		}
	}
	l := fhir.NewFixtureLoader(st, opts)
	if s.loaders.m == nil {
		s.loaders.m = map[*store.Store]*fhir.FixtureLoader{}
	}
	s.loaders.m[st] = l
	return l
}

// loadFixtures loads the fixture files of one release into st. Every
// problem of every file is returned as one *FixtureError.
func (s *Server) loadFixtures(st *store.Store, t tenant.Tenant, release string) error {
	files, problems := s.fixturePlan(t)
	s.loaders.mu.Lock()
	defer s.loaders.mu.Unlock()
	l := s.loaderFor(st, t, release)
	invalid := 0 // problems that are validation failures
	for _, f := range files {
		if f.release != release {
			continue
		}
		if !f.parsed {
			f.entries, f.problems = readFixture(f.path)
		}
		n, ps := l.LoadEntries(f.path, f.entries, f.problems)
		if len(ps) > 0 {
			problems = append(problems, fixtureProblems(f.path, ps)...)
			for _, p := range ps {
				if p.Invalid {
					invalid++
				}
			}
			continue
		}
		s.log.Info("fixture loaded", "tenant", t.ID, "file", f.path, "release", release, "resources", n)
	}
	if len(problems) > 0 {
		if invalid > 0 {
			// real exports hold invalid FHIR; say how to load it anyway
			what := fmt.Sprintf("%d resources are", invalid)
			if invalid == 1 {
				what = "1 resource is"
			}
			problems = append(problems, Problem{Msg: what + " invalid for their release: fix them, or set fixtures_validation: warn on tenant " + t.ID + " to load them and log each problem"})
		}
		return &FixtureError{Problems: problems}
	}
	return nil
}

// fixtureImporter is the admin API's Importer: a file loaded into a
// running tenant like a fixture at start. Its writes go through the store
// and its write hook, so a state file journals them like API writes.
type fixtureImporter struct{ s *Server }

func (im fixtureImporter) Import(tenantID, release, name string, data []byte) (admin.ImportResult, error) {
	s := im.s
	id, err := spec.ParseGUID(tenantID)
	if err != nil {
		return admin.ImportResult{}, fmt.Errorf("no tenant %q: %w", clip(tenantID), admin.ErrNotFound)
	}
	var t tenant.Tenant
	found := false
	for _, tt := range s.tenants.List() {
		if tt.ID == id {
			t, found = tt, true
		}
	}
	switch {
	case !found:
		return admin.ImportResult{}, fmt.Errorf("no tenant %s: %w", id, admin.ErrNotFound)
	case t.Upstream != "":
		return admin.ImportResult{}, fmt.Errorf("tenant %s is proxied to %s; import into its server instead: %w", id, t.Upstream, admin.ErrConflict)
	}
	entries, problems := fhir.ParseFixture(name, data)
	if release == "" {
		if rel, _ := fhir.DetectRelease(entries); rel != "" {
			release = rel
		} else {
			release = s.cfg.FHIRVersion
		}
	} else if _, ok := spec.Lookup(release); !ok || strings.ToLower(release) != release {
		return admin.ImportResult{}, fmt.Errorf("fhir_version %q is not a supported release (want %s): %w", clip(release), spec.NameList(), admin.ErrInvalid)
	}
	st, err := s.tenants.Store(t.ID, release)
	if err != nil {
		return admin.ImportResult{}, err
	}
	s.loaders.mu.Lock()
	n, ps := s.loaderFor(st, t, release).LoadEntries(name, entries, problems)
	s.loaders.mu.Unlock()
	res := admin.ImportResult{Release: release, Stored: n}
	if len(ps) > 0 {
		for _, p := range ps {
			res.Problems = append(res.Problems, p.String())
		}
		return res, fmt.Errorf("%s: %d problems, nothing stored: %w", name, len(ps), admin.ErrInvalid)
	}
	s.log.Info("fixture imported", "tenant", t.ID, "file", name, "release", release, "resources", n)
	return res, nil
}
