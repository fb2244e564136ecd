package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Limits that keep the registry's memory bounded whatever a portal user or
// a config file asks for.
const (
	MaxClients          = 10000
	MaxSecretsPerClient = 32
	MaxTenantsPerClient = 1000
	maxIDLen            = 128
	secretBytes         = 32 // 256 bits: high entropy, so SHA-256 suffices
)

// AnyTenant in a client's Tenants allows every known tenant.
const AnyTenant = "*"

// Registry errors. Every authentication failure matches ErrInvalidClient.
var (
	ErrInvalidClient = errors.New("invalid client credentials")
	ErrUnknownClient = fmt.Errorf("%w: unknown client", ErrInvalidClient)
	ErrWrongSecret   = fmt.Errorf("%w: no secret of the client matches", ErrInvalidClient)
	ErrSecretExpired = fmt.Errorf("%w: client secret expired", ErrInvalidClient)
	ErrSecretRevoked = fmt.Errorf("%w: client secret revoked", ErrInvalidClient)
	ErrNoClient      = errors.New("no such client")
	ErrNoSecret      = errors.New("no such secret")
	ErrTooMany       = errors.New("limit reached")
)

// Client is a registered OAuth client. Values returned by the Registry are
// copies: changing them changes nothing.
type Client struct {
	ID      string
	Name    string
	Tenants []string // canonical GUIDs, or AnyTenant
	Created time.Time
	Secrets []Secret
	// Keys are the public keys registered inline for private_key_jwt.
	Keys []ClientKey
	// JWKSURI, when set, is where more of the client's public keys are
	// fetched from.
	JWKSURI string
	// Scopes are the SMART system scopes the client may be granted;
	// empty: whatever it asks for (see smartscope).
	Scopes []string
}

// Allows reports whether the client may ask for tokens of the canonical
// tenant GUID g.
func (c *Client) Allows(g string) bool {
	for _, t := range c.Tenants {
		if t == AnyTenant || t == g {
			return true
		}
	}
	return false
}

// Secret is one client secret. Only its digest is kept: the plaintext is
// returned once, when the secret is made.
type Secret struct {
	ID        string
	Digest    [32]byte // SHA-256 of the plaintext
	Hint      string   // last 4 characters of the plaintext, for UIs
	Created   time.Time
	Expires   *time.Time // nil: never
	Revoked   bool
	RevokedAt time.Time
}

// Live reports whether the secret can authenticate at time now. A secret
// expires at the instant Expires: from then on it is rejected.
func (s *Secret) Live(now time.Time) bool {
	return !s.Revoked && (s.Expires == nil || now.Before(*s.Expires))
}

// ClientSpec seeds a client from configuration.
type ClientSpec struct {
	ID      string
	Name    string
	Tenants []string
	Secrets []SecretSpec
	// JWKS is the client's public keys: a JWKS, a JWK or PEM (see
	// ParsePublicKeys). Empty: none.
	JWKS []byte
	// JWKSURI is where the client's key set is fetched from.
	JWKSURI string
	// Scopes are the SMART system scopes the client may be granted.
	Scopes []string
}

// SecretSpec seeds one secret: either its plaintext Value or the hex
// SHA-256 of it (ValueSHA256), so config files need not hold plaintext.
type SecretSpec struct {
	ID          string // optional; generated when empty
	Value       string
	ValueSHA256 string
	Expires     *time.Time
}

// Registry holds clients and their secrets. It is safe for concurrent use.
type Registry struct {
	now  func() time.Time
	rand io.Reader

	mu      sync.RWMutex
	clients map[string]*Client
}

// NewRegistry returns an empty registry. now and rand must be non-nil;
// rand must be safe for concurrent use (wrap it otherwise).
func NewRegistry(now func() time.Time, rand io.Reader) *Registry {
	return &Registry{now: now, rand: rand, clients: make(map[string]*Client)}
}

func (r *Registry) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r.rand, b); err != nil {
		return nil, fmt.Errorf("read random: %w", err)
	}
	return b, nil
}

// newClientID returns a random version 4 UUID, the shape Azure AD gives
// application ids.
func (r *Registry) newClientID() (string, error) {
	b, err := r.randomBytes(16)
	if err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

func (r *Registry) newSecretID() (string, error) {
	b, err := r.randomBytes(4)
	if err != nil {
		return "", err
	}
	return "sec_" + hex.EncodeToString(b), nil
}

func newSecret(id, plaintext string, digest [32]byte, created time.Time, expires *time.Time) Secret {
	s := Secret{ID: id, Digest: digest, Created: created, Expires: copyTime(expires)}
	if len(plaintext) >= 4 {
		s.Hint = plaintext[len(plaintext)-4:]
	}
	return s
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

func (c *Client) clone() Client {
	out := *c
	out.Tenants = slices.Clone(c.Tenants)
	out.Secrets = slices.Clone(c.Secrets)
	out.Keys = slices.Clone(c.Keys)
	out.Scopes = slices.Clone(c.Scopes)
	for i := range out.Secrets {
		out.Secrets[i].Expires = copyTime(out.Secrets[i].Expires)
	}
	return out
}

// validID accepts URL-unreserved characters only, so an id survives
// form-encoding, Basic auth, URLs and HTML unchanged.
func validID(id string) error {
	if id == "" || len(id) > maxIDLen {
		return fmt.Errorf("id %q: want 1 to %d characters", truncate(id), maxIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return fmt.Errorf("id %q: only letters, digits and - . _ ~ are allowed", truncate(id))
		}
	}
	return nil
}

func validName(name string) error {
	if name == "" || len(name) > spec.MaxNameLen || !utf8.ValidString(name) {
		return fmt.Errorf("client name: want 1 to %d bytes of UTF-8", spec.MaxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("client name: control characters are not allowed")
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// canonicalTenants canonicalises each GUID through spec.ParseGUID and
// drops duplicates.
func canonicalTenants(in []string) ([]string, error) {
	if len(in) > MaxTenantsPerClient {
		return nil, fmt.Errorf("%w: at most %d tenants per client", ErrTooMany, MaxTenantsPerClient)
	}
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t == AnyTenant {
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
			continue
		}
		g, err := spec.ParseGUID(t)
		if err != nil {
			return nil, fmt.Errorf("tenant %q: %w", truncate(t), err)
		}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	return out, nil
}

// CreateClient registers a client with a generated id and one secret,
// returned in plaintext this once.
func (r *Registry) CreateClient(name string, tenants []string) (Client, string, error) {
	if err := validName(name); err != nil {
		return Client{}, "", err
	}
	ts, err := canonicalTenants(tenants)
	if err != nil {
		return Client{}, "", err
	}
	id, err := r.newClientID()
	if err != nil {
		return Client{}, "", err
	}
	sec, plain, err := r.makeSecret(nil)
	if err != nil {
		return Client{}, "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.clients) >= MaxClients {
		return Client{}, "", fmt.Errorf("%w: at most %d clients", ErrTooMany, MaxClients)
	}
	if _, dup := r.clients[id]; dup {
		return Client{}, "", fmt.Errorf("client id %s already exists", id)
	}
	c := &Client{ID: id, Name: name, Tenants: ts, Created: r.now(), Secrets: []Secret{sec}}
	c.Secrets[0].Created = c.Created
	r.clients[id] = c
	return c.clone(), plain, nil
}

func (r *Registry) makeSecret(expires *time.Time) (Secret, string, error) {
	b, err := r.randomBytes(secretBytes)
	if err != nil {
		return Secret{}, "", err
	}
	plain := base64.RawURLEncoding.EncodeToString(b)
	id, err := r.newSecretID()
	if err != nil {
		return Secret{}, "", err
	}
	return newSecret(id, plain, sha256.Sum256([]byte(plain)), time.Time{}, expires), plain, nil
}

// Client returns a copy of the client with the given id.
func (r *Registry) Client(id string) (Client, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[id]
	if !ok {
		return Client{}, false
	}
	return c.clone(), true
}

// Clients returns copies of every client, sorted by id.
func (r *Registry) Clients() []Client {
	r.mu.RLock()
	out := make([]Client, 0, len(r.clients))
	for _, c := range r.clients {
		out = append(out, c.clone())
	}
	r.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// DeleteClient removes a client. Its tokens stop verifying at once.
func (r *Registry) DeleteClient(id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.clients[id]; !ok {
		return fmt.Errorf("delete client %q: %w", truncate(id), ErrNoClient)
	}
	delete(r.clients, id)
	return nil
}

// SetTenants replaces the tenants a client may ask tokens for. Tokens of a
// tenant no longer allowed stop verifying.
func (r *Registry) SetTenants(clientID string, tenants []string) error {
	ts, err := canonicalTenants(tenants)
	if err != nil {
		return err
	}
	return r.withClient("set tenants of", clientID, func(c *Client) { c.Tenants = ts })
}

// withClient applies change to a client under the registry's lock; what
// names the change in the error when there is no such client.
func (r *Registry) withClient(what, clientID string, change func(*Client)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return fmt.Errorf("%s %q: %w", what, truncate(clientID), ErrNoClient)
	}
	change(c)
	return nil
}

// AddSecret makes a new secret for the client, live at once, and returns
// its plaintext this once. The client's other secrets stay as they are:
// rotation is AddSecret now, RevokeSecret (or an expiry) on the old one
// once every caller has switched.
func (r *Registry) AddSecret(clientID string, expires *time.Time) (Secret, string, error) {
	sec, plain, err := r.makeSecret(expires)
	if err != nil {
		return Secret{}, "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return Secret{}, "", fmt.Errorf("add secret to %q: %w", truncate(clientID), ErrNoClient)
	}
	if len(c.Secrets) >= MaxSecretsPerClient {
		return Secret{}, "", fmt.Errorf("%w: at most %d secrets per client (delete an old one)", ErrTooMany, MaxSecretsPerClient)
	}
	for _, s := range c.Secrets {
		if s.ID == sec.ID {
			return Secret{}, "", fmt.Errorf("secret id %s already exists", sec.ID)
		}
	}
	sec.Created = r.now()
	c.Secrets = append(c.Secrets, sec)
	out := sec
	out.Expires = copyTime(sec.Expires)
	return out, plain, nil
}

func (r *Registry) withSecret(op, clientID, secretID string, f func(*Secret)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return fmt.Errorf("%s: client %q: %w", op, truncate(clientID), ErrNoClient)
	}
	for i := range c.Secrets {
		if c.Secrets[i].ID == secretID {
			f(&c.Secrets[i])
			return nil
		}
	}
	return fmt.Errorf("%s: secret %q: %w", op, truncate(secretID), ErrNoSecret)
}

// RevokeSecret invalidates a secret at once; it stays listed (revoked)
// until deleted.
func (r *Registry) RevokeSecret(clientID, secretID string) error {
	now := r.now()
	return r.withSecret("revoke secret", clientID, secretID, func(s *Secret) {
		if !s.Revoked {
			s.Revoked, s.RevokedAt = true, now
		}
	})
}

// SetSecretExpiry sets (or, with nil, clears) a secret's expiry. A time in
// the past expires the secret at once: this is how scenarios play an
// expired secret.
func (r *Registry) SetSecretExpiry(clientID, secretID string, expires *time.Time) error {
	return r.withSecret("set secret expiry", clientID, secretID, func(s *Secret) {
		s.Expires = copyTime(expires)
	})
}

// DeleteSecret removes a secret from the client.
func (r *Registry) DeleteSecret(clientID, secretID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.clients[clientID]
	if !ok {
		return fmt.Errorf("delete secret: client %q: %w", truncate(clientID), ErrNoClient)
	}
	i := slices.IndexFunc(c.Secrets, func(s Secret) bool { return s.ID == secretID })
	if i < 0 {
		return fmt.Errorf("delete secret: secret %q: %w", truncate(secretID), ErrNoSecret)
	}
	c.Secrets = slices.Delete(c.Secrets, i, i+1)
	return nil
}

// Authenticate checks a client id and plaintext secret. The presented
// secret is hashed once and its digest compared in constant time with
// every secret of the client (live or not), so the time taken does not
// tell which secret matched or whether one did; an unknown client is
// compared against a decoy. Errors all match ErrInvalidClient; an
// expired or revoked secret gets ErrSecretExpired or ErrSecretRevoked
// (only a caller who knows the secret can learn that).
func (r *Registry) Authenticate(clientID, secret string) (*Client, *Secret, error) {
	d := sha256.Sum256([]byte(secret))
	now := r.now()
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[clientID]
	if !ok {
		// A decoy stands in for the unknown client's secrets so that this
		// path does the same hashing and comparing work.
		var decoy [32]byte
		subtle.ConstantTimeCompare(d[:], decoy[:])
		return nil, nil, ErrUnknownClient
	}
	match := -1
	for i := range c.Secrets {
		if subtle.ConstantTimeCompare(d[:], c.Secrets[i].Digest[:]) == 1 && match < 0 {
			match = i
		}
	}
	if match < 0 {
		return nil, nil, ErrWrongSecret
	}
	s := c.Secrets[match]
	switch {
	case s.Revoked:
		return nil, nil, ErrSecretRevoked
	case !s.Live(now):
		return nil, nil, ErrSecretExpired
	}
	cc := c.clone()
	return &cc, &cc.Secrets[match], nil
}

// secretLive reports whether the client exists and, when secretID is not
// empty, whether that secret of it still exists and is live at now.
func (r *Registry) secretLive(clientID, secretID string, now time.Time) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[clientID]
	if !ok {
		return false
	}
	for i := range c.Secrets {
		if c.Secrets[i].ID == secretID {
			return c.Secrets[i].Live(now)
		}
	}
	return false
}

// clientAllows reports whether the client exists and may use tenant g.
func (r *Registry) clientAllows(clientID, g string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.clients[clientID]
	return ok && c.Allows(g)
}

// Seed adds clients from configuration. Every problem is reported at once
// (errors.Join) and, if there is any, nothing is added.
func (r *Registry) Seed(specs []ClientSpec) error {
	now := r.now()
	var errs []error
	var made []*Client
	seen := map[string]bool{}
	for i, sp := range specs {
		c, err := r.fromSpec(sp, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("clients[%d]: %w", i, err))
			continue
		}
		if seen[c.ID] {
			errs = append(errs, fmt.Errorf("clients[%d]: duplicate client id %q", i, c.ID))
			continue
		}
		seen[c.ID] = true
		made = append(made, c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range made {
		if _, dup := r.clients[c.ID]; dup {
			errs = append(errs, fmt.Errorf("client id %q already registered", c.ID))
		}
	}
	if len(r.clients)+len(made) > MaxClients {
		errs = append(errs, fmt.Errorf("%w: at most %d clients", ErrTooMany, MaxClients))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, c := range made {
		r.clients[c.ID] = c
	}
	return nil
}

func (r *Registry) fromSpec(sp ClientSpec, now time.Time) (*Client, error) {
	var errs []error
	if err := validID(sp.ID); err != nil {
		errs = append(errs, fmt.Errorf("client %w", err))
	}
	name := sp.Name
	if name == "" {
		name = sp.ID
	}
	if err := validName(name); err != nil {
		errs = append(errs, err)
	}
	ts, err := canonicalTenants(sp.Tenants)
	if err != nil {
		errs = append(errs, err)
	}
	if len(sp.Secrets) > MaxSecretsPerClient {
		errs = append(errs, fmt.Errorf("%w: at most %d secrets per client", ErrTooMany, MaxSecretsPerClient))
	}
	c := &Client{ID: sp.ID, Name: name, Tenants: ts, Created: now, JWKSURI: sp.JWKSURI}
	if len(bytes.TrimSpace(sp.JWKS)) > 0 {
		keys, err := ParsePublicKeys(sp.JWKS)
		if err != nil {
			errs = append(errs, fmt.Errorf("jwks: %w", err))
		}
		for i := range keys {
			keys[i].Created = now
		}
		c.Keys = keys
	}
	if err := CheckJWKSURI(sp.JWKSURI); err != nil {
		errs = append(errs, err)
	}
	if c.Scopes, err = CanonicalScopes(sp.Scopes); err != nil {
		errs = append(errs, fmt.Errorf("scopes: %w", err))
	}
	for j, ss := range sp.Secrets {
		s, err := r.secretFromSpec(ss, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("secrets[%d]: %w", j, err))
			continue
		}
		if slices.ContainsFunc(c.Secrets, func(o Secret) bool { return o.ID == s.ID }) {
			errs = append(errs, fmt.Errorf("secrets[%d]: duplicate secret id %q", j, s.ID))
			continue
		}
		c.Secrets = append(c.Secrets, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

func (r *Registry) secretFromSpec(ss SecretSpec, now time.Time) (Secret, error) {
	id := ss.ID
	if id == "" {
		var err error
		if id, err = r.newSecretID(); err != nil {
			return Secret{}, err
		}
	} else if err := validID(id); err != nil {
		return Secret{}, fmt.Errorf("secret %w", err)
	}
	switch {
	case ss.Value != "" && ss.ValueSHA256 != "":
		return Secret{}, errors.New("give value or value_sha256, not both")
	case ss.Value != "":
		if len(ss.Value) < 16 || len(ss.Value) > maxSecretLen {
			return Secret{}, fmt.Errorf("secret value: want 16 to %d characters", maxSecretLen)
		}
		return newSecret(id, ss.Value, sha256.Sum256([]byte(ss.Value)), now, ss.Expires), nil
	case ss.ValueSHA256 != "":
		d, err := parseDigest(ss.ValueSHA256)
		if err != nil {
			return Secret{}, err
		}
		return newSecret(id, "", d, now, ss.Expires), nil
	default:
		return Secret{}, errors.New("secret needs value or value_sha256")
	}
}

func parseDigest(h string) ([32]byte, error) {
	var d [32]byte
	if len(h) != 64 {
		return d, errors.New("sha256: want 64 hex digits")
	}
	if _, err := hex.Decode(d[:], []byte(h)); err != nil {
		return d, fmt.Errorf("sha256: %w", err)
	}
	return d, nil
}

// State is the registry's persistent form: digests only, never plaintext.
type State struct {
	Clients []ClientState `json:"clients"`
}

// ClientState is one client in State.
type ClientState struct {
	ID      string        `json:"id"`
	Name    string        `json:"name"`
	Tenants []string      `json:"tenants"`
	Created time.Time     `json:"created"`
	Secrets []SecretState `json:"secrets"`
	Keys    []KeyState    `json:"keys,omitempty"`
	JWKSURI string        `json:"jwks_uri,omitempty"`
	Scopes  []string      `json:"scopes,omitempty"`
}

// SecretState is one secret in State.
type SecretState struct {
	ID        string     `json:"id"`
	SHA256    string     `json:"sha256"`
	Hint      string     `json:"hint,omitempty"`
	Created   time.Time  `json:"created"`
	Expires   *time.Time `json:"expires,omitempty"`
	Revoked   bool       `json:"revoked,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Snapshot returns the registry's state, clients sorted by id.
func (r *Registry) Snapshot() State {
	cs := r.Clients()
	st := State{Clients: make([]ClientState, 0, len(cs))}
	for _, c := range cs {
		cst := ClientState{ID: c.ID, Name: c.Name, Tenants: c.Tenants, Created: c.Created, Secrets: make([]SecretState, 0, len(c.Secrets))}
		if cst.Tenants == nil {
			cst.Tenants = []string{}
		}
		for _, s := range c.Secrets {
			ss := SecretState{ID: s.ID, SHA256: hex.EncodeToString(s.Digest[:]), Hint: s.Hint, Created: s.Created, Expires: s.Expires, Revoked: s.Revoked}
			if s.Revoked {
				at := s.RevokedAt
				ss.RevokedAt = &at
			}
			cst.Secrets = append(cst.Secrets, ss)
		}
		for _, k := range c.Keys {
			ks, err := keyToState(k)
			if err != nil {
				continue // keys are checked when registered: cannot happen
			}
			cst.Keys = append(cst.Keys, ks)
		}
		cst.JWKSURI, cst.Scopes = c.JWKSURI, c.Scopes
		st.Clients = append(st.Clients, cst)
	}
	return st
}

// Restore replaces the registry's contents with st. st is validated as a
// whole first: on any problem (all are reported) nothing changes.
func (r *Registry) Restore(st State) error {
	var errs []error
	next := make(map[string]*Client, len(st.Clients))
	if len(st.Clients) > MaxClients {
		return fmt.Errorf("%w: at most %d clients", ErrTooMany, MaxClients)
	}
	for i, cs := range st.Clients {
		var cerrs []error
		if err := validID(cs.ID); err != nil {
			cerrs = append(cerrs, fmt.Errorf("client %w", err))
		} else if _, dup := next[cs.ID]; dup {
			cerrs = append(cerrs, fmt.Errorf("duplicate client id %q", cs.ID))
		}
		if err := validName(cs.Name); err != nil {
			cerrs = append(cerrs, err)
		}
		ts, err := canonicalTenants(cs.Tenants)
		if err != nil {
			cerrs = append(cerrs, err)
		}
		if len(cs.Secrets) > MaxSecretsPerClient {
			cerrs = append(cerrs, fmt.Errorf("%w: at most %d secrets per client", ErrTooMany, MaxSecretsPerClient))
		}
		c := &Client{ID: cs.ID, Name: cs.Name, Tenants: ts, Created: cs.Created, JWKSURI: cs.JWKSURI}
		if err := CheckJWKSURI(cs.JWKSURI); err != nil {
			cerrs = append(cerrs, err)
		}
		if c.Scopes, err = CanonicalScopes(cs.Scopes); err != nil {
			cerrs = append(cerrs, fmt.Errorf("scopes: %w", err))
		}
		if len(cs.Keys) > MaxKeysPerClient {
			cerrs = append(cerrs, fmt.Errorf("%w: at most %d keys per client", ErrTooMany, MaxKeysPerClient))
		}
		for j, ks := range cs.Keys {
			k, err := keyFromState(ks)
			if err != nil {
				cerrs = append(cerrs, fmt.Errorf("keys[%d]: %w", j, err))
				continue
			}
			if slices.ContainsFunc(c.Keys, func(o ClientKey) bool { return o.KID == k.KID }) {
				cerrs = append(cerrs, fmt.Errorf("keys[%d]: duplicate kid %q", j, k.KID))
				continue
			}
			c.Keys = append(c.Keys, k)
		}
		for j, ss := range cs.Secrets {
			if err := validID(ss.ID); err != nil {
				cerrs = append(cerrs, fmt.Errorf("secrets[%d]: secret %w", j, err))
				continue
			}
			if slices.ContainsFunc(c.Secrets, func(o Secret) bool { return o.ID == ss.ID }) {
				cerrs = append(cerrs, fmt.Errorf("secrets[%d]: duplicate secret id %q", j, ss.ID))
				continue
			}
			d, err := parseDigest(ss.SHA256)
			if err != nil {
				cerrs = append(cerrs, fmt.Errorf("secrets[%d]: %w", j, err))
				continue
			}
			if len(ss.Hint) > 4 {
				cerrs = append(cerrs, fmt.Errorf("secrets[%d]: hint longer than 4 characters", j))
				continue
			}
			s := Secret{ID: ss.ID, Digest: d, Hint: ss.Hint, Created: ss.Created, Expires: copyTime(ss.Expires), Revoked: ss.Revoked}
			if ss.Revoked && ss.RevokedAt != nil {
				s.RevokedAt = *ss.RevokedAt
			}
			c.Secrets = append(c.Secrets, s)
		}
		if len(cerrs) > 0 {
			errs = append(errs, fmt.Errorf("clients[%d]: %w", i, errors.Join(cerrs...)))
			continue
		}
		next[c.ID] = c
	}
	if len(errs) > 0 {
		return fmt.Errorf("restore: %w", errors.Join(errs...))
	}
	r.mu.Lock()
	r.clients = next
	r.mu.Unlock()
	return nil
}
