package seed

import (
	"errors"
	"fmt"
	randv2 "math/rand/v2"
	"strconv"
	"time"

	"github.com/brianvoe/gofakeit/v6"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Reference dates outside these years are rejected: patients are up to 106
// years old and every date must render as a four-digit FHIR year.
const (
	minReferenceYear = 1950
	maxReferenceYear = 2999
)

// Errors returned by NewHospital and Generate, wrapped with details.
var (
	ErrBadTenant        = errors.New("bad tenant")
	ErrBadPatients      = errors.New("bad patient count")
	ErrBadReferenceDate = errors.New("bad reference date")
)

// MRNSystem is the identifier system of the tenant's medical record numbers.
func MRNSystem(tenant string) string { return "urn:uuid:" + tenant }

// MRNSystem is the identifier system of the hospital's MRNs,
// MRNSystem(h.Tenant).
func (h *Hospital) MRNSystem() string { return h.mrnSystem }

// validate returns opts in canonical form: the tenant GUID lower-cased
// without braces and the reference date in UTC, whole seconds, without a
// monotonic clock reading, so equal inputs always seed equal data.
func (opts Options) validate() (Options, error) {
	var errs []error
	t, err := spec.ParseGUID(opts.Tenant)
	if err != nil {
		errs = append(errs, fmt.Errorf("%w %q: %w", ErrBadTenant, opts.Tenant, err))
	}
	opts.Tenant = t
	if opts.Patients < 0 || opts.Patients > spec.MaxPatients {
		errs = append(errs, fmt.Errorf("%w %d: want 0 to %d", ErrBadPatients, opts.Patients, spec.MaxPatients))
	}
	ref := opts.ReferenceDate.Round(0).UTC().Truncate(time.Second)
	if opts.ReferenceDate.IsZero() {
		errs = append(errs, fmt.Errorf("%w: not set", ErrBadReferenceDate))
	} else if y := ref.Year(); y < minReferenceYear || y > maxReferenceYear {
		errs = append(errs, fmt.Errorf("%w %s: want a year from %d to %d", ErrBadReferenceDate, ref.Format(time.RFC3339), minReferenceYear, maxReferenceYear))
	}
	opts.ReferenceDate = ref
	if len(errs) > 0 {
		return Options{}, fmt.Errorf("seed options: %w", errors.Join(errs...))
	}
	return opts, nil
}

// NewHospital validates opts and builds the tenant-level resources: the
// hospital Organization, the payor Organizations, the Practitioners and
// the Locations. Patients is left empty; see Patient and Generate.
func NewHospital(opts Options) (*Hospital, error) {
	opts, err := opts.validate()
	if err != nil {
		return nil, err
	}
	h := &Hospital{Tenant: opts.Tenant, Options: opts, mrnSystem: MRNSystem(opts.Tenant)}
	f := newFaker(streamHospital, opts.Seed, opts.Tenant, 0)

	city, state, zip := f.City(), f.StateAbr(), f.Zip()
	var name string
	switch f.IntRange(0, 2) {
	case 0:
		name = city + " General Hospital"
	case 1:
		name = f.LastName() + " Memorial Hospital"
	default:
		name = "St. " + f.RandomString(maleGiven) + "'s Medical Center"
	}
	if opts.Name != "" {
		// drawn all the same above, so the values drawn after it do not
		// move
		name = opts.Name
	}
	h.Organization = Organization{
		ID:      "org-hospital",
		Name:    name,
		Type:    "prov",
		Phone:   fictionalPhone(f),
		Address: Address{Line: []string{f.Street()}, City: city, State: state, PostalCode: zip, Country: "US"},
		// The NPI draws from a stream of its own: drawing it from f
		// would shift every later hospital value.
		NPI: npi(newFaker(streamHospitalNPI, opts.Seed, opts.Tenant, 0)),
	}

	h.Payors = make([]Organization, len(payers))
	for k, p := range payers {
		h.Payors[k] = Organization{
			ID:      "org-payor-" + strconv.Itoa(k+1),
			Name:    p.Name,
			Type:    "pay",
			Phone:   fictionalPhone(f),
			Address: Address{Line: []string{f.Street()}, City: f.City(), State: f.StateAbr(), PostalCode: f.Zip(), Country: "US"},
		}
	}

	n := 0
	for _, s := range specialties {
		n += s.Count
	}
	h.Practitioners = make([]Practitioner, 0, n)
	for sp, s := range specialties {
		for range s.Count {
			k := len(h.Practitioners)
			gender, given := "female", f.RandomString(femaleGiven)
			if f.Bool() {
				gender, given = "male", f.RandomString(maleGiven)
			}
			family := f.LastName()
			h.byspecialty[sp] = append(h.byspecialty[sp], k)
			h.Practitioners = append(h.Practitioners, Practitioner{
				ID:     "pract-" + strconv.Itoa(k+1),
				NPI:    npi(f),
				Name:   HumanName{Prefix: []string{"Dr."}, Given: []string{given}, Family: family},
				Gender: gender,
				Telecom: []Telecom{
					{System: "phone", Value: fictionalPhone(f), Use: "work"},
					{System: "email", Value: emailLocal(given, family) + "@" + emailDomains[1], Use: "work"},
				},
				Specialty: s.Name,
			})
		}
	}

	h.Locations = make([]Location, len(hospitalLocations))
	for k, l := range hospitalLocations {
		h.Locations[k] = Location{
			ID:          "loc-" + strconv.Itoa(k+1),
			Name:        l.Name,
			Description: l.Description,
			Type:        l.Type,
			Phone:       fictionalPhone(f),
		}
	}

	// The MRN permutation is a tenant-level secret of the generator: an
	// affine map a*i+b mod mrnSpan with a coprime to mrnSpan is a
	// bijection, so MRNs are unique without coordination between patients.
	a := f.Uint64()%mrnSpan | 1
	for a%3 == 0 || a%5 == 0 {
		a += 2
	}
	h.mrnA, h.mrnB = a%mrnSpan, f.Uint64()%mrnSpan
	return h, nil
}

// Generate builds the hospital and all opts.Patients patients.
func Generate(opts Options) (*Hospital, error) {
	h, err := NewHospital(opts)
	if err != nil {
		return nil, err
	}
	h.Patients = make([]PatientRecord, h.Options.Patients)
	for i := range h.Patients {
		h.Patients[i] = h.Patient(i)
	}
	return h, nil
}

// MRNs are 8 digits without a leading zero: 10000000 + perm(i).
const (
	mrnBase = 10_000_000
	mrnSpan = 90_000_000 // 2^7 * 3^2 * 5^7
)

func (h *Hospital) mrn(i int) string {
	// (a*i + b) mod span without overflow: i < spec.MaxPatients < 2^20 and
	// a < 2^27, so a*i < 2^47.
	v := (h.mrnA*uint64(i) + h.mrnB) % mrnSpan
	return strconv.FormatUint(mrnBase+v, 10)
}

// Random streams: a domain tag keeps the hospital's and each patient's
// draws independent even for equal numeric inputs.
const (
	streamHospital    = "hospital"
	streamPatient     = "patient"
	streamHospitalNPI = "hospital-npi"
)

// streamSeed hashes (stream, seed, tenant, index) with FNV-1a 64 and a
// SplitMix64 finaliser, computed by hand so it costs no allocation.
func streamSeed(stream string, seed int64, tenant string, index int) int64 {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(stream); i++ {
		h = (h ^ uint64(stream[i])) * prime
	}
	h *= prime // separator: a zero byte
	for s, k := uint64(seed), 0; k < 8; k, s = k+1, s>>8 {
		h = (h ^ (s & 0xff)) * prime
	}
	for i := 0; i < len(tenant); i++ {
		h = (h ^ uint64(tenant[i])) * prime
	}
	h *= prime // separator: a zero byte
	for s, k := uint64(index), 0; k < 8; k, s = k+1, s>>8 {
		h = (h ^ (s & 0xff)) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return int64(h)
}

// newFaker returns the gofakeit instance of one random stream.
//
// gofakeit.New would seed math/rand's lagged Fibonacci source, whose
// seeding alone costs about 14 µs and 5 KB, a third of a patient. The
// instance instead draws from a PCG source (math/rand/v2, a fixed and
// documented algorithm, so the stream is the same on every platform and
// Go release); one instance serves one goroutine, so it needs no lock.
func newFaker(stream string, seed int64, tenant string, index int) *gofakeit.Faker {
	s := &pcgSource{}
	s.Seed(streamSeed(stream, seed, tenant, index))
	return gofakeit.NewCustom(s)
}

// pcgSource adapts math/rand/v2's PCG to the math/rand Source64 that
// gofakeit draws from.
type pcgSource struct{ pcg randv2.PCG }

func (s *pcgSource) Uint64() uint64 { return s.pcg.Uint64() }
func (s *pcgSource) Int63() int64   { return int64(s.pcg.Uint64() >> 1) }

// Seed sets the state from one 64-bit seed; the second PCG word is a
// fixed odd constant (the golden ratio), as one seed is all we have.
func (s *pcgSource) Seed(seed int64) { s.pcg.Seed(uint64(seed), 0x9e3779b97f4a7c15) }

// fictionalPhone returns a US number in the 555-0100..555-0199 block that
// is reserved for fiction, so no generated number rings a real phone.
func fictionalPhone(f *gofakeit.Faker) string {
	area := f.IntRange(201, 989)
	for area%100 == 11 { // N11 codes are service codes, not area codes
		area++
	}
	return "(" + strconv.Itoa(area) + ") 555-01" + twoDigits(f.IntRange(0, 99))
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// npi returns a 10-digit National Provider Identifier with a valid Luhn
// check digit (computed over the prefix 80840 + the first nine digits).
func npi(f *gofakeit.Faker) string {
	var d [10]int
	d[0] = 1 + f.IntRange(0, 1) // NPIs start with 1 or 2
	for k := 1; k < 9; k++ {
		d[k] = f.IntRange(0, 9)
	}
	sum := 24 // Luhn contribution of the 80840 prefix
	for k := 8; k >= 0; k-- {
		v := d[k]
		if (8-k)%2 == 0 {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	d[9] = (10 - sum%10) % 10
	b := make([]byte, 10)
	for k, v := range d {
		b[k] = byte('0' + v)
	}
	return string(b)
}
