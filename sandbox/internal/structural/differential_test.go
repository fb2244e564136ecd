package structural_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// The differential tests hold the structural validator the server runs
// against the independent one of the tests (package validate:
// github.com/google/fhir's validating unmarshaller, generated from the same
// official definitions) for STU3 and R4.

// pair is one release's two validators.
type pair struct {
	release     string
	structural  func([]byte) error
	independent func([]byte) error
}

var pairs = []pair{
	{"stu3", structural.STU3, validate.STU3},
	{"r4", structural.R4, validate.R4},
}

// TestDifferentialGeneratedPopulation: every resource the sandbox generates
// for 60 patients, and the transaction Bundle holding them, is accepted by
// both validators.
func TestDifferentialGeneratedPopulation(t *testing.T) {
	t.Parallel()
	h, err := seed.Generate(seed.Options{
		Seed: 7, Tenant: "0f8fad5b-d9cb-469f-a165-70867728950e", Patients: 60,
		ReferenceDate: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range fhir.Versions() {
		p, ok := pairFor(v.Release().Name)
		if !ok {
			continue
		}
		t.Run(p.release, func(t *testing.T) {
			t.Parallel()
			var nd, tx bytes.Buffer
			if err := fhir.WriteNDJSON(&nd, v, h, 60, nil); err != nil {
				t.Fatal(err)
			}
			if err := fhir.WriteTransactionBundle(&tx, v, h, 60, nil); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(&nd)
			sc.Buffer(nil, 16<<20)
			n := 0
			for sc.Scan() {
				n++
				line := sc.Bytes()
				if err := p.structural(line); err != nil {
					t.Errorf("structural rejects %s: %v", name(line), err)
				}
				if err := p.independent(line); err != nil {
					t.Errorf("independent rejects %s: %v", name(line), err)
				}
			}
			if n < 500 {
				t.Fatalf("only %d generated resources", n)
			}
			if err := p.structural(tx.Bytes()); err != nil {
				t.Errorf("structural rejects the transaction Bundle: %v", err)
			}
			if err := p.independent(tx.Bytes()); err != nil {
				t.Errorf("independent rejects the transaction Bundle: %v", err)
			}
		})
	}
}

func pairFor(release string) (pair, bool) {
	for _, p := range pairs {
		if p.release == release {
			return p, true
		}
	}
	return pair{}, false
}

func name(b []byte) string {
	var r struct {
		ResourceType string `json:"resourceType"`
		ID           string `json:"id"`
	}
	_ = json.Unmarshal(b, &r)
	return r.ResourceType + "/" + r.ID
}

// knownDisagreements are the real resources on which the two validators
// differ, each with the reason the definitions give; the test fails when
// one disappears or a new one appears.
var knownDisagreements = map[string]string{}

// TestDifferentialRealData: every Bundle of the real Synthea exports, and
// every resource in them, gets the same verdict from both validators; so
// do the official examples under ../validate/testdata.
func TestDifferentialRealData(t *testing.T) {
	t.Parallel()
	for _, p := range pairs {
		checked := 0
		files, err := filepath.Glob(filepath.Join("..", "..", "..", "testdata", "realdata", p.release, "*.json"))
		if err != nil || len(files) == 0 {
			t.Fatalf("no %s real data: %v", p.release, err)
		}
		// and the official STU3 examples the independent validator's own
		// tests hold
		examples, _ := filepath.Glob(filepath.Join("..", "validate", "testdata", p.release, "[A-Z]*-*.json"))
		for _, f := range append(files, examples...) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			items := map[string][]byte{p.release + " " + filepath.Base(f): b}
			var bundle struct {
				Entry []struct {
					Resource json.RawMessage `json:"resource"`
				} `json:"entry"`
			}
			if err := json.Unmarshal(b, &bundle); err != nil {
				t.Fatal(err)
			}
			for i, e := range bundle.Entry {
				items[p.release+" "+filepath.Base(f)+" entry "+itoa(i)+" "+name(e.Resource)] = e.Resource
			}
			checked += len(items)
			for label, b := range items {
				se, ie := p.structural(b), p.independent(b)
				why, known := knownDisagreements[label]
				switch {
				case (se == nil) == (ie == nil) && known:
					t.Errorf("%s: listed as a disagreement (%s), but both validators agree (structural: %v; independent: %v)", label, why, se, ie)
				case (se == nil) != (ie == nil) && !known:
					t.Errorf("%s: the validators disagree:\nstructural: %v\nindependent: %v", label, se, ie)
				}
			}
		}
		if checked < 100 {
			t.Errorf("%s: only %d real resources checked", p.release, checked)
		}
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// mutation breaks a valid resource in one known way; both validators must
// reject it, each naming the element (want: a fragment of each message).
type mutation struct {
	name        string
	release     string
	input       string
	structural  string // fragment of the structural validator's message
	independent string // fragment of google/fhir's message
}

const (
	patient     = `{"resourceType":"Patient","id":"p1","gender":"female","birthDate":"1974-12-25"%s}`
	observation = `{"resourceType":"Observation","id":"o1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/p1"},"effectiveDateTime":"2020-01-01T10:05:00Z"%s}`
)

// with puts extra members into a template's resource.
func with(template, extra string) string { return strings.Replace(template, "%s", extra, 1) }

// mutationsOf is the table of one release; R4-only and STU3-only
// elements are added by the caller.
func mutationsOf(release string) []mutation {
	return []mutation{
		{name: "unknown element", input: with(patient, `,"colour":"blue"`), structural: `Patient: unknown element "colour"`, independent: `Patient: unknown field ("colour")`},
		{name: "wrong JSON type", input: with(patient, `,"active":"yes"`), structural: "Patient.active: want boolean", independent: "Patient.active: expected boolean"},
		{name: "array for a 0..1 element", input: strings.Replace(with(patient, ""), `"female"`, `["female"]`, 1), structural: "Patient.gender: want single value", independent: "Patient.gender: invalid JSON"},
		{name: "missing required element", input: strings.Replace(with(observation, ""), `"status":"final",`, "", 1), structural: "Observation.status: missing required element", independent: `Observation: missing required field "status"`},
		{name: "wrong choice suffix", input: with(patient, `,"deceasedString":"yes"`), structural: `unknown element "deceasedString"`, independent: `Patient: unknown field ("deceasedString")`},
		{name: "two choice variants", input: with(patient, `,"deceasedBoolean":true,"deceasedDateTime":"2020-01-01"`), structural: "both deceasedBoolean and deceasedDateTime given for deceased[x]", independent: "Patient: cannot accept multiple values for deceased"},
		{name: "bad code in a required binding", input: strings.Replace(with(patient, ""), `"female"`, `"woman"`, 1), structural: `Patient.gender: code "woman" not in required value set`, independent: "Patient.gender: code type mismatch"},
		{name: "bad date", input: strings.Replace(with(patient, ""), `1974-12-25`, `1974-02-30`, 1), structural: `Patient.birthDate: invalid date "1974-02-30"`, independent: "Patient.birthDate: expected date"},
		{name: "bad dateTime", input: strings.Replace(with(observation, ""), `2020-01-01T10:05:00Z`, `2020-01-01T25:05:00Z`, 1), structural: "Observation.effectiveDateTime: invalid dateTime", independent: "Observation.effectiveDateTime: expected datetime"},
		{name: "bad instant", input: with(observation, `,"issued":"2020-01-01"`), structural: "Observation.issued: invalid instant", independent: "Observation.issued: expected instant"},
		{name: "integer out of range", input: with(patient, `,"multipleBirthInteger":3000000000`), structural: "Patient.multipleBirthInteger: integer 3000000000 out of 32-bit range", independent: "Patient.multipleBirthInteger: expected integer"},
		{name: "reference to a disallowed type", input: strings.Replace(with(observation, ""), `Patient/p1`, `Medication/m1`, 1), structural: "Observation.subject.reference: reference to Medication", independent: "Observation.subject: invalid reference to a Medication"},
		{name: "unknown resourceType", input: `{"resourceType":"MedicationOrder","id":"m1"}`, structural: `unknown resourceType "MedicationOrder"`, independent: `MedicationOrder: unknown resource type`},
		{name: "unknown element in a Bundle entry", input: `{"resourceType":"Bundle","type":"collection","entry":[{"resource":` + with(patient, `,"colour":"blue"`) + `}]}`, structural: `Bundle.entry[0].resource: unknown element "colour"`, independent: `Bundle.entry[0].resource.Patient: unknown field ("colour")`},
	}
}

var mutations = func() []mutation {
	var all []mutation
	for _, rel := range []string{"stu3", "r4"} {
		for _, m := range mutationsOf(rel) {
			m.release = rel
			all = append(all, m)
		}
	}
	return append(all,
		mutation{name: "R4-only element", release: "stu3", input: `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"},"recordedDate":"2020-01-01"}`, structural: `Condition: unknown element "recordedDate"`, independent: `Condition: unknown field ("recordedDate")`},
		mutation{name: "STU3 shape of an element R4 retyped", release: "r4", input: `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"},"clinicalStatus":"active"}`, structural: "Condition.clinicalStatus: want object (CodeableConcept), got string", independent: "Condition.clinicalStatus: invalid JSON"},
		mutation{name: "STU3-only element", release: "r4", input: `{"resourceType":"Condition","id":"c1","subject":{"reference":"Patient/p1"},"code":{"text":"x"},"assertedDate":"2020-01-01"}`, structural: `Condition: unknown element "assertedDate"`, independent: `Condition: unknown field ("assertedDate")`},
		mutation{name: "element R4 made required", release: "r4", input: `{"resourceType":"Coverage","id":"cv1","status":"active","payor":[{"reference":"Organization/o1"}]}`, structural: "Coverage.beneficiary: missing required element", independent: `Coverage: missing required field "beneficiary"`},
		mutation{name: "R4-only resource type", release: "stu3", input: `{"resourceType":"ServiceRequest","id":"s1"}`, structural: `unknown resourceType "ServiceRequest"`, independent: "ServiceRequest: unknown resource type"},
	)
}()

func TestDifferentialMutations(t *testing.T) {
	t.Parallel()
	for _, m := range mutations {
		p, _ := pairFor(m.release)
		se, ie := p.structural([]byte(m.input)), p.independent([]byte(m.input))
		if se == nil || !strings.Contains(se.Error(), m.structural) {
			t.Errorf("%s %s: structural: %v, want an error mentioning %q", m.release, m.name, se, m.structural)
		}
		if ie == nil || !strings.Contains(ie.Error(), m.independent) {
			t.Errorf("%s %s: independent: %v, want an error mentioning %q", m.release, m.name, ie, m.independent)
		}
	}
}

// divergence is an input on which the structural validator follows the
// official definitions where google/fhir does not: the two verdicts
// differ, on purpose. The test fails if either validator changes its
// verdict, so each entry stays true.
type divergence struct {
	release string
	input   string
	// structural is a fragment of the structural validator's error, or ""
	// where it accepts the input (and google/fhir rejects it)
	structural string
	why        string
}

var divergences = []divergence{
	{"stu3", with(patient, `,"language":" en"`), `Patient.language: invalid code " en"`,
		"the regex of the STU3 code definition, [^\\s]+([\\s]?[^\\s]+)*, excludes leading, trailing and double whitespace; google/fhir does not apply it"},
	{"stu3", with(patient, `,"language":"en  US"`), `Patient.language: invalid code "en  US"`,
		"as above: a code has at most one whitespace character between its parts"},
	{"stu3", with(patient, `,"extension":[{"url":"http://x y","valueString":"x"}]`), "",
		"the STU3 uri definition carries no regex; google/fhir rejects whitespace in Extension.url (though not in valueUri)"},
	{"stu3", with(patient, `,"extension":[{"url":"x","valueDate":"-2020"}]`), "",
		"the STU3 date regex, -?[0-9]{4}(...), allows a negative year; google/fhir rejects it"},
	{"r4", with(observation, `,"issued":"2020-01-01T10:00:60Z"`), "",
		"the R4 instant, dateTime and time regexes allow a leap second (:60); google/fhir rejects it"},
	{"r4", with(patient, `,"extension":[{"url":"x","valueBase64Binary":"YW Jj"}]`), `invalid base64Binary "YW Jj"`,
		"the R4 base64Binary regex, (\\s*([0-9a-zA-Z\\+/=]){4}\\s*)+, allows whitespace only between groups of four; google/fhir strips it anywhere"},
	{"r4", with(patient, `,"extension":[{"url":"x","valueUri":"a b"}]`), `Patient.extension[0].valueUri: invalid uri "a b"`,
		"the R4 uri regex, \\S*, excludes whitespace; google/fhir accepts it outside Extension.url"},
}

func TestDifferentialDivergences(t *testing.T) {
	t.Parallel()
	for _, d := range divergences {
		p, _ := pairFor(d.release)
		se, ie := p.structural([]byte(d.input)), p.independent([]byte(d.input))
		switch {
		case d.structural == "" && (se != nil || ie == nil):
			t.Errorf("%s %s (%s): structural %v, independent %v; want structural to accept and independent to reject", d.release, d.input, d.why, se, ie)
		case d.structural != "" && (se == nil || !strings.Contains(se.Error(), d.structural) || ie != nil):
			t.Errorf("%s %s (%s): structural %v, independent %v; want structural to reject with %q and independent to accept", d.release, d.input, d.why, se, ie, d.structural)
		}
	}
}
