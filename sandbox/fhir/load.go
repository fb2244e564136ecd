package fhir

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// Populate renders a generated hospital in release v into s: the hospital
// resources, then patients 0..n-1, each stored with lastUpdated = updated
// (the reference date), so a restart reproduces the same bytes. Patients
// are generated, rendered and parsed on every core; they are stored in
// index order, so the store's order (and every search's) is the same on
// every run.
func Populate(v Version, s *store.Store, h *seed.Hospital, n int, updated time.Time) error {
	var err error
	put := func(r Resource, pr *store.Prepared) {
		if err != nil {
			return
		}
		if _, perr := s.PutPrepared(pr, r.ID, updated); perr != nil {
			err = fmt.Errorf("store %s/%s: %w", r.Type, r.ID, perr)
		}
	}
	prepare := func(r Resource) (*store.Prepared, error) {
		pr, perr := s.Prepare(r.JSON)
		if perr != nil {
			return nil, fmt.Errorf("store %s/%s: %w", r.Type, r.ID, perr)
		}
		return pr, nil
	}
	v.RenderHospital(h, func(r Resource) {
		if err != nil {
			return
		}
		pr, perr := prepare(r)
		if perr != nil {
			err = perr
			return
		}
		put(r, pr)
	})
	if err != nil {
		return err
	}

	type item struct {
		res []Resource
		prs []*store.Prepared
		err error
	}
	const batch = 64 // patients a worker takes at a time
	workers := runtime.GOMAXPROCS(0)
	batches := (n + batch - 1) / batch
	results := make([]chan []item, batches)
	for i := range results {
		results[i] = make(chan []item, 1)
	}
	var next atomic.Int64
	var stop atomic.Bool
	for w := 0; w < workers; w++ {
		go func() {
			for {
				b := int(next.Add(1)) - 1
				if b >= batches || stop.Load() {
					return
				}
				lo, hi := b*batch, min(n, (b+1)*batch)
				items := make([]item, 0, hi-lo)
				for i := lo; i < hi; i++ {
					rec := h.Patient(i)
					var it item
					v.RenderPatient(&rec, func(r Resource) {
						if it.err != nil {
							return
						}
						pr, perr := prepare(r)
						it.res, it.prs, it.err = append(it.res, r), append(it.prs, pr), perr
					})
					items = append(items, it)
				}
				results[b] <- items
			}
		}()
	}
	for b := 0; b < batches; b++ {
		items := <-results[b]
		for _, it := range items {
			if it.err != nil && err == nil {
				err = it.err
			}
			for j, r := range it.res {
				put(r, it.prs[j])
			}
		}
		if err != nil {
			stop.Store(true)
			// drain the batches already taken so no worker blocks
			for rest := b + 1; rest < batches && int64(rest) < next.Load(); rest++ {
				<-results[rest]
			}
			return err
		}
	}
	return nil
}
