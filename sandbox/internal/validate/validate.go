package validate

import (
	"errors"
	"fmt"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// maxInputBytes bounds one resource; the largest sandbox Bundle is far
// smaller, and the bound keeps fuzzing and hostile input cheap.
const maxInputBytes = 16 << 20

// ErrUnknownRelease is returned by Release for a release the validator has
// no definitions of.
var ErrUnknownRelease = errors.New("unknown fhir release")

// Release validates resourceJSON against the definitions of the named
// release of the table in package spec. The validator keeps its own
// definitions, keyed by FHIR version number, so it never takes the
// sandbox's idea of a release on trust.
func Release(name string, resourceJSON []byte) error {
	rel, ok := spec.Lookup(name)
	if !ok {
		return fmt.Errorf("validate %q: %w", name, ErrUnknownRelease)
	}
	switch rel.FHIRVersion {
	case "1.0.2":
		return DSTU2(resourceJSON)
	case "3.0.1":
		return STU3(resourceJSON)
	case "4.0.1":
		return R4(resourceJSON)
	default:
		return fmt.Errorf("validate %q (FHIR %s): %w", name, rel.FHIRVersion, ErrUnknownRelease)
	}
}

func checkInput(b []byte) error {
	if len(b) == 0 {
		return errors.New("empty input")
	}
	if len(b) > maxInputBytes {
		return fmt.Errorf("input of %d bytes exceeds %d", len(b), maxInputBytes)
	}
	return nil
}
