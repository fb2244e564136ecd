package state

import (
	"slices"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// flatOp is one op of a Writes with where it came from: pos is its place
// in the journal's order of ops.
type flatOp struct {
	tenant, release string
	at              time.Time
	op              store.Op
	pos             int
}

// squash returns writes that leave every store as writes does, with each
// resource's history collapsed: per resource (tenant, release, type, id)
// at most one put before its last delete (standing for all the puts
// before it, for the version), that delete, and one put after it
// (standing for the puts after it). Every kept op stays at the place of
// the op it replaces in the journal's order, so resources are created in
// the same relative order (which orders searches), and a put keeps the
// time of the last put it stands for (its lastUpdated). Resources with an
// op keeping its own meta are left as they are: their versions are not a
// count of puts.
func squash(writes []Writes) []Writes {
	type key struct{ tenant, release, typ, id string }
	var flat []flatOp
	groups := map[key][]int{}
	var order []key
	for _, w := range writes {
		for _, op := range w.Ops {
			k := key{w.Tenant, w.Release, op.Type, op.ID}
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], len(flat))
			flat = append(flat, flatOp{tenant: w.Tenant, release: w.Release, at: w.At, op: op, pos: len(flat)})
		}
	}
	var kept []flatOp
	for _, k := range order {
		kept = append(kept, squashOne(flat, groups[k])...)
	}
	slices.SortFunc(kept, func(a, b flatOp) int { return a.pos - b.pos })
	// consecutive ops of one store stamped at one time are one write
	var out []Writes
	for _, f := range kept {
		if n := len(out); n > 0 && out[n-1].Tenant == f.tenant && out[n-1].Release == f.release && out[n-1].At.Equal(f.at) {
			out[n-1].Ops = append(out[n-1].Ops, f.op)
			continue
		}
		out = append(out, Writes{Tenant: f.tenant, Release: f.release, At: f.at, Ops: []store.Op{f.op}})
	}
	return out
}

// squashOne collapses the ops (indices into flat, in order) of one
// resource.
func squashOne(flat []flatOp, idx []int) []flatOp {
	for _, i := range idx {
		if flat[i].op.KeepMeta {
			out := make([]flatOp, len(idx))
			for j, i := range idx {
				out[j] = flat[i]
			}
			return out
		}
	}
	last := -1 // position in idx of the last delete
	for j, i := range idx {
		if flat[i].op.JSON == nil {
			last = j
		}
	}
	var out []flatOp
	// puts collapses a run of ops to one put at the first put's place
	// with the last put's resource and time; deletes inside the run
	// (before the last delete) only shape the version, which counts puts
	puts := func(run []int) {
		var first, lastPut = -1, -1
		n := 0
		for _, i := range run {
			if flat[i].op.JSON == nil {
				continue
			}
			if first < 0 {
				first = i
			}
			lastPut = i
			n += max(flat[i].op.Versions, 1)
		}
		if first < 0 {
			return
		}
		f := flat[lastPut]
		f.pos = flat[first].pos
		f.op.Versions = n
		if n == 1 {
			f.op.Versions = 0
		}
		out = append(out, f)
	}
	if last < 0 {
		puts(idx)
		return out
	}
	// after the puts before it (if any), the last delete leaves the
	// resource gone with their version; with none, it deletes what the
	// first delete did (a generated resource, or nothing)
	puts(idx[:last])
	out = append(out, flat[idx[last]])
	puts(idx[last+1:])
	return out
}
