package fhir

import (
	"fmt"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/seed"
)

// BenchmarkGenerate measures seed generation plus rendering of every
// resource, patient by patient as the bundle writers do, and reports
// patients per second and JSON bytes per patient.
func BenchmarkGenerate(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		for _, v := range Versions() {
			b.Run(fmt.Sprintf("%d/%s", n, v.Release().Name), func(b *testing.B) {
				b.ReportAllocs()
				var bytes int64
				for range b.N {
					h, err := seed.NewHospital(populationOptions(n))
					if err != nil {
						b.Fatal(err)
					}
					emit := func(r Resource) { bytes += int64(len(r.JSON)) }
					v.RenderHospital(h, emit)
					for i := range n {
						p := h.Patient(i)
						v.RenderPatient(&p, emit)
					}
				}
				patients := float64(n) * float64(b.N)
				b.ReportMetric(patients/b.Elapsed().Seconds(), "patients/s")
				b.ReportMetric(float64(bytes)/patients, "B/patient")
			})
		}
	}
}
