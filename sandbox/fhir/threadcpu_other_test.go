//go:build !linux

package fhir

import "time"

// threadCPU is the process's CPU time where a thread's own is not at
// hand: with GOMAXPROCS=1 it differs by the runtime's background work.
func threadCPU() time.Duration { return cpuTime() }
