// Package smartscope parses SMART on FHIR system scopes, v1
// ("system/Patient.read", "system/*.write", "system/*.*") and v2
// ("system/Patient.rs", "system/Observation.rs?category=vital-signs"),
// and answers what a set of granted scopes permits. It knows nothing of
// HTTP or tokens: the token endpoint uses it to grant scopes, the FHIR API
// to enforce them.
//
// Only the system/ context is a SMART scope here: SMART Backend Services
// grant nothing else. Other scope tokens (patient/..., user/..., openid,
// a tenant GUID) are not SMART scopes to this package and are left to the
// caller.
package smartscope
