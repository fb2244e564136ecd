package validate

import (
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jsonedit"
)

// r4Examples are small R4 (4.0.1) resources written from the R4 resource
// pages, one per type the sandbox serves, each using an element whose
// shape R4 changed from STU3.
var r4Examples = map[string]string{
	"Patient": `{"resourceType":"Patient","id":"p1","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},
		"extension":[{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[
			{"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2106-3","display":"White"}},
			{"url":"text","valueString":"White"}]},
			{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex","valueCode":"F"}],
		"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]},"system":"urn:uuid:0f8fad5b-d9cb-469f-a165-70867728950e","value":"1"}],
		"name":[{"family":"Chalmers","given":["Peter"]}],"gender":"female","birthDate":"1974-12-25","deceasedDateTime":"2020-01-01T00:00:00Z"}`,
	"Encounter": `{"resourceType":"Encounter","id":"e1","status":"finished",
		"class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
		"subject":{"reference":"Patient/p1"},"reasonCode":[{"text":"check-up"}],"period":{"start":"2020-01-01T10:00:00Z"}}`,
	"Observation": `{"resourceType":"Observation","id":"o1","status":"final",
		"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
		"code":{"coding":[{"system":"http://loinc.org","code":"8310-5"}]},"subject":{"reference":"Patient/p1"},
		"encounter":{"reference":"Encounter/e1"},"effectiveDateTime":"2020-01-01T10:05:00Z",
		"valueQuantity":{"value":36.6,"unit":"Cel","system":"http://unitsofmeasure.org","code":"Cel"}}`,
	"Condition": `{"resourceType":"Condition","id":"c1",
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},
		"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},
		"code":{"text":"hypertension"},"subject":{"reference":"Patient/p1"},"encounter":{"reference":"Encounter/e1"},
		"recordedDate":"2020-01-01T10:10:00Z"}`,
	"AllergyIntolerance": `{"resourceType":"AllergyIntolerance","id":"a1",
		"clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical","code":"active"}]},
		"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/allergyintolerance-verification","code":"confirmed"}]},
		"type":"allergy","category":["food"],"criticality":"high","code":{"text":"peanut"},
		"patient":{"reference":"Patient/p1"},"recordedDate":"2020-01-01T10:10:00Z"}`,
	"MedicationRequest": `{"resourceType":"MedicationRequest","id":"m1","status":"active","intent":"order",
		"medicationCodeableConcept":{"text":"lisinopril"},"subject":{"reference":"Patient/p1"},
		"encounter":{"reference":"Encounter/e1"},"authoredOn":"2020-01-01T10:15:00Z",
		"requester":{"reference":"Practitioner/d1","display":"Dr. X"}}`,
	"Coverage": `{"resourceType":"Coverage","id":"cv1","status":"active","beneficiary":{"reference":"Patient/p1"},
		"relationship":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/subscriber-relationship","code":"self"}]},
		"payor":[{"reference":"Organization/o1"}],
		"class":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/coverage-class","code":"plan"}]},"value":"PLN-1","name":"Gold"}]}`,
}

func TestR4ExamplesPass(t *testing.T) {
	t.Parallel()
	for name, in := range r4Examples {
		if err := R4([]byte(in)); err != nil {
			t.Errorf("%s rejected: %v", name, err)
		}
	}
}

// TestR4BrokenVariantsFail changes one element of a valid example at a
// time; most turn it into its STU3 shape, which R4 must reject.
func TestR4BrokenVariantsFail(t *testing.T) {
	t.Parallel()
	ex := func(name string) []byte { return []byte(r4Examples[name]) }
	tests := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"stu3 clinicalStatus as code", jsonedit.Mutate(t, ex("Condition"), func(m map[string]any) { m["clinicalStatus"] = "active" }),
			[]string{"clinicalStatus"}},
		{"stu3 assertedDate", jsonedit.Mutate(t, ex("Condition"), func(m map[string]any) { m["assertedDate"] = "2020-01-01" }),
			[]string{"unknown field", "assertedDate"}},
		{"stu3 context", jsonedit.Mutate(t, ex("Observation"), func(m map[string]any) { m["context"] = m["encounter"] }),
			[]string{"unknown field", "context"}},
		{"stu3 requester.agent", jsonedit.Mutate(t, ex("MedicationRequest"), func(m map[string]any) {
			m["requester"] = map[string]any{"agent": map[string]any{"reference": "Practitioner/d1"}}
		}), []string{"MedicationRequest.requester", "agent"}},
		{"stu3 allergy verificationStatus as code", jsonedit.Mutate(t, ex("AllergyIntolerance"), func(m map[string]any) {
			m["verificationStatus"] = "confirmed"
		}), []string{"verificationStatus"}},
		{"stu3 coverage grouping", jsonedit.Mutate(t, ex("Coverage"), func(m map[string]any) {
			m["grouping"] = map[string]any{"plan": "PLN-1"}
		}), []string{"unknown field", "grouping"}},
		{"coverage class without value", jsonedit.Mutate(t, ex("Coverage"), func(m map[string]any) {
			delete(jsonedit.Obj(jsonedit.Arr(m["class"])[0]), "value")
		}), []string{"Coverage.class[0]", `missing required field "value"`}},
		{"coverage without beneficiary", jsonedit.Mutate(t, ex("Coverage"), func(m map[string]any) { delete(m, "beneficiary") }),
			[]string{`missing required field "beneficiary"`}},
		{"coverage without payor", jsonedit.Mutate(t, ex("Coverage"), func(m map[string]any) { delete(m, "payor") }),
			[]string{`missing required field "payor"`}},
		{"stu3 encounter reason", jsonedit.Mutate(t, ex("Encounter"), func(m map[string]any) { m["reason"] = m["reasonCode"] }),
			[]string{"unknown field", "reason"}},
		{"invalid intent", jsonedit.Mutate(t, ex("MedicationRequest"), func(m map[string]any) { m["intent"] = "orders" }),
			[]string{"MedicationRequest.intent"}},
		{"invalid gender", jsonedit.Mutate(t, ex("Patient"), func(m map[string]any) { m["gender"] = "F" }),
			[]string{"Patient.gender"}},
		{"extension without url", jsonedit.Mutate(t, ex("Patient"), func(m map[string]any) {
			delete(jsonedit.Obj(jsonedit.Arr(m["extension"])[1]), "url")
		}), []string{"Patient.extension[1]", `missing required field "url"`}},
		{"requester of a disallowed type", jsonedit.Mutate(t, ex("MedicationRequest"), func(m map[string]any) {
			m["requester"] = map[string]any{"reference": "Location/l1"}
		}), []string{"requester", "Location"}},
		{"empty string", jsonedit.Mutate(t, ex("Observation"), func(m map[string]any) { jsonedit.Obj(m["valueQuantity"])["unit"] = "" }),
			[]string{"Observation.valueQuantity.unit: empty string"}},
		{"dstu2 resource type", []byte(`{"resourceType":"MedicationOrder","status":"active"}`),
			[]string{"unknown resource type"}},
		{"empty input", nil, []string{"empty input"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jsonedit.WantProblems(t, R4(tc.input), tc.want...)
		})
	}
}
