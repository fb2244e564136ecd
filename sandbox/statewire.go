package sandbox

import (
	"fmt"
	"net/http"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/portal"
	"github.com/fhirsandbox/fhirsandbox/sandbox/state"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// restoreState opens the state journal, when configured, and replays it:
// the last client registry, the last tenant map, then every FHIR write
// into its tenant's store. From then on every store journals its writes
// (fsync before the write is acknowledged).
func (s *Server) restoreState() (state.Snapshot, error) {
	if s.cfg.StateFile == "" {
		return state.Snapshot{}, nil
	}
	opts := []state.Option{state.WithNow(s.now)}
	if s.stateSync != nil {
		opts = append(opts, state.WithSync(s.stateSync))
	}
	j, err := state.Open(s.cfg.StateFile, opts...)
	if err != nil {
		return state.Snapshot{}, err
	}
	if torn, ok := j.Torn(); ok {
		// never acknowledged (the append did not finish), so nothing
		// is lost; still worth a line, as it means the last run crashed
		s.log.Warn("state: cut a torn last record", "file", s.cfg.StateFile, "offset", torn.Offset, "bytes", torn.Bytes, "reason", torn.Reason)
	}
	initial := s.tenants.List() // the configuration's: the journal's first writes went to its stores
	snap, err := j.Load(initial)
	if err != nil {
		_ = j.Close()
		return state.Snapshot{}, fmt.Errorf("state %s: %w", s.cfg.StateFile, err)
	}
	if snap.Clients != nil {
		if err := s.auth.Registry().Restore(*snap.Clients); err != nil {
			_ = j.Close()
			return state.Snapshot{}, fmt.Errorf("state %s: clients: %w", s.cfg.StateFile, err)
		}
	}
	if snap.Tenants != nil {
		for _, t := range s.tenants.List() {
			_ = s.tenants.Remove(t.ID)
		}
		for _, t := range snap.Tenants {
			if _, err := s.tenants.Add(t); err != nil {
				_ = j.Close()
				return state.Snapshot{}, fmt.Errorf("state %s: tenants: %w", s.cfg.StateFile, err)
			}
		}
	}
	s.auth.RestoreRevocations(snap.Revoked)
	for _, w := range snap.Writes {
		st, err := s.tenants.Store(w.Tenant, w.Release)
		if err != nil {
			continue // the tenant is gone or proxied: its writes went with it
		}
		// at the write's own time, so lastUpdated and Last-Modified
		// survive the restart
		if _, err := st.ApplyAt(w.Ops, w.At); err != nil {
			_ = j.Close()
			return state.Snapshot{}, fmt.Errorf("state %s: replay writes of %s/%s: %w", s.cfg.StateFile, w.Tenant, w.Release, err)
		}
	}
	// history is not state: rewrite the file as what it adds up to, now
	// and whenever it doubles, so it grows with the data, not the traffic
	before := j.Size()
	if err := j.Compact(initial); err != nil {
		_ = j.Close()
		return state.Snapshot{}, fmt.Errorf("state %s: %w", s.cfg.StateFile, err)
	}
	j.OnCompactError(func(err error) {
		s.log.Warn("state: compaction failed; the journal keeps growing until the next try", "file", s.cfg.StateFile, "err", err)
	})
	s.log.Info("state compacted", "file", s.cfg.StateFile, "bytes_before", before, "bytes_after", j.Size())
	s.journal = j
	revoked := state.RevocationHook(j)
	s.auth.SetRevocationHook(func(r auth.Revocation) error {
		err := revoked(r)
		if err != nil {
			s.log.Error("state: a token revocation could not be saved to the state file; it applies until the server restarts", "file", s.cfg.StateFile, "err", err)
		}
		return err
	})
	// stores built so far (the default release, and any a replayed write
	// needed) get their hook now; stores built later get it in buildStore
	type key struct{ tenant, release string }
	built := map[key]bool{}
	for _, w := range snap.Writes {
		built[key{w.Tenant, w.Release}] = true
	}
	for _, t := range s.tenants.List() {
		if t.Upstream == "" {
			built[key{t.ID, s.cfg.FHIRVersion}] = true
		}
	}
	for k := range built {
		if st, err := s.tenants.Store(k.tenant, k.release); err == nil {
			s.journalWrites(st, k.tenant, k.release)
		}
	}
	s.log.Info("state restored", "file", s.cfg.StateFile, "writes", len(snap.Writes))
	return snap, nil
}

// journalWrites makes a store's writes durable in the state journal.
func (s *Server) journalWrites(st *store.Store, tenantID, release string) {
	if s.journal == nil {
		return
	}
	hook := state.WriteHook(s.journal, tenantID, release)
	st.SetWriteHook(func(ops []store.Op, at time.Time) (func() error, error) {
		commit, err := hook(ops, at)
		if err != nil {
			s.logPersistFailure(tenantID, release, len(ops), err)
			return nil, err
		}
		return func() error {
			err := commit()
			if err != nil {
				s.logPersistFailure(tenantID, release, len(ops), err)
			}
			return err
		}, nil
	})
}

// logPersistFailure says, once per failed write, that the state file
// refused it (disk full, I/O error) and that the write was not applied.
func (s *Server) logPersistFailure(tenantID, release string, ops int, err error) {
	msg := "state: a write could not be saved to the state file and was not applied (the client got 503)"
	if jerr := s.journal.Failed(); jerr != nil {
		msg = "state: an fsync of the state file failed: this write and any not yet synced were undone, and every later write is refused until a restart"
	}
	s.log.Error(msg, "file", s.cfg.StateFile, "tenant", tenantID, "release", release, "ops", ops, "err", err)
}

// newAdmin builds the admin service; with a state file every change is
// journalled before it is acknowledged.
func (s *Server) newAdmin() admin.Service {
	opts := admin.Options{Clients: s.auth.Registry(), Tenants: s.tenants}
	if s.journal != nil {
		persist := state.Persister(s.journal, s.auth.Registry(), s.tenants)
		opts.Persist = func(kind string) error {
			err := persist(kind)
			if err != nil {
				s.log.Error("state: an admin change could not be saved to the state file and was undone (the caller got 503)", "file", s.cfg.StateFile, "kind", kind, "err", err)
			}
			return err
		}
	}
	return admin.New(opts)
}

// adminAPI is the JSON admin API, every /admin/api/ route: clients and
// tenants, the request journal and the scenario switches, all behind its
// guards (loopback only unless admin.allow_remote, cross-origin
// protection, the admin token).
func (s *Server) adminAPI() http.Handler {
	return admin.NewAPI(s.admin, admin.APIOptions{Token: s.adminToken, TokenSHA256: s.adminDigest, AllowRemote: s.cfg.Admin.AllowRemote, Journal: s.requests, Scenarios: scenarioSwitch{s}, Importer: fixtureImporter{s}, Logger: s.log, NewTenantPatients: s.cfg.TenantDefaults.Patients, NewTenantSeed: s.cfg.TenantDefaults.Seed})
}

// portalHandler is the registration portal (its own guards: loopback only
// unless admin.allow_remote, cross-origin protection, sign-in with the
// admin token, CSP).
func (s *Server) portalHandler() http.Handler {
	return portal.New(portal.Options{
		Service:          s.admin,
		AdminToken:       s.adminToken,
		AdminTokenSHA256: s.adminDigest,
		Now:              s.now,
		Rand:             s.rand,
		Logger:           s.log,
		PublicBase:       s.PublicBase,
		AllowRemote:      s.cfg.Admin.AllowRemote,
		Scenarios:        scenarioSwitch{s},
		Journal:          s.requests,
		Done:             s.streamsDone,
		TenantDefaults:   &portal.TenantDefaults{Patients: s.cfg.TenantDefaults.Patients, Seed: s.cfg.TenantDefaults.Seed},
	})
}

// Close releases what the server holds open (the state journal).
func (s *Server) Close() error {
	if s.journal != nil {
		return s.journal.Close()
	}
	return nil
}
