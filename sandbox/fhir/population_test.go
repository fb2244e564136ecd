package fhir

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/seed"
)

// FuzzPopulationOwner: Owner reads a patient number out of any id a
// client sends (a read's URL, a reference in a search) without panicking,
// and claims only the canonical id of a patient of the population.
func FuzzPopulationOwner(f *testing.F) {
	for _, id := range []string{"pat-1", "pat-100", "pat-0", "pat-01", "pat-101", "obs-3-7", "obs-3", "cov-9", "cov-9-1", "enc-2-1", "med-5-2", "alg-1-1", "cond-4-3", "pat-", "obs--1", "pat-99999999999999999999", "pat-+1"} {
		for _, typ := range []string{"Patient", "Observation", "Coverage", "Encounter", "MedicationRequest", "AllergyIntolerance", "Condition", "Organization"} {
			f.Add(typ, id)
		}
	}
	const n = 100
	h, err := seed.NewHospital(populationOptions(n))
	if err != nil {
		f.Fatal(err)
	}
	pop := NewPopulation(STU3{}, h, n)
	f.Fuzz(func(t *testing.T, typ, id string) {
		i, ok := pop.Owner(typ, id)
		if !ok {
			return
		}
		if i < 0 || i >= n {
			t.Fatalf("Owner(%q, %q) = %d, outside the population of %d", typ, id, i, n)
		}
		_, rest, _ := strings.Cut(id, "-")
		num, _, _ := strings.Cut(rest, "-")
		if num != strconv.Itoa(i+1) {
			t.Fatalf("Owner(%q, %q) = %d from a non-canonical number %q", typ, id, i, num)
		}
		if typ == "Patient" && pop.PatientID(i) != id {
			t.Fatalf("Owner(Patient, %q) = %d but that patient is %q", id, i, pop.PatientID(i))
		}
	})
}

// TestPopulationMatchesRecord: the population renders the record seed
// generates, and its demographics are the rendered Patient's.
func TestPopulationMatchesRecord(t *testing.T) {
	t.Parallel()
	h, err := seed.NewHospital(populationOptions(60))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Versions() {
		pop := NewPopulation(v, h, 60)
		for i := 0; i < 60; i += 7 {
			var want, got []string
			rec := h.Patient(i)
			v.RenderPatient(&rec, func(r Resource) { want = append(want, r.Type+"/"+r.ID+string(r.JSON)) })
			pop.Record(i, func(typ, id string, b []byte) { got = append(got, typ+"/"+id+string(b)) })
			if strings.Join(want, "\n") != strings.Join(got, "\n") || len(got) == 0 {
				t.Fatalf("%s patient %d: the population renders other resources", v.Release().Name, i)
			}
			for _, r := range got {
				typ, rest, _ := strings.Cut(r, "/")
				id, _, _ := strings.Cut(rest, "{")
				if j, ok := pop.Owner(typ, id); !ok || j != i {
					t.Errorf("%s: Owner(%s, %s) = %d %v, want %d", v.Release().Name, typ, id, j, ok, i)
				}
			}
			d := pop.Demographics(i)
			if d.ID != pop.PatientID(i) || d.MRN != rec.Patient.MRN || d.Family != rec.Patient.Name.Family {
				t.Errorf("patient %d: demographics %+v", i, d)
			}
		}
	}
}
