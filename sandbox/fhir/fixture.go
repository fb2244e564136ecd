package fhir

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// MaxFixtureBytes caps a fixture file.
const MaxFixtureBytes = 256 << 20

// FixtureProblem is one thing wrong with one entry of a fixture file.
type FixtureProblem struct {
	Entry int    // 1-based entry (resource) of the file; 0 for the file as a whole
	Path  string // JSON path within the entry ("request.url", "resource.subject.reference"); "" for the entry
	Msg   string
	// Invalid marks a resource the release's validator refuses (the only
	// kind of problem fixtures_validation: warn lets through).
	Invalid bool
}

// String reads "entry N: path: message", the file name left to the caller.
func (p FixtureProblem) String() string {
	var b strings.Builder
	if p.Entry > 0 {
		b.WriteString("entry ")
		b.WriteString(strconv.Itoa(p.Entry))
		b.WriteString(": ")
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// FixtureEntry is one write of a fixture file: a resource to store under
// ID, or, when Delete is set, the removal of Type/ID.
type FixtureEntry struct {
	Index    int // 1-based position among the file's entries
	FullURL  string
	Type     string
	OldID    string // the resource's own id, or the id ending its fullUrl
	ID       string // the id it is stored under
	Delete   bool
	Resource []byte
}

// ParseFixture reads a fixture file: FHIR Bundles of any type (each entry
// is stored under its own id; a transaction's DELETE entries delete) or
// resources, one JSON value after another, which covers NDJSON. A UTF-8
// byte order mark is skipped. Entries are numbered from 1 across the whole
// file, Bundle or not. An entry without an id gets one derived from the
// file name and its number, so a restart gives it the same id. Every
// problem of the file is returned; entries with a problem are left out.
func ParseFixture(name string, data []byte) ([]FixtureEntry, []FixtureProblem) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if t := bytes.TrimLeft(data, " \t\r\n"); len(t) > 0 && t[0] == '<' {
		return nil, []FixtureProblem{{Msg: "FHIR XML is not supported; convert it to JSON"}}
	}
	if len(data) > MaxFixtureBytes {
		return nil, []FixtureProblem{{Msg: fmt.Sprintf("the file is larger than %d MiB", MaxFixtureBytes>>20)}}
	}
	p := fixtureParser{stem: idStem(name)}
	dec := json.NewDecoder(bytes.NewReader(data))
	for value := 1; ; value++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			// after a syntax error the decoder cannot find the next value
			p.problem(p.n+1, "", "JSON value %d does not parse: %v", value, err)
			break
		}
		if err := store.CheckJSON(raw); err != nil {
			p.n++
			p.problem(p.n, "", "%v", err)
			continue
		}
		if isBundle(raw) {
			p.bundle(raw)
			continue
		}
		p.n++
		p.entry(p.n, "", raw, nil, "resource")
	}
	if p.n == 0 && len(p.problems) == 0 {
		p.problem(0, "", "the file holds no resource")
	}
	return p.entries, p.problems
}

// isBundle tells a Bundle from a resource. Synthea's DSTU2 and STU3
// exports write Bundles without resourceType; an object with no
// resourceType but an entry list is taken for one.
func isBundle(raw []byte) bool {
	var h struct {
		ResourceType *string         `json:"resourceType"`
		Entry        json.RawMessage `json:"entry"`
	}
	_ = json.Unmarshal(raw, &h)
	if h.ResourceType != nil {
		return *h.ResourceType == "Bundle"
	}
	return len(h.Entry) > 0 && h.Entry[0] == '['
}

type fixtureParser struct {
	stem     string
	n        int
	entries  []FixtureEntry
	problems []FixtureProblem
}

func (p *fixtureParser) problem(entry int, path, format string, args ...any) {
	p.problems = append(p.problems, FixtureProblem{Entry: entry, Path: path, Msg: fmt.Sprintf(format, args...)})
}

type fixtureRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

func (p *fixtureParser) bundle(raw []byte) {
	var b struct {
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  *fixtureRequest `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(raw, &b); err != nil {
		p.n++
		p.problem(p.n, "", "not the shape of a FHIR Bundle: %v", err)
		return
	}
	for _, e := range b.Entry {
		p.n++
		p.entry(p.n, e.FullURL, e.Resource, e.Request, "resource")
	}
}

// entry checks one entry and settles its id.
func (p *fixtureParser) entry(n int, fullURL string, res []byte, req *fixtureRequest, resPath string) {
	before := len(p.problems)
	en := FixtureEntry{Index: n, FullURL: fullURL}
	if bytes.Equal(res, []byte("null")) {
		res = nil
	}
	var urlType, urlID string
	if req != nil {
		path, query, _ := strings.Cut(strings.TrimPrefix(req.URL, "/"), "?")
		if i := strings.Index(path, "://"); i >= 0 {
			// an absolute URL: its Type[/id] tail is what counts
			path = path[i+3:]
			if typ, id, ok := tailTypeID(req.URL); ok {
				path = typ + "/" + id
			} else if j := strings.LastIndexByte(path, '/'); j >= 0 {
				path = path[j+1:]
			}
		}
		segs := strings.Split(strings.TrimSuffix(path, "/"), "/")
		switch {
		case query != "":
			p.problem(n, "request.url", "%s %s: conditional requests are not supported in fixtures", req.Method, req.URL)
		case req.Method == http.MethodPost && len(segs) == 1 && isTypeName(segs[0]):
			urlType = segs[0]
		case (req.Method == http.MethodPut || req.Method == http.MethodDelete) && len(segs) == 2 && isTypeName(segs[0]):
			urlType, urlID = segs[0], segs[1]
			en.Delete = req.Method == http.MethodDelete
			if !store.ValidID(urlID) {
				p.problem(n, "request.url", "%q is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)", urlID)
			}
		default:
			p.problem(n, "request", "%s %s is not supported in a fixture (POST Type, PUT Type/id, DELETE Type/id)", req.Method, req.URL)
		}
	}
	if en.Delete {
		en.Type, en.ID = urlType, urlID
		if len(p.problems) == before {
			p.entries = append(p.entries, en)
		}
		return
	}
	if len(res) == 0 {
		p.problem(n, resPath, "the entry has no resource")
		return
	}
	h := headOf(res)
	if h.ResourceType == "" {
		if res[0] != '{' {
			p.problem(n, resPath, "a resource must be a JSON object")
		} else {
			p.problem(n, join(resPath, "resourceType"), "missing")
		}
		return
	}
	en.Type, en.Resource = h.ResourceType, res
	if urlType != "" && urlType != en.Type {
		p.problem(n, "request.url", "%s names a %s but the resource is a %s", req.URL, urlType, en.Type)
	}
	if h.ID != nil {
		en.OldID = *h.ID
		if !store.ValidID(en.OldID) {
			p.problem(n, join(resPath, "id"), "%q is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)", en.OldID)
		}
	} else if typ, id, ok := tailTypeID(fullURL); ok && typ == en.Type {
		en.OldID = id
	}
	switch {
	case urlID != "" && h.ID != nil && *h.ID != urlID:
		p.problem(n, "request.url", "%s does not match the resource id %q", req.URL, *h.ID)
	case urlID != "":
		en.ID = urlID
	case h.ID != nil:
		en.ID = *h.ID
	default:
		en.ID = derivedID(p.stem, n)
	}
	if len(p.problems) == before {
		p.entries = append(p.entries, en)
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// idStem makes a file's base name, extension dropped, into the start of a
// FHIR id: characters outside A-Z a-z 0-9 - . become "-".
func idStem(name string) string {
	base := filepath.Base(name)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	b := []byte(base)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) == 0 || base == "." {
		return "fixture"
	}
	return string(b)
}

// derivedID is the id of entry n of a file without one: stem-n, the stem
// cut so the id stays within FHIR's 64 characters.
func derivedID(stem string, n int) string {
	suffix := "-" + strconv.Itoa(n)
	if len(stem)+len(suffix) > 64 {
		stem = stem[:64-len(suffix)]
	}
	return stem + suffix
}

// FixtureOptions says how a fixture is checked and stored.
type FixtureOptions struct {
	// Validate, when set, checks every resource (after its references are
	// resolved); a failure is a problem of the entry.
	Validate func(resource []byte) error
	// Warn, when set, receives validation failures instead, with the
	// file's name, and the resource is loaded all the same.
	Warn func(name string, p FixtureProblem)
	// Updated is the lastUpdated of a resource whose meta has none; zero
	// means the store's clock.
	Updated time.Time
}

// FixtureLoader loads the fixture files of one store. References are
// resolved across its files, in the order they are loaded, as the
// transaction endpoint resolves them within one Bundle: a patient file
// may name the urn:uuid of an organization in a file loaded before it.
type FixtureLoader struct {
	s       *store.Store
	o       FixtureOptions
	targets refTargets
}

// NewFixtureLoader returns a loader into s.
func NewFixtureLoader(s *store.Store, o FixtureOptions) *FixtureLoader {
	return &FixtureLoader{s: s, o: o, targets: refTargets{}}
}

// Load parses, resolves, validates and stores one fixture file. Either
// every entry is stored, or, when there is a problem, none is and every
// problem of the file is returned.
func (l *FixtureLoader) Load(name string, data []byte) (stored int, problems []FixtureProblem) {
	entries, problems := ParseFixture(name, data)
	return l.LoadEntries(name, entries, problems)
}

// LoadEntries stores entries ParseFixture returned, with the problems it
// found: nothing is stored when there is one.
func (l *FixtureLoader) LoadEntries(name string, entries []FixtureEntry, problems []FixtureProblem) (int, []FixtureProblem) {
	refs := make([]refEntry, len(entries))
	for i, en := range entries {
		refs[i] = refEntry{FullURL: en.FullURL, Type: en.Type, OldID: en.OldID, NewID: en.ID, JSON: en.Resource}
		if en.Delete {
			refs[i].NewID = ""
		}
	}
	// a failed file must not leave names behind for the next one
	targets := make(refTargets, len(l.targets))
	for k, v := range l.targets {
		targets[k] = v
	}
	for _, rp := range resolveReferences(refs, targets, l.s, l.s.Definitions()) {
		problems = append(problems, FixtureProblem{Entry: entries[rp.Entry].Index, Path: join("resource", rp.Path), Msg: rp.Msg})
	}
	ops := make([]store.Op, len(entries))
	for i, en := range entries {
		ops[i] = store.Op{Type: en.Type, ID: en.ID, KeepMeta: true}
		if en.Delete {
			continue
		}
		ops[i].JSON = refs[i].JSON
		if _, err := l.s.Prepare(ops[i].JSON); err != nil {
			problems = append(problems, FixtureProblem{Entry: en.Index, Path: "resource", Msg: storeMessage(err)})
			continue
		}
		if l.o.Validate != nil {
			if err := l.o.Validate(ops[i].JSON); err != nil {
				vp := FixtureProblem{Entry: en.Index, Path: "resource", Msg: err.Error(), Invalid: true}
				if l.o.Warn != nil {
					l.o.Warn(name, vp)
				} else {
					problems = append(problems, vp)
				}
			}
		}
	}
	if len(problems) > 0 {
		sortProblems(problems)
		return 0, problems
	}
	if _, err := l.s.ApplyAt(ops, l.o.Updated); err != nil {
		return 0, []FixtureProblem{{Msg: storeMessage(err)}}
	}
	l.targets = targets
	n := 0
	for _, en := range entries {
		if !en.Delete {
			n++
		}
	}
	return n, nil
}

func storeMessage(err error) string {
	var se *store.InputError
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}

// sortProblems orders problems by entry, keeping their order within one.
func sortProblems(ps []FixtureProblem) {
	slices.SortStableFunc(ps, func(a, b FixtureProblem) int { return cmp.Compare(a.Entry, b.Entry) })
}

// DetectRelease tells the FHIR release of a fixture's entries from their
// content. Each resource that has a marker narrows the candidate releases
// (dstu2, stu3, r4) to those the marker exists in:
//
//   - resourceType MedicationOrder, DiagnosticOrder or Order: dstu2;
//     MedicationRequest: stu3 or r4; ServiceRequest: r4
//   - a name[].family that is an array: dstu2; a string: stu3 or r4
//   - Encounter.class a string: dstu2; an object: stu3 or r4
//   - clinicalStatus or verificationStatus of Condition or
//     AllergyIntolerance a string: dstu2 or stu3; an object: r4
//   - Immunization.wasNotGiven or Immunization.reported: dstu2;
//     Immunization.notGiven: stu3; Immunization.date: dstu2 or stu3;
//     Immunization.occurrenceDateTime or occurrenceString: r4
//   - Encounter.reason: dstu2 or stu3; Encounter.reasonCode or
//     reasonReference: r4
//
// The release is the one candidate left after every marker; when none or
// several are left (no marker, or markers that contradict each other) the
// result is "" and reason says why, so the caller falls back to its
// default. The rule reads only the resources, so it is the same on every
// run.
func DetectRelease(entries []FixtureEntry) (release, reason string) {
	const dstu2, stu3, r4 = 1, 2, 4
	set := dstu2 | stu3 | r4
	marked := 0
	narrow := func(to int) {
		set &= to
		marked++
	}
	for _, en := range entries {
		if en.Delete || len(en.Resource) == 0 {
			continue
		}
		switch en.Type {
		case "MedicationOrder", "DiagnosticOrder", "Order":
			narrow(dstu2)
		case "MedicationRequest":
			narrow(stu3 | r4)
		case "ServiceRequest":
			narrow(r4)
		}
		var r struct {
			Name []struct {
				Family json.RawMessage `json:"family"`
			} `json:"name"`
			Class              json.RawMessage `json:"class"`
			ClinicalStatus     json.RawMessage `json:"clinicalStatus"`
			VerificationStatus json.RawMessage `json:"verificationStatus"`
		}
		switch en.Type {
		case "Immunization", "Encounter":
			// which elements the resource has; encoding/json matches
			// keys case-insensitively, which a marker must not
			var members map[string]json.RawMessage
			_ = json.Unmarshal(en.Resource, &members)
			has := func(k string) bool { _, ok := members[k]; return ok }
			if en.Type == "Immunization" {
				switch {
				case has("wasNotGiven") || has("reported"):
					narrow(dstu2)
				case has("notGiven"):
					narrow(stu3)
				case has("occurrenceDateTime") || has("occurrenceString"):
					narrow(r4)
				case has("date"):
					narrow(dstu2 | stu3)
				}
			} else {
				switch {
				case has("reasonCode") || has("reasonReference"):
					narrow(r4)
				case has("reason"):
					narrow(dstu2 | stu3)
				}
			}
		}
		if json.Unmarshal(en.Resource, &r) != nil {
			// a resource whose name is not a list (Organization.name) has
			// no HumanName marker; read the rest alone
			r.Name = nil
			var rest struct {
				Class              json.RawMessage `json:"class"`
				ClinicalStatus     json.RawMessage `json:"clinicalStatus"`
				VerificationStatus json.RawMessage `json:"verificationStatus"`
			}
			_ = json.Unmarshal(en.Resource, &rest)
			r.Class, r.ClinicalStatus, r.VerificationStatus = rest.Class, rest.ClinicalStatus, rest.VerificationStatus
		}
		for _, n := range r.Name {
			switch firstByte(n.Family) {
			case '[':
				narrow(dstu2)
			case '"':
				narrow(stu3 | r4)
			}
		}
		if en.Type == "Encounter" {
			switch firstByte(r.Class) {
			case '"':
				narrow(dstu2)
			case '{':
				narrow(stu3 | r4)
			}
		}
		if en.Type == "Condition" || en.Type == "AllergyIntolerance" {
			for _, st := range []json.RawMessage{r.ClinicalStatus, r.VerificationStatus} {
				switch firstByte(st) {
				case '"':
					narrow(dstu2 | stu3)
				case '{':
					narrow(r4)
				}
			}
		}
		if set == 0 {
			break
		}
	}
	switch {
	case marked == 0:
		return "", "no resource has a release marker"
	case set == dstu2:
		return "dstu2", ""
	case set == stu3:
		return "stu3", ""
	case set == r4:
		return "r4", ""
	case set == 0:
		return "", "the resources have markers of different releases"
	default:
		return "", "the markers fit more than one release"
	}
}

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}
