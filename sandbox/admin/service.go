package admin

import (
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Service is everything an administrator can change. The admin API and
// the portal both call it; every change is persisted (when the sandbox
// runs with a state file) before the method returns, so an acknowledged
// change survives a crash. Secrets' plaintext is returned once, by
// CreateClient and AddSecret, and never again.
type Service interface {
	Clients() []auth.Client
	Client(id string) (auth.Client, bool)
	// CreateClient with no tenants creates a client of every tenant
	// (auth.AnyTenant).
	CreateClient(name string, tenants []string) (auth.Client, string, error)
	DeleteClient(id string) error
	SetClientTenants(id string, tenants []string) error
	AddSecret(clientID string, expires *time.Time) (auth.Secret, string, error)
	RevokeSecret(clientID, secretID string) error
	SetSecretExpiry(clientID, secretID string, expires *time.Time) error
	DeleteSecret(clientID, secretID string) error
	// AddClientKeys registers public keys (a JWKS, a JWK or PEM) for
	// private_key_jwt.
	AddClientKeys(clientID string, data []byte) ([]auth.ClientKey, error)
	RevokeClientKey(clientID, kid string) error
	DeleteClientKey(clientID, kid string) error
	// SetClientJWKSURI sets or ("") clears the client's jwks_uri.
	SetClientJWKSURI(clientID, uri string) error
	// SetClientScopes replaces the SMART system scopes the client may be
	// granted (empty: unrestricted).
	SetClientScopes(clientID string, scopes []string) error

	Tenants() []tenant.Tenant
	AddTenant(t tenant.Tenant) (tenant.Tenant, error)
	UpdateTenant(id string, fn func(*tenant.Tenant)) (tenant.Tenant, error)
	RemoveTenant(id string) error
}
