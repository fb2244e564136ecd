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
	// FHIRVersion is the default release: dstu2, stu3 or r4 (the names of
	// spec.Releases). Every release is always served under its own base
	// path (/dstu2, /stu3, /r4); this one is what the landing page and the
	// CLI default to.
	FHIRVersion string `yaml:"fhir_version"`
	// ReferenceDate is "today" for generated data, so output never depends
	// on the clock.
	ReferenceDate Date `yaml:"reference_date"`

	// Auth controls the token endpoint and bearer checks.
	Auth AuthConfig `yaml:"auth"`
	// Tenants are the Azure AD tenants (the tenant GUID is the scope of a
	// token request) and the hospital behind each. Giving this key
	// replaces the whole default list.
	Tenants []TenantConfig `yaml:"tenants"`
	// TenantDefaults are what a synthetic tenant added at run time (admin
	// API, `fhirsandbox tenants add`, the portal) gets when it names no
	// population or seed.
	TenantDefaults TenantDefaults `yaml:"tenant_defaults"`
	// Clients are the OAuth clients (app registrations) allowed to ask for
	// tokens with the client-credentials grant. Giving this key replaces
	// the whole default list.
	Clients []ClientConfig `yaml:"clients"`
	// Admin protects the admin API and portal.
	Admin AdminConfig `yaml:"admin"`
	// Limits bound what one request may cost.
	Limits LimitsConfig `yaml:"limits"`

	// StateFile, when set, is a journal that keeps clients, secrets, the
	// tenant map and written FHIR resources across restarts. Empty: all of
	// it lives in memory and a restart starts from this configuration.
	StateFile string `yaml:"state_file"`

	// Log is how serve writes its log on stderr (its --log-format and
	// --log-level flags override it).
	Log LogConfig `yaml:"log"`

	// ShutdownGrace is how long in-flight requests may run on after
	// SIGINT/SIGTERM before their connections are cut; the process then
	// exits 0 all the same (a stuck client must not turn a deliberate stop
	// into a failure). Streams (live request journals) end at once. 0s to
	// 10m.
	ShutdownGrace time.Duration `yaml:"shutdown_grace"`
}

// LogConfig is the log's format and level. Every request gets one line at
// info (error for a 5xx); secrets and tokens are never logged.
type LogConfig struct {
	// Format is "text" (key=value lines) or "json" (one JSON object per
	// line).
	Format string `yaml:"format"`
	// Level is the least severe level written: "debug", "info" (one line
	// per request), "warn" or "error".
	Level string `yaml:"level"`
}

// AuthConfig controls the token endpoint and bearer checks.
type AuthConfig struct {
	// Required false serves FHIR without tokens (the open-server preview
	// flow of the Patients app).
	Required bool `yaml:"required"`
	// TokenTTL is the lifetime of an issued access token, 1s to 24h.
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
	// ID is the Azure AD tenant GUID, the scope of a token request. Case
	// and {braces} do not matter: it is stored lower case, without them.
	ID string `yaml:"id"`
	// Name is the display name of the hospital (and of the Organization
	// the tenant's data names).
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
	// FixturesValidation is "error" (the default: a resource the release's
	// validator refuses fails the start) or "warn" (it is loaded and each
	// problem logged). See docs/fixtures.md.
	FixturesValidation string `yaml:"fixtures_validation,omitempty"`
}

// TenantDefaults are the population and seed of a tenant added to a
// running sandbox without them.
type TenantDefaults struct {
	// Patients is the synthetic population of a new tenant, 0..1,000,000.
	Patients int `yaml:"patients"`
	// Seed is the random seed of a new tenant's hospital (its GUID makes
	// its data differ from other tenants' with the same seed).
	Seed int64 `yaml:"seed"`
}

// FixtureConfig is one fixture path and, optionally, the release its
// files are in; without one the release is detected from the content
// (fhir.DetectRelease), else taken from the other files of the same
// directory or glob when they all tell one, else the config's
// fhir_version.
type FixtureConfig struct {
	// Path is a Bundle or NDJSON file, a directory or a glob, relative to
	// the config file.
	Path string `yaml:"path"`
	// FHIRVersion is the release of the files (a release name such as
	// stu3); empty: detected from the content.
	FHIRVersion string `yaml:"fhir_version,omitempty"`
}

// UpstreamAuth is how the sandbox authenticates to an upstream server:
// exactly one of the three forms.
type UpstreamAuth struct {
	// BearerToken is sent as "Authorization: Bearer" on every upstream
	// request.
	BearerToken string `yaml:"bearer_token,omitempty"`
	// Basic is an HTTP Basic user and password.
	Basic *BasicAuth `yaml:"basic,omitempty"`
	// ClientCredentials gets tokens from the upstream's own authorization
	// server and renews them before they expire.
	ClientCredentials *ClientCredentials `yaml:"client_credentials,omitempty"`
}

// BasicAuth is an HTTP Basic user and password.
type BasicAuth struct {
	// User is the Basic user name.
	User string `yaml:"user"`
	// Password is the Basic password.
	Password string `yaml:"password"`
}

// ClientCredentials is an OAuth2 client-credentials grant against the
// upstream's own authorization server.
type ClientCredentials struct {
	// TokenURL is the upstream's token endpoint.
	TokenURL string `yaml:"token_url"`
	// ClientID is the sandbox's client id there.
	ClientID string `yaml:"client_id"`
	// ClientSecret is the sandbox's client secret there.
	ClientSecret string `yaml:"client_secret"`
	// Scope, when set, is sent as the scope of the token request.
	Scope string `yaml:"scope,omitempty"`
}

// ClientConfig is an app registration allowed to ask for tokens.
type ClientConfig struct {
	// ID is the client_id of token requests: letters, digits, ".", "_"
	// and "-", at most 64 characters.
	ID string `yaml:"id"`
	// Name is a display name for the portal and the admin API.
	Name string `yaml:"name"`
	// Tenants the client may ask tokens for; "*" means every tenant.
	Tenants []string `yaml:"tenants"`
	// Secrets are the client's secrets; several may be live at once, each
	// with its own expiry.
	Secrets []SecretConfig `yaml:"secrets"`
	// JWKS are the client's public keys for private_key_jwt (SMART
	// Backend Services): a JSON Web Key Set written as YAML
	// ({keys: [{kty: RSA, kid: ..., n: ..., e: ...}]}), or a string holding
	// a JWKS in JSON or public keys in PEM. Public keys only: RSA of 2048
	// to 4096 bits or EC on P-256 or P-384, at most 16.
	JWKS JWKS `yaml:"jwks,omitempty"`
	// JWKSURI is where the client publishes its key set; it is fetched
	// when an assertion comes (5 s timeout, 64 KiB cap), cached for 5
	// minutes, and fetched again (at most every 10 s) when an assertion
	// names a kid the cached set lacks.
	JWKSURI string `yaml:"jwks_uri,omitempty"`
	// Scopes are the SMART system scopes the client may be granted, v1
	// (system/Patient.read) or v2 (system/Observation.rs?category=vital-signs).
	// Empty: the client is granted whatever scopes it asks for, and tokens
	// without system scopes are not restricted.
	Scopes []string `yaml:"scopes,omitempty"`
}

// JWKS is a client's public keys as configured: JSON (a JWKS or one JWK)
// or PEM bytes.
type JWKS []byte

// SecretConfig is one client secret, given either in clear (handy for
// development) or as the hex SHA-256 of the secret.
type SecretConfig struct {
	// Value is the secret in clear, 16 to 1024 characters.
	Value string `yaml:"value,omitempty"`
	// ValueSHA256 is the hex SHA-256 of the secret, instead of Value.
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
	// Token is the admin bearer credential, at least 16 characters; empty:
	// one is generated at start and printed once (FHIRSANDBOX_ADMIN_TOKEN
	// sets it too).
	Token string `yaml:"token"`
	// AllowRemote lets the admin API and portal answer requests that are
	// not from this machine (or that came through a tunnel such as ngrok).
	AllowRemote bool `yaml:"allow_remote"`
}

// LimitsConfig bounds what one request may cost.
type LimitsConfig struct {
	// MaxBodyBytes is the largest request body accepted (bytes, 1024 to
	// 67108864).
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxCount is the largest page a search returns; a bigger _count is
	// clamped to it.
	MaxCount int `yaml:"max_count"`
	// DefaultCount is the page size of a search without _count (1 to
	// max_count).
	DefaultCount int `yaml:"default_count"`
	// MaxBundleEntries is the most entries accepted in a batch Bundle.
	MaxBundleEntries int `yaml:"max_bundle_entries"`
	// MaxResponseBytes is the largest search or batch response (bytes,
	// 65536 to 1073741824): a bigger search is refused (400 too-costly);
	// batch entries past it answer an OperationOutcome too-costly instead
	// of their result.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// PatientCache is how many patients' generated records each tenant
	// keeps rendered per FHIR release (least recently used go first,
	// 1 to 1000000). Generated patients are derived on demand from the
	// seed, not stored: memory follows what is touched, not the
	// population. A cached patient costs about 55 KB once read and about
	// 120 KB once every one of its resources has been searched, so the
	// default of 2000 bounds a tenant's release at about 240 MB of heap
	// (and the process, garbage included, well under 2 GB under load).
	PatientCache int `yaml:"patient_cache"`
	// SearchCacheBytes bounds the rendered search responses each tenant
	// keeps per FHIR release (bytes, 0 to 1073741824; 0 turns the cache
	// off). A search asked again while the tenant's data is unchanged,
	// as a client polling a patient's chart asks it, is answered from
	// the cache with a new Bundle id and lastUpdated; a batch of
	// searches asked again byte for byte is answered whole from it the
	// same way. Any write to the tenant's data in that release empties
	// it. Searches under a SMART scope that restricts them are not
	// cached.
	SearchCacheBytes int `yaml:"search_cache_bytes"`
	// StoreGenerated renders and stores every generated resource at start
	// instead of deriving patients on demand: the behaviour before derived
	// records, kept to compare the two. Memory then grows with the
	// population (about 2.5 KB per resource).
	StoreGenerated bool `yaml:"store_generated"`
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
		Log:           LogConfig{Format: "text", Level: "info"},
		Auth: AuthConfig{
			Required:   true,
			TokenTTL:   time.Hour,
			SigningAlg: "RS256",
		},
		Tenants: []TenantConfig{
			{ID: ContosoTenant, Name: "Contoso General Hospital", Patients: 100, Seed: 42},
			{ID: FabrikamTenant, Name: "Fabrikam Community Clinic", Patients: 25, Seed: 7},
		},
		TenantDefaults: TenantDefaults{Patients: 100, Seed: 42},
		Clients: []ClientConfig{{
			ID:      DefaultClientID,
			Name:    "Teams Patients app (development)",
			Tenants: []string{"*"},
			Secrets: []SecretConfig{{
				Value:   DevSecret,
				Expires: time.Date(2027, time.December, 31, 0, 0, 0, 0, time.UTC),
			}},
		}},
		ShutdownGrace: 10 * time.Second,
		Limits: LimitsConfig{
			MaxBodyBytes:             1 << 20,
			MaxCount:                 100,
			DefaultCount:             20,
			MaxBundleEntries:         500,
			MaxResponseBytes:         spec.DefaultMaxResponseBytes,
			PatientCache:             2_000,
			SearchCacheBytes:         32 << 20,
			MaxInflightResponseBytes: 256 << 20,
			WriteChunkTimeout:        10 * time.Second,
		},
	}
}
