// Package validate is the tests' independent FHIR validator: it checks
// FHIR JSON emitted by the sandbox against the official definitions of its
// release, independently of the renderers that produced it and of the
// structural validator the server runs on fixtures (package structural).
// Tests call R4, STU3, DSTU2 or Release on every resource they see. It is
// built on github.com/google/fhir and its protobuf modules, which the
// fhirsandbox command does not link (sandboxtest's TestImportStaysLight).
//
// # Shared JSON rules (STU3 and R4)
//
// google/fhir lets through what the FHIR JSON rules forbid (duplicate keys,
// null, empty values, "_name" siblings of the wrong shape, a malformed
// Narrative div), so STU3 and R4 first run structural.JSONRules, the same
// rules the structural validator applies.
//
// # STU3
//
// STU3 then runs the validating unmarshaller of github.com/google/fhir/go
// v0.7.4 (jsonformat.NewUnmarshaller with fhirversion.STU3, which runs
// fhirvalidate.Validate after parsing). Its protos are generated from the
// STU3 3.0.1 StructureDefinitions. What it checks:
//   - resourceType known, also for Bundle.entry.resource and contained;
//   - unknown elements ("unknown field"), each named in the error;
//   - JSON type per element: arrays exactly where max is "*", objects for
//     complex types, string/number/boolean for primitives;
//   - choice types: only the allowed suffixes (valueQuantity, ...), at most
//     one of them;
//   - primitive lexical forms: date, dateTime, instant, time, decimal,
//     integer, positiveInt and unsignedInt ranges, id, oid, uuid, code, uri,
//     base64Binary, and strings free of control characters;
//   - codes of required bindings (enums in the protos): a wrong
//     gender, Observation.status, Bundle.type, issue code... is rejected;
//   - required elements (min = 1), e.g. Observation.status and code;
//   - reference targets: Observation.subject may not point at Medication.
//
// What it does not check: invariants (FHIRPath constraints such as
// "name or text"), extensible/preferred bindings, coded values inside
// CodeableConcept, profile conformance, or that a literal reference
// resolves. Upper camel case keys ("Gender") are accepted by the library;
// the shared JSON rules reject them.
//
// # R4
//
// R4 runs the same pipeline as STU3 with fhirversion.R4: the shared JSON
// rules, then the validating unmarshaller over the protos generated from
// the R4 4.0.1 StructureDefinitions. It checks and leaves unchecked the
// same kinds of thing as for STU3. Among what it rejects are the STU3
// shapes R4 changed: a code where R4 has a CodeableConcept
// (Condition.clinicalStatus), STU3-only elements (assertedDate, context,
// Coverage.grouping, Encounter.reason, MedicationRequest.requester.agent),
// and R4's new required elements (Coverage.beneficiary, Coverage.payor,
// Coverage.class.value). Codes inside a CodeableConcept, extension
// contents beyond their url and profiles (US Core) are not checked.
//
// # DSTU2
//
// google/fhir has no DSTU2 protos: DSTU2 is the structural validator the
// server itself runs (package structural, driven by the official DSTU2
// definitions), so for DSTU2 the tests' check is not independent of the
// server's.
package validate
