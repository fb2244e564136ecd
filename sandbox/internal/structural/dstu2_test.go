package structural

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jsonedit"
)

func TestDSTU2DefinitionsLoad(t *testing.T) {
	t.Parallel()
	defs, err := loadDSTU2()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"Patient", "Practitioner", "Organization", "Location", "Encounter", "Observation",
		"Condition", "AllergyIntolerance", "MedicationOrder", "Coverage", "Bundle", "OperationOutcome", "Conformance"} {
		if !defs.resources[r] {
			t.Errorf("resource %s missing from the DSTU2 definitions", r)
		}
	}
	// Facts of DSTU2 that differ from STU3, so the embedded data is proven
	// to be the DSTU2 release and not a later one.
	family := defs.Types["HumanName"].byName["family"]
	if family == nil || family.Max != -1 {
		t.Errorf("HumanName.family = %+v, want max *", family)
	}
	if defs.Types["Coverage"].byName["issuer"] == nil || defs.Types["Coverage"].byName["payor"] != nil {
		t.Error("Coverage must have issuer and no payor in DSTU2")
	}
	if defs.resources["CapabilityStatement"] || defs.resources["MedicationRequest"] {
		t.Error("STU3-only resources present in DSTU2 definitions")
	}
	wantCodes := map[string][]string{
		"AdministrativeGender":          {"male", "female", "other", "unknown"},
		"ConditionVerificationStatus":   {"provisional", "differential", "confirmed", "refuted", "entered-in-error", "unknown"},
		"EncounterClass":                {"inpatient", "outpatient", "ambulatory", "emergency"},
		"MedicationOrderStatus":         {"active", "on-hold", "completed", "entered-in-error", "stopped", "draft"},
		"AllergyIntoleranceCriticality": {"CRITL", "CRITH", "CRITU"},
		"BundleType":                    {"searchset", "transaction", "document"},
	}
	for vs, codes := range wantCodes {
		for _, c := range codes {
			if !defs.valueSets[vs][c] {
				t.Errorf("value set %s lacks %q", vs, c)
			}
		}
	}
}

// officialDSTU2Resources returns the official examples: each file, and each
// resource of the Bundles standalone.
func officialDSTU2Resources(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "dstu2", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = b
		var bundle struct {
			ResourceType string `json:"resourceType"`
			Entry        []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(b, &bundle); err != nil {
			t.Fatal(err)
		}
		for i, e := range bundle.Entry {
			if len(e.Resource) > 0 {
				out[filepath.Base(f)+"#entry"+string(rune('0'+i))] = e.Resource
			}
		}
	}
	return out
}

func TestDSTU2OfficialExamplesPass(t *testing.T) {
	t.Parallel()
	types := map[string]bool{}
	for name, b := range officialDSTU2Resources(t) {
		var head struct{ ResourceType string }
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatal(err)
		}
		types[head.ResourceType] = true
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := DSTU2(b); err != nil {
				t.Errorf("official example rejected: %v", err)
			}
		})
	}
	for _, r := range []string{"Patient", "Practitioner", "Encounter", "Observation", "Condition", "AllergyIntolerance", "MedicationOrder", "Bundle"} {
		if !types[r] {
			t.Errorf("no official example of %s", r)
		}
	}
}

// Valid instances written from the DSTU2 definitions, for the resource types
// the official examples at hand do not cover.
var handWrittenDSTU2 = map[string]string{
	"Organization": `{"resourceType":"Organization","id":"org1","identifier":[{"system":"urn:oid:2.16.840.1.113883.4.4","value":"12-345"}],
		"active":true,"name":"General Hospital","telecom":[{"system":"phone","value":"555-0100","use":"work"}],
		"address":[{"use":"work","line":["1 Main St"],"city":"Springfield","postalCode":"12345","country":"USA"}]}`,
	"Location": `{"resourceType":"Location","id":"loc1","status":"active","name":"Ward 3","mode":"instance",
		"physicalType":{"coding":[{"system":"http://hl7.org/fhir/location-physical-type","code":"wa"}]},
		"position":{"longitude":-83.69,"latitude":42.25},"managingOrganization":{"reference":"Organization/org1"}}`,
	"Coverage": `{"resourceType":"Coverage","id":"cov1","issuer":{"reference":"Organization/org1"},"period":{"start":"2015-01-01"},
		"type":{"system":"http://hl7.org/fhir/v3/ActCode","code":"EHCPOL"},"subscriberId":{"value":"AB9876"},
		"plan":"CBI35","subscriber":{"reference":"Patient/p1"},"sequence":1,"dependent":1}`,
	"OperationOutcome": `{"resourceType":"OperationOutcome","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>not found</p></div>"},
		"issue":[{"severity":"error","code":"not-found","diagnostics":"Patient/x does not exist"}]}`,
	"Conformance": `{"resourceType":"Conformance","status":"active","date":"2016-01-01T00:00:00Z","kind":"instance","fhirVersion":"1.0.2",
		"acceptUnknown":"no","format":["application/json+fhir"],
		"rest":[{"mode":"server","security":{"cors":true,"service":[{"coding":[{"system":"http://hl7.org/fhir/restful-security-service","code":"SMART-on-FHIR"}]}],
		"extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris","extension":[{"url":"token","valueUri":"https://example.org/token"}]}]},
		"resource":[{"type":"Patient","interaction":[{"code":"read"},{"code":"search-type"}],"searchParam":[{"name":"family","type":"string"}]}]}]}`,
	"Bundle searchset": `{"resourceType":"Bundle","type":"searchset","total":1,"link":[{"relation":"self","url":"https://example.org/Patient?family=x"}],
		"entry":[{"fullUrl":"https://example.org/Patient/p1","resource":{"resourceType":"Patient","id":"p1","name":[{"family":["X"],"given":["Y"]}],"gender":"unknown",
		"contained":[{"resourceType":"Organization","id":"o","name":"Org"}],"managingOrganization":{"reference":"#o"}},"search":{"mode":"match"}}]}`,
}

func TestDSTU2HandWrittenInstancesPass(t *testing.T) {
	t.Parallel()
	for name, in := range handWrittenDSTU2 {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if err := DSTU2([]byte(in)); err != nil {
				t.Errorf("rejected: %v", err)
			}
		})
	}
}

func bundleEntry(t *testing.T, resourceType string) []byte {
	t.Helper()
	for name, b := range officialDSTU2Resources(t) {
		if !strings.Contains(name, "#entry") {
			continue
		}
		var head struct{ ResourceType string }
		if err := json.Unmarshal(b, &head); err != nil {
			t.Fatal(err)
		}
		if head.ResourceType == resourceType {
			return b
		}
	}
	t.Fatalf("no official %s example", resourceType)
	return nil
}

func TestDSTU2BrokenVariantsFail(t *testing.T) {
	t.Parallel()
	patient := bundleEntry(t, "Patient")
	obs := bundleEntry(t, "Observation")
	enc := bundleEntry(t, "Encounter")
	allergy := bundleEntry(t, "AllergyIntolerance")
	medOrder := bundleEntry(t, "MedicationOrder")
	condition := jsonedit.ReadExample(t, "dstu2", "condition-example2.json")
	bundle := jsonedit.ReadExample(t, "dstu2", "bundle-transaction.json")
	coverage := []byte(handWrittenDSTU2["Coverage"])
	oo := []byte(handWrittenDSTU2["OperationOutcome"])
	tests := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"family as string (stu3 shape)", jsonedit.Mutate(t, patient, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Arr(m["name"])[0])["family"] = "Chalmers"
		}), []string{"Patient.name[0].family: want array"}},
		{"coverage payor (stu3 name)", jsonedit.Mutate(t, coverage, func(m map[string]any) {
			m["payor"] = []any{m["issuer"]}
			delete(m, "issuer")
		}), []string{`Coverage: unknown element "payor"`}},
		{"observation category as array", jsonedit.Mutate(t, obs, func(m map[string]any) {
			m["category"] = []any{map[string]any{"text": "vital-signs"}}
		}), []string{"Observation.category: want single value"}},
		{"condition without verificationStatus", jsonedit.Mutate(t, condition, func(m map[string]any) {
			delete(m, "verificationStatus")
		}), []string{"Condition.verificationStatus: missing required element"}},
		{"bad gender code", jsonedit.Mutate(t, patient, func(m map[string]any) { m["gender"] = "M" }),
			[]string{`Patient.gender: code "M" not in required value set AdministrativeGender`}},
		{"bad encounter class", jsonedit.Mutate(t, enc, func(m map[string]any) { m["class"] = "IMP" }),
			[]string{`Encounter.class: code "IMP" not in required value set EncounterClass`}},
		{"bad allergy criticality (stu3 code)", jsonedit.Mutate(t, allergy, func(m map[string]any) { m["criticality"] = "high" }),
			[]string{"AllergyIntolerance.criticality", "AllergyIntoleranceCriticality"}},
		{"bad medication order status", jsonedit.Mutate(t, medOrder, func(m map[string]any) { m["status"] = "cancelled" }),
			[]string{"MedicationOrder.status", "MedicationOrderStatus"}},
		{"bad narrative status", jsonedit.Mutate(t, patient, func(m map[string]any) { jsonedit.Obj(m["text"])["status"] = "done" }),
			[]string{"Patient.text.status", "NarrativeStatus"}},
		{"bad issue severity", jsonedit.Mutate(t, oo, func(m map[string]any) { jsonedit.Obj(jsonedit.Arr(m["issue"])[0])["severity"] = "fatal-ish" }),
			[]string{"OperationOutcome.issue[0].severity", "IssueSeverity"}},
		{"unknown field", jsonedit.Mutate(t, patient, func(m map[string]any) { m["favouriteColour"] = "blue" }),
			[]string{`Patient: unknown element "favouriteColour"`}},
		{"bad date", jsonedit.Mutate(t, patient, func(m map[string]any) { m["birthDate"] = "1974-02-30" }),
			[]string{"Patient.birthDate", "no such day"}},
		{"date with wrong format", jsonedit.Mutate(t, patient, func(m map[string]any) { m["birthDate"] = "25/12/1974" }),
			[]string{`Patient.birthDate: invalid date "25/12/1974"`}},
		{"instant without time", jsonedit.Mutate(t, obs, func(m map[string]any) { m["issued"] = "2013-04-03" }),
			[]string{`Observation.issued: invalid instant`}},
		{"boolean as string", jsonedit.Mutate(t, patient, func(m map[string]any) { m["active"] = "true" }),
			[]string{"Patient.active: want boolean, got string"}},
		{"integer as string", jsonedit.Mutate(t, coverage, func(m map[string]any) { m["sequence"] = "1" }),
			[]string{"Coverage.sequence: want positiveInt as JSON number"}},
		{"positiveInt zero", jsonedit.Mutate(t, coverage, func(m map[string]any) { m["sequence"] = 0 }),
			[]string{"Coverage.sequence: invalid positiveInt 0"}},
		{"decimal with exponent", []byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1e3}}`),
			[]string{"Observation.valueQuantity.value: invalid decimal 1e3"}},
		{"bad id", jsonedit.Mutate(t, patient, func(m map[string]any) { m["id"] = "a b" }), []string{`Patient.id: invalid id "a b"`}},
		{"choice type not allowed", jsonedit.Mutate(t, obs, func(m map[string]any) { m["valueAddress"] = map[string]any{"city": "x"}; delete(m, "valueString") }),
			[]string{`Observation: unknown element "valueAddress"`}},
		{"two choices at once", jsonedit.Mutate(t, obs, func(m map[string]any) { m["valueQuantity"] = map[string]any{"value": 1} }),
			[]string{"given for value[x]"}},
		{"object where string expected", jsonedit.Mutate(t, obs, func(m map[string]any) { m["valueString"] = map[string]any{"x": 1} }),
			[]string{"Observation.valueString: want string as JSON string, got object"}},
		{"reference to a disallowed type", jsonedit.Mutate(t, obs, func(m map[string]any) { m["subject"] = map[string]any{"reference": "Medication/1"} }),
			[]string{"Observation.subject.reference: reference to Medication"}},
		{"nested resource in bundle", jsonedit.Mutate(t, bundle, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Obj(jsonedit.Arr(m["entry"])[0])["resource"])["gender"] = "bloke"
		}), []string{`Bundle.entry[0].resource.gender: code "bloke"`}},
		{"unknown resourceType in bundle", jsonedit.Mutate(t, bundle, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Obj(jsonedit.Arr(m["entry"])[0])["resource"])["resourceType"] = "CapabilityStatement"
		}), []string{`Bundle.entry[0].resource: unknown resourceType "CapabilityStatement"`}},
		{"contained resource checked", jsonedit.Mutate(t, patient, func(m map[string]any) {
			m["contained"] = []any{map[string]any{"resourceType": "Organization", "id": "o", "nickname": "x"}}
		}), []string{`Patient.contained[0]: unknown element "nickname"`}},
		{"primitive extension on complex element", jsonedit.Mutate(t, patient, func(m map[string]any) {
			m["_address"] = []any{map[string]any{"id": "x"}}
		}), []string{"Patient._address: extension sibling for non-primitive element"}},
		{"extension without url", jsonedit.Mutate(t, patient, func(m map[string]any) {
			m["extension"] = []any{map[string]any{"valueString": "x"}}
		}), []string{"Patient.extension[0].url: missing required element"}},
		{"div that is not a div", jsonedit.Mutate(t, patient, func(m map[string]any) { jsonedit.Obj(m["text"])["div"] = "<p>x</p>" }),
			[]string{"Patient.text.div: xhtml root is <p>"}},
		{"empty string", jsonedit.Mutate(t, patient, func(m map[string]any) { jsonedit.Obj(jsonedit.Arr(m["name"])[0])["text"] = "" }),
			[]string{"Patient.name[0].text: empty string"}},
		{"resource not an object", []byte(`"Patient"`), []string{"want resource object"}},
		{"missing resourceType", []byte(`{"id":"x"}`), []string{"missing resourceType"}},
		{"stu3 resource type", []byte(`{"resourceType":"MedicationRequest"}`), []string{`unknown resourceType "MedicationRequest"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jsonedit.WantProblems(t, DSTU2(tc.input), tc.want...)
		})
	}
}
