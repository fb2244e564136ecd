package fhir

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/validate"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// ---- fixtures -------------------------------------------------------------

var refDate = time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)

func fixtureHospital() *seed.Hospital {
	return &seed.Hospital{
		Tenant: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Organization: seed.Organization{
			ID: "org-hospital", Name: "St. Mary's Hospital & Clinics", Type: "prov", Phone: "555-0100",
			Address: seed.Address{Line: []string{"1 Main St"}, City: "Springfield", State: "IL", PostalCode: "62701", Country: "US"},
		},
		Payors: []seed.Organization{
			{ID: "org-payor-1", Name: "Aetna", Type: "pay", Phone: "555-0200"},
		},
		Practitioners: []seed.Practitioner{{
			ID: "pract-1", NPI: "1234567893",
			Name:   seed.HumanName{Prefix: []string{"Dr."}, Given: []string{"Zoë"}, Family: "O'Brien"},
			Gender: "female", Specialty: "Family medicine",
			Telecom: []seed.Telecom{{System: "phone", Value: "555-0101", Use: "work"}},
		}},
		Locations: []seed.Location{{
			ID: "loc-er", Name: "Emergency Department", Description: "ED <main building>",
			Type:  seed.Coding{System: "http://hl7.org/fhir/v3/RoleCode", Code: "ER", Display: "Emergency room"},
			Phone: "555-0102",
		}},
	}
}

var (
	codeBP    = seed.Coding{System: "http://loinc.org", Code: "85354-9", Display: "Blood pressure panel with all children optional"}
	codeBP2   = seed.Coding{System: "http://loinc.org", Code: "55284-4", Display: "Blood pressure systolic and diastolic"}
	codeSys   = seed.Coding{System: "http://loinc.org", Code: "8480-6", Display: "Systolic blood pressure"}
	codeDia   = seed.Coding{System: "http://loinc.org", Code: "8462-4", Display: "Diastolic blood pressure"}
	codeTemp  = seed.Coding{System: "http://loinc.org", Code: "8310-5", Display: "Body temperature"}
	codeHTN   = seed.Coding{System: "http://snomed.info/sct", Code: "59621000", Display: "Essential hypertension (disorder)"}
	codeBronc = seed.Coding{System: "http://snomed.info/sct", Code: "10509002", Display: "Acute bronchitis (disorder)"}
	codeMild  = seed.Coding{System: "http://snomed.info/sct", Code: "255604002", Display: "Mild"}
	codePeanu = seed.Coding{System: "http://snomed.info/sct", Code: "762952008", Display: "Peanut (substance)"}
	codeWheal = seed.Coding{System: "http://snomed.info/sct", Code: "247472004", Display: "Wheal (finding)"}
	codeLisin = seed.Coding{System: "http://www.nlm.nih.gov/research/umls/rxnorm", Code: "314076", Display: "lisinopril 10 MG Oral Tablet"}
	codeEncFU = seed.Coding{System: "http://snomed.info/sct", Code: "390906007", Display: "Follow-up encounter (procedure)"}
)

// fixturePatient has one of everything, an apostrophe and accents in the
// name, markup in free text, and a blood-pressure panel.
func fixturePatient() *seed.PatientRecord {
	gp := seed.Reference{Type: "Practitioner", ID: "pract-1", Display: "Dr. Zoë O'Brien"}
	loc := seed.Reference{Type: "Location", ID: "loc-er", Display: "Emergency Department"}
	start := time.Date(2024, 2, 1, 13, 0, 0, 0, time.UTC)
	return &seed.PatientRecord{
		Index: 7,
		Patient: seed.Patient{
			ID: "pat-7", MRN: "MRN0000007",
			Name:      seed.HumanName{Prefix: []string{"Mrs."}, Given: []string{"Renée", "Ann"}, Family: "D'Angelo-Núñez"},
			Gender:    "female",
			BirthDate: time.Date(1961, 7, 4, 0, 0, 0, 0, time.UTC),
			Address:   seed.Address{Line: []string{"12 Elm St", "Apt \"B\""}, City: "Springfield", State: "IL", PostalCode: "62704", Country: "US"},
			Telecom:   []seed.Telecom{{System: "phone", Value: "555-0199", Use: "home"}, {System: "email", Value: "renee@example.org", Use: "home"}},
			GP:        gp,
			Language:  seed.Coding{System: "urn:ietf:bcp:47", Code: "en-US", Display: "English (United States)"},
			Marital:   seed.Coding{System: "http://hl7.org/fhir/v3/MaritalStatus", Code: "M", Display: "Married"},
		},
		Encounters: []seed.Encounter{{
			ID: "enc-7-1", Status: "finished", Class: "AMB", Type: codeEncFU,
			Start: start, End: start.Add(30 * time.Minute), Location: loc, Attender: gp, Reason: &codeHTN,
		}},
		Vitals: []seed.Observation{
			{
				ID: "obs-7-1", EncounterID: "enc-7-1", Key: "blood_pressure", Code: codeBP, CodeDSTU2: codeBP2,
				Components: []seed.Component{
					{Code: codeSys, Value: seed.Quantity{Value: 128, Unit: "mm[Hg]", Code: "mm[Hg]"}},
					{Code: codeDia, Value: seed.Quantity{Value: 82, Unit: "mm[Hg]", Code: "mm[Hg]"}},
				},
				Effective: start.Add(5 * time.Minute), Status: "final",
			},
			{
				ID: "obs-7-2", EncounterID: "enc-7-1", Key: "body_temperature", Code: codeTemp,
				Value:     &seed.Quantity{Value: 36.6, Decimals: 1, Unit: "Cel", Code: "Cel"},
				Effective: start.Add(6 * time.Minute), Status: "final",
			},
		},
		Conditions: []seed.Condition{
			{
				ID: "cond-7-1", Code: codeHTN, Kind: "chronic", Clinical: "active", Severity: &codeMild,
				Onset: time.Date(2015, 5, 2, 9, 0, 0, 0, time.UTC), Recorded: time.Date(2015, 5, 2, 9, 30, 0, 0, time.UTC),
				EncounterID: "enc-7-1", Asserter: gp,
			},
			{
				ID: "cond-7-2", Code: codeBronc, Kind: "acute", Clinical: "resolved",
				Onset: time.Date(2023, 1, 2, 9, 0, 0, 0, time.UTC), Abatement: time.Date(2023, 1, 20, 0, 0, 0, 0, time.UTC),
				Recorded: time.Date(2023, 1, 2, 9, 30, 0, 0, time.UTC), Asserter: gp,
			},
		},
		Allergies: []seed.Allergy{{
			ID: "allergy-7-1", Substance: codePeanu, Category: "food", Criticality: "high",
			Clinical: "active", Verification: "confirmed",
			Recorded: time.Date(2010, 3, 1, 10, 0, 0, 0, time.UTC), Onset: time.Date(1965, 1, 1, 0, 0, 0, 0, time.UTC),
			Note:      "Carries an EpiPen; \"severe\" <b>hives</b> & swelling",
			Reactions: []seed.Reaction{{Manifestation: codeWheal, Severity: "moderate", Description: "Hives after eating peanuts"}},
			Recorder:  gp,
		}},
		Meds: []seed.Medication{{
			ID: "med-7-1", Code: codeLisin, Status: "active", Authored: time.Date(2015, 5, 2, 9, 40, 0, 0, time.UTC),
			Prescriber: gp, DosageText: "Take 1 tablet by mouth once daily", Reason: &codeHTN, EncounterID: "enc-7-1",
		}},
		Coverage: &seed.Coverage{
			ID: "cov-7", Payor: seed.Reference{Type: "Organization", ID: "org-payor-1", Display: "Aetna"},
			PlanName: "Gold PPO", PlanValue: "GOLD-PPO", GroupName: "Acme Corp", GroupValue: "G-100",
			SubscriberID: "AET123456", Relationship: "self", Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Status: "active",
		},
	}
}

// edgePatients are the records most likely to break a renderer.
func edgePatients() map[string]*seed.PatientRecord {
	bare := &seed.PatientRecord{Patient: seed.Patient{ID: "pat-bare", MRN: "M1", Name: seed.HumanName{Family: "X"}, Gender: "unknown"}}

	newborn := fixturePatient()
	newborn.Patient.ID = "pat-newborn"
	newborn.Patient.BirthDate = refDate.AddDate(0, 0, -2)
	newborn.Patient.Name = seed.HumanName{Given: []string{"Baby Girl"}, Family: "O'Neil"}
	newborn.Vitals, newborn.Conditions, newborn.Allergies, newborn.Meds, newborn.Coverage = nil, nil, nil, nil, nil
	newborn.Encounters[0].End = time.Time{}
	newborn.Encounters[0].Status = "in-progress"
	newborn.Encounters[0].Class = "IMP"
	newborn.Encounters[0].Reason = nil

	selfPay := fixturePatient()
	selfPay.Patient.ID = "pat-selfpay"
	selfPay.Coverage = &seed.Coverage{ID: "cov-selfpay", PlanName: "No Primary Insurance", Relationship: "self", Start: refDate.AddDate(-1, 0, 0)}

	odd := fixturePatient()
	odd.Patient.ID = "pat-odd"
	odd.Patient.Name = seed.HumanName{Given: []string{"", "Jean-Luc"}, Family: "Picard\u2028\x01"}
	odd.Patient.Deceased = true
	odd.Vitals[1].Value = &seed.Quantity{Value: 37.04999999, Decimals: 1, Unit: "Cel", Code: "Cel"}
	odd.Allergies[0].Reactions = append(odd.Allergies[0].Reactions, seed.Reaction{}) // no manifestation
	odd.Allergies[0].Criticality = "bogus"
	odd.Conditions[0].Abatement = refDate // abated yet active: must not be written
	odd.Coverage.Relationship = "spouse"
	for _, p := range []*seed.PatientRecord{newborn, selfPay, odd} {
		suffixIDs(p, strings.TrimPrefix(p.Patient.ID, "pat-"))
	}
	return map[string]*seed.PatientRecord{"bare": bare, "newborn": newborn, "selfpay": selfPay, "odd": odd}
}

// suffixIDs makes the ids of a cloned record's resources its own.
func suffixIDs(p *seed.PatientRecord, sfx string) {
	for i := range p.Encounters {
		p.Encounters[i].ID += "-" + sfx
	}
	for i := range p.Vitals {
		p.Vitals[i].ID += "-" + sfx
		p.Vitals[i].EncounterID += "-" + sfx
	}
	for i := range p.Conditions {
		p.Conditions[i].ID += "-" + sfx
	}
	for i := range p.Allergies {
		p.Allergies[i].ID += "-" + sfx
	}
	for i := range p.Meds {
		p.Meds[i].ID += "-" + sfx
	}
	if p.Coverage != nil {
		p.Coverage.ID += "-" + sfx
	}
}

// ---- helpers ----------------------------------------------------------------

func renderAll(v Version, h *seed.Hospital, ps ...*seed.PatientRecord) []Resource {
	var out []Resource
	emit := func(r Resource) { out = append(out, r) }
	v.RenderHospital(h, emit)
	for _, p := range ps {
		v.RenderPatient(p, emit)
	}
	return out
}

// validateRelease runs the tests' independent validator of v's release.
func validateRelease(t *testing.T, v Version, b []byte) error {
	t.Helper()
	return validate.Release(v.Release().Name, b)
}

func decode(t *testing.T, r Resource) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.JSON, &m); err != nil {
		t.Fatalf("%s/%s: invalid JSON: %v\n%s", r.Type, r.ID, err, r.JSON)
	}
	return m
}

// get walks a decoded document by object keys and array indexes.
func get(v any, path ...any) (any, bool) {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			if v, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			a, ok := v.([]any)
			if !ok || k >= len(a) {
				return nil, false
			}
			v = a[k]
		}
	}
	return v, true
}

func findEmpty(path string, v any) []string {
	var bad []string
	switch x := v.(type) {
	case string:
		if x == "" {
			bad = append(bad, path)
		}
	case []any:
		if len(x) == 0 {
			bad = append(bad, path)
		}
		for i, e := range x {
			bad = append(bad, findEmpty(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	case map[string]any:
		if len(x) == 0 {
			bad = append(bad, path)
		}
		for k, e := range x {
			bad = append(bad, findEmpty(path+"."+k, e)...)
		}
	case nil:
		bad = append(bad, path+"=null")
	}
	return bad
}

// checkGeneric asserts what holds for every resource of every release.
func checkGeneric(t *testing.T, v Version, r Resource) {
	t.Helper()
	m := decode(t, r)
	if bad := findEmpty(r.Type, m); len(bad) > 0 {
		t.Errorf("%s/%s: empty or null values at %v", r.Type, r.ID, bad)
	}
	// R4 resources claim their profiles in meta, between id and text; the
	// rest of meta (versionId, lastUpdated) is the store's.
	head := fmt.Sprintf(`{"resourceType":%q,"id":%q,`, r.Type, r.ID)
	rest, ok := bytes.CutPrefix(r.JSON, []byte(head))
	meta, hasMeta := m["meta"].(map[string]any)
	if hasMeta && v.Release().Name == "r4" {
		if _, profiled := meta["profile"]; !profiled || len(meta) != 1 {
			t.Errorf("%s/%s: meta %v, want profile alone (the rest is the store's)", r.Type, r.ID, meta)
		}
		end := bytes.Index(rest, []byte(`]},`))
		if !bytes.HasPrefix(rest, []byte(`"meta":{"profile":[`)) || end < 0 {
			t.Errorf("%s/%s: meta does not follow id:\n%s", r.Type, r.ID, r.JSON)
		} else {
			rest = rest[end+3:]
		}
	} else if _, present := m["meta"]; present {
		t.Errorf("%s/%s: meta must be left to the store", r.Type, r.ID)
	}
	if !ok || !bytes.HasPrefix(rest, []byte(`"text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">`)) {
		t.Errorf("%s/%s: does not start with resourceType, id, [meta,] text:\n%s", r.Type, r.ID, r.JSON)
	}
	if m["resourceType"] != r.Type || m["id"] != r.ID {
		t.Errorf("%s/%s: Resource fields disagree with JSON %v/%v", r.Type, r.ID, m["resourceType"], m["id"])
	}
	div, _ := get(m, "text", "div")
	s, _ := div.(string)
	var x struct {
		XMLName xml.Name
	}
	if err := xml.Unmarshal([]byte(s), &x); err != nil || x.XMLName.Space != xhtmlNS || x.XMLName.Local != "div" {
		t.Errorf("%s/%s: narrative is not a well-formed XHTML div (%v): %s", r.Type, r.ID, err, s)
	}
	if err := validateRelease(t, v, r.JSON); err != nil {
		t.Errorf("%s %s/%s: %v\n%s", v.Release().Name, r.Type, r.ID, err, r.JSON)
	}
}

func byType(rs []Resource) map[string][]Resource {
	m := map[string][]Resource{}
	for _, r := range rs {
		m[r.Type] = append(m[r.Type], r)
	}
	return m
}

// ---- tests ------------------------------------------------------------------

func TestVersionIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		v                             Version
		name, fhir, media, medication string
	}{
		{DSTU2{}, "dstu2", "1.0.2", "application/json+fhir", "MedicationOrder"},
		{STU3{}, "stu3", "3.0.1", "application/fhir+json", "MedicationRequest"},
		{R4{}, "r4", "4.0.1", "application/fhir+json", "MedicationRequest"},
	}
	for _, tt := range tests {
		got := [4]string{tt.v.Release().Name, tt.v.Release().FHIRVersion, tt.v.Release().MediaType, tt.v.Release().MedicationType}
		want := [4]string{tt.name, tt.fhir, tt.media, tt.medication}
		if got != want {
			t.Errorf("%T: got %v, want %v", tt.v, got, want)
		}
		if v, ok := Lookup(tt.name); !ok || v.Release().Name != tt.name {
			t.Errorf("Lookup(%q) = %v, %v", tt.name, v, ok)
		}
	}
}

func TestRenderFixtureValid(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			ps := []*seed.PatientRecord{fixturePatient()}
			for _, p := range edgePatients() {
				ps = append(ps, p)
			}
			rs := renderAll(v, fixtureHospital(), ps...)
			types := byType(rs)
			for _, typ := range []string{"Organization", "Practitioner", "Location", "Patient", "Encounter",
				"Observation", "Condition", "AllergyIntolerance", v.Release().MedicationType, "Coverage"} {
				if len(types[typ]) == 0 {
					t.Errorf("no %s rendered", typ)
				}
			}
			for _, r := range rs {
				checkGeneric(t, v, r)
			}
		})
	}
}

func TestRenderPatientOrderAndCounts(t *testing.T) {
	t.Parallel()
	p := fixturePatient()
	for _, v := range Versions() {
		rs := renderAll(v, nil, p)
		want := 1 + len(p.Encounters) + len(p.Vitals) + len(p.Conditions) + len(p.Allergies) + len(p.Meds) + 1
		if len(rs) != want {
			t.Errorf("%s: %d resources, want %d", v.Release().Name, len(rs), want)
		}
		if rs[0].Type != "Patient" || rs[0].ID != p.Patient.ID {
			t.Errorf("%s: first resource is %s/%s, want the Patient", v.Release().Name, rs[0].Type, rs[0].ID)
		}
		if last := rs[len(rs)-1]; last.Type != "Coverage" {
			t.Errorf("%s: last resource is %s, want Coverage", v.Release().Name, last.Type)
		}
		p.Coverage = nil
		if rs := renderAll(v, nil, p); rs[len(rs)-1].Type == "Coverage" {
			t.Errorf("%s: Coverage rendered for a patient without one", v.Release().Name)
		}
		p = fixturePatient()
	}
	// nil input renders nothing and does not panic.
	for _, v := range Versions() {
		if rs := renderAll(v, nil, nil); len(rs) != 0 {
			t.Errorf("%s: nil records rendered %d resources", v.Release().Name, len(rs))
		}
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		a := renderAll(v, fixtureHospital(), fixturePatient())
		b := renderAll(v, fixtureHospital(), fixturePatient())
		if len(a) != len(b) {
			t.Fatalf("%s: %d vs %d resources", v.Release().Name, len(a), len(b))
		}
		for i := range a {
			if !bytes.Equal(a[i].JSON, b[i].JSON) {
				t.Errorf("%s %s/%s differs between runs", v.Release().Name, a[i].Type, a[i].ID)
			}
		}
	}
}

// TestReleaseShapes pins the elements whose shape differs between DSTU2 and
// STU3, each a place where a client of one release breaks on the other.
func TestReleaseShapes(t *testing.T) {
	t.Parallel()
	type check struct {
		typ  string
		path []any
		want any // nil: the path must be absent
	}
	tests := map[string][]check{
		"dstu2": {
			{"Patient", []any{"name", 0, "family"}, []any{"D'Angelo-Núñez"}},
			{"Patient", []any{"name", 0, "use"}, "official"},
			{"Patient", []any{"careProvider", 0, "display"}, "Dr. Zoë O'Brien"},
			{"Patient", []any{"generalPractitioner"}, nil},
			{"Patient", []any{"identifier", 0, "type", "coding", 0, "code"}, "MR"},
			{"Patient", []any{"identifier", 0, "type", "coding", 0, "system"}, "http://hl7.org/fhir/v2/0203"},
			{"Patient", []any{"identifier", 0, "value"}, "MRN0000007"},
			{"Patient", []any{"birthDate"}, "1961-07-04"},
			{"Practitioner", []any{"name", "family"}, []any{"O'Brien"}},
			{"Practitioner", []any{"practitionerRole", 0, "specialty", 0, "text"}, "Family medicine"},
			{"Organization", []any{"type", "coding", 0, "code"}, "prov"},
			{"Encounter", []any{"class"}, "ambulatory"},
			{"Encounter", []any{"patient", "reference"}, "Patient/pat-7"},
			{"Encounter", []any{"type", 0, "coding", 0, "display"}, "Follow-up encounter (procedure)"},
			{"Encounter", []any{"location", 0, "location", "display"}, "Emergency Department"},
			{"Encounter", []any{"period", "start"}, "2024-02-01T13:00:00Z"},
			{"Observation", []any{"category", "coding", 0, "code"}, "vital-signs"},
			{"Observation", []any{"encounter", "reference"}, "Encounter/enc-7-1"},
			{"Observation", []any{"code", "coding", 0, "code"}, "55284-4"},
			{"Observation", []any{"component", 0, "code", "coding", 0, "code"}, "8480-6"},
			{"Observation", []any{"component", 1, "valueQuantity", "value"}, 82.0},
			{"Observation", []any{"valueQuantity"}, nil},
			{"Condition", []any{"patient", "reference"}, "Patient/pat-7"},
			{"Condition", []any{"dateRecorded"}, "2015-05-02"},
			{"Condition", []any{"verificationStatus"}, "confirmed"},
			{"Condition", []any{"clinicalStatus"}, "active"},
			{"Condition", []any{"severity", "coding", 0, "display"}, "Mild"},
			{"AllergyIntolerance", []any{"substance", "text"}, "Peanut (substance)"},
			{"AllergyIntolerance", []any{"status"}, "confirmed"},
			{"AllergyIntolerance", []any{"criticality"}, "CRITH"},
			{"AllergyIntolerance", []any{"category"}, "food"},
			{"AllergyIntolerance", []any{"note", "text"}, "Carries an EpiPen; \"severe\" <b>hives</b> & swelling"},
			{"AllergyIntolerance", []any{"reaction", 0, "manifestation", 0, "text"}, "Wheal (finding)"},
			{"AllergyIntolerance", []any{"reaction", 0, "substance", "text"}, "Peanut (substance)"},
			{"MedicationOrder", []any{"dateWritten"}, "2015-05-02T09:40:00Z"},
			{"MedicationOrder", []any{"prescriber", "display"}, "Dr. Zoë O'Brien"},
			{"MedicationOrder", []any{"medicationCodeableConcept", "text"}, "lisinopril 10 MG Oral Tablet"},
			{"MedicationOrder", []any{"medicationCodeableConcept", "coding", 0, "system"}, "http://www.nlm.nih.gov/research/umls/rxnorm"},
			{"MedicationOrder", []any{"dosageInstruction", 0, "text"}, "Take 1 tablet by mouth once daily"},
			{"MedicationOrder", []any{"dateEnded"}, nil},
			{"Coverage", []any{"issuer", "display"}, "Aetna"},
			{"Coverage", []any{"payor"}, nil},
			{"Coverage", []any{"plan"}, "Gold PPO"},
			{"Coverage", []any{"subscriberId", "value"}, "AET123456"},
			{"Coverage", []any{"subscriber", "reference"}, "Patient/pat-7"},
		},
		"stu3": {
			{"Patient", []any{"name", 0, "family"}, "D'Angelo-Núñez"},
			{"Patient", []any{"name", 0, "given", 0}, "Renée"},
			{"Patient", []any{"name", 0, "prefix", 0}, "Mrs."},
			{"Patient", []any{"generalPractitioner", 0, "display"}, "Dr. Zoë O'Brien"},
			{"Patient", []any{"careProvider"}, nil},
			{"Patient", []any{"identifier", 0, "type", "coding", 0, "display"}, "Medical record number"},
			{"Practitioner", []any{"name", 0, "family"}, "O'Brien"},
			{"Organization", []any{"type", 0, "coding", 0, "code"}, "prov"},
			{"Encounter", []any{"class", "code"}, "AMB"},
			{"Encounter", []any{"class", "system"}, "http://hl7.org/fhir/v3/ActCode"},
			{"Encounter", []any{"subject", "reference"}, "Patient/pat-7"},
			{"Encounter", []any{"participant", 0, "individual", "reference"}, "Practitioner/pract-1"},
			{"Observation", []any{"category", 0, "coding", 0, "code"}, "vital-signs"},
			{"Observation", []any{"context", "reference"}, "Encounter/enc-7-1"},
			{"Observation", []any{"encounter"}, nil},
			{"Observation", []any{"code", "coding", 0, "code"}, "85354-9"},
			{"Observation", []any{"effectiveDateTime"}, "2024-02-01T13:05:00Z"},
			{"Condition", []any{"subject", "reference"}, "Patient/pat-7"},
			{"Condition", []any{"assertedDate"}, "2015-05-02T09:30:00Z"},
			{"Condition", []any{"code", "coding", 0, "display"}, "Essential hypertension (disorder)"},
			{"AllergyIntolerance", []any{"code", "coding", 0, "display"}, "Peanut (substance)"},
			{"AllergyIntolerance", []any{"clinicalStatus"}, "active"},
			{"AllergyIntolerance", []any{"verificationStatus"}, "confirmed"},
			{"AllergyIntolerance", []any{"criticality"}, "high"},
			{"AllergyIntolerance", []any{"category", 0}, "food"},
			{"AllergyIntolerance", []any{"note", 0, "text"}, "Carries an EpiPen; \"severe\" <b>hives</b> & swelling"},
			{"AllergyIntolerance", []any{"reaction", 0, "manifestation", 0, "coding", 0, "code"}, "247472004"},
			{"MedicationRequest", []any{"intent"}, "order"},
			{"MedicationRequest", []any{"authoredOn"}, "2015-05-02T09:40:00Z"},
			{"MedicationRequest", []any{"requester", "agent", "display"}, "Dr. Zoë O'Brien"},
			{"MedicationRequest", []any{"reasonCode", 0, "coding", 0, "code"}, "59621000"},
			{"Coverage", []any{"payor", 0, "display"}, "Aetna"},
			{"Coverage", []any{"issuer"}, nil},
			{"Coverage", []any{"grouping", "planDisplay"}, "Gold PPO"},
			{"Coverage", []any{"grouping", "groupDisplay"}, "Acme Corp"},
			{"Coverage", []any{"subscriberId"}, "AET123456"},
			{"Coverage", []any{"period", "start"}, "2020-01-01"},
			{"Coverage", []any{"beneficiary", "reference"}, "Patient/pat-7"},
		},
		"r4": {
			{"Patient", []any{"meta", "profile", 0}, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"},
			{"Patient", []any{"name", 0, "family"}, "D'Angelo-Núñez"},
			{"Patient", []any{"generalPractitioner", 0, "display"}, "Dr. Zoë O'Brien"},
			{"Patient", []any{"identifier", 0, "type", "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/v2-0203"},
			{"Patient", []any{"identifier", 0, "type", "coding", 0, "code"}, "MR"},
			{"Patient", []any{"maritalStatus", "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"},
			{"Patient", []any{"extension", 0, "url"}, "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"}, // the fixture has no race
			{"Patient", []any{"extension", 0, "valueCode"}, "F"},
			{"Practitioner", []any{"name", 0, "family"}, "O'Brien"},
			{"Practitioner", []any{"identifier", 0, "system"}, "http://hl7.org/fhir/sid/us-npi"},
			{"Organization", []any{"type", 0, "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/organization-type"},
			{"Organization", []any{"identifier"}, nil}, // the fixture hospital has no NPI
			{"Location", []any{"type", 0, "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/v3-RoleCode"},
			{"Location", []any{"address", "city"}, "Springfield"},
			{"Encounter", []any{"class", "system"}, "http://terminology.hl7.org/CodeSystem/v3-ActCode"},
			{"Encounter", []any{"class", "code"}, "AMB"},
			{"Encounter", []any{"subject", "reference"}, "Patient/pat-7"},
			{"Encounter", []any{"participant", 0, "type", 0, "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"},
			{"Encounter", []any{"reasonCode", 0, "coding", 0, "code"}, "59621000"},
			{"Encounter", []any{"reason"}, nil},
			{"Encounter", []any{"identifier", 0, "system"}, "urn:ietf:rfc:3986"},
			{"Observation", []any{"meta", "profile", 0}, "http://hl7.org/fhir/StructureDefinition/bp"},
			{"Observation", []any{"category", 0, "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/observation-category"},
			{"Observation", []any{"encounter", "reference"}, "Encounter/enc-7-1"},
			{"Observation", []any{"context"}, nil},
			{"Observation", []any{"code", "coding", 0, "code"}, "85354-9"},
			{"Observation", []any{"component", 0, "valueQuantity", "value"}, 128.0},
			{"Condition", []any{"clinicalStatus", "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/condition-clinical"},
			{"Condition", []any{"clinicalStatus", "coding", 0, "code"}, "active"},
			{"Condition", []any{"verificationStatus", "coding", 0, "code"}, "confirmed"},
			{"Condition", []any{"category", 0, "coding", 0, "code"}, "problem-list-item"},
			{"Condition", []any{"encounter", "reference"}, "Encounter/enc-7-1"},
			{"Condition", []any{"recordedDate"}, "2015-05-02T09:30:00Z"},
			{"Condition", []any{"assertedDate"}, nil},
			{"AllergyIntolerance", []any{"clinicalStatus", "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"},
			{"AllergyIntolerance", []any{"verificationStatus", "coding", 0, "code"}, "confirmed"},
			{"AllergyIntolerance", []any{"recordedDate"}, "2010-03-01T10:00:00Z"},
			{"AllergyIntolerance", []any{"code", "text"}, "Peanut (substance)"},
			{"AllergyIntolerance", []any{"reaction", 0, "manifestation", 0, "coding", 0, "code"}, "247472004"},
			{"MedicationRequest", []any{"requester", "reference"}, "Practitioner/pract-1"},
			{"MedicationRequest", []any{"requester", "agent"}, nil},
			{"MedicationRequest", []any{"encounter", "reference"}, "Encounter/enc-7-1"},
			{"MedicationRequest", []any{"authoredOn"}, "2015-05-02T09:40:00Z"},
			{"MedicationRequest", []any{"medicationCodeableConcept", "text"}, "lisinopril 10 MG Oral Tablet"},
			{"Coverage", []any{"meta"}, nil}, // US Core 3.1.1 has no Coverage profile
			{"Coverage", []any{"grouping"}, nil},
			{"Coverage", []any{"class", 0, "type", "coding", 0, "code"}, "group"},
			{"Coverage", []any{"class", 0, "value"}, "G-100"},
			{"Coverage", []any{"class", 0, "name"}, "Acme Corp"},
			{"Coverage", []any{"class", 1, "type", "coding", 0, "code"}, "plan"},
			{"Coverage", []any{"class", 1, "name"}, "Gold PPO"},
			{"Coverage", []any{"relationship", "coding", 0, "system"}, "http://terminology.hl7.org/CodeSystem/subscriber-relationship"},
			{"Coverage", []any{"payor", 0, "display"}, "Aetna"},
			{"Coverage", []any{"beneficiary", "reference"}, "Patient/pat-7"},
		},
	}
	for _, v := range Versions() {
		rs := byType(renderAll(v, fixtureHospital(), fixturePatient()))
		for _, c := range tests[v.Release().Name] {
			if len(rs[c.typ]) == 0 {
				t.Errorf("%s: no %s", v.Release().Name, c.typ)
				continue
			}
			got, ok := get(decode(t, rs[c.typ][0]), c.path...)
			switch {
			case c.want == nil && ok:
				t.Errorf("%s %s%v: present (%v), want absent", v.Release().Name, c.typ, c.path, got)
			case c.want != nil && !ok:
				t.Errorf("%s %s%v: absent, want %v", v.Release().Name, c.typ, c.path, c.want)
			case c.want != nil && fmt.Sprint(got) != fmt.Sprint(c.want):
				t.Errorf("%s %s%v = %#v, want %#v", v.Release().Name, c.typ, c.path, got, c.want)
			}
		}
	}
}

func TestDecimalsAndEscaping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		mutate    func(p *seed.PatientRecord)
		typ, want string // a byte string that must appear in the JSON
		notWant   string
	}{
		{"one decimal", func(*seed.PatientRecord) {}, "Observation", `"value":36.6,`, "36.600"},
		{"rounded to decimals", func(p *seed.PatientRecord) { p.Vitals[1].Value.Value = 37.04999999 }, "Observation", `"value":37.0,`, "37.04"},
		{"integer", func(*seed.PatientRecord) {}, "Observation", `"value":128,`, "128.0"},
		{"apostrophe in narrative", func(*seed.PatientRecord) {}, "Patient", `D&#39;Angelo-Núñez`, "D'Angelo-Núñez</"},
		{"markup in note escaped in div", func(*seed.PatientRecord) {}, "AllergyIntolerance", `<p>Note: Carries an EpiPen; &#34;severe&#34; &lt;b&gt;hives&lt;/b&gt; &amp; swelling</p>`, "Note: Carries an EpiPen; \\\"severe\\\" <b>"},
		{"markup kept in note element", func(*seed.PatientRecord) {}, "AllergyIntolerance", `"text":"Carries an EpiPen; \"severe\" <b>hives</b> & swelling"`, ""},
		{"control character dropped", func(p *seed.PatientRecord) { p.Patient.Name.Family = "A\x01B\tC" }, "Patient", `AB\tC`, "\x01"},
		{"line separator escaped", func(p *seed.PatientRecord) { p.Patient.Name.Family = "A\u2028B" }, "Patient", `A\u2028B`, "A\u2028B"},
		{"invalid utf-8 replaced", func(p *seed.PatientRecord) { p.Patient.Name.Family = "A\xffB" }, "Patient", `A\ufffdB`, "A\xffB"},
	}
	for _, tt := range tests {
		for _, v := range Versions() {
			p := fixturePatient()
			tt.mutate(p)
			var all []byte
			for _, r := range renderAll(v, nil, p) {
				if r.Type == tt.typ {
					all = append(all, r.JSON...)
					if !json.Valid(r.JSON) {
						t.Errorf("%s %s: invalid JSON", tt.name, v.Release().Name)
					}
				}
			}
			if !bytes.Contains(all, []byte(tt.want)) {
				t.Errorf("%s %s: %q not found in\n%s", tt.name, v.Release().Name, tt.want, all)
			}
			if tt.notWant != "" && bytes.Contains(all, []byte(tt.notWant)) {
				t.Errorf("%s %s: %q found in\n%s", tt.name, v.Release().Name, tt.notWant, all)
			}
		}
	}
}

func TestEdgeRecords(t *testing.T) {
	t.Parallel()
	for name, p := range edgePatients() {
		for _, v := range Versions() {
			rs := byType(renderAll(v, nil, p))
			pat := decode(t, rs["Patient"][0])
			switch name {
			case "bare":
				if len(rs) != 1 {
					t.Errorf("%s %s: rendered %v, want the Patient only", name, v.Release().Name, rs)
				}
			case "newborn":
				if got, _ := get(pat, "birthDate"); got != "2024-03-13" {
					t.Errorf("%s %s: birthDate %v", name, v.Release().Name, got)
				}
				enc := decode(t, rs["Encounter"][0])
				if _, ok := get(enc, "period", "end"); ok {
					t.Errorf("%s %s: an in-progress encounter has an end", name, v.Release().Name)
				}
			case "selfpay":
				cov := decode(t, rs["Coverage"][0])
				want := map[string][]any{"dstu2": {"plan"}, "stu3": {"grouping", "planDisplay"}, "r4": {"type", "text"}}[v.Release().Name]
				if got, _ := get(cov, want...); len(want) == 0 || got != "No Primary Insurance" {
					t.Errorf("%s %s: plan %v", name, v.Release().Name, got)
				}
				if v.Release().Name == "r4" {
					// R4 requires a payor: self-pay's is the patient.
					if got, _ := get(cov, "payor", 0, "reference"); got != "Patient/"+p.Patient.ID {
						t.Errorf("%s r4: payor %v, want the patient", name, got)
					}
					if got, _ := get(cov, "type", "coding", 0, "code"); got != "pay" {
						t.Errorf("%s r4: type %v, want coverage-selfpay pay", name, got)
					}
				}
			case "odd":
				if got, _ := get(pat, "deceasedBoolean"); got != true {
					t.Errorf("%s %s: deceasedBoolean %v", name, v.Release().Name, got)
				}
				for _, c := range rs["Condition"] {
					m := decode(t, c)
					status := m["clinicalStatus"]
					if v.Release().Name == "r4" {
						status, _ = get(m, "clinicalStatus", "coding", 0, "code")
					}
					if _, ok := m["abatementDateTime"]; ok && status == "active" {
						t.Errorf("%s %s: active condition with abatement", name, v.Release().Name)
					}
				}
				al := decode(t, rs["AllergyIntolerance"][0])
				if n, _ := get(al, "reaction"); len(n.([]any)) != 1 {
					t.Errorf("%s %s: reaction without manifestation was written", name, v.Release().Name)
				}
				if _, ok := al["criticality"]; ok {
					t.Errorf("%s %s: unknown criticality was written", name, v.Release().Name)
				}
				cov := decode(t, rs["Coverage"][0])
				// A spouse's policy is held by someone the sandbox does not
				// model: no release names the patient as subscriber, and every
				// release names the patient as the covered party (DSTU2 in the
				// STU3 beneficiary extension).
				if _, ok := cov["subscriber"]; ok {
					t.Errorf("%s %s: spouse's policy names a subscriber", name, v.Release().Name)
				}
				ben, _ := get(cov, "beneficiary", "reference")
				if v.Release().Name == "dstu2" {
					ben, _ = get(cov, "extension", 0, "valueReference", "reference")
				}
				if ben != "Patient/"+p.Patient.ID {
					t.Errorf("%s %s: covered party %v, want the patient", name, v.Release().Name, ben)
				}
			}
		}
	}
}

func TestAppendJSONStringRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "tab\tnl\ncr\r", "a\x00b\x1fc", "Zoë O'Brien", "\u2028\u2029", "😀", "<&>", "\xff"} {
		checkJSONString(t, s)
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"b", "\xff\xfe", "Renée", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, s string) {
	b := appendJSONString(nil, s)
	var got string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("appendJSONString(%q) = %s: invalid JSON: %v", s, b, err)
	}
	// The expected value: controls other than tab/newline/return dropped,
	// then each invalid byte replaced as encoding/json would.
	kept := strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' {
			return -1
		}
		return r
	}, s)
	wantJSON, _ := json.Marshal(kept)
	var want string
	_ = json.Unmarshal(wantJSON, &want)
	if got != want {
		t.Fatalf("appendJSONString(%q) decodes to %q, want %q", s, got, want)
	}
	if bytes.ContainsAny(b, "\u2028\u2029") {
		t.Fatalf("appendJSONString(%q) = %s: raw line separators", s, b)
	}
}

// ---- golden files -------------------------------------------------------------

// TestGolden pins one resource of each type per release, pretty-printed,
// under testdata/golden/<release>/<Type>.json. Regenerate with
// go test ./sandbox/fhir -run Golden -update.
func TestGolden(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		first := map[string]Resource{}
		for _, r := range renderAll(v, goldenHospital(), goldenPatients()...) {
			if _, ok := first[r.Type]; !ok {
				first[r.Type] = r
			}
		}
		for typ, r := range first {
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, r.JSON, "", "  "); err != nil {
				t.Fatalf("%s %s: %v", v.Release().Name, typ, err)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", "golden", v.Release().Name, typ+".json")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("%v (run with -update to create)", err)
				continue
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("%s differs from the rendered resource (run with -update if the change is intended):\n%s", path, pretty.Bytes())
			}
		}
	}
}

// errWriter fails after n bytes, to prove write errors are returned.
type errWriter struct{ n int }

var errShortWrite = errors.New("disk full")

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

var _ io.Writer = (*errWriter)(nil)

// goldenHospital and goldenPatients are the fixed input of the golden
// files: the first generated patients of a fixed seed and tenant, enough to
// hold one resource of every type.
func goldenHospital() *seed.Hospital {
	h, err := seed.NewHospital(populationOptions(3))
	if err != nil {
		panic(err) // fixed, valid options
	}
	return h
}

func goldenPatients() []*seed.PatientRecord {
	h := goldenHospital()
	var ps []*seed.PatientRecord
	for i := range 3 {
		p := h.Patient(i)
		ps = append(ps, &p)
	}
	return ps
}

// populationOptions is the fixed tenant of the population test, the golden
// files and the benchmark.
func populationOptions(n int) seed.Options {
	return seed.Options{
		Seed: 42, Tenant: "0f8fad5b-d9cb-469f-a165-70867728950e", Patients: n,
		ReferenceDate: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
	}
}

// TestGeneratedPopulation validates every resource of 300 generated
// patients (every edge class of the generator repeats within 50) in both
// releases, and checks the client's minimum fields on each Patient.
func TestGeneratedPopulation(t *testing.T) {
	t.Parallel()
	h, err := seed.Generate(populationOptions(300))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			rs := renderAll(v, h, patientPtrs(h)...)
			counts := map[string]int{}
			for _, r := range rs {
				counts[r.Type]++
				checkGeneric(t, v, r)
				if r.Type != "Patient" {
					continue
				}
				m := decode(t, r)
				for _, path := range [][]any{{"name", 0, "family"}, {"name", 0, "given", 0}, {"gender"}, {"birthDate"},
					{"identifier", 0, "type", "coding", 0, "code"}, {"identifier", 0, "value"}} {
					if _, ok := get(m, path...); !ok {
						t.Errorf("%s Patient/%s: no %v", v.Release().Name, r.ID, path)
					}
				}
			}
			for _, typ := range []string{"Patient", "Encounter", "Observation", "Condition", "AllergyIntolerance", v.Release().MedicationType, "Coverage"} {
				if counts[typ] == 0 {
					t.Errorf("%s: no %s in the population", v.Release().Name, typ)
				}
			}
			if counts["Patient"] != 300 {
				t.Errorf("%s: %d patients, want 300", v.Release().Name, counts["Patient"])
			}
		})
	}
}
