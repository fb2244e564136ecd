package fhir

import (
	"crypto/sha1"
	"html"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// Code systems and fixed URIs shared by both releases. Clinical codes
// (LOINC, SNOMED CT, RxNorm) never appear here: they come from the seed
// records, which take them from data/clinical-codes.yaml.
const (
	xhtmlNS            = "http://www.w3.org/1999/xhtml"
	systemUCUM         = "http://unitsofmeasure.org"
	systemV2IDType     = "http://hl7.org/fhir/v2/0203"
	systemNPI          = "http://hl7.org/fhir/sid/us-npi"
	systemOrgType      = "http://hl7.org/fhir/organization-type"
	systemObsCategory  = "http://hl7.org/fhir/observation-category"
	systemActCode      = "http://hl7.org/fhir/v3/ActCode"
	systemParticipType = "http://hl7.org/fhir/v3/ParticipationType"
	systemCondCategory = "http://hl7.org/fhir/condition-category"
	systemPolicyRel    = "http://hl7.org/fhir/policyholder-relationship"
	systemLanguage     = "urn:ietf:bcp:47"
)

// jw writes one compact JSON document. It is hand-rolled because the
// renderers produce millions of small resources: a byte slice with a comma
// flag is several times faster than reflection, and key order is exactly
// the order of the calls, which keeps output byte-identical across runs.
//
// Every element writer skips empty values, because FHIR forbids empty
// strings, arrays and objects; callers only guard composite elements.
type jw struct {
	b     []byte
	comma bool // a value was written at this level: the next one needs ','
}

func (w *jw) sep() {
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = false
}

func (w *jw) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// open starts an object; with a non-empty k it is the value of that key.
func (w *jw) open(k string) {
	if k != "" {
		w.key(k)
	} else {
		w.sep()
	}
	w.b = append(w.b, '{')
}

func (w *jw) close() {
	w.b = append(w.b, '}')
	w.comma = true
}

// arr starts an array as the value of key k.
func (w *jw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
}

func (w *jw) closeArr() {
	w.b = append(w.b, ']')
	w.comma = true
}

// str writes "k":"v" unless v is empty.
func (w *jw) str(k, v string) {
	if v == "" {
		return
	}
	w.key(k)
	w.b = appendJSONString(w.b, v)
	w.comma = true
}

// elem writes v as an array element unless it is empty.
func (w *jw) elem(v string) {
	if v == "" {
		return
	}
	w.sep()
	w.b = appendJSONString(w.b, v)
	w.comma = true
}

// strs writes a string array, skipping empty members and the whole array
// when nothing is left.
func (w *jw) strs(k string, vs []string) {
	if !anyNonEmpty(vs) {
		return
	}
	w.arr(k)
	for _, v := range vs {
		w.elem(v)
	}
	w.closeArr()
}

func (w *jw) boolean(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.comma = true
}

// decimal writes a FHIR decimal as a JSON number with exactly the given
// digits after the point, so 36.6 never becomes 36.600000000000001.
func (w *jw) decimal(k string, v float64, decimals int) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', clampDecimals(decimals), 64)
	w.comma = true
}

func clampDecimals(d int) int {
	if d < 0 {
		return 0
	}
	if d > 6 {
		return 6
	}
	return d
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func anyNonEmpty(vs []string) bool {
	for _, v := range vs {
		if v != "" {
			return true
		}
	}
	return false
}

// appendJSONString quotes s as a JSON string holding a valid FHIR string:
// invalid UTF-8 becomes U+FFFD and C0 control characters other than tab,
// newline and carriage return are dropped, so that a bad byte in generated
// or loaded text never yields invalid JSON or invalid FHIR.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			}
			// Other control characters are dropped: FHIR strings and XHTML
			// both forbid them, so escaping would still be invalid FHIR.
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 are valid JSON but break JavaScript consumers.
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', byte('0'+r-'\u2020'))
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// ---- dates ----------------------------------------------------------------

// FHIR dates carry a four-digit year; anything outside is not representable
// and is left out rather than written invalid.
func validTime(t time.Time) bool {
	if t.IsZero() {
		return false
	}
	y := t.UTC().Year()
	return y >= 1 && y <= 9999
}

// fhirDate renders a date-only value in the calendar of its own location,
// because the seed stores birth dates and the like as plain dates.
func fhirDate(t time.Time) string {
	if t.IsZero() || t.Year() < 1 || t.Year() > 9999 {
		return ""
	}
	return t.Format(time.DateOnly)
}

// fhirDateTime renders an instant as RFC 3339 with seconds in UTC.
func fhirDateTime(t time.Time) string {
	if !validTime(t) {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05Z")
}

// utcDate is the UTC calendar day of an instant, for date-only elements
// (DSTU2 Condition.dateRecorded) derived from a point in time.
func utcDate(t time.Time) string {
	if !validTime(t) {
		return ""
	}
	return t.UTC().Format(time.DateOnly)
}

// ---- data types -------------------------------------------------------------

func hasCoding(c seed.Coding) bool { return c.Code != "" || c.Display != "" }

func (w *jw) coding(c seed.Coding) {
	w.open("")
	w.str("system", c.System)
	w.str("code", c.Code)
	w.str("display", c.Display)
	w.close()
}

// codeable writes a CodeableConcept of one coding, with text when given.
func (w *jw) codeable(k string, c seed.Coding, text string) {
	if !hasCoding(c) && text == "" {
		return
	}
	w.open(k)
	if hasCoding(c) {
		w.arr("coding")
		w.coding(c)
		w.closeArr()
	}
	w.str("text", text)
	w.close()
}

// codeableElem writes a CodeableConcept as an array element.
func (w *jw) codeableElem(c seed.Coding, text string) {
	if !hasCoding(c) && text == "" {
		return
	}
	w.open("")
	if hasCoding(c) {
		w.arr("coding")
		w.coding(c)
		w.closeArr()
	}
	w.str("text", text)
	w.close()
}

func hasRef(r seed.Reference) bool { return (r.Type != "" && r.ID != "") || r.Display != "" }

func refString(typ, id string) string {
	if typ == "" || id == "" {
		return ""
	}
	return typ + "/" + id
}

// ref writes a relative Reference "Type/id" with its display.
func (w *jw) ref(k string, r seed.Reference) {
	if !hasRef(r) {
		return
	}
	w.open(k)
	w.str("reference", refString(r.Type, r.ID))
	w.str("display", r.Display)
	w.close()
}

func (w *jw) refElem(r seed.Reference) {
	if !hasRef(r) {
		return
	}
	w.open("")
	w.str("reference", refString(r.Type, r.ID))
	w.str("display", r.Display)
	w.close()
}

// refArr writes a one-element array of references.
func (w *jw) refArr(k string, r seed.Reference) {
	if !hasRef(r) {
		return
	}
	w.arr(k)
	w.refElem(r)
	w.closeArr()
}

func (w *jw) period(k string, start, end time.Time) {
	s, e := fhirDateTime(start), fhirDateTime(end)
	if s == "" && e == "" {
		return
	}
	w.open(k)
	w.str("start", s)
	w.str("end", e)
	w.close()
}

// datePeriod is a Period whose bounds are calendar days (coverage terms).
func (w *jw) datePeriod(k string, start, end time.Time) {
	s, e := fhirDate(start), fhirDate(end)
	if s == "" && e == "" {
		return
	}
	w.open(k)
	w.str("start", s)
	w.str("end", e)
	w.close()
}

func (w *jw) quantity(k string, q seed.Quantity) {
	if !finite(q.Value) {
		return
	}
	w.open(k)
	w.decimal("value", q.Value, q.Decimals)
	w.str("unit", q.Unit)
	if q.Code != "" {
		w.str("system", systemUCUM)
		w.str("code", q.Code)
	}
	w.close()
}

func hasAddress(a seed.Address) bool {
	return anyNonEmpty(a.Line) || a.City != "" || a.State != "" || a.PostalCode != "" || a.Country != ""
}

func (w *jw) addressArr(a seed.Address, use string) {
	if !hasAddress(a) {
		return
	}
	w.arr("address")
	w.address("", a, use)
	w.closeArr()
}

// address writes one Address object, as the value of k or, with an empty
// k, as an array element.
func (w *jw) address(k string, a seed.Address, use string) {
	w.open(k)
	w.str("use", use)
	w.strs("line", a.Line)
	w.str("city", a.City)
	w.str("state", a.State)
	w.str("postalCode", a.PostalCode)
	w.str("country", a.Country)
	w.close()
}

func (w *jw) telecoms(ts []seed.Telecom) {
	n := 0
	for _, t := range ts {
		if t.Value != "" {
			n++
		}
	}
	if n == 0 {
		return
	}
	w.arr("telecom")
	for _, t := range ts {
		if t.Value == "" {
			continue
		}
		w.open("")
		w.str("system", t.System)
		w.str("value", t.Value)
		w.str("use", t.Use)
		w.close()
	}
	w.closeArr()
}

// phone writes a single work phone number as telecom.
func (w *jw) phone(p string) {
	if p == "" {
		return
	}
	w.telecoms([]seed.Telecom{{System: "phone", Value: p, Use: "work"}})
}

func hasName(n seed.HumanName) bool {
	return n.Family != "" || anyNonEmpty(n.Given) || anyNonEmpty(n.Prefix) || anyNonEmpty(n.Suffix)
}

// humanName writes the object body of an official HumanName. familyArray
// selects the DSTU2 shape, where family is a list of strings.
func (w *jw) humanName(n seed.HumanName, familyArray bool) {
	w.open("")
	w.str("use", "official")
	if familyArray {
		if n.Family != "" {
			w.arr("family")
			w.elem(n.Family)
			w.closeArr()
		}
	} else {
		w.str("family", n.Family)
	}
	w.strs("given", n.Given)
	w.strs("prefix", n.Prefix)
	w.strs("suffix", n.Suffix)
	w.close()
}

// ---- narrative --------------------------------------------------------------

// narrative collects the XHTML of Resource.text. Every value passes through
// html.EscapeString, so names such as O'Brien or Zoë stay well-formed.
type narrative struct{ b []byte }

func newNarrative(title string) *narrative {
	n := &narrative{b: make([]byte, 0, 256)}
	n.b = append(n.b, `<div xmlns="`+xhtmlNS+`">`...)
	if title != "" {
		n.b = append(n.b, "<p><b>"...)
		n.b = append(n.b, html.EscapeString(title)...)
		n.b = append(n.b, "</b></p>"...)
	}
	return n
}

// line adds "<p>label: value</p>" when the value is not empty.
func (n *narrative) line(label, value string) {
	if value == "" {
		return
	}
	n.b = append(n.b, "<p>"...)
	n.b = append(n.b, html.EscapeString(label)...)
	n.b = append(n.b, ": "...)
	n.b = append(n.b, html.EscapeString(value)...)
	n.b = append(n.b, "</p>"...)
}

func (n *narrative) div() string { return string(append(n.b, "</div>"...)) }

// text writes Resource.text with a generated narrative.
func (w *jw) text(n *narrative) {
	w.open("text")
	w.str("status", "generated")
	w.str("div", n.div())
	w.close()
}

// shapes are one release's writers of each resource. Every release emits a
// record's resources through them in the one order below, so releases
// cannot drift apart in what they serve: the same ids, the same counts.
type shapes struct {
	organization func(*seed.Organization) Resource
	practitioner func(p *seed.Practitioner, hospital *seed.Organization) Resource
	location     func(l *seed.Location, hospital *seed.Organization) Resource
	patient      func(*seed.PatientRecord) Resource
	encounter    func(*seed.PatientRecord, *seed.Encounter) Resource
	observation  func(*seed.PatientRecord, *seed.Observation) Resource
	condition    func(*seed.PatientRecord, *seed.Condition) Resource
	allergy      func(*seed.PatientRecord, *seed.Allergy) Resource
	medication   func(*seed.PatientRecord, *seed.Medication) Resource
	coverage     func(*seed.PatientRecord, *seed.Coverage) Resource
}

// renderHospital emits the hospital Organization, the payor Organizations, the
// Practitioners and the Locations, in that order.
func (s shapes) renderHospital(h *seed.Hospital, emit func(Resource)) {
	if h == nil {
		return
	}
	emit = withID(emit)
	emit(s.organization(&h.Organization))
	for i := range h.Payors {
		emit(s.organization(&h.Payors[i]))
	}
	for i := range h.Practitioners {
		emit(s.practitioner(&h.Practitioners[i], &h.Organization))
	}
	for i := range h.Locations {
		emit(s.location(&h.Locations[i], &h.Organization))
	}
}

// renderPatient emits the Patient, then its encounters, vital signs,
// conditions, allergies, medications and coverage.
func (s shapes) renderPatient(p *seed.PatientRecord, emit func(Resource)) {
	if p == nil {
		return
	}
	emit = withID(emit)
	emit(s.patient(p))
	for i := range p.Encounters {
		emit(s.encounter(p, &p.Encounters[i]))
	}
	for i := range p.Vitals {
		emit(s.observation(p, &p.Vitals[i]))
	}
	for i := range p.Conditions {
		emit(s.condition(p, &p.Conditions[i]))
	}
	for i := range p.Allergies {
		emit(s.allergy(p, &p.Allergies[i]))
	}
	for i := range p.Meds {
		emit(s.medication(p, &p.Meds[i]))
	}
	if p.Coverage != nil {
		emit(s.coverage(p, p.Coverage))
	}
}

// withID drops resources without an id: they can be neither read, stored
// nor referenced, so a record missing one is left out rather than served.
func withID(emit func(Resource)) func(Resource) {
	return func(r Resource) {
		if r.ID != "" {
			emit(r)
		}
	}
}

// ---- shared shapes ----------------------------------------------------------

// renderCap is the buffer a resource is rendered into: room for the
// largest the generators write of typ (a DSTU2 or STU3 Patient up to
// 1.45 KB, an R4 Patient 2.3 KB, the rest about 1.4 KB) and for the meta
// the store inserts (80 bytes, storedForm), so a Patient's buffer is
// neither grown nor copied on the way to the store.
func renderCap(typ string, r4 bool) int {
	switch {
	case typ != "Patient":
		return 1024
	case r4:
		return 2688
	}
	return 1536
}

// begin opens a resource: resourceType, id, then the narrative.
func begin(typ, id string, n *narrative) *jw {
	w := &jw{b: make([]byte, 0, renderCap(typ, false))}
	w.open("")
	w.str("resourceType", typ)
	w.str("id", id)
	w.text(n)
	return w
}

func (w *jw) finish(typ, id string) Resource {
	w.close()
	return Resource{Type: typ, ID: id, JSON: w.b}
}

func displayName(n seed.HumanName) string {
	b := make([]byte, 0, 48)
	add := func(s string) {
		if s == "" {
			return
		}
		if len(b) > 0 {
			b = append(b, ' ')
		}
		b = append(b, s...)
	}
	for _, p := range n.Prefix {
		add(p)
	}
	for _, g := range n.Given {
		add(g)
	}
	add(n.Family)
	for _, s := range n.Suffix {
		add(s)
	}
	return string(b)
}

func codingLabel(c seed.Coding) string {
	if c.Display != "" {
		return c.Display
	}
	return c.Code
}

func quantityLabel(q seed.Quantity) string {
	if !finite(q.Value) {
		return ""
	}
	s := strconv.FormatFloat(q.Value, 'f', clampDecimals(q.Decimals), 64)
	if q.Unit != "" {
		s += " " + q.Unit
	}
	return s
}

// orgType is the organization-type coding of a seed Organization, with
// the code a release uses for an insurer.
func orgType(kind string, payer seed.Coding) seed.Coding {
	switch kind {
	case "prov":
		return seed.Coding{System: systemOrgType, Code: "prov", Display: "Healthcare Provider"}
	case "pay":
		return payer
	}
	return seed.Coding{}
}

// beginOrganization opens an Organization up to its type, which releases
// write in their own shape; finishOrganization writes the rest.
func beginOrganization(o *seed.Organization, typ seed.Coding) *jw {
	n := newNarrative(o.Name)
	n.line("Type", typ.Display)
	n.line("Phone", o.Phone)
	n.line("City", o.Address.City)
	w := begin("Organization", o.ID, n)
	w.boolean("active", true)
	return w
}

func finishOrganization(w *jw, o *seed.Organization) Resource {
	w.str("name", o.Name)
	w.phone(o.Phone)
	w.addressArr(o.Address, "work")
	return w.finish("Organization", o.ID)
}

func locationNarrative(l *seed.Location) *narrative {
	n := newNarrative(l.Name)
	n.line("Description", l.Description)
	n.line("Type", codingLabel(l.Type))
	n.line("Phone", l.Phone)
	return n
}

func location(l *seed.Location, org *seed.Organization) Resource {
	w := begin("Location", l.ID, locationNarrative(l))
	w.str("status", "active")
	w.str("name", l.Name)
	w.str("description", l.Description)
	w.str("mode", "instance")
	w.codeable("type", l.Type, "")
	w.phone(l.Phone)
	if org != nil {
		w.ref("managingOrganization", seed.Reference{Type: "Organization", ID: org.ID, Display: org.Name})
	}
	return w.finish("Location", l.ID)
}

func practitionerNarrative(p *seed.Practitioner) *narrative {
	n := newNarrative(displayName(p.Name))
	n.line("NPI", p.NPI)
	n.line("Specialty", p.Specialty)
	n.line("Gender", p.Gender)
	return n
}

func (w *jw) npi(v string) {
	if v == "" {
		return
	}
	w.arr("identifier")
	w.open("")
	w.str("system", systemNPI)
	w.str("value", v)
	w.close()
	w.closeArr()
}

// mrnIdentifier writes the patient's identifier array: the MRN typed with
// v2-0203 MR so that clients find it whatever the system URI is.
func (w *jw) mrnIdentifier(mrn, system string) {
	if mrn == "" {
		return
	}
	w.arr("identifier")
	w.open("")
	w.str("use", "usual")
	w.codeable("type", seed.Coding{System: systemV2IDType, Code: "MR", Display: "Medical record number"}, "")
	w.str("system", system)
	w.str("value", mrn)
	w.close()
	w.closeArr()
}

func patientNarrative(p *seed.Patient) *narrative {
	n := newNarrative(displayName(p.Name))
	n.line("MRN", p.MRN)
	n.line("Gender", p.Gender)
	n.line("Birth date", fhirDate(p.BirthDate))
	n.line("General practitioner", p.GP.Display)
	return n
}

// deceased writes Patient.deceased[x], a dateTime when the date of death is
// known and a boolean otherwise; both releases allow either.
func (w *jw) deceased(p *seed.Patient) {
	if !p.Deceased {
		return
	}
	if d := fhirDateTime(p.DeceasedDate); d != "" {
		w.str("deceasedDateTime", d)
		return
	}
	w.boolean("deceasedBoolean", true)
}

// communication writes Patient.communication for the seed language.
func (w *jw) communication(lang seed.Coding) {
	if !hasCoding(lang) {
		return
	}
	w.arr("communication")
	w.open("")
	w.codeable("language", lang, "")
	w.boolean("preferred", true)
	w.close()
	w.closeArr()
}

// encounterRef and friends point at resources of the same patient.
func typedRef(typ, id string) seed.Reference { return seed.Reference{Type: typ, ID: id} }

func patientRef(p *seed.PatientRecord) seed.Reference {
	return seed.Reference{Type: "Patient", ID: p.Patient.ID, Display: displayName(p.Patient.Name)}
}

func encounterRef(id string) seed.Reference {
	if id == "" {
		return seed.Reference{}
	}
	return typedRef("Encounter", id)
}

// participantATND is the v3 ParticipationType "attender" used for the
// attending practitioner of an Encounter in both releases.
func participantATND() seed.Coding {
	return seed.Coding{System: systemParticipType, Code: "ATND", Display: "attender"}
}

// encounterClassDSTU2 maps the seed's v3 ActCode to the DSTU2
// encounter-class code; unknown codes fall back to "other".
func encounterClassDSTU2(actCode string) string {
	switch actCode {
	case "AMB":
		return "ambulatory"
	case "EMER":
		return "emergency"
	case "IMP", "ACUTE", "NONAC":
		return "inpatient"
	case "HH":
		return "home"
	case "FLD":
		return "field"
	case "SS":
		return "daytime"
	case "VR":
		return "virtual"
	}
	return "other"
}

// encounterClassSTU3 is the v3 ActCode coding of STU3 Encounter.class.
func encounterClassSTU3(actCode string) seed.Coding {
	if actCode == "" {
		return seed.Coding{}
	}
	c := seed.Coding{System: systemActCode, Code: actCode}
	switch actCode {
	case "AMB":
		c.Display = "ambulatory"
	case "EMER":
		c.Display = "emergency"
	case "IMP":
		c.Display = "inpatient encounter"
	case "HH":
		c.Display = "home health"
	}
	return c
}

func encounterNarrative(e *seed.Encounter) *narrative {
	n := newNarrative(codingLabel(e.Type))
	n.line("Status", e.Status)
	n.line("Start", fhirDateTime(e.Start))
	n.line("End", fhirDateTime(e.End))
	n.line("Location", e.Location.Display)
	n.line("Attending", e.Attender.Display)
	if e.Reason != nil {
		n.line("Reason", codingLabel(*e.Reason))
	}
	return n
}

func (w *jw) encounterParticipant(e *seed.Encounter) {
	if !hasRef(e.Attender) {
		return
	}
	w.arr("participant")
	w.open("")
	w.arr("type")
	w.codeableElem(participantATND(), "")
	w.closeArr()
	w.ref("individual", e.Attender)
	w.close()
	w.closeArr()
}

func (w *jw) encounterReason(e *seed.Encounter) {
	if e.Reason == nil || !hasCoding(*e.Reason) {
		return
	}
	w.arr("reason")
	w.codeableElem(*e.Reason, "")
	w.closeArr()
}

func (w *jw) encounterLocation(e *seed.Encounter) {
	if !hasRef(e.Location) {
		return
	}
	w.arr("location")
	w.open("")
	w.ref("location", e.Location)
	w.close()
	w.closeArr()
}

func observationNarrative(o *seed.Observation, code seed.Coding) *narrative {
	n := newNarrative(codingLabel(code))
	n.line("Effective", fhirDateTime(o.Effective))
	if o.Value != nil {
		n.line("Value", quantityLabel(*o.Value))
	}
	for _, c := range o.Components {
		n.line(codingLabel(c.Code), quantityLabel(c.Value))
	}
	return n
}

// observationCode writes Observation.code: the release's coding first, then
// any extra codings the seed adds (oxygen saturation's second LOINC).
func (w *jw) observationCode(code seed.Coding, extra []seed.Coding) {
	w.open("code")
	w.arr("coding")
	if hasCoding(code) {
		w.coding(code)
	}
	for _, c := range extra {
		if hasCoding(c) {
			w.coding(c)
		}
	}
	w.closeArr()
	w.str("text", codingLabel(code))
	w.close()
}

func (w *jw) observationValue(o *seed.Observation) {
	if o.Value != nil {
		w.quantity("valueQuantity", *o.Value)
	}
	n := 0
	for _, c := range o.Components {
		if finite(c.Value.Value) {
			n++
		}
	}
	if n == 0 {
		return
	}
	w.arr("component")
	for _, c := range o.Components {
		if !finite(c.Value.Value) {
			continue
		}
		w.open("")
		w.codeable("code", c.Code, codingLabel(c.Code))
		w.quantity("valueQuantity", c.Value)
		w.close()
	}
	w.closeArr()
}

func observationStatus(s string) string {
	if s == "" {
		return "final"
	}
	return s
}

func vitalSignsCategory() seed.Coding {
	return seed.Coding{System: systemObsCategory, Code: "vital-signs", Display: "Vital Signs"}
}

func conditionNarrative(c *seed.Condition) *narrative {
	n := newNarrative(codingLabel(c.Code))
	n.line("Clinical status", c.Clinical)
	if c.Severity != nil {
		n.line("Severity", codingLabel(*c.Severity))
	}
	n.line("Onset", fhirDateTime(c.Onset))
	n.line("Abatement", fhirDateTime(c.Abatement))
	n.line("Recorded", fhirDateTime(c.Recorded))
	n.line("Asserter", c.Asserter.Display)
	return n
}

// conditionAbated reports whether abatement may be written: both releases
// forbid an abatement on a condition still active (STU3 con-4).
func conditionAbated(c *seed.Condition) bool {
	return validTime(c.Abatement) && c.Clinical != "" && c.Clinical != "active"
}

func allergyNarrative(a *seed.Allergy) *narrative {
	n := newNarrative(codingLabel(a.Substance))
	n.line("Category", a.Category)
	n.line("Criticality", a.Criticality)
	n.line("Clinical status", a.Clinical)
	n.line("Verification", a.Verification)
	n.line("Recorded", fhirDateTime(a.Recorded))
	for _, r := range a.Reactions {
		n.line("Reaction", joinNonEmpty(codingLabel(r.Manifestation), r.Severity))
	}
	n.line("Note", a.Note)
	return n
}

func joinNonEmpty(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + " (" + b + ")"
}

func (w *jw) annotation(text string) {
	w.open("")
	w.str("text", text)
	w.close()
}

func medicationNarrative(m *seed.Medication) *narrative {
	n := newNarrative(codingLabel(m.Code))
	n.line("Status", m.Status)
	n.line("Written", fhirDateTime(m.Authored))
	n.line("Ended", fhirDateTime(m.Ended))
	n.line("Prescriber", m.Prescriber.Display)
	n.line("Dosage", m.DosageText)
	if m.Reason != nil {
		n.line("Reason", codingLabel(*m.Reason))
	}
	return n
}

func (w *jw) dosage(text string) {
	if text == "" {
		return
	}
	w.arr("dosageInstruction")
	w.open("")
	w.str("text", text)
	w.close()
	w.closeArr()
}

func coverageNarrative(c *seed.Coverage) *narrative {
	n := newNarrative(c.Payor.Display)
	n.line("Plan", c.PlanName)
	n.line("Group", c.GroupName)
	n.line("Subscriber ID", c.SubscriberID)
	n.line("Relationship", c.Relationship)
	n.line("Start", fhirDate(c.Start))
	n.line("End", fhirDate(c.End))
	return n
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// stableUUID derives a name-based (version 5 style) UUID from parts, so
// the same resource gets the same urn:uuid in every run.
func stableUUID(parts ...string) string {
	h := sha1.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	sum := h.Sum(nil)
	sum[6] = (sum[6] & 0x0f) | 0x50
	sum[8] = (sum[8] & 0x3f) | 0x80
	return spec.FormatGUID([16]byte(sum[:16]))
}

// mrnSystem is the identifier system of the patient's MRN, which depends on
// the tenant.
func mrnSystem(p *seed.PatientRecord) string {
	return p.MRNSystem
}

// provider is the hospital Organization that manages the patient and
// provides the encounters.
func provider(p *seed.PatientRecord) seed.Reference {
	return p.Provider
}

// ---- profiles and extensions (R4) -------------------------------------------

// metaProfile writes meta.profile, the profiles a resource claims to
// conform to; the store adds versionId and lastUpdated beside it. Empty
// URLs are skipped and nothing is written when none is left.
func (w *jw) metaProfile(urls ...string) {
	if !anyNonEmpty(urls) {
		return
	}
	w.open("meta")
	w.strs("profile", urls)
	w.close()
}

// extensionCoding writes {"url":url,"valueCoding":c} as an array element.
func (w *jw) extensionCoding(url string, c seed.Coding) {
	if !hasCoding(c) {
		return
	}
	w.open("")
	w.str("url", url)
	w.key("valueCoding")
	w.coding(c)
	w.close()
}

// extensionString writes {"url":url,"valueString":v} as an array element.
func (w *jw) extensionString(url, v string) {
	if v == "" {
		return
	}
	w.open("")
	w.str("url", url)
	w.str("valueString", v)
	w.close()
}

// extensionCode writes {"url":url,"valueCode":v} as an array element.
func (w *jw) extensionCode(url, v string) {
	if v == "" {
		return
	}
	w.open("")
	w.str("url", url)
	w.str("valueCode", v)
	w.close()
}
