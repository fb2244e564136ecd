package scenario

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fastGET is a handler of the cost of a small FHIR read served from
// pre-serialized bytes.
var fastBody = []byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Smith","given":["Ann"]}],"birthDate":"1970-03-04"}`)

func fastGET(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/fhir+json")
	_, _ = w.Write(fastBody)
}

// BenchmarkMiddleware compares a bare handler with the engine in front of
// it: no scenario active, and 50 rules that do not match a Patient read
// (the common case: rules aim at a few paths).
func BenchmarkMiddleware(b *testing.B) {
	var rules strings.Builder
	rules.WriteString("name: bench\ndescription: fifty rules\nrules:\n")
	for i := range 50 {
		fmt.Fprintf(&rules, "  - {match: {method: GET, path: \"/stu3/Observation%d*\", query: {code: \"*\"}}, latency: 1ms, count: {every: 2}}\n", i)
	}
	s, err := Load("bench.yaml", []byte(rules.String()))
	if err != nil {
		b.Fatal(err)
	}
	identify := func(r *http.Request) (string, string) { return "", "teams-patients-app" }
	cases := []struct {
		name  string
		setup func() http.Handler
	}{
		{"bare", func() http.Handler { return http.HandlerFunc(fastGET) }},
		{"none", func() http.Handler {
			return NewEngine(EngineOptions{Identify: identify}).Middleware(http.HandlerFunc(fastGET))
		}},
		{"50rules", func() http.Handler {
			e := NewEngine(EngineOptions{Identify: identify, Rand: rand.New(rand.NewPCG(1, 2))})
			if err := e.Activate(s); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(e.DeactivateAll)
			return e.Middleware(http.HandlerFunc(fastGET))
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			h := c.setup()
			req := httptest.NewRequest(http.MethodGet, "/stu3/Patient/p1?_format=json", nil)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					clear(w.h)
					h.ServeHTTP(w, req)
				}
			})
		})
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
