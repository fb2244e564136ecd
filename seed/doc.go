// Package seed generates a reproducible synthetic hospital: version-neutral
// clinical records that the FHIR renderers turn into DSTU2 or STU3 JSON.
//
// Generation is deterministic per (seed, tenant, patient index): every
// patient draws from its own gofakeit instance seeded from those three
// values, and every date is relative to a configurable reference date, so
// the same options give byte-identical output on every machine and run.
package seed
