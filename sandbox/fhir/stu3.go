package fhir

import (
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// STU3 renders FHIR 3.0.1 (STU3) JSON.
type STU3 struct{}

var _ Version = STU3{}

// Release implements Version.
func (STU3) Release() spec.Release { return spec.STU3() }

// RenderHospital implements Version.
func (v STU3) RenderHospital(h *seed.Hospital, emit func(Resource)) {
	v.shapes().renderHospital(h, emit)
}

// RenderPatient implements Version.
func (v STU3) RenderPatient(p *seed.PatientRecord, emit func(Resource)) {
	v.shapes().renderPatient(p, emit)
}

// shapes are the release's writers of each resource.
func (STU3) shapes() shapes {
	return shapes{
		organization: organizationSTU3,
		practitioner: func(p *seed.Practitioner, _ *seed.Organization) Resource { return practitionerSTU3(p) },
		location:     location,
		patient:      patientSTU3,
		encounter:    encounterSTU3,
		observation:  observationSTU3,
		condition:    conditionSTU3,
		allergy:      allergySTU3,
		medication:   medicationRequestSTU3,
		coverage:     coverageSTU3,
	}
}

// organizationSTU3: type is a list, and STU3 added "pay" (Payer).
func organizationSTU3(o *seed.Organization) Resource {
	typ := orgType(o.Type, seed.Coding{System: systemOrgType, Code: "pay", Display: "Payer"})
	w := beginOrganization(o, typ)
	if hasCoding(typ) {
		w.arr("type")
		w.codeableElem(typ, "")
		w.closeArr()
	}
	return finishOrganization(w, o)
}

// STU3 Practitioner has a list of names and no role: the specialty belongs
// to PractitionerRole, which the sandbox does not serve, so it stays in the
// narrative only.
func practitionerSTU3(p *seed.Practitioner) Resource {
	return practitionerBody(begin("Practitioner", p.ID, practitionerNarrative(p)), p)
}

// practitionerBody writes a Practitioner with a list of names (STU3, R4)
// after its opening.
func practitionerBody(w *jw, p *seed.Practitioner) Resource {
	w.npi(p.NPI)
	w.boolean("active", true)
	if hasName(p.Name) {
		w.arr("name")
		w.humanName(p.Name, false)
		w.closeArr()
	}
	w.telecoms(p.Telecom)
	w.str("gender", p.Gender)
	return w.finish("Practitioner", p.ID)
}

func patientSTU3(r *seed.PatientRecord) Resource {
	p := &r.Patient
	w := begin("Patient", p.ID, patientNarrative(p))
	w.mrnIdentifier(p.MRN, mrnSystem(r))
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
	w.codeable("maritalStatus", p.Marital, "")
	w.communication(p.Language)
	w.refArr("generalPractitioner", p.GP)
	w.ref("managingOrganization", provider(r))
	return w.finish("Patient", p.ID)
}

func encounterSTU3(r *seed.PatientRecord, e *seed.Encounter) Resource {
	w := begin("Encounter", e.ID, encounterNarrative(e))
	w.str("status", e.Status)
	if c := encounterClassSTU3(e.Class); hasCoding(c) {
		w.key("class")
		w.coding(c)
	}
	if hasCoding(e.Type) {
		w.arr("type")
		w.codeableElem(e.Type, codingLabel(e.Type))
		w.closeArr()
	}
	w.ref("subject", patientRef(r))
	w.encounterParticipant(e)
	w.period("period", e.Start, e.End)
	w.encounterReason(e)
	w.encounterLocation(e)
	w.ref("serviceProvider", provider(r))
	return w.finish("Encounter", e.ID)
}

// observationSTU3 writes a vital sign: category is a list and the
// encounter link is "context".
func observationSTU3(r *seed.PatientRecord, o *seed.Observation) Resource {
	w := begin("Observation", o.ID, observationNarrative(o, o.Code))
	w.str("status", observationStatus(o.Status))
	w.arr("category")
	w.codeableElem(vitalSignsCategory(), "")
	w.closeArr()
	w.observationCode(o.Code, o.Extra)
	w.ref("subject", patientRef(r))
	w.ref("context", encounterRef(o.EncounterID))
	w.str("effectiveDateTime", fhirDateTime(o.Effective))
	w.observationValue(o)
	return w.finish("Observation", o.ID)
}

func conditionClinicalSTU3(s string) string {
	switch s {
	case "active", "recurrence", "inactive", "remission", "resolved":
		return s
	}
	return "active"
}

// conditionCategorySTU3: chronic problems belong on the problem list,
// acute ones are diagnoses of the encounter that found them.
func conditionCategorySTU3(kind string) seed.Coding {
	if kind == "acute" {
		return seed.Coding{System: systemCondCategory, Code: "encounter-diagnosis", Display: "Encounter Diagnosis"}
	}
	return seed.Coding{System: systemCondCategory, Code: "problem-list-item", Display: "Problem List Item"}
}

func conditionSTU3(r *seed.PatientRecord, c *seed.Condition) Resource {
	w := begin("Condition", c.ID, conditionNarrative(c))
	w.str("clinicalStatus", conditionClinicalSTU3(c.Clinical))
	w.str("verificationStatus", "confirmed")
	w.arr("category")
	w.codeableElem(conditionCategorySTU3(c.Kind), "")
	w.closeArr()
	if c.Severity != nil {
		w.codeable("severity", *c.Severity, "")
	}
	w.codeable("code", c.Code, codingLabel(c.Code))
	w.ref("subject", patientRef(r))
	w.ref("context", encounterRef(c.EncounterID))
	w.str("onsetDateTime", fhirDateTime(c.Onset))
	if conditionAbated(c) {
		w.str("abatementDateTime", fhirDateTime(c.Abatement))
	}
	w.str("assertedDate", fhirDateTime(c.Recorded))
	w.ref("asserter", c.Asserter)
	return w.finish("Condition", c.ID)
}

func allergyClinicalSTU3(s string) string {
	switch s {
	case "active", "inactive", "resolved":
		return s
	}
	return "active"
}

func allergyVerificationSTU3(s string) string {
	switch s {
	case "unconfirmed", "confirmed", "refuted":
		return s
	}
	return "unconfirmed"
}

func criticalitySTU3(s string) string {
	switch s {
	case "low", "high", "unable-to-assess":
		return s
	}
	return ""
}

func allergyCategorySTU3(s string) string {
	switch s {
	case "food", "medication", "environment", "biologic":
		return s
	}
	return ""
}

// allergySTU3 always writes clinicalStatus and verificationStatus: the
// client needs both and ait-1 requires the clinical status unless the
// record was entered in error, which the sandbox never generates.
func allergySTU3(r *seed.PatientRecord, a *seed.Allergy) Resource {
	w := begin("AllergyIntolerance", a.ID, allergyNarrative(a))
	w.str("clinicalStatus", allergyClinicalSTU3(a.Clinical))
	w.str("verificationStatus", allergyVerificationSTU3(a.Verification))
	w.str("type", "allergy")
	if cat := allergyCategorySTU3(a.Category); cat != "" {
		w.arr("category")
		w.elem(cat)
		w.closeArr()
	}
	w.str("criticality", criticalitySTU3(a.Criticality))
	w.codeable("code", a.Substance, codingLabel(a.Substance))
	w.ref("patient", patientRef(r))
	w.str("onsetDateTime", fhirDateTime(a.Onset))
	w.str("assertedDate", fhirDateTime(a.Recorded))
	w.ref("recorder", a.Recorder)
	if a.Note != "" {
		w.arr("note")
		w.annotation(a.Note)
		w.closeArr()
	}
	reactions(w, a)
	return w.finish("AllergyIntolerance", a.ID)
}

func medicationStatusSTU3(s string) string {
	switch s {
	case "active", "on-hold", "cancelled", "completed", "entered-in-error", "stopped", "draft", "unknown":
		return s
	}
	return "unknown"
}

func medicationRequestSTU3(r *seed.PatientRecord, m *seed.Medication) Resource {
	w := begin("MedicationRequest", m.ID, medicationNarrative(m))
	w.str("status", medicationStatusSTU3(m.Status))
	w.str("intent", "order")
	w.codeable("medicationCodeableConcept", m.Code, codingLabel(m.Code))
	w.ref("subject", patientRef(r))
	w.ref("context", encounterRef(m.EncounterID))
	w.str("authoredOn", fhirDateTime(m.Authored))
	if hasRef(m.Prescriber) {
		w.open("requester")
		w.ref("agent", m.Prescriber)
		w.close()
	}
	if m.Reason != nil && hasCoding(*m.Reason) {
		w.arr("reasonCode")
		w.codeableElem(*m.Reason, codingLabel(*m.Reason))
		w.closeArr()
	}
	w.dosage(m.DosageText)
	return w.finish("MedicationRequest", m.ID)
}

func coverageSTU3(r *seed.PatientRecord, c *seed.Coverage) Resource {
	w := begin("Coverage", c.ID, coverageNarrative(c))
	w.str("status", coverageStatusSTU3(c.Status))
	if subscriberIsPatient(c) {
		w.ref("subscriber", patientRef(r))
	}
	w.str("subscriberId", c.SubscriberID)
	w.ref("beneficiary", patientRef(r))
	if c.Relationship != "" {
		w.codeable("relationship", seed.Coding{System: systemPolicyRel, Code: c.Relationship}, "")
	}
	w.datePeriod("period", c.Start, c.End)
	w.refArr("payor", c.Payor)
	if c.GroupValue != "" || c.GroupName != "" || c.PlanValue != "" || c.PlanName != "" {
		w.open("grouping")
		w.str("group", c.GroupValue)
		w.str("groupDisplay", c.GroupName)
		w.str("plan", c.PlanValue)
		w.str("planDisplay", c.PlanName)
		w.close()
	}
	return w.finish("Coverage", c.ID)
}

func coverageStatusSTU3(s string) string {
	switch s {
	case "active", "cancelled", "draft", "entered-in-error":
		return s
	}
	return "active"
}
