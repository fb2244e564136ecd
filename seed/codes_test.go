package seed

import (
	"math"
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// refCodes is testdata/clinical-codes.yaml, the project's reference code
// list, in the shape the tables are checked against.
type refCoding struct {
	System  string `yaml:"system"`
	Code    string `yaml:"code"`
	Display string `yaml:"display"`
}

type refRange struct {
	Low  float64 `yaml:"low"`
	High float64 `yaml:"high"`
}

type refVital struct {
	refCoding  `yaml:",inline"`
	Key        string    `yaml:"key"`
	Unit       string    `yaml:"unit"`
	UCUM       string    `yaml:"ucum"`
	AdultRange *refRange `yaml:"adult_range"`
	ChildRange *refRange `yaml:"child_range"`
	AlsoCode   refCoding `yaml:"also_code"`
	// SyntheaCode is the code Synthea (R4) writes where the profile code
	// of STU3 differs; head circumference's is the R4 base profile's.
	SyntheaCode refCoding `yaml:"synthea_code"`
}

type refCodes struct {
	CodeSystems     map[string]string `yaml:"code_systems"`
	IdentifierTypes map[string]struct {
		refCoding `yaml:",inline"`
	} `yaml:"identifier_types"`
	VitalSigns  []refVital `yaml:"vital_signs"`
	VitalPanels struct {
		BloodPressure struct {
			STU3       refCoding  `yaml:"stu3"`
			DSTU2      refCoding  `yaml:"dstu2"`
			Components []refVital `yaml:"components"`
		} `yaml:"blood_pressure"`
	} `yaml:"vital_sign_panels"`
	Conditions []struct {
		refCoding `yaml:",inline"`
		Kind      string `yaml:"kind"`
	} `yaml:"conditions"`
	ConditionSeverity []refCoding            `yaml:"condition_severity"`
	Medications       map[string][]refCoding `yaml:"medications"`
	Allergies         struct {
		Substances []struct {
			refCoding `yaml:",inline"`
			Category  string `yaml:"category"`
		} `yaml:"substances"`
		Reactions []refCoding `yaml:"reactions"`
	} `yaml:"allergies"`
	EncounterTypes []struct {
		refCoding `yaml:",inline"`
		Class     string `yaml:"class"`
	} `yaml:"encounter_types"`
	Payers []struct {
		Name      string `yaml:"name"`
		Ownership string `yaml:"ownership"`
	} `yaml:"payers"`
}

func loadRefCodes(t testing.TB) *refCodes {
	t.Helper()
	b, err := os.ReadFile("testdata/clinical-codes.yaml")
	if err != nil {
		t.Fatalf("read reference codes: %v", err)
	}
	var rc refCodes
	if err := yaml.Unmarshal(b, &rc); err != nil {
		t.Fatalf("parse reference codes: %v", err)
	}
	if len(rc.Conditions) == 0 || len(rc.Medications) == 0 || len(rc.VitalSigns) == 0 {
		t.Fatalf("reference codes parsed empty: %+v", rc)
	}
	return &rc
}

func same(c Coding, r refCoding) bool {
	return c.System == r.System && c.Code == r.Code && c.Display == r.Display
}

func tenthsOf(r *refRange) tenths {
	if r == nil {
		return tenths{}
	}
	return tenths{int(math.Round(r.Low * 10)), int(math.Round(r.High * 10))}
}

// TestCodeTablesComeFromReference proves that every System/Code/Display in
// the Go tables, and the yaml attributes copied with them (kind, class,
// category, unit, ranges, payer names), appear in the reference yaml under
// the group the table names.
func TestCodeTablesComeFromReference(t *testing.T) {
	t.Parallel()
	rc := loadRefCodes(t)

	t.Run("code systems", func(t *testing.T) {
		for name, uri := range map[string]string{"SNOMED-CT": SystemSNOMED, "LOINC": SystemLOINC, "RxNorm": SystemRxNorm, "UCUM": SystemUCUM} {
			if rc.CodeSystems[name] != uri {
				t.Errorf("code system %s = %q, yaml has %q", name, uri, rc.CodeSystems[name])
			}
		}
	})
	t.Run("identifier_types", func(t *testing.T) {
		if !same(MRNType(), rc.IdentifierTypes["mrn"].refCoding) {
			t.Errorf("MRNType %+v not in identifier_types.mrn %+v", MRNType(), rc.IdentifierTypes["mrn"])
		}
	})
	t.Run("vital_signs", func(t *testing.T) {
		refs := append(append([]refVital(nil), rc.VitalSigns...), rc.VitalPanels.BloodPressure.Components...)
		for _, v := range vitalSigns {
			found := false
			for _, r := range refs {
				if r.Key != v.Key {
					continue
				}
				found = true
				if !same(v.Code, r.refCoding) || v.Unit != r.Unit || v.UCUM != r.UCUM {
					t.Errorf("vital %s = %+v %q %q, yaml %+v %q %q", v.Key, v.Code, v.Unit, v.UCUM, r.refCoding, r.Unit, r.UCUM)
				}
				if v.Adult != tenthsOf(r.AdultRange) || v.Child != tenthsOf(r.ChildRange) {
					t.Errorf("vital %s ranges %+v %+v, yaml %+v %+v", v.Key, v.Adult, v.Child, r.AdultRange, r.ChildRange)
				}
			}
			if !found {
				t.Errorf("vital %s not in yaml", v.Key)
			}
		}
		var spo2 refCoding
		for _, r := range rc.VitalSigns {
			if r.Key == "oxygen_saturation" {
				spo2 = r.AlsoCode
			}
		}
		if !same(spO2Also, spo2) {
			t.Errorf("spO2Also %+v, yaml also_code %+v", spO2Also, spo2)
		}
		var head refCoding
		for _, r := range rc.VitalSigns {
			if r.Key == "head_circumference" {
				head = r.SyntheaCode
			}
		}
		if !same(headCircR4, head) {
			t.Errorf("headCircR4 %+v, yaml head_circumference synthea_code %+v", headCircR4, head)
		}
		if !same(bpPanelSTU3, rc.VitalPanels.BloodPressure.STU3) || !same(bpPanelDSTU2, rc.VitalPanels.BloodPressure.DSTU2) {
			t.Errorf("blood pressure panel codes differ from yaml")
		}
	})
	t.Run("conditions", func(t *testing.T) {
		for _, c := range conditions {
			ok := false
			for _, r := range rc.Conditions {
				ok = ok || same(c.Code, r.refCoding) && c.Kind == r.Kind
			}
			if !ok {
				t.Errorf("condition %+v (%s) not in yaml conditions", c.Code, c.Kind)
			}
		}
	})
	t.Run("condition_severity", func(t *testing.T) {
		for _, c := range conditionSeverity {
			ok := false
			for _, r := range rc.ConditionSeverity {
				ok = ok || same(c, r)
			}
			if !ok {
				t.Errorf("severity %+v not in yaml", c)
			}
		}
	})
	t.Run("medications", func(t *testing.T) {
		for _, g := range medGroups {
			group, ok := rc.Medications[g.Name]
			if !ok {
				t.Errorf("medication group %q not in yaml", g.Name)
			}
			for _, m := range g.Meds {
				found := false
				for _, r := range group {
					found = found || same(m.Code, r)
				}
				if !found {
					t.Errorf("medication %+v not in yaml group %s", m.Code, g.Name)
				}
				if m.Dosage == "" {
					t.Errorf("medication %s has no dosage text", m.Code.Code)
				}
			}
		}
	})
	t.Run("allergies", func(t *testing.T) {
		for _, s := range allergySubstances {
			ok := false
			for _, r := range rc.Allergies.Substances {
				ok = ok || same(s.Code, r.refCoding) && s.Category == r.Category
			}
			if !ok {
				t.Errorf("substance %+v (%s) not in yaml", s.Code, s.Category)
			}
		}
		for _, c := range allergyReactions {
			ok := false
			for _, r := range rc.Allergies.Reactions {
				ok = ok || same(c, r)
			}
			if !ok {
				t.Errorf("reaction %+v not in yaml", c)
			}
		}
	})
	t.Run("encounter_types", func(t *testing.T) {
		for _, e := range encounterTypes {
			ok := false
			for _, r := range rc.EncounterTypes {
				ok = ok || same(e.Code, r.refCoding) && e.Class == r.Class
			}
			if !ok {
				t.Errorf("encounter type %+v (%s) not in yaml", e.Code, e.Class)
			}
		}
	})
	t.Run("payers", func(t *testing.T) {
		if len(payers) != len(rc.Payers) {
			t.Fatalf("%d payers, yaml has %d", len(payers), len(rc.Payers))
		}
		for k, p := range payers {
			if p.Name != rc.Payers[k].Name || p.Ownership != rc.Payers[k].Ownership {
				t.Errorf("payer %d = %+v, yaml %+v", k, p, rc.Payers[k])
			}
		}
	})
}

// TestHL7TablesUseNoReferenceSystems keeps the value sets that the yaml
// does not cover from smuggling in LOINC, SNOMED CT or RxNorm codes.
func TestHL7TablesUseNoReferenceSystems(t *testing.T) {
	t.Parallel()
	var all []Coding
	all = append(all, maritalStatuses[:]...)
	all = append(all, langEnglishUS, langSpanish)
	for _, l := range hospitalLocations {
		all = append(all, l.Type)
	}
	for _, c := range all {
		switch c.System {
		case SystemLOINC, SystemSNOMED, SystemRxNorm:
			t.Errorf("%+v uses a system only the reference yaml may supply", c)
		case "":
			t.Errorf("%+v has no system", c)
		}
		if c.Code == "" || c.Display == "" {
			t.Errorf("%+v lacks code or display", c)
		}
	}
}

// TestGeneratedCodesComeFromReference walks a generated population and
// checks every LOINC, SNOMED CT and RxNorm coding in it against the yaml.
func TestGeneratedCodesComeFromReference(t *testing.T) {
	t.Parallel()
	rc := loadRefCodes(t)
	known := map[Coding]bool{}
	add := func(r refCoding) { known[Coding{r.System, r.Code, r.Display}] = true }
	for _, v := range rc.VitalSigns {
		add(v.refCoding)
		add(v.AlsoCode)
		add(v.SyntheaCode)
	}
	for _, v := range rc.VitalPanels.BloodPressure.Components {
		add(v.refCoding)
	}
	add(rc.VitalPanels.BloodPressure.STU3)
	add(rc.VitalPanels.BloodPressure.DSTU2)
	for _, c := range rc.Conditions {
		add(c.refCoding)
	}
	for _, c := range rc.ConditionSeverity {
		add(c)
	}
	for _, g := range rc.Medications {
		for _, c := range g {
			add(c)
		}
	}
	for _, s := range rc.Allergies.Substances {
		add(s.refCoding)
	}
	for _, c := range rc.Allergies.Reactions {
		add(c)
	}
	for _, e := range rc.EncounterTypes {
		add(e.refCoding)
	}

	h := generate(t, 1, 300)
	check := func(where string, c Coding) {
		t.Helper()
		switch c.System {
		case SystemLOINC, SystemSNOMED, SystemRxNorm:
			if !known[c] {
				t.Errorf("%s: coding %+v not in the reference yaml", where, c)
			}
		}
		if strings.TrimSpace(c.System) == "" && c.Code != "" {
			t.Errorf("%s: coding %+v without system", where, c)
		}
	}
	for _, r := range h.Patients {
		for _, e := range r.Encounters {
			check(e.ID, e.Type)
			if e.Reason != nil {
				check(e.ID, *e.Reason)
			}
		}
		for _, o := range r.Vitals {
			check(o.ID, o.Code)
			check(o.ID, o.CodeDSTU2)
			for _, c := range o.Extra {
				check(o.ID, c)
			}
			for _, c := range o.ExtraR4 {
				check(o.ID, c)
			}
			for _, c := range o.Components {
				check(o.ID, c.Code)
			}
		}
		for _, c := range r.Conditions {
			check(c.ID, c.Code)
			if c.Severity != nil {
				check(c.ID, *c.Severity)
			}
		}
		for _, a := range r.Allergies {
			check(a.ID, a.Substance)
			for _, x := range a.Reactions {
				check(a.ID, x.Manifestation)
			}
		}
		for _, m := range r.Meds {
			check(m.ID, m.Code)
			if m.Reason != nil {
				check(m.ID, *m.Reason)
			}
		}
	}
}
