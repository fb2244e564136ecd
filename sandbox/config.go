package sandbox

import (
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Config is the whole sandbox configuration. Its zero value is not useful:
// start from DefaultConfig and lay a file (LoadConfig), environment and flags
// over it, in that order of increasing precedence.
type Config struct {
	// Listen is the HOST:PORT the server binds; port 0 picks a free port.
	Listen string `yaml:"listen"`
	// PublicURL is the address clients reach the sandbox at (for example an
	// ngrok URL). Empty: derived per request from X-Forwarded-* or Host.
	PublicURL string `yaml:"public_url"`
	// TrustedProxies are the CIDRs of reverse proxies whose X-Forwarded-For
	// names the real caller (the token endpoint throttles per caller
	// address). Empty: X-Forwarded-For is ignored and the TCP peer is the
	// caller, except that a loopback peer is not throttled by address,
	// since behind a local tunnel it stands for every caller at once.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// FHIRVersion is the default release (a name from spec.Releases);
	// every release is always served under its own base path.
	FHIRVersion string `yaml:"fhir_version"`
	// ReferenceDate is "today" for generated data, so output never depends
	// on the clock.
	ReferenceDate Date `yaml:"reference_date"`

	Auth    AuthConfig     `yaml:"auth"`
	Tenants []TenantConfig `yaml:"tenants"`
	Clients []ClientConfig `yaml:"clients"`
	Admin   AdminConfig    `yaml:"admin"`
	Limits  LimitsConfig   `yaml:"limits"`

	// StateFile, when set, is a journal that keeps clients, secrets, the
	// tenant map and written FHIR resources across restarts. Empty: all of
	// it lives in memory and a restart starts from this configuration.
	StateFile string `yaml:"state_file"`

	// ShutdownGrace is how long in-flight requests may run on after
	// SIGINT/SIGTERM before their connections are cut; the process then
	// exits 0 all the same (a stuck client must not turn a deliberate stop
	// into a failure). Streams (live request journals) end at once.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// AuthConfig controls the token endpoint and bearer checks.
type AuthConfig struct {
	// Required false serves FHIR without tokens (the open-server preview
	// flow of the Patients app).
	Required bool `yaml:"required"`
	// TokenTTL is the lifetime of an issued access token.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// SigningAlg is RS256 or ES256.
	SigningAlg string `yaml:"signing_alg"`
	// SigningKeyFile is a PEM private key; empty: a key is generated at start.
	SigningKeyFile string `yaml:"signing_key_file"`
	// RevokeTokensOnSecretInvalidation makes tokens minted with a secret
	// invalid as soon as that secret is invalidated, instead of at their exp.
	RevokeTokensOnSecretInvalidation bool `yaml:"revoke_tokens_on_secret_invalidation"`
}

// TenantConfig is one Azure AD tenant and the hospital behind it: either a
// local synthetic population (Patients, Seed, Fixtures) or a real FHIR
// server (Upstream).
type TenantConfig struct {
	// ID is the tenant GUID, canonical (lower case, no braces) once loaded.
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Patients is the synthetic population size, 0..1,000,000.
	Patients int `yaml:"patients"`
	// Seed fixes every generated value together with ID and ReferenceDate.
	Seed int64 `yaml:"seed"`
	// Upstream is the base URL of a real FHIR server to proxy to instead.
	Upstream     string        `yaml:"upstream,omitempty"`
	UpstreamAuth *UpstreamAuth `yaml:"upstream_auth,omitempty"`
	// Fixtures are Bundle or NDJSON files, directories or globs loaded
	// into the tenant at start; relative paths are relative to the config
	// file. Each is written as a path or as {path, fhir_version}.
	Fixtures []FixtureConfig `yaml:"fixtures,omitempty"`
	// FixturesValidation is "error" (the default: an invalid resource
	// fails the start) or "warn" (it is loaded and each problem logged).
	FixturesValidation string `yaml:"fixtures_validation,omitempty"`
}

// FixtureConfig is one fixture path and, optionally, the release its
// files are in; without one the release is detected from the content
// (fhir.DetectRelease), and is the config's fhir_version when that
// cannot tell.
type FixtureConfig struct {
	Path        string `yaml:"path"`
	FHIRVersion string `yaml:"fhir_version,omitempty"`
}

// UpstreamAuth is how the sandbox authenticates to an upstream server:
// exactly one of the three forms.
type UpstreamAuth struct {
	BearerToken       string             `yaml:"bearer_token,omitempty"`
	Basic             *BasicAuth         `yaml:"basic,omitempty"`
	ClientCredentials *ClientCredentials `yaml:"client_credentials,omitempty"`
}

// BasicAuth is an HTTP Basic user and password.
type BasicAuth struct {
	User     string `yaml:"user"`
	Password string `yaml:"password"`
}

// ClientCredentials is an OAuth2 client-credentials grant against the
// upstream's own authorization server.
type ClientCredentials struct {
	TokenURL     string `yaml:"token_url"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	Scope        string `yaml:"scope,omitempty"`
}

// ClientConfig is an app registration allowed to ask for tokens.
type ClientConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
	// Tenants the client may ask tokens for; "*" means every tenant.
	Tenants []string       `yaml:"tenants"`
	Secrets []SecretConfig `yaml:"secrets"`
}

// SecretConfig is one client secret, given either in clear (handy for
// development) or as the hex SHA-256 of the secret.
type SecretConfig struct {
	Value       string `yaml:"value,omitempty"`
	ValueSHA256 string `yaml:"value_sha256,omitempty"`
	// Expires is when the secret stops working; zero: never.
	Expires time.Time `yaml:"expires,omitempty"`
}

// Digest returns the SHA-256 of the secret, the only form the server keeps.
// It assumes a validated config: exactly one of Value and ValueSHA256 set.
func (s SecretConfig) Digest() [sha256.Size]byte {
	if s.Value != "" {
		return sha256.Sum256([]byte(s.Value))
	}
	var d [sha256.Size]byte
	_, _ = hex.Decode(d[:], []byte(s.ValueSHA256))
	return d
}

// AdminConfig protects the admin API and portal.
type AdminConfig struct {
	// Token is the admin bearer credential; empty: one is generated at start
	// and printed once.
	Token string `yaml:"token"`
	// AllowRemote lets the admin API and portal answer requests that are
	// not from this machine (or that came through a tunnel such as ngrok).
	AllowRemote bool `yaml:"allow_remote"`
}

// LimitsConfig bounds what one request may cost.
type LimitsConfig struct {
	MaxBodyBytes     int64 `yaml:"max_body_bytes"`
	MaxCount         int   `yaml:"max_count"`
	DefaultCount     int   `yaml:"default_count"`
	MaxBundleEntries int   `yaml:"max_bundle_entries"`
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// MaxInflightResponseBytes bounds the bytes of all responses being
	// written to clients at once, across the server (at least
	// max_response_bytes, at most 16 GiB). A response that would go over
	// it is not sent: the client gets 503 with Retry-After (an
	// OperationOutcome on the FHIR bases, a JSON error elsewhere).
	MaxInflightResponseBytes int64 `yaml:"max_inflight_response_bytes"`
	// WriteChunkTimeout is how long a client may take to accept each
	// 64 KiB of a response (1s to 2m): a client reading slower than
	// 64 KiB per WriteChunkTimeout has its connection cut, and the
	// response's memory and in-flight budget are released at once
	// rather than after the 2-minute write timeout.
	WriteChunkTimeout time.Duration `yaml:"write_chunk_timeout"`
}

// Date is a calendar date (YYYY-MM-DD) at midnight UTC.
type Date struct{ time.Time }

// NewDate returns midnight UTC of the given day.
func NewDate(year int, month time.Month, day int) Date {
	return Date{time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}
}

// String formats the date as YYYY-MM-DD.
func (d Date) String() string { return d.Format(time.DateOnly) }

// MarshalYAML writes the date as YYYY-MM-DD.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// Default tenant and client values; exported so tests and docs name the
// same ones the default config uses.
const (
	ContosoTenant   = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	FabrikamTenant  = "7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d"
	DefaultClientID = "teams-patients-app"
)

// DefaultConfig returns the configuration used when no file is given. It is
// documented, key by key, in sandbox.yaml at the repository root, and a test
// keeps the two identical.
func DefaultConfig() Config {
	return Config{
		Listen:        "127.0.0.1:8080",
		PublicURL:     "",
		FHIRVersion:   spec.Default().Name,
		ReferenceDate: NewDate(2026, time.January, 1),
		Auth: AuthConfig{
			Required:   true,
			TokenTTL:   time.Hour,
			SigningAlg: "RS256",
		},
		Tenants: []TenantConfig{
			{ID: ContosoTenant, Name: "Contoso General Hospital", Patients: 100, Seed: 42},
			{ID: FabrikamTenant, Name: "Fabrikam Community Clinic", Patients: 25, Seed: 7},
		},
		Clients: []ClientConfig{{
			ID:      DefaultClientID,
			Name:    "Teams Patients app (development)",
			Tenants: []string{"*"},
			Secrets: []SecretConfig{{
				Value:   "change-me-dev-secret",
				Expires: time.Date(2027, time.December, 31, 0, 0, 0, 0, time.UTC),
			}},
		}},
		ShutdownGrace: 10 * time.Second,
		Limits: LimitsConfig{
			MaxBodyBytes:     1 << 20,
			MaxCount:         100,
			DefaultCount:     20,
			MaxBundleEntries: 500,
			MaxResponseBytes: spec.DefaultMaxResponseBytes,

			MaxInflightResponseBytes: 256 << 20,
			WriteChunkTimeout:        10 * time.Second,
		},
	}
}
