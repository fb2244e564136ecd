package fhir

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// Populate renders a generated hospital in release v into s: the hospital
// resources, then patients 0..n-1, each stored with lastUpdated = updated
// (the reference date), so a restart reproduces the same bytes.
func Populate(v Version, s *store.Store, h *seed.Hospital, n int, updated time.Time) error {
	var err error
	emit := func(r Resource) {
		if err != nil {
			return
		}
		if _, perr := s.Put(r.JSON, r.ID, updated); perr != nil {
			err = fmt.Errorf("store %s/%s: %w", r.Type, r.ID, perr)
		}
	}
	v.RenderHospital(h, emit)
	for i := 0; i < n && err == nil; i++ {
		rec := h.Patient(i)
		v.RenderPatient(&rec, emit)
	}
	return err
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
