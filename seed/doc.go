// Package seed generates a reproducible synthetic hospital: version-neutral
// clinical records that the FHIR renderers turn into DSTU2, STU3 or R4 JSON.
//
// Generation is deterministic per (seed, tenant, patient index): every
// patient draws from its own gofakeit instance seeded from a hash of those
// three values, and every date is relative to a configurable reference
// date, so the same options give byte-identical output on every machine
// and run. Patient i never depends on another patient, so a population can
// be built in any order or in parallel. Measurements are computed in
// integer tenths, so no floating-point contraction can differ between
// architectures.
//
// # Identifiers
//
// The hospital is org-hospital, insurers org-payor-<k>, practitioners
// pract-<k>, locations loc-<k> (k from 1). Patient index i is pat-<i+1>;
// its encounters enc-<i+1>-<k>, observations obs-<i+1>-<k>, conditions
// cond-<i+1>-<k>, allergies alg-<i+1>-<k>, medications med-<i+1>-<k>
// (each numbered oldest first) and its coverage cov-<i+1>. MRNs are eight
// digits, unique within a tenant (an affine permutation of the index), in
// the identifier system MRNSystem(tenant).
//
// # Codes
//
// LOINC, SNOMED CT and RxNorm codes come only from clinical-codes.yaml
// (copied verbatim to testdata/; codes.go names the group of each table and
// a test proves every entry is in the file). Location types, marital status
// and languages come from the HL7 v3 RoleCode, v3 MaritalStatus and BCP-47
// value sets of FHIR STU3 (hl7.go). Race and ethnicity are the OMB
// categories of the CDC Race & Ethnicity code system that US Core 3.1.1
// binds (omb.go); they, and the hospital's NPI, are drawn from random
// streams of their own, so adding them moved no other generated value.
//
// # Edge cases
//
// Every population contains the cases a client must cope with, chosen by
// patient index so that they appear even in small populations:
//
//	i%20 == 3    family name Smith      (shared family name)
//	i%20 == 13   family name Johnson    (shared family name)
//	i%20 == 5    accented given and family names (José, Zoë, Nuñez, Müller...), stored in NFC
//	i%20 == 15   family name with an apostrophe (O'Brien, D'Angelo...), sometimes an accented given name
//	i%20 == 7    no allergies
//	i%20 == 9    no encounters, hence no vital signs, conditions or medications
//	i%20 == 11   100 to 105 years old
//	i%20 == 17   newborn, 1 to 30 days old: one birth encounter in the nursery, infant vital signs only
//	i%50 == 7    newest encounter in progress (no end)
//	i%50 == 21   gender unknown (even i/50) or other (odd i/50)
//	i%50 == 29   no coverage on file
//	i%50 == 33   adult under 65 without insurance ("No Primary Insurance", the patient is the payor; member id = the MRN, group "Self-pay")
//	i%50 == 45   deceased, 55 to 95 years old, after the last encounter
//
// Beyond these, Spanish-speaking patients, a second given name, suffixes,
// acute conditions resolved or still active, stopped medications, drug
// allergies that rule out a prescription and an epinephrine auto-injector
// for anaphylactic allergies occur at random.
package seed
