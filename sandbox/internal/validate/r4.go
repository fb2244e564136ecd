package validate

import (
	"errors"
	"fmt"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// R4 validates one R4 (4.0.1) resource of any type, including a Bundle with
// nested resources, against the R4 definitions compiled into
// github.com/google/fhir, after the release-independent JSON checks of
// checkShape. It returns all problems joined, or nil.
//
// It is STU3's pipeline with the R4 protos: the library checks R4 shapes
// that differ from STU3 (CodeableConcept clinicalStatus, Coding
// Encounter.class, Reference MedicationRequest.requester, Coverage.class),
// so a resource of the wrong release fails here.
func R4(resourceJSON []byte) error {
	if err := checkInput(resourceJSON); err != nil {
		return fmt.Errorf("r4: %w", err)
	}
	var problems []error
	if err := structural.JSONRules(resourceJSON); err != nil {
		problems = append(problems, err)
	}
	// NewUnmarshaller (not ...WithoutValidation) also runs fhirvalidate:
	// primitive regexes, required fields, reference target types.
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return fmt.Errorf("r4: build unmarshaller: %w", err)
	}
	u.MaxNestingDepth = maxNestingDepth
	if _, err := u.Unmarshal(resourceJSON); err != nil {
		problems = append(problems, describeUnmarshalError(err))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("r4: %w", errors.Join(problems...))
}
