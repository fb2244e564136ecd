package validate

import (
	"errors"
	"fmt"
)

// maxInputBytes bounds one resource; the largest sandbox Bundle is far
// smaller, and the bound keeps fuzzing and hostile input cheap.
const maxInputBytes = 16 << 20

// ErrUnknownRelease is returned by Release for a release name other than
// "dstu2", "stu3" or "r4".
var ErrUnknownRelease = errors.New("unknown fhir release")

// Release validates resourceJSON against the definitions of the named
// release: "dstu2", "stu3" or "r4".
func Release(name string, resourceJSON []byte) error {
	switch name {
	case "dstu2":
		return DSTU2(resourceJSON)
	case "stu3":
		return STU3(resourceJSON)
	case "r4":
		return R4(resourceJSON)
	default:
		return fmt.Errorf("validate %q: %w", name, ErrUnknownRelease)
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
