package fhir

import (
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// DSTU2 renders FHIR 1.0.2 (DSTU2) JSON.
type DSTU2 struct{}

var _ Version = DSTU2{}

// Release implements Version.
func (DSTU2) Release() spec.Release { return spec.DSTU2() }

// RenderHospital implements Version.
func (v DSTU2) RenderHospital(h *seed.Hospital, emit func(Resource)) {
	v.shapes().renderHospital(h, emit)
}

// RenderPatient implements Version.
func (v DSTU2) RenderPatient(p *seed.PatientRecord, emit func(Resource)) {
	v.shapes().renderPatient(p, emit)
}

// shapes are the release's writers of each resource.
func (DSTU2) shapes() shapes {
	return shapes{
		organization: organizationDSTU2,
		practitioner: practitionerDSTU2,
		location:     location,
		patient:      patientDSTU2,
		encounter:    encounterDSTU2,
		observation:  observationDSTU2,
		condition:    conditionDSTU2,
		allergy:      allergyDSTU2,
		medication:   medicationOrderDSTU2,
		coverage:     coverageDSTU2,
	}
}

// organizationDSTU2: type is one CodeableConcept, and DSTU2's code system
// has no "pay": an insurer is "ins" (Insurance Company).
func organizationDSTU2(o *seed.Organization) Resource {
	typ := orgType(o.Type, seed.Coding{System: systemOrgType, Code: "ins", Display: "Insurance Company"})
	w := beginOrganization(o, typ)
	w.codeable("type", typ, "")
	return finishOrganization(w, o)
}

// DSTU2 Practitioner.name is a single HumanName, not a list, and the
// specialty lives in practitionerRole.
func practitionerDSTU2(p *seed.Practitioner, org *seed.Organization) Resource {
	w := begin("Practitioner", p.ID, practitionerNarrative(p))
	w.npi(p.NPI)
	w.boolean("active", true)
	if hasName(p.Name) {
		w.key("name")
		w.humanName(p.Name, true)
	}
	w.telecoms(p.Telecom)
	w.str("gender", p.Gender)
	if p.Specialty != "" || org != nil {
		w.arr("practitionerRole")
		w.open("")
		if org != nil {
			w.ref("managingOrganization", seed.Reference{Type: "Organization", ID: org.ID, Display: org.Name})
		}
		if p.Specialty != "" {
			w.arr("specialty")
			w.codeableElem(seed.Coding{}, p.Specialty)
			w.closeArr()
		}
		w.close()
		w.closeArr()
	}
	return w.finish("Practitioner", p.ID)
}

func patientDSTU2(r *seed.PatientRecord) Resource {
	p := &r.Patient
	w := begin("Patient", p.ID, patientNarrative(p))
	w.mrnIdentifier(p.MRN, mrnSystem(r))
	w.boolean("active", true)
	if hasName(p.Name) {
		w.arr("name")
		w.humanName(p.Name, true)
		w.closeArr()
	}
	w.telecoms(p.Telecom)
	w.str("gender", p.Gender)
	w.str("birthDate", fhirDate(p.BirthDate))
	w.deceased(p)
	w.addressArr(p.Address, "home")
	w.codeable("maritalStatus", p.Marital, "")
	w.communication(p.Language)
	w.refArr("careProvider", p.GP)
	w.ref("managingOrganization", provider(r))
	return w.finish("Patient", p.ID)
}

func encounterDSTU2(r *seed.PatientRecord, e *seed.Encounter) Resource {
	w := begin("Encounter", e.ID, encounterNarrative(e))
	w.str("status", e.Status)
	w.str("class", encounterClassDSTU2(e.Class))
	if hasCoding(e.Type) {
		w.arr("type")
		w.codeableElem(e.Type, codingLabel(e.Type))
		w.closeArr()
	}
	w.ref("patient", patientRef(r))
	w.encounterParticipant(e)
	w.period("period", e.Start, e.End)
	w.encounterReason(e)
	w.encounterLocation(e)
	w.ref("serviceProvider", provider(r))
	return w.finish("Encounter", e.ID)
}

// observationDSTU2 writes a vital sign. DSTU2 category is one
// CodeableConcept and the encounter link is "encounter"; blood pressure uses
// the Argonaut DSTU2 grouping code carried in CodeDSTU2.
func observationDSTU2(r *seed.PatientRecord, o *seed.Observation) Resource {
	code := o.Code
	if hasCoding(o.CodeDSTU2) {
		code = o.CodeDSTU2
	}
	w := begin("Observation", o.ID, observationNarrative(o, code))
	w.str("status", observationStatus(o.Status))
	w.codeable("category", vitalSignsCategory(), "")
	w.observationCode(code, o.Extra)
	w.ref("subject", patientRef(r))
	w.ref("encounter", encounterRef(o.EncounterID))
	w.str("effectiveDateTime", fhirDateTime(o.Effective))
	w.observationValue(o)
	return w.finish("Observation", o.ID)
}

// conditionClinicalDSTU2 maps to DSTU2 condition-clinical, which has no
// "inactive": an inactive problem is reported resolved.
func conditionClinicalDSTU2(s string) string {
	switch s {
	case "active", "relapse", "remission", "resolved":
		return s
	case "inactive":
		return "resolved"
	}
	return ""
}

func conditionDSTU2(r *seed.PatientRecord, c *seed.Condition) Resource {
	w := begin("Condition", c.ID, conditionNarrative(c))
	w.ref("patient", patientRef(r))
	w.ref("encounter", encounterRef(c.EncounterID))
	w.ref("asserter", c.Asserter)
	w.str("dateRecorded", utcDate(c.Recorded))
	w.codeable("code", c.Code, codingLabel(c.Code))
	w.codeable("category", seed.Coding{System: systemCondCategory, Code: "diagnosis", Display: "Diagnosis"}, "")
	w.str("clinicalStatus", conditionClinicalDSTU2(c.Clinical))
	w.str("verificationStatus", "confirmed")
	if c.Severity != nil {
		w.codeable("severity", *c.Severity, "")
	}
	w.str("onsetDateTime", fhirDateTime(c.Onset))
	if conditionAbated(c) {
		w.str("abatementDateTime", fhirDateTime(c.Abatement))
	}
	return w.finish("Condition", c.ID)
}

// allergyStatusDSTU2 folds the STU3-style clinical and verification
// statuses of the seed into DSTU2's single allergy-intolerance-status.
func allergyStatusDSTU2(clinical, verification string) string {
	switch clinical {
	case "inactive", "resolved":
		return clinical
	}
	switch verification {
	case "confirmed", "unconfirmed", "refuted", "entered-in-error":
		return verification
	}
	return "active"
}

func criticalityDSTU2(s string) string {
	switch s {
	case "low":
		return "CRITL"
	case "high":
		return "CRITH"
	case "unable-to-assess":
		return "CRITU"
	}
	return ""
}

func allergyCategoryDSTU2(s string) string {
	switch s {
	case "food", "medication", "environment", "other":
		return s
	}
	return ""
}

func allergyDSTU2(r *seed.PatientRecord, a *seed.Allergy) Resource {
	w := begin("AllergyIntolerance", a.ID, allergyNarrative(a))
	w.str("onset", fhirDateTime(a.Onset))
	w.str("recordedDate", fhirDateTime(a.Recorded))
	w.ref("recorder", a.Recorder)
	w.ref("patient", patientRef(r))
	w.codeable("substance", a.Substance, codingLabel(a.Substance))
	w.str("status", allergyStatusDSTU2(a.Clinical, a.Verification))
	w.str("criticality", criticalityDSTU2(a.Criticality))
	w.str("type", "allergy")
	w.str("category", allergyCategoryDSTU2(a.Category))
	if a.Note != "" {
		w.key("note")
		w.annotation(a.Note)
	}
	reactions(w, a)
	return w.finish("AllergyIntolerance", a.ID)
}

// reactions writes AllergyIntolerance.reaction, the same shape and order in
// both releases: the allergen as substance and each manifestation with one
// coding and text.
func reactions(w *jw, a *seed.Allergy) {
	n := 0
	for _, rc := range a.Reactions {
		if hasCoding(rc.Manifestation) {
			n++
		}
	}
	if n == 0 {
		return
	}
	w.arr("reaction")
	for _, rc := range a.Reactions {
		if !hasCoding(rc.Manifestation) {
			continue // manifestation is 1..* in both releases
		}
		w.open("")
		w.codeable("substance", a.Substance, codingLabel(a.Substance))
		w.arr("manifestation")
		w.codeableElem(rc.Manifestation, codingLabel(rc.Manifestation))
		w.closeArr()
		w.str("description", rc.Description)
		w.str("onset", fhirDateTime(a.Onset))
		w.str("severity", reactionSeverity(rc.Severity))
		w.close()
	}
	w.closeArr()
}

func reactionSeverity(s string) string {
	switch s {
	case "mild", "moderate", "severe":
		return s
	}
	return ""
}

func medicationOrderDSTU2(r *seed.PatientRecord, m *seed.Medication) Resource {
	w := begin("MedicationOrder", m.ID, medicationNarrative(m))
	w.str("dateWritten", fhirDateTime(m.Authored))
	w.str("status", m.Status)
	if m.Status != "active" {
		w.str("dateEnded", fhirDateTime(m.Ended))
	}
	w.ref("patient", patientRef(r))
	w.ref("prescriber", m.Prescriber)
	w.ref("encounter", encounterRef(m.EncounterID))
	if m.Reason != nil {
		w.codeable("reasonCodeableConcept", *m.Reason, codingLabel(*m.Reason))
	}
	w.codeable("medicationCodeableConcept", m.Code, codingLabel(m.Code))
	w.dosage(m.DosageText)
	return w.finish("MedicationOrder", m.ID)
}

// coverageDSTU2 writes the DSTU2 Coverage, which has no payor element: the
// insurer is "issuer" and the plan and group are plain strings, which the
// client shows as text ("No Primary Insurance").
//
// Who is covered and who holds the policy say the same thing in every
// release. DSTU2 Coverage has no beneficiary, so the covered patient is
// written with the cross-version extension for STU3's
// Coverage.beneficiary (FHIR's convention for an element of another
// release), on every Coverage, and Coverage?patient= follows that
// extension as STU3 and R4 follow beneficiary. subscriber names the patient
// only when the patient holds the policy, as in STU3 and R4: a dependant's
// policy holder is a person the sandbox does not model, so DSTU2 does not
// claim the dependant holds it.
func coverageDSTU2(r *seed.PatientRecord, c *seed.Coverage) Resource {
	w := begin("Coverage", c.ID, coverageNarrative(c))
	if pat := patientRef(r); hasRef(pat) {
		w.arr("extension")
		w.open("")
		w.str("url", extBeneficiaryDSTU2)
		w.ref("valueReference", pat)
		w.close()
		w.closeArr()
	}
	w.ref("issuer", issuerDSTU2(c.Payor))
	w.datePeriod("period", c.Start, c.End)
	if c.SubscriberID != "" {
		w.open("subscriberId")
		w.str("value", c.SubscriberID)
		w.close()
	}
	w.str("group", firstNonEmpty(c.GroupValue, c.GroupName))
	w.str("plan", firstNonEmpty(c.PlanName, c.PlanValue))
	if subscriberIsPatient(c) {
		w.ref("subscriber", patientRef(r))
	}
	return w.finish("Coverage", c.ID)
}

// extBeneficiaryDSTU2 is the cross-version extension that carries STU3's
// Coverage.beneficiary in a DSTU2 Coverage (url pattern
// http://hl7.org/fhir/[version]/StructureDefinition/extension-[path]).
const extBeneficiaryDSTU2 = "http://hl7.org/fhir/3.0/StructureDefinition/extension-Coverage.beneficiary"

// subscriberIsPatient reports whether the patient holds the policy; for a
// spouse's or parent's policy the subscriber is a person the sandbox does
// not model, so no reference is written.
func subscriberIsPatient(c *seed.Coverage) bool {
	return c.Relationship == "" || c.Relationship == "self"
}

// issuerDSTU2: DSTU2 Coverage.issuer may only reference an Organization. A
// self-pay policy, whose payor is the patient, keeps the display alone.
func issuerDSTU2(payor seed.Reference) seed.Reference {
	if payor.Type != "Organization" {
		return seed.Reference{Display: payor.Display}
	}
	return payor
}
