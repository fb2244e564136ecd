package seed

// HL7 value sets that clinical-codes.yaml does not cover (it holds the
// LOINC, SNOMED CT and RxNorm codes). Each table names the FHIR DSTU2/STU3
// value set it is copied from; codes_test.go checks that none of them uses
// a LOINC, SNOMED CT or RxNorm system, which only the yaml may supply.

// Location types: v3 RoleCode (http://hl7.org/fhir/v3/RoleCode, STU3 v3
// code system RoleCode 2016-11-11, ServiceDeliveryLocationRoleType).
const systemRoleCode = "http://hl7.org/fhir/v3/RoleCode"

// Marital status: STU3/DSTU2 v3 MaritalStatus code system.
const systemMaritalStatus = "http://hl7.org/fhir/v3/MaritalStatus"

// Languages: STU3 value set http://hl7.org/fhir/ValueSet/languages
// (Common Languages, BCP-47).
const systemLanguage = "urn:ietf:bcp:47"

// Marital status indexes into maritalStatuses.
const (
	msMarried = iota
	msNeverMarried
	msDivorced
	msWidowed
	msUnmarried
)

var maritalStatuses = [...]Coding{
	msMarried:      {systemMaritalStatus, "M", "Married"},
	msNeverMarried: {systemMaritalStatus, "S", "Never Married"},
	msDivorced:     {systemMaritalStatus, "D", "Divorced"},
	msWidowed:      {systemMaritalStatus, "W", "Widowed"},
	msUnmarried:    {systemMaritalStatus, "U", "unmarried"},
}

var (
	langEnglishUS = Coding{systemLanguage, "en-US", "English (United States)"}
	langSpanish   = Coding{systemLanguage, "es", "Spanish"}
)

// Location indexes into hospitalLocations; Location k has id loc-<k+1>.
const (
	locEmergency = iota
	locFamilyMedicine
	locPediatrics
	locInternalMedicine
	locWard
	locICU
	locUrgentCare
	locNursery
	locHomeHealth
	locObstetrics
	locationCount
)

// locationDef is one department of the hospital: the name and description
// are the generator's; Type is a v3 RoleCode concept.
type locationDef struct {
	Name        string
	Description string
	Type        Coding
}

var hospitalLocations = [locationCount]locationDef{
	locEmergency:        {"Emergency Department", "Adult and pediatric emergency care, open 24/7", Coding{systemRoleCode, "ER", "Emergency room"}},
	locFamilyMedicine:   {"Family Medicine Clinic", "Primary care for patients of all ages", Coding{systemRoleCode, "FMC", "Family medicine clinic"}},
	locPediatrics:       {"Pediatrics Clinic", "Well child visits and pediatric primary care", Coding{systemRoleCode, "PEDC", "Pediatrics clinic"}},
	locInternalMedicine: {"General Internal Medicine Clinic", "Adult primary care and chronic disease management", Coding{systemRoleCode, "GIM", "General internal medicine clinic"}},
	locWard:             {"Ward 4B", "Medical inpatient ward, fourth floor, west wing", Coding{systemRoleCode, "HU", "Hospital unit"}},
	locICU:              {"Intensive Care Unit", "Adult intensive care, third floor", Coding{systemRoleCode, "ICU", "Intensive care unit"}},
	locUrgentCare:       {"Urgent Care Center", "Walk-in care for minor illness and injury", Coding{systemRoleCode, "OF", "Outpatient facility"}},
	locNursery:          {"Newborn Nursery", "Maternity wing newborn unit", Coding{systemRoleCode, "PEDU", "Pediatric unit"}},
	locHomeHealth:       {"Home Health Services", "Visits at the patient's residence", Coding{systemRoleCode, "PTRES", "Patient's Residence"}},
	locObstetrics:       {"Obstetrics Clinic", "Prenatal and postnatal care", Coding{systemRoleCode, "OB", "Obstetrics clinic"}},
}
