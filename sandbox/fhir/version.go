package fhir

import (
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// Resource is one serialized FHIR resource ready to store or write out.
type Resource struct {
	Type string // resourceType, e.g. "Patient"
	ID   string
	JSON []byte // compact JSON, the resource alone
}

// Version is one release as the API serves it: its row of the release
// table (everything that differs between releases outside the resources
// themselves) and its renderer of version-neutral records.
type Version interface {
	// Release is the release's row of the table in package spec.
	Release() spec.Release
	// SearchParams lists the search parameters of every resource type the
	// release serves, as the store indexes them and metadata publishes them.
	SearchParams() store.Definitions
	// RenderHospital emits the tenant-level resources every patient refers
	// to: the hospital and payor Organizations, Practitioners, Locations.
	RenderHospital(h *seed.Hospital, emit func(Resource))
	// RenderPatient emits one patient and every resource about them, in a
	// stable order (Patient first).
	RenderPatient(p *seed.PatientRecord, emit func(Resource))
}

// renderers are the releases' renderers; each names its own row.
func renderers() []Version { return []Version{DSTU2{}, STU3{}, R4{}} }

// Versions lists the supported releases in the order of the release table.
// A row without a renderer is left out (and fails TestEveryReleaseRenders).
func Versions() []Version {
	rs := renderers()
	var out []Version
	for _, rel := range spec.Releases() {
		for _, v := range rs {
			if v.Release().Name == rel.Name {
				out = append(out, v)
			}
		}
	}
	return out
}

// Lookup returns the release with the given short name.
func Lookup(name string) (Version, bool) {
	rel, ok := spec.Lookup(name)
	if !ok {
		return nil, false
	}
	for _, v := range renderers() {
		if v.Release().Name == rel.Name {
			return v, true
		}
	}
	return nil, false
}
