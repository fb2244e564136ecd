// Package metrics is a small Prometheus text-format (version 0.0.4)
// exposition of counters and histograms with up to three labels, written
// with the standard library only. Label sets are bounded: past a family's
// series limit, new label sets are counted under the value "_other" for
// every label, so no input can grow the memory without bound.
package metrics

import (
	"bufio"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Other is the label value of every series past a family's limit.
const Other = "_other"

// Labels are the values of a series' labels, in the family's label order
// (unused trailing ones empty).
type Labels [3]string

type family struct {
	name, help string
	labels     []string
	max        int

	mu     sync.RWMutex
	series map[Labels]int // index in entries
}

func (f *family) index(l Labels, add func() int) int {
	f.mu.RLock()
	i, ok := f.series[l]
	f.mu.RUnlock()
	if ok {
		return i
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if i, ok := f.series[l]; ok {
		return i
	}
	if len(f.series) >= f.max {
		for j := range f.labels {
			l[j] = Other
		}
		if i, ok := f.series[l]; ok {
			return i
		}
	}
	i = add()
	f.series[l] = i
	return i
}

// sorted returns the label sets in order, and their entry indexes.
func (f *family) sorted() ([]Labels, []int) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	ls := make([]Labels, 0, len(f.series))
	for l := range f.series {
		ls = append(ls, l)
	}
	slices.SortFunc(ls, func(a, b Labels) int {
		for i := range a {
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
		return 0
	})
	idx := make([]int, len(ls))
	for i, l := range ls {
		idx[i] = f.series[l]
	}
	return ls, idx
}

// Counter is a family of monotonically increasing counts.
type Counter struct {
	family
	mu      sync.RWMutex // guards the slice header; counts are atomic
	entries []*atomic.Uint64
}

// Gauge is one value that goes up and down.
type Gauge struct {
	name, help string
	v          atomic.Int64
}

// Histogram is a family of duration distributions, in seconds.
type Histogram struct {
	family
	bounds  []float64 // upper bounds in seconds, ascending
	nanos   []int64   // the same bounds in nanoseconds
	mu      sync.RWMutex
	entries []*histEntry
}

type histEntry struct {
	counts []atomic.Uint64 // per bucket (not cumulative), then +Inf
	sum    atomic.Int64    // nanoseconds
}

// Registry holds the families and writes them in order of registration.
type Registry struct {
	mu    sync.Mutex
	order []any
}

// NewCounter registers a counter family with the given label names (at
// most three) and series limit.
func (r *Registry) NewCounter(name, help string, maxSeries int, labels ...string) *Counter {
	c := &Counter{family: newFamily(name, help, maxSeries, labels)}
	r.add(c)
	return c
}

// NewGauge registers a gauge.
func (r *Registry) NewGauge(name, help string) *Gauge {
	g := &Gauge{name: name, help: help}
	r.add(g)
	return g
}

// NewHistogram registers a histogram family of durations with the given
// bucket upper bounds (seconds, ascending).
func (r *Registry) NewHistogram(name, help string, bounds []float64, maxSeries int, labels ...string) *Histogram {
	h := &Histogram{family: newFamily(name, help, maxSeries, labels), bounds: slices.Clone(bounds)}
	for _, b := range bounds {
		h.nanos = append(h.nanos, int64(math.Round(b*1e9)))
	}
	r.add(h)
	return h
}

func newFamily(name, help string, maxSeries int, labels []string) family {
	if len(labels) > len(Labels{}) {
		panic("metrics: more than three labels") // a programming error, caught by any test
	}
	return family{name: name, help: help, labels: labels, max: max(1, maxSeries), series: map[Labels]int{}}
}

func (r *Registry) add(m any) {
	r.mu.Lock()
	r.order = append(r.order, m)
	r.mu.Unlock()
}

// Add adds n to the series l.
func (c *Counter) Add(l Labels, n uint64) {
	i := c.index(l, func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.entries = append(c.entries, new(atomic.Uint64))
		return len(c.entries) - 1
	})
	c.mu.RLock()
	e := c.entries[i]
	c.mu.RUnlock()
	e.Add(n)
}

// Inc adds one to the series l.
func (c *Counter) Inc(l Labels) { c.Add(l, 1) }

// Value is the count of series l (0 when never counted).
func (c *Counter) Value(l Labels) uint64 {
	c.family.mu.RLock()
	i, ok := c.series[l]
	c.family.mu.RUnlock()
	if !ok {
		return 0
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.entries[i].Load()
}

// Add moves the gauge by d.
func (g *Gauge) Add(d int64) { g.v.Add(d) }

// Observe records one duration in series l.
func (h *Histogram) Observe(l Labels, d time.Duration) {
	i := h.index(l, func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.entries = append(h.entries, &histEntry{counts: make([]atomic.Uint64, len(h.bounds)+1)})
		return len(h.entries) - 1
	})
	h.mu.RLock()
	e := h.entries[i]
	h.mu.RUnlock()
	ns := int64(d)
	b, _ := slices.BinarySearch(h.nanos, ns) // first bound >= ns: "le" is inclusive
	e.counts[b].Add(1)
	e.sum.Add(ns)
}

// Write writes every family in the text exposition format.
func (r *Registry) Write(w io.Writer) error {
	r.mu.Lock()
	order := slices.Clone(r.order)
	r.mu.Unlock()
	bw := bufio.NewWriter(w)
	for _, m := range order {
		switch m := m.(type) {
		case *Counter:
			m.write(bw)
		case *Gauge:
			header(bw, m.name, m.help, "gauge")
			bw.WriteString(m.name + " " + strconv.FormatInt(m.v.Load(), 10) + "\n")
		case *Histogram:
			m.write(bw)
		}
	}
	return bw.Flush()
}

func header(w *bufio.Writer, name, help, typ string) {
	w.WriteString("# HELP " + name + " " + escapeHelp(help) + "\n")
	w.WriteString("# TYPE " + name + " " + typ + "\n")
}

func (c *Counter) write(w *bufio.Writer) {
	header(w, c.name, c.help, "counter")
	ls, idx := c.sorted()
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, l := range ls {
		w.WriteString(c.name)
		writeLabels(w, c.labels, l, "", "")
		w.WriteString(" " + strconv.FormatUint(c.entries[idx[k]].Load(), 10) + "\n")
	}
}

func (h *Histogram) write(w *bufio.Writer) {
	header(w, h.name, h.help, "histogram")
	ls, idx := h.sorted()
	h.mu.RLock()
	defer h.mu.RUnlock()
	for k, l := range ls {
		e := h.entries[idx[k]]
		// the buckets are cumulated from one read of each, so +Inf and
		// _count agree even while requests are being observed
		var cum uint64
		for b, bound := range h.bounds {
			cum += e.counts[b].Load()
			w.WriteString(h.name + "_bucket")
			writeLabels(w, h.labels, l, "le", strconv.FormatFloat(bound, 'g', -1, 64))
			w.WriteString(" " + strconv.FormatUint(cum, 10) + "\n")
		}
		cum += e.counts[len(h.bounds)].Load()
		w.WriteString(h.name + "_bucket")
		writeLabels(w, h.labels, l, "le", "+Inf")
		w.WriteString(" " + strconv.FormatUint(cum, 10) + "\n")
		w.WriteString(h.name + "_sum")
		writeLabels(w, h.labels, l, "", "")
		w.WriteString(" " + strconv.FormatFloat(float64(e.sum.Load())/1e9, 'g', -1, 64) + "\n")
		w.WriteString(h.name + "_count")
		writeLabels(w, h.labels, l, "", "")
		w.WriteString(" " + strconv.FormatUint(cum, 10) + "\n")
	}
}

func writeLabels(w *bufio.Writer, names []string, l Labels, extraName, extraValue string) {
	if len(names) == 0 && extraName == "" {
		return
	}
	w.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(n + `="` + escapeValue(l[i]) + `"`)
	}
	if extraName != "" {
		if len(names) > 0 {
			w.WriteByte(',')
		}
		w.WriteString(extraName + `="` + escapeValue(extraValue) + `"`)
	}
	w.WriteByte('}')
}

// escapeValue escapes a label value: backslash, double quote and line feed.
func escapeValue(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}
