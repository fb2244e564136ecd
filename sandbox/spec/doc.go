// Package spec holds the facts every layer of the sandbox agrees on and
// nothing else: the table of FHIR releases the server speaks (one row
// each, with every behavioural difference between releases as a field),
// tenant GUID parsing, and the shared limits. It imports nothing of the
// project, so the config loader, the CLI, the seed, the scenarios, the
// validator and the FHIR API all read the same list.
package spec
