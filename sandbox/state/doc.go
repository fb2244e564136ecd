// Package state keeps the sandbox's changes across restarts in a journal:
// an append-only file of JSON lines, each a Record. A "clients" record is
// the whole client registry (auth.Registry.Snapshot: secret digests only,
// never plaintext), a "tenants" record the whole tenant map, a "writes"
// record one FHIR write (create, update, delete or transaction) to one
// tenant's store of one release.
//
// Each line is {"crc":"%08x","rec":RECORD}, the CRC-32C of RECORD's bytes
// beside it, so damage that still parses is caught; bare RECORD lines (as
// written before checksums) still load, unchecked.
//
// Append writes one line and fsyncs before it returns, so an acknowledged
// change survives a crash. A crash during an append leaves at most a torn
// last line; Open cuts it off and reports it (Torn). Damage followed by
// good lines is not what a crash leaves, and Open refuses the file
// (ErrCorrupt, naming the damaged record's offset and the good records
// after it) rather than drop acknowledged changes. Records are bounded by
// MaxRecordBytes.
//
// How the server uses it, at start:
//
//	j, err := state.Open(cfg.StateFile)
//	snap, err := j.Load(configTenants)   // or j.Replay for raw records
//	if snap.Clients != nil { authority.Registry().Restore(*snap.Clients) }
//	if snap.Tenants != nil { replace the tenant.Registry's tenants with snap.Tenants }
//	for _, w := range snap.Writes {
//		s, _ := tenants.Store(w.Tenant, w.Release)
//		s.ApplyAt(w.Ops, w.At)           // before the write hook is installed; w.At keeps lastUpdated
//	}
//	j.Compact(configTenants)             // the file shrinks to its snapshot, and again whenever it doubles
//
// then, while serving: every store gets
// store.SetWriteHook(state.WriteHook(j, tenantID, release)) (installed
// after replay, or replay would journal its own writes again; the hook
// writes the record under the store's lock and the store waits for its
// fsync, shared with concurrent writes, after releasing it), and the
// admin Service gets Persist: state.Persister(j, authority.Registry(),
// tenants), which appends a fresh snapshot after each admin change.
//
// Load drops writes made before a tenants record that removes their
// tenant or changes its population, seed or fixtures, as the tenant
// registry drops those stores. A journal belongs to one process at a time:
// Open takes an exclusive lock on FILE.lock and fails with ErrLocked,
// naming the holder's pid and listen address (Announce), when another
// process has it.
package state
