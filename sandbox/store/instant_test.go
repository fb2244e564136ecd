package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendInstantAsLayout: AppendInstant writes what AppendFormat
// writes with InstantLayout, for instants across and beyond years 0 to
// 9999, in and out of UTC, at every millisecond boundary.
func TestAppendInstantAsLayout(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	zones := []*time.Location{time.UTC, time.FixedZone("east", 5*3600+1800), time.FixedZone("west", -8*3600)}
	cases := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 999999, zones[1]), // the day before in UTC
		{},
	}
	for range 20000 {
		sec := r.Int64N(400*365*86400) - 100*365*86400 + time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
		cases = append(cases, time.Unix(sec, r.Int64N(1e9)).In(zones[r.IntN(len(zones))]))
	}
	for _, c := range cases {
		want := c.UTC().AppendFormat([]byte("x"), InstantLayout)
		if got := AppendInstant([]byte("x"), c); string(got) != string(want) {
			t.Fatalf("AppendInstant(%v) = %q, AppendFormat writes %q", c, got, want)
		}
	}
}

func BenchmarkAppendInstant(b *testing.B) {
	t := time.Date(2026, 12, 2, 15, 4, 5, 123456789, time.UTC)
	buf := make([]byte, 0, 32)
	b.Run("AppendInstant", func(b *testing.B) {
		for b.Loop() {
			buf = AppendInstant(buf[:0], t)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = t.UTC().AppendFormat(buf[:0], InstantLayout)
		}
	})
}
