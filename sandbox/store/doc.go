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
package store
