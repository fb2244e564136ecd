// Package fhir is the FHIR REST surface of the sandbox and the per-release
// renderers (dstu2.go, stu3.go) that turn seed records into JSON.
package fhir
