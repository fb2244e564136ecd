package store

import (
	"container/list"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Population is a generated population whose resources a store derives on
// demand instead of holding them: every patient's record is a pure
// function of its number, so it is generated and rendered when first
// asked for and kept in a bounded cache. Written and loaded resources
// overlay the generated ones by type and id.
type Population interface {
	// Len is the number of patients, numbered 0..Len()-1.
	Len() int
	// Holds reports whether a patient's record may hold resources of typ.
	Holds(typ string) bool
	// Owner is the patient whose record would hold typ/id, judged from
	// the id alone (the record decides whether it really exists).
	Owner(typ, id string) (int, bool)
	// PatientID is the id of patient i's Patient resource.
	PatientID(i int) string
	// Record renders patient i's resources, always in the same order.
	Record(i int, emit func(typ, id string, json []byte))
	// Demographics are patient i's searchable Patient values, for the
	// population index.
	Demographics(i int) Demographics
}

// PatientRenderer is a Population that can render one patient's Patient
// without the rest of the record: a read of a Patient, or a page of a
// Patient search, then costs a small part of the whole record.
type PatientRenderer interface {
	// RecordPatient renders patient i's Patient: the same id and bytes
	// Record emits for it, always as its first resource.
	RecordPatient(i int) (id string, json []byte)
}

// Demographics are the values of one generated Patient that the
// population index answers the Patient searches of the partner interface
// from: identifier, name, family, given, birthdate, gender and _id. They
// must be exactly what the rendered Patient holds (a test compares them
// with the values extracted from it).
type Demographics struct {
	ID        string
	MRN       string // identifier value
	MRNSystem string // identifier system
	Family    string
	Given     []string // at most two
	Prefix    []string // at most one
	Suffix    []string // at most one
	Gender    string
	BirthDate string // YYYY-MM-DD
}

// DerivedOptions configure a store's derived population.
type DerivedOptions struct {
	// Updated is the lastUpdated of every generated resource.
	Updated time.Time
	// CachePatients bounds how many patients' rendered records are kept
	// (least recently used go first); at least 1.
	CachePatients int
	// Index is the population's index, shared by the stores of several
	// releases of one population; nil builds one.
	Index *PopulationIndex
}

// PopulationIndex is a population's index, built in the background so a
// store answers reads at once; the Patient searches that need it wait for
// it. It depends on the patients' demographics only, so the stores of
// every release of one population share it.
type PopulationIndex struct {
	done chan struct{}
	ix   *popIndex
	err  error
}

// BuildPopulationIndex starts indexing pop on workers goroutines (0 means
// GOMAXPROCS) and returns at once.
func BuildPopulationIndex(pop Population, workers int) *PopulationIndex {
	p := &PopulationIndex{done: make(chan struct{})}
	go func() {
		defer close(p.done)
		p.ix, p.err = buildIndex(pop, workers)
	}()
	return p
}

// Wait waits for the index and returns its build error: a population the
// index cannot hold is still served, its Patient searches by scanning.
func (p *PopulationIndex) Wait() error {
	<-p.done
	return p.err
}

func (p *PopulationIndex) index() *popIndex {
	<-p.done
	return p.ix
}

// seqStride spaces the creation order of consecutive patients' resources:
// patient i's k-th resource has seq base + i*seqStride + k + 1, so derived
// resources sort exactly as the stored ones did (patient by patient, each
// record in order) without being stored.
const seqStride = 1 << 12

// derived is a store's generated population.
type derived struct {
	pop     Population
	updated time.Time
	base    uint64 // seq of the last resource stored before the population
	idx     *PopulationIndex
	cache   *unitCache
}

// unit is one patient's rendered record, generated in two steps: the
// Patient alone when the population can render it alone (a read of a
// Patient needs nothing else), the whole record when another of its
// resources is asked for. Its resources become Docs (parsed, stored form
// encoded, index values extracted) one by one when first needed: a read
// needs one, a patient's vital signs its Observations only.
type unit struct {
	i    int
	mu   sync.Mutex
	head *lazyDoc   // the Patient; nil until needed
	docs []*lazyDoc // the whole record, the Patient first (head itself)
	full bool       // docs is generated
}

type lazyDoc struct {
	typ, id string
	seq     uint64
	once    sync.Once
	raw     []byte // the rendered JSON, until it is made a Doc
	doc     *Doc   // nil when the rendered JSON does not store
}

// doc makes the resource a Doc once. A rendering in the form the store
// writes (storedForm) becomes the Doc's bytes without being parsed; its
// index values are extracted only if a search needs them.
func (s *Store) doc(l *lazyDoc) *Doc {
	l.once.Do(func() {
		raw := l.raw
		l.raw = nil
		j, ok := storedForm(raw, l.typ, l.id, s.der.updated)
		if !ok {
			p, err := parse(raw)
			if err != nil || p.typ != l.typ {
				return // a renderer's bug; the store would have refused it too
			}
			if j, err = p.encode(l.id, 1, s.der.updated); err != nil {
				return
			}
		}
		l.doc = &Doc{Type: l.typ, ID: l.id, Version: 1, Updated: s.der.updated, JSON: j, seq: l.seq, pos: -1, lazy: &lazyVals{s: s}}
	})
	return l.doc
}

// SetPopulation makes the store derive pop's resources instead of holding
// them; resources already stored (the hospital's) come before the
// population in creation order, resources stored later after it. The
// population index is built in the background unless opt.Index is given.
// It must be called before anything else is written to the store's
// population types.
func (s *Store) SetPopulation(pop Population, opt DerivedOptions) error {
	if pop.Len() > (1<<63-1)/seqStride-1 {
		return fmt.Errorf("population of %d patients is too large", pop.Len())
	}
	idx := opt.Index
	if idx == nil {
		idx = BuildPopulationIndex(pop, 0)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &derived{pop: pop, updated: opt.Updated.UTC().Truncate(time.Millisecond), base: s.seq, idx: idx, cache: newUnitCache(max(opt.CachePatients, 1))}
	for typ := range s.defs {
		if pop.Holds(typ) {
			s.table(typ) // created now: searches only read tables
		}
	}
	s.der = d
	s.seq += uint64(pop.Len()+1) * seqStride
	s.invalidateRendered()
	return nil
}

// CachedPatients is how many patients' records the cache holds now.
func (s *Store) CachedPatients() int {
	if s.der == nil {
		return 0
	}
	return s.der.cache.len()
}

// unitOf returns patient i's record, from the cache or new (and cached
// when keep); its resources are generated when asked for (unitPatient,
// unitDocs).
func (s *Store) unitOf(i int, keep bool) *unit {
	d := s.der
	if u := d.cache.get(i); u != nil {
		return u
	}
	u := &unit{i: i}
	if keep {
		u = d.cache.put(i, u)
	}
	return u
}

// unitPatient is the unit's Patient, rendered alone when the population
// can, else from the whole record; nil when the record has none.
func (s *Store) unitPatient(u *unit) *lazyDoc {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.head == nil && !u.full {
		if pr, ok := s.der.pop.(PatientRenderer); ok {
			id, b := pr.RecordPatient(u.i)
			u.head = &lazyDoc{typ: "Patient", id: id, seq: s.der.base + uint64(u.i)*seqStride + 1, raw: b}
		} else {
			s.generateLocked(u)
		}
	}
	return u.head
}

// unitDocs are every resource of the unit's record, in the record's
// order; the Patient is the one unitPatient returned.
func (s *Store) unitDocs(u *unit) []*lazyDoc {
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.full {
		s.generateLocked(u)
	}
	return u.docs
}

// generateLocked generates the unit's whole record; u.mu must be held.
// A Patient rendered alone before stays the record's Patient, so every
// reader sees the same Doc.
func (s *Store) generateLocked(u *unit) {
	base := s.der.base + uint64(u.i)*seqStride
	k := uint64(0)
	s.der.pop.Record(u.i, func(typ, id string, b []byte) {
		k++
		if _, ok := s.defs[typ]; !ok {
			return
		}
		l := &lazyDoc{typ: typ, id: id, seq: base + k, raw: b}
		if typ == "Patient" {
			if h := u.head; h != nil && h.id == id && h.seq == l.seq {
				l = h
			} else if h == nil {
				u.head = l
			}
		}
		u.docs = append(u.docs, l)
	})
	u.full = true
}

// docsOf are the resources of type typ that patient i's record may hold:
// for a Patient, the Patient alone.
func (s *Store) docsOf(i int, typ string, keep bool) []*lazyDoc {
	u := s.unitOf(i, keep)
	if typ == "Patient" {
		if l := s.unitPatient(u); l != nil {
			return []*lazyDoc{l}
		}
		return nil
	}
	return s.unitDocs(u)
}

// derivedDoc is the generated typ/id, unless the overlay has replaced or
// deleted it; s.mu must be held.
func (s *Store) derivedDoc(t *table, typ, id string, keep bool) *Doc {
	if s.der == nil || !s.der.pop.Holds(typ) {
		return nil
	}
	if t != nil && (t.byID[id] != nil || t.hasGone(id)) {
		return nil
	}
	i, ok := s.der.pop.Owner(typ, id)
	if !ok || i < 0 || i >= s.der.pop.Len() {
		return nil
	}
	for _, l := range s.docsOf(i, typ, keep) {
		if l.typ == typ && l.id == id {
			return s.doc(l)
		}
	}
	return nil
}

func (t *table) hasGone(id string) bool {
	_, ok := t.gone[id]
	return ok
}

// currentLocked is the resource a write replaces: the overlay's, else the
// generated one; s.mu must be held.
func (s *Store) currentLocked(typ, id string) *Doc {
	t := s.tables[typ]
	if t != nil {
		if d := t.byID[id]; d != nil {
			return d
		}
	}
	return s.derivedDoc(t, typ, id, false)
}

// isDerived reports whether a doc is a generated one (never in a table).
func (d *Doc) isDerived() bool { return d.pos < 0 }

// unitCache is an LRU of rendered patient records.
type unitCache struct {
	max   int
	mu    sync.Mutex
	order *list.List // front: most recently used; values are *cacheEntry
	byNum map[int]*list.Element
}

type cacheEntry struct {
	i int
	u *unit
}

func newUnitCache(n int) *unitCache {
	return &unitCache{max: n, order: list.New(), byNum: make(map[int]*list.Element)}
}

func (c *unitCache) get(i int) *unit {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byNum[i]; e != nil {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).u
	}
	return nil
}

// put caches u as patient i's record and returns the cached one (another
// request may have rendered the same patient meanwhile: the first wins, so
// every reader sees the same Docs).
func (c *unitCache) put(i int, u *unit) *unit {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.byNum[i]; e != nil {
		c.order.MoveToFront(e)
		return e.Value.(*cacheEntry).u
	}
	c.byNum[i] = c.order.PushFront(&cacheEntry{i: i, u: u})
	for c.order.Len() > c.max {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.byNum, last.Value.(*cacheEntry).i)
	}
	return u
}

func (c *unitCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// searchDerived runs a search on a type the population holds: the
// overlay's matches merged, in creation order, with the generated ones,
// found through the population index (Patient), the patients a reference
// or _id names (patient-scoped searches), or else by generating the whole
// population. s.mu must be held for reading.
func (s *Store) searchDerived(q Query) Result {
	t := s.tables[q.Type]
	var over []*Doc
	cands, exact := t.candidates(q.Filters)
	for _, d := range cands {
		if t.matchAll(d, q.Filters, exact) {
			over = append(over, d)
		}
	}
	// a table's positions follow when a resource entered the overlay, and
	// a replaced generated resource keeps its place in the population's
	// creation order: merge by that order
	slices.SortFunc(over, bySeq)
	var ix *popIndex
	if q.Type == "Patient" {
		ix = s.der.idx.index()
	}
	if ix != nil && len(q.Sort) == 0 {
		if it, total, ok := ix.search(s, t, q.Filters); ok {
			return s.pageIndexed(t, q, it, total, over)
		}
	}
	var gen []*Doc
	keep := false
	nums, scoped := s.scopedPatients(t, q)
	if scoped {
		keep = true // a patient's own queries: worth caching
	} else if ix != nil {
		nums, scoped = ix.candidates(s, t, q.Filters)
	}
	collect := func(i int, out []*Doc) []*Doc {
		for _, l := range s.docsOf(i, q.Type, keep) {
			if l.typ != q.Type || t.byID[l.id] != nil || t.hasGone(l.id) {
				continue
			}
			if d := s.doc(l); d != nil && t.matchAll(d, q.Filters, -1) {
				out = append(out, d)
			}
		}
		return out
	}
	if scoped {
		for _, i := range nums {
			gen = collect(i, gen)
		}
	} else {
		gen = s.scanPopulation(collect)
	}
	return s.page(t, mergeSeq(gen, over), q)
}

// scanPopulation calls collect for every patient, on every core, and
// concatenates what it returns in patient order. Records are not cached:
// a scan would only push out the records that are being used.
func (s *Store) scanPopulation(collect func(i int, out []*Doc) []*Doc) []*Doc {
	n := s.der.pop.Len()
	const chunk = 256
	chunks := (n + chunk - 1) / chunk
	parts := make([][]*Doc, chunks)
	var next sync.Mutex
	c := 0
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				next.Lock()
				b := c
				c++
				next.Unlock()
				if b >= chunks {
					return
				}
				var out []*Doc
				for i := b * chunk; i < min(n, (b+1)*chunk); i++ {
					out = collect(i, out)
				}
				parts[b] = out
			}
		}()
	}
	wg.Wait()
	return slices.Concat(parts...)
}

// scopedPatients are the patients whose records can hold a match, when a
// filter names them: a reference (patient=, subject=, encounter=) or _id
// whose every value is a generated resource's id. ok is false when no
// filter narrows the search to a few patients.
func (s *Store) scopedPatients(t *table, q Query) (nums []int, ok bool) {
	n := s.der.pop.Len()
	best := []int(nil)
	found := false
	for _, f := range q.Filters {
		if f.Missing || f.Modifier == "missing" || f.Modifier == "not" {
			continue
		}
		var set []int
		all := true
		for _, v := range f.Values {
			typ, id := q.Type, v.Code
			switch {
			case f.param == -1:
			case f.Type == Reference:
				if ty, rest, has := cutRef(v.Code); has {
					typ, id = ty, rest
				} else if f.target != "" {
					typ = f.target
				} else {
					typ = ""
				}
			default:
				all = false
			}
			if !all {
				break
			}
			i, owned := -1, false
			if typ != "" {
				i, owned = s.der.pop.Owner(typ, id)
			} else {
				i, owned = s.ownerAnyType(id)
			}
			if !owned || i < 0 || i >= n {
				// an id no generated record holds: only overlay resources
				// can match this value
				continue
			}
			set = append(set, i)
		}
		if !all {
			continue
		}
		slices.Sort(set)
		set = slices.Compact(set)
		if !found || len(set) < len(best) {
			best, found = set, true
		}
	}
	return best, found
}

// ownerAnyType is the patient owning a bare id of any generated type.
func (s *Store) ownerAnyType(id string) (int, bool) {
	for typ := range s.tables {
		if s.der.pop.Holds(typ) {
			if i, ok := s.der.pop.Owner(typ, id); ok {
				return i, true
			}
		}
	}
	return -1, false
}

func cutRef(ref string) (typ, id string, ok bool) {
	for i := 0; i < len(ref); i++ {
		if ref[i] == '/' {
			return ref[:i], ref[i+1:], true
		}
	}
	return "", ref, false
}

// mergeSeq merges two lists sorted by creation order.
func mergeSeq(a, b []*Doc) []*Doc {
	if len(b) == 0 {
		return a
	}
	if len(a) == 0 {
		return b
	}
	out := make([]*Doc, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i].seq < b[j].seq {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// pageIndexed pages a Patient search the index answered: it yields the
// generated matches' patient numbers in order and their count, and only
// the page's patients are generated.
func (s *Store) pageIndexed(t *table, q Query, it func() (int, bool), total int, over []*Doc) Result {
	res := Result{Total: total + len(over)}
	if q.Count == 0 || q.Offset >= res.Total {
		return res
	}
	want := min(q.Offset+q.Count, res.Total)
	base := s.der.base
	page := make([]*Doc, 0, q.Count)
	nextI, more := it()
	j := 0
	for pos := 0; pos < want; pos++ {
		var d *Doc
		useOver := j < len(over) && (!more || over[j].seq < base+uint64(nextI)*seqStride+1)
		if useOver {
			if pos >= q.Offset {
				d = over[j]
			}
			j++
		} else if more {
			if pos >= q.Offset {
				d = s.patientDoc(nextI)
			}
			nextI, more = it()
		} else {
			break
		}
		if d != nil {
			page = append(page, d)
		}
	}
	res.Matches = page
	if len(q.Includes) > 0 {
		res.Included = s.includes(t, res.Matches, q.Includes)
	}
	return res
}

// patientDoc is generated patient i's Patient resource.
func (s *Store) patientDoc(i int) *Doc {
	if l := s.unitPatient(s.unitOf(i, true)); l != nil {
		return s.doc(l)
	}
	return nil
}
