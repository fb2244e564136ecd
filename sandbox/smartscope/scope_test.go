package smartscope

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := []struct {
		in   string
		typ  string
		ops  int
		v2   bool
		cons string
	}{
		{"system/Patient.read", "Patient", Read | Search, false, ""},
		{"system/*.read", "*", Read | Search, false, ""},
		{"system/Observation.write", "Observation", Create | Update | Delete, false, ""},
		{"system/*.*", "*", Create | Read | Update | Delete | Search, false, ""},
		{"system/Patient.rs", "Patient", Read | Search, true, ""},
		{"system/Patient.cruds", "Patient", Create | Read | Update | Delete | Search, true, ""},
		{"system/Patient.r", "Patient", Read, true, ""},
		{"system/Observation.rs?category=vital-signs", "Observation", Read | Search, true, "category=vital-signs"},
		{"system/Observation.rs?category=vital-signs,laboratory", "Observation", Read | Search, true, "category=vital-signs&category=laboratory"},
	}
	for _, g := range good {
		s, err := Parse(g.in)
		if err != nil {
			t.Errorf("%s: %v", g.in, err)
			continue
		}
		cons := ""
		if s.Constraint != nil {
			cons = s.Constraint.Encode()
		}
		if s.Type != g.typ || s.Ops != g.ops || s.V2 != g.v2 || cons != g.cons || s.Raw != g.in {
			t.Errorf("%s: got %+v", g.in, s)
		}
	}
	for _, bad := range []string{
		"patient/Patient.read", "system/", "system/Patient", "system/Patient.", "system/.read",
		"system/patient.read", "system/Pat-ient.read", "system/Patient.rw", "system/Patient.sr",
		"system/Patient.rr", "system/A.?x=1", "system/Patient.read?category=x", "system/Patient.rs?", "system/Patient.rs?category=",
		"system/Patient.rs?a=1&b=2&c=3&d=4&e=5", "system/Patient.rs?%zz=1", "system/Patient.rs?ca%20t=1",
		"system/" + strings.Repeat("A", 70) + ".read",
	} {
		if s, err := Parse(bad); err == nil {
			t.Errorf("%s accepted as %+v", bad, s)
		}
	}
}

func set(t *testing.T, s string) Set {
	t.Helper()
	out, err := ParseSet(s)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestPermit(t *testing.T) {
	if d := set(t, "openid 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c").Permit("Patient", Delete); !d.Allowed || d.Constraints != nil {
		t.Errorf("unscoped set: %+v", d)
	}
	s := set(t, "system/Patient.read system/Observation.rs?category=vital-signs system/Observation.s?category=laboratory system/Encounter.c")
	cases := []struct {
		typ     string
		op      int
		allowed bool
		ncons   int
	}{
		{"Patient", Read, true, 0}, {"Patient", Search, true, 0}, {"Patient", Update, false, 0},
		{"Condition", Read, false, 0}, {"Observation", Read, true, 1}, {"Observation", Search, true, 2},
		{"Encounter", Create, true, 0}, {"Encounter", Read, false, 0},
	}
	for _, c := range cases {
		d := s.Permit(c.typ, c.op)
		if d.Allowed != c.allowed || len(d.Constraints) != c.ncons {
			t.Errorf("%s %d: %+v", c.typ, c.op, d)
		}
	}
	// an unconstrained scope beside a constrained one lifts the constraint
	if d := set(t, "system/Observation.rs?category=laboratory system/*.read").Permit("Observation", Search); !d.Allowed || d.Constraints != nil {
		t.Errorf("wildcard beside a constraint: %+v", d)
	}
}

func TestGrant(t *testing.T) {
	allowed := set(t, "system/Patient.read system/Observation.rs?category=vital-signs")
	cases := []struct{ ask, want string }{
		{"", "system/Patient.read system/Observation.rs?category=vital-signs"},
		{"system/Patient.read", "system/Patient.read"},
		{"system/Patient.r", "system/Patient.r"},
		{"system/*.read", "system/Patient.read system/Observation.rs?category=vital-signs"},
		{"system/*.*", "system/Patient.read system/Observation.rs?category=vital-signs"},
		{"system/Observation.rs", "system/Observation.rs?category=vital-signs"},
		{"system/Observation.rs?category=vital-signs", "system/Observation.rs?category=vital-signs"},
		{"system/Observation.rs?category=laboratory", ""},
		{"system/Patient.write", ""},
		{"system/Patient.read system/Patient.read", "system/Patient.read"},
	}
	for _, c := range cases {
		got := strings.Join(Grant(set(t, c.ask), allowed).Strings(), " ")
		if got != c.want {
			t.Errorf("ask %q: granted %q, want %q", c.ask, got, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"system/Patient.read", "system/*.*", "system/Observation.rs?category=a,b&code=x", "system/X.cruds?"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		if s.Ops == 0 || s.Type == "" || !strings.HasPrefix(in, "system/") {
			t.Fatalf("accepted %q as %+v", in, s)
		}
		if !s.Covers(s) {
			t.Fatalf("%q does not cover itself", in)
		}
		if s.Constraint != nil && !s.V2 {
			t.Fatalf("%q: v1 scope with a constraint", in)
		}
	})
}
