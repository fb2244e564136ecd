// Package store keeps FHIR resources in memory, one Store per (tenant,
// release), and answers reads and searches from indexes.
//
// Every resource, generated or written through the API or loaded from a
// fixture file, takes the same path in: JSON is parsed once, meta is set,
// and index keys are extracted through the release's declarative search
// parameter definitions (name, type, element paths). Responses are written
// from the stored bytes; nothing on the read path re-marshals a resource.
//
// Searches intersect exact indexes (tokens, references, uris, ids) first and
// filter the few remaining candidates (dates, numbers and quantities are
// compared by range there); string searches scan the distinct
// normalised values of a parameter rather than every resource.
//
// A generated population is not stored but derived (SetPopulation): a
// patient's resources are rendered when first asked for, take the same
// path in one by one when first needed, and stay in an LRU cache of
// patients. A compact population index answers the Patient searches of
// the partner interface; patient-scoped searches generate the patients
// they name; other searches generate the whole population. Resources
// written or loaded overlay the generated ones by type and id, and every
// generated resource keeps the creation order, version and lastUpdated it
// had when populations were stored, so the bytes served are the same.
package store
