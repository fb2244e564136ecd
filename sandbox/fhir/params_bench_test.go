package fhir

import (
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// BenchmarkIndex measures what the official parameters cost at write
// time: the same rendered population (1000 patients) stored under the
// hand-written table alone and under the served one (official merged with
// hand-written), interleaved in one process so machine noise hits both.
// Population time is dominated by index extraction, which runs once per
// declared parameter of a resource's type.
func BenchmarkIndex(b *testing.B) {
	for _, c := range []struct {
		v    Version
		hand func() store.Definitions
	}{{STU3{}, stu3HandParams}, {R4{}, r4HandParams}} {
		h, err := seed.Generate(populationOptions(1000))
		if err != nil {
			b.Fatal(err)
		}
		rs := renderAll(c.v, h, patientPtrs(h)...)
		for _, d := range []struct {
			name string
			defs func() store.Definitions
		}{{"hand", c.hand}, {"served", c.v.SearchParams}} {
			b.Run(c.v.Release().Name+"/"+d.name, func(b *testing.B) {
				b.ReportAllocs()
				for range b.N {
					s := store.New(d.defs(), time.Now)
					for _, r := range rs {
						if _, err := s.Put(r.JSON, "", time.Time{}); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(len(rs)), "resources")
			})
		}
	}
}
