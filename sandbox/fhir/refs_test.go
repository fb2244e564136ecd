package fhir

import (
	"strings"
	"testing"
)

// TestTransactionReferences: the transaction endpoint resolves references
// through resolveReferences, as the fixture loader does: urn:uuid, an
// absolute fullUrl, the old Type/id of a POSTed entry and conditional
// references (against the Bundle and the store); an unresolvable one
// fails the whole transaction.
func TestTransactionReferences(t *testing.T) {
	t.Parallel()
	v, _ := Lookup("r4")
	f := newAPIFixture(t, v, 1)
	mrn := f.hosp.Patient(0).Patient.MRN
	obs := func(id, ref string) string {
		return `{"resource":{"resourceType":"Observation","id":"` + id + `","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}},"request":{"method":"PUT","url":"Observation/` + id + `"}}`
	}
	tx := func(entries ...string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	}
	post := func(value string) string {
		return `{"fullUrl":"http://elsewhere.example/fhir/Patient/old","resource":{"resourceType":"Patient","identifier":[{"system":"urn:test","value":"` + value + `"}]},"request":{"method":"POST","url":"Patient"}}`
	}
	tests := []struct {
		name   string
		body   string
		status int
		want   map[string]string // Observation id -> subject reference
		diag   string
	}{
		{"absolute fullUrl and old Type/id follow the new id", tx(post("tx-1"), obs("r1", "http://elsewhere.example/fhir/Patient/old"), obs("r2", "Patient/old")), 200,
			map[string]string{"r1": "Patient/NEW", "r2": "Patient/NEW"}, ""},
		{"conditional in the Bundle", tx(post("tx-2"), obs("r3", "Patient?identifier=urn:test|tx-2")), 200, map[string]string{"r3": "Patient/NEW"}, ""},
		{"conditional in the store", tx(obs("r4", "Patient?identifier="+mrn)), 200, map[string]string{"r4": "Patient/pat-1"}, ""},
		{"conditional without a match", tx(obs("r5", "Patient?identifier=nobody")), 400, nil, "matches no resource"},
		{"dangling urn:uuid", tx(obs("r6", "urn:uuid:nowhere")), 400, nil, "names no entry"},
	}
	for _, tt := range tests {
		r := f.do(t, "POST", "", strings.NewReader(tt.body), "Content-Type", v.Release().MediaType)
		if r.status != tt.status || !strings.Contains(string(r.body), tt.diag) {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
			continue
		}
		newID := str(at(r.json, "entry.0.resource.id"))
		for id, want := range tt.want {
			want = strings.Replace(want, "NEW", newID, 1)
			g := f.do(t, "GET", "/Observation/"+id, nil)
			if got := str(at(g.json, "subject.reference")); got != want {
				t.Errorf("%s: Observation/%s subject %q, want %q", tt.name, id, got, want)
			}
		}
	}
}
