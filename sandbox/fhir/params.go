package fhir

import (
	"slices"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

//go:generate go run ./internal/spgen/cmd/spgen -defs searchparams/stu3.json -version 3.0.1 -func stu3Official -out params_stu3_gen.go
//go:generate go run ./internal/spgen/cmd/spgen -defs searchparams/r4.json -version 4.0.1 -func r4Official -out params_r4_gen.go

// mergeParams lays the hand-written parameters over the official ones:
// for every type the hand-written parameters come first, in their order (so
// the metadata statement lists them as before), and win on a name clash,
// because they carry what the Patients app relies on (Coverage's patient,
// paths the generated data fills); the official parameters they do not name
// follow. Types only the official table knows keep its parameters.
func mergeParams(official, hand store.Definitions) store.Definitions {
	for typ, hps := range hand {
		merged := slices.Clone(hps)
		for _, p := range official[typ] {
			if !slices.ContainsFunc(hps, func(h store.Param) bool { return h.Name == p.Name }) {
				merged = append(merged, p)
			}
		}
		official[typ] = merged
	}
	return official
}

// sp is shorthand for the parameter tables below.
func sp(name string, typ store.ParamType, doc string, paths ...string) store.Param {
	return store.Param{Name: name, Type: typ, Paths: paths, Doc: doc}
}

// spRef declares a reference parameter; target is what a bare id means.
func spRef(name, target, doc string, paths ...string) store.Param {
	return store.Param{Name: name, Type: store.Reference, Paths: paths, Target: target, Doc: doc}
}

const (
	spString = store.String
	spToken  = store.Token
	spDate   = store.Date
)

// commonPatientParams are the Patient parameters both releases share.
func commonPatientParams() []store.Param {
	return []store.Param{
		sp("identifier", spToken, "A patient identifier, e.g. the MRN (value or system|value)", "identifier"),
		sp("name", spString, "Any part of the name (substring, case- and accent-insensitive)", "name"),
		sp("family", spString, "Family name (substring, case- and accent-insensitive)", "name.family"),
		sp("given", spString, "Given name (substring, case- and accent-insensitive)", "name.given"),
		sp("birthdate", spDate, "Date of birth", "birthDate"),
		sp("gender", spToken, "Administrative gender", "gender"),
		sp("address", spString, "Any part of the address", "address"),
		sp("address-city", spString, "City", "address.city"),
		sp("address-postalcode", spString, "Postal code", "address.postalCode"),
		sp("telecom", spToken, "Phone or e-mail", "telecom"),
		sp("phone", spToken, "Phone number", "telecom"),
		sp("email", spToken, "E-mail address", "telecom"),
		sp("active", spToken, "Whether the record is active", "active"),
		sp("deceased", spToken, "Whether the patient is deceased", "deceasedBoolean"),
		spRef("organization", "Organization", "The managing organization", "managingOrganization"),
	}
}

// SearchParams returns the DSTU2 (1.0.2) search parameters: the
// hand-written ones below for the types the sandbox generates, a patient
// link for the clinical types real exports carry, and every other type of
// the release's definitions storable, readable and searchable by _id and
// _lastUpdated. (The release's SearchParameter definitions are not
// available as data here, unlike STU3's and R4's, so no other parameter
// is claimed.)
func (DSTU2) SearchParams() store.Definitions {
	all := store.Definitions{}
	for _, t := range dstu2ResourceTypes() {
		if t != "Parameters" { // an operation's message, never stored
			all[t] = []store.Param{}
		}
	}
	return mergeParams(all, dstu2HandParams())
}

// dstu2HandParams are the DSTU2 search parameters the sandbox supports,
// named as in the DSTU2 base specification. Coverage's patient is not a
// base parameter: the Patients app sends it, so it is honoured.
func dstu2HandParams() store.Definitions {
	return store.Definitions{
		"Patient": append(commonPatientParams(),
			spRef("careprovider", "Practitioner", "Patient's nominated care provider", "careProvider")),
		"Observation": observationParams(spRef("encounter", "Encounter", "The encounter of the observation", "encounter")),
		"Condition": {
			spRef("patient", "Patient", "The patient", "patient"),
			spRef("encounter", "Encounter", "The encounter", "encounter"),
			spRef("asserter", "Practitioner", "Who asserted the condition", "asserter"),
			sp("code", spToken, "The SNOMED CT code", "code"),
			sp("category", spToken, "The category", "category"),
			sp("clinicalstatus", spToken, "active, relapse, remission or resolved", "clinicalStatus"),
			sp("severity", spToken, "The severity", "severity"),
			sp("onset", spDate, "When the condition began", "onsetDateTime", "onsetPeriod"),
			sp("date-recorded", spDate, "When the condition was recorded", "dateRecorded"),
		},
		"Encounter": encounterParams(spRef("patient", "Patient", "The patient", "patient")),
		"AllergyIntolerance": {
			spRef("patient", "Patient", "The patient", "patient"),
			spRef("recorder", "", "Who recorded the allergy", "recorder"),
			sp("substance", spToken, "The substance", "substance", "reaction.substance"),
			sp("status", spToken, "The status", "status"),
			sp("criticality", spToken, "CRITL, CRITH or CRITU", "criticality"),
			sp("category", spToken, "food, medication, environment or other", "category"),
			sp("type", spToken, "allergy or intolerance", "type"),
			sp("manifestation", spToken, "A reaction's manifestation", "reaction.manifestation"),
			sp("date", spDate, "When the allergy was recorded", "recordedDate"),
			sp("onset", spDate, "When the reaction began", "onset"),
		},
		"MedicationOrder": {
			spRef("patient", "Patient", "The patient", "patient"),
			spRef("prescriber", "Practitioner", "Who prescribed", "prescriber"),
			spRef("encounter", "Encounter", "The encounter", "encounter"),
			spRef("medication", "Medication", "The medication, when referenced", "medicationReference"),
			sp("code", spToken, "The RxNorm code of the medication", "medicationCodeableConcept"),
			sp("status", spToken, "active, on-hold, completed, entered-in-error, stopped or draft", "status"),
			sp("datewritten", spDate, "When the order was written", "dateWritten"),
		},
		"Coverage": {
			// DSTU2 Coverage has no beneficiary: the covered patient is in
			// the STU3 beneficiary extension every generated Coverage
			// carries (see coverageDSTU2). subscriber is kept as a second
			// path so a Coverage written by a client without the extension
			// is still found by its policy-holding patient.
			spRef("patient", "Patient", "The covered patient (not a DSTU2 base parameter; the Patients app sends it): the STU3 beneficiary extension, or the subscriber", "extension("+extBeneficiaryDSTU2+").valueReference", "subscriber"),
			spRef("subscriber", "Patient", "The subscriber", "subscriber"),
			spRef("issuer", "Organization", "The insurer", "issuer"),
			sp("identifier", spToken, "The coverage identifier", "identifier", "subscriberId"),
			sp("plan", spToken, "The plan", "plan"),
			sp("group", spToken, "The group", "group"),
			sp("type", spToken, "The type of coverage", "type"),
		},
		"Location":     locationParams(),
		"Practitioner": practitionerParams(),
		"Organization": organizationParams(),
		// DSTU2's patient parameters of the clinical types a Synthea
		// export carries beside the interface's
		"Immunization":     {spRef("patient", "Patient", "The patient vaccinated", "patient")},
		"Procedure":        {spRef("patient", "Patient", "The patient the procedure was performed on", "subject")},
		"DiagnosticReport": {spRef("patient", "Patient", "The subject of the report, when a patient", "subject")},
		"CarePlan":         {spRef("patient", "Patient", "Who the care plan is for", "subject")},
	}
}

// SearchParams returns the STU3 (3.0.1) search parameters: every resource
// type of the release with the official parameters the store can index
// (params_stu3_gen.go), merged with the hand-written ones below.
func (STU3) SearchParams() store.Definitions {
	return mergeParams(stu3Official(), stu3HandParams())
}

// stu3HandParams are the STU3 parameters of the resources the sandbox
// generates, named as in the STU3 base specification, with documentation
// saying what the hospital's data holds. Coverage's patient is not a base
// parameter: the Patients app sends it, so it is honoured.
func stu3HandParams() store.Definitions {
	return store.Definitions{
		"Patient": append(commonPatientParams(),
			spRef("general-practitioner", "", "Patient's nominated general practitioner", "generalPractitioner")),
		"Observation": observationParams(
			spRef("encounter", "Encounter", "The encounter of the observation", "context"),
			spRef("context", "", "The encounter or episode of care", "context")),
		"Condition": {
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject"),
			spRef("encounter", "Encounter", "The encounter", "context"),
			spRef("context", "", "The encounter or episode of care", "context"),
			spRef("asserter", "", "Who asserted the condition", "asserter"),
			sp("code", spToken, "The SNOMED CT code", "code"),
			sp("category", spToken, "The category", "category"),
			sp("clinical-status", spToken, "active, recurrence, inactive, remission or resolved", "clinicalStatus"),
			sp("verification-status", spToken, "provisional, differential, confirmed...", "verificationStatus"),
			sp("severity", spToken, "The severity", "severity"),
			sp("onset-date", spDate, "When the condition began", "onsetDateTime", "onsetPeriod"),
			sp("asserted-date", spDate, "When the condition was asserted", "assertedDate"),
		},
		"Encounter": encounterParams(
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject")),
		"AllergyIntolerance": {
			spRef("patient", "Patient", "The patient", "patient"),
			spRef("recorder", "", "Who recorded the allergy", "recorder"),
			sp("code", spToken, "The substance", "code", "reaction.substance"),
			sp("clinical-status", spToken, "active, inactive or resolved", "clinicalStatus"),
			sp("verification-status", spToken, "unconfirmed, confirmed, refuted or entered-in-error", "verificationStatus"),
			sp("criticality", spToken, "low, high or unable-to-assess", "criticality"),
			sp("category", spToken, "food, medication, environment or biologic", "category"),
			sp("type", spToken, "allergy or intolerance", "type"),
			sp("manifestation", spToken, "A reaction's manifestation", "reaction.manifestation"),
			sp("date", spDate, "When the allergy was asserted", "assertedDate"),
			sp("onset", spDate, "When the reaction began", "reaction.onset"),
		},
		"MedicationRequest": {
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject"),
			spRef("requester", "", "Who asked for the medication", "requester.agent"),
			spRef("context", "", "The encounter or episode of care", "context"),
			spRef("medication", "Medication", "The medication, when referenced", "medicationReference"),
			sp("code", spToken, "The RxNorm code of the medication", "medicationCodeableConcept"),
			sp("status", spToken, "active, on-hold, cancelled, completed...", "status"),
			sp("intent", spToken, "proposal, plan or order", "intent"),
			sp("authoredon", spDate, "When the request was written", "authoredOn"),
		},
		"Coverage": {
			spRef("patient", "Patient", "The covered patient (not an STU3 base parameter; the Patients app sends it)", "beneficiary"),
			spRef("beneficiary", "", "The covered party", "beneficiary"),
			spRef("subscriber", "", "The subscriber", "subscriber"),
			spRef("payor", "", "The insurer", "payor"),
			sp("identifier", spToken, "The coverage identifier", "identifier"),
			sp("type", spToken, "The type of coverage", "type"),
			sp("group", spToken, "The group", "grouping.group"),
			sp("plan", spToken, "The plan", "grouping.plan"),
		},
		"Location":     locationParams(),
		"Practitioner": practitionerParams(),
		"Organization": organizationParams(),
	}
}

// observationParams are the Observation parameters both releases share;
// the release's encounter link (DSTU2 encounter, STU3 context) comes first.
func observationParams(encounter ...store.Param) []store.Param {
	return append([]store.Param{
		spRef("patient", "Patient", "The subject, when a patient", "subject"),
		spRef("subject", "", "The subject of the observation", "subject"),
	}, append(encounter,
		sp("code", spToken, "The LOINC code of the observation", "code"),
		sp("component-code", spToken, "The code of a component (e.g. systolic)", "component.code"),
		sp("category", spToken, "The category, e.g. vital-signs", "category"),
		sp("date", spDate, "When the observation was made", "effectiveDateTime", "effectivePeriod"),
		sp("status", spToken, "The status", "status"),
	)...)
}

// encounterParams are the Encounter parameters both releases share; the
// release's patient link (DSTU2 patient, STU3 subject) comes first.
func encounterParams(patient ...store.Param) []store.Param {
	return append(patient,
		spRef("location", "Location", "Where the encounter took place", "location.location"),
		spRef("practitioner", "Practitioner", "A participating practitioner", "participant.individual"),
		spRef("participant", "", "A participant", "participant.individual"),
		sp("date", spDate, "The period of the encounter", "period"),
		sp("status", spToken, "The status", "status"),
		sp("type", spToken, "The encounter type", "type"),
		sp("class", spToken, "The class of encounter", "class"),
		sp("reason", spToken, "The reason for the encounter", "reason"),
	)
}

func locationParams() []store.Param {
	return []store.Param{
		sp("name", spString, "The name of the location", "name"),
		sp("address", spString, "Any part of the address", "address"),
		sp("identifier", spToken, "An identifier", "identifier"),
		sp("type", spToken, "The type of location", "type"),
		sp("status", spToken, "active, suspended or inactive", "status"),
		spRef("organization", "Organization", "The managing organization", "managingOrganization"),
	}
}

func practitionerParams() []store.Param {
	return []store.Param{
		sp("name", spString, "Any part of the name", "name"),
		sp("family", spString, "Family name", "name.family"),
		sp("given", spString, "Given name", "name.given"),
		sp("identifier", spToken, "An identifier, e.g. the NPI", "identifier"),
		sp("gender", spToken, "Administrative gender", "gender"),
	}
}

func organizationParams() []store.Param {
	return []store.Param{
		sp("name", spString, "The name of the organization", "name"),
		sp("identifier", spToken, "An identifier", "identifier"),
		sp("type", spToken, "The type of organization", "type"),
	}
}

// SearchParams returns the R4 (4.0.1) search parameters: every resource
// type of the release with the official parameters the store can index
// (params_r4_gen.go), merged with the hand-written ones below.
func (R4) SearchParams() store.Definitions {
	return mergeParams(r4Official(), r4HandParams())
}

// r4HandParams are the R4 parameters of the resources the sandbox
// generates, named and pathed as in the R4 base specification's
// search-parameters.json (version 4.0.1). R4 renamed STU3's context links
// to encounter, Condition's asserted-date to recorded-date, Encounter's
// reason to reason-code, and made Coverage's patient a base parameter; it
// replaced Coverage group and plan with class-type and class-value.
func r4HandParams() store.Definitions {
	return store.Definitions{
		"Patient": append(commonPatientParams(),
			spRef("general-practitioner", "", "Patient's nominated general practitioner", "generalPractitioner"),
			sp("death-date", spDate, "The date of death", "deceasedDateTime"),
			sp("language", spToken, "The language of communication", "communication.language")),
		"Observation": observationParams(
			spRef("encounter", "Encounter", "The encounter of the observation", "encounter")),
		"Condition": {
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject"),
			spRef("encounter", "Encounter", "The encounter", "encounter"),
			spRef("asserter", "", "Who asserted the condition", "asserter"),
			sp("code", spToken, "The SNOMED CT code", "code"),
			sp("category", spToken, "problem-list-item or encounter-diagnosis", "category"),
			sp("clinical-status", spToken, "active, recurrence, relapse, inactive, remission or resolved", "clinicalStatus"),
			sp("verification-status", spToken, "unconfirmed, provisional, differential, confirmed...", "verificationStatus"),
			sp("severity", spToken, "The severity", "severity"),
			sp("onset-date", spDate, "When the condition began", "onsetDateTime", "onsetPeriod"),
			sp("abatement-date", spDate, "When the condition resolved", "abatementDateTime", "abatementPeriod"),
			sp("recorded-date", spDate, "When the condition was recorded", "recordedDate"),
		},
		"Encounter": {
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject"),
			sp("identifier", spToken, "An identifier of the encounter", "identifier"),
			spRef("location", "Location", "Where the encounter took place", "location.location"),
			spRef("practitioner", "Practitioner", "A participating practitioner", "participant.individual"),
			spRef("participant", "", "A participant", "participant.individual"),
			spRef("service-provider", "Organization", "The organization providing the encounter", "serviceProvider"),
			sp("date", spDate, "The period of the encounter", "period"),
			sp("status", spToken, "The status", "status"),
			sp("type", spToken, "The encounter type", "type"),
			sp("class", spToken, "The class of encounter", "class"),
			sp("reason-code", spToken, "The reason for the encounter", "reasonCode"),
		},
		"AllergyIntolerance": {
			spRef("patient", "Patient", "The patient", "patient"),
			spRef("recorder", "", "Who recorded the allergy", "recorder"),
			sp("code", spToken, "The substance", "code", "reaction.substance"),
			sp("clinical-status", spToken, "active, inactive or resolved", "clinicalStatus"),
			sp("verification-status", spToken, "unconfirmed, confirmed, refuted or entered-in-error", "verificationStatus"),
			sp("criticality", spToken, "low, high or unable-to-assess", "criticality"),
			sp("category", spToken, "food, medication, environment or biologic", "category"),
			sp("type", spToken, "allergy or intolerance", "type"),
			sp("manifestation", spToken, "A reaction's manifestation", "reaction.manifestation"),
			sp("severity", spToken, "mild, moderate or severe", "reaction.severity"),
			sp("date", spDate, "When the allergy was recorded", "recordedDate"),
			sp("onset", spDate, "When the reaction began", "reaction.onset"),
		},
		"MedicationRequest": {
			spRef("patient", "Patient", "The patient", "subject"),
			spRef("subject", "", "The subject", "subject"),
			spRef("requester", "", "Who asked for the medication", "requester"),
			spRef("encounter", "Encounter", "The encounter", "encounter"),
			spRef("medication", "Medication", "The medication, when referenced", "medicationReference"),
			sp("code", spToken, "The RxNorm code of the medication", "medicationCodeableConcept"),
			sp("status", spToken, "active, on-hold, cancelled, completed...", "status"),
			sp("intent", spToken, "proposal, plan, order...", "intent"),
			sp("authoredon", spDate, "When the request was written", "authoredOn"),
		},
		"Coverage": {
			spRef("patient", "Patient", "The covered patient", "beneficiary"),
			spRef("beneficiary", "", "The covered party", "beneficiary"),
			spRef("subscriber", "", "The subscriber", "subscriber"),
			spRef("payor", "", "The insurer, or the patient when self-pay", "payor"),
			sp("identifier", spToken, "The coverage identifier", "identifier"),
			sp("status", spToken, "active, cancelled, draft or entered-in-error", "status"),
			sp("type", spToken, "The type of coverage, e.g. self-pay", "type"),
			sp("class-type", spToken, "The type of a class: group or plan", "class.type"),
			sp("class-value", spString, "The value of a class: the group or plan number", "class.value"),
		},
		"Location":     locationParams(),
		"Practitioner": practitionerParams(),
		"Organization": append(organizationParams(),
			sp("active", spToken, "Whether the record is active", "active")),
	}
}
