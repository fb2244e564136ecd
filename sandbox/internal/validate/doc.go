// Package validate checks FHIR JSON emitted by the sandbox against the
// official definitions of its release, independently of the renderers that
// produced it. Tests call R4, STU3, DSTU2 or Release on every resource they
// see.
//
// # Shared JSON rules (both releases)
//
// Before any type-driven check the input is parsed once into a tree that
// rejects what encoding/json would silently accept: duplicate keys, data
// after the top-level value, nesting deeper than 100. Inputs are bounded to
// 16 MiB. Every element is then held to the FHIR JSON rules: no null except
// at a position of a primitive array whose "_name" sibling carries that
// position's extension, no empty strings, objects or arrays, lower camel
// case element names, "_name" siblings shaped as {id, extension} (an array
// of the same length for a repeating primitive), and Narrative div as
// well-formed XML whose single root is a <div> in the XHTML namespace.
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
// DSTU2 is a structural validator driven by dstu2defs.json, a compact
// derivative (about 300 KB) of the official DSTU2 definitions shipped in
// the npm package fhir@3.3.1: the 1.0.2 resource StructureDefinitions
// (all 92 resources) and the DSTU2 XML schemas (datatypes and the code
// lists of required bindings). gen/ produced it; its doc comment names the
// exact files. For every element of every resource, backbone element and
// datatype it records cardinality, allowed types (choice elements with
// their type list), Reference target types, and for required bindings on
// code elements the value set. The validator checks:
//   - resourceType known (DSTU2 resources only: MedicationRequest or
//     CapabilityStatement are rejected), also in Bundle.entry.resource,
//     contained and any other Resource-typed element;
//   - unknown elements, naming the key; fhir_comments is allowed;
//   - arrays exactly where max is not 1 (HumanName.family is an array,
//     Observation.category is not) and the max count;
//   - min cardinality: required elements present (Condition.verificationStatus);
//   - choice elements: suffix among the allowed types, at most one variant;
//   - JSON type per element: objects for complex types, numbers for
//     integer, positiveInt, unsignedInt and decimal (no exponent, 32-bit
//     range), booleans, strings for the rest, with the DSTU2 lexical rules
//     for date, dateTime, instant, time (plus real calendar days), code,
//     id, uri, oid, uuid, base64Binary and control-character-free strings;
//   - codes of required bindings that the schemas enumerate, e.g.
//     AdministrativeGender, ObservationStatus, EncounterState,
//     EncounterClass, AllergyIntolerance status/criticality/type/category,
//     ConditionVerificationStatus, MedicationOrderStatus, BundleType,
//     NarrativeStatus, IssueSeverity, IssueType, the Conformance codes;
//   - "_name" only for primitive elements, shaped by the element's
//     cardinality, holding only id and extension;
//   - literal references (Type/id, absolute or versioned) point at an
//     allowed target type;
//   - Narrative div: well-formed, a single root <div>, without namespace
//     (as in the official DSTU2 JSON examples) or in the XHTML namespace.
//
// Not checked for DSTU2: invariants, bcp47/mime-type codes (language,
// contentType), CodeableConcept required bindings (Patient.maritalStatus),
// the few required code bindings the schemas do not enumerate (gen lists
// them when run), extensible bindings and profiles.
package validate
