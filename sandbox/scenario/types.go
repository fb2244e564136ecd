package scenario

import (
	"regexp"
	"time"
)

// Scenario is one parsed and validated scenario file.
type Scenario struct {
	Name        string
	Description string
	// File is the name the scenario was loaded under (for messages).
	File string

	Setup    *Setup
	Rules    []Rule
	Timeline []Event
	Steps    []Step
	Journal  *JournalExpect
}

// Setup overrides parts of the sandbox configuration for an in-process run
// of the scenario. Nil pointers and empty slices leave the configuration
// alone.
type Setup struct {
	Tenants []SetupTenant
	// Patients resizes every local tenant's population.
	Patients     *int
	FHIRVersion  string
	AuthRequired *bool
	TokenTTL     *time.Duration
	Clients      []SetupClient
}

// SetupTenant adds or replaces a tenant.
type SetupTenant struct {
	ID       string
	Name     string
	Patients int
	Seed     int64
}

// SetupClient adds or replaces a client registration.
type SetupClient struct {
	ID      string
	Name    string
	Tenants []string
	Secrets []SetupSecret
}

// SetupSecret is one client secret in clear. ExpiresIn, when set, is
// counted from the start of the scenario; Expires is an absolute time.
type SetupSecret struct {
	Value     string
	Expires   time.Time
	ExpiresIn time.Duration
}

// Match selects requests. Empty fields match everything.
type Match struct {
	Method string
	// Path is a glob: "*" matches within one path segment, "**" and a
	// final "*" match across segments.
	Path string
	// ResourceTypes matches any of the listed FHIR types (the type is the
	// first capitalised segment of the path, e.g. /stu3/Observation/1).
	ResourceTypes []string
	// Query maps a parameter to a required value, or "*" for present with
	// any value.
	Query    map[string]string
	Tenant   string
	ClientID string
	// Header maps a header name to a required value, or "*" for present.
	Header map[string]string
}

// Rule is a matcher and the effects applied to the requests it selects.
type Rule struct {
	Name string
	Line int

	Match   Match
	Latency *Latency
	Respond *Respond
	Fault   *Fault
	Quirks  []Quirk

	// Probability is the chance an otherwise selected request is affected
	// (1 unless given).
	Probability float64
	Count       *CountWindow
	Window      *TimeWindow
}

// Latency is a delay before the request is answered: exactly one of the
// three distributions.
type Latency struct {
	Fixed   time.Duration
	Uniform *UniformLatency
	LogNorm *LogNormalLatency
}

// UniformLatency draws uniformly from [Min, Max].
type UniformLatency struct{ Min, Max time.Duration }

// LogNormalLatency draws from a log-normal distribution with the given
// median and shape: a long tail like real EHR response times.
type LogNormalLatency struct {
	Median time.Duration
	Sigma  float64
}

// Respond replaces the response of the server with a canned one.
type Respond struct {
	Status  int
	Body    []byte
	Headers map[string]string
	// Outcome, when the rule gave operation_outcome, is the issue to
	// answer with. The engine has it written by EngineOptions.Outcome, in
	// the shape and media type of the FHIR release the request is for;
	// Body holds a release-neutral rendering for when no writer is set.
	Outcome *Outcome
}

// Outcome is the one issue of an injected OperationOutcome.
type Outcome struct {
	Severity, Code, Diagnostics string
}

// Fault kinds.
const (
	FaultConnectionReset = "connection_reset"
	FaultEmptyResponse   = "empty_response"
	FaultTruncatedBody   = "truncated_body"
	FaultMalformedJSON   = "malformed_json"
	FaultSlowDribble     = "slow_dribble"
	FaultHang            = "hang"
)

// Fault is a transport-level failure.
type Fault struct {
	Kind string
	// BytesPerSecond is the rate of slow_dribble.
	BytesPerSecond int
}

// Quirk kinds.
const (
	QuirkDropOptional     = "drop_optional"
	QuirkSloppyDates      = "sloppy_dates"
	QuirkDSTU2ShapeInSTU3 = "dstu2_shape_in_stu3"
	QuirkWrongTotal       = "wrong_total"
	QuirkBrokenNextLink   = "broken_next_link"
	QuirkIgnoreCount      = "ignore_count"
	QuirkCategoryAsObject = "category_as_object"
	QuirkCategoryAsArray  = "category_as_array"
)

// Quirk is a rewrite of the JSON the server answers (or, for ignore_count,
// of the request it receives), the way sloppy partners get FHIR wrong.
type Quirk struct {
	Kind string
	// Fields of drop_optional: "element" (any resource) or
	// "Type.element.sub" paths.
	Fields []string
	// wrong_total: an absolute value, or a delta to the true total.
	Total    *int
	Delta    int
	HasDelta bool
	// broken_next_link: "dangling" (default, points nowhere) or "loop"
	// (points back at the same page).
	Mode string
}

// CountWindow selects the From-th to To-th match (1-based, To 0 means no
// end), every Every-th one inside it. With only Every given, From defaults
// to Every ("every 4th": 4, 8, 12...).
type CountWindow struct{ From, To, Every int }

// TimeWindow is a span since activation; Until 0 means no end.
type TimeWindow struct{ After, Until time.Duration }

// Event is one timeline entry: At a time since activation, or after the
// AfterRequests-th request (matching Match, when given) of one client.
type Event struct {
	Line          int
	At            *time.Duration
	AfterRequests int
	Match         *Match
	Action        Action
}

// Action kinds.
const (
	ActionExpireSecret     = "expire_secret"
	ActionRevokeSecret     = "revoke_secret"
	ActionDeleteClient     = "delete_client"
	ActionRotateSigningKey = "rotate_signing_key"
	ActionRevokeTokens     = "revoke_tokens"
	ActionSetTokenTTL      = "set_token_ttl"
	ActionUnmapTenant      = "unmap_tenant"
	ActionTenantDown       = "tenant_down"
	ActionMetadata         = "metadata"
	ActionSetScopes        = "set_scopes"
)

// Action is what a timeline event does. ClientID empty means the client
// whose request fired the event, or the engine's default client for time
// events.
type Action struct {
	Kind       string
	ClientID   string
	KeepNewest bool
	RetireOld  bool
	TTL        time.Duration
	Tenant     string
	Down       bool
	Metadata   MetadataDrift
	// Scopes are the client's new allowed SMART system scopes (set_scopes).
	Scopes []string
}

// Step is one scripted client request (or token request) with what the
// client should observe.
type Step struct {
	Name     string
	Line     int
	Request  *StepRequest
	GetToken *GetToken
	Expect   Expect
	// Capture stores values of the response JSON in variables for ${var}
	// substitution in later steps.
	Capture map[string]string
	// Repeat runs the request this many times, each checked (1 unless
	// given).
	Repeat int
	// Wait is slept (or the clock advanced) before the request.
	Wait time.Duration
}

// Auth modes of a step request.
const (
	AuthNone  = "none"
	AuthToken = "token"
	AuthBasic = "basic"
)

// StepRequest is an HTTP request relative to the sandbox base URL.
type StepRequest struct {
	Method  string
	Path    string
	Query   [][2]string
	Form    [][2]string
	JSON    []byte
	Headers map[string]string
	// Auth is none, token (the last token obtained; the default when one
	// exists) or basic (client id and secret).
	Auth string
}

// GetToken is a client-credentials token request; the token is stored in
// the variable "token". Empty fields take the run's client, secret and
// tenant.
type GetToken struct {
	ClientID     string
	ClientSecret string
	Tenant       string
	// Scope is more space-separated scopes besides the tenant (SMART
	// system scopes).
	Scope string
	// Assertion, when set, authenticates with a signed client assertion
	// (private_key_jwt) instead of the secret.
	Assertion *AssertionSpec
}

// AssertionSpec shapes a client assertion, so that a scenario can send
// the mistakes clients make. Zero fields take the correct value.
type AssertionSpec struct {
	// Audience replaces the aud (default: the token URL).
	Audience string
	// ExpIn is exp relative to now (default 4m; negative: already expired).
	ExpIn *time.Duration
	// IatIn, when set, is iat relative to now (positive: a clock ahead).
	IatIn *time.Duration
	// JTI fixes the jti (default: a fresh one per assertion), to replay one.
	JTI string
	// KID replaces the kid the assertion names (default: the key's).
	KID string
	// Key picks the signing key: "" the run's key, "rotated" a new key
	// that replaces it at the client's JWKS URL (in-process runs only).
	Key string
}

// Assertion keys.
const AssertionKeyRotated = "rotated"

// AssertionRequest is what a runner asks its Signer to sign.
type AssertionRequest struct {
	ClientID, Audience, JTI, KID, Key string
	IssuedAt                          *time.Time
	Expiry                            time.Time
}

// Expect lists what the response must show.
type Expect struct {
	// Status is one or more acceptable status codes.
	Status        []int
	Headers       map[string]*regexp.Regexp
	JSON          []JSONExpect
	ResourceCount *int
	MaxMS         int
	MinMS         int
	// Error, when set, expects the request to fail in transport (reset,
	// empty reply, truncated body) with an error matching it.
	Error *regexp.Regexp
	// JSONValid, when set, expects the body to parse as JSON (true) or not
	// (false).
	JSONValid *bool
}

// JSON expectation operators.
const (
	OpExists   = "exists"
	OpAbsent   = "absent"
	OpEq       = "eq"
	OpContains = "contains"
	OpGt       = "gt"
	OpLt       = "lt"
	OpLen      = "len"
)

// JSONExpect checks the value at a dotted path ("entry.0.resource.id" or
// "entry[0].resource.id") of the response JSON.
type JSONExpect struct {
	Path  string
	Op    string
	Value any // decoded JSON value (string, float64, bool, nil, map, slice)
}

// JournalExpect checks the journal of the requests made during a run.
type JournalExpect struct {
	// TokenRequestsMax is the most token requests allowed (nil: no check).
	TokenRequestsMax *int
	// MaxRPS is the most requests allowed in any one-second window.
	MaxRPS float64
	// HonouredRetryAfter requires no request before a Retry-After elapsed.
	HonouredRetryAfter bool
}

// MetadataDrift changes what the metadata (CapabilityStatement) advertises.
type MetadataDrift struct {
	TokenURL      string
	DropOAuthURIs bool
	FHIRVersion   string
}

// Controls is how timeline actions reach the server: each method uses the
// real mechanism (an expired secret is an expiry date set on the secret).
type Controls interface {
	ExpireSecrets(clientID string, at time.Time) error
	RevokeSecrets(clientID string, keepNewest bool) error
	DeleteClient(clientID string) error
	RotateSigningKey(retireOld bool) error
	RevokeIssuedTokens() error
	SetTokenTTL(d time.Duration) error
	UnmapTenant(id string) error
	SetTenantDown(id string, down bool) error
	SetMetadataDrift(d MetadataDrift)
	// SetClientScopes replaces the SMART system scopes a client may be
	// granted: the partner narrows (or widens) what the client may read.
	SetClientScopes(clientID string, scopes []string) error
}
