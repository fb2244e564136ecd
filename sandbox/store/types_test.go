package store

import (
	"errors"
	"testing"
	"time"
)

// typesDefs declares a parameter of each type added for the official
// tables: quantity, number, uri, and a reference on a canonical.
func typesDefs() Definitions {
	return Definitions{
		"Observation": {
			{Name: "value-quantity", Type: Quantity, Paths: []string{"valueQuantity", "component.valueQuantity"}},
		},
		"RiskAssessment": {
			{Name: "probability", Type: Number, Paths: []string{"prediction.probabilityDecimal"}},
		},
		"ValueSet": {
			{Name: "url", Type: URI, Paths: []string{"url"}},
		},
		"Questionnaire": {
			{Name: "definition", Type: Reference, Paths: []string{"derivedFrom"}},
		},
	}
}

func newTypesStore(t *testing.T) *Store {
	t.Helper()
	s := New(typesDefs(), fixedNow)
	docs := []string{
		`{"resourceType":"Observation","id":"w1","valueQuantity":{"value":70.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}}`,
		`{"resourceType":"Observation","id":"w2","valueQuantity":{"value":154,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"}}`,
		`{"resourceType":"Observation","id":"w3","valueQuantity":{"value":100,"unit":"mg"}}`,
		`{"resourceType":"Observation","id":"w4","component":[{"valueQuantity":{"value":120,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}},{"valueQuantity":{"value":80,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}`,
		`{"resourceType":"Observation","id":"w5","valueString":"none"}`,
		`{"resourceType":"RiskAssessment","id":"r1","prediction":[{"probabilityDecimal":0.25}]}`,
		`{"resourceType":"RiskAssessment","id":"r2","prediction":[{"probabilityDecimal":0.8},{"probabilityDecimal":0.05}]}`,
		`{"resourceType":"RiskAssessment","id":"r3","prediction":[{"probabilityDecimal":100}]}`,
		`{"resourceType":"ValueSet","id":"v1","url":"http://example.org/fhir/ValueSet/a"}`,
		`{"resourceType":"ValueSet","id":"v2","url":"http://example.org/fhir/ValueSet/a/b"}`,
		`{"resourceType":"ValueSet","id":"v3","url":"http://other.org/ValueSet/c"}`,
		`{"resourceType":"Questionnaire","id":"q1","derivedFrom":["http://example.org/fhir/Questionnaire/base|1.0"]}`,
	}
	for _, d := range docs {
		if _, err := s.Put([]byte(d), "", time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestSearchQuantityNumberURI(t *testing.T) {
	t.Parallel()
	s := newTypesStore(t)
	defs := typesDefs()
	cases := []struct {
		typ, query, want string
	}{
		// quantity: prefixes, the precision of the value, units
		{"Observation", "value-quantity=70.5", "w1"},
		{"Observation", "value-quantity=70", ""},            // [69.5, 70.5) excludes 70.5
		{"Observation", "value-quantity=71", "w1"},          // [70.5, 71.5)
		{"Observation", "value-quantity=eq154", "w2"},       // integer value
		{"Observation", "value-quantity=gt100", "w2,w4"},    // components count
		{"Observation", "value-quantity=ge100", "w2,w3,w4"}, //
		{"Observation", "value-quantity=lt80", "w1"},        //
		{"Observation", "value-quantity=le80", "w1,w4"},     //
		{"Observation", "value-quantity=ne100", "w1,w2,w4"}, // w4: a component is not 100
		{"Observation", "value-quantity=ap110", "w3,w4"},    // within 10%
		{"Observation", "value-quantity=sa150", "w2"},       //
		{"Observation", "value-quantity=eb71", "w1"},        //
		{"Observation", "value-quantity=1e2", "w3"},         // an exponent is exact
		{"Observation", "value-quantity=gt0|http://unitsofmeasure.org|kg", "w1"},
		{"Observation", "value-quantity=gt0|http://unitsofmeasure.org|", "w1,w2,w4"},
		{"Observation", "value-quantity=100||mg", "w3"}, // the unit when there is no code
		{"Observation", "value-quantity=gt0||mm[Hg]", "w4"},
		{"Observation", "value-quantity=70.5,154", "w1,w2"},
		{"Observation", "value-quantity:missing=true", "w5"},
		{"Observation", "value-quantity=gt0&_sort=-value-quantity", "w2,w4,w3,w1"},
		{"Observation", "value-quantity=gt0&_sort=value-quantity", "w1,w4,w3,w2"},
		// number
		{"RiskAssessment", "probability=0.25", "r1"},
		{"RiskAssessment", "probability=gt0.5", "r2,r3"},
		{"RiskAssessment", "probability=lt0.1", "r2"},
		{"RiskAssessment", "probability=100", "r3"},
		{"RiskAssessment", "probability=ap0.26", "r1"},
		{"RiskAssessment", "_sort=probability", "r2,r1,r3"},
		// uri
		{"ValueSet", "url=http://example.org/fhir/ValueSet/a", "v1"},
		{"ValueSet", "url=http://example.org/fhir/ValueSet", ""},
		{"ValueSet", "url:below=http://example.org/fhir/ValueSet", "v1,v2"},
		{"ValueSet", "url:above=http://example.org/fhir/ValueSet/a/b/c", "v1,v2"},
		{"ValueSet", "url=http://other.org/ValueSet/c,http://example.org/fhir/ValueSet/a/b", "v2,v3"},
		{"ValueSet", "url:missing=false", "v1,v2,v3"},
		// a reference parameter on a canonical
		{"Questionnaire", "definition=http://example.org/fhir/Questionnaire/base", "q1"},
		{"Questionnaire", "definition=Questionnaire/base", "q1"},
	}
	for _, c := range cases {
		q, err := defs.ParseQuery(c.typ, parseKV(c.query), Options{DefaultCount: 10, MaxCount: 100})
		if err != nil {
			t.Errorf("%s?%s: %v", c.typ, c.query, err)
			continue
		}
		if got := ids(s.Search(q)); got != c.want {
			t.Errorf("%s?%s = %q; want %q", c.typ, c.query, got, c.want)
		}
	}
}

func TestParseQueryErrorsQuantityNumberURI(t *testing.T) {
	t.Parallel()
	defs := typesDefs()
	cases := []struct {
		typ, query, param, code string
	}{
		{"Observation", "value-quantity=heavy", "value-quantity", "value"},
		{"Observation", "value-quantity=5|kg", "value-quantity", "value"},
		{"Observation", "value-quantity=gtNaN", "value-quantity", "value"},
		{"Observation", "value-quantity:exact=5", "value-quantity:exact", "code-invalid"},
		{"RiskAssessment", "probability=1e999", "probability", "value"},
		{"RiskAssessment", "probability:below=1", "probability:below", "code-invalid"},
		{"ValueSet", "url:contains=x", "url:contains", "code-invalid"},
	}
	for _, c := range cases {
		_, err := defs.ParseQuery(c.typ, parseKV(c.query), Options{DefaultCount: 10, MaxCount: 100})
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != c.param || pe.Code != c.code {
			t.Errorf("%s?%s: got %v, want ParamError{%s, %s}", c.typ, c.query, err, c.param, c.code)
		}
	}
}
