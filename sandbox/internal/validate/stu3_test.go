package validate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jsonedit"
)

func TestSTU3OfficialExamplesPass(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "stu3", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "SOURCE-") {
			continue
		}
		n++
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := STU3(b); err != nil {
				t.Errorf("official example rejected: %v", err)
			}
		})
	}
	if n < 13 {
		t.Fatalf("found %d stu3 examples, want at least 13", n)
	}
}

func TestSTU3BrokenVariantsFail(t *testing.T) {
	t.Parallel()
	patient := jsonedit.ReadExample(t, "stu3", "Patient-null.json")
	obs := jsonedit.ReadExample(t, "stu3", "Observation-example.json")
	bundle := jsonedit.ReadExample(t, "stu3", "Bundle-bundle-transaction.json")
	oo := jsonedit.ReadExample(t, "stu3", "OperationOutcome-101.json")
	tests := []struct {
		name  string
		input []byte
		want  []string
	}{
		{"unknown element", jsonedit.Mutate(t, patient, func(m map[string]any) { m["favouriteColour"] = "blue" }),
			[]string{"Patient: unknown field", "favouriteColour"}},
		{"family as array (dstu2 shape)", jsonedit.Mutate(t, patient, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Arr(m["name"])[0])["family"] = []any{"Chalmers"}
		}), []string{"Patient.name[0].family"}},
		{"bad date", jsonedit.Mutate(t, patient, func(m map[string]any) { m["birthDate"] = "1974-13-45" }),
			[]string{"Patient.birthDate", "date"}},
		{"invalid gender code", jsonedit.Mutate(t, patient, func(m map[string]any) { m["gender"] = "M" }),
			[]string{"Patient.gender"}},
		{"missing required status", jsonedit.Mutate(t, obs, func(m map[string]any) { delete(m, "status") }),
			[]string{"Observation", `missing required field "status"`}},
		{"invalid observation status", jsonedit.Mutate(t, obs, func(m map[string]any) { m["status"] = "done" }),
			[]string{"Observation.status"}},
		{"reference to a disallowed type", jsonedit.Mutate(t, obs, func(m map[string]any) {
			m["subject"] = map[string]any{"reference": "Medication/1"}
		}), []string{"Observation.subject", "Medication"}},
		{"choice type with a type not allowed", jsonedit.Mutate(t, obs, func(m map[string]any) {
			delete(m, "valueQuantity")
			m["valueAddress"] = map[string]any{"city": "x"}
		}), []string{"Observation", "valueAddress"}},
		{"empty string", jsonedit.Mutate(t, obs, func(m map[string]any) { jsonedit.Obj(m["code"])["text"] = "" }),
			[]string{"Observation.code.text: empty string"}},
		{"null value", jsonedit.Mutate(t, obs, func(m map[string]any) { m["issued"] = nil }),
			[]string{"Observation.issued: null value"}},
		{"empty array", jsonedit.Mutate(t, obs, func(m map[string]any) { m["performer"] = []any{} }),
			[]string{"Observation.performer: empty array"}},
		{"narrative div without xhtml namespace", jsonedit.Mutate(t, obs, func(m map[string]any) {
			jsonedit.Obj(m["text"])["div"] = "<div>weight</div>"
		}), []string{"Observation.text.div", "xhtml"}},
		{"narrative div not well-formed", jsonedit.Mutate(t, obs, func(m map[string]any) {
			jsonedit.Obj(m["text"])["div"] = `<div xmlns="http://www.w3.org/1999/xhtml"><p>weight</div>`
		}), []string{"Observation.text.div", "well-formed"}},
		{"upper camel case element", jsonedit.Mutate(t, patient, func(m map[string]any) { m["Gender"] = m["gender"] }),
			[]string{`invalid element name "Gender"`}},
		{"nested resource in bundle", jsonedit.Mutate(t, bundle, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Obj(jsonedit.Arr(m["entry"])[0])["resource"])["gender"] = "bloke"
		}), []string{"Bundle.entry[0].resource", "gender"}},
		{"operation outcome issue code", jsonedit.Mutate(t, oo, func(m map[string]any) {
			jsonedit.Obj(jsonedit.Arr(m["issue"])[0])["code"] = "oops"
		}), []string{"OperationOutcome.issue[0].code"}},
		{"unknown resource type", []byte(`{"resourceType":"MedicationOrder","status":"active"}`),
			[]string{"unknown resource type"}},
		{"duplicate key", []byte(`{"resourceType":"Patient","gender":"male","gender":"female"}`),
			[]string{`duplicate key "gender"`}},
		{"trailing data", []byte(`{"resourceType":"Patient"} {}`), []string{"after the top-level value"}},
		{"not an object", []byte(`["Patient"]`), []string{"stu3"}},
		{"empty input", nil, []string{"empty input"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			jsonedit.WantProblems(t, STU3(tc.input), tc.want...)
		})
	}
}

func TestSTU3PrimitiveExtensionsAllowed(t *testing.T) {
	t.Parallel()
	valid := []string{
		`{"resourceType":"Patient","_birthDate":{"extension":[{"url":"http://example.org/x","valueString":"a"}]}}`,
		`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"extension":[{"url":"http://example.org/x","valueString":"b"}]}]}]}`,
	}
	for _, in := range valid {
		if err := STU3([]byte(in)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
	invalid := map[string]string{
		`{"resourceType":"Patient","_birthDate":{"url":"x"}}`:                           `unknown element "url" in primitive extension`,
		`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,null]}]}`: "null on both sides",
		`{"resourceType":"Patient","name":[{"given":["A"],"_given":[null,null]}]}`:      "has 2 items",
		`{"resourceType":"Patient","name":[{"given":["A",null]}]}`:                      "null value without extension",
		`{"resourceType":"Patient","_birthDate":"x"}`:                                   "want object",
	}
	for in, want := range invalid {
		jsonedit.WantProblems(t, STU3([]byte(in)), want)
	}
}
