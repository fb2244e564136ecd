package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

func benchServer(b *testing.B) (*Server, *httptest.Server) {
	b.Helper()
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 50, 1
	cfg.Auth.Required = false
	s, err := New(cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	b.Cleanup(srv.Close)
	return s, srv
}

// fiftyRules is a scenario of 50 rules none of which matches a Patient read.
func fiftyRules(b *testing.B) *scenario.Scenario {
	var y strings.Builder
	y.WriteString("name: fifty-rules\ndescription: fifty rules that match other requests\nrules:\n")
	for i := range 50 {
		fmt.Fprintf(&y, "  - match: {method: GET, path: \"/stu3/Observation/obs-%d-*\", query: {code: \"x%d\"}}\n    latency: 1s\n", i, i)
	}
	sc, err := scenario.Load("fifty.yaml", []byte(y.String()))
	if err != nil {
		b.Fatal(err)
	}
	return sc
}

// BenchmarkScenarioOverhead measures GET Patient/{id} through the whole
// server with no scenario and with 50 rules loaded (none matching).
func BenchmarkScenarioOverhead(b *testing.B) {
	s, srv := benchServer(b)
	get := func(b *testing.B) {
		c := srv.Client()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				res, err := c.Get(srv.URL + "/stu3/Patient/pat-7")
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		})
	}
	b.Run("none", get)
	if err := s.ActivateScenario(fiftyRules(b)); err != nil {
		b.Fatal(err)
	}
	b.Run("50-rules", get)
}

// BenchmarkInjectedLatency measures how close injected latency comes to
// the configured value: a fixed 20ms on Patient reads, p50 of the observed
// request time minus the p50 without the rule.
func BenchmarkInjectedLatency(b *testing.B) {
	s, srv := benchServer(b)
	c := srv.Client()
	measure := func(n int) time.Duration {
		d := make([]time.Duration, 0, n)
		for range n {
			start := time.Now()
			res, err := c.Get(srv.URL + "/stu3/Patient/pat-7")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			d = append(d, time.Since(start))
		}
		slices.Sort(d)
		return d[len(d)/2]
	}
	sc, err := scenario.Load("latency.yaml", []byte("name: latency\ndescription: 20ms on Patient reads\nrules:\n  - match: {method: GET, path: \"/stu3/Patient/*\"}\n    latency: 20ms\n"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		s.DeactivateScenario("latency")
		base := measure(50)
		if err := s.ActivateScenario(sc); err != nil {
			b.Fatal(err)
		}
		with := measure(50)
		b.ReportMetric(float64(with-base-20*time.Millisecond)/float64(time.Millisecond), "p50-error-ms")
		_ = http.StatusOK
	}
}
