package seed

import (
	"math"
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/brianvoe/gofakeit/v6"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

const day = 24 * time.Hour

// Edge-case classes, decided by the patient index so that every block of
// 20 (or 50) consecutive patients holds each of them (see doc.go).
const (
	edgeSmith        = 3  // i%20: family name Smith
	edgeAccented     = 5  // i%20: accented given and family name
	edgeNoAllergies  = 7  // i%20: no allergies
	edgeNoEncounters = 9  // i%20: no encounters, hence no vitals, conditions or medications
	edgeCentenarian  = 11 // i%20: 100 to 105 years old
	edgeJohnson      = 13 // i%20: family name Johnson
	edgeApostrophe   = 15 // i%20: family name with an apostrophe
	edgeNewborn      = 17 // i%20: born 1 to 30 days ago, one birth encounter
	edgeGender       = 21 // i%50: gender unknown (even i/50) or other (odd)
	edgeInProgress   = 7  // i%50: the newest encounter is in progress
	edgeNoCoverage   = 29 // i%50: no coverage on file
	edgeSelfPay      = 33 // i%50: adult under 65, self-pay
	edgeDeceased     = 45 // i%50: deceased
)

// Patient generates patient i (0-based). The result depends only on the
// hospital's Seed and Tenant and on i, never on other patients, so any
// patient can be generated alone, in any order or in parallel. An index
// outside [0, spec.MaxPatients) yields the zero PatientRecord.
func (h *Hospital) Patient(i int) PatientRecord {
	if i < 0 || i >= spec.MaxPatients {
		return PatientRecord{}
	}
	g := h.newPatientGen(i)
	return h.finish(g.run())
}

// PatientOnly is Patient(i) without the clinical record: the same
// Patient, MRNSystem and Provider, no encounters, observations,
// conditions, allergies, medications or coverage. It draws only what the
// Patient depends on (the demographics and contact details, and for a
// deceased patient the encounters that date the death), a small part of
// the cost of the whole record. The record is the caller's.
func (h *Hospital) PatientOnly(i int) *PatientRecord {
	if i < 0 || i >= spec.MaxPatients {
		return &PatientRecord{}
	}
	g := h.newPatientGen(i)
	g.rec.Index = g.i
	g.anaphylaxy = -1
	g.demographics()
	g.contact()
	if g.i%20 != edgeNoEncounters && g.i%50 == edgeDeceased {
		// the date of death follows the last encounter (buildEncounters)
		g.chooseConditions()
		g.encounters()
		g.rec.Encounters = nil
	}
	g.rec = h.finish(g.rec)
	return &g.rec // the generator is garbage now: its record is not copied again
}

func (h *Hospital) newPatientGen(i int) *patientGen {
	f := newFaker(streamPatient, h.Options.Seed, h.Tenant, i)
	return &patientGen{h: h, f: f, r: f.Rand, i: i, pid: strconv.Itoa(i + 1), ref: h.Options.ReferenceDate}
}

// finish adds to a generated record what does not come from the
// patient's random stream.
func (h *Hospital) finish(rec PatientRecord) PatientRecord {
	rec.Patient.Race, rec.Patient.Ethnicity = ombCategories(h.Options.Seed, h.Tenant, rec.Index, rec.Patient.Language)
	rec.MRNSystem = h.mrnSystem
	rec.Provider = Reference{Type: "Organization", ID: h.Organization.ID, Display: h.Organization.Name}
	return rec
}

// patientGen holds one patient's generation state.
type patientGen struct {
	h   *Hospital
	f   *gofakeit.Faker
	r   *rand.Rand
	i   int
	pid string
	ref time.Time

	rec      PatientRecord
	birth    time.Time
	death    time.Time
	years    int // age at ref
	gp       int // practitioner index
	married  bool
	spanish  bool
	heightP  int // growth percentiles, 0..1000
	weightP  int
	headP    int
	adultBMI int // tenths

	conds      []pendingCondition
	slots      []slot
	hasCOPD    bool
	hasHTN     bool
	anaphylaxy int // allergy index needing epinephrine, -1 none
	allergyEnc []int
}

type pendingCondition struct {
	def  int // index into conditions
	slot int // encounter index, -1 unassigned
}

// slot is an encounter being built.
type slot struct {
	start  time.Time
	etype  int
	reason int // condition index or -1
	fever  bool
}

func (g *patientGen) n(n int) int { return g.r.Intn(n) }

// between returns a uniform integer in [lo, hi].
func (g *patientGen) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + g.r.Intn(hi-lo+1)
}

func (g *patientGen) chance(pct int) bool { return g.r.Intn(100) < pct }

func (g *patientGen) run() PatientRecord {
	g.rec.Index = g.i
	g.anaphylaxy = -1
	g.demographics()
	g.contact()
	if g.i%20 != edgeNoEncounters {
		g.chooseConditions()
		g.encounters()
		g.vitals()
		g.finishConditions()
	}
	g.allergies()
	g.medications()
	g.coverage()
	return g.rec
}

// ---- demographics ----

// demographics draws the identity: MRN, birth date, gender, marital status
// and name (the values a population index holds; see Demographics).
func (g *patientGen) demographics() {
	p := &g.rec.Patient
	p.ID = "pat-" + g.pid
	p.MRN = g.h.mrn(g.i)
	kind, k50 := g.i%20, g.i%50

	refDay := dayOf(g.ref)
	var y, d int
	switch {
	case kind == edgeNewborn:
		y, d = 0, g.between(1, 30)
	case kind == edgeCentenarian:
		y, d = g.between(100, 105), g.between(0, 364)
	case k50 == edgeDeceased:
		y, d = g.between(55, 95), g.between(0, 364)
	case k50 == edgeSelfPay:
		y, d = g.between(18, 64), g.between(0, 364)
	default:
		y, d = g.age()
	}
	g.birth = refDay.AddDate(-y, 0, -d)
	p.BirthDate = g.birth
	g.years = ageYears(g.birth, g.ref)

	switch {
	case k50 == edgeGender && (g.i/50)%2 == 0:
		p.Gender = "unknown"
	case k50 == edgeGender:
		p.Gender = "other"
	case g.chance(50):
		p.Gender = "female"
	default:
		p.Gender = "male"
	}
	male := p.Gender == "male" || p.Gender != "female" && g.chance(50)

	// Marital status first: it chooses between Mrs. and Ms.
	ms := msNeverMarried
	if g.years >= 18 {
		ms = g.marital()
	}
	p.Marital = maritalStatuses[ms]
	g.married = ms == msMarried || ms == msWidowed

	var family string
	switch kind {
	case edgeSmith:
		family = familySmith
	case edgeJohnson:
		family = familyJohnson
	case edgeAccented:
		family = accentedFamily[g.n(len(accentedFamily))]
	case edgeApostrophe:
		family = apostropheFamily[g.n(len(apostropheFamily))]
	default:
		family = g.f.LastName()
	}
	given := make([]string, 1, 2)
	given[0] = g.given(male, kind == edgeAccented || kind == edgeApostrophe && g.chance(50))
	if g.chance(35) {
		second := g.given(male, kind == edgeAccented && g.chance(50))
		if second != given[0] {
			given = append(given, second)
		}
	}
	p.Name = HumanName{Given: given, Family: family}
	if prefix := g.prefix(p.Gender); prefix != "" {
		p.Name.Prefix = []string{prefix}
	}
	if p.Gender == "male" && g.years >= 18 && g.chance(3) {
		p.Name.Suffix = []string{[]string{"Jr.", "Sr.", "III"}[g.n(3)]}
	}
}

// contact draws the rest of the demographics: language, address, telecom,
// general practitioner and growth percentiles.
func (g *patientGen) contact() {
	p := &g.rec.Patient
	family, given := p.Name.Family, p.Name.Given
	g.spanish = spanishFamily[family] && g.chance(60) || g.chance(4)
	p.Language = langEnglishUS
	if g.spanish {
		p.Language = langSpanish
	}

	p.Address = Address{Line: []string{g.f.Street()}, City: g.f.City(), State: g.f.StateAbr(), PostalCode: g.f.Zip(), Country: "US"}
	p.Telecom = make([]Telecom, 1, 3)
	p.Telecom[0] = Telecom{System: "phone", Value: fictionalPhone(g.f), Use: "home"}
	if g.years >= 13 && g.chance(60) {
		p.Telecom = append(p.Telecom, Telecom{System: "phone", Value: fictionalPhone(g.f), Use: "mobile"})
	}
	if g.years >= 18 && g.chance(55) {
		local := emailLocal(given[0], family)
		if g.chance(40) {
			local += strconv.Itoa(g.between(1, 99))
		}
		p.Telecom = append(p.Telecom, Telecom{System: "email", Value: local + "@" + emailDomains[g.n(len(emailDomains))], Use: "home"})
	}

	switch {
	case g.years < 18:
		g.gp = g.practitioner(spPediatrics)
	case g.chance(60):
		g.gp = g.practitioner(spFamily)
	default:
		g.gp = g.practitioner(spInternal)
	}
	p.GP = g.practRef(g.gp)

	g.heightP, g.weightP, g.headP = g.between(0, 1000), g.between(0, 1000), g.between(0, 1000)
}

// age draws an age from a distribution close to the US population's.
func (g *patientGen) age() (years, days int) {
	type band struct{ lo, hi, weight int }
	bands := [...]band{{0, 0, 2}, {1, 4, 5}, {5, 12, 9}, {13, 17, 6}, {18, 29, 15}, {30, 44, 19}, {45, 64, 25}, {65, 79, 14}, {80, 99, 5}}
	x := g.n(100)
	for _, b := range bands {
		if x < b.weight {
			if b.hi == 0 {
				return 0, g.between(31, 364) // newborns are an edge case of their own
			}
			return g.between(b.lo, b.hi), g.between(0, 364)
		}
		x -= b.weight
	}
	return 40, 0
}

func (g *patientGen) marital() int {
	x := g.n(100)
	switch {
	case x < 2:
		return msUnmarried
	case g.years < 30:
		return pickBand(x, 72, msNeverMarried, 95, msMarried, msDivorced)
	case g.years < 65:
		return pickBand(x, 20, msNeverMarried, 75, msMarried, 80, msWidowed, msDivorced)
	default:
		return pickBand(x, 8, msNeverMarried, 52, msMarried, 85, msWidowed, msDivorced)
	}
}

// pickBand maps x against ascending thresholds: pickBand(x, t1, v1, t2,
// v2, ..., last) is v1 when x < t1, v2 when x < t2, ..., else last.
func pickBand(x int, pairs ...int) int {
	for k := 0; k+1 < len(pairs); k += 2 {
		if x < pairs[k] {
			return pairs[k+1]
		}
	}
	return pairs[len(pairs)-1]
}

func (g *patientGen) given(male, accented bool) string {
	switch {
	case accented && male:
		return accentedMaleGiven[g.n(len(accentedMaleGiven))]
	case accented:
		return accentedFemaleGiven[g.n(len(accentedFemaleGiven))]
	case male:
		return maleGiven[g.n(len(maleGiven))]
	default:
		return femaleGiven[g.n(len(femaleGiven))]
	}
}

func (g *patientGen) prefix(gender string) string {
	switch {
	case gender != "male" && gender != "female", g.years < 1:
		return ""
	case g.years < 18 && gender == "male":
		return "Master"
	case g.years < 18:
		return "Miss"
	case g.years >= 28 && g.chance(3):
		return "Dr."
	case gender == "male":
		return "Mr."
	case g.married:
		return "Mrs."
	default:
		return "Ms."
	}
}

func (g *patientGen) practitioner(sp int) int {
	list := g.h.byspecialty[sp]
	return list[g.n(len(list))]
}

func (g *patientGen) practRef(k int) Reference {
	p := &g.h.Practitioners[k]
	return Reference{Type: "Practitioner", ID: p.ID, Display: "Dr. " + p.Name.Given[0] + " " + p.Name.Family}
}

func (g *patientGen) locRef(k int) Reference {
	l := &g.h.Locations[k]
	return Reference{Type: "Location", ID: l.ID, Display: l.Name}
}

// ---- conditions (chosen before the encounters they are recorded at) ----

func (g *patientGen) chooseConditions() {
	if g.i%20 == edgeNewborn {
		return
	}
	y := g.years
	var want int
	switch {
	case y < 1:
		want = pickBand(g.n(100), 75, 0, 1)
	case y < 18:
		want = pickBand(g.n(100), 45, 0, 80, 1, 2)
	case y < 45:
		want = pickBand(g.n(100), 30, 0, 65, 1, 87, 2, 3)
	case y < 65:
		want = g.between(1, 4)
	case y < 100:
		want = g.between(2, 5)
	default:
		want = g.between(3, 5)
	}
	months := ageMonths(g.birth, g.ref)
	var eligible [64]int
	var weights [64]int
	ne, total := 0, 0
	for k, c := range conditions {
		if months < c.MinMonths || c.MaxYears > 0 && y > c.MaxYears {
			continue
		}
		w := c.Weight
		if y >= 65 && c.MinMonths >= 45*12 {
			w *= 2
		}
		eligible[ne], weights[ne] = k, w
		ne++
		total += w
	}
	for len(g.conds) < want && total > 0 {
		x := g.n(total)
		e := 0
		for ; x >= weights[e]; e++ {
			x -= weights[e]
		}
		k := eligible[e]
		total -= weights[e]
		weights[e] = 0
		if k == condDiabetes && g.hasCond(condPrediabetes) || k == condPrediabetes && g.hasCond(condDiabetes) {
			continue
		}
		g.conds = append(g.conds, pendingCondition{def: k, slot: -1})
	}
	g.adultBMI = g.between(190, 295)
	if g.hasCond(condObesity) {
		g.adultBMI = g.between(300, 380)
	}
}

func (g *patientGen) hasCond(k int) bool {
	for _, c := range g.conds {
		if c.def == k {
			return true
		}
	}
	return false
}

// ---- encounters ----

func (g *patientGen) encounters() {
	if g.i%20 == edgeNewborn {
		g.birthEncounter()
		return
	}
	y := g.years
	var n int
	switch {
	case y < 2:
		n = g.between(3, 6)
	case y < 45:
		n = g.between(2, 5)
	case y < 65:
		n = g.between(2, 7)
	default:
		n = g.between(3, 8)
	}
	acute := 0
	for _, c := range g.conds {
		if conditions[c.def].Kind == "acute" {
			acute++
		}
	}
	n = min(max(n, acute+1), 8)

	// Visits fall on distinct days of the last five years (or since birth).
	refDay := dayOf(g.ref)
	from := refDay.AddDate(-5, 0, 0)
	if b := g.birth.Add(3 * day); b.After(from) {
		from = b
	}
	span := int(refDay.Sub(from) / day)
	n = min(n, span)
	var offs [8]int
	for k := 0; k < n; {
		o := g.n(span)
		if !slices.Contains(offs[:k], o) {
			offs[k] = o
			k++
		}
	}
	slices.Sort(offs[:n])
	g.slots = make([]slot, n)
	for k := range g.slots {
		g.slots[k] = slot{start: from.AddDate(0, 0, offs[k]), etype: -1, reason: -1}
	}

	// Acute conditions each bring the patient in once; the slot must be
	// old enough for the condition (age, COVID-19 not before 2020-03).
	for ci := range g.conds {
		c := &g.conds[ci]
		def := &conditions[c.def]
		if def.Kind != "acute" {
			continue
		}
		start := g.n(n)
		for k := 0; k < n; k++ {
			s := &g.slots[(start+k)%n]
			if s.etype >= 0 || !g.fits(def, s.start) {
				continue
			}
			c.slot = (start + k) % n
			s.reason, s.fever = c.def, def.Fever
			switch def.Setting {
			case setOffice:
				s.etype = etSymptom
				if g.chance(40) {
					s.etype = etUrgentCare
				}
			case setEmergency:
				s.etype = etEmergencyRoom
			default:
				s.etype = etEmergencyAdmission
			}
			break
		}
	}
	for k := range g.slots {
		if g.slots[k].etype < 0 {
			g.slots[k].etype = g.routineType(g.slots[k].start)
		}
	}
	// Chronic conditions are recorded at a routine visit; a later
	// non-wellness visit becomes its follow-up.
	for ci := range g.conds {
		c := &g.conds[ci]
		def := &conditions[c.def]
		if def.Kind != "chronic" {
			continue
		}
		start := g.n(n)
		for k := 0; k < n; k++ {
			j := (start + k) % n
			s := &g.slots[j]
			if s.reason >= 0 && conditions[s.reason].Kind == "acute" || !g.fits(def, s.start) {
				continue
			}
			c.slot = j
			if s.etype != etWellChild && s.etype != etGeneralExam && s.etype != etCheckUp && s.reason < 0 {
				s.etype, s.reason = etProblem, c.def
			}
			for l := j + 1; l < n; l++ {
				t := &g.slots[l]
				if t.reason < 0 && (t.etype == etSymptom || t.etype == etCheckUp) {
					t.etype, t.reason = etFollowUp, c.def
					break
				}
			}
			break
		}
	}
	g.hasHTN, g.hasCOPD = false, false
	for _, c := range g.conds {
		if c.slot >= 0 {
			g.hasHTN = g.hasHTN || c.def == condHypertension
			g.hasCOPD = g.hasCOPD || c.def == condCOPD || c.def == condEmphysema
		}
	}
	g.buildEncounters()
}

// fits reports whether a condition may be recorded at time t.
func (g *patientGen) fits(def *conditionDef, t time.Time) bool {
	if ageMonths(g.birth, t) < def.MinMonths {
		return false
	}
	if def.NotBefore > 0 && t.Year()*100+int(t.Month()) < def.NotBefore {
		return false
	}
	return true
}

// routineType picks the type of a visit that no acute condition caused.
func (g *patientGen) routineType(t time.Time) int {
	age := ageYears(g.birth, t)
	x := g.n(100)
	switch {
	case x < 50:
		if age < 18 {
			return etWellChild
		}
		return etGeneralExam
	case x < 65:
		return etCheckUp
	case x < 78:
		return etSymptom
	case x < 85:
		return etUrgentCare
	case x < 91:
		return etEmergencyRoom
	case age >= 75:
		return etHomeVisit
	case g.rec.Patient.Gender == "female" && age >= 18 && age <= 42:
		return etPrenatal
	case x < 95:
		return etHospitalAdmission
	default:
		return etCheckUp
	}
}

func (g *patientGen) birthEncounter() {
	g.slots = []slot{{start: g.birth, etype: etHospitalAdmission, reason: -1}}
	g.buildEncounters()
}

// buildEncounters turns slots into Encounters with times, places and
// attending practitioners, oldest first.
func (g *patientGen) buildEncounters() {
	n := len(g.slots)
	encs := make([]Encounter, n)
	newborn := g.i%20 == edgeNewborn
	deceased := g.i%50 == edgeDeceased
	for k := range g.slots {
		s := &g.slots[k]
		e := &encs[k]
		e.ID = "enc-" + g.pid + "-" + strconv.Itoa(k+1)
		et := &encounterTypes[s.etype]
		e.Type, e.Class = et.Code, et.ActCode
		child := ageYears(g.birth, s.start) < 18
		clinic := locFamilyMedicine
		switch {
		case child:
			clinic = locPediatrics
		case g.h.Practitioners[g.gp].Specialty == specialties[spInternal].Name:
			clinic = locInternalMedicine
		}
		loc, att := clinic, g.gp
		var minutes [2]int // duration range
		var from, to int   // start hour range
		switch s.etype {
		case etEmergencyRoom:
			loc, att, minutes, from, to = locEmergency, g.practitioner(spEmergency), [2]int{120, 480}, 0, 23
		case etUrgentCare:
			loc, att, minutes, from, to = locUrgentCare, g.practitioner(spEmergency), [2]int{30, 120}, 8, 20
		case etEmergencyAdmission:
			loc, att, minutes, from, to = locWard, g.practitioner(spHospitalist), [2]int{2 * 1440, 6 * 1440}, 0, 23
			if s.reason >= 0 && conditions[s.reason].Meds == mgIschemic {
				att = g.practitioner(spCardiology)
				if g.chance(40) {
					loc = locICU
				}
			}
		case etHospitalAdmission:
			loc, att, minutes, from, to = locWard, g.practitioner(spHospitalist), [2]int{1440, 4 * 1440}, 6, 20
			if newborn {
				loc, att, minutes = locNursery, g.gp, [2]int{36 * 60, 72 * 60}
			}
		case etHomeVisit:
			loc, minutes, from, to = locHomeHealth, [2]int{30, 90}, 9, 16
		case etPrenatal:
			loc, att, minutes, from, to = locObstetrics, g.practitioner(spObstetrics), [2]int{20, 45}, 8, 16
		default:
			minutes, from, to = [2]int{15, 45}, 8, 16
			if g.chance(20) {
				att = g.practitioner(g.h.specialtyOf(g.gp))
			}
		}
		if newborn {
			e.Start = s.start.Add(time.Duration(g.between(60, 22*60)) * time.Minute)
		} else {
			e.Start = s.start.Add(time.Duration(g.between(from*60, to*60+55)/5*5) * time.Minute)
		}
		e.End = e.Start.Add(time.Duration(g.between(minutes[0], minutes[1])) * time.Minute)
		if k+1 < n {
			// The next visit starts on a later day at 00:00 at the
			// earliest; a stay never overlaps it.
			if next := g.slots[k+1].start; !e.End.Before(next) {
				e.End = next.Add(-time.Minute)
			}
		}
		e.Status = "finished"
		e.Location = g.locRef(loc)
		e.Attender = g.practRef(att)
		if s.reason >= 0 {
			c := conditions[s.reason].Code
			e.Reason = &c
		}
	}
	if n > 0 {
		last := &encs[n-1]
		switch {
		case deceased:
			if last.End.After(g.ref) {
				last.End = g.ref
			}
			slack := int(g.ref.Sub(last.End) / time.Minute)
			g.death = last.End.Add(time.Duration(g.between(0, min(slack, 20*1440))) * time.Minute)
			g.rec.Patient.Deceased = true
			g.rec.Patient.DeceasedDate = g.death
		case last.End.After(g.ref):
			last.End, last.Status = time.Time{}, "in-progress"
		case g.i%50 == edgeInProgress || !newborn && g.chance(3):
			// A visit under way right now: it began a few hours ago
			// (unless that would overlap the previous one; a newborn
			// is still in the nursery).
			start := g.ref.Add(-time.Duration(g.between(30, 300)) * time.Minute)
			if !newborn && (n == 1 || start.After(encs[n-2].End)) {
				last.Start = start
			}
			last.End, last.Status = time.Time{}, "in-progress"
		}
	}
	g.rec.Encounters = encs
}

func (h *Hospital) specialtyOf(k int) int {
	for sp := range h.byspecialty {
		if slices.Contains(h.byspecialty[sp], k) {
			return sp
		}
	}
	return spFamily
}

// ---- vital signs ----

// growth knots: age in days -> low/high tenths, interpolated by the
// patient's percentile; heights and weights only rise with age.
type knot struct{ days, lo, hi int }

var (
	heightKnots = [...]knot{{0, 460, 540}, {182, 630, 710}, {365, 710, 800}, {730, 850, 900}, {1095, 910, 1000}, {1826, 1040, 1160}, {2922, 1190, 1350}, {4383, 1400, 1600}}
	infantWt    = [...]knot{{0, 25, 43}, {182, 60, 90}, {365, 75, 115}, {730, 100, 130}}
	headKnots   = [...]knot{{0, 330, 370}, {182, 410, 450}, {365, 440, 480}, {730, 460, 500}, {1095, 470, 520}}
)

const adultDays = 6574 // 18 years

func interp(k []knot, days, p int) int {
	if days <= k[0].days {
		return k[0].lo + (k[0].hi-k[0].lo)*p/1000
	}
	for j := 1; j < len(k); j++ {
		if days <= k[j].days {
			a, b := k[j-1], k[j]
			lo := a.lo + (b.lo-a.lo)*(days-a.days)/(b.days-a.days)
			hi := a.hi + (b.hi-a.hi)*(days-a.days)/(b.days-a.days)
			return lo + (hi-lo)*p/1000
		}
	}
	last := k[len(k)-1]
	return last.lo + (last.hi-last.lo)*p/1000
}

// heightAt returns the height in tenths of a cm at the given age in days.
func (g *patientGen) heightAt(days int) int {
	lo, hi := 1550, 1900
	switch g.rec.Patient.Gender {
	case "female":
		lo, hi = 1500, 1800
	case "male":
		lo, hi = 1600, 1950
	}
	adult := lo + (hi-lo)*g.heightP/1000
	last := heightKnots[len(heightKnots)-1]
	switch {
	case days >= adultDays:
		return adult
	case days > last.days:
		at12 := last.lo + (last.hi-last.lo)*g.heightP/1000
		return at12 + (adult-at12)*(days-last.days)/(adultDays-last.days)
	default:
		return interp(heightKnots[:], days, g.heightP)
	}
}

// weightAt returns the weight in tenths of a kg for a height (tenths of a
// cm) at the given age in days.
func (g *patientGen) weightAt(days, height int) int {
	if days < 730 {
		return interp(infantWt[:], days, g.weightP)
	}
	childBMI := 140 + 60*g.weightP/1000
	var bmi, lo, hi int
	switch {
	case days < 4383:
		bmi, lo, hi = childBMI, 100, 500
	case days < adultDays:
		bmi = childBMI + (g.adultBMI-childBMI)*(days-4383)/(adultDays-4383)
		lo, hi = 250, 1200
	default:
		bmi, lo, hi = g.adultBMI, 450, 1400
	}
	w := (bmi*height*height + 500_000) / 1_000_000
	if days >= adultDays {
		w += g.between(-20, 20)
	}
	return min(max(w, lo), hi)
}

// vitals measures the patient at each encounter: routine visits record the
// full set, other visits a varying subset, home visits no height, weight or
// respiratory rate. Effective is the encounter start.
func (g *patientGen) vitals() {
	encs := g.rec.Encounters
	qs := make([]Quantity, 0, len(encs)*9)
	obs := make([]Observation, 0, len(encs)*9)
	comps := make([]Component, 0, len(encs)*2)
	k := 0
	add := func(e *Encounter, v int, q Quantity) {
		k++
		qs = append(qs, q)
		def := &vitalSigns[v]
		o := Observation{ID: "obs-" + g.pid + "-" + strconv.Itoa(k), EncounterID: e.ID, Key: def.Key, Code: def.Code, Value: &qs[len(qs)-1], Effective: e.Start, Status: "final"}
		switch v {
		case vSpO2:
			o.Extra = []Coding{spO2Also}
		case vHeadCirc:
			o.ExtraR4 = []Coding{headCircR4}
		}
		obs = append(obs, o)
	}
	for ei := range encs {
		e := &encs[ei]
		s := &g.slots[ei]
		days := int(e.Start.Sub(g.birth) / day)
		years := ageYears(g.birth, e.Start)
		full := s.etype == etWellChild || s.etype == etGeneralExam || s.etype == etCheckUp || s.etype == etPrenatal || g.i%20 == edgeNewborn
		home := s.etype == etHomeVisit

		h, w := 0, 0
		if full || !home && g.chance(30) {
			h = g.heightAt(days)
			add(e, vHeight, g.q(vHeight, h))
		}
		if full || !home && g.chance(50) {
			w = g.weightAt(days, g.heightAt(days))
			add(e, vWeight, g.q(vWeight, w))
		}
		if h > 0 && w > 0 && years >= 2 {
			hm := float64(h) / 1000
			bmi := float64(w) / 10 / (hm * hm)
			add(e, vBMI, Quantity{Value: math.Round(bmi*10) / 10, Decimals: 1, Unit: vitalSigns[vBMI].Unit, Code: vitalSigns[vBMI].UCUM})
		}
		if full && days < 1095 {
			add(e, vHeadCirc, g.q(vHeadCirc, interp(headKnots[:], days, g.headP)))
		}
		if full || g.chance(92) {
			lo, hi := 60, 100
			switch {
			case days < 365:
				lo, hi = 100, 160
			case days < 730:
				lo, hi = 90, 150
			case years < 13:
				lo, hi = 70, 120
			}
			if s.fever {
				lo, hi = lo+10, hi+15
			}
			add(e, vHeartRate, g.q(vHeartRate, g.between(lo, hi)*10))
		}
		if !home && (full || g.chance(90)) {
			lo, hi := 12, 20
			switch {
			case days < 365:
				lo, hi = 30, 60
			case days < 730:
				lo, hi = 24, 40
			case years < 13:
				lo, hi = 18, 30
			case g.hasCOPD:
				lo, hi = 16, 24
			}
			add(e, vRespRate, g.q(vRespRate, g.between(lo, hi)*10))
		}
		if full || g.chance(90) {
			r := vitalSigns[vTemp].Adult
			if years < 13 {
				r = vitalSigns[vTemp].Child
			}
			if s.fever {
				r = tenths{380, 395}
			}
			add(e, vTemp, g.q(vTemp, g.between(r.Lo, r.Hi)))
		}
		if full || g.chance(90) {
			lo := 95
			if g.hasCOPD {
				lo = 90
			}
			add(e, vSpO2, g.q(vSpO2, g.between(lo, 100)*10))
		}
		if years >= 3 && (full || home || g.chance(85)) {
			sr, dr := vitalSigns[vSystolic].Adult, vitalSigns[vDiastolic].Adult
			if years < 13 {
				sr, dr = vitalSigns[vSystolic].Child, vitalSigns[vDiastolic].Child
			} else if g.hasHTN {
				sr, dr = tenths{1300, 1600}, tenths{800, 1000}
			}
			sys := g.between(sr.Lo/10, sr.Hi/10)
			dia := min(g.between(dr.Lo/10, dr.Hi/10), sys-20)
			k++
			comps = append(comps,
				Component{Code: vitalSigns[vSystolic].Code, Value: g.q(vSystolic, sys*10)},
				Component{Code: vitalSigns[vDiastolic].Code, Value: g.q(vDiastolic, dia*10)})
			obs = append(obs, Observation{
				ID: "obs-" + g.pid + "-" + strconv.Itoa(k), EncounterID: e.ID, Key: KeyBloodPressure,
				Code: bpPanelSTU3, CodeDSTU2: bpPanelDSTU2, Components: comps[len(comps)-2 : len(comps) : len(comps)],
				Effective: e.Start, Status: "final",
			})
		}
	}
	g.rec.Vitals = obs
}

// q builds a quantity from a value in tenths of the vital's unit.
func (g *patientGen) q(v, t int) Quantity {
	def := &vitalSigns[v]
	return Quantity{Value: float64(t) / 10, Decimals: def.Decimals, Unit: def.Unit, Code: def.UCUM}
}

// ---- conditions: dates, status, severity ----

func (g *patientGen) finishConditions() {
	out := make([]Condition, 0, len(g.conds))
	for _, c := range g.conds {
		if c.slot < 0 {
			continue // no visit fits it: the patient does not have it
		}
		def := &conditions[c.def]
		e := &g.rec.Encounters[c.slot]
		cond := Condition{Code: def.Code, Kind: def.Kind, Recorded: e.Start, EncounterID: e.ID, Asserter: e.Attender, Clinical: "active"}
		earliest := g.birth.AddDate(0, def.MinMonths, 0)
		if def.Kind == "acute" {
			cond.Onset = e.Start.Add(-time.Duration(g.between(0, 72*60)) * time.Minute)
			if cond.Onset.Before(earliest) {
				cond.Onset = earliest
			}
			end := cond.Onset.AddDate(0, 0, g.between(5, 21))
			if def.Setting == setAdmission {
				end = cond.Onset.AddDate(0, 0, g.between(30, 90))
			}
			if !end.After(g.ref) && (g.death.IsZero() || !end.After(g.death)) {
				cond.Clinical, cond.Abatement = "resolved", end
			}
		} else {
			maxBack := int(e.Start.Sub(earliest) / day)
			back := g.between(0, min(maxBack, 5*365))
			cond.Onset = dayOf(e.Start).AddDate(0, 0, -back)
			if cond.Onset.Before(earliest) {
				cond.Onset = earliest
			}
			if cond.Onset.After(e.Start) {
				cond.Onset = e.Start
			}
		}
		if g.chance(70) {
			sev := sevMild
			switch {
			case def.Setting == setAdmission && def.Kind == "acute":
				sev = sevSevere
			case def.Setting == setEmergency && def.Kind == "acute":
				sev = sevModerate + g.n(2)
			case def.Kind == "acute":
				sev = g.n(2)
			default:
				sev = pickBand(g.n(100), 45, sevMild, 85, sevModerate, sevSevere)
			}
			s := conditionSeverity[sev]
			cond.Severity = &s
		}
		out = append(out, cond)
	}
	slices.SortStableFunc(out, func(a, b Condition) int { return a.Recorded.Compare(b.Recorded) })
	for k := range out {
		out[k].ID = "cond-" + g.pid + "-" + strconv.Itoa(k+1)
	}
	g.rec.Conditions = out
}

// ---- allergies ----

func (g *patientGen) allergies() {
	if g.i%20 == edgeNoAllergies || g.i%20 == edgeNewborn {
		return
	}
	months := ageMonths(g.birth, g.ref)
	want := 0
	switch {
	case months < 12:
		if g.chance(8) {
			want = 1
		}
	case g.chance(30):
		want = pickBand(g.n(100), 60, 1, 88, 2, 3)
	}
	if want == 0 {
		return
	}
	out := make([]Allergy, 0, want)
	g.allergyEnc = make([]int, 0, want)
	var used [32]bool
	for tries := 0; len(out) < want && tries < 20; tries++ {
		total := 0
		for _, s := range allergySubstances {
			total += s.Weight
		}
		x, si := g.n(total), 0
		for ; x >= allergySubstances[si].Weight; si++ {
			x -= allergySubstances[si].Weight
		}
		sub := &allergySubstances[si]
		if used[si] || months < 12 && si != 4 && si != 5 { // infants: egg or milk only
			continue
		}
		used[si] = true
		a := Allergy{Substance: sub.Code, Category: sub.Category, Verification: "confirmed", Clinical: "active"}

		// Recorded at a visit when there is one, else on a day of the
		// last ten years.
		enc := -1
		if len(g.rec.Encounters) > 0 {
			enc = g.n(len(g.rec.Encounters))
			a.Recorded = g.rec.Encounters[enc].Start
		} else {
			from := g.birth.AddDate(0, 1, 0)
			if f := dayOf(g.ref).AddDate(-10, 0, 0); f.After(from) {
				from = f
			}
			a.Recorded = from.AddDate(0, 0, g.n(max(1, int(g.ref.Sub(from)/day)))).Add(time.Duration(g.between(8*60, 17*60)) * time.Minute)
			if a.Recorded.After(g.ref) {
				a.Recorded = g.ref
			}
		}
		span := int(dayOf(a.Recorded).Sub(g.birth) / day)
		a.Onset = g.birth.AddDate(0, 0, span-g.n(min(span, 10*365)+1))

		// One coded manifestation per reaction (the Patients app reads
		// one); a second one seen is named in the description. The
		// coded one is the more serious.
		m0, m1 := sub.Reactions[g.n(len(sub.Reactions))], -1
		if g.chance(50) {
			if m := sub.Reactions[g.n(len(sub.Reactions))]; m != m0 {
				m1 = m
			}
		}
		if m1 == reAnaphylaxis || m1 >= 0 && seriousReaction(m1) && !seriousReaction(m0) {
			m0, m1 = m1, m0
		}
		r := Reaction{Manifestation: allergyReactions[m0], Description: plain(allergyReactions[m0].Display)}
		if m1 >= 0 {
			r.Description += " and " + strings.ToLower(plain(allergyReactions[m1].Display))
		}
		r.Description += " after exposure to " + strings.ToLower(plain(sub.Code.Display))
		r.Severity = []string{"mild", "moderate"}[g.n(2)]
		a.Criticality = "low"
		severe := seriousReaction(m0)
		if severe {
			r.Severity, a.Criticality = "severe", "high"
			if m0 == reAnaphylaxis {
				g.anaphylaxy = len(out)
			}
		} else if g.chance(5) {
			a.Criticality = "unable-to-assess"
		}
		a.Reactions = []Reaction{r}

		switch {
		case (si == 4 || si == 5) && g.years >= 10 && g.chance(50):
			a.Clinical = "resolved" // outgrown egg or milk allergy
		case g.chance(3):
			a.Clinical = "inactive"
		}
		if g.chance(30) {
			a.Verification = "unconfirmed"
		}
		a.Note = allergyNote(sub.Category, a.Verification, m0 == reAnaphylaxis)
		a.Recorder = g.rec.Patient.GP
		out = append(out, a)
		g.allergyEnc = append(g.allergyEnc, enc)
	}
	order := make([]int, len(out))
	for k := range order {
		order[k] = k
	}
	slices.SortStableFunc(order, func(a, b int) int { return out[a].Recorded.Compare(out[b].Recorded) })
	sorted := make([]Allergy, len(out))
	encs := make([]int, len(out))
	ana := -1
	for k, o := range order {
		sorted[k] = out[o]
		sorted[k].ID = "alg-" + g.pid + "-" + strconv.Itoa(k+1)
		encs[k] = g.allergyEnc[o]
		if o == g.anaphylaxy {
			ana = k
		}
	}
	g.anaphylaxy, g.allergyEnc = ana, encs
	g.rec.Allergies = sorted
}

func seriousReaction(m int) bool { return m == reAnaphylaxis || m == reAngioedema }

// plain drops the SNOMED CT semantic tag: "Wheal (finding)" -> "Wheal".
func plain(display string) string {
	if i := strings.LastIndex(display, " ("); i > 0 && strings.HasSuffix(display, ")") {
		return display[:i]
	}
	return display
}

func allergyNote(category, verification string, anaphylaxis bool) string {
	var note string
	switch category {
	case catFood:
		note = "Strict avoidance advised; reads food labels."
	case catMedication:
		note = "Do not prescribe; use an alternative agent."
	default:
		note = "Avoid exposure where possible."
	}
	if anaphylaxis {
		note += " Carries an epinephrine auto-injector."
	}
	if verification == "unconfirmed" {
		return note + " Reported by the patient; not confirmed by testing."
	}
	if category == catMedication {
		return note + " Reaction observed during treatment."
	}
	return note + " Confirmed by skin prick test."
}

// ---- medications ----

func (g *patientGen) medications() {
	out := make([]Medication, 0, 6)
	has := func(code string) bool {
		for k := range out {
			if out[k].Code.Code == code {
				return true
			}
		}
		return false
	}
	conflict := func(code string) bool {
		for _, a := range g.rec.Allergies {
			for _, dc := range drugConflicts {
				if a.Substance == allergySubstances[dc.Substance].Code && slices.Contains(dc.Codes, code) {
					return true
				}
			}
		}
		return false
	}
	for ci := range g.rec.Conditions {
		c := &g.rec.Conditions[ci]
		def := conditionByCode(c.Code.Code)
		if def == nil || def.Meds == mgNone {
			continue
		}
		want := 1
		if (def.Meds == mgHypertension || def.Meds == mgDiabetes || def.Meds == mgIschemic) && g.chance(40) {
			want = 2
		}
		grp := &medGroups[def.Meds]
		age := ageYears(g.birth, c.Recorded)
		start := g.n(len(grp.Meds))
		for k := 0; k < len(grp.Meds) && want > 0 && len(out) < 6; k++ {
			m := &grp.Meds[(start+k)%len(grp.Meds)]
			if age < m.MinAge || has(m.Code.Code) || conflict(m.Code.Code) {
				continue
			}
			want--
			course := m.CourseDays
			if course == 0 && def.Kind == "acute" && def.Meds == mgPain {
				course = 14
			}
			enc := g.encounter(c.EncounterID)
			reason := c.Code
			med := Medication{Code: m.Code, Status: "active", Authored: c.Recorded, Prescriber: enc.Attender, DosageText: m.Dosage, Reason: &reason, EncounterID: c.EncounterID}
			switch {
			case course > 0:
				if end := c.Recorded.AddDate(0, 0, course); !end.After(g.ref) {
					med.Status, med.Ended = "completed", end
				}
			case g.chance(15):
				if end := c.Recorded.AddDate(0, 0, g.between(30, 720)); !end.After(g.ref) {
					med.Status, med.Ended = "stopped", end
				}
			}
			out = append(out, med)
		}
	}
	if g.anaphylaxy >= 0 && len(out) < 6 {
		a := &g.rec.Allergies[g.anaphylaxy]
		m := &medGroups[mgAnaphylaxis].Meds[0]
		med := Medication{Code: m.Code, Status: "active", Authored: a.Recorded, Prescriber: g.rec.Patient.GP, DosageText: m.Dosage}
		if e := g.allergyEnc[g.anaphylaxy]; e >= 0 {
			med.EncounterID = g.rec.Encounters[e].ID
			med.Prescriber = g.rec.Encounters[e].Attender
		}
		out = append(out, med)
	}
	if !g.death.IsZero() {
		for k := range out {
			if m := &out[k]; m.Status == "active" || m.Ended.After(g.death) {
				m.Status, m.Ended = "stopped", g.death
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Medication) int { return a.Authored.Compare(b.Authored) })
	for k := range out {
		out[k].ID = "med-" + g.pid + "-" + strconv.Itoa(k+1)
	}
	if len(out) > 0 {
		g.rec.Meds = out
	}
}

func conditionByCode(code string) *conditionDef {
	for k := range conditions {
		if conditions[k].Code.Code == code {
			return &conditions[k]
		}
	}
	return nil
}

func (g *patientGen) encounter(id string) *Encounter {
	for k := range g.rec.Encounters {
		if g.rec.Encounters[k].ID == id {
			return &g.rec.Encounters[k]
		}
	}
	return &Encounter{}
}

// ---- coverage ----

var planTiers = []string{"Gold PPO", "Silver HMO", "Bronze EPO", "Platinum PPO", "Choice POS"}

func (g *patientGen) coverage() {
	if g.i%50 == edgeNoCoverage {
		return
	}
	p := &g.rec.Patient
	c := &Coverage{ID: "cov-" + g.pid, Status: "active", Relationship: "self"}
	// A deceased patient's coverage is the one held at death.
	asOf := g.ref
	if !g.death.IsZero() {
		asOf = g.death
	}
	years := ageYears(g.birth, asOf)
	if years < 18 {
		c.Relationship = "child"
	}
	asOfDay := dayOf(asOf)
	payor := -1
	switch {
	case years >= 65:
		payor = payMedicare
		if g.chance(12) {
			payor = payDual
		}
	case g.i%50 == edgeSelfPay || g.chance(7):
		// Self-pay: no insurer; the patient is the payor.
		c.PlanName = "No Primary Insurance"
		c.Payor = Reference{Type: "Patient", ID: p.ID, Display: p.Name.Given[0] + " " + p.Name.Family}
	case years < 18 && g.chance(35) || g.chance(15):
		payor = payMedicaid
	default:
		payor = payFirstPrivate + g.n(len(payers)-payFirstPrivate)
	}
	c.Start = time.Date(asOfDay.Year()-g.n(9), time.January, 1, 0, 0, 0, 0, time.UTC)
	if c.Start.Before(g.birth) {
		c.Start = g.birth
	}
	if payor >= 0 {
		org := &g.h.Payors[payor]
		c.Payor = Reference{Type: "Organization", ID: org.ID, Display: org.Name}
		c.PlanValue = g.f.Numerify("PLN-######")
		c.GroupValue = g.f.Numerify("GRP-#####")
		switch payor {
		case payMedicare, payDual:
			c.PlanName = "Medicare Part A and B"
			if payor == payDual {
				c.PlanName = "Dual Eligible Special Needs Plan"
			}
			c.GroupName = org.Name
			c.SubscriberID = g.f.Numerify("#") + strings.ToUpper(g.f.Letter()+g.f.Letter()) + g.f.Numerify("#-###-####")
			if at65 := g.birth.AddDate(65, 0, 0); c.Start.Before(at65) {
				c.Start = at65
			}
		case payMedicaid:
			c.PlanName = "Medicaid Managed Care"
			c.GroupName = p.Address.State + " Medicaid"
			c.SubscriberID = g.f.Numerify("MCD#########")
		default:
			c.PlanName = org.Name + " " + planTiers[g.n(len(planTiers))]
			c.GroupName = g.f.Company()
			c.SubscriberID = strings.ToUpper(g.f.Letter()+g.f.Letter()+g.f.Letter()) + g.f.Numerify("#########")
			if c.Relationship == "self" && g.married && g.chance(30) {
				c.Relationship = "spouse"
			}
		}
	}
	if c.Start.After(asOf) {
		c.Start = asOfDay
	}
	if !g.death.IsZero() {
		c.End = g.death
	}
	if payor < 0 {
		selfPayIdentity(c, p.MRN)
	}
	g.rec.Coverage = c
}

// selfPayIdentity gives a self-pay policy the member id, group and plan
// codes an insured one has, so every release can write subscriberId and a
// named group (the STU3 interface's minimum fields) for every Coverage.
// The values are derived, not drawn: taking them from the patient's random
// stream would shift every later draw and change data outside Coverage.
// The member id is the MRN, the one identifier a self-paying patient has
// at the hospital that bills them.
func selfPayIdentity(c *Coverage, mrn string) {
	c.SubscriberID = mrn
	c.GroupName = "Self-pay"
	c.GroupValue = "SELF-PAY"
	c.PlanValue = "SELF-PAY"
}

// ---- dates ----

// dayOf returns midnight UTC of t's date.
func dayOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ageYears returns the number of whole years from birth to t.
func ageYears(birth, t time.Time) int {
	y := t.Year() - birth.Year()
	if t.Month() < birth.Month() || t.Month() == birth.Month() && t.Day() < birth.Day() {
		y--
	}
	return y
}

// ageMonths returns the number of whole months from birth to t.
func ageMonths(birth, t time.Time) int {
	m := (t.Year()-birth.Year())*12 + int(t.Month()) - int(birth.Month())
	if t.Day() < birth.Day() {
		m--
	}
	return m
}
