package metrics

import (
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	t.Parallel()
	var r Registry
	c := r.NewCounter("x_total", "Things\ncounted.", 2, "a", "b")
	g := r.NewGauge("y", "A gauge.")
	h := r.NewHistogram("z_seconds", "Durations.", []float64{0.001, 0.01}, 4, "route")
	c.Inc(Labels{"1", `q"\` + "\n"})
	c.Add(Labels{"1", `q"\` + "\n"}, 2)
	c.Inc(Labels{"2", ""})
	c.Inc(Labels{"3", ""}) // past the limit of 2 series
	c.Inc(Labels{"4", ""})
	g.Add(5)
	g.Add(-2)
	h.Observe(Labels{"/r"}, time.Millisecond) // le is inclusive
	h.Observe(Labels{"/r"}, 5*time.Millisecond)
	h.Observe(Labels{"/r"}, time.Second)
	var b strings.Builder
	if err := r.Write(&b); err != nil {
		t.Fatal(err)
	}
	want := `# HELP x_total Things\ncounted.
# TYPE x_total counter
x_total{a="1",b="q\"\\\n"} 3
x_total{a="2",b=""} 1
x_total{a="_other",b="_other"} 2
# HELP y A gauge.
# TYPE y gauge
y 3
# HELP z_seconds Durations.
# TYPE z_seconds histogram
z_seconds_bucket{route="/r",le="0.001"} 1
z_seconds_bucket{route="/r",le="0.01"} 2
z_seconds_bucket{route="/r",le="+Inf"} 3
z_seconds_sum{route="/r"} 1.006
z_seconds_count{route="/r"} 3
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	if v := c.Value(Labels{"1", `q"\` + "\n"}); v != 3 {
		t.Errorf("Value = %d, want 3", v)
	}
}

func BenchmarkCounterInc(b *testing.B) {
	var r Registry
	c := r.NewCounter("x_total", "x", 100, "route", "status", "tenant")
	l := Labels{"/stu3/Patient/{id}", "200", "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"}
	b.ReportAllocs()
	for b.Loop() {
		c.Inc(l)
	}
}
