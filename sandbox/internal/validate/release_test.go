package validate

import (
	"strings"
	"testing"
)

func TestReleaseDispatches(t *testing.T) {
	t.Parallel()
	dstu2Patient := []byte(`{"resourceType":"Patient","name":[{"family":["X"]}]}`)
	stu3Patient := []byte(`{"resourceType":"Patient","name":[{"family":"X"}]}`)
	tests := []struct {
		release string
		input   []byte
		ok      bool
	}{
		{"dstu2", dstu2Patient, true},
		{"dstu2", stu3Patient, false},
		{"stu3", stu3Patient, true},
		{"stu3", dstu2Patient, false},
		{"r4", stu3Patient, true}, // Patient.name did not change from STU3 to R4
		{"r4", dstu2Patient, false},
		{"r4", []byte(r4Examples["Condition"]), true},
		{"stu3", []byte(r4Examples["Condition"]), false}, // clinicalStatus is a CodeableConcept
	}
	for _, tc := range tests {
		err := Release(tc.release, tc.input)
		if (err == nil) != tc.ok {
			t.Errorf("Release(%s, %s) = %v, want ok=%v", tc.release, tc.input, err, tc.ok)
		}
	}
	if err := Release("r5", stu3Patient); err == nil || !strings.Contains(err.Error(), "unknown fhir release") {
		t.Errorf("Release(r5) = %v, want unknown release", err)
	}
}
