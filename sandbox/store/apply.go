package store

import "time"

// Op is one write of a transaction: a resource to put under ID, or, when
// JSON is nil, a delete of Type/ID.
type Op struct {
	Type string
	ID   string
	JSON []byte
	// KeepMeta stores the resource with its own meta.versionId (a
	// positive integer) and meta.lastUpdated instead of the store's, so a
	// fixture exported from another server keeps its history markers.
	KeepMeta bool
	// Versions is how many successive puts of Type/ID this one stands
	// for (a compacted journal replays a thousand updates as one put):
	// the version advances by that many. 0 means 1.
	Versions int
}

// OpResult is what one Op did.
type OpResult struct {
	Doc     *Doc // nil for a delete
	Created bool
	Existed bool // for a delete
}

// Apply performs every op or none: all resources are parsed and checked
// before the first one is stored, and the writes happen under one lock so
// no reader sees half a transaction.
func (s *Store) Apply(ops []Op) ([]OpResult, error) {
	return s.ApplyAt(ops, time.Time{})
}

// ApplyAt is Apply with the lastUpdated to give the resources; zero means
// now.
func (s *Store) ApplyAt(ops []Op, updated time.Time) ([]OpResult, error) {
	preps := make([]*Prepared, len(ops))
	for i, op := range ops {
		if op.JSON == nil {
			continue
		}
		pr, err := s.Prepare(op.JSON)
		if err != nil {
			return nil, err
		}
		if pr.p.typ != op.Type {
			return nil, invalidErr("entry %d: resourceType %q does not match %q", i, pr.p.typ, op.Type)
		}
		if _, err := pr.checkID(op.ID); err != nil {
			return nil, invalidErr("entry %d: %v", i, err)
		}
		preps[i] = pr
	}
	now := updated
	if now.IsZero() {
		now = s.now()
	}
	out := make([]OpResult, len(ops))
	applied := false
	err := s.write(func(journal func(time.Time, ...Op) error) error {
		if err := journal(now, ops...); err != nil {
			return err
		}
		applied = true
		for i, op := range ops {
			if op.JSON == nil {
				out[i].Existed = s.deleteLocked(op.Type, op.ID)
				continue
			}
			at, version := now, 0
			if op.KeepMeta {
				v, u := preps[i].p.ownMeta()
				if !u.IsZero() {
					at = u
				}
				version = v
			}
			r, err := s.putVersionLocked(preps[i].p, preps[i].vals, op.ID, at, version, max(op.Versions, 1))
			if err != nil {
				// encode failures cannot happen for parsed input; report
				// rather than hide one if it ever does
				return err
			}
			out[i] = OpResult{Doc: r.Doc, Created: r.Created}
		}
		return nil
	})
	if !applied {
		return nil, err // refused before anything changed
	}
	return out, err
}
