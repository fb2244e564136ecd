package seed

import (
	"testing"
	"time"
)

// BenchmarkPatient measures one patient's generation; the server builds
// 100,000 of them at start.
func BenchmarkPatient(b *testing.B) {
	h, err := NewHospital(Options{Seed: 1, Tenant: testTenant, Patients: 0, ReferenceDate: testRef})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = h.Patient(i % 100_000)
		i++
	}
}

const testTenant = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"

var testRef = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// BenchmarkDemographics measures drawing one patient's searchable
// demographics alone, what a population index is built from.
func BenchmarkDemographics(b *testing.B) {
	h, err := NewHospital(Options{Seed: 1, Tenant: testTenant, Patients: 0, ReferenceDate: testRef})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = h.Demographics(i % 1_000_000)
		i++
	}
}

// BenchmarkPatientOnly measures drawing one patient's Patient alone, what
// a first read of a Patient renders.
func BenchmarkPatientOnly(b *testing.B) {
	h, err := NewHospital(Options{Seed: 1, Tenant: testTenant, Patients: 0, ReferenceDate: testRef})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		_ = h.PatientOnly(i % 100_000)
		i++
	}
}
