package logline

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// field is one attribute of a test line.
type field struct {
	key  string
	kind byte // 's', 'i', 'f', 'b'
	s    string
	i    int64
	f    float64
	b    bool
}

// both writes the same line through slog's handler (a Record) and
// through a Line, and returns the two outputs (the second nil when Begin
// declined the line).
func both(t *testing.T, json bool, level slog.Level, at time.Time, msg string, fields []field) (want, got []byte) {
	t.Helper()
	var a, b bytes.Buffer
	ha, hb := New(&a, json, slog.LevelInfo), New(&b, json, slog.LevelInfo)
	if ha.Enabled(context.Background(), level) {
		rec := slog.NewRecord(at, level, msg, 0)
		for _, f := range fields {
			switch f.kind {
			case 's':
				rec.AddAttrs(slog.String(f.key, f.s))
			case 'i':
				rec.AddAttrs(slog.Int64(f.key, f.i))
			case 'f':
				rec.AddAttrs(slog.Float64(f.key, f.f))
			case 'b':
				rec.AddAttrs(slog.Bool(f.key, f.b))
			}
		}
		if err := ha.Handle(context.Background(), rec); err != nil {
			t.Fatal(err)
		}
	}
	l, ok := hb.Begin(at, level, msg)
	if !ok {
		return a.Bytes(), nil
	}
	for _, f := range fields {
		switch f.kind {
		case 's':
			l.String(f.key, f.s)
		case 'i':
			l.Int(f.key, f.i)
		case 'f':
			l.Float(f.key, f.f)
		case 'b':
			l.Bool(f.key, f.b)
		}
	}
	if err := l.End(); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

var awkward = []string{"", "plain", "/stu3/Patient/pat-500", "a b", "a=b", `say "hi"`, `back\slash`, "tab\there",
	"new\nline", "cr\r", "\x00\x01\x1f", "\x7f", "caf\u00e9", "\u00a0nbsp", "\u2028\u2029", "\xff\xfe bad utf-8", "\u200b",
	"<html>&amp;", "emoji \U0001F600", "family=kuh&_count=10", "127.0.0.1:54321", "[::1]:80", "request: response cut"}

func TestLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 50, 17, 123456789, time.UTC)
	floats := []float64{0, 0.001, 0.123, 1, 12.5, 1000, 123456.789, 1e20, 1e21, 1.5e22, 1e-7, 0.000001, 5e-324, math.MaxFloat64, -0.25}
	zones := []*time.Location{time.UTC, time.FixedZone("X", 5*3600+1800), time.FixedZone("Y", -7*3600)}
	for _, json := range []bool{false, true} {
		for _, lv := range []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelInfo + 2} {
			for i, s := range awkward {
				tm := at.Add(time.Duration(i) * 7777777 * time.Microsecond).In(zones[i%len(zones)])
				fields := []field{{key: "request_id", kind: 's', s: "1a2b3c4d-000042"}, {key: "path", kind: 's', s: s},
					{key: "status", kind: 'i', i: int64(200 + i)}, {key: "bytes", kind: 'i', i: -int64(i) * 1000},
					{key: "latency_ms", kind: 'f', f: floats[i%len(floats)]}, {key: "cut", kind: 'b', b: i%2 == 0}, {key: s, kind: 's', s: s}}
				want, got := both(t, json, lv, tm, s, fields)
				if got == nil && len(want) > 0 || got != nil && !bytes.Equal(want, got) {
					t.Errorf("json=%v level=%v %q:\nslog %q\nline %q", json, lv, s, want, got)
				}
			}
		}
		for _, f := range floats {
			want, got := both(t, json, slog.LevelInfo, at, "m", []field{{key: "f", kind: 'f', f: f}})
			if !bytes.Equal(want, got) {
				t.Errorf("json=%v float %v:\nslog %q\nline %q", json, f, want, got)
			}
		}
	}
}

func TestLineRandomStrings(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune{'a', 'Z', '0', ' ', '=', '"', '\\', '\n', '\t', 0, 0x1f, 0x7f, 0xa0, 0x85, 0xe9, 0x2028, 0x200b, 0xfffd, 0x1F600, '&', '<', '%', '/'}
	at := time.Date(2026, 1, 2, 3, 4, 5, 999999999, time.UTC)
	for n := range 3000 {
		var s []byte
		for range r.IntN(12) {
			if r.IntN(10) == 0 {
				s = append(s, byte(0x80+r.IntN(0x80))) // a stray byte: invalid UTF-8
				continue
			}
			s = append(s, string(alphabet[r.IntN(len(alphabet))])...)
		}
		json := n%2 == 0
		want, got := both(t, json, slog.LevelWarn, at, string(s), []field{{key: "q", kind: 's', s: string(s)},
			{key: "latency_ms", kind: 'f', f: float64(r.IntN(1e9)) / 1000}})
		if !bytes.Equal(want, got) {
			t.Fatalf("json=%v %q:\nslog %q\nline %q", json, s, want, got)
		}
	}
}

func TestBeginDeclines(t *testing.T) {
	var b bytes.Buffer
	h := New(&b, true, slog.LevelWarn)
	if _, ok := h.Begin(time.Now(), slog.LevelInfo, "below the level"); ok {
		t.Error("a line below the level began")
	}
	if _, ok := h.Begin(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelError, "year 10000"); ok {
		t.Error("a JSON line of year 10000 began (slog writes an error there)")
	}
	if b.Len() != 0 {
		t.Errorf("wrote %q", b.String())
	}
}
