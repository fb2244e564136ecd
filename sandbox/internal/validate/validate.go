package validate

import (
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
)

// Release validates resourceJSON against the definitions of the named
// release of the table in package spec, dispatched by FHIR version the
// way the structural validator dispatches (an unknown release is
// structural.ErrUnknownRelease). The validator keeps its own definitions,
// keyed by FHIR version number, so it never takes the sandbox's idea of a
// release on trust.
func Release(name string, resourceJSON []byte) error {
	return structural.Validators{DSTU2: DSTU2, STU3: STU3, R4: R4}.Release(name, resourceJSON)
}

func checkInput(b []byte) error { return structural.CheckInput(b) }
