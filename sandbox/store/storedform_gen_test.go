package store_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// TestStoredFormGenerated: every resource the generators render, in every
// release, the Patient rendered alone too, takes the splice, and gets
// exactly the bytes parse and encode give it. 200 patients cover every
// edge class of the generator (they repeat within 50).
func TestStoredFormGenerated(t *testing.T) {
	t.Parallel()
	const n = 200
	h, err := seed.NewHospital(seed.Options{
		Seed: 42, Tenant: "0f8fad5b-d9cb-469f-a165-70867728950e", Patients: n,
		ReferenceDate: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, v := range fhir.Versions() {
		pop := fhir.NewPopulation(v, h, n)
		count := 0
		check := func(typ, id string, raw []byte) {
			count++
			want, wok := store.ParseEncode(raw, typ, id, at)
			got, ok := store.StoredForm(raw, typ, id, at) // may write into raw
			if !ok || !wok || !bytes.Equal(got, want) {
				t.Fatalf("%s %s/%s:\nspliced %v %s\nencoded %v %s", v.Release().Name, typ, id, ok, got, wok, want)
			}
		}
		for i := range n {
			pop.Record(i, check)
			if pr, ok := pop.(store.PatientRenderer); ok {
				id, raw := pr.RecordPatient(i)
				check("Patient", id, raw)
			}
		}
		if count < 10*n {
			t.Errorf("%s: only %d resources for %d patients", v.Release().Name, count, n)
		}
	}
}
