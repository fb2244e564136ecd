package seed

import (
	"errors"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

func generate(t testing.TB, seed int64, n int) *Hospital {
	t.Helper()
	h, err := Generate(Options{Seed: seed, Tenant: testTenant, Patients: n, ReferenceDate: testRef})
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	return h
}

func TestOptionsValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		opts Options
		want error
	}{
		{"negative patients", Options{Tenant: testTenant, Patients: -1, ReferenceDate: testRef}, ErrBadPatients},
		{"too many patients", Options{Tenant: testTenant, Patients: spec.MaxPatients + 1, ReferenceDate: testRef}, ErrBadPatients},
		{"empty tenant", Options{Tenant: "", Patients: 1, ReferenceDate: testRef}, ErrBadTenant},
		{"bad tenant", Options{Tenant: "acme", Patients: 1, ReferenceDate: testRef}, ErrBadTenant},
		{"tenant with a bad digit", Options{Tenant: "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0g", Patients: 1, ReferenceDate: testRef}, ErrBadTenant},
		{"no reference date", Options{Tenant: testTenant, Patients: 1}, ErrBadReferenceDate},
		{"reference date too early", Options{Tenant: testTenant, Patients: 1, ReferenceDate: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}, ErrBadReferenceDate},
		{"reference date too late", Options{Tenant: testTenant, Patients: 1, ReferenceDate: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}, ErrBadReferenceDate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, err := NewHospital(tc.opts)
			if !errors.Is(err, tc.want) || h != nil {
				t.Fatalf("NewHospital = %v, %v; want error %v", h, err, tc.want)
			}
			if _, err := Generate(tc.opts); !errors.Is(err, tc.want) {
				t.Fatalf("Generate error %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		t.Parallel()
		_, err := NewHospital(Options{Tenant: "x", Patients: -5})
		for _, want := range []error{ErrBadTenant, ErrBadPatients, ErrBadReferenceDate} {
			if !errors.Is(err, want) {
				t.Errorf("error %v does not report %v", err, want)
			}
		}
	})
	t.Run("canonical form", func(t *testing.T) {
		t.Parallel()
		loc := time.FixedZone("UTC+2", 2*3600)
		ref := time.Date(2025, 6, 1, 14, 0, 0, 123456789, loc)
		a, err := Generate(Options{Seed: 3, Tenant: "{" + strings.ToUpper(testTenant) + "}", Patients: 5, ReferenceDate: ref})
		if err != nil {
			t.Fatal(err)
		}
		b := generate(t, 3, 5)
		if a.Tenant != testTenant || a.Options.Tenant != testTenant {
			t.Errorf("tenant %q not canonical", a.Tenant)
		}
		if !a.Options.ReferenceDate.Equal(testRef) || a.Options.ReferenceDate.Location() != time.UTC {
			t.Errorf("reference date %v, want %v in UTC", a.Options.ReferenceDate, testRef)
		}
		if !reflect.DeepEqual(a, b) {
			t.Error("the same tenant and instant spelled differently give different data")
		}
	})
	t.Run("zero patients", func(t *testing.T) {
		t.Parallel()
		h := generate(t, 1, 0)
		if len(h.Patients) != 0 || len(h.Practitioners) == 0 || len(h.Locations) == 0 || len(h.Payors) == 0 {
			t.Errorf("zero-patient hospital: %d patients, %d practitioners, %d locations, %d payors", len(h.Patients), len(h.Practitioners), len(h.Locations), len(h.Payors))
		}
	})
}

func TestMRNSystem(t *testing.T) {
	t.Parallel()
	if got := MRNSystem(testTenant); got != "urn:uuid:"+testTenant {
		t.Errorf("MRNSystem = %q", got)
	}
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	a, b := generate(t, 7, 120), generate(t, 7, 120)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two runs with the same options differ")
	}
	// Patient i alone, in reverse order and in parallel, equals patient i
	// of the whole population.
	h, err := NewHospital(a.Options)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]PatientRecord, len(a.Patients))
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := len(got) - 1 - w; i >= 0; i -= 4 {
				got[i] = h.Patient(i)
			}
		})
	}
	wg.Wait()
	for i := range got {
		if !reflect.DeepEqual(got[i], a.Patients[i]) {
			t.Fatalf("patient %d generated alone differs from patient %d in Generate", i, i)
		}
	}
	// A larger population starts with the same patients.
	big := generate(t, 7, 130)
	if !reflect.DeepEqual(big.Patients[:120], a.Patients) {
		t.Error("population size changes existing patients")
	}
	// Seed and tenant change the data.
	other := generate(t, 8, 120)
	h2, err := Generate(Options{Seed: 7, Tenant: "00000000-0000-4000-8000-000000000001", Patients: 120, ReferenceDate: testRef})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []*Hospital{other, h2} {
		diff := 0
		for i := range o.Patients {
			if o.Patients[i].Patient.Name.Family != a.Patients[i].Patient.Name.Family || !o.Patients[i].Patient.BirthDate.Equal(a.Patients[i].Patient.BirthDate) {
				diff++
			}
		}
		if diff < 60 {
			t.Errorf("only %d of 120 patients differ for another seed or tenant", diff)
		}
	}
}

func TestPatientOutOfRange(t *testing.T) {
	t.Parallel()
	h := generate(t, 1, 0)
	for _, i := range []int{-1, spec.MaxPatients, math.MaxInt} {
		if got := h.Patient(i); !reflect.DeepEqual(got, PatientRecord{}) {
			t.Errorf("Patient(%d) = %+v, want zero record", i, got.Patient)
		}
	}
	if last := h.Patient(spec.MaxPatients - 1); last.Patient.ID != "pat-"+strconv.Itoa(spec.MaxPatients) {
		t.Errorf("last patient id %q", last.Patient.ID)
	}
}

var fhirID = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

func TestIDs(t *testing.T) {
	t.Parallel()
	h := generate(t, 11, 200)
	seen := map[string]bool{}
	id := func(want, got string) {
		t.Helper()
		if got != want {
			t.Errorf("id %q, want %q", got, want)
		}
		if !fhirID.MatchString(got) {
			t.Errorf("id %q is not a FHIR id", got)
		}
		if seen[got] {
			t.Errorf("id %q used twice", got)
		}
		seen[got] = true
	}
	id("org-hospital", h.Organization.ID)
	for k, o := range h.Payors {
		id("org-payor-"+strconv.Itoa(k+1), o.ID)
	}
	for k, p := range h.Practitioners {
		id("pract-"+strconv.Itoa(k+1), p.ID)
	}
	for k, l := range h.Locations {
		id("loc-"+strconv.Itoa(k+1), l.ID)
	}
	mrns := map[string]bool{}
	for i, r := range h.Patients {
		n := strconv.Itoa(i + 1)
		if r.Index != i {
			t.Errorf("patient %d has Index %d", i, r.Index)
		}
		id("pat-"+n, r.Patient.ID)
		for k, e := range r.Encounters {
			id("enc-"+n+"-"+strconv.Itoa(k+1), e.ID)
		}
		for k, o := range r.Vitals {
			id("obs-"+n+"-"+strconv.Itoa(k+1), o.ID)
		}
		for k, c := range r.Conditions {
			id("cond-"+n+"-"+strconv.Itoa(k+1), c.ID)
		}
		for k, a := range r.Allergies {
			id("alg-"+n+"-"+strconv.Itoa(k+1), a.ID)
		}
		for k, m := range r.Meds {
			id("med-"+n+"-"+strconv.Itoa(k+1), m.ID)
		}
		if r.Coverage != nil {
			id("cov-"+n, r.Coverage.ID)
		}
		if len(r.Patient.MRN) != 8 || strings.Trim(r.Patient.MRN, "0123456789") != "" || mrns[r.Patient.MRN] {
			t.Errorf("patient %d MRN %q not 8 unique digits", i, r.Patient.MRN)
		}
		mrns[r.Patient.MRN] = true
	}
}

// TestMRNUniqueAtScale checks the MRN permutation over the whole index
// range without generating patients.
func TestMRNUniqueAtScale(t *testing.T) {
	t.Parallel()
	h := generate(t, 5, 0)
	seen := make(map[string]struct{}, spec.MaxPatients)
	for i := range spec.MaxPatients {
		m := h.mrn(i)
		if _, dup := seen[m]; dup || len(m) != 8 {
			t.Fatalf("MRN %q of patient %d repeats or is not 8 digits", m, i)
		}
		seen[m] = struct{}{}
	}
}

func TestPractitionersAndPlaces(t *testing.T) {
	t.Parallel()
	h := generate(t, 2, 0)
	for _, p := range h.Practitioners {
		if !luhnNPI(p.NPI) {
			t.Errorf("%s NPI %q fails the check digit", p.ID, p.NPI)
		}
		if len(p.Name.Given) == 0 || p.Name.Family == "" || p.Specialty == "" || (p.Gender != "male" && p.Gender != "female") {
			t.Errorf("practitioner %+v incomplete", p)
		}
	}
	for _, o := range append([]Organization{h.Organization}, h.Payors...) {
		if o.Name == "" || o.Address.Country != "US" || o.Address.City == "" || !strings.Contains(o.Phone, " 555-01") {
			t.Errorf("organization %+v incomplete", o)
		}
	}
	if h.Organization.Type != "prov" {
		t.Errorf("hospital type %q", h.Organization.Type)
	}
	for _, o := range h.Payors {
		if o.Type != "pay" {
			t.Errorf("payor %s type %q", o.ID, o.Type)
		}
	}
	for _, l := range h.Locations {
		if l.Name == "" || l.Type.Code == "" {
			t.Errorf("location %+v incomplete", l)
		}
	}
}

// luhnNPI is the NPI check: Luhn over "80840" + the ten digits.
func luhnNPI(s string) bool {
	if len(s) != 10 {
		return false
	}
	d := "80840" + s
	sum := 0
	for k := len(d) - 1; k >= 0; k-- {
		v := int(d[k] - '0')
		if v < 0 || v > 9 {
			return false
		}
		if (len(d)-1-k)%2 == 1 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return sum%10 == 0
}

func TestReferencesResolve(t *testing.T) {
	t.Parallel()
	h := generate(t, 13, 200)
	targets := map[string]string{} // "Type/id" -> display
	targets["Organization/"+h.Organization.ID] = h.Organization.Name
	for _, o := range h.Payors {
		targets["Organization/"+o.ID] = o.Name
	}
	for _, p := range h.Practitioners {
		targets["Practitioner/"+p.ID] = "Dr. " + p.Name.Given[0] + " " + p.Name.Family
	}
	for _, l := range h.Locations {
		targets["Location/"+l.ID] = l.Name
	}
	for _, r := range h.Patients {
		p := r.Patient
		targets["Patient/"+p.ID] = p.Name.Given[0] + " " + p.Name.Family
	}
	for _, r := range h.Patients {
		ref := func(where string, x Reference) {
			t.Helper()
			want, ok := targets[x.Type+"/"+x.ID]
			if !ok {
				t.Errorf("%s: reference %s/%s does not resolve", where, x.Type, x.ID)
			} else if x.Display != want {
				t.Errorf("%s: reference %s/%s display %q, want %q", where, x.Type, x.ID, x.Display, want)
			}
		}
		encs := map[string]Encounter{}
		for _, e := range r.Encounters {
			encs[e.ID] = e
			ref(e.ID, e.Location)
			ref(e.ID, e.Attender)
		}
		enc := func(where, id string, optional bool) {
			t.Helper()
			if id == "" && optional {
				return
			}
			if _, ok := encs[id]; !ok {
				t.Errorf("%s: encounter %q not among the patient's", where, id)
			}
		}
		ref(r.Patient.ID, r.Patient.GP)
		for _, o := range r.Vitals {
			enc(o.ID, o.EncounterID, false)
			if e := encs[o.EncounterID]; !o.Effective.Equal(e.Start) {
				t.Errorf("%s effective %v, encounter start %v", o.ID, o.Effective, e.Start)
			}
		}
		for _, c := range r.Conditions {
			enc(c.ID, c.EncounterID, false)
			ref(c.ID, c.Asserter)
		}
		for _, a := range r.Allergies {
			ref(a.ID, a.Recorder)
		}
		for _, m := range r.Meds {
			enc(m.ID, m.EncounterID, m.Reason == nil)
			ref(m.ID, m.Prescriber)
		}
		if c := r.Coverage; c != nil {
			ref(c.ID, c.Payor)
			if c.Payor.Type == "Patient" && (c.Payor.ID != r.Patient.ID || c.PlanName != "No Primary Insurance") {
				t.Errorf("%s: a patient payor must be the patient itself, self-pay", c.ID)
			}
		}
	}
}

func TestDatesConsistent(t *testing.T) {
	t.Parallel()
	h := generate(t, 17, 300)
	ref := h.Options.ReferenceDate
	for _, r := range h.Patients {
		p := r.Patient
		birth := p.BirthDate
		in := func(what string, d time.Time) {
			t.Helper()
			if d.Before(birth) || d.After(ref) {
				t.Errorf("%s: %s %v outside [birth %v, reference %v]", p.ID, what, d, birth, ref)
			}
		}
		if birth.Hour() != 0 || birth.Minute() != 0 || birth.Location() != time.UTC {
			t.Errorf("%s birth date %v is not a UTC date", p.ID, birth)
		}
		in("birth", birth)
		last := time.Time{}
		for k, e := range r.Encounters {
			in(e.ID+" start", e.Start)
			if e.Start.Before(last) {
				t.Errorf("%s starts before the previous encounter ends", e.ID)
			}
			switch {
			case e.Status == "finished" && !e.End.IsZero():
				in(e.ID+" end", e.End)
				if !e.End.After(e.Start) {
					t.Errorf("%s ends at %v, not after its start %v", e.ID, e.End, e.Start)
				}
				last = e.End
			case e.Status == "in-progress" && e.End.IsZero() && k == len(r.Encounters)-1:
			default:
				t.Errorf("%s status %q end %v (only the newest may be in progress)", e.ID, e.Status, e.End)
			}
		}
		if p.Deceased {
			in("death", p.DeceasedDate)
			if p.DeceasedDate.Before(last) {
				t.Errorf("%s died %v before the last encounter ended %v", p.ID, p.DeceasedDate, last)
			}
			if n := len(r.Encounters); n > 0 && r.Encounters[n-1].Status != "finished" {
				t.Errorf("%s: deceased with an encounter in progress", p.ID)
			}
		} else if !p.DeceasedDate.IsZero() {
			t.Errorf("%s has a death date but is not deceased", p.ID)
		}
		for _, c := range r.Conditions {
			in(c.ID+" onset", c.Onset)
			in(c.ID+" recorded", c.Recorded)
			if c.Onset.After(c.Recorded) {
				t.Errorf("%s onset %v after recorded %v", c.ID, c.Onset, c.Recorded)
			}
			switch {
			case c.Clinical == "active" && c.Abatement.IsZero():
			case c.Clinical == "resolved" && !c.Abatement.IsZero():
				in(c.ID+" abatement", c.Abatement)
				if !c.Abatement.After(c.Onset) {
					t.Errorf("%s abates %v before onset %v", c.ID, c.Abatement, c.Onset)
				}
			default:
				t.Errorf("%s clinical %q with abatement %v", c.ID, c.Clinical, c.Abatement)
			}
			if c.Kind == "chronic" && c.Clinical != "active" {
				t.Errorf("%s chronic but %s", c.ID, c.Clinical)
			}
		}
		for k, c := range r.Conditions[min(1, len(r.Conditions)):] {
			if c.Recorded.Before(r.Conditions[k].Recorded) {
				t.Errorf("%s recorded before %s: not oldest first", c.ID, r.Conditions[k].ID)
			}
		}
		for _, a := range r.Allergies {
			in(a.ID+" onset", a.Onset)
			in(a.ID+" recorded", a.Recorded)
			if a.Onset.After(a.Recorded) {
				t.Errorf("%s onset after recorded", a.ID)
			}
		}
		for _, m := range r.Meds {
			in(m.ID+" authored", m.Authored)
			switch m.Status {
			case "active":
				if !m.Ended.IsZero() {
					t.Errorf("%s active with end %v", m.ID, m.Ended)
				}
			case "completed", "stopped":
				in(m.ID+" ended", m.Ended)
				if m.Ended.Before(m.Authored) {
					t.Errorf("%s ended before authored", m.ID)
				}
			default:
				t.Errorf("%s status %q", m.ID, m.Status)
			}
			if p.Deceased && (m.Status == "active" || m.Ended.After(p.DeceasedDate)) {
				t.Errorf("%s runs past the patient's death", m.ID)
			}
		}
		if c := r.Coverage; c != nil {
			in(c.ID+" start", c.Start)
			if !c.End.IsZero() && c.End.Before(c.Start) {
				t.Errorf("%s ends before it starts", c.ID)
			}
			if p.Deceased && (c.End.IsZero() || c.Start.After(p.DeceasedDate)) {
				t.Errorf("%s does not end with the patient's death", c.ID)
			}
		}
	}
}

// vitalsOf returns the patient's observations of one key, oldest first.
func vitalsOf(r PatientRecord, key string) []Observation {
	var out []Observation
	for _, o := range r.Vitals {
		if o.Key == key {
			out = append(out, o)
		}
	}
	return out
}

func TestVitals(t *testing.T) {
	t.Parallel()
	h := generate(t, 19, 400)
	decimals := map[string]int{"body_height": 1, "body_weight": 1, "bmi": 1, "body_temperature": 1, "head_circumference": 1, "heart_rate": 0, "respiratory_rate": 0, "oxygen_saturation": 0, "systolic": 0, "diastolic": 0}
	rounded := func(q Quantity) bool {
		s := math.Pow(10, float64(q.Decimals))
		return math.Abs(q.Value*s-math.Round(q.Value*s)) < 1e-6
	}
	sawBP, sawBMI, sawHead := false, false, false
	for _, r := range h.Patients {
		birth := r.Patient.BirthDate
		type hw struct{ h, w float64 }
		perEnc := map[string]*hw{}
		for _, o := range r.Vitals {
			// Whole days over 365: the generator's infant thresholds are
			// 365, 730 and 1095 days.
			age := float64(int(o.Effective.Sub(birth).Hours()/24)) / 365
			if o.Status != "final" {
				t.Errorf("%s status %q", o.ID, o.Status)
			}
			if o.Key == KeyBloodPressure {
				sawBP = true
				if o.Value != nil || len(o.Components) != 2 || o.Code.Code != "85354-9" || o.CodeDSTU2.Code != "55284-4" {
					t.Fatalf("%s blood pressure panel malformed: %+v", o.ID, o)
				}
				sys, dia := o.Components[0], o.Components[1]
				if sys.Code.Code != "8480-6" || dia.Code.Code != "8462-4" {
					t.Errorf("%s components %s/%s", o.ID, sys.Code.Code, dia.Code.Code)
				}
				if dia.Value.Value >= sys.Value.Value || dia.Value.Value < 40 || sys.Value.Value > 200 {
					t.Errorf("%s blood pressure %v/%v", o.ID, sys.Value.Value, dia.Value.Value)
				}
				if age < 3 {
					t.Errorf("%s blood pressure at %.1f years", o.ID, age)
				}
				for _, c := range o.Components {
					if !rounded(c.Value) || c.Value.Decimals != 0 || c.Value.Code != "mm[Hg]" {
						t.Errorf("%s component %+v", o.ID, c.Value)
					}
				}
				continue
			}
			if o.Value == nil || len(o.Components) != 0 || o.CodeDSTU2 != (Coding{}) {
				t.Fatalf("%s malformed: %+v", o.ID, o)
			}
			v := o.Value.Value
			if d, ok := decimals[o.Key]; !ok || o.Value.Decimals != d || !rounded(*o.Value) {
				t.Errorf("%s %s value %v with %d decimals", o.ID, o.Key, v, o.Value.Decimals)
			}
			if perEnc[o.EncounterID] == nil {
				perEnc[o.EncounterID] = &hw{}
			}
			lo, hi := 0.0, 0.0
			switch o.Key {
			case "body_height":
				perEnc[o.EncounterID].h = v
				lo, hi = 45, 90
				if age >= 2 {
					lo, hi = 85, 195
				}
			case "body_weight":
				perEnc[o.EncounterID].w = v
				lo, hi = 2.5, 13
				if age >= 2 {
					lo, hi = 10, 140
				}
			case "heart_rate":
				lo, hi = 60, 175
				if age < 1 {
					lo = 100
				}
			case "respiratory_rate":
				lo, hi = 12, 60
				if age < 1 {
					lo = 30
				} else if ageYears(birth, o.Effective) >= 13 {
					hi = 24
				}
			case "body_temperature":
				lo, hi = 36.1, 39.5
			case "oxygen_saturation":
				lo, hi = 90, 100
			case "head_circumference":
				sawHead = true
				lo, hi = 33, 52
				if age >= 3 {
					t.Errorf("%s head circumference at %.1f years", o.ID, age)
				}
			case "bmi":
				sawBMI = true
				lo, hi = 10, 60
				if age < 2 {
					t.Errorf("%s BMI at %.1f years", o.ID, age)
				}
			}
			if v < lo || v > hi {
				t.Errorf("%s %s %v outside [%v, %v] at %.1f years", o.ID, o.Key, v, lo, hi, age)
			}
		}
		for _, o := range vitalsOf(r, "bmi") {
			m := perEnc[o.EncounterID]
			if m == nil || m.h == 0 || m.w == 0 {
				t.Errorf("%s BMI without height and weight at the same encounter", o.ID)
				continue
			}
			want := m.w / (m.h / 100 * m.h / 100)
			if math.Abs(o.Value.Value-want) > 0.05+1e-9 {
				t.Errorf("%s BMI %v, weight %v / height %v^2 = %.3f", o.ID, o.Value.Value, m.w, m.h, want)
			}
		}
		heights := vitalsOf(r, "body_height")
		for k := 1; k < len(heights); k++ {
			prev, cur := heights[k-1], heights[k]
			adult := prev.Effective.Sub(birth).Hours()/24/365.25 >= 18.1
			switch {
			case adult && cur.Value.Value != prev.Value.Value:
				t.Errorf("%s adult height changes %v -> %v", cur.ID, prev.Value.Value, cur.Value.Value)
			case cur.Value.Value < prev.Value.Value:
				t.Errorf("%s height shrinks %v -> %v", cur.ID, prev.Value.Value, cur.Value.Value)
			}
		}
	}
	if !sawBP || !sawBMI || !sawHead {
		t.Errorf("population lacks blood pressure (%v), BMI (%v) or head circumference (%v)", sawBP, sawBMI, sawHead)
	}
}

func TestConditionsPlausible(t *testing.T) {
	t.Parallel()
	h := generate(t, 23, 600)
	byCode := map[string]conditionDef{}
	for _, c := range conditions {
		byCode[c.Code.Code] = c
	}
	total := 0
	for _, r := range h.Patients {
		birth, ref := r.Patient.BirthDate, h.Options.ReferenceDate
		if len(r.Conditions) > 5 {
			t.Errorf("%s has %d conditions", r.Patient.ID, len(r.Conditions))
		}
		total += len(r.Conditions)
		seen := map[string]bool{}
		for _, c := range r.Conditions {
			atOnset, now := ageYears(birth, c.Onset), ageYears(birth, ref)
			// Independent spot rules a clinician would check.
			switch c.Code.Code {
			case "26929004": // Alzheimer's disease
				if atOnset < 60 {
					t.Errorf("%s Alzheimer's disease at %d", c.ID, atOnset)
				}
			case "192127007": // child attention deficit disorder
				if now > 30 || atOnset < 4 {
					t.Errorf("%s childhood ADD, onset %d, now %d", c.ID, atOnset, now)
				}
			case "88805009", "22298006", "230690007", "59621000", "44054006": // CHF, MI, stroke, hypertension, diabetes
				if atOnset < 18 {
					t.Errorf("%s %s at %d", c.ID, c.Code.Display, atOnset)
				}
			case "840539006": // COVID-19
				if c.Onset.Before(time.Date(2019, 12, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("%s COVID-19 in %v", c.ID, c.Onset)
				}
			}
			def, ok := byCode[c.Code.Code]
			if !ok || c.Kind != def.Kind {
				t.Fatalf("%s unknown condition %+v", c.ID, c.Code)
			}
			if ageMonths(birth, c.Onset) < def.MinMonths || def.MaxYears > 0 && now > def.MaxYears {
				t.Errorf("%s %s: onset at %d months, now %d years", c.ID, c.Code.Display, ageMonths(birth, c.Onset), now)
			}
			if seen[c.Code.Code] {
				t.Errorf("%s: %s twice", r.Patient.ID, c.Code.Display)
			}
			seen[c.Code.Code] = true
			if c.Severity != nil && c.Severity.System != SystemSNOMED {
				t.Errorf("%s severity %+v", c.ID, c.Severity)
			}
		}
		if seen["44054006"] && seen["714628002"] {
			t.Errorf("%s has both diabetes and prediabetes", r.Patient.ID)
		}
	}
	if total < len(h.Patients) {
		t.Errorf("only %d conditions in %d patients", total, len(h.Patients))
	}
}

func TestMedicationsMatchConditions(t *testing.T) {
	t.Parallel()
	h := generate(t, 29, 600)
	groupOf := map[string]map[string]bool{} // condition code -> med codes
	for _, c := range conditions {
		if c.Meds == mgNone {
			continue
		}
		groupOf[c.Code.Code] = map[string]bool{}
		for _, m := range medGroups[c.Meds].Meds {
			groupOf[c.Code.Code][m.Code.Code] = true
		}
	}
	epi := medGroups[mgAnaphylaxis].Meds[0].Code.Code
	total := 0
	for _, r := range h.Patients {
		if len(r.Meds) > 6 {
			t.Errorf("%s has %d medications", r.Patient.ID, len(r.Meds))
		}
		total += len(r.Meds)
		anaphylaxis := false
		allergic := map[string]bool{}
		for _, a := range r.Allergies {
			allergic[a.Substance.Code] = true
			for _, x := range a.Reactions {
				anaphylaxis = anaphylaxis || x.Manifestation.Code == "39579001"
			}
		}
		for _, m := range r.Meds {
			if m.Code.System != SystemRxNorm || m.DosageText == "" || m.Prescriber.ID == "" {
				t.Errorf("%s incomplete: %+v", m.ID, m)
			}
			if m.Code.Code == epi {
				if !anaphylaxis {
					t.Errorf("%s epinephrine without an anaphylactic allergy", m.ID)
				}
				continue
			}
			if m.Reason == nil || !groupOf[m.Reason.Code][m.Code.Code] {
				t.Errorf("%s %s does not treat %+v", m.ID, m.Code.Display, m.Reason)
			}
			for _, dc := range drugConflicts {
				if allergic[allergySubstances[dc.Substance].Code.Code] {
					for _, c := range dc.Codes {
						if c == m.Code.Code {
							t.Errorf("%s: %s prescribed despite allergy", m.ID, m.Code.Display)
						}
					}
				}
			}
		}
	}
	if total < len(h.Patients)/2 {
		t.Errorf("only %d medications in %d patients", total, len(h.Patients))
	}
}

func TestAllergiesAndCoverage(t *testing.T) {
	t.Parallel()
	h := generate(t, 31, 400)
	for _, r := range h.Patients {
		if len(r.Allergies) > 3 {
			t.Errorf("%s has %d allergies", r.Patient.ID, len(r.Allergies))
		}
		for _, a := range r.Allergies {
			if a.Category != "food" && a.Category != "medication" && a.Category != "environment" ||
				a.Clinical != "active" && a.Clinical != "inactive" && a.Clinical != "resolved" ||
				a.Verification != "confirmed" && a.Verification != "unconfirmed" ||
				a.Criticality != "low" && a.Criticality != "high" && a.Criticality != "unable-to-assess" ||
				a.Note == "" || len(a.Reactions) != 1 || a.Reactions[0].Description == "" {
				t.Errorf("%s malformed: %+v", a.ID, a)
			}
			if rx := a.Reactions[0]; rx.Manifestation.Code == "39579001" && (rx.Severity != "severe" || a.Criticality != "high") {
				t.Errorf("%s anaphylaxis not severe/high", a.ID)
			}
		}
		c := r.Coverage
		if c == nil {
			continue
		}
		age := ageYears(r.Patient.BirthDate, h.Options.ReferenceDate)
		if r.Patient.Deceased {
			age = ageYears(r.Patient.BirthDate, r.Patient.DeceasedDate)
		}
		switch {
		case c.PlanName == "No Primary Insurance":
			if c.Payor.Type != "Patient" {
				t.Errorf("%s self-pay with payor %+v", c.ID, c.Payor)
			}
			if c.SubscriberID != r.Patient.MRN || c.GroupName == "" || c.GroupValue == "" || c.PlanValue == "" {
				t.Errorf("%s self-pay without member id, group or plan code: %+v", c.ID, c)
			}
		case age >= 65 && c.Payor.Display != "Medicare" && c.Payor.Display != "Dual Eligible":
			t.Errorf("%s: %d years old on %s", c.ID, age, c.Payor.Display)
		case age < 65 && (c.Payor.Display == "Medicare" || c.Payor.Display == "Dual Eligible"):
			t.Errorf("%s: %d years old on %s", c.ID, age, c.Payor.Display)
		case c.PlanName == "" || c.GroupName == "" || c.SubscriberID == "" || c.PlanValue == "":
			t.Errorf("%s incomplete: %+v", c.ID, c)
		}
		if age < 18 && c.Relationship != "child" {
			t.Errorf("%s: minor with relationship %q", c.ID, c.Relationship)
		}
		if c.Status != "active" {
			t.Errorf("%s status %q", c.ID, c.Status)
		}
	}
}

// TestEdgeCases proves that every documented edge case appears in a
// population of 100 patients.
func TestEdgeCases(t *testing.T) {
	t.Parallel()
	h := generate(t, 37, 100)
	ref := h.Options.ReferenceDate
	count := map[string]int{}
	for _, r := range h.Patients {
		p := r.Patient
		name := strings.Join(p.Name.Given, " ") + " " + p.Name.Family
		for _, s := range append(append([]string{p.Name.Family}, p.Name.Given...), p.Name.Prefix...) {
			if !utf8.ValidString(s) || hasCombiningMark(s) || s != strings.TrimSpace(s) || s == "" {
				t.Errorf("%s: name part %q is not trimmed NFC text", p.ID, s)
			}
		}
		switch p.Name.Family {
		case "Smith":
			count["Smith"]++
		case "Johnson":
			count["Johnson"]++
		}
		if strings.ContainsRune(name, '\'') {
			count["apostrophe"]++
		}
		if strings.IndexFunc(name, func(r rune) bool { return r > unicode.MaxASCII }) >= 0 {
			count["accented"]++
		}
		if len(r.Allergies) == 0 {
			count["no allergies"]++
		}
		if len(r.Vitals) == 0 && len(r.Encounters) == 0 {
			count["no encounters or vitals"]++
		}
		age := ageYears(p.BirthDate, ref)
		if age >= 100 {
			count["centenarian"]++
		}
		if days := ref.Sub(p.BirthDate).Hours() / 24; days <= 31 {
			count["newborn"]++
			if len(r.Encounters) != 1 || len(r.Conditions) != 0 || len(r.Vitals) == 0 {
				t.Errorf("%s newborn with %d encounters, %d conditions, %d vitals", p.ID, len(r.Encounters), len(r.Conditions), len(r.Vitals))
			}
			for _, o := range r.Vitals {
				if o.Key == "heart_rate" && o.Value.Value < 100 || o.Key == "body_weight" && o.Value.Value > 6 {
					t.Errorf("%s newborn %s %v", o.ID, o.Key, o.Value.Value)
				}
			}
		}
		if p.Deceased {
			count["deceased"]++
		}
		if p.Gender == "other" || p.Gender == "unknown" {
			count["other gender"]++
		}
		if r.Coverage == nil {
			count["no coverage"]++
		} else if r.Coverage.PlanName == "No Primary Insurance" {
			count["self-pay"]++
		}
		if n := len(r.Encounters); n > 0 && r.Encounters[n-1].Status == "in-progress" {
			count["in progress"]++
		}
		if p.Language == langSpanish {
			count["spanish"]++
		}
	}
	for _, want := range []struct {
		what string
		min  int
	}{
		{"Smith", 3}, {"Johnson", 3}, {"apostrophe", 3}, {"accented", 3}, {"no allergies", 5},
		{"no encounters or vitals", 3}, {"centenarian", 3}, {"newborn", 3}, {"deceased", 1},
		{"other gender", 1}, {"no coverage", 1}, {"self-pay", 1}, {"in progress", 1},
	} {
		if count[want.what] < want.min {
			t.Errorf("%d patients %s in 100, want at least %d", count[want.what], want.what, want.min)
		}
	}
}

func hasCombiningMark(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Mn, r) {
			return true
		}
	}
	return false
}

func TestDemographics(t *testing.T) {
	t.Parallel()
	h := generate(t, 41, 300)
	ref := h.Options.ReferenceDate
	ages := map[string]int{}
	for _, r := range h.Patients {
		p := r.Patient
		age := ageYears(p.BirthDate, ref)
		switch {
		case age < 18:
			ages["child"]++
		case age < 65:
			ages["adult"]++
		default:
			ages["senior"]++
		}
		if len(p.Name.Given) < 1 || len(p.Name.Given) > 2 || p.Name.Family == "" {
			t.Errorf("%s name %+v", p.ID, p.Name)
		}
		if len(p.Name.Prefix) > 0 {
			pre := p.Name.Prefix[0]
			ok := map[string]bool{"Mr.": p.Gender == "male" && age >= 18, "Mrs.": p.Gender == "female" && age >= 18, "Ms.": p.Gender == "female" && age >= 18,
				"Dr.": age >= 18, "Master": p.Gender == "male" && age < 18, "Miss": p.Gender == "female" && age < 18}[pre]
			if !ok {
				t.Errorf("%s prefix %q for a %d-year-old %s", p.ID, pre, age, p.Gender)
			}
		}
		a := p.Address
		if len(a.Line) == 0 || a.City == "" || len(a.State) != 2 || len(a.PostalCode) != 5 || a.Country != "US" {
			t.Errorf("%s address %+v", p.ID, a)
		}
		if len(p.Telecom) == 0 || p.Telecom[0].System != "phone" {
			t.Errorf("%s telecom %+v", p.ID, p.Telecom)
		}
		for _, tc := range p.Telecom {
			if tc.System == "email" && (age < 18 || !strings.Contains(tc.Value, "@example.")) {
				t.Errorf("%s email %q at %d", p.ID, tc.Value, age)
			}
			if tc.System == "email" && strings.IndexFunc(tc.Value, func(r rune) bool { return r > unicode.MaxASCII || r == '\'' }) >= 0 {
				t.Errorf("%s email %q is not plain ASCII", p.ID, tc.Value)
			}
		}
		if !strings.HasPrefix(p.GP.Display, "Dr. ") {
			t.Errorf("%s GP display %q", p.ID, p.GP.Display)
		}
		if p.Language != langEnglishUS && p.Language != langSpanish {
			t.Errorf("%s language %+v", p.ID, p.Language)
		}
		if p.Marital.System != "http://hl7.org/fhir/v3/MaritalStatus" || age < 18 && p.Marital.Code != "S" {
			t.Errorf("%s marital %+v at %d", p.ID, p.Marital, age)
		}
	}
	// Roughly the US age pyramid: a fifth to a third children, most adults.
	if ages["child"] < 45 || ages["child"] > 110 || ages["adult"] < 120 || ages["senior"] < 30 {
		t.Errorf("age distribution %v of 300", ages)
	}
}

func TestStreamSeed(t *testing.T) {
	t.Parallel()
	seen := map[int64]string{}
	for _, s := range []string{streamHospital, streamPatient} {
		for _, seed := range []int64{0, 1, -1} {
			for _, tn := range []string{testTenant, "00000000-0000-4000-8000-000000000001"} {
				for i := range 50 {
					k := s + "/" + strconv.FormatInt(seed, 10) + "/" + tn + "/" + strconv.Itoa(i)
					v := streamSeed(s, seed, tn, i)
					if prev, dup := seen[v]; dup {
						t.Fatalf("streams %s and %s share seed %d", prev, k, v)
					}
					seen[v] = k
				}
			}
		}
	}
}

func FuzzNewHospital(f *testing.F) {
	f.Add(int64(1), testTenant, 3, int64(1748779200))
	f.Add(int64(-9), "{"+strings.ToUpper(testTenant)+"}", 0, int64(0))
	f.Add(int64(0), "not-a-guid", -1, int64(-1e12))
	f.Fuzz(func(t *testing.T, seed int64, tn string, n int, unix int64) {
		opts := Options{Seed: seed, Tenant: tn, Patients: n % 8, ReferenceDate: time.Unix(unix, 0)}
		h, err := NewHospital(opts)
		if err != nil {
			if h != nil {
				t.Fatal("hospital returned with an error")
			}
			return
		}
		ref := h.Options.ReferenceDate
		for i := range h.Options.Patients {
			r := h.Patient(i)
			if r.Patient.BirthDate.After(ref) || !reflect.DeepEqual(r, h.Patient(i)) {
				t.Fatalf("patient %d inconsistent", i)
			}
		}
	})
}

// TestDemographicsMatchPatient: the demographics drawn alone are the ones
// the full record carries, for every edge-case class of patient.
func TestDemographicsMatchPatient(t *testing.T) {
	t.Parallel()
	h, err := NewHospital(Options{Seed: 7, Tenant: testTenant, ReferenceDate: testRef})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 400; i++ {
		p := h.Patient(i).Patient
		d := h.Demographics(i)
		if d.ID != p.ID || d.MRN != p.MRN || d.Gender != p.Gender || d.BirthDate != p.BirthDate.Format("2006-01-02") || !reflect.DeepEqual(d.Name, p.Name) {
			t.Fatalf("patient %d: demographics %+v, record %+v", i, d, p)
		}
	}
	if d := h.Demographics(-1); d.ID != "" {
		t.Errorf("index -1: %+v", d)
	}
}

// TestPatientOnly checks that PatientOnly draws the same Patient as the
// whole record, for every edge class (they repeat within 100 patients)
// and for patients far into a large population.
func TestPatientOnly(t *testing.T) {
	t.Parallel()
	h, err := NewHospital(Options{Seed: 42, Tenant: testTenant, Patients: 0, ReferenceDate: testRef})
	if err != nil {
		t.Fatal(err)
	}
	check := func(i int) {
		full, only := h.Patient(i), *h.PatientOnly(i)
		want := PatientRecord{Index: full.Index, Patient: full.Patient, MRNSystem: full.MRNSystem, Provider: full.Provider}
		if !reflect.DeepEqual(only, want) {
			t.Fatalf("patient %d: PatientOnly\n%+v\nwant\n%+v", i, only, want)
		}
	}
	deceased := 0
	for i := range 2_000 {
		check(i)
		if h.PatientOnly(i).Patient.Deceased {
			deceased++
		}
	}
	if deceased == 0 {
		t.Fatal("no deceased patient among the first 2,000: the date of death is not checked")
	}
	for i := 1; i < 1_000_000; i += 7919 {
		check(i)
	}
	if got := *h.PatientOnly(-1); !reflect.DeepEqual(got, PatientRecord{}) {
		t.Fatalf("PatientOnly(-1) = %+v, want the zero record", got)
	}
}
