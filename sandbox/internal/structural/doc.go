// Package structural checks a FHIR JSON resource against the official
// definitions of its release (DSTU2 1.0.2, STU3 3.0.1, R4 4.0.1). The
// fhirsandbox command checks every fixture and imported resource with it
// (Release, passed as sandbox.Options.ValidateFixture).
//
// # Definitions
//
// Each release is driven by a compact derivative of its official
// definitions, embedded and parsed on first use (never at package init):
//
//   - dstu2defs.json, written by gen/ from the npm package fhir@3.3.1: the
//     1.0.2 resource StructureDefinitions and the DSTU2 XML schemas
//     (datatypes and the code lists of required bindings);
//   - stu3defs.json and r4defs.json, written by gencore/ from the official
//     core packages hl7.fhir.core 3.0.1 and hl7.fhir.r4.core 4.0.1: the
//     snapshots of every resource, datatype and primitive
//     StructureDefinition, and the ValueSets and CodeSystems of required
//     bindings.
//
// The doc comments of gen/ and gencore/ name the exact sources. For every
// element of every resource, backbone element and datatype the files
// record cardinality, allowed types (choice elements with their type
// list), Reference target types, and for required bindings on code
// elements the codes of the value set; for STU3 and R4 also the regex of
// each primitive.
//
// # Shared JSON rules
//
// Before any type-driven check the input is parsed once into a tree that
// rejects what encoding/json would silently accept: duplicate keys, data
// after the top-level value, nesting deeper than 100. Inputs are bounded to
// 16 MiB and reports to 200 problems. Every element is then held to the
// FHIR JSON rules: no null except at a position of a primitive array whose
// "_name" sibling carries that position's extension, no empty strings,
// objects or arrays, lower camel case element names, "_name" siblings
// shaped as {id, extension} (an array of the same length for a repeating
// primitive), and Narrative div as well-formed XML whose single root is a
// <div> in the XHTML namespace (DSTU2 also accepts it without namespace, as
// its official JSON examples have it; DSTU2 alone allows fhir_comments).
//
// # What is checked (every release)
//
//   - resourceType known in the release (STU3 and R4 reject
//     MedicationOrder, DSTU2 rejects MedicationRequest, STU3 rejects
//     ServiceRequest), also in Bundle.entry.resource, contained,
//     Parameters.parameter.resource and any other Resource-typed element;
//   - unknown elements, naming the key;
//   - arrays exactly where max is not 1, and the max count;
//   - min cardinality: required elements present (R4 Coverage.beneficiary);
//   - choice elements: suffix among the allowed types, at most one variant;
//   - JSON type per element: objects for complex types, numbers for
//     integer, positiveInt, unsignedInt and decimal, booleans, strings for
//     the rest;
//   - primitive lexical forms: for STU3 and R4 the regex of the official
//     primitive definition; for DSTU2, whose definitions carry none, the
//     DSTU2 rules for date, dateTime, instant, time, decimal, code, id,
//     uri, oid, uuid; for every release integers in 32-bit range, real
//     calendar days (no 2015-02-30), base64 that decodes and strings
//     without control characters (STU3 instant, which has no regex in its
//     definition, takes the DSTU2 rule);
//   - codes of required bindings on code elements whose value set the
//     definitions enumerate (gender, Observation.status, Bundle.type,
//     issue codes...);
//   - "_name" only for primitive elements, shaped by the element's
//     cardinality, holding only id and extension;
//   - literal references (Type/id, absolute or versioned) point at an
//     allowed target type;
//   - Narrative div well-formed, as above.
//
// What differs between releases comes out of the definitions: R4's
// CodeableConcept Condition.clinicalStatus, its required
// Coverage.beneficiary, STU3-only elements (assertedDate) and R4-only
// ones (recordedDate) are not written anywhere in this package.
//
// # What is not checked
//
// Invariants (FHIRPath constraints such as "name or text"), extensible and
// preferred bindings, codes inside CodeableConcept and Coding, required
// bindings whose value set the definitions do not enumerate (mime types,
// currencies, languages: the generators list them when run), profile
// conformance (US Core, SimpleQuantity), extension contents beyond the
// Extension type, and whether a literal reference resolves.
//
// # Independent check
//
// The project's tests also validate everything the sandbox generates with
// package validate, built on github.com/google/fhir, and a differential
// test holds this package's STU3 and R4 verdicts to google/fhir's on a
// generated population, real Synthea exports and a table of mutations.
// Where the two differ on purpose, because the official definitions say
// otherwise than google/fhir (the regexes of STU3 code and date, of R4 uri,
// base64Binary and the leap second, STU3's uri without one), the test lists
// each case with its reason.
package structural
