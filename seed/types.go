package seed

import "time"

// Options selects one tenant's synthetic population.
type Options struct {
	// Seed is the tenant's random seed; with Tenant and a patient index it
	// fixes every generated value.
	Seed int64
	// Tenant is the canonical (lower-case, no braces) tenant GUID.
	Tenant string
	// Patients is the population size.
	Patients int
	// ReferenceDate is "today" for the generated data: ages, encounter and
	// observation dates are computed backwards from it, never from the clock.
	ReferenceDate time.Time
	// Name is the hospital's name, given to its Organization (the tenant's
	// name, so that a client sees the hospital it configured). Empty: a
	// name is made up from the seed. Every other value is the same either
	// way.
	Name string
}

// Coding is a terminology code (LOINC, SNOMED CT, RxNorm, v2 tables).
type Coding struct {
	System  string
	Code    string
	Display string
}

// Reference points at another generated resource by type and id, with the
// display text a client shows without resolving it.
type Reference struct {
	Type    string // "Practitioner", "Location", "Organization", "Patient"...
	ID      string
	Display string
}

// HumanName is a person's official name.
type HumanName struct {
	Prefix []string // "Mr.", "Dr."
	Given  []string
	Family string
	Suffix []string
}

// Address is a postal home address.
type Address struct {
	Line       []string
	City       string
	State      string
	PostalCode string
	Country    string
}

// Telecom is a phone number or e-mail address.
type Telecom struct {
	System string // "phone" | "email"
	Value  string
	Use    string // "home" | "work" | "mobile"
}

// Hospital is one tenant's whole population plus the shared resources its
// patients refer to.
type Hospital struct {
	Tenant        string
	Organization  Organization   // the hospital itself
	Payors        []Organization // insurers referenced by Coverage
	Practitioners []Practitioner
	Locations     []Location
	Patients      []PatientRecord

	// Options are the validated options the hospital was built from
	// (tenant canonical, ReferenceDate in UTC whole seconds).
	Options Options

	byspecialty [specialtyCount][]int // practitioner indexes per specialty
	mrnA, mrnB  uint64                // MRN permutation, see Hospital.mrn
	mrnSystem   string                // MRNSystem(Tenant), made once
}

// Organization is a hospital or an insurer.
type Organization struct {
	ID      string
	Name    string
	Type    string // "prov" (healthcare provider) | "pay" (payer)
	Phone   string
	Address Address
	// NPI is the hospital's National Provider Identifier (system
	// http://hl7.org/fhir/sid/us-npi); empty for payers, which are not
	// health care providers and have none.
	NPI string
}

// Practitioner is a clinician: a general practitioner, a prescriber, an
// attending physician.
type Practitioner struct {
	ID        string
	NPI       string // 10-digit identifier, system http://hl7.org/fhir/sid/us-npi
	Name      HumanName
	Gender    string // "male" | "female"
	Telecom   []Telecom
	Specialty string // free text, e.g. "Family medicine"
}

// Location is a ward, clinic or department of the hospital.
type Location struct {
	ID          string
	Name        string // "Ward 4B", "Emergency Department"
	Description string
	Type        Coding // v3 RoleCode, e.g. HOSP, ER
	Phone       string
}

// PatientRecord is one patient with every clinical fact the renderers need.
// Slices are ordered oldest first (Encounters "newest last").
type PatientRecord struct {
	Index      int
	Patient    Patient
	Encounters []Encounter
	Vitals     []Observation
	Conditions []Condition
	Allergies  []Allergy
	Meds       []Medication
	Coverage   *Coverage // nil: no coverage on file

	// MRNSystem is the identifier system of Patient.MRN (MRNSystem(tenant)).
	MRNSystem string
	// Provider is the hospital Organization that manages the patient and
	// provides the encounters.
	Provider Reference
}

// Patient holds the demographics.
type Patient struct {
	ID        string
	MRN       string // identifier value, system MRNSystem, type v2-0203 MR
	Name      HumanName
	Gender    string    // "male" | "female" | "other" | "unknown"
	BirthDate time.Time // date only
	Deceased  bool
	Address   Address
	Telecom   []Telecom
	GP        Reference // general practitioner (STU3) / careProvider (DSTU2)
	Language  Coding    // communication language (urn:ietf:bcp:47)
	Marital   Coding    // v3 MaritalStatus

	// DeceasedDate is the date and time of death when Deceased (STU3
	// deceasedDateTime); zero when alive.
	DeceasedDate time.Time

	// Race and Ethnicity are OMB categories of the CDC Race & Ethnicity
	// code system (RaceCategories, EthnicityCategories), which R4's US Core
	// extensions carry. They come from a random stream of their own (see
	// omb.go), so adding them changed no other generated value.
	Race      Coding
	Ethnicity Coding
}

// Encounter is a visit.
type Encounter struct {
	ID       string
	Status   string // "finished" | "in-progress" (DSTU2 and STU3 share these)
	Class    string // v3 ActCode: AMB, EMER, IMP, HH
	Type     Coding // SNOMED CT encounter type
	Start    time.Time
	End      time.Time // zero while in progress
	Location Reference
	Attender Reference // the attending practitioner
	Reason   *Coding   // condition that motivated the visit, if any
}

// Observation is one vital-sign measurement; blood pressure is a panel
// whose values live in Components and whose Value is unset.
type Observation struct {
	ID          string
	EncounterID string
	Key         string // vital sign key from clinical-codes.yaml, e.g. "heart_rate", "blood_pressure"
	Code        Coding // STU3 code; for blood pressure the STU3 panel code
	CodeDSTU2   Coding // DSTU2 code when it differs (blood pressure 55284-4), else zero
	Extra       []Coding
	Value       *Quantity
	Components  []Component
	Effective   time.Time
	Status      string // "final"

	// ExtraR4 are codings an R4 rendering adds after Extra: the code the
	// R4 base vital-signs profile fixes where the seed's code is another
	// (head circumference: 9843-4 beside 8287-5). DSTU2 and STU3 omit them.
	ExtraR4 []Coding
}

// Quantity is a UCUM quantity.
type Quantity struct {
	Value    float64
	Decimals int // digits after the point to render
	Unit     string
	Code     string // UCUM code
}

// Component is one value of a panel (systolic, diastolic).
type Component struct {
	Code  Coding
	Value Quantity
}

// Condition is a problem-list entry or encounter diagnosis.
type Condition struct {
	ID          string
	Code        Coding // SNOMED CT
	Kind        string // "chronic" | "acute"
	Clinical    string // "active" | "resolved"
	Severity    *Coding
	Onset       time.Time
	Abatement   time.Time // zero when still active
	Recorded    time.Time // DSTU2 dateRecorded, STU3 assertedDate
	EncounterID string
	Asserter    Reference
}

// Allergy is an AllergyIntolerance.
type Allergy struct {
	ID           string
	Substance    Coding
	Category     string // "food" | "medication" | "environment"
	Criticality  string // "low" | "high" | "unable-to-assess" (STU3 terms; DSTU2 maps)
	Clinical     string // "active" | "inactive" | "resolved"
	Verification string // "unconfirmed" | "confirmed"
	Recorded     time.Time
	Onset        time.Time
	Note         string
	Reactions    []Reaction
	Recorder     Reference
}

// Reaction is one observed reaction to an allergen.
type Reaction struct {
	Manifestation Coding
	Severity      string // "mild" | "moderate" | "severe"
	Description   string
}

// Medication is a MedicationOrder (DSTU2) / MedicationRequest (STU3).
type Medication struct {
	ID          string
	Code        Coding // RxNorm
	Status      string // "active" | "completed" | "stopped"
	Authored    time.Time
	Ended       time.Time // zero while active
	Prescriber  Reference
	DosageText  string // "Take 1 tablet by mouth once daily"
	Reason      *Coding
	EncounterID string
}

// Coverage is the patient's insurance.
type Coverage struct {
	ID           string
	Payor        Reference // the insurer Organization
	PlanName     string    // "Gold PPO", or "No Primary Insurance" for self-pay
	PlanValue    string
	GroupName    string
	GroupValue   string
	SubscriberID string
	Relationship string // "self" | "spouse" | "child"
	Start        time.Time
	End          time.Time // zero: open-ended
	Status       string    // "active"
}
