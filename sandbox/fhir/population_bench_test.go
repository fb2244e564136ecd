package fhir

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// derivedStore builds a store deriving n patients of the R4 population,
// its index built (waited for).
func derivedStore(tb testing.TB, n, cache int) *store.Store {
	tb.Helper()
	v := R4{}
	h, err := seed.NewHospital(populationOptions(n))
	if err != nil {
		tb.Fatal(err)
	}
	s := store.New(v.SearchParams(), time.Now)
	idx := store.BuildPopulationIndex(NewPopulation(v, h, n), 0)
	if err := idx.Wait(); err != nil {
		tb.Fatal(err)
	}
	if err := PopulateDerived(v, s, h, n, populationOptions(n).ReferenceDate, cache, idx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine the wall time of an operation includes waiting for a core, its
// CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// p99 reports the 99th percentile of the recorded durations.
func p99(b *testing.B, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkFirstRead measures reading a patient never read before: the
// record generated, rendered and indexed, then the Patient returned.
func BenchmarkFirstRead(b *testing.B) {
	const n = 100_000
	s := derivedStore(b, n, 10_000)
	var lat []time.Duration
	i := 0
	cpu := cpuTime()
	for b.Loop() {
		t0 := time.Now()
		if _, err := s.Get("Patient", fmt.Sprintf("pat-%d", 1+(i*7919)%n)); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	reportCPU(b, cpu)
	p99(b, lat)
}

// BenchmarkFamilySearch measures the interface's family substring search
// (_count=10) at growing populations: its cost follows the distinct names
// and the page, not the population.
func BenchmarkFamilySearch(b *testing.B) {
	subs := []string{"smi", "son", "ill", "er", "an", "mar", "ez", "ber"}
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := derivedStore(b, n, 10_000)
			defs := s.Definitions()
			var lat []time.Duration
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				q, err := defs.ParseQuery("Patient", []store.KV{{Key: "family", Value: subs[i%len(subs)]}, {Key: "_count", Value: "10"}}, store.Options{DefaultCount: 20, MaxCount: 100})
				if err != nil {
					b.Fatal(err)
				}
				t0 := time.Now()
				if res := s.Search(q); res.Total == 0 {
					b.Fatalf("family=%s matched nothing", subs[i%len(subs)])
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			reportCPU(b, cpu)
			p99(b, lat)
		})
	}
}

// BenchmarkPatientScoped measures the vital-signs query of one patient at
// growing populations: a patient-scoped query generates (or finds cached)
// that patient only.
func BenchmarkPatientScoped(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s := derivedStore(b, n, 10_000)
			defs := s.Definitions()
			i := 0
			cpu := cpuTime()
			for b.Loop() {
				pid := fmt.Sprintf("pat-%d", 1+(i*7919)%1000) // 1,000 patients, cached after the first round
				q, err := defs.ParseQuery("Observation", []store.KV{{Key: "patient", Value: pid}, {Key: "category", Value: "vital-signs"}, {Key: "_sort", Value: "-date"}}, store.Options{DefaultCount: 20, MaxCount: 100})
				if err != nil {
					b.Fatal(err)
				}
				s.Search(q)
				i++
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkCachedPatientMemory reports the heap a cached patient costs:
// read only (its other resources kept as rendered JSON), and fully used
// (every resource searched, so parsed and indexed).
func BenchmarkCachedPatientMemory(b *testing.B) {
	for _, full := range []bool{false, true} {
		b.Run(map[bool]string{false: "read", true: "all-searched"}[full], func(b *testing.B) { cachedPatientMemory(b, full) })
	}
}

func cachedPatientMemory(b *testing.B, full bool) {
	const n = 2_000
	for b.Loop() {
		s := derivedStore(b, n, n)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		defs := s.Definitions()
		for i := range n {
			pid := fmt.Sprintf("pat-%d", i+1)
			if _, err := s.Get("Patient", pid); err != nil {
				b.Fatal(err)
			}
			if !full {
				continue
			}
			for _, typ := range []string{"Observation", "Encounter", "Condition", "AllergyIntolerance", "MedicationRequest", "Coverage"} {
				q, err := defs.ParseQuery(typ, []store.KV{{Key: "patient", Value: pid}}, store.Options{DefaultCount: 20, MaxCount: 100})
				if err != nil {
					b.Fatal(err)
				}
				s.Search(q)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/patient")
		runtime.KeepAlive(s)
	}
}

// BenchmarkFirstReadTail measures the distribution of first reads of
// random never-read patients out of a million on one core (GOMAXPROCS=1,
// as a server pinned to one CPU runs), the cache full as under load: the
// wall time of each read (p50, p99, max) and how much of the tail
// overlaps a garbage collection. The generation alone of each record
// (seed.Patient and rendering, nothing stored) is reported as gen-p99-ns.
func BenchmarkFirstReadTail(b *testing.B) {
	const n = 1_000_000
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	s := derivedStore(b, n, 2_000)
	for i := range 2_000 { // fill the cache, as a server that has run a while
		if _, err := s.Get("Patient", fmt.Sprintf("pat-%d", n-i)); err != nil {
			b.Fatal(err)
		}
	}
	var lat, cpus []time.Duration
	var gcs []bool
	rng := uint64(88172645463325252)
	next := func() int {
		rng ^= rng << 13
		rng ^= rng >> 7
		rng ^= rng << 17
		return int(rng % (n - 2_000))
	}
	cpu := cpuTime()
	for b.Loop() {
		id := fmt.Sprintf("pat-%d", 1+next())
		g0 := gcCount()
		c0 := cpuTime()
		t0 := time.Now()
		if _, err := s.Get("Patient", id); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		cpus = append(cpus, cpuTime()-c0)
		gcs = append(gcs, gcCount() != g0)
	}
	reportCPU(b, cpu)
	tailReport(b, "", lat, gcs)
	tailReport(b, "cpu-", cpus, nil)
}

// BenchmarkGenerateTail is the distribution of the CPU cost of generating
// and rendering one random patient's record (nothing stored), on one
// core: whether some patients cost far more than the others.
func BenchmarkGenerateTail(b *testing.B) {
	const n = 1_000_000
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	h, err := seed.NewHospital(populationOptions(n))
	if err != nil {
		b.Fatal(err)
	}
	pop := NewPopulation(R4{}, h, n)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var cpus []time.Duration
	var gcs []bool
	i := 0
	for b.Loop() {
		g0 := gcCount()
		c0 := threadCPU()
		pop.Record((i*7919+13)%n, func(string, string, []byte) {})
		cpus = append(cpus, threadCPU()-c0)
		gcs = append(gcs, gcCount() != g0)
		i++
	}
	tailReport(b, "cpu-", cpus, gcs)
}

func tailReport(b *testing.B, prefix string, lat []time.Duration, gcs []bool) {
	type r struct {
		d  time.Duration
		gc bool
	}
	rs := make([]r, len(lat))
	for i := range lat {
		rs[i] = r{lat[i], gcs != nil && gcs[i]}
	}
	slices.SortFunc(rs, func(a, b r) int { return int(a.d - b.d) })
	if len(rs) == 0 {
		return
	}
	b.ReportMetric(float64(rs[len(rs)/2].d.Nanoseconds()), prefix+"p50-ns")
	b.ReportMetric(float64(rs[len(rs)*99/100].d.Nanoseconds()), prefix+"p99-ns")
	b.ReportMetric(float64(rs[len(rs)-1].d.Nanoseconds()), prefix+"max-ns")
	if gcs != nil {
		tail, withGC := 0, 0
		for _, x := range rs[len(rs)*99/100:] {
			tail++
			if x.gc {
				withGC++
			}
		}
		b.ReportMetric(float64(withGC)/float64(tail)*100, prefix+"tail-gc-%")
	}
}

// gcCount is the number of completed and started garbage collections.
func gcCount() uint32 {
	var s [1]metrics.Sample
	s[0].Name = "/gc/cycles/total:gc-cycles"
	metrics.Read(s[:])
	return uint32(s[0].Value.Uint64())
}
