package fhir

import (
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// R4 renders FHIR 4.0.1 (R4) JSON that follows US Core 3.1.1 where the
// seed has the data: every resource but Coverage (US Core 3.1.1 has no
// Coverage profile) names its profile in meta.profile, the Patient carries
// the race, ethnicity and birth-sex extensions, and each profile's
// mandatory and must-support elements are written when the record has
// them. Its resources are the STU3 ones, same ids, same order, in R4
// shapes.
type R4 struct{}

var _ Version = R4{}

// Release implements Version.
func (R4) Release() spec.Release { return spec.R4() }

// R4 moved the HL7-defined code systems from http://hl7.org/fhir/... to
// terminology.hl7.org (THO); these are their R4 URIs, checked against the
// code systems of HL7/UTG (input/sourceOfTruth).
const (
	r4Terminology = "http://terminology.hl7.org/CodeSystem/"

	systemV2IDTypeR4       = r4Terminology + "v2-0203"
	systemActCodeR4        = r4Terminology + "v3-ActCode"
	systemParticipTypeR4   = r4Terminology + "v3-ParticipationType"
	systemObsCategoryR4    = r4Terminology + "observation-category"
	systemOrgTypeR4        = r4Terminology + "organization-type"
	systemCondCategoryR4   = r4Terminology + "condition-category"
	systemCondClinicalR4   = r4Terminology + "condition-clinical"
	systemCondVerR4        = r4Terminology + "condition-ver-status"
	systemAllergyClinical  = r4Terminology + "allergyintolerance-clinical"
	systemAllergyVerif     = r4Terminology + "allergyintolerance-verification"
	systemSubscriberRel    = r4Terminology + "subscriber-relationship"
	systemCoverageClass    = r4Terminology + "coverage-class"
	systemCoverageSelfPay  = r4Terminology + "coverage-selfpay"
	systemURIIdentifier    = "urn:ietf:rfc:3986"
	usCoreStructure        = "http://hl7.org/fhir/us/core/StructureDefinition/"
	baseStructure          = "http://hl7.org/fhir/StructureDefinition/"
	extensionUSCoreRace    = usCoreStructure + "us-core-race"
	extensionUSCoreEthnic  = usCoreStructure + "us-core-ethnicity"
	extensionUSCoreBirthSx = usCoreStructure + "us-core-birthsex"
)

// Profiles claimed in meta.profile: US Core 3.1.1 where it has one, and
// for vital signs the R4 base profiles that US Core 3.1.1 uses in place
// of its own (it defines only pulse oximetry among them).
const (
	profilePatient           = usCoreStructure + "us-core-patient"
	profileEncounter         = usCoreStructure + "us-core-encounter"
	profileCondition         = usCoreStructure + "us-core-condition"
	profileAllergy           = usCoreStructure + "us-core-allergyintolerance"
	profileMedicationRequest = usCoreStructure + "us-core-medicationrequest"
	profileOrganization      = usCoreStructure + "us-core-organization"
	profilePractitioner      = usCoreStructure + "us-core-practitioner"
	profileLocation          = usCoreStructure + "us-core-location"
	profilePulseOximetry     = usCoreStructure + "us-core-pulse-oximetry"
	profileVitalSigns        = baseStructure + "vitalsigns"
)

// vitalProfileR4 maps the seed's vital-sign key to the R4 profile whose
// fixed LOINC code the rendered Observation carries: the seed's code, or
// for head circumference its ExtraR4 coding 9843-4, and for oxygen
// saturation both 59408-5 (US Core) and 2708-6 (the base oxygensat
// profile US Core's derives from). An unknown key gets the generic
// vital-signs profile, which fixes no code.
func vitalProfileR4(key string) string {
	switch key {
	case "body_height":
		return baseStructure + "bodyheight"
	case "body_weight":
		return baseStructure + "bodyweight"
	case "bmi":
		return baseStructure + "bmi"
	case "heart_rate":
		return baseStructure + "heartrate"
	case "respiratory_rate":
		return baseStructure + "resprate"
	case "body_temperature":
		return baseStructure + "bodytemp"
	case "head_circumference":
		return baseStructure + "headcircum"
	case "oxygen_saturation":
		return profilePulseOximetry
	case seed.KeyBloodPressure:
		return baseStructure + "bp"
	}
	return profileVitalSigns
}

// r4System gives a seed coding's system its R4 URI: the seed keeps the
// DSTU2/STU3 URIs of the HL7 v2 and v3 tables (RoleCode, MaritalStatus),
// which R4 moved. Every other system (SNOMED CT, LOINC, RxNorm, BCP-47,
// the CDC race code system) is the same in all releases.
func r4System(s string) string {
	switch {
	case strings.HasPrefix(s, "http://hl7.org/fhir/v3/"):
		return r4Terminology + "v3-" + strings.TrimPrefix(s, "http://hl7.org/fhir/v3/")
	case strings.HasPrefix(s, "http://hl7.org/fhir/v2/"):
		return r4Terminology + "v2-" + strings.TrimPrefix(s, "http://hl7.org/fhir/v2/")
	}
	return s
}

func r4Coding(c seed.Coding) seed.Coding {
	c.System = r4System(c.System)
	return c
}

// RenderHospital implements Version.
func (v R4) RenderHospital(h *seed.Hospital, emit func(Resource)) { v.shapes().renderHospital(h, emit) }

// RenderPatient implements Version.
func (v R4) RenderPatient(p *seed.PatientRecord, emit func(Resource)) {
	v.shapes().renderPatient(p, emit)
}

// shapes are the release's writers of each resource.
func (R4) shapes() shapes {
	return shapes{
		organization: organizationR4,
		practitioner: func(p *seed.Practitioner, _ *seed.Organization) Resource { return practitionerR4(p) },
		location:     locationR4,
		patient:      patientR4,
		encounter:    encounterR4,
		observation:  observationR4,
		condition:    conditionR4,
		allergy:      allergyR4,
		medication:   medicationRequestR4,
		coverage:     coverageR4,
	}
}

// beginR4 opens a resource with meta.profile between id and the narrative,
// where R4 lists meta; the store keeps the profile and adds versionId and
// lastUpdated to it.
func beginR4(typ, id string, n *narrative, profile string) *jw {
	w := &jw{b: make([]byte, 0, renderCap(typ, true))}
	w.open("")
	w.str("resourceType", typ)
	w.str("id", id)
	w.metaProfile(profile)
	w.text(n)
	return w
}

// codeableR4 writes a CodeableConcept of one coding, its system made R4.
func (w *jw) codeableR4(k string, c seed.Coding, text string) {
	w.codeable(k, r4Coding(c), text)
}

// codeableArrR4 writes a one-element array of CodeableConcept.
func (w *jw) codeableArrR4(k string, c seed.Coding, text string) {
	c = r4Coding(c)
	if !hasCoding(c) && text == "" {
		return
	}
	w.arr(k)
	w.codeableElem(c, text)
	w.closeArr()
}

// ---- hospital -----------------------------------------------------------

// orgTypeR4 is the organization-type coding of a seed Organization; R4
// has "pay" (Payer) like STU3.
func orgTypeR4(kind string) seed.Coding {
	switch kind {
	case "prov":
		return seed.Coding{System: systemOrgTypeR4, Code: "prov", Display: "Healthcare Provider"}
	case "pay":
		return seed.Coding{System: systemOrgTypeR4, Code: "pay", Display: "Payer"}
	}
	return seed.Coding{}
}

// organizationR4 writes what US Core Organization asks: active and name
// (mandatory), the NPI (must support; the hospital has one, payers none),
// telecom and address, neither of use home (org-1, org-2).
func organizationR4(o *seed.Organization) Resource {
	n := newNarrative(o.Name)
	typ := orgTypeR4(o.Type)
	n.line("Type", typ.Display)
	n.line("NPI", o.NPI)
	n.line("Phone", o.Phone)
	n.line("City", o.Address.City)
	w := beginR4("Organization", o.ID, n, profileOrganization)
	w.npi(o.NPI)
	w.boolean("active", true)
	w.codeableArrR4("type", typ, "")
	w.str("name", o.Name)
	w.phone(o.Phone)
	w.addressArr(o.Address, "work")
	return w.finish("Organization", o.ID)
}

// practitionerR4: US Core Practitioner wants the NPI and name.family;
// the specialty belongs to PractitionerRole, not served, so it stays in
// the narrative as in STU3.
func practitionerR4(p *seed.Practitioner) Resource {
	return practitionerBody(beginR4("Practitioner", p.ID, practitionerNarrative(p), profilePractitioner), p)
}

// locationR4: R4 Location.type is a list. The address (US Core must
// support) is the hospital's: every location is one of its departments.
func locationR4(l *seed.Location, org *seed.Organization) Resource {
	w := beginR4("Location", l.ID, locationNarrative(l), profileLocation)
	w.str("status", "active")
	w.str("name", l.Name)
	w.str("description", l.Description)
	w.str("mode", "instance")
	w.codeableArrR4("type", l.Type, "")
	w.phone(l.Phone)
	if org != nil {
		if hasAddress(org.Address) { // Location.address is 0..1
			w.address("address", org.Address, "work")
		}
		w.ref("managingOrganization", seed.Reference{Type: "Organization", ID: org.ID, Display: org.Name})
	}
	return w.finish("Location", l.ID)
}

// ---- patient --------------------------------------------------------------

// birthSex maps the administrative gender to US Core's birth sex (value
// set birthsex: F, M, UNK). The seed records no sex assigned at birth,
// so gender stands in for it, and "other" or "unknown" say nothing.
func birthSex(gender string) string {
	switch gender {
	case "female":
		return "F"
	case "male":
		return "M"
	}
	return "UNK"
}

// ombExtension writes a us-core-race or us-core-ethnicity extension: one
// ombCategory coding and the text, which both extensions require.
func (w *jw) ombExtension(url string, c seed.Coding) {
	if !hasCoding(c) {
		return
	}
	w.open("")
	w.str("url", url)
	w.arr("extension")
	w.extensionCoding("ombCategory", c)
	w.extensionString("text", codingLabel(c))
	w.closeArr()
	w.close()
}

func patientR4(r *seed.PatientRecord) Resource {
	p := &r.Patient
	n := patientNarrative(p)
	n.line("Race", p.Race.Display)
	n.line("Ethnicity", p.Ethnicity.Display)
	w := beginR4("Patient", p.ID, n, profilePatient)
	w.arr("extension")
	w.ombExtension(extensionUSCoreRace, p.Race)
	w.ombExtension(extensionUSCoreEthnic, p.Ethnicity)
	w.extensionCode(extensionUSCoreBirthSx, birthSex(p.Gender))
	w.closeArr()
	if p.MRN != "" {
		w.arr("identifier")
		w.open("")
		w.str("use", "usual")
		w.codeable("type", seed.Coding{System: systemV2IDTypeR4, Code: "MR", Display: "Medical record number"}, "")
		w.str("system", mrnSystem(r))
		w.str("value", p.MRN)
		w.close()
		w.closeArr()
	}
	w.boolean("active", true)
	if hasName(p.Name) {
		w.arr("name")
		w.humanName(p.Name, false)
		w.closeArr()
	}
	w.telecoms(p.Telecom)
	w.str("gender", p.Gender)
	w.str("birthDate", fhirDate(p.BirthDate))
	w.deceased(p)
	w.addressArr(p.Address, "home")
	w.codeableR4("maritalStatus", p.Marital, "")
	w.communication(p.Language)
	w.refArr("generalPractitioner", p.GP)
	w.ref("managingOrganization", provider(r))
	return w.finish("Patient", p.ID)
}

// ---- encounter ------------------------------------------------------------

func encounterStatusR4(s string) string {
	switch s {
	case "planned", "arrived", "triaged", "in-progress", "onleave", "finished", "cancelled", "entered-in-error", "unknown":
		return s
	}
	return "unknown"
}

// encounterClassR4 is the v3 ActCode coding of Encounter.class, a Coding
// in R4 as in STU3, with THO's displays.
func encounterClassR4(actCode string) seed.Coding {
	c := seed.Coding{System: systemActCodeR4, Code: actCode}
	switch actCode {
	case "":
		return seed.Coding{}
	case "AMB":
		c.Display = "ambulatory"
	case "EMER":
		c.Display = "emergency"
	case "IMP":
		c.Display = "inpatient encounter"
	case "HH":
		c.Display = "home health"
	}
	return c
}

// encounterIdentifier is a stable business identifier (US Core must
// support): a name-based UUID of the tenant's MRN system and the
// encounter id, so it is unique across tenants and the same on every run.
func (w *jw) encounterIdentifier(r *seed.PatientRecord, e *seed.Encounter) {
	w.arr("identifier")
	w.open("")
	w.str("use", "usual")
	w.str("system", systemURIIdentifier)
	w.str("value", "urn:uuid:"+stableUUID(mrnSystem(r), e.ID))
	w.close()
	w.closeArr()
}

func encounterR4(r *seed.PatientRecord, e *seed.Encounter) Resource {
	w := beginR4("Encounter", e.ID, encounterNarrative(e), profileEncounter)
	w.encounterIdentifier(r, e)
	w.str("status", encounterStatusR4(e.Status))
	if c := encounterClassR4(e.Class); hasCoding(c) {
		w.key("class")
		w.coding(c)
	}
	w.codeableArrR4("type", e.Type, codingLabel(e.Type))
	w.ref("subject", patientRef(r))
	if hasRef(e.Attender) {
		w.arr("participant")
		w.open("")
		w.codeableArrR4("type", seed.Coding{System: systemParticipTypeR4, Code: "ATND", Display: "attender"}, "")
		w.ref("individual", e.Attender)
		w.close()
		w.closeArr()
	}
	w.period("period", e.Start, e.End)
	if e.Reason != nil {
		w.codeableArrR4("reasonCode", *e.Reason, "")
	}
	w.encounterLocation(e)
	w.ref("serviceProvider", provider(r))
	return w.finish("Encounter", e.ID)
}

// ---- vital signs ----------------------------------------------------------

// observationR4 writes a vital sign as the R4 vital-signs profiles want:
// category vital-signs, the LOINC code (plus the seed's R4-only codings),
// subject, effective and a UCUM quantity or, for blood pressure, the
// components; the encounter link is "encounter".
func observationR4(r *seed.PatientRecord, o *seed.Observation) Resource {
	w := beginR4("Observation", o.ID, observationNarrative(o, o.Code), vitalProfileR4(o.Key))
	w.str("status", observationStatus(o.Status))
	w.codeableArrR4("category", seed.Coding{System: systemObsCategoryR4, Code: "vital-signs", Display: "Vital Signs"}, "")
	extra := o.Extra
	if len(o.ExtraR4) > 0 {
		extra = append(append(make([]seed.Coding, 0, len(o.Extra)+len(o.ExtraR4)), o.Extra...), o.ExtraR4...)
	}
	w.observationCode(o.Code, extra)
	w.ref("subject", patientRef(r))
	w.ref("encounter", encounterRef(o.EncounterID))
	w.str("effectiveDateTime", fhirDateTime(o.Effective))
	w.observationValue(o)
	return w.finish("Observation", o.ID)
}

// ---- condition ------------------------------------------------------------

// conditionClinicalR4 is the condition-clinical coding (THO displays).
func conditionClinicalR4(s string) seed.Coding {
	c := seed.Coding{System: systemCondClinicalR4, Code: s}
	switch s {
	case "active":
		c.Display = "Active"
	case "recurrence":
		c.Display = "Recurrence"
	case "relapse":
		c.Display = "Relapse"
	case "inactive":
		c.Display = "Inactive"
	case "remission":
		c.Display = "Remission"
	case "resolved":
		c.Display = "Resolved"
	default:
		c.Code, c.Display = "active", "Active"
	}
	return c
}

// conditionCategoryR4: chronic problems belong on the problem list, acute
// ones are diagnoses of the encounter that found them (US Core condition
// category value set).
func conditionCategoryR4(kind string) seed.Coding {
	if kind == "acute" {
		return seed.Coding{System: systemCondCategoryR4, Code: "encounter-diagnosis", Display: "Encounter Diagnosis"}
	}
	return seed.Coding{System: systemCondCategoryR4, Code: "problem-list-item", Display: "Problem List Item"}
}

func conditionR4(r *seed.PatientRecord, c *seed.Condition) Resource {
	w := beginR4("Condition", c.ID, conditionNarrative(c), profileCondition)
	w.codeable("clinicalStatus", conditionClinicalR4(c.Clinical), "")
	w.codeable("verificationStatus", seed.Coding{System: systemCondVerR4, Code: "confirmed", Display: "Confirmed"}, "")
	w.codeableArrR4("category", conditionCategoryR4(c.Kind), "")
	if c.Severity != nil {
		w.codeableR4("severity", *c.Severity, "")
	}
	w.codeableR4("code", c.Code, codingLabel(c.Code))
	w.ref("subject", patientRef(r))
	w.ref("encounter", encounterRef(c.EncounterID))
	w.str("onsetDateTime", fhirDateTime(c.Onset))
	if conditionAbated(c) {
		w.str("abatementDateTime", fhirDateTime(c.Abatement))
	}
	w.str("recordedDate", fhirDateTime(c.Recorded))
	w.ref("asserter", c.Asserter)
	return w.finish("Condition", c.ID)
}

// ---- allergy --------------------------------------------------------------

func allergyClinicalR4(s string) seed.Coding {
	c := seed.Coding{System: systemAllergyClinical, Code: s}
	switch s {
	case "active":
		c.Display = "Active"
	case "inactive":
		c.Display = "Inactive"
	case "resolved":
		c.Display = "Resolved"
	default:
		c.Code, c.Display = "active", "Active"
	}
	return c
}

// allergyVerificationR4 maps the seed's status; an unknown one is
// "unconfirmed", as in STU3. entered-in-error is never produced, so the
// clinical status may always be written (ait-1, ait-2).
func allergyVerificationR4(s string) seed.Coding {
	c := seed.Coding{System: systemAllergyVerif, Code: s}
	switch s {
	case "unconfirmed":
		c.Display = "Unconfirmed"
	case "confirmed":
		c.Display = "Confirmed"
	case "refuted":
		c.Display = "Refuted"
	default:
		c.Code, c.Display = "unconfirmed", "Unconfirmed"
	}
	return c
}

func allergyR4(r *seed.PatientRecord, a *seed.Allergy) Resource {
	w := beginR4("AllergyIntolerance", a.ID, allergyNarrative(a), profileAllergy)
	w.codeable("clinicalStatus", allergyClinicalR4(a.Clinical), "")
	w.codeable("verificationStatus", allergyVerificationR4(a.Verification), "")
	w.str("type", "allergy")
	// R4 keeps STU3's category and criticality codes.
	if cat := allergyCategorySTU3(a.Category); cat != "" {
		w.arr("category")
		w.elem(cat)
		w.closeArr()
	}
	w.str("criticality", criticalitySTU3(a.Criticality))
	w.codeableR4("code", a.Substance, codingLabel(a.Substance))
	w.ref("patient", patientRef(r))
	w.str("onsetDateTime", fhirDateTime(a.Onset))
	w.str("recordedDate", fhirDateTime(a.Recorded))
	w.ref("recorder", a.Recorder)
	if a.Note != "" {
		w.arr("note")
		w.annotation(a.Note)
		w.closeArr()
	}
	reactions(w, a) // the reaction backbone did not change from STU3
	return w.finish("AllergyIntolerance", a.ID)
}

// ---- medication -----------------------------------------------------------

// medicationRequestR4: requester is a plain Reference in R4 (STU3 wrapped
// it in agent); US Core makes requester and authoredOn mandatory, and the
// seed always has both.
func medicationRequestR4(r *seed.PatientRecord, m *seed.Medication) Resource {
	w := beginR4("MedicationRequest", m.ID, medicationNarrative(m), profileMedicationRequest)
	w.str("status", medicationStatusSTU3(m.Status)) // same code list in R4
	w.str("intent", "order")
	w.codeableR4("medicationCodeableConcept", m.Code, codingLabel(m.Code))
	w.ref("subject", patientRef(r))
	w.ref("encounter", encounterRef(m.EncounterID))
	w.str("authoredOn", fhirDateTime(m.Authored))
	w.ref("requester", m.Prescriber)
	if m.Reason != nil {
		w.codeableArrR4("reasonCode", *m.Reason, codingLabel(*m.Reason))
	}
	w.dosage(m.DosageText)
	return w.finish("MedicationRequest", m.ID)
}

// ---- coverage -------------------------------------------------------------

// subscriberRelationship is the subscriber-relationship coding (THO
// displays); a relationship outside the code system is left out.
func subscriberRelationship(s string) seed.Coding {
	c := seed.Coding{System: systemSubscriberRel, Code: s}
	switch s {
	case "child":
		c.Display = "Child"
	case "parent":
		c.Display = "Parent"
	case "spouse":
		c.Display = "Spouse"
	case "common":
		c.Display = "Common Law Spouse"
	case "other":
		c.Display = "Other"
	case "self":
		c.Display = "Self"
	case "injured":
		c.Display = "Injured Party"
	default:
		return seed.Coding{}
	}
	return c
}

// selfPay reports a coverage without an insurer: the seed makes the
// patient its payor, or (a hand-made record) names none.
func selfPay(c *seed.Coverage) bool {
	return c.Payor.Type == "Patient" || !hasRef(c.Payor)
}

// coverageClass writes one Coverage.class entry; value is 1..1 in R4, so a
// name without a value stays in the narrative only.
func (w *jw) coverageClass(code, display, value, name string) {
	if value == "" {
		return
	}
	w.open("")
	w.codeable("type", seed.Coding{System: systemCoverageClass, Code: code, Display: display}, "")
	w.str("value", value)
	w.str("name", name)
	w.close()
}

// coverageR4: R4 replaced STU3's grouping with class (group and plan),
// requires beneficiary and payor, and types a self-pay coverage with
// coverage-selfpay "pay" (the Patients app's "No Primary Insurance" is its
// text). A self-pay coverage's payor is the patient.
func coverageR4(r *seed.PatientRecord, c *seed.Coverage) Resource {
	w := beginR4("Coverage", c.ID, coverageNarrative(c), "")
	w.str("status", coverageStatusSTU3(c.Status)) // same code list in R4
	payor := c.Payor
	if selfPay(c) {
		w.codeable("type", seed.Coding{System: systemCoverageSelfPay, Code: "pay", Display: "Pay"}, c.PlanName)
		if !hasRef(payor) {
			payor = patientRef(r)
		}
	}
	if subscriberIsPatient(c) {
		w.ref("subscriber", patientRef(r))
	}
	w.str("subscriberId", c.SubscriberID)
	w.ref("beneficiary", patientRef(r))
	w.codeable("relationship", subscriberRelationship(c.Relationship), "")
	w.datePeriod("period", c.Start, c.End)
	w.refArr("payor", payor)
	if c.GroupValue != "" || c.PlanValue != "" {
		w.arr("class")
		w.coverageClass("group", "Group", c.GroupValue, c.GroupName)
		w.coverageClass("plan", "Plan", c.PlanValue, c.PlanName)
		w.closeArr()
	}
	return w.finish("Coverage", c.ID)
}
