package spec

import "testing"

func TestParseGUID(t *testing.T) {
	t.Parallel()
	const want = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	for _, in := range []string{want, "2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C", "{2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c}", "{2F4A9C3E-8b1d-4e6f-a5c7-1d3b5e7f9a0c}"} {
		got, err := ParseGUID(in)
		if err != nil || got != want {
			t.Errorf("ParseGUID(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "2f4a9c3e8b1d4e6fa5c71d3b5e7f9a0c", "{2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0g", "2f4a9c3e-8b1d-4e6f-a5c7_1d3b5e7f9a0c", "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c\x00"} {
		if got, err := ParseGUID(in); err == nil {
			t.Errorf("ParseGUID(%q) = %q, want error", in, got)
		}
	}
}

func FuzzParseGUID(f *testing.F) {
	f.Add("{2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C}")
	f.Add("not-a-guid")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGUID(s)
		if err != nil {
			return
		}
		again, err := ParseGUID(g)
		if err != nil || again != g {
			t.Fatalf("canonical form %q does not round-trip: %q, %v", g, again, err)
		}
	})
}

// TestParseGUIDCanonicalIsFree: every FHIR request looks its token's
// tenant up, and that GUID is canonical already.
func TestParseGUIDCanonicalIsFree(t *testing.T) {
	const g = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseGUID(g) }); n != 0 {
		t.Errorf("ParseGUID of a canonical GUID allocates %v times", n)
	}
}

func TestFormatGUID(t *testing.T) {
	b := [16]byte{0x2f, 0x4a, 0x9c, 0x3e, 0x8b, 0x1d, 0x4e, 0x6f, 0xa5, 0xc7, 0x1d, 0x3b, 0x5e, 0x7f, 0x9a, 0x0c}
	got := FormatGUID(b)
	if got != "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c" {
		t.Fatalf("FormatGUID = %s", got)
	}
	if canon, err := ParseGUID(got); err != nil || canon != got {
		t.Fatalf("ParseGUID(%s) = %s, %v", got, canon, err)
	}
}
