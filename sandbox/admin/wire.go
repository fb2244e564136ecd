package admin

import (
	"encoding/json"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// The JSON shapes of the admin API, shared with the CLI that calls it.

// ClientJSON is a client as the API shows it. It never carries a secret's
// plaintext or digest.
type ClientJSON struct {
	ID      string       `json:"id"`
	Name    string       `json:"name"`
	Tenants []string     `json:"tenants"`
	Created time.Time    `json:"created"`
	Secrets []SecretJSON `json:"secrets"`
	// Keys are the public keys registered for private_key_jwt.
	Keys []KeyJSON `json:"keys,omitempty"`
	// JWKSURI is where more of the client's keys are fetched from.
	JWKSURI string `json:"jwks_uri,omitempty"`
	// Scopes are the SMART system scopes the client may be granted.
	Scopes []string `json:"scopes,omitempty"`
}

// KeyJSON is one registered public key.
type KeyJSON struct {
	KID       string          `json:"kid"`
	Alg       string          `json:"alg,omitempty"`
	Created   time.Time       `json:"created"`
	Revoked   bool            `json:"revoked"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
	JWK       json.RawMessage `json:"jwk"`
}

// AddKeysRequest is the body of POST /admin/api/clients/{id}/keys: a
// JWKS (or one JWK) as JSON, or public keys in PEM. Exactly one.
type AddKeysRequest struct {
	JWKS json.RawMessage `json:"jwks"`
	PEM  string          `json:"pem"`
}

// SetJWKSURIRequest is the body of PUT /admin/api/clients/{id}/jwks_uri;
// "" clears it.
type SetJWKSURIRequest struct {
	JWKSURI *string `json:"jwks_uri"`
}

// SetScopesRequest is the body of PUT /admin/api/clients/{id}/scopes; an
// empty list lifts the restriction.
type SetScopesRequest struct {
	Scopes []string `json:"scopes"`
}

// SecretJSON is a secret's metadata. Value is set only in the answer that
// creates the secret: it is the one time the plaintext is shown.
type SecretJSON struct {
	ID        string     `json:"id"`
	Hint      string     `json:"hint,omitempty"`
	Created   time.Time  `json:"created"`
	Expires   *time.Time `json:"expires"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Value     string     `json:"value,omitempty"`
}

// TenantJSON is a tenant as the API shows it.
type TenantJSON struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Patients int    `json:"patients"`
	Seed     int64  `json:"seed"`
	Upstream string `json:"upstream,omitempty"`
	Down     bool   `json:"down"`
}

// CreateClientRequest is the body of POST /admin/api/clients.
type CreateClientRequest struct {
	Name    string   `json:"name"`
	Tenants []string `json:"tenants"`
}

// CreateClientResponse answers POST /admin/api/clients: the client and its
// first secret, with the secret's Value shown this once.
type CreateClientResponse struct {
	Client ClientJSON `json:"client"`
	Secret SecretJSON `json:"secret"`
}

// SetTenantsRequest is the body of PUT /admin/api/clients/{id}/tenants.
type SetTenantsRequest struct {
	Tenants []string `json:"tenants"`
}

// AddSecretRequest is the optional body of POST
// /admin/api/clients/{id}/secrets.
type AddSecretRequest struct {
	Expires *time.Time `json:"expires"`
}

// CreateTenantRequest is the body of POST /admin/api/tenants. A synthetic
// tenant (no upstream) whose body leaves out patients or seed gets the
// server's tenant_defaults; a 0 that is sent is kept.
type CreateTenantRequest struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Patients int    `json:"patients"`
	Seed     int64  `json:"seed"`
	Upstream string `json:"upstream"`
	Down     bool   `json:"down"`
}

// PatchTenantRequest is the body of PATCH /admin/api/tenants/{id}: absent
// fields stay as they are. Setting patients or seed maps the tenant to its
// synthetic hospital (clearing upstream); a non-empty upstream maps it to
// that server, and cannot be combined with patients or seed.
type PatchTenantRequest struct {
	Name     *string `json:"name"`
	Patients *int    `json:"patients"`
	Seed     *int64  `json:"seed"`
	Upstream *string `json:"upstream"`
	Down     *bool   `json:"down"`
}

// ScenarioJSON is one scenario of the built-in library.
type ScenarioJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Active      bool   `json:"active"`
	Rules       int    `json:"rules"`
	Timeline    int    `json:"timeline"`
	Steps       int    `json:"steps"`
}

// ScenarioListJSON answers GET /admin/api/scenarios: the names switched
// on, in activation order (null when none), and the built-in library. A
// scenario switched on from posted YAML is in Active only.
type ScenarioListJSON struct {
	Active    []string       `json:"active"`
	Scenarios []ScenarioJSON `json:"scenarios"`
}

// ActivateScenarioRequest is the body of POST /admin/api/scenarios:
// exactly one of Name (a built-in scenario) and YAML (a scenario file).
type ActivateScenarioRequest struct {
	Name string `json:"name"`
	YAML string `json:"yaml"`
}

// ActiveScenariosJSON answers POST /admin/api/scenarios with the names
// switched on, in activation order.
type ActiveScenariosJSON struct {
	Active []string `json:"active"`
}

// ErrorJSON is every error answer of the API.
type ErrorJSON struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// ClientToJSON converts a client; digests are left out.
func ClientToJSON(c auth.Client) ClientJSON {
	out := ClientJSON{ID: c.ID, Name: c.Name, Tenants: c.Tenants, Created: c.Created, Secrets: make([]SecretJSON, 0, len(c.Secrets))}
	if out.Tenants == nil {
		out.Tenants = []string{}
	}
	for _, s := range c.Secrets {
		out.Secrets = append(out.Secrets, SecretToJSON(s))
	}
	for _, k := range c.Keys {
		out.Keys = append(out.Keys, KeyToJSON(k))
	}
	out.JWKSURI, out.Scopes = c.JWKSURI, c.Scopes
	return out
}

// KeyToJSON converts a registered public key.
func KeyToJSON(k auth.ClientKey) KeyJSON {
	out := KeyJSON{KID: k.KID, Alg: k.Alg, Created: k.Created, Revoked: k.Revoked}
	if k.Revoked {
		at := k.RevokedAt
		out.RevokedAt = &at
	}
	j := k.JWK()
	out.JWK, _ = j.MarshalJSON() // a registered key is a valid public key
	return out
}

// SecretToJSON converts a secret's metadata; the digest is left out.
func SecretToJSON(s auth.Secret) SecretJSON {
	out := SecretJSON{ID: s.ID, Hint: s.Hint, Created: s.Created, Expires: s.Expires, Revoked: s.Revoked}
	if s.Revoked {
		at := s.RevokedAt
		out.RevokedAt = &at
	}
	return out
}

// TenantToJSON converts a tenant.
func TenantToJSON(t tenant.Tenant) TenantJSON {
	return TenantJSON{ID: t.ID, Name: t.Name, Patients: t.Patients, Seed: t.Seed, Upstream: t.Upstream, Down: t.Down}
}
