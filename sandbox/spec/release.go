package spec

import "strings"

// Release is one FHIR release the server speaks: one row of the table.
// Everything that differs between releases outside the renderers (which
// write the resources themselves) is a field here, so adding a release is
// one row and one renderer.
type Release struct {
	// Name is the short name used as the base path ("/" + Name), in config
	// (fhir_version), flags and scenario files.
	Name string
	// Label is the name people write: "DSTU2", "STU3", "R4".
	Label string
	// FHIRVersion is the release number metadata statements carry.
	FHIRVersion string
	// MediaType is the release's JSON media type.
	MediaType string
	// MetadataType is the resource GET [base]/metadata answers with.
	MetadataType string
	// MedicationType is the resource type of a medication order.
	MedicationType string
	// SecurityServiceSystem is the code system of the statement's
	// rest.security.service coding (restful-security-service).
	SecurityServiceSystem string
	// AcceptUnknown: the metadata statement has acceptUnknown (R4 removed
	// it).
	AcceptUnknown bool
	// BatchInteraction: the statement lists the batch system interaction
	// (DSTU2 has no code for it, though it accepts batch Bundles).
	BatchInteraction bool
	// OutcomeInResponse: a failed batch or transaction entry carries its
	// OperationOutcome in entry.response.outcome; before STU3 there is no
	// such element and it goes in entry.resource.
	OutcomeInResponse bool
	// SortModifiers: _sort:asc=x and _sort:desc=x (the DSTU2 syntax) are
	// accepted beside _sort=-x. Releases that never had them refuse them.
	SortModifiers bool
	// Total: searches honour _total=none|estimate|accurate.
	Total bool
	// PreferOutcome: writes honour Prefer: return=OperationOutcome.
	PreferOutcome bool
	// ConditionalRead: the statement's rest.resource has conditionalRead
	// (STU3 added it; DSTU2 Conformance cannot say that reads honour
	// If-None-Match and If-Modified-Since, though they do).
	ConditionalRead bool
}

// Base is the release's base path under the server root: "/stu3".
func (r Release) Base() string { return "/" + r.Name }

// ConformanceScenario is the built-in scenario that checks a server of
// this release against the Patients app contract.
func (r Release) ConformanceScenario() string { return "patients-app-" + r.Name }

// DSTU2 is FHIR 1.0.2.
func DSTU2() Release {
	return Release{
		Name:                  "dstu2",
		Label:                 "DSTU2",
		FHIRVersion:           "1.0.2",
		MediaType:             "application/json+fhir",
		MetadataType:          "Conformance",
		MedicationType:        "MedicationOrder",
		SecurityServiceSystem: "http://hl7.org/fhir/restful-security-service",
		AcceptUnknown:         true,
		SortModifiers:         true,
	}
}

// STU3 is FHIR 3.0.1.
func STU3() Release {
	return Release{
		Name:                  "stu3",
		Label:                 "STU3",
		FHIRVersion:           "3.0.1",
		MediaType:             "application/fhir+json",
		MetadataType:          "CapabilityStatement",
		MedicationType:        "MedicationRequest",
		SecurityServiceSystem: "http://hl7.org/fhir/restful-security-service",
		AcceptUnknown:         true,
		BatchInteraction:      true,
		OutcomeInResponse:     true,
		ConditionalRead:       true,
		// STU3 dropped the modifiers; they stay accepted because the
		// Patients app sends _sort:desc=date for Encounter to every release
		SortModifiers: true,
	}
}

// R4 is FHIR 4.0.1.
func R4() Release {
	return Release{
		Name:                  "r4",
		Label:                 "R4",
		FHIRVersion:           "4.0.1",
		MediaType:             "application/fhir+json",
		MetadataType:          "CapabilityStatement",
		MedicationType:        "MedicationRequest",
		SecurityServiceSystem: "http://terminology.hl7.org/CodeSystem/restful-security-service",
		BatchInteraction:      true,
		OutcomeInResponse:     true,
		SortModifiers:         true, // as in STU3
		Total:                 true,
		PreferOutcome:         true,
		ConditionalRead:       true,
	}
}

// Releases is the table, oldest first.
func Releases() []Release { return []Release{DSTU2(), STU3(), R4()} }

// Default is the release a server serves when none is configured.
func Default() Release { return STU3() }

// Lookup finds a release by its short name, case-insensitively.
func Lookup(name string) (Release, bool) {
	for _, r := range Releases() {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return Release{}, false
}

// ByFHIRVersion finds the release a metadata statement's fhirVersion
// belongs to: releases are told apart by major and minor number
// ("3.0.2" is STU3 too).
func ByFHIRVersion(v string) (Release, bool) {
	for _, r := range Releases() {
		if majorMinor(r.FHIRVersion) == majorMinor(v) && majorMinor(v) != "" {
			return r, true
		}
	}
	return Release{}, false
}

func majorMinor(v string) string {
	major, rest, ok := strings.Cut(v, ".")
	if !ok || major == "" {
		return ""
	}
	minor, _, _ := strings.Cut(rest, ".")
	if minor == "" {
		return ""
	}
	return major + "." + minor
}

// Names lists the short names, oldest first.
func Names() []string {
	rs := Releases()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Name
	}
	return out
}

// NameList is the short names for a message: "dstu2, stu3 or r4".
func NameList() string { return oxford(Names(), "or") }

// LabelList is the labels for prose: "DSTU2, STU3 and R4".
func LabelList() string {
	var labels []string
	for _, r := range Releases() {
		labels = append(labels, r.Label)
	}
	return oxford(labels, "and")
}

// NameChoices is the short names for a flag's usage: "dstu2|stu3|r4".
func NameChoices() string { return strings.Join(Names(), "|") }

func oxford(xs []string, conj string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " " + conj + " " + xs[len(xs)-1]
}
