package auth

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Token lifetimes.
const (
	DefaultTTL = time.Hour
	MinTTL     = time.Second
	MaxTTL     = 24 * time.Hour
)

// Options configure an Authority. TenantKnown and Base are required.
type Options struct {
	// Alg is RS256 (default) or ES256. With KeyPEM it must match the key
	// (or be empty: the key decides).
	Alg string
	// KeyPEM is a PEM private key (PKCS#1, PKCS#8 or SEC 1). Empty: a key
	// is generated at start, and tokens die with the process.
	KeyPEM []byte
	// TTL is the access token lifetime (default DefaultTTL).
	TTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the randomness for ids and secrets (default crypto/rand).
	// It need not be safe for concurrent use: the Authority serialises it.
	Rand io.Reader
	// TenantKnown reports whether a canonical tenant GUID is configured.
	TenantKnown func(guid string) bool
	// Base returns the public base URL for a request: the iss and aud of
	// the tokens it mints and checks.
	Base func(*http.Request) string
	// RemoteAddr names the caller for throttling (default: the host of
	// r.RemoteAddr). Behind a trusted proxy, return the forwarded address;
	// return "" when the address does not stand for one caller (failures
	// then count per client id only).
	RemoteAddr func(*http.Request) string
	// OnAuthenticated, when set, is told each client the Authority
	// verified for a request: a form endpoint's client authentication that
	// succeeded, or a bearer token that passed Verify. Middleware running
	// ahead of authentication (scenarios) learns from it which identity it
	// may trust.
	OnAuthenticated func(r *http.Request, clientID string)
	// RevokeTokensOnSecretInvalidation: see the package documentation.
	RevokeTokensOnSecretInvalidation bool
	// Throttle bounds repeated authentication failures.
	Throttle ThrottleOptions
	// TokenPath is the token endpoint's path under the base URL (default
	// "/token"): base + TokenPath is the aud a client assertion must name.
	TokenPath string
	// JWKSFetch configures fetching clients' jwks_uri key sets.
	JWKSFetch JWKSFetchOptions
	// Clients are seeded into the registry.
	Clients []ClientSpec
	// Log receives authentication failures and throttling decisions
	// (client ids and addresses, never secrets). Default: discard.
	Log *slog.Logger
}

// Authority is the authorization server: the client registry, the signing
// keys, the token, introspection, revocation and JWKS endpoints, and the
// bearer middleware. It is safe for concurrent use.
type Authority struct {
	reg            *Registry
	keys           *keyRing
	now            func() time.Time
	rand           io.Reader
	tenantKnown    func(string) bool
	base           func(*http.Request) string
	remoteAddr     func(*http.Request) string
	onAuth         func(*http.Request, string)
	revokeOnSecret bool
	throttle       *throttle
	log            *slog.Logger
	tokenPath      string
	jwks           *jwksCache
	replay         replayCache // jtis of accepted client assertions

	// verified caches the signature checks of recent tokens (raw token ->
	// its claims and kid), so a client presenting the same token on every
	// request pays for the crypto once; claims and live state are checked
	// on every use all the same.
	verified verifiedCache
	gen      atomic.Uint64 // generation of the last token minted

	mu      sync.RWMutex
	ttl     time.Duration
	maxTTL  time.Duration        // longest TTL ever used: bounds revocation entries
	revoked map[string]time.Time // jti -> when the entry may be forgotten
	minGen  uint64               // tokens of an earlier generation are revoked
	// persistRevocation makes a revocation durable (SetRevocationHook)
	persistRevocation func(Revocation) error
}

// lockedReader serialises reads so that an injected io.Reader that is not
// safe for concurrent use (a seeded math/rand source) can be shared.
type lockedReader struct {
	mu sync.Mutex
	r  io.Reader
}

func (l *lockedReader) Read(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Read(p)
}

// New builds an Authority.
func New(o Options) (*Authority, error) {
	var errs []error
	if o.TenantKnown == nil {
		errs = append(errs, errors.New("auth: Options.TenantKnown is required"))
	}
	if o.Base == nil {
		errs = append(errs, errors.New("auth: Options.Base is required"))
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if err := checkTTL(o.TTL); err != nil {
		errs = append(errs, err)
	}
	th, err := newThrottle(o.Throttle)
	if err != nil {
		errs = append(errs, err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	jc, err := newJWKSCache(o.JWKSFetch, o.Now)
	if err != nil {
		errs = append(errs, err)
	}
	if o.TokenPath == "" {
		o.TokenPath = "/token"
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = crand.Reader
	}
	rnd := &lockedReader{r: o.Rand}
	if o.RemoteAddr == nil {
		o.RemoteAddr = hostOf
	}
	if o.OnAuthenticated == nil {
		o.OnAuthenticated = func(*http.Request, string) {}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	keys, err := newKeyRing(o.Alg, o.KeyPEM, rnd)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	reg := NewRegistry(o.Now, rnd)
	if err := reg.Seed(o.Clients); err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a := &Authority{
		reg: reg, keys: keys, now: o.Now, rand: rnd,
		tenantKnown: o.TenantKnown, base: o.Base, remoteAddr: o.RemoteAddr,
		onAuth:         o.OnAuthenticated,
		revokeOnSecret: o.RevokeTokensOnSecretInvalidation,
		throttle:       th, log: o.Log,
		tokenPath: o.TokenPath, jwks: jc,
		ttl: o.TTL, maxTTL: o.TTL, revoked: make(map[string]time.Time),
	}
	// generations count on from the clock, so a token of an earlier run
	// (restored revocations, see RestoreRevocations) is always of an
	// earlier generation than one minted now
	a.gen.Store(uint64(max(0, o.Now().UnixNano())))
	return a, nil
}

func hostOf(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func checkTTL(d time.Duration) error {
	if d < MinTTL || d > MaxTTL {
		return fmt.Errorf("auth: token ttl %s out of range [%s, %s]", d, MinTTL, MaxTTL)
	}
	return nil
}

// Registry returns the client registry.
func (a *Authority) Registry() *Registry { return a.reg }

// TTL returns the lifetime of newly minted tokens.
func (a *Authority) TTL() time.Duration {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.ttl
}

// SetTTL changes the lifetime of tokens minted from now on.
func (a *Authority) SetTTL(d time.Duration) error {
	if err := checkTTL(d); err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ttl = d
	a.maxTTL = max(a.maxTTL, d)
	return nil
}

// RotateKey makes a new signing key active and returns its kid. The
// previous key stays published, so its tokens verify until RetireKey.
func (a *Authority) RotateKey() (string, error) { return a.keys.rotate() }

// RetireKey unpublishes a key that is no longer active: tokens it signed
// fail at once.
func (a *Authority) RetireKey(kid string) error { return a.keys.retire(kid) }

// Keys returns the published key ids, oldest first, and the active one.
func (a *Authority) Keys() (published []string, active string) { return a.keys.kids() }

// maxRevoked bounds the revocation list. Entries leave it when the
// tokens they name could no longer verify anyway.
const maxRevoked = 1 << 20

// Revocation is one revocation as a state file keeps it: of the token
// with this JTI, or (MinGen > 0) of every token of an earlier generation
// (RevokeAllIssued). Until is when the entry may be forgotten: every
// token it names has expired by then.
type Revocation struct {
	JTI    string    `json:"jti,omitempty"`
	MinGen uint64    `json:"min_gen,omitempty"`
	Until  time.Time `json:"until"`
}

// SetRevocationHook installs the function told of every revocation once
// it applies (a state journal making it durable). When it fails the
// revocation still applies in this process, and the revoking call fails
// with an error matching ErrRevocationNotPersisted, since a restart would
// forget it.
func (a *Authority) SetRevocationHook(fn func(Revocation) error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.persistRevocation = fn
}

// ErrRevocationNotPersisted: see SetRevocationHook.
var ErrRevocationNotPersisted = errors.New("revocation not persisted")

// RestoreRevocations applies revocations kept from an earlier run; those
// past their Until are dropped.
func (a *Authority) RestoreRevocations(rs []Revocation) {
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range rs {
		if !now.Before(r.Until) {
			continue
		}
		if r.MinGen > 0 {
			a.minGen = max(a.minGen, r.MinGen)
			// tokens minted from now on must stay valid
			for {
				g := a.gen.Load()
				if g >= r.MinGen || a.gen.CompareAndSwap(g, r.MinGen) {
					break
				}
			}
			continue
		}
		if r.JTI != "" && len(a.revoked) < maxRevoked {
			a.revoked[r.JTI] = r.Until
		}
	}
}

// RevokeToken rejects the token with this jti from now on.
func (a *Authority) RevokeToken(jti string) error {
	if jti == "" || len(jti) > 256 {
		return errors.New("revoke token: bad jti")
	}
	now := a.now()
	a.mu.Lock()
	until := now.Add(a.maxTTL + 2*Leeway)
	if len(a.revoked) >= maxRevoked {
		for j, t := range a.revoked {
			if !now.Before(t) {
				delete(a.revoked, j)
			}
		}
		if len(a.revoked) >= maxRevoked {
			a.mu.Unlock()
			return fmt.Errorf("revoke token: %w: %d revocations outstanding", ErrTooMany, maxRevoked)
		}
	}
	a.revoked[jti] = until
	persist := a.persistRevocation
	a.mu.Unlock()
	return a.persistRev(persist, Revocation{JTI: jti, Until: until})
}

func (a *Authority) persistRev(persist func(Revocation) error, r Revocation) error {
	if persist == nil {
		return nil
	}
	if err := persist(r); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationNotPersisted, err)
	}
	return nil
}

// RevokeAllIssued revokes every token issued so far: the "revoke all
// issued tokens" switch of an incident. Tokens carry a generation number
// (gen) for it, so a token issued a moment later, even within the same
// second, stays valid.
func (a *Authority) RevokeAllIssued() error {
	a.mu.Lock()
	a.minGen = a.gen.Load() + 1
	r := Revocation{MinGen: a.minGen, Until: a.now().Add(a.maxTTL + 2*Leeway)}
	persist := a.persistRevocation
	a.mu.Unlock()
	return a.persistRev(persist, r)
}

func (a *Authority) revokedGeneration(gen uint64) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return gen < a.minGen
}

func (a *Authority) isRevoked(jti string) bool {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, ok := a.revoked[jti]
	return ok
}
