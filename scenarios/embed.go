// Package scenarios holds the built-in scenario library: YAML files that
// make the sandbox behave like real partners and EHRs at their worst, each
// with steps that demonstrate the behaviour against the default sandbox.
// Load them with scenario.Load, listing FS with fs.Glob(FS, "*.yaml").
package scenarios

import "embed"

// FS holds every built-in scenario file.
//
//go:embed *.yaml
var FS embed.FS
