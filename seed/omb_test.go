package seed

import "testing"

// TestOMBTables pins the category tables to US Core 3.1.1's closed value
// sets omb-race-category and omb-ethnicity-category (codes) with the CDC
// code system's displays, typed here a second time from those files so a
// slip in either copy shows.
func TestOMBTables(t *testing.T) {
	t.Parallel()
	wantRace := map[string]string{
		"1002-5": "American Indian or Alaska Native",
		"2028-9": "Asian",
		"2054-5": "Black or African American",
		"2076-8": "Native Hawaiian or Other Pacific Islander",
		"2106-3": "White",
	}
	wantEthnicity := map[string]string{
		"2135-2": "Hispanic or Latino",
		"2186-5": "Not Hispanic or Latino",
	}
	for name, tc := range map[string]struct {
		got  []Coding
		want map[string]string
	}{"race": {RaceCategories(), wantRace}, "ethnicity": {EthnicityCategories(), wantEthnicity}} {
		if len(tc.got) != len(tc.want) {
			t.Errorf("%s: %d categories, want %d", name, len(tc.got), len(tc.want))
		}
		seen := map[string]bool{}
		for _, c := range tc.got {
			if c.System != "urn:oid:2.16.840.1.113883.6.238" || tc.want[c.Code] != c.Display || seen[c.Code] {
				t.Errorf("%s: %+v is not a distinct OMB category of the CDC code system", name, c)
			}
			seen[c.Code] = true
		}
	}
	total := 0
	for _, w := range ombRaceWeights {
		if w <= 0 {
			t.Errorf("race weight %d: every category must be possible", w)
		}
		total += w
	}
	if total != 100 {
		t.Errorf("race weights add up to %d, want 100 (they are percentages)", total)
	}
}

func TestRaceAndEthnicity(t *testing.T) {
	t.Parallel()
	h := generate(t, 41, 300)
	in := func(c Coding, set []Coding) bool {
		for _, s := range set {
			if s == c {
				return true
			}
		}
		return false
	}
	races := map[string]int{}
	hispanic, others := 0, 0
	for _, r := range h.Patients {
		p := r.Patient
		if !in(p.Race, RaceCategories()) {
			t.Errorf("%s race %+v not an OMB category", p.ID, p.Race)
		}
		if !in(p.Ethnicity, EthnicityCategories()) {
			t.Errorf("%s ethnicity %+v not an OMB category", p.ID, p.Ethnicity)
		}
		races[p.Race.Code]++
		if p.Language == langSpanish {
			if p.Ethnicity.Code != "2135-2" {
				t.Errorf("%s speaks Spanish but is %q", p.ID, p.Ethnicity.Display)
			}
			continue
		}
		others++
		if p.Ethnicity.Code == "2135-2" {
			hispanic++
		}
	}
	if len(races) != len(RaceCategories()) {
		t.Errorf("races in 300 patients: %v, want all %d categories", races, len(RaceCategories()))
	}
	if races["2106-3"] < 150 || races["2106-3"] > 250 {
		t.Errorf("White %d of 300: the weights give about 216", races["2106-3"])
	}
	if pct := hispanic * 100 / max(others, 1); pct < 4 || pct > 22 {
		t.Errorf("%d%% Hispanic or Latino among non-Spanish speakers, want about %d%%", pct, hispanicPct)
	}
}

// TestOMBStreamIndependent proves the draw depends on (seed, tenant, index)
// only, through a stream no other value uses.
func TestOMBStreamIndependent(t *testing.T) {
	t.Parallel()
	a, b := generate(t, 41, 60), generate(t, 42, 60)
	diff := 0
	for i := range a.Patients {
		pa, pb := a.Patients[i].Patient, b.Patients[i].Patient
		if r, e := ombCategories(41, testTenant, i, pa.Language); r != pa.Race || e != pa.Ethnicity {
			t.Errorf("%s: race/ethnicity %v/%v, ombCategories gives %v/%v", pa.ID, pa.Race, pa.Ethnicity, r, e)
		}
		if pa.Race != pb.Race {
			diff++
		}
	}
	if diff == 0 {
		t.Error("another seed assigns every patient the same race")
	}
	for _, s := range []string{streamHospital, streamPatient, streamHospitalNPI} {
		if streamSeed(streamOMB, 41, testTenant, 3) == streamSeed(s, 41, testTenant, 3) {
			t.Errorf("stream %q shares its seed with %q", streamOMB, s)
		}
	}
}

func TestHospitalNPI(t *testing.T) {
	t.Parallel()
	a, b := generate(t, 2, 0), generate(t, 3, 0)
	if !luhnNPI(a.Organization.NPI) || !luhnNPI(b.Organization.NPI) {
		t.Errorf("hospital NPIs %q %q fail the check digit", a.Organization.NPI, b.Organization.NPI)
	}
	if a.Organization.NPI == b.Organization.NPI {
		t.Errorf("two seeds give the same hospital NPI %q", a.Organization.NPI)
	}
	for _, o := range a.Payors {
		if o.NPI != "" {
			t.Errorf("payor %s has an NPI %q", o.ID, o.NPI)
		}
	}
	for _, p := range a.Practitioners {
		if p.NPI == a.Organization.NPI {
			t.Errorf("%s shares the hospital's NPI", p.ID)
		}
	}
}
