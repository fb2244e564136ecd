// Package scenario makes the sandbox misbehave on purpose, the way real
// interop partners and EHRs do, and checks what a client observes.
//
// A scenario is a YAML file (Load, LoadFile) with three optional parts:
//
//   - rules: request matchers with effects (latency, canned responses,
//     transport faults, JSON quirks) applied to live traffic by the
//     Engine's middleware, gated by probability, count and time windows;
//   - timeline: actions (expire or revoke a secret, rotate the signing key,
//     unmap a tenant...) fired at a time since activation or after a number
//     of requests, carried out through the Controls interface so that they
//     use the server's real mechanisms;
//   - steps: scripted client requests with expectations, executed by Run
//     over real HTTP, reported as text, JSON or JUnit XML.
//
// The Journal records every request (never secrets or tokens) with the
// scenario effects applied to it, for the request inspector and for the
// journal expectations of a scenario.
//
// Files are parsed once into a yaml.Node tree and walked with the decoding
// layer the config loader uses (sandbox/internal/yamlfile), so that every
// problem (unknown keys, wrong types, duplicate keys, aliases, tags, extra
// documents, bad values) is reported at once as file:line: message.
package scenario
