package seed

import (
	"reflect"
	"testing"
	"time"
)

// TestHospitalName: Options.Name names the hospital Organization and
// changes nothing else (every other value is drawn as without it).
func TestHospitalName(t *testing.T) {
	t.Parallel()
	opts := Options{Seed: 42, Tenant: "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", Patients: 3, ReferenceDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	plain, err := NewHospital(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Name = "Contoso General Hospital"
	named, err := NewHospital(opts)
	if err != nil {
		t.Fatal(err)
	}
	if named.Organization.Name != opts.Name {
		t.Fatalf("Organization name %q, want %q", named.Organization.Name, opts.Name)
	}
	if plain.Organization.Name == opts.Name {
		t.Fatal("without Name the hospital is named for the tenant too: the test proves nothing")
	}
	a, b := plain.Organization, named.Organization
	a.Name, b.Name = "", ""
	if !reflect.DeepEqual(a, b) {
		t.Errorf("the name moved other Organization values:\n%+v\n%+v", a, b)
	}
	if !reflect.DeepEqual(plain.Payors, named.Payors) || !reflect.DeepEqual(plain.Practitioners, named.Practitioners) || !reflect.DeepEqual(plain.Locations, named.Locations) {
		t.Error("the name moved payors, practitioners or locations")
	}
}
