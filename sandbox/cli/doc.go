// Package cli is the fhirsandbox command line: serve, generate and version.
// Main takes the arguments and output writers and returns the exit code, so
// every command runs in-process in tests exactly as from a shell.
//
// Exit codes: 0 success, 1 a runtime failure, 2 a usage or configuration
// error (nothing was started).
package cli
