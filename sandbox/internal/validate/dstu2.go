package validate

import "github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"

// DSTU2 validates one DSTU2 (1.0.2) resource with the structural validator
// the server runs (package structural, driven by the official DSTU2
// definitions): google/fhir has no DSTU2 protos.
func DSTU2(resourceJSON []byte) error { return structural.DSTU2(resourceJSON) }

// DSTU2ResourceTypes lists the resource types of the DSTU2 (1.0.2)
// definitions, sorted.
func DSTU2ResourceTypes() ([]string, error) { return structural.DSTU2ResourceTypes() }
