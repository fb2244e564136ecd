package fhir

import (
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// Resource is one serialized FHIR resource ready to store or write out.
type Resource struct {
	Type string // resourceType, e.g. "Patient"
	ID   string
	JSON []byte // compact JSON, the resource alone
}

// Version renders version-neutral records as FHIR JSON of one release and
// holds what differs between releases. DSTU2 and STU3 implement it.
type Version interface {
	// Name is the short name used in URLs and config: "dstu2" or "stu3".
	Name() string
	// FHIRVersion is the release number written in metadata: "1.0.2" or "3.0.1".
	FHIRVersion() string
	// MediaType is the JSON mime type of the release.
	MediaType() string
	// MedicationType is "MedicationOrder" (DSTU2) or "MedicationRequest" (STU3).
	MedicationType() string
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

// Versions lists the supported releases, oldest first.
func Versions() []Version { return []Version{DSTU2{}, STU3{}} }

// Lookup returns the release with the given short name.
func Lookup(name string) (Version, bool) {
	for _, v := range Versions() {
		if v.Name() == name {
			return v, true
		}
	}
	return nil, false
}
