package fhir

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// Metadata field types, in the order FHIR lists the elements, so the
// statement reads like the specification's examples.
type (
	capExtension struct {
		URL       string         `json:"url"`
		ValueURI  string         `json:"valueUri,omitempty"`
		ValueCode string         `json:"valueCode,omitempty"`
		Extension []capExtension `json:"extension,omitempty"`
	}
	capCoding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display,omitempty"`
	}
	capConcept struct {
		Coding []capCoding `json:"coding"`
		Text   string      `json:"text,omitempty"`
	}
	capSecurity struct {
		Extension   []capExtension `json:"extension,omitempty"`
		CORS        bool           `json:"cors"`
		Service     []capConcept   `json:"service"`
		Description string         `json:"description,omitempty"`
	}
	capInteraction struct {
		Code string `json:"code"`
	}
	capSearchParam struct {
		Name          string `json:"name"`
		Type          string `json:"type"`
		Documentation string `json:"documentation,omitempty"`
	}
	capResource struct {
		Type              string           `json:"type"`
		Interaction       []capInteraction `json:"interaction"`
		Versioning        string           `json:"versioning,omitempty"`
		ReadHistory       bool             `json:"readHistory"`
		UpdateCreate      bool             `json:"updateCreate"`
		ConditionalRead   string           `json:"conditionalRead,omitempty"`
		ConditionalCreate bool             `json:"conditionalCreate"`
		ConditionalUpdate bool             `json:"conditionalUpdate"`
		ConditionalDelete string           `json:"conditionalDelete,omitempty"`
		SearchInclude     []string         `json:"searchInclude,omitempty"`
		SearchParam       []capSearchParam `json:"searchParam,omitempty"`
	}
	capRest struct {
		Mode        string           `json:"mode"`
		Security    capSecurity      `json:"security"`
		Resource    []capResource    `json:"resource"`
		Interaction []capInteraction `json:"interaction"`
	}
	capSoftware struct {
		Name    string `json:"name"`
		Version string `json:"version,omitempty"`
	}
	capImplementation struct {
		Description string `json:"description"`
		URL         string `json:"url"`
	}
	capStatement struct {
		ResourceType   string            `json:"resourceType"`
		ID             string            `json:"id"`
		URL            string            `json:"url"`
		Name           string            `json:"name"`
		Status         string            `json:"status"`
		Date           string            `json:"date"`
		Publisher      string            `json:"publisher"`
		Description    string            `json:"description"`
		Kind           string            `json:"kind"`
		Software       capSoftware       `json:"software"`
		Implementation capImplementation `json:"implementation"`
		FHIRVersion    string            `json:"fhirVersion"`
		AcceptUnknown  string            `json:"acceptUnknown,omitempty"`
		Format         []string          `json:"format"`
		Rest           []capRest         `json:"rest"`
	}
)

const oauthURIs = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

// Statement builds the metadata statement (DSTU2 Conformance, STU3
// CapabilityStatement) for a public base URL. It lists exactly the types,
// interactions and search parameters the API serves, and the OAuth
// endpoints in rest[0].security.
func (a *API) Statement(base string) []byte {
	rel := a.rel
	st := capStatement{
		ResourceType: rel.MetadataType,
		ID:           "fhirsandbox",
		URL:          base + a.prefix + "/metadata",
		Name:         "fhirsandbox",
		Status:       "active",
		Date:         a.o.Published.UTC().Format("2006-01-02"),
		Publisher:    "fhirsandbox",
		Description:  "A FHIR interop partner sandbox: a synthetic hospital per tenant, OAuth2 client credentials with tenant-scoped tokens.",
		Kind:         "instance",
		Software:     capSoftware{Name: a.o.Software, Version: a.o.SoftwareVersion},
		Implementation: capImplementation{
			Description: "fhirsandbox " + rel.Name + " endpoint",
			URL:         base + a.prefix,
		},
		FHIRVersion: rel.FHIRVersion,
		Format:      []string{"json", rel.MediaType},
	}
	if rel.AcceptUnknown {
		st.AcceptUnknown = "no"
	}
	if st.Software.Name == "" {
		st.Software.Name = "fhirsandbox"
	}
	sec := capSecurity{
		CORS: true,
		Service: []capConcept{{
			Coding: []capCoding{{System: rel.SecurityServiceSystem, Code: "SMART-on-FHIR", Display: "SMART-on-FHIR"}},
			Text:   "OAuth2 client credentials with a client secret or a signed JWT assertion (SMART Backend Services); the tenant GUID goes in scope beside SMART system scopes",
		}},
		Description: "POST the token URL with grant_type=client_credentials, client_id and client_secret (or client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer and a client_assertion signed with " + strings.Join(smartAssertionAlgs(), ", ") + "), and scope=<tenant GUID> with optional SMART system scopes such as system/Patient.read or system/Observation.rs; send the access token as Authorization: Bearer.",
	}
	uris := capExtension{URL: oauthURIs}
	addURI := func(name, path string) {
		if path != "" {
			uris.Extension = append(uris.Extension, capExtension{URL: name, ValueURI: base + path})
		}
	}
	s := a.o.Security
	var drift Drift
	if a.o.Drift != nil {
		drift = a.o.Drift()
	}
	if drift.FHIRVersion != "" {
		st.FHIRVersion = drift.FHIRVersion
	}
	if drift.TokenURL != "" {
		if strings.Contains(drift.TokenURL, "://") {
			uris.Extension = append(uris.Extension, capExtension{URL: "token", ValueURI: drift.TokenURL})
			s.Token = ""
		} else {
			s.Token = drift.TokenURL
		}
	}
	addURI("token", s.Token)
	addURI("authorize", s.Authorize)
	addURI("register", s.Register)
	addURI("manage", s.Manage)
	addURI("introspect", s.Introspect)
	addURI("revoke", s.Revoke)
	if len(uris.Extension) > 0 && !drift.DropOAuthURIs {
		sec.Extension = []capExtension{uris}
	}
	if !drift.DropOAuthURIs { // the drift plays metadata that lost its SMART extensions
		for _, c := range smartCapabilities() {
			sec.Extension = append(sec.Extension, capExtension{URL: smartCapabilitiesURL, ValueCode: c})
		}
	}
	rest := capRest{Mode: "server", Security: sec, Interaction: []capInteraction{{"transaction"}}}
	if rel.BatchInteraction {
		rest.Interaction = append(rest.Interaction, capInteraction{"batch"})
	}
	defs := a.defs
	types := make([]string, 0, len(defs))
	for t := range defs {
		types = append(types, t)
	}
	slices.Sort(types)
	for _, t := range types {
		res := capResource{
			Type:              t,
			Interaction:       []capInteraction{{"read"}, {"vread"}, {"update"}, {"delete"}, {"search-type"}, {"create"}},
			Versioning:        "versioned",
			UpdateCreate:      true,
			ConditionalDelete: "not-supported",
		}
		if rel.ConditionalRead {
			// reads honour both If-None-Match and If-Modified-Since
			// (see notModified): "full-support" in the conditional-read
			// codes, which "modified-since" alone would understate
			res.ConditionalRead = "full-support"
		}
		for _, p := range defs[t] {
			res.SearchParam = append(res.SearchParam, capSearchParam{Name: p.Name, Type: p.Type.String(), Documentation: p.Doc})
			if p.Type == store.Reference {
				res.SearchInclude = append(res.SearchInclude, t+":"+p.Name)
			}
		}
		res.SearchParam = append(res.SearchParam,
			capSearchParam{Name: "_id", Type: "token", Documentation: "The resource id"},
			capSearchParam{Name: "_lastUpdated", Type: "date", Documentation: "When the resource last changed"})
		rest.Resource = append(rest.Resource, res)
	}
	st.Rest = []capRest{rest}
	b, _ := json.Marshal(st) // plain structs of strings and bools always marshal
	return b
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	f, e := parseFormat(r)
	if e != nil {
		a.fail(w, e)
		return
	}
	a.write(w, r, f, http.StatusOK, a.Statement(a.o.Base(r)))
}

// smartCapabilitiesURL is the SMART extension that lists capabilities
// on CapabilityStatement.rest.security.
const smartCapabilitiesURL = "http://fhir-registry.smarthealthit.org/StructureDefinition/capabilities"

// smartCapabilities are the SMART capabilities this server has, in the
// smart-configuration and the CapabilityStatement alike.
func smartCapabilities() []string {
	return []string{"client-confidential-symmetric", "client-confidential-asymmetric", "permission-v1", "permission-v2"}
}

// smartAssertionAlgs are the client assertion algorithms the token
// endpoint accepts (auth.AssertionAlgs; a test keeps the two equal).
func smartAssertionAlgs() []string { return []string{"RS384", "ES384", "RS256", "ES256"} }

// smartScopesSupported lists the scope forms the token endpoint grants;
// any resource type may stand where * is.
func smartScopesSupported() []string {
	return []string{"system/*.read", "system/*.write", "system/*.*", "system/*.rs", "system/*.cruds", "system/Patient.read", "system/Patient.rs"}
}

// smartConfiguration answers {base}/.well-known/smart-configuration.
func (a *API) smartConfiguration(w http.ResponseWriter, r *http.Request) {
	base := a.o.Base(r)
	s := a.o.Security
	cfg := map[string]any{
		"token_endpoint":                                   base + s.Token,
		"grant_types_supported":                            []string{"client_credentials"},
		"token_endpoint_auth_methods_supported":            []string{"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"token_endpoint_auth_signing_alg_values_supported": smartAssertionAlgs(),
		"response_types_supported":                         []string{"token"},
		"capabilities":                                     smartCapabilities(),
		"scopes_supported":                                 smartScopesSupported(),
	}
	opt := func(key, path string) {
		if path != "" {
			cfg[key] = base + path
		}
	}
	opt("jwks_uri", s.JWKS)
	opt("authorization_endpoint", s.Authorize)
	opt("registration_endpoint", s.Register)
	opt("management_endpoint", s.Manage)
	opt("introspection_endpoint", s.Introspect)
	opt("revocation_endpoint", s.Revoke)
	b, _ := json.Marshal(cfg)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}
