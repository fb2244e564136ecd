package seed

import (
	"strconv"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Demographics is what a population index keeps of one patient: the
// values the Patient searches of the partner interface match on.
type Demographics struct {
	ID        string
	MRN       string
	Name      HumanName
	Gender    string
	BirthDate string // YYYY-MM-DD, as rendered
}

// Demographics returns patient i's searchable demographics without
// generating the rest of the record: they are the first draws of the
// patient's random stream, so they equal Patient(i)'s, at a fraction of
// the cost (a population index of a million patients is built from them).
// An index outside [0, spec.MaxPatients) yields the zero value.
func (h *Hospital) Demographics(i int) Demographics {
	if i < 0 || i >= spec.MaxPatients {
		return Demographics{}
	}
	f := newFaker(streamPatient, h.Options.Seed, h.Tenant, i)
	g := &patientGen{h: h, f: f, r: f.Rand, i: i, pid: strconv.Itoa(i + 1), ref: h.Options.ReferenceDate}
	g.rec.Index = i
	g.anaphylaxy = -1
	g.demographics()
	p := &g.rec.Patient
	d := Demographics{ID: p.ID, MRN: p.MRN, Name: p.Name, Gender: p.Gender}
	if !p.BirthDate.IsZero() {
		d.BirthDate = p.BirthDate.Format("2006-01-02")
	}
	return d
}
