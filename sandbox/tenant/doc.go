// Package tenant maps Azure AD tenant GUIDs to the backend that serves
// them: the tenant's own synthetic hospital or an upstream FHIR server.
package tenant
