// Package sandbox wires the fhirsandbox server together: the configuration
// (defaults, loading, validation), the one HTTP route table with its
// middleware order, and a graceful run/shutdown loop.
//
// The FHIR API, the token endpoint and the portal live in sibling packages
// and are mounted here; this package knows nothing of command-line flags.
package sandbox

//go:generate go run ../internal/configdoc -src . -out ../docs/configuration.md
