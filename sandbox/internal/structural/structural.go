package structural

import (
	"errors"
	"fmt"
	"slices"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// MaxInputBytes bounds one resource; the largest sandbox Bundle is far
// smaller, and the bound keeps fuzzing and hostile input cheap.
const MaxInputBytes = 16 << 20

// ErrUnknownRelease is returned by Release for a release the validator has
// no definitions of.
var ErrUnknownRelease = errors.New("unknown fhir release")

// Release validates resourceJSON against the definitions of the named
// release of the table in package spec. The validator keeps its own
// definitions, keyed by FHIR version number, so it never takes the
// sandbox's idea of a release on trust.
func Release(name string, resourceJSON []byte) error {
	return Validators{DSTU2: DSTU2, STU3: STU3, R4: R4}.Release(name, resourceJSON)
}

// Validators are a validator for each FHIR version the sandbox serves:
// this package's, or another's (the tests' independent validator) with
// the same dispatch by release name.
type Validators struct {
	DSTU2, STU3, R4 func(resourceJSON []byte) error
}

// Release runs the validator of the named release's FHIR version.
func (v Validators) Release(name string, resourceJSON []byte) error {
	rel, ok := spec.Lookup(name)
	if !ok {
		return fmt.Errorf("validate %q: %w", name, ErrUnknownRelease)
	}
	switch rel.FHIRVersion {
	case "1.0.2":
		return v.DSTU2(resourceJSON)
	case "3.0.1":
		return v.STU3(resourceJSON)
	case "4.0.1":
		return v.R4(resourceJSON)
	default:
		return fmt.Errorf("validate %q (FHIR %s): %w", name, rel.FHIRVersion, ErrUnknownRelease)
	}
}

// DSTU2 validates one DSTU2 (1.0.2) resource of any type, including a
// Bundle with nested resources. It returns all problems joined, or nil.
func DSTU2(resourceJSON []byte) error { return dstu2Release.validate(resourceJSON) }

// STU3 validates one STU3 (3.0.1) resource of any type, including a Bundle
// with nested resources. It returns all problems joined, or nil.
func STU3(resourceJSON []byte) error { return stu3Release.validate(resourceJSON) }

// R4 validates one R4 (4.0.1) resource of any type, including a Bundle with
// nested resources. It returns all problems joined, or nil.
func R4(resourceJSON []byte) error { return r4Release.validate(resourceJSON) }

// DSTU2ResourceTypes lists the resource types of the DSTU2 (1.0.2)
// definitions, sorted: every type a DSTU2 server may hold.
func DSTU2ResourceTypes() ([]string, error) {
	d, err := loadDSTU2()
	if err != nil {
		return nil, err
	}
	return slices.Sorted(slices.Values(d.Resources)), nil
}

// CheckInput refuses an empty input and one over MaxInputBytes.
func CheckInput(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty input")
	}
	if len(b) > MaxInputBytes {
		return fmt.Errorf("input of %d bytes exceeds %d", len(b), MaxInputBytes)
	}
	return nil
}
