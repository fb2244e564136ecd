package tenant

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// Tenant is one customer: an Azure AD tenant GUID mapped to a backend.
type Tenant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Upstream, when set, is a real FHIR server the tenant's requests are
	// proxied to; the synthetic hospital is not used.
	Upstream string `json:"upstream,omitempty"`
	// Synthetic hospital.
	Patients int      `json:"patients"`
	Seed     int64    `json:"seed"`
	Fixtures []string `json:"fixtures,omitempty"`
	// Down makes every FHIR request of the tenant fail with 503, as a
	// backend outage would.
	Down bool `json:"down,omitempty"`
}

// Errors of the registry.
var (
	ErrUnknown   = errors.New("unknown tenant")
	ErrDuplicate = errors.New("tenant already exists")
)

// BuildFunc builds a tenant's store for one FHIR release (a name from
// spec.Releases): its synthetic hospital plus fixtures.
type BuildFunc func(t Tenant, release string) (*store.Store, error)

// Registry maps tenant GUIDs to tenants and holds their stores, built the
// first time a release of a tenant is asked for.
type Registry struct {
	build BuildFunc

	mu      sync.RWMutex
	tenants map[string]*entry
	order   []string
}

type entry struct {
	t      Tenant
	stores map[string]*lazyStore
}

type lazyStore struct {
	once  sync.Once
	s     *store.Store
	err   error
	built atomic.Bool // s and err are set
}

// NewRegistry returns an empty registry that builds stores with build.
func NewRegistry(build BuildFunc) *Registry {
	return &Registry{build: build, tenants: map[string]*entry{}}
}

// Add registers a new tenant.
func (r *Registry) Add(t Tenant) (Tenant, error) {
	id, err := spec.ParseGUID(t.ID)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant id %q: %w", t.ID, err)
	}
	t.ID = id
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.tenants[id]; ok {
		return Tenant{}, fmt.Errorf("%s: %w", id, ErrDuplicate)
	}
	r.tenants[id] = &entry{t: t, stores: map[string]*lazyStore{}}
	r.order = append(r.order, id)
	return t, nil
}

// Update changes a tenant's mapping with fn. When the data it is built
// from changes (population, seed, fixtures), its stores are dropped and
// rebuilt on next use; written resources go with them.
func (r *Registry) Update(id string, fn func(*Tenant)) (Tenant, error) {
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return Tenant{}, fmt.Errorf("tenant id %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.tenants[cid]
	if e == nil {
		return Tenant{}, fmt.Errorf("%s: %w", cid, ErrUnknown)
	}
	next := e.t
	fn(&next)
	next.ID = cid
	if next.Patients != e.t.Patients || next.Seed != e.t.Seed || !slices.Equal(next.Fixtures, e.t.Fixtures) {
		e.stores = map[string]*lazyStore{}
	}
	e.t = next
	return next, nil
}

// Remove unmaps a tenant.
func (r *Registry) Remove(id string) error {
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return fmt.Errorf("tenant id %q: %w", id, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.tenants[cid]; !ok {
		return fmt.Errorf("%s: %w", cid, ErrUnknown)
	}
	delete(r.tenants, cid)
	r.order = slices.DeleteFunc(r.order, func(s string) bool { return s == cid })
	return nil
}

// Get returns a tenant by GUID (any case, braces allowed).
func (r *Registry) Get(id string) (Tenant, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	// the ids requests carry are canonical, as the keys are: found
	// without a parse; anything else is parsed to its canonical form
	if e := r.tenants[id]; e != nil {
		return e.t, true
	}
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return Tenant{}, false
	}
	e := r.tenants[cid]
	if e == nil {
		return Tenant{}, false
	}
	return e.t, true
}

// Known reports whether a tenant is mapped.
func (r *Registry) Known(id string) bool {
	_, ok := r.Get(id)
	return ok
}

// List returns the tenants in the order they were added.
func (r *Registry) List() []Tenant {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Tenant, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.tenants[id].t)
	}
	return out
}

// Store returns the tenant's store for a release, building it on first
// use. Concurrent first uses build it once.
func (r *Registry) Store(id, release string) (*store.Store, error) {
	// a built store of a canonical id (what requests carry): found under
	// the read lock, without a parse
	r.mu.RLock()
	var ls *lazyStore
	if e := r.tenants[id]; e != nil {
		ls = e.stores[release]
	}
	r.mu.RUnlock()
	if ls != nil && ls.built.Load() {
		return ls.s, ls.err
	}
	cid, err := spec.ParseGUID(id)
	if err != nil {
		return nil, ErrUnknown
	}
	r.mu.Lock()
	e := r.tenants[cid]
	if e == nil {
		r.mu.Unlock()
		return nil, ErrUnknown
	}
	ls = e.stores[release]
	if ls == nil {
		ls = &lazyStore{}
		e.stores[release] = ls
	}
	t := e.t
	r.mu.Unlock()
	ls.once.Do(func() {
		ls.s, ls.err = r.build(t, release)
		ls.built.Store(true)
	})
	return ls.s, ls.err
}
