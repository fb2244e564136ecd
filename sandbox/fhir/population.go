package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// population is a generated hospital's patients rendered in one release,
// as a store derives them (store.Population).
type population struct {
	v     Version
	h     *seed.Hospital
	n     int
	holds map[string]string // resource type -> id prefix of its generated ids
}

// NewPopulation returns patients 0..n-1 of h rendered in release v, for a
// store that derives them on demand (store.SetPopulation).
func NewPopulation(v Version, h *seed.Hospital, n int) store.Population {
	holds := map[string]string{
		"Patient": "pat-", "Encounter": "enc-", "Observation": "obs-", "Condition": "cond-",
		"AllergyIntolerance": "alg-", "Coverage": "cov-", "MedicationOrder": "med-", "MedicationRequest": "med-",
	}
	defs := v.SearchParams()
	for typ := range holds {
		if _, ok := defs[typ]; !ok {
			delete(holds, typ)
		}
	}
	return &population{v: v, h: h, n: n, holds: holds}
}

func (p *population) Len() int { return p.n }

func (p *population) Holds(typ string) bool { _, ok := p.holds[typ]; return ok }

// Owner reads the patient number out of a generated id: pat-N, cov-N, or
// PREFIX-N-K for the resources of a record (seed's id scheme).
func (p *population) Owner(typ, id string) (int, bool) {
	prefix, ok := p.holds[typ]
	if !ok || !strings.HasPrefix(id, prefix) {
		return 0, false
	}
	// a patient's own resources are "<prefix><n>", the others
	// "<prefix><n>-<k>": a trailing "-" is neither
	num, rest, dash := strings.Cut(id[len(prefix):], "-")
	if (typ == "Patient" || typ == "Coverage") == dash || dash && rest == "" {
		return 0, false
	}
	if num == "" || num[0] == '0' || len(num) > 9 {
		return 0, false
	}
	for k := 0; k < len(num); k++ {
		if num[k] < '0' || num[k] > '9' {
			return 0, false // Atoi would take a sign
		}
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > p.n {
		return 0, false
	}
	return n - 1, true
}

func (p *population) PatientID(i int) string { return "pat-" + strconv.Itoa(i+1) }

func (p *population) Record(i int, emit func(typ, id string, json []byte)) {
	rec := p.h.Patient(i)
	p.v.RenderPatient(&rec, func(r Resource) { emit(r.Type, r.ID, r.JSON) })
}

// RecordPatient renders patient i's Patient alone, without generating the
// rest of the record: the same bytes Record emits first.
func (p *population) RecordPatient(i int) (id string, json []byte) {
	rec := p.h.PatientOnly(i)
	p.v.RenderPatient(rec, func(r Resource) {
		if r.Type == "Patient" && json == nil {
			id, json = r.ID, r.JSON
		}
	})
	return id, json
}

func (p *population) Demographics(i int) store.Demographics {
	d := p.h.Demographics(i)
	return store.Demographics{
		ID: d.ID, MRN: d.MRN, MRNSystem: p.h.MRNSystem(),
		Family: d.Name.Family, Given: d.Name.Given, Prefix: d.Name.Prefix, Suffix: d.Name.Suffix,
		Gender: d.Gender, BirthDate: d.BirthDate,
	}
}

// PopulateDerived is Populate for a store that derives the patients: the
// hospital's resources are stored, the patients are indexed (their
// searchable demographics only) and generated when first asked for, cache
// of them kept at a time. index, when not nil, is the population's index
// built for another release (NewPopulation of the same hospital and n).
func PopulateDerived(v Version, s *store.Store, h *seed.Hospital, n int, updated time.Time, cache int, index *store.PopulationIndex) error {
	var err error
	v.RenderHospital(h, func(r Resource) {
		if err != nil {
			return
		}
		if _, perr := s.Put(r.JSON, r.ID, updated); perr != nil {
			err = fmt.Errorf("store %s/%s: %w", r.Type, r.ID, perr)
		}
	})
	if err != nil {
		return err
	}
	return s.SetPopulation(NewPopulation(v, h, n), store.DerivedOptions{Updated: updated, CachePatients: cache, Index: index})
}
