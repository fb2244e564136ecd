package spgen

import (
	"fmt"
	"testing"
)

func TestTranslate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		def           Def
		base          string
		paths, target string
		why           string
	}{
		{Def{Code: "family", Type: "string", Expression: "Patient.name.family"}, "Patient", "[name.family]", "", ""},
		{Def{Code: "code", Type: "token", Base: []string{"AllergyIntolerance", "MedicationRequest"},
			Expression: "AllergyIntolerance.code | AllergyIntolerance.reaction.substance | (MedicationRequest.medication as CodeableConcept)"},
			"MedicationRequest", "[medicationCodeableConcept]", "", ""},
		{Def{Code: "code", Type: "token", Base: []string{"AllergyIntolerance", "MedicationRequest"},
			Expression: "AllergyIntolerance.code | AllergyIntolerance.reaction.substance | (MedicationRequest.medication as CodeableConcept)"},
			"AllergyIntolerance", "[code reaction.substance]", "", ""},
		{Def{Code: "patient", Type: "reference", Expression: "Account.subject.where(resolve() is Patient)", Target: []string{"Patient"}}, "Account", "[subject]", "Patient", ""},
		{Def{Code: "subject", Type: "reference", Expression: "Account.subject", Target: []string{"Patient", "Device"}}, "Account", "[subject]", "", ""},
		{Def{Code: "owner", Type: "reference", Expression: "Account.owner", Target: []string{"Organization"}}, "Account", "[owner]", "Organization", ""},
		{Def{Code: "onset-date", Type: "date", Expression: "Condition.onset.as(dateTime) | Condition.onset.as(Period)"}, "Condition", "[onsetDateTime onsetPeriod]", "", ""},
		{Def{Code: "date", Type: "date", Expression: "Observation.effective",
			XPath: "f:Observation/f:effectiveDateTime | f:Observation/f:effectivePeriod"}, "Observation", "[effectiveDateTime effectivePeriod]", "", ""},
		{Def{Code: "value-quantity", Type: "quantity", Expression: "(Observation.value as Quantity) | (Observation.component.value as Quantity)"}, "Observation", "[valueQuantity component.valueQuantity]", "", ""},
		{Def{Code: "phone", Type: "token", Expression: "Patient.telecom.where(system='phone')"}, "Patient", "", "", WhyFunction},
		{Def{Code: "deceased", Type: "token", Expression: "Patient.deceased.exists() and Patient.deceased != false"}, "Patient", "", "", WhyFunction},
		{Def{Code: "code-value-quantity", Type: "composite", Expression: "Observation"}, "Observation", "", "", WhyType},
		{Def{Code: "near", Type: "special", Expression: "Location.position"}, "Location", "", "", WhyType},
		{Def{Code: "x", Type: "token"}, "Basic", "", "", WhyExpression},
	}
	for _, c := range cases {
		if c.def.Base == nil {
			c.def.Base = []string{c.base}
		}
		p, why := translate(c.def, c.base)
		if why != c.why || why == "" && (fmt.Sprint(p.Paths) != c.paths || p.Target != c.target) {
			t.Errorf("%s %q: got %v %q %q, want %s %q %q", c.base, c.def.Expression, p.Paths, p.Target, why, c.paths, c.target, c.why)
		}
	}
}

func TestDoc(t *testing.T) {
	t.Parallel()
	desc := "Multiple Resources: \r\n\r\n* [AllergyIntolerance](allergyintolerance.html): Code that identifies the allergy\r\n* [Condition](condition.html): Code for the condition\r\n"
	if got := doc(desc, "Condition"); got != "Code for the condition" {
		t.Errorf("doc = %q", got)
	}
	if got := doc("The  patient\nmore", "Account"); got != "The patient" {
		t.Errorf("doc = %q", got)
	}
}
