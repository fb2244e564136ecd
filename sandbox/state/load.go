package state

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Snapshot is what a journal adds up to: the last client registry, the
// last tenant map and the FHIR writes that still apply, oldest first.
type Snapshot struct {
	// Clients is nil when no clients record was ever written: the
	// configuration's clients stand.
	Clients *auth.State
	// Tenants is nil when no tenants record was ever written: the
	// configuration's tenants stand.
	Tenants []tenant.Tenant
	// Writes are to be applied in order to each tenant's stores.
	Writes []Writes
	// AdminTokenSHA256 is the digest of the last admin token journalled
	// (SetAdminToken), or "".
	AdminTokenSHA256 string
	// Revoked are the token revocations, oldest first (expired ones
	// included until a compaction drops them).
	Revoked []auth.Revocation
}

// Load replays the journal into a Snapshot. initial is the tenant map
// the server starts with (from its configuration, GUIDs canonical): the
// first writes were made to stores built from it. Writes are dropped when
// a later tenants record removes their tenant or changes the data its
// stores are built from (population, seed, fixtures), because the
// tenant.Registry drops those stores too.
func (j *Journal) Load(initial []tenant.Tenant) (Snapshot, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.loadLocked(initial)
}

func (j *Journal) loadLocked(initial []tenant.Tenant) (Snapshot, error) {
	var snap Snapshot
	var writes []*Writes
	cur := initial
	err := j.replayLocked(func(r Record) error {
		switch r.Kind {
		case KindClients:
			snap.Clients = r.Clients
		case KindTenants:
			next := r.Tenants
			writes = slices.DeleteFunc(writes, func(w *Writes) bool {
				return rebuilt(cur, next, w.Tenant)
			})
			snap.Tenants, cur = next, next
		case KindWrites:
			writes = append(writes, r.Writes)
		case KindAdmin:
			snap.AdminTokenSHA256 = r.AdminTokenSHA256
		case KindRevoked:
			snap.Revoked = append(snap.Revoked, *r.Revoked)
		}
		return nil
	})
	if err != nil {
		return Snapshot{}, err
	}
	for _, w := range writes {
		snap.Writes = append(snap.Writes, *w)
	}
	return snap, nil
}

// rebuilt reports whether tenant id's stores are dropped going from the
// tenant map prev to next.
func rebuilt(prev, next []tenant.Tenant, id string) bool {
	n := slices.IndexFunc(next, func(t tenant.Tenant) bool { return t.ID == id })
	p := slices.IndexFunc(prev, func(t tenant.Tenant) bool { return t.ID == id })
	if n < 0 || p < 0 {
		return true
	}
	a, b := prev[p], next[n]
	return a.Patients != b.Patients || a.Seed != b.Seed || !slices.Equal(a.Fixtures, b.Fixtures)
}

// Compact rewrites the journal as its Snapshot (see Load for initial):
// one clients record, one tenants record and the writes that still
// apply, each resource's history collapsed to its current state (see
// squash). The new file replaces the old one atomically (written beside
// it, synced, renamed, directory synced), so a crash leaves either the
// old journal or the new one. From then on the journal compacts itself
// again whenever an append finds it twice its compacted size (at least
// AutoCompactBytes), with the same initial.
func (j *Journal) Compact(initial []tenant.Tenant) error {
	j.syncMu.Lock() // no Commit syncs the file being replaced
	defer j.syncMu.Unlock()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.initial = slices.Clone(initial)
	j.autoCompact = true
	return j.compactLocked()
}

// AutoCompactBytes is the least size at which a journal compacts itself:
// rewriting a small file on every doubling would cost more than it saves.
const AutoCompactBytes = 1 << 20

// compactDue reports whether the journal has doubled since it was last
// compacted.
func (j *Journal) compactDue() bool {
	return j.autoCompact && j.end >= 2*max(j.compacted, AutoCompactBytes/2)
}

func (j *Journal) compactLocked() error {
	if j.closed {
		return errors.New("compact: journal closed")
	}
	snap, err := j.loadLocked(j.initial)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	var recs []Record
	if snap.AdminTokenSHA256 != "" {
		recs = append(recs, Record{Kind: KindAdmin, AdminTokenSHA256: snap.AdminTokenSHA256})
	}
	if snap.Clients != nil {
		recs = append(recs, Record{Kind: KindClients, Clients: snap.Clients})
	}
	if snap.Tenants != nil {
		recs = append(recs, Record{Kind: KindTenants, Tenants: snap.Tenants})
	}
	// a revocation outlives every token it names by its Until: after
	// that it is history
	now := j.now()
	for i := range snap.Revoked {
		if r := &snap.Revoked[i]; now.Before(r.Until) {
			recs = append(recs, Record{Kind: KindRevoked, Revoked: r})
		}
	}
	writes := squash(snap.Writes)
	for i := range writes {
		recs = append(recs, Record{Kind: KindWrites, Writes: &writes[i]})
	}
	tmp := j.path + ".compact"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	var end int64
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact: %w", err)
	}
	for _, r := range recs {
		line, err := encode(r)
		if err != nil {
			return fail(err)
		}
		n, err := f.Write(line)
		if err != nil {
			return fail(err)
		}
		end += int64(n)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, j.path); err != nil {
		return fail(err)
	}
	// the rename is done: the new file is the journal now, even if the
	// directory sync fails (appends to the old, unlinked one would be lost)
	j.f.Close()
	j.f, j.end, j.compacted, j.syncedEnd = f, end, end, end
	// the new file, synced whole, holds every record written so far
	// (Write cannot run: mu is held)
	j.synced = j.written
	if err := syncDir(filepath.Dir(j.path)); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	return nil
}

// SetAdminToken journals the digest of a generated admin token, durably,
// so that the next start with this journal keeps the token.
func (j *Journal) SetAdminToken(digest [sha256.Size]byte) error {
	return j.Append(Record{Kind: KindAdmin, AdminTokenSHA256: hex.EncodeToString(digest[:])})
}

// Persister returns the admin.Options.Persist function that appends a
// snapshot of the registry that changed ("clients" or "tenants").
func Persister(j *Journal, clients *auth.Registry, tenants *tenant.Registry) func(kind string) error {
	return func(kind string) error {
		switch kind {
		case KindClients:
			st := clients.Snapshot()
			return j.Append(Record{Kind: KindClients, Clients: &st})
		case KindTenants:
			return j.Append(Record{Kind: KindTenants, Tenants: tenants.List()})
		}
		return fmt.Errorf("persist: unknown kind %q", kind)
	}
}

// RevocationHook returns the auth.Authority.SetRevocationHook function
// that makes each token revocation durable before it is acknowledged.
func RevocationHook(j *Journal) func(auth.Revocation) error {
	return func(r auth.Revocation) error {
		return j.Append(Record{Kind: KindRevoked, Revoked: &r})
	}
}

// WriteHook returns the store.SetWriteHook function that journals the
// writes of one tenant's store for one release.
func WriteHook(j *Journal, tenantID, release string) store.WriteHook {
	return func(ops []store.Op, at time.Time) (func() error, error) {
		// written under the store's lock, in its order; made durable by
		// the returned commit once the store has released the lock
		mark, err := j.Write(Record{Kind: KindWrites, Writes: &Writes{Tenant: tenantID, Release: release, Ops: ops, At: at}})
		if err != nil {
			return nil, err
		}
		return func() error { return j.Commit(mark) }, nil
	}
}
