package fhir

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func (f *apiFixture) countAll() int {
	n := 0
	for t := range f.v.SearchParams() {
		n += f.st.Count(t)
	}
	return n
}

// benchPopulations are the sizes the performance targets name; -short
// keeps to the small one.
func benchPopulations() []int {
	if testing.Short() {
		return []int{1000}
	}
	return []int{1000, 100_000}
}

// BenchmarkAPI measures, per release and population (each built once):
// GET Patient/{id} through the API against a bare net/http handler writing
// the same bytes over the same loopback client (so the ratio comes from
// one run), and the client's searches with p50/p99 latency.
func BenchmarkAPI(b *testing.B) {
	for _, v := range Versions() {
		if r := os.Getenv("FHIRSANDBOX_BENCH_RELEASE"); r != "" && r != v.Release().Name {
			continue // a 100,000-patient population takes gigabytes per release
		}
		for _, n := range benchPopulations() {
			start := time.Now()
			f := buildAPIFixture(b, v, n)
			b.Logf("%s: %d patients, %d resources stored in %v", v.Release().Name, n, f.countAll(), time.Since(start).Round(time.Millisecond))
			benchRead(b, f, n)
			benchSearch(b, f, n)
			f.srv.Close()
		}
	}
}

func benchRead(b *testing.B, f *apiFixture, n int) {
	v := f.v
	{
		{
			id := fmt.Sprintf("pat-%d", n/2)
			doc, err := f.st.Get("Patient", id)
			if err != nil {
				b.Fatal(err)
			}
			// the same response the API writes: body and headers
			etagHdr, lastMod := etag(doc), doc.Updated.UTC().Format(http.TimeFormat)
			bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h := w.Header()
				h.Set("Content-Type", v.Release().MediaType+"; charset=utf-8")
				h.Set("X-Content-Type-Options", "nosniff")
				h.Set("ETag", etagHdr)
				h.Set("Last-Modified", lastMod)
				_, _ = w.Write(doc.JSON)
			}))
			b.Run(fmt.Sprintf("%s/%d/bare", v.Release().Name, n), func(b *testing.B) { runGets(b, bare.Client(), bare.URL+"/"+id) })
			b.Run(fmt.Sprintf("%s/%d/api", v.Release().Name, n), func(b *testing.B) { runGets(b, f.srv.Client(), f.base()+"/Patient/"+id) })
			bare.Close()
		}
	}
}

func runGets(b *testing.B, c *http.Client, u string) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := c.Get(u)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}

// benchSearch times the client's searches and reports p50/p99 latency
// per request.
func benchSearch(b *testing.B, f *apiFixture, n int) {
	v := f.v
	{
		{
			p := f.patientWith(b)
			pid := p.Patient.ID
			fam := strings.ToLower(string([]rune(p.Patient.Name.Family)[1:4]))
			familyParam := "family"
			if v.Release().Name == "dstu2" {
				familyParam = "family:contains"
			}
			sort := "_sort=-date"
			if v.Release().Name == "dstu2" {
				sort = "_sort:desc=date"
			}
			c := f.srv.Client()
			form := url.Values{familyParam: {fam}, "_count": {"10"}}.Encode()
			b.Run(fmt.Sprintf("%s/%d/family-substring", v.Release().Name, n), func(b *testing.B) {
				latencies(b, func() *http.Request {
					r, _ := http.NewRequest("POST", f.base()+"/Patient/_search", strings.NewReader(form))
					r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					return r
				}, c)
			})
			b.Run(fmt.Sprintf("%s/%d/vitals", v.Release().Name, n), func(b *testing.B) {
				latencies(b, func() *http.Request {
					r, _ := http.NewRequest("GET", f.base()+"/Observation?patient="+pid+"&category=vital-signs&"+sort, nil)
					return r
				}, c)
			})
			batch := batchOf(pid, v)
			// the same two requests through the handler alone, without the
			// loopback transfer of the answer: the server's own cost
			b.Run(fmt.Sprintf("%s/%d/vitals-handler", v.Release().Name, n), func(b *testing.B) {
				handlerOnly(b, f, func() *http.Request {
					return httptest.NewRequest("GET", f.base()+"/Observation?patient="+pid+"&category=vital-signs&"+sort, nil)
				})
			})
			b.Run(fmt.Sprintf("%s/%d/batch-six-handler", v.Release().Name, n), func(b *testing.B) {
				handlerOnly(b, f, func() *http.Request {
					r := httptest.NewRequest("POST", f.base()+"/", strings.NewReader(batch))
					r.Header.Set("Content-Type", v.Release().MediaType)
					return r
				})
			})
			b.Run(fmt.Sprintf("%s/%d/batch-six", v.Release().Name, n), func(b *testing.B) {
				latencies(b, func() *http.Request {
					r, _ := http.NewRequest("POST", f.base()+"/", strings.NewReader(batch))
					r.Header.Set("Content-Type", v.Release().MediaType)
					return r
				}, c)
			})
		}
	}
}

// latencies runs requests one after another and reports p50 and p99.
func latencies(b *testing.B, req func() *http.Request, c *http.Client) {
	b.ReportAllocs()
	d := make([]time.Duration, 0, b.N)
	for b.Loop() {
		r := req()
		start := time.Now()
		res, err := c.Do(r)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		d = append(d, time.Since(start))
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
	slices.Sort(d)
	if len(d) > 0 {
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
	}
}

// discardWriter is a ResponseWriter that keeps only the status.
type discardWriter struct {
	h      http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(s int)           { d.status = s }

func handlerOnly(b *testing.B, f *apiFixture, req func() *http.Request) {
	b.ReportAllocs()
	d := make([]time.Duration, 0, b.N)
	for b.Loop() {
		r := req()
		w := &discardWriter{h: http.Header{}, status: 200}
		start := time.Now()
		f.api.ServeHTTP(w, r)
		d = append(d, time.Since(start))
		if w.status != 200 {
			b.Fatalf("status %d", w.status)
		}
	}
	slices.Sort(d)
	if len(d) > 0 {
		b.ReportMetric(float64(d[len(d)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(d[len(d)*99/100].Microseconds()), "p99-µs")
	}
}
