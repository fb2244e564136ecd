//go:build race

package sandbox

// raceEnabled: the race detector slows generation about tenfold, so the
// tests that build large populations use smaller ones under it.
const raceEnabled = true
