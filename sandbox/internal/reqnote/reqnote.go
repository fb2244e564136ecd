// Package reqnote is the one request-scoped record of what the layers of
// the request path learned about a request: its id, who sent it (as
// claimed, and as verified), which route served it, the scenario faults
// applied to it and why a token request was refused. The outermost
// middleware creates it; inner layers (the bearer check, the token
// endpoint, the scenario engine, the mux) fill it in; the log line, the
// metrics and the request journal read the same facts from it, so no layer
// re-parses a token another one already checked.
package reqnote

import (
	"context"
	"slices"
	"sync"
)

// Fault is one scenario effect applied to a request, for the metrics.
type Fault struct {
	Scenario string
	Rule     string
	// Effect is "latency", "respond", "fault" or "quirk".
	Effect string
}

// Note is the request-scoped record. ID is set before the note is shared
// and never changes; every other field is behind the mutex (a handler may
// run work on other goroutines).
type Note struct {
	ID string

	mu             sync.Mutex
	tenant, client string
	identified     bool
	authTenant     string
	authClient     string
	verified       []string
	verifiedBuf    [2]string // verified's first backing array, inside the note
	applied        []string
	faults         []Fault
	refusal        string
	route          string
	claims         any
}

type key struct{}

// With returns ctx carrying n.
func With(ctx context.Context, n *Note) context.Context {
	return context.WithValue(ctx, key{}, n)
}

// Context is a context carrying a note, what With returns, as a value a
// caller can keep inside something it allocates anyway: one allocation
// per request fewer. Set it up with Init before use.
type Context struct {
	context.Context
	note *Note
}

// Init makes c carry n on top of parent.
func (c *Context) Init(parent context.Context, n *Note) {
	c.Context, c.note = parent, n
}

// Value is the note for its key, else the parent's value.
func (c *Context) Value(k any) any {
	if _, ok := k.(key); ok {
		return c.note
	}
	return c.Context.Value(k)
}

// From returns the note in ctx, or nil.
func From(ctx context.Context) *Note {
	n, _ := ctx.Value(key{}).(*Note)
	return n
}

// Identity is the request's tenant and client as identified (possibly
// from unverified input); ok is false until someone identified it.
func (n *Note) Identity() (tenant, client string, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.tenant, n.client, n.identified
}

// SetIdentity records the request's tenant and client.
func (n *Note) SetIdentity(tenant, client string) {
	n.mu.Lock()
	n.tenant, n.client, n.identified = tenant, client, true
	n.mu.Unlock()
}

// Authenticated records that the server verified client (and, when not
// empty, tenant) for this request: a bearer token whose signature and
// claims checked out, or a token request with a right secret. A verified
// identity is also the request's identity unless one was already set.
func (n *Note) Authenticated(tenant, client string) {
	if client == "" {
		return
	}
	n.mu.Lock()
	if n.verified == nil {
		n.verified = n.verifiedBuf[:0]
	}
	n.verified = append(n.verified, client)
	n.authClient = client
	if tenant != "" {
		n.authTenant = tenant
	}
	if !n.identified {
		n.tenant, n.client, n.identified = n.authTenant, client, true
	}
	n.mu.Unlock()
}

// AuthTenant is the tenant the server verified for the request ("" when
// none): unlike Identity it never comes from unchecked input, so it is safe
// as a bounded metrics label.
func (n *Note) AuthTenant() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.authTenant
}

// IsVerified reports whether client was authenticated during the request.
func (n *Note) IsVerified(client string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Contains(n.verified, client)
}

// AddApplied records what the scenario engine did, as the journal and the
// log line show it ("rule: respond 429").
func (n *Note) AddApplied(s ...string) {
	n.mu.Lock()
	n.applied = append(n.applied, s...)
	n.mu.Unlock()
}

// Applied is a copy of what the scenario engine did (nil when nothing).
func (n *Note) Applied() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.applied) == 0 {
		return nil
	}
	return slices.Clone(n.applied)
}

// AddFault records one scenario effect for the metrics.
func (n *Note) AddFault(f Fault) {
	n.mu.Lock()
	n.faults = append(n.faults, f)
	n.mu.Unlock()
}

// Faults is a copy of the recorded effects (nil when none).
func (n *Note) Faults() []Fault {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.faults) == 0 {
		return nil
	}
	return slices.Clone(n.faults)
}

// Refuse records why the token endpoint refused the request: a short
// reason from a fixed set (unknown_client, wrong_secret, ...), never a
// secret.
func (n *Note) Refuse(reason string) {
	n.mu.Lock()
	if n.refusal == "" {
		n.refusal = reason
	}
	n.mu.Unlock()
}

// Refusal is the recorded refusal reason, or "".
func (n *Note) Refusal() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.refusal
}

// SetRoute records the route pattern that served the request (a bounded
// label, not the raw path).
func (n *Note) SetRoute(p string) {
	n.mu.Lock()
	if n.route == "" {
		n.route = p
	}
	n.mu.Unlock()
}

// Route is the recorded route pattern, or "".
func (n *Note) Route() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.route
}

// SetClaims records the verified token claims (package auth's), so the
// handlers behind the bearer check read them without a new context.
func (n *Note) SetClaims(c any) {
	n.mu.Lock()
	n.claims = c
	n.mu.Unlock()
}

// Claims are the recorded token claims, or nil.
func (n *Note) Claims() any {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.claims
}

// Summary is what a finished request's log line and metrics read of its
// note.
type Summary struct {
	Tenant, Client string   // the identity (Identity)
	AuthTenant     string   // the verified tenant (AuthTenant)
	Refusal        string   // why a credential was refused (Refusal)
	Route          string   // the route pattern (Route)
	Applied        []string // the scenario effects applied (Applied)
	Faults         []Fault  // the rule effects (Faults)
}

// Summary reads the note at once, as Identity, AuthTenant, Refusal,
// Route, Applied and Faults would one by one.
func (n *Note) Summary() Summary {
	n.mu.Lock()
	defer n.mu.Unlock()
	s := Summary{Tenant: n.tenant, Client: n.client, AuthTenant: n.authTenant, Refusal: n.refusal, Route: n.route}
	if len(n.applied) > 0 {
		s.Applied = slices.Clone(n.applied)
	}
	if len(n.faults) > 0 {
		s.Faults = slices.Clone(n.faults)
	}
	return s
}
