package fhir

import (
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/seed"
)

// r4Population renders the 300-patient population of TestGeneratedPopulation
// in one release.
func r4Population(t *testing.T, v Version) (*seed.Hospital, []Resource) {
	t.Helper()
	h, err := seed.Generate(populationOptions(300))
	if err != nil {
		t.Fatal(err)
	}
	return h, renderAll(v, h, patientPtrs(h)...)
}

// TestR4SameResourcesAsSTU3: R4 serves the same records as STU3, so a client
// moving between them finds every resource under the same id, in the same
// order, with the same count per type.
func TestR4SameResourcesAsSTU3(t *testing.T) {
	t.Parallel()
	_, stu3 := r4Population(t, STU3{})
	_, r4 := r4Population(t, R4{})
	key := func(r Resource) string { return r.Type + "/" + r.ID }
	if len(stu3) != len(r4) {
		t.Errorf("%d STU3 resources, %d R4", len(stu3), len(r4))
	}
	for i := range min(len(stu3), len(r4)) {
		if key(stu3[i]) != key(r4[i]) {
			t.Fatalf("resource %d: STU3 %s, R4 %s", i, key(stu3[i]), key(r4[i]))
		}
	}
	count := func(rs []Resource) map[string]int {
		m := map[string]int{}
		for _, r := range rs {
			m[r.Type]++
		}
		return m
	}
	cs, cr := count(stu3), count(r4)
	for typ, n := range cs {
		if cr[typ] != n {
			t.Errorf("%s: %d in STU3, %d in R4", typ, n, cr[typ])
		}
	}
	if len(cr) != len(cs) {
		t.Errorf("types: STU3 %v, R4 %v", cs, cr)
	}
}

// Profile URLs as US Core 3.1.1 and the R4 base specification publish them.
const (
	usCore = "http://hl7.org/fhir/us/core/StructureDefinition/"
	fhirSD = "http://hl7.org/fhir/StructureDefinition/"
)

// wantProfiles is the profile each resource type must claim (Observation
// apart: see vitalLOINC). Coverage claims none: US Core 3.1.1 has no
// Coverage profile.
var wantProfiles = map[string]string{
	"Patient":            usCore + "us-core-patient",
	"Encounter":          usCore + "us-core-encounter",
	"Condition":          usCore + "us-core-condition",
	"AllergyIntolerance": usCore + "us-core-allergyintolerance",
	"MedicationRequest":  usCore + "us-core-medicationrequest",
	"Organization":       usCore + "us-core-organization",
	"Practitioner":       usCore + "us-core-practitioner",
	"Location":           usCore + "us-core-location",
	"Coverage":           "",
}

// vitalLOINC is, for each vital-sign profile, the LOINC code the profile
// fixes in Observation.code (R4 base profiles; US Core pulse oximetry
// fixes 59408-5 and inherits oxygensat's 2708-6).
var vitalLOINC = map[string][]string{
	fhirSD + "bp":                     {"85354-9"},
	fhirSD + "heartrate":              {"8867-4"},
	fhirSD + "resprate":               {"9279-1"},
	fhirSD + "bodytemp":               {"8310-5"},
	fhirSD + "bodyweight":             {"29463-7"},
	fhirSD + "bodyheight":             {"8302-2"},
	fhirSD + "bmi":                    {"39156-5"},
	fhirSD + "headcircum":             {"9843-4"},
	usCore + "us-core-pulse-oximetry": {"59408-5", "2708-6"},
}

func strsAt(v any, path ...any) []string {
	x, _ := get(v, path...)
	a, _ := x.([]any)
	var out []string
	for _, e := range a {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// TestR4ProfilesAndExtensions checks every meta.profile and extension URL
// of a population against the published ones, that a vital sign's
// profile matches its codes, and the race, ethnicity and birth-sex
// values against the seed record and the seed's OMB tables.
func TestR4ProfilesAndExtensions(t *testing.T) {
	t.Parallel()
	h, rs := r4Population(t, R4{})
	records := map[string]*seed.PatientRecord{}
	for i := range h.Patients {
		records[h.Patients[i].Patient.ID] = &h.Patients[i]
	}
	in := func(c map[string]any, set []seed.Coding) bool {
		for _, s := range set {
			if c["system"] == s.System && c["code"] == s.Code && c["display"] == s.Display {
				return true
			}
		}
		return false
	}
	vitalsSeen := map[string]bool{}
	races := map[string]bool{}
	for _, r := range rs {
		m := decode(t, r)
		profiles := strsAt(m, "meta", "profile")
		switch want, ok := wantProfiles[r.Type]; {
		case r.Type == "Observation":
			if len(profiles) != 1 {
				t.Errorf("Observation/%s: profiles %v, want one", r.ID, profiles)
				break
			}
			codes, found := vitalLOINC[profiles[0]]
			if !found {
				t.Errorf("Observation/%s: unexpected profile %s", r.ID, profiles[0])
				break
			}
			vitalsSeen[profiles[0]] = true
			var have []string
			c, _ := get(m, "code", "coding")
			for _, x := range c.([]any) {
				if x.(map[string]any)["system"] == "http://loinc.org" {
					have = append(have, x.(map[string]any)["code"].(string))
				}
			}
			for _, code := range codes {
				if !slices.Contains(have, code) {
					t.Errorf("Observation/%s claims %s without LOINC %s (has %v)", r.ID, profiles[0], code, have)
				}
			}
		case !ok:
			t.Errorf("%s/%s: unexpected resource type", r.Type, r.ID)
		case want == "" && len(profiles) > 0:
			t.Errorf("%s/%s: profiles %v, want none", r.Type, r.ID, profiles)
		case want != "" && !slices.Equal(profiles, []string{want}):
			t.Errorf("%s/%s: profiles %v, want %s", r.Type, r.ID, profiles, want)
		}

		exts, hasExt := m["extension"].([]any)
		if r.Type != "Patient" {
			if hasExt {
				t.Errorf("%s/%s: unexpected extension %v", r.Type, r.ID, exts)
			}
			continue
		}
		rec := records[r.ID]
		got := map[string]map[string]any{}
		for _, e := range exts {
			e := e.(map[string]any)
			url, _ := e["url"].(string)
			if got[url] != nil {
				t.Errorf("Patient/%s: extension %s twice", r.ID, url)
			}
			got[url] = e
		}
		for url, e := range got {
			switch url {
			case usCore + "us-core-birthsex":
				want := map[string]string{"female": "F", "male": "M"}[rec.Patient.Gender]
				if want == "" {
					want = "UNK"
				}
				if e["valueCode"] != want {
					t.Errorf("Patient/%s: birth sex %v for gender %s, want %s", r.ID, e["valueCode"], rec.Patient.Gender, want)
				}
			case usCore + "us-core-race", usCore + "us-core-ethnicity":
				table, want := seed.RaceCategories(), rec.Patient.Race
				if strings.HasSuffix(url, "ethnicity") {
					table, want = seed.EthnicityCategories(), rec.Patient.Ethnicity
				}
				subs, _ := e["extension"].([]any)
				var omb []map[string]any
				var text string
				for _, s := range subs {
					s := s.(map[string]any)
					switch s["url"] {
					case "ombCategory":
						c, _ := s["valueCoding"].(map[string]any)
						omb = append(omb, c)
					case "text":
						text, _ = s["valueString"].(string)
					default:
						t.Errorf("Patient/%s %s: sub-extension %v", r.ID, url, s["url"])
					}
				}
				if len(omb) != 1 || !in(omb[0], table) || omb[0]["code"] != want.Code {
					t.Errorf("Patient/%s %s: ombCategory %v, want %+v from the seed's table", r.ID, url, omb, want)
				}
				if len(omb) == 1 && text != omb[0]["display"] {
					t.Errorf("Patient/%s %s: text %q (required) differs from the category", r.ID, url, text)
				}
				if len(omb) == 1 && strings.HasSuffix(url, "race") {
					races[omb[0]["code"].(string)] = true
				}
			default:
				t.Errorf("Patient/%s: unexpected extension %s", r.ID, url)
			}
		}
		for _, u := range []string{"us-core-race", "us-core-ethnicity", "us-core-birthsex"} {
			if got[usCore+u] == nil {
				t.Errorf("Patient/%s: no %s extension", r.ID, u)
			}
		}
	}
	for p := range vitalLOINC {
		if !vitalsSeen[p] {
			t.Errorf("no Observation claims %s in the population", p)
		}
	}
	if len(races) < 2 {
		t.Errorf("races in the population: %v", races)
	}
}

// r4Codes are the codes of the required bindings on CodeableConcepts that
// validate.R4 does not check, per system, from the R4 code systems.
var r4Codes = map[string][]string{
	"http://terminology.hl7.org/CodeSystem/condition-clinical":              {"active", "recurrence", "relapse", "inactive", "remission", "resolved"},
	"http://terminology.hl7.org/CodeSystem/condition-ver-status":            {"unconfirmed", "provisional", "differential", "confirmed", "refuted", "entered-in-error"},
	"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical":     {"active", "inactive", "resolved"},
	"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification": {"unconfirmed", "confirmed", "refuted", "entered-in-error"},
	"http://terminology.hl7.org/CodeSystem/condition-category":              {"problem-list-item", "encounter-diagnosis"},
	"http://terminology.hl7.org/CodeSystem/observation-category":            {"vital-signs"},
	"http://terminology.hl7.org/CodeSystem/subscriber-relationship":         {"child", "parent", "spouse", "common", "other", "self", "injured"},
	"http://terminology.hl7.org/CodeSystem/coverage-class":                  {"group", "plan"},
	"http://terminology.hl7.org/CodeSystem/coverage-selfpay":                {"pay"},
	"http://terminology.hl7.org/CodeSystem/organization-type":               {"prov", "pay"},
	"http://terminology.hl7.org/CodeSystem/v3-ActCode":                      {"AMB", "EMER", "IMP", "HH"},
	"http://terminology.hl7.org/CodeSystem/v3-ParticipationType":            {"ATND"},
	"http://terminology.hl7.org/CodeSystem/v2-0203":                         {"MR"},
}

// TestR4CodeSystems walks every coding of a population: HL7 code systems
// must have their R4 (terminology.hl7.org) URIs, never the STU3 ones, and
// the required-binding codes must be members of their code system.
func TestR4CodeSystems(t *testing.T) {
	t.Parallel()
	_, rs := r4Population(t, R4{})
	// Systems outside THO that a coding may use; identifier systems and
	// ContactPoint systems are not codings and are not walked.
	other := []string{"http://snomed.info/sct", "http://loinc.org", "http://www.nlm.nih.gov/research/umls/rxnorm",
		"http://unitsofmeasure.org", "urn:ietf:bcp:47", "urn:oid:2.16.840.1.113883.6.238"}
	seen := map[string]bool{}
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			sys, isStr := x["system"].(string)
			_, hasCode := x["code"]
			_, hasValue := x["value"]
			if isStr && hasCode && !hasValue { // a Coding (a Quantity has a value)
				seen[sys] = true
				code, _ := x["code"].(string)
				switch {
				case strings.HasPrefix(sys, "http://terminology.hl7.org/CodeSystem/"):
					codes, known := r4Codes[sys]
					if known && !slices.Contains(codes, code) {
						t.Errorf("%s: %s#%s is not in the code system", path, sys, code)
					}
					if !known && !strings.HasPrefix(sys, "http://terminology.hl7.org/CodeSystem/v3-") {
						t.Errorf("%s: code system %s not checked by this test", path, sys)
					}
				case !slices.Contains(other, sys):
					t.Errorf("%s: coding system %s is not an R4 code system URI", path, sys)
				}
			}
			for k, e := range x {
				walk(path+"."+k, e)
			}
		case []any:
			for _, e := range x {
				walk(path, e)
			}
		}
	}
	for _, r := range rs {
		walk(r.Type+"/"+r.ID, decode(t, r))
	}
	for sys := range r4Codes {
		if !seen[sys] {
			t.Errorf("no coding of %s in the population", sys)
		}
	}
}

// r4SearchParamNames are the R4 4.0.1 base search parameter names (from
// the specification's search-parameters.json) of the types the sandbox
// serves, limited to those a server of this data could offer.
var r4SearchParamNames = map[string][]string{
	"Patient": {"active", "address", "address-city", "address-country", "address-postalcode", "address-state",
		"address-use", "birthdate", "death-date", "deceased", "email", "family", "gender", "general-practitioner",
		"given", "identifier", "language", "link", "name", "organization", "phone", "phonetic", "telecom"},
	"Observation": {"based-on", "category", "code", "combo-code", "component-code", "date", "derived-from",
		"device", "encounter", "focus", "has-member", "identifier", "method", "part-of", "patient", "performer",
		"specimen", "status", "subject", "value-quantity"},
	"Condition": {"abatement-age", "abatement-date", "abatement-string", "asserter", "body-site", "category",
		"clinical-status", "code", "encounter", "evidence", "evidence-detail", "identifier", "onset-age",
		"onset-date", "onset-info", "patient", "recorded-date", "severity", "stage", "subject", "verification-status"},
	"Encounter": {"account", "appointment", "based-on", "class", "date", "diagnosis", "episode-of-care",
		"identifier", "length", "location", "location-period", "part-of", "participant", "participant-type",
		"patient", "practitioner", "reason-code", "reason-reference", "service-provider", "special-arrangement",
		"status", "subject", "type"},
	"AllergyIntolerance": {"asserter", "category", "clinical-status", "code", "criticality", "date",
		"identifier", "last-date", "manifestation", "onset", "patient", "recorder", "route", "severity", "type",
		"verification-status"},
	"MedicationRequest": {"authoredon", "category", "code", "date", "encounter", "identifier",
		"intended-dispenser", "intended-performer", "intended-performertype", "intent", "medication", "patient",
		"priority", "requester", "status", "subject"},
	"Coverage": {"beneficiary", "class-type", "class-value", "dependent", "identifier", "patient", "payor",
		"policy-holder", "status", "subscriber", "type"},
	"Location": {"address", "address-city", "address-country", "address-postalcode", "address-state",
		"address-use", "endpoint", "identifier", "name", "near", "operational-status", "organization", "partof",
		"status", "type"},
	"Practitioner": {"active", "address", "address-city", "address-country", "address-postalcode",
		"address-state", "address-use", "communication", "email", "family", "gender", "given", "identifier",
		"name", "phone", "phonetic", "telecom"},
	"Organization": {"active", "address", "address-city", "address-country", "address-postalcode",
		"address-state", "address-use", "endpoint", "identifier", "name", "partof", "phonetic", "type"},
}

// TestR4SearchParams checks each hand-written R4 parameter's name against
// the R4 base list and that at least one of its paths names an element the
// R4 renderer writes, so no parameter points at an STU3 element (context,
// assertedDate, grouping...) and silently matches nothing. The official
// parameters merged in from params_r4_gen.go cover elements the generated
// hospital never fills; TestOfficialParams checks those against the
// definitions.
func TestR4SearchParams(t *testing.T) {
	t.Parallel()
	_, rs := r4Population(t, R4{})
	elements := map[string]map[string]bool{} // type -> top-level element names seen
	for _, r := range rs {
		if elements[r.Type] == nil {
			elements[r.Type] = map[string]bool{}
		}
		for k := range decode(t, r) {
			elements[r.Type][k] = true
		}
	}
	// Parameters over elements the sandbox's data never fills, with why.
	unfilled := map[string]string{
		"Patient.deceased":             "deceasedBoolean: a deceased patient always has a date of death",
		"MedicationRequest.medication": "medications are codes, never references",
		"Coverage.identifier":          "the seed has no coverage identifier",
		"Location.identifier":          "the seed has no location identifier",
	}
	defs := r4HandParams()
	served := R4{}.SearchParams()
	for typ, params := range defs {
		if got := served[typ]; len(got) < len(params) || !reflect.DeepEqual(got[:len(params)], params) {
			t.Errorf("%s: the served parameters do not start with the hand-written ones", typ)
		}
		official, known := r4SearchParamNames[typ]
		if !known {
			t.Errorf("%s: not a type the sandbox serves", typ)
			continue
		}
		if len(elements[typ]) == 0 {
			t.Errorf("%s: no resource rendered", typ)
		}
		for _, p := range params {
			if !slices.Contains(official, p.Name) {
				t.Errorf("%s: %q is not an R4 search parameter", typ, p.Name)
			}
			filled := false
			for _, path := range p.Paths {
				filled = filled || elements[typ][strings.Split(path, ".")[0]]
			}
			if _, ok := unfilled[typ+"."+p.Name]; !filled && !ok {
				t.Errorf("%s?%s: none of %v is ever rendered", typ, p.Name, p.Paths)
			}
		}
	}
	if _, ok := served["MedicationOrder"]; ok {
		t.Error("R4 has no MedicationOrder")
	}
}

// TestR4Queries runs the Patients app's queries, in their R4 spelling, and
// the parameters R4 renamed, against an R4 store; every response is
// checked with validate.R4 by apiFixture.do.
func TestR4Queries(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, R4{}, 80)
	p := f.patientWith(t)
	pid := p.Patient.ID
	ids := func(r resp) []string {
		var out []string
		for _, e := range entries(r) {
			out = append(out, str(at(e, "resource.id")))
		}
		return out
	}
	search := func(q string) []string {
		t.Helper()
		r := f.do(t, "GET", "/"+q, nil)
		if r.status != 200 || at(r.json, "type") != "searchset" {
			t.Fatalf("%s: %d %.500s", q, r.status, r.body)
		}
		return ids(r)
	}
	wantIDs := func(q string, want []string) {
		t.Helper()
		got := search(q)
		slices.Sort(got)
		want = slices.Clone(want)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", q, got, want)
		}
	}
	var vitals, encs, conds, active, algs, meds []string
	for _, o := range p.Vitals {
		vitals = append(vitals, o.ID)
	}
	for _, e := range p.Encounters {
		encs = append(encs, e.ID)
	}
	for _, c := range p.Conditions {
		conds = append(conds, c.ID)
		if c.Clinical == "active" {
			active = append(active, c.ID)
		}
	}
	for _, a := range p.Allergies {
		algs = append(algs, a.ID)
	}
	for _, m := range p.Meds {
		meds = append(meds, m.ID)
	}
	wantIDs("Observation?patient="+pid+"&category=vital-signs&_sort=-date&_count=500", vitals)
	wantIDs("Encounter?patient="+pid, encs)
	wantIDs("Condition?patient="+pid+"&_count=100", conds)
	wantIDs("Condition?patient="+pid+"&clinical-status=active&_count=100", active)
	wantIDs("AllergyIntolerance?patient="+pid, algs)
	wantIDs("MedicationRequest?patient="+pid+"&intent=order&_count=100", meds)
	wantIDs("Coverage?patient="+pid, []string{p.Coverage.ID})

	// R4 links: encounter (not context) and recorded-date (not asserted-date).
	e := p.Conditions[0].EncounterID
	var atEnc []string
	for _, o := range p.Vitals {
		if o.EncounterID == e {
			atEnc = append(atEnc, o.ID)
		}
	}
	wantIDs("Observation?encounter="+e+"&_count=500", atEnc)
	rec := p.Conditions[0].Recorded.Format("2006-01-02")
	got := search("Condition?patient=" + pid + "&recorded-date=" + rec)
	if !slices.Contains(got, p.Conditions[0].ID) {
		t.Errorf("recorded-date=%s: %v lacks %s", rec, got, p.Conditions[0].ID)
	}
	if p.Coverage.PlanValue != "" {
		wantIDs("Coverage?class-value="+url.QueryEscape(p.Coverage.PlanValue), []string{p.Coverage.ID})
	}
	// Newest encounter first, as the client asks for it.
	if got := search("Encounter?patient=" + pid + "&_sort:desc=date&_count=1"); len(got) != 1 || got[0] != encs[len(encs)-1] {
		t.Errorf("newest encounter: %v, want %s", got, encs[len(encs)-1])
	}

	// The store keeps the profile beside its own meta.
	r := f.do(t, "GET", "/Patient/"+pid, nil)
	if at(r.json, "meta.versionId") != "1" || at(r.json, "meta.profile.0") != usCore+"us-core-patient" {
		t.Errorf("read Patient meta: %v", r.json["meta"])
	}
}
