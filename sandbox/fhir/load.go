package fhir

import (
	"encoding/json"
	"fmt"
	"io"
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

// MaxFixtureBytes caps a fixture file.
const MaxFixtureBytes = 256 << 20

// LoadFixture stores the resources of a fixture file: a FHIR Bundle (any
// type: each entry's resource is stored under its own id), ndjson (one
// resource a line), or several Bundles in a row. Resources without an id
// get one from newID. It returns how many resources were stored; a bad
// resource stops the load, its position in the error.
func LoadFixture(s *store.Store, r io.Reader, newID func() string) (int, error) {
	dec := json.NewDecoder(io.LimitReader(r, MaxFixtureBytes))
	n := 0
	for item := 1; ; item++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("value %d: %w", item, err)
		}
		if err := store.CheckJSON(raw); err != nil {
			return n, fmt.Errorf("value %d: %w", item, err)
		}
		if resourceTypeOf(raw) != "Bundle" {
			if err := putFixture(s, raw, newID); err != nil {
				return n, fmt.Errorf("value %d: %w", item, err)
			}
			n++
			continue
		}
		var b struct {
			Entry []struct {
				Resource json.RawMessage `json:"resource"`
			} `json:"entry"`
		}
		if err := json.Unmarshal(raw, &b); err != nil {
			return n, fmt.Errorf("value %d: not a Bundle: %w", item, err)
		}
		for i, e := range b.Entry {
			if len(e.Resource) == 0 {
				continue
			}
			if err := putFixture(s, e.Resource, newID); err != nil {
				return n, fmt.Errorf("value %d, entry %d: %w", item, i, err)
			}
			n++
		}
	}
}

func putFixture(s *store.Store, b []byte, newID func() string) error {
	if id, ok := idOf(b); ok && id != "" {
		_, err := s.Put(b, id, time.Time{})
		return err
	}
	_, err := s.Create(b, newID)
	return err
}
