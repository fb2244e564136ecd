package fhir

import "github.com/fhirsandbox/fhirsandbox/sandbox/store"

// p is shorthand for the parameter tables below.
func p(name string, typ store.ParamType, doc string, paths ...string) store.Param {
	return store.Param{Name: name, Type: typ, Paths: paths, Doc: doc}
}

// ref declares a reference parameter; target is what a bare id means.
func ref(name, target, doc string, paths ...string) store.Param {
	return store.Param{Name: name, Type: store.Reference, Paths: paths, Target: target, Doc: doc}
}

const (
	str = store.String
	tok = store.Token
	dat = store.Date
)

// commonPatientParams are the Patient parameters both releases share.
func commonPatientParams() []store.Param {
	return []store.Param{
		p("identifier", tok, "A patient identifier, e.g. the MRN (value or system|value)", "identifier"),
		p("name", str, "Any part of the name (substring, case- and accent-insensitive)", "name"),
		p("family", str, "Family name (substring, case- and accent-insensitive)", "name.family"),
		p("given", str, "Given name (substring, case- and accent-insensitive)", "name.given"),
		p("birthdate", dat, "Date of birth", "birthDate"),
		p("gender", tok, "Administrative gender", "gender"),
		p("address", str, "Any part of the address", "address"),
		p("address-city", str, "City", "address.city"),
		p("address-postalcode", str, "Postal code", "address.postalCode"),
		p("telecom", tok, "Phone or e-mail", "telecom"),
		p("phone", tok, "Phone number", "telecom"),
		p("email", tok, "E-mail address", "telecom"),
		p("active", tok, "Whether the record is active", "active"),
		p("deceased", tok, "Whether the patient is deceased", "deceasedBoolean"),
		ref("organization", "Organization", "The managing organization", "managingOrganization"),
	}
}

// SearchParams returns the DSTU2 (1.0.2) search parameters the sandbox
// supports, named as in the DSTU2 base specification. Coverage's patient
// is not a base parameter: the Patients app sends it, so it is honoured.
func (DSTU2) SearchParams() store.Definitions {
	return store.Definitions{
		"Patient": append(commonPatientParams(),
			ref("careprovider", "Practitioner", "Patient's nominated care provider", "careProvider")),
		"Observation": {
			ref("patient", "Patient", "The subject, when a patient", "subject"),
			ref("subject", "", "The subject of the observation", "subject"),
			ref("encounter", "Encounter", "The encounter of the observation", "encounter"),
			p("code", tok, "The LOINC code of the observation", "code"),
			p("component-code", tok, "The code of a component (e.g. systolic)", "component.code"),
			p("category", tok, "The category, e.g. vital-signs", "category"),
			p("date", dat, "When the observation was made", "effectiveDateTime", "effectivePeriod"),
			p("status", tok, "The status", "status"),
		},
		"Condition": {
			ref("patient", "Patient", "The patient", "patient"),
			ref("encounter", "Encounter", "The encounter", "encounter"),
			ref("asserter", "Practitioner", "Who asserted the condition", "asserter"),
			p("code", tok, "The SNOMED CT code", "code"),
			p("category", tok, "The category", "category"),
			p("clinicalstatus", tok, "active, relapse, remission or resolved", "clinicalStatus"),
			p("severity", tok, "The severity", "severity"),
			p("onset", dat, "When the condition began", "onsetDateTime", "onsetPeriod"),
			p("date-recorded", dat, "When the condition was recorded", "dateRecorded"),
		},
		"Encounter": {
			ref("patient", "Patient", "The patient", "patient"),
			ref("location", "Location", "Where the encounter took place", "location.location"),
			ref("practitioner", "Practitioner", "A participating practitioner", "participant.individual"),
			ref("participant", "", "A participant", "participant.individual"),
			p("date", dat, "The period of the encounter", "period"),
			p("status", tok, "The status", "status"),
			p("type", tok, "The encounter type", "type"),
			p("class", tok, "The class of encounter", "class"),
			p("reason", tok, "The reason for the encounter", "reason"),
		},
		"AllergyIntolerance": {
			ref("patient", "Patient", "The patient", "patient"),
			ref("recorder", "", "Who recorded the allergy", "recorder"),
			p("substance", tok, "The substance", "substance", "reaction.substance"),
			p("status", tok, "The status", "status"),
			p("criticality", tok, "CRITL, CRITH or CRITU", "criticality"),
			p("category", tok, "food, medication, environment or other", "category"),
			p("type", tok, "allergy or intolerance", "type"),
			p("manifestation", tok, "A reaction's manifestation", "reaction.manifestation"),
			p("date", dat, "When the allergy was recorded", "recordedDate"),
			p("onset", dat, "When the reaction began", "onset"),
		},
		"MedicationOrder": {
			ref("patient", "Patient", "The patient", "patient"),
			ref("prescriber", "Practitioner", "Who prescribed", "prescriber"),
			ref("encounter", "Encounter", "The encounter", "encounter"),
			ref("medication", "Medication", "The medication, when referenced", "medicationReference"),
			p("code", tok, "The RxNorm code of the medication", "medicationCodeableConcept"),
			p("status", tok, "active, on-hold, completed, entered-in-error, stopped or draft", "status"),
			p("datewritten", dat, "When the order was written", "dateWritten"),
		},
		"Coverage": {
			ref("patient", "Patient", "The covered patient (not a DSTU2 base parameter; the Patients app sends it)", "subscriber"),
			ref("subscriber", "Patient", "The subscriber", "subscriber"),
			ref("issuer", "Organization", "The insurer", "issuer"),
			p("identifier", tok, "The coverage identifier", "identifier", "subscriberId"),
			p("plan", tok, "The plan", "plan"),
			p("group", tok, "The group", "group"),
			p("type", tok, "The type of coverage", "type"),
		},
		"Location":     locationParams(),
		"Practitioner": practitionerParams(),
		"Organization": organizationParams(),
	}
}

// SearchParams returns the STU3 (3.0.1) search parameters the sandbox
// supports, named as in the STU3 base specification. Coverage's patient
// is not a base parameter: the Patients app sends it, so it is honoured.
func (STU3) SearchParams() store.Definitions {
	return store.Definitions{
		"Patient": append(commonPatientParams(),
			ref("general-practitioner", "", "Patient's nominated general practitioner", "generalPractitioner")),
		"Observation": {
			ref("patient", "Patient", "The subject, when a patient", "subject"),
			ref("subject", "", "The subject of the observation", "subject"),
			ref("encounter", "Encounter", "The encounter of the observation", "context"),
			ref("context", "", "The encounter or episode of care", "context"),
			p("code", tok, "The LOINC code of the observation", "code"),
			p("component-code", tok, "The code of a component (e.g. systolic)", "component.code"),
			p("category", tok, "The category, e.g. vital-signs", "category"),
			p("date", dat, "When the observation was made", "effectiveDateTime", "effectivePeriod"),
			p("status", tok, "The status", "status"),
		},
		"Condition": {
			ref("patient", "Patient", "The patient", "subject"),
			ref("subject", "", "The subject", "subject"),
			ref("encounter", "Encounter", "The encounter", "context"),
			ref("context", "", "The encounter or episode of care", "context"),
			ref("asserter", "", "Who asserted the condition", "asserter"),
			p("code", tok, "The SNOMED CT code", "code"),
			p("category", tok, "The category", "category"),
			p("clinical-status", tok, "active, recurrence, inactive, remission or resolved", "clinicalStatus"),
			p("verification-status", tok, "provisional, differential, confirmed...", "verificationStatus"),
			p("severity", tok, "The severity", "severity"),
			p("onset-date", dat, "When the condition began", "onsetDateTime", "onsetPeriod"),
			p("asserted-date", dat, "When the condition was asserted", "assertedDate"),
		},
		"Encounter": {
			ref("patient", "Patient", "The patient", "subject"),
			ref("subject", "", "The subject", "subject"),
			ref("location", "Location", "Where the encounter took place", "location.location"),
			ref("practitioner", "Practitioner", "A participating practitioner", "participant.individual"),
			ref("participant", "", "A participant", "participant.individual"),
			p("date", dat, "The period of the encounter", "period"),
			p("status", tok, "The status", "status"),
			p("type", tok, "The encounter type", "type"),
			p("class", tok, "The class of encounter", "class"),
			p("reason", tok, "The reason for the encounter", "reason"),
		},
		"AllergyIntolerance": {
			ref("patient", "Patient", "The patient", "patient"),
			ref("recorder", "", "Who recorded the allergy", "recorder"),
			p("code", tok, "The substance", "code", "reaction.substance"),
			p("clinical-status", tok, "active, inactive or resolved", "clinicalStatus"),
			p("verification-status", tok, "unconfirmed, confirmed, refuted or entered-in-error", "verificationStatus"),
			p("criticality", tok, "low, high or unable-to-assess", "criticality"),
			p("category", tok, "food, medication, environment or biologic", "category"),
			p("type", tok, "allergy or intolerance", "type"),
			p("manifestation", tok, "A reaction's manifestation", "reaction.manifestation"),
			p("date", dat, "When the allergy was asserted", "assertedDate"),
			p("onset", dat, "When the reaction began", "reaction.onset"),
		},
		"MedicationRequest": {
			ref("patient", "Patient", "The patient", "subject"),
			ref("subject", "", "The subject", "subject"),
			ref("requester", "", "Who asked for the medication", "requester.agent"),
			ref("context", "", "The encounter or episode of care", "context"),
			ref("medication", "Medication", "The medication, when referenced", "medicationReference"),
			p("code", tok, "The RxNorm code of the medication", "medicationCodeableConcept"),
			p("status", tok, "active, on-hold, cancelled, completed...", "status"),
			p("intent", tok, "proposal, plan or order", "intent"),
			p("authoredon", dat, "When the request was written", "authoredOn"),
		},
		"Coverage": {
			ref("patient", "Patient", "The covered patient (not an STU3 base parameter; the Patients app sends it)", "beneficiary"),
			ref("beneficiary", "", "The covered party", "beneficiary"),
			ref("subscriber", "", "The subscriber", "subscriber"),
			ref("payor", "", "The insurer", "payor"),
			p("identifier", tok, "The coverage identifier", "identifier"),
			p("type", tok, "The type of coverage", "type"),
			p("group", tok, "The group", "grouping.group"),
			p("plan", tok, "The plan", "grouping.plan"),
		},
		"Location":     locationParams(),
		"Practitioner": practitionerParams(),
		"Organization": organizationParams(),
	}
}

func locationParams() []store.Param {
	return []store.Param{
		p("name", str, "The name of the location", "name"),
		p("address", str, "Any part of the address", "address"),
		p("identifier", tok, "An identifier", "identifier"),
		p("type", tok, "The type of location", "type"),
		p("status", tok, "active, suspended or inactive", "status"),
		ref("organization", "Organization", "The managing organization", "managingOrganization"),
	}
}

func practitionerParams() []store.Param {
	return []store.Param{
		p("name", str, "Any part of the name", "name"),
		p("family", str, "Family name", "name.family"),
		p("given", str, "Given name", "name.given"),
		p("identifier", tok, "An identifier, e.g. the NPI", "identifier"),
		p("gender", tok, "Administrative gender", "gender"),
	}
}

func organizationParams() []store.Param {
	return []store.Param{
		p("name", str, "The name of the organization", "name"),
		p("identifier", tok, "An identifier", "identifier"),
		p("type", tok, "The type of organization", "type"),
	}
}
