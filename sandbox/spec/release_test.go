package spec

import (
	"strings"
	"testing"
)

func TestReleaseTable(t *testing.T) {
	t.Parallel()
	rows := Releases()
	if len(rows) == 0 {
		t.Fatal("no releases")
	}
	names := map[string]bool{}
	for _, r := range rows {
		if r.Name == "" || r.Name != strings.ToLower(r.Name) || r.Label == "" || r.FHIRVersion == "" || r.MediaType == "" || r.MetadataType == "" || r.MedicationType == "" {
			t.Errorf("incomplete row %+v", r)
		}
		if names[r.Name] {
			t.Errorf("duplicate release %s", r.Name)
		}
		names[r.Name] = true
		if got, ok := Lookup(strings.ToUpper(r.Name)); !ok || got != r {
			t.Errorf("Lookup(%q) = %+v, %v", strings.ToUpper(r.Name), got, ok)
		}
		if got, ok := ByFHIRVersion(r.FHIRVersion); !ok || got != r {
			t.Errorf("ByFHIRVersion(%q) = %+v, %v", r.FHIRVersion, got, ok)
		}
		if r.Base() != "/"+r.Name {
			t.Errorf("Base() = %q", r.Base())
		}
		if !strings.Contains(NameList(), r.Name) || !strings.Contains(NameChoices(), r.Name) {
			t.Errorf("%s missing from %q / %q", r.Name, NameList(), NameChoices())
		}
	}
	if _, ok := Lookup(Default().Name); !ok {
		t.Errorf("default %q is not in the table", Default().Name)
	}
	for _, v := range []string{"", "3", "9.9.9", "x.y"} {
		if r, ok := ByFHIRVersion(v); ok {
			t.Errorf("ByFHIRVersion(%q) = %s", v, r.Name)
		}
	}
	// a patch release of a known release is that release
	if r, ok := ByFHIRVersion(STU3().FHIRVersion[:4] + "9"); !ok || r.Name != STU3().Name {
		t.Errorf("a patch release of STU3 is %+v, %v", r, ok)
	}
}

func TestOxford(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in   []string
		want string
	}{{nil, ""}, {[]string{"a"}, "a"}, {[]string{"a", "b"}, "a or b"}, {[]string{"a", "b", "c"}, "a, b or c"}} {
		if got := oxford(tt.in, "or"); got != tt.want {
			t.Errorf("oxford(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
