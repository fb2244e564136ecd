package admin

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Kinds passed to Options.Persist: which registry changed.
const (
	KindClients = "clients"
	KindTenants = "tenants"
)

// Limits on what an administrator may ask for.
const (
	MaxUpstreamLen = 2048
)

// Errors of the Service, matched with errors.Is. The admin API maps them
// to HTTP statuses: ErrInvalid 400, ErrNotFound 404, ErrConflict 409,
// ErrPersist 503.
var (
	ErrInvalid  = errors.New("invalid input")
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrPersist  = errors.New("change not persisted")
)

// Options configure an Impl.
type Options struct {
	Clients *auth.Registry   // required
	Tenants *tenant.Registry // required
	// Persist, when set, makes the change of the given kind (KindClients
	// or KindTenants) durable; it is called after every successful change,
	// with no other admin change in between. When it fails, the change is
	// undone and the method returns an error matching ErrPersist.
	Persist func(kind string) error
}

// Impl is the Service over the sandbox's client and tenant registries.
// Its changes are serialised, so each Persist call sees exactly the change
// it follows.
type Impl struct {
	clients *auth.Registry
	tenants *tenant.Registry
	persist func(string) error

	mu sync.Mutex // serialises changes and their Persist calls
}

var _ Service = (*Impl)(nil)

// New returns the Service over o's registries.
func New(o Options) *Impl {
	p := o.Persist
	if p == nil {
		p = func(string) error { return nil }
	}
	return &Impl{clients: o.Clients, tenants: o.Tenants, persist: p}
}

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// classify gives a registry error its Service meaning.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, auth.ErrBadKey):
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	case errors.Is(err, auth.ErrNoClient), errors.Is(err, auth.ErrNoSecret), errors.Is(err, auth.ErrNoKey), errors.Is(err, tenant.ErrUnknown):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case errors.Is(err, auth.ErrTooMany), errors.Is(err, tenant.ErrDuplicate):
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// commitClients persists a client change or, when that fails, puts the
// registry back as it was before.
func (s *Impl) commitClients(before auth.State) error {
	if err := s.persist(KindClients); err != nil {
		if rerr := s.clients.Restore(before); rerr != nil {
			return fmt.Errorf("%w: %w (and undoing it failed: %w)", ErrPersist, err, rerr)
		}
		return fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return nil
}

// checkTenants canonicalises a client's tenant list and requires every
// GUID to be a known tenant (or auth.AnyTenant).
func (s *Impl) checkTenants(in []string) ([]string, error) {
	if len(in) > auth.MaxTenantsPerClient {
		return nil, invalidf("at most %d tenants per client", auth.MaxTenantsPerClient)
	}
	out := make([]string, 0, len(in))
	for _, t := range in {
		if t == auth.AnyTenant {
			out = append(out, t)
			continue
		}
		g, err := spec.ParseGUID(t)
		if err != nil {
			return nil, invalidf("tenant %q: %v", short(t), err)
		}
		if !s.tenants.Known(g) {
			return nil, invalidf("tenant %s is not a known tenant (add it first)", g)
		}
		out = append(out, g)
	}
	return out, nil
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

// Clients returns every client, sorted by id.
func (s *Impl) Clients() []auth.Client { return s.clients.Clients() }

// Client returns one client.
func (s *Impl) Client(id string) (auth.Client, bool) { return s.clients.Client(id) }

// CreateClient registers a client and returns its first secret's plaintext.
// A client created without tenants may ask tokens for every tenant
// (auth.AnyTenant), the documented default: the CLI, the portal and the
// JSON API all come through here, so they agree. (A client that could get
// no token at all is never what was meant; narrow it afterwards with
// SetClientTenants.)
func (s *Impl) CreateClient(name string, tenants []string) (auth.Client, string, error) {
	if err := checkName(name); err != nil {
		return auth.Client{}, "", err
	}
	if len(tenants) == 0 {
		tenants = []string{auth.AnyTenant}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.checkTenants(tenants)
	if err != nil {
		return auth.Client{}, "", err
	}
	before := s.clients.Snapshot()
	c, plain, err := s.clients.CreateClient(name, ts)
	if err != nil {
		return auth.Client{}, "", classify(err)
	}
	if err := s.commitClients(before); err != nil {
		return auth.Client{}, "", err
	}
	return c, plain, nil
}

// DeleteClient removes a client.
func (s *Impl) DeleteClient(id string) error {
	return s.changeClients(func() error { return s.clients.DeleteClient(id) })
}

// SetClientTenants replaces a client's tenants.
func (s *Impl) SetClientTenants(id string, tenants []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.checkTenants(tenants)
	if err != nil {
		return err
	}
	return s.changeClientsLocked(func() error { return s.clients.SetTenants(id, ts) })
}

// AddSecret makes a new secret and returns its plaintext, once.
func (s *Impl) AddSecret(clientID string, expires *time.Time) (auth.Secret, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.clients.Snapshot()
	sec, plain, err := s.clients.AddSecret(clientID, expires)
	if err != nil {
		return auth.Secret{}, "", classify(err)
	}
	if err := s.commitClients(before); err != nil {
		return auth.Secret{}, "", err
	}
	return sec, plain, nil
}

// RevokeSecret invalidates a secret at once.
func (s *Impl) RevokeSecret(clientID, secretID string) error {
	return s.changeClients(func() error { return s.clients.RevokeSecret(clientID, secretID) })
}

// SetSecretExpiry sets or (nil) clears a secret's expiry.
func (s *Impl) SetSecretExpiry(clientID, secretID string, expires *time.Time) error {
	return s.changeClients(func() error { return s.clients.SetSecretExpiry(clientID, secretID, expires) })
}

// DeleteSecret removes a secret.
func (s *Impl) DeleteSecret(clientID, secretID string) error {
	return s.changeClients(func() error { return s.clients.DeleteSecret(clientID, secretID) })
}

// AddClientKeys registers public keys for private_key_jwt.
func (s *Impl) AddClientKeys(clientID string, data []byte) ([]auth.ClientKey, error) {
	var keys []auth.ClientKey
	err := s.changeClients(func() error {
		var err error
		keys, err = s.clients.AddKeys(clientID, data)
		return err
	})
	return keys, err
}

// RevokeClientKey stops a key from authenticating at once.
func (s *Impl) RevokeClientKey(clientID, kid string) error {
	return s.changeClients(func() error { return s.clients.RevokeKey(clientID, kid) })
}

// DeleteClientKey removes a key.
func (s *Impl) DeleteClientKey(clientID, kid string) error {
	return s.changeClients(func() error { return s.clients.DeleteKey(clientID, kid) })
}

// SetClientJWKSURI sets or clears the client's jwks_uri.
func (s *Impl) SetClientJWKSURI(clientID, uri string) error {
	if err := auth.CheckJWKSURI(uri); err != nil {
		return invalidf("%v", err)
	}
	return s.changeClients(func() error { return s.clients.SetJWKSURI(clientID, uri) })
}

// SetClientScopes replaces the client's allowed SMART system scopes.
func (s *Impl) SetClientScopes(clientID string, scopes []string) error {
	if _, err := auth.CanonicalScopes(scopes); err != nil {
		return invalidf("%v", err)
	}
	return s.changeClients(func() error { return s.clients.SetScopes(clientID, scopes) })
}

func (s *Impl) changeClients(f func() error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changeClientsLocked(f)
}

func (s *Impl) changeClientsLocked(f func() error) error {
	before := s.clients.Snapshot()
	if err := f(); err != nil {
		return classify(err)
	}
	return s.commitClients(before)
}

// Tenants returns the tenants in the order they were added.
func (s *Impl) Tenants() []tenant.Tenant { return s.tenants.List() }

// AddTenant maps a new tenant. Fixtures name files on the server and
// come from the configuration only, never from the admin surface.
func (s *Impl) AddTenant(t tenant.Tenant) (tenant.Tenant, error) {
	id, err := spec.ParseGUID(t.ID)
	if err != nil {
		return tenant.Tenant{}, invalidf("tenant id %q: %v", short(t.ID), err)
	}
	t.ID = id
	if len(t.Fixtures) > 0 {
		return tenant.Tenant{}, invalidf("fixtures can only be set in the configuration file")
	}
	if err := CheckTenant(t); err != nil {
		return tenant.Tenant{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.tenants.Add(t)
	if err != nil {
		return tenant.Tenant{}, classify(err)
	}
	if err := s.persist(KindTenants); err != nil {
		if rerr := s.tenants.Remove(id); rerr != nil {
			return tenant.Tenant{}, fmt.Errorf("%w: %w (and undoing it failed: %w)", ErrPersist, err, rerr)
		}
		return tenant.Tenant{}, fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return out, nil
}

// UpdateTenant changes a tenant with fn, applied to a copy; the result is
// checked (CheckTenant) before it replaces the tenant. fn cannot change the
// id or the fixtures. Changing the population or seed rebuilds the
// tenant's data (see tenant.Registry.Update).
func (s *Impl) UpdateTenant(id string, fn func(*tenant.Tenant)) (tenant.Tenant, error) {
	if fn == nil {
		return tenant.Tenant{}, invalidf("no change given")
	}
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return tenant.Tenant{}, fmt.Errorf("%w: tenant %q: %w", ErrNotFound, short(id), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var old tenant.Tenant
	var verr error
	out, err := s.tenants.Update(cid, func(t *tenant.Tenant) {
		old = *t
		next := *t
		next.Fixtures = t.Fixtures
		fn(&next)
		next.ID, next.Fixtures = t.ID, t.Fixtures
		if verr = CheckTenant(next); verr == nil {
			*t = next
		}
	})
	if err != nil {
		return tenant.Tenant{}, classify(err)
	}
	if verr != nil {
		return tenant.Tenant{}, verr
	}
	if err := s.persist(KindTenants); err != nil {
		if _, rerr := s.tenants.Update(cid, func(t *tenant.Tenant) { *t = old }); rerr != nil {
			return tenant.Tenant{}, fmt.Errorf("%w: %w (and undoing it failed: %w)", ErrPersist, err, rerr)
		}
		return tenant.Tenant{}, fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return out, nil
}

// RemoveTenant unmaps a tenant. A tenant still named by a client is not
// removed (ErrConflict): the client's tenants are changed first, so no
// client is left pointing at a tenant that does not exist.
func (s *Impl) RemoveTenant(id string) error {
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return fmt.Errorf("%w: tenant %q: %w", ErrNotFound, short(id), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.tenants.Get(cid)
	if !ok {
		return fmt.Errorf("%w: %s: %w", ErrNotFound, cid, tenant.ErrUnknown)
	}
	var users []string
	for _, c := range s.clients.Clients() {
		for _, t := range c.Tenants {
			if t == cid {
				users = append(users, c.ID)
			}
		}
	}
	if len(users) > 0 {
		if len(users) > 5 {
			users = append(users[:5], "...")
		}
		return fmt.Errorf("%w: tenant %s is used by client(s) %s; change their tenants first", ErrConflict, cid, strings.Join(users, ", "))
	}
	if err := s.tenants.Remove(cid); err != nil {
		return classify(err)
	}
	if err := s.persist(KindTenants); err != nil {
		// The tenant comes back at the end of the list, with its data
		// rebuilt on next use.
		if _, rerr := s.tenants.Add(old); rerr != nil {
			return fmt.Errorf("%w: %w (and undoing it failed: %w)", ErrPersist, err, rerr)
		}
		return fmt.Errorf("%w: %w", ErrPersist, err)
	}
	return nil
}

// CheckTenant validates what an administrator may set on a tenant: a name
// of at most MaxNameLen bytes without control characters, 0 to MaxPatients
// patients, and an upstream that is empty or an absolute http(s) URL
// without credentials, query or fragment.
func CheckTenant(t tenant.Tenant) error {
	if t.Name != "" {
		if err := checkName(t.Name); err != nil {
			return err
		}
	}
	if t.Patients < 0 || t.Patients > spec.MaxPatients {
		return invalidf("patients %d is out of range (want 0 to %d)", t.Patients, spec.MaxPatients)
	}
	if t.Upstream != "" {
		if err := CheckUpstream(t.Upstream); err != nil {
			return err
		}
	}
	return nil
}

// CheckUpstream validates an upstream FHIR base URL.
func CheckUpstream(u string) error {
	if len(u) > MaxUpstreamLen {
		return invalidf("upstream: longer than %d characters", MaxUpstreamLen)
	}
	p, err := url.Parse(u)
	if err != nil {
		return invalidf("upstream: not a URL")
	}
	switch {
	case p.Scheme != "http" && p.Scheme != "https":
		return invalidf("upstream %q: want an http or https URL", short(u))
	case p.Host == "" || p.Hostname() == "":
		return invalidf("upstream %q: no host", short(u))
	case p.User != nil:
		return invalidf("upstream: credentials in the URL are not allowed (configure upstream_auth instead)")
	case p.RawQuery != "" || p.ForceQuery || p.Fragment != "":
		return invalidf("upstream %q: a FHIR base URL has no query or fragment", short(u))
	}
	return nil
}

func checkName(name string) error {
	if name == "" || len(name) > spec.MaxNameLen || !utf8.ValidString(name) {
		return invalidf("name: want 1 to %d bytes of UTF-8", spec.MaxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalidf("name: control characters are not allowed")
		}
	}
	return nil
}
