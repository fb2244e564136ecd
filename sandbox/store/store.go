package store

import (
	"cmp"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrNotFound is returned for a resource that does not exist (or was
// deleted).
var ErrNotFound = errors.New("resource not found")

// ErrGone is returned when reading a deleted resource.
var ErrGone = errors.New("resource deleted")

// ErrPrecondition is returned by a conditional write whose condition does
// not hold for the current version.
var ErrPrecondition = errors.New("precondition failed")

// Doc is one stored resource. It is immutable once stored: an update makes
// a new Doc, so a reader holding a Doc never sees it change.
type Doc struct {
	Type    string
	ID      string
	Version int
	Updated time.Time
	JSON    []byte // the stored bytes, meta included; written out as-is
	seq     uint64 // creation order, kept across updates
	pos     int    // place in its table's byPos, kept across updates
	vals    []value
	// lazy, for a generated resource, extracts vals from JSON when a
	// search first needs them: a read never does.
	lazy *lazyVals
}

// lazyVals are a generated resource's index values, extracted once.
type lazyVals struct {
	once sync.Once
	s    *Store
	vals []value
}

// values are the doc's index values.
func (d *Doc) values() []value {
	z := d.lazy
	if z == nil {
		return d.vals
	}
	z.once.Do(func() {
		if p, err := parse(d.JSON); err == nil {
			z.vals = slices.Clip(z.s.indexValues(p))
		}
	})
	return z.vals
}

// Store holds the resources of one tenant in one FHIR release.
type Store struct {
	defs Definitions
	now  func() time.Time
	// segs are the parameters' paths split at the dots (splitPath), per type, param
	// and path, once: splitting them for every resource written cost an
	// allocation per path, and the official tables declare many.
	segs map[string][][][]string

	mu     sync.RWMutex
	tables map[string]*table
	seq    uint64
	hook   WriteHook
	// pending are the writes applied but not yet durable (their hook's
	// commit has not returned), oldest first, each with what undoes it;
	// cur collects the undo steps of the write being applied.
	pending []*pendingWrite
	cur     *pendingWrite
	// strs interns index strings (code systems, codes, folded names,
	// references): a population repeats the same few thousand values
	// millions of times, and one copy each is enough.
	strs map[string]string
	// der, when set, is the generated population the store derives
	// rather than holds (SetPopulation).
	der *derived
	// rendered keeps responses rendered from the current content
	// (SetRenderCache); every change of the content empties it.
	rendered Rendered
}

// internLocked returns the store's copy of v; s.mu must be held.
func (s *Store) internLocked(v string) string {
	if v == "" {
		return ""
	}
	if c, ok := s.strs[v]; ok {
		return c
	}
	if s.strs == nil {
		s.strs = make(map[string]string)
	}
	s.strs[v] = v
	return v
}

// WriteHook is called with every write (puts as Ops with the resource's
// JSON, deletes with nil JSON) after the write has been checked and before
// it is applied, under the store's write lock, so it sees writes in the
// order the store applies them. at is the lastUpdated the puts get (zero
// for a write of deletes only): a journal replaying the write through
// ApplyAt gives them the same one. When the hook fails, the write is
// refused. The commit it returns (nil: nothing to wait for) runs once the
// lock is released and before the write returns: a journal records the
// write under the lock and waits for the disk in commit, so readers never
// wait for a flush while a write is still acknowledged only once durable.
// A failed commit fails the write and the store undoes it, together with
// every write applied after it (they are not durable either: a journal
// whose sync failed refuses every later commit), so the store goes back to
// what the journal holds.
type WriteHook func(ops []Op, at time.Time) (commit func() error, err error)

// SetWriteHook installs the write hook.
func (s *Store) SetWriteHook(hook WriteHook) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = hook
}

// write runs fn under the write lock; fn calls journal with its ops before
// it changes anything. Once the lock is released, write waits for the
// hook's commit, so the caller answers only when the write is durable.
// When the commit fails the write is undone (see WriteHook) and fails
// with an error matching ErrPersist.
func (s *Store) write(fn func(journal func(at time.Time, ops ...Op) error) error) error {
	var commit func() error
	var pw *pendingWrite
	err := func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		err := fn(func(at time.Time, ops ...Op) error {
			// an empty transaction writes nothing: there is nothing to
			// make durable, and a journal may rightly refuse a write of
			// no ops
			if s.hook == nil || len(ops) == 0 {
				return nil
			}
			c, err := s.hook(ops, at)
			if err != nil {
				return fmt.Errorf("%w: %w", ErrPersist, err)
			}
			commit = c
			if c != nil {
				pw = &pendingWrite{}
				s.cur = pw
			}
			return nil
		})
		if pw != nil {
			s.cur = nil
			s.pending = append(s.pending, pw)
		}
		s.invalidateRendered() // even when fn failed: it may have changed something first
		return err
	}()
	if commit == nil {
		return err
	}
	// even when fn failed after journalling: the record is in the file,
	// and the write must not be answered before it is durable
	cerr := commit()
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.pending, pw)
	if cerr == nil {
		if i >= 0 {
			s.pending = slices.Delete(s.pending, i, i+1)
		}
		return err
	}
	if i >= 0 {
		// newest first, so each step finds the state it left
		for k := len(s.pending) - 1; k >= i; k-- {
			s.pending[k].undo(s)
		}
		s.pending = s.pending[:i]
		s.invalidateRendered()
	}
	if err == nil {
		err = fmt.Errorf("%w: %w", ErrPersist, cerr)
	}
	return err
}

// ErrPersist is a write the store's hook (the state journal) could not
// make durable: the write is not applied, or has been undone.
var ErrPersist = errors.New("write not persisted")

// pendingWrite is what undoes one write, step by step.
type pendingWrite struct{ steps []undoStep }

// undoStep restores one resource: prev is what byID held before (nil:
// nothing), next what the write put there (nil: it deleted), gone the
// deleted-version entry before.
type undoStep struct {
	t          *table
	id         string
	prev, next *Doc
	goneV      int
	goneHad    bool
}

// record notes, when a hooked write is being applied, how to undo the
// change of t's resource id from prev to next; s.mu must be held.
func (s *Store) record(t *table, id string, prev, next *Doc, goneV int, goneHad bool) {
	if s.cur != nil {
		s.cur.steps = append(s.cur.steps, undoStep{t: t, id: id, prev: prev, next: next, goneV: goneV, goneHad: goneHad})
	}
}

func (pw *pendingWrite) undo(s *Store) {
	for k := len(pw.steps) - 1; k >= 0; k-- {
		u := pw.steps[k]
		t := u.t
		if u.next != nil {
			t.unindex(u.next)
			if u.prev == nil {
				delete(t.byID, u.id)
				if u.next.pos == len(t.byPos)-1 {
					t.byPos = t.byPos[:u.next.pos]
				} else {
					t.byPos[u.next.pos] = nil
				}
			}
		}
		if u.prev != nil {
			t.byID[u.id] = u.prev
			t.byPos[u.prev.pos] = u.prev
			t.index(u.prev)
		}
		if u.goneHad {
			t.gone[u.id] = u.goneV
		} else {
			delete(t.gone, u.id)
		}
	}
}

type table struct {
	params []Param
	byID   map[string]*Doc
	byPos  []*Doc         // every resource in creation order; nil where deleted
	gone   map[string]int // deleted ids -> last version
	exact  []map[string][]*Doc
	strs   []map[string][]*Doc
}

// New returns an empty store for a release's search parameter definitions.
func New(defs Definitions, now func() time.Time) *Store {
	segs := make(map[string][][][]string, len(defs))
	for typ, ps := range defs {
		bySeg := make([][][]string, len(ps))
		for i, p := range ps {
			for _, path := range p.Paths {
				bySeg[i] = append(bySeg[i], splitPath(path))
			}
		}
		segs[typ] = bySeg
	}
	return &Store{defs: defs, now: now, segs: segs, tables: map[string]*table{}}
}

// Definitions returns the search parameters the store indexes.
func (s *Store) Definitions() Definitions { return s.defs }

func (s *Store) table(typ string) *table {
	t := s.tables[typ]
	if t == nil {
		ps := s.defs[typ]
		t = &table{params: ps, byID: map[string]*Doc{}, gone: map[string]int{}, exact: make([]map[string][]*Doc, len(ps)), strs: make([]map[string][]*Doc, len(ps))}
		for i, p := range ps {
			if p.Type == String {
				t.strs[i] = map[string][]*Doc{}
			} else {
				t.exact[i] = map[string][]*Doc{}
			}
		}
		s.tables[typ] = t
	}
	return t
}

// PutResult says what a Put did.
type PutResult struct {
	Doc     *Doc
	Created bool
}

// Put stores a resource under its id, creating or replacing it. The JSON
// must already have passed CheckJSON when it came from outside. id, when
// not empty, must match the resource's own id (or be the id to give a
// resource that has none). updated zero means now.
func (s *Store) Put(b []byte, id string, updated time.Time) (PutResult, error) {
	pr, err := s.Prepare(b)
	if err != nil {
		return PutResult{}, err
	}
	return s.PutPrepared(pr, id, updated)
}

// Create stores a new resource under a server-assigned id; an id in the
// body is ignored, as FHIR create requires.
func (s *Store) Create(b []byte, newID func() string) (PutResult, error) {
	pr, err := s.Prepare(b)
	if err != nil {
		return PutResult{}, err
	}
	pr.p.id = ""
	return s.PutPrepared(pr, newID(), time.Time{})
}

// Prepared is a resource parsed and indexed, ready to store. Preparing
// needs no lock, so loaders prepare on several goroutines and store in
// order on one.
type Prepared struct {
	p    *parsed
	vals []value
}

// Prepare parses a resource and extracts its index keys.
func (s *Store) Prepare(b []byte) (*Prepared, error) {
	p, err := parse(b)
	if err != nil {
		return nil, err
	}
	if _, ok := s.defs[p.typ]; !ok {
		return nil, invalidErr("resource type %q is not supported here", p.typ)
	}
	return &Prepared{p: p, vals: s.indexValues(p)}, nil
}

// checkID settles the id a prepared resource is stored under: id, or the
// resource's own when id is empty; both must agree and be a FHIR id.
func (pr *Prepared) checkID(id string) (string, error) {
	if id == "" {
		id = pr.p.id
	}
	if pr.p.id != "" && pr.p.id != id {
		return "", invalidErr("the resource id %q does not match the id %q in the URL", pr.p.id, id)
	}
	if !ValidID(id) {
		return "", invalidErr("%q is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)", id)
	}
	return id, nil
}

// PutPrepared stores a prepared resource under id, like Put.
func (s *Store) PutPrepared(pr *Prepared, id string, updated time.Time) (PutResult, error) {
	return s.putIf(pr, id, updated, nil)
}

// PutIf is Put when cond, given the current version (nil when there is
// none), holds; otherwise it is ErrPrecondition and nothing is written.
// The check and the write happen under one lock, so two writers with the
// same If-Match cannot both succeed.
func (s *Store) PutIf(b []byte, id string, updated time.Time, cond func(*Doc) bool) (PutResult, error) {
	pr, err := s.Prepare(b)
	if err != nil {
		return PutResult{}, err
	}
	return s.putIf(pr, id, updated, cond)
}

func (s *Store) putIf(pr *Prepared, id string, updated time.Time, cond func(*Doc) bool) (PutResult, error) {
	id, err := pr.checkID(id)
	if err != nil {
		return PutResult{}, err
	}
	if updated.IsZero() {
		updated = s.now()
	}
	var res PutResult
	err = s.write(func(journal func(time.Time, ...Op) error) error {
		if cond != nil {
			if !cond(s.currentLocked(pr.p.typ, id)) {
				return ErrPrecondition
			}
		}
		if err := journal(updated, Op{Type: pr.p.typ, ID: id, JSON: pr.p.raw}); err != nil {
			return err
		}
		var err error
		res, err = s.putLocked(pr.p, pr.vals, id, updated)
		return err
	})
	if err != nil {
		return PutResult{}, err
	}
	return res, nil
}

// indexValues extracts a resource's index keys through the release's
// search parameter definitions. It needs no lock: the work happens before
// the write lock is taken.
func (s *Store) indexValues(p *parsed) []value {
	var vals []value
	paths := s.segs[p.typ]
	for i, prm := range s.defs[p.typ] {
		for _, segs := range paths[i] {
			name, url := cutFilter(segs[0])
			root, ok := p.element(name)
			if !ok {
				continue
			}
			add := func(v any) { vals = extract(uint16(i), prm.Type, v, vals) }
			if url != "" {
				walkURL(root, url, segs[1:], add)
			} else {
				walk(root, segs[1:], add)
			}
		}
	}
	return vals
}

// putLocked stores a parsed resource with its index values; s.mu must be
// held for writing.
func (s *Store) putLocked(p *parsed, vals []value, id string, updated time.Time) (PutResult, error) {
	return s.putVersionLocked(p, vals, id, updated, 0, 1)
}

// putVersionLocked is putLocked with the version to give, when positive,
// instead of the next one, and otherwise with the version advancing by
// step (more than 1 for a put standing for several, see Op.Versions).
func (s *Store) putVersionLocked(p *parsed, vals []value, id string, updated time.Time, version, step int) (PutResult, error) {
	for i := range vals {
		v := &vals[i]
		v.str, v.system, v.text = s.internLocked(v.str), s.internLocked(v.system), s.internLocked(v.text)
	}
	d := &Doc{Type: p.typ, ID: id, Updated: updated.UTC().Truncate(time.Millisecond), vals: slices.Clip(vals)}
	t := s.table(p.typ)
	old := t.byID[id]
	if old == nil {
		old = s.derivedDoc(t, p.typ, id, false) // a generated resource being replaced
	}
	goneV, goneHad := t.gone[id]
	d.Version = step
	if old != nil {
		d.Version = old.Version + step
		d.seq = old.seq
		if !old.isDerived() {
			t.unindex(old)
		}
	} else {
		if goneHad {
			d.Version = goneV + step
			delete(t.gone, id)
		}
		s.seq++
		d.seq = s.seq
	}
	if version > 0 {
		d.Version = version
	}
	j, err := p.encode(id, d.Version, d.Updated)
	if err != nil {
		if old != nil && !old.isDerived() {
			t.index(old)
		}
		return PutResult{}, err
	}
	d.JSON = j
	t.byID[id] = d
	if old != nil && !old.isDerived() {
		d.pos = old.pos
		t.byPos[d.pos] = d
	} else {
		d.pos = len(t.byPos)
		t.byPos = append(t.byPos, d)
	}
	t.index(d)
	prev := old
	if prev != nil && prev.isDerived() {
		prev = nil // undoing the write uncovers the generated resource again
	}
	s.record(t, id, prev, d, goneV, goneHad)
	return PutResult{Doc: d, Created: old == nil}, nil
}

// Delete removes a resource. Deleting a missing resource is not an error
// (FHIR delete is idempotent); the result says whether it existed. The
// error is the write hook's.
func (s *Store) Delete(typ, id string) (existed bool, err error) {
	err = s.write(func(journal func(time.Time, ...Op) error) error {
		if s.currentLocked(typ, id) == nil {
			return nil
		}
		if err := journal(time.Time{}, Op{Type: typ, ID: id}); err != nil {
			return err
		}
		existed = s.deleteLocked(typ, id)
		return nil
	})
	if err != nil {
		return false, err
	}
	return existed, nil
}

// DeleteIf removes a resource only if cond accepts its current version
// (nil when there is none); otherwise it deletes nothing and answers
// ErrPrecondition. The check and the delete happen under one write lock,
// so no write can slip between them (a stale If-Match never deletes a
// newer version).
func (s *Store) DeleteIf(typ, id string, cond func(*Doc) bool) (existed bool, err error) {
	err = s.write(func(journal func(time.Time, ...Op) error) error {
		cur := s.currentLocked(typ, id)
		if !cond(cur) {
			return ErrPrecondition
		}
		if cur == nil {
			return nil
		}
		if err := journal(time.Time{}, Op{Type: typ, ID: id}); err != nil {
			return err
		}
		existed = s.deleteLocked(typ, id)
		return nil
	})
	if err != nil {
		return false, err
	}
	return existed, nil
}

func (s *Store) deleteLocked(typ, id string) bool {
	t := s.tables[typ]
	if t == nil {
		return false
	}
	d := t.byID[id]
	if d == nil {
		if g := s.derivedDoc(t, typ, id, false); g != nil {
			goneV, goneHad := t.gone[id]
			t.gone[id] = g.Version // the generated resource is hidden from now on
			s.record(t, id, nil, nil, goneV, goneHad)
			return true
		}
		return false
	}
	goneV, goneHad := t.gone[id]
	t.unindex(d)
	delete(t.byID, id)
	t.byPos[d.pos] = nil
	t.gone[id] = d.Version
	s.record(t, id, d, nil, goneV, goneHad)
	return true
}

// Get reads one resource.
func (s *Store) Get(typ, id string) (*Doc, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tables[typ]
	if t == nil {
		return nil, ErrNotFound
	}
	if d := t.byID[id]; d != nil {
		return d, nil
	}
	if _, ok := t.gone[id]; ok {
		return nil, ErrGone
	}
	if d := s.derivedDoc(t, typ, id, true); d != nil {
		return d, nil
	}
	return nil, ErrNotFound
}

// Count returns how many resources of a type are stored.
func (s *Store) Count(typ string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if t := s.tables[typ]; t != nil {
		return len(t.byID)
	}
	return 0
}

// All calls fn for every stored resource, types in name order and
// resources in creation order; it stops when fn returns false.
func (s *Store) All(fn func(*Doc) bool) {
	s.mu.RLock()
	types := make([]string, 0, len(s.tables))
	var docs []*Doc
	for typ := range s.tables {
		types = append(types, typ)
	}
	slices.Sort(types)
	for _, typ := range types {
		start := len(docs)
		for _, d := range s.tables[typ].byID {
			docs = append(docs, d)
		}
		slices.SortFunc(docs[start:], func(a, b *Doc) int { return cmp.Compare(a.seq, b.seq) })
	}
	s.mu.RUnlock()
	for _, d := range docs {
		if !fn(d) {
			return
		}
	}
}

func (t *table) keys(v value) []string {
	p := t.params[v.param]
	switch p.Type {
	case Token:
		if v.str == "" {
			return nil
		}
		return []string{"c:" + v.str, "s:" + v.system + "|" + v.str}
	case Reference:
		_, id, _ := strings.Cut(v.str, "/")
		return []string{v.str, "id:" + id}
	case Date, Number, Quantity:
		return nil // compared by range, never looked up
	}
	return []string{v.str}
}

func (t *table) index(d *Doc) {
	for _, v := range d.values() {
		idx := t.exact[v.param]
		if t.params[v.param].Type == String {
			idx = t.strs[v.param]
		}
		for _, k := range t.keys(v) {
			if l := idx[k]; len(l) == 0 || l[len(l)-1] != d {
				idx[k] = append(l, d)
			}
		}
	}
}

func (t *table) unindex(d *Doc) {
	for _, v := range d.values() {
		idx := t.exact[v.param]
		if t.params[v.param].Type == String {
			idx = t.strs[v.param]
		}
		for _, k := range t.keys(v) {
			l := idx[k]
			if i := slices.Index(l, d); i >= 0 {
				l = slices.Delete(slices.Clone(l), i, i+1) // readers may hold the old slice
				if len(l) == 0 {
					delete(idx, k)
				} else {
					idx[k] = l
				}
			}
		}
	}
}

// ValidID reports whether s is a FHIR id: 1-64 of A-Z a-z 0-9 - and '.',
// and not "." or ".." (so it can never name a path).
func ValidID(s string) bool {
	if len(s) == 0 || len(s) > 64 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Result is one page of a search.
type Result struct {
	Total    int
	Matches  []*Doc // the page
	Included []*Doc
}

// Search runs a parsed query.
func (s *Store) Search(q Query) Result {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.tables[q.Type]
	if t == nil {
		return Result{}
	}
	if s.der != nil && s.der.pop.Holds(q.Type) {
		return s.searchDerived(q)
	}
	cands, exact := t.candidates(q.Filters)
	matches := cands[:0:0]
	for _, d := range cands {
		if t.matchAll(d, q.Filters, exact) {
			matches = append(matches, d)
		}
	}
	return s.page(t, matches, q)
}

// page is the result of a search whose matches are all known: the total,
// the requested page in the requested order, and what it includes.
func (s *Store) page(t *table, matches []*Doc, q Query) Result {
	res := Result{Total: len(matches)}
	if q.Count == 0 || q.Offset >= len(matches) {
		return res
	}
	t.sort(matches, q.Sort)
	end := min(q.Offset+q.Count, len(matches))
	res.Matches = matches[q.Offset:end]
	if len(q.Includes) > 0 {
		res.Included = s.includes(t, res.Matches, q.Includes)
	}
	return res
}

func (s *Store) includes(t *table, page []*Doc, incs []Include) []*Doc {
	seen := map[*Doc]bool{}
	for _, d := range page {
		seen[d] = true
	}
	var out []*Doc
	for _, inc := range incs {
		for _, d := range page {
			for _, v := range d.values() {
				if int(v.param) != inc.param {
					continue
				}
				typ, id, _ := strings.Cut(v.str, "/")
				if inc.target != "" && typ != inc.target {
					continue
				}
				if tt := s.tables[typ]; tt != nil {
					r := tt.byID[id]
					if r == nil {
						r = s.derivedDoc(tt, typ, id, true)
					}
					if r != nil && !seen[r] {
						seen[r] = true
						out = append(out, r)
					}
				}
			}
		}
	}
	return out
}

// candidates picks the cheapest index to start from: the smallest posting
// list of an exact filter, else a string filter's scan of distinct values,
// else every resource of the type. exact names the filter (index into
// filters) the candidates already satisfy, or -1. Posting lists are sized
// before any is copied: a broad filter (category=vital-signs) next to a
// narrow one (patient=...) must cost nothing.
func (t *table) candidates(filters []Filter) ([]*Doc, int) {
	bestIdx, bestSize := -1, 0
	for i, f := range filters {
		size, ok := t.postingSize(f)
		if ok && (bestIdx < 0 || size < bestSize) {
			bestIdx, bestSize = i, size
		}
	}
	var best []*Doc
	if bestIdx >= 0 {
		best = t.postings(filters[bestIdx], bestSize)
	} else {
		for i, f := range filters {
			if f.Type == String && f.param >= 0 && f.Modifier != "missing" && !f.Missing {
				best, bestIdx = t.scanStrings(f), i
				break
			}
		}
	}
	if bestIdx < 0 {
		all := make([]*Doc, 0, len(t.byID))
		for _, d := range t.byPos {
			if d != nil {
				all = append(all, d)
			}
		}
		return all, -1
	}
	if filters[bestIdx].Type == String {
		return best, bestIdx // scanStrings answers in order, once each
	}
	if len(filters[bestIdx].Values) > 1 {
		best = dedupe(best)
	}
	return sortSeq(best), bestIdx
}

// postingKeys lists the exact-index keys a filter's values look up, or
// ok=false when the filter cannot be answered from an exact index.
func (t *table) postingKeys(f Filter) (keys []string, ok bool) {
	if f.Missing || f.Modifier == "missing" || f.Modifier == "not" || f.Modifier == "text" || f.param < -1 {
		return nil, false
	}
	for _, v := range f.Values {
		switch {
		case f.param == -1:
			keys = append(keys, v.Code)
		case f.Type == Token && !v.HasSystem:
			keys = append(keys, "c:"+v.Code)
		case f.Type == Token && v.Code != "":
			keys = append(keys, "s:"+v.System+"|"+v.Code)
		case f.Type == Reference && strings.Contains(v.Code, "/"):
			keys = append(keys, v.Code)
		case f.Type == Reference:
			keys = append(keys, "id:"+v.Code)
		case f.Type == URI && f.Modifier == "":
			keys = append(keys, v.Code)
		default:
			return nil, false
		}
	}
	return keys, true
}

func (t *table) postingSize(f Filter) (int, bool) {
	keys, ok := t.postingKeys(f)
	if !ok {
		return 0, false
	}
	n := 0
	for _, k := range keys {
		if f.param == -1 {
			if t.byID[k] != nil {
				n++
			}
			continue
		}
		n += len(t.exact[f.param][k])
	}
	return n, true
}

func (t *table) postings(f Filter, size int) []*Doc {
	keys, _ := t.postingKeys(f)
	out := make([]*Doc, 0, size)
	for _, k := range keys {
		if f.param == -1 {
			if d := t.byID[k]; d != nil {
				out = append(out, d)
			}
			continue
		}
		out = append(out, t.exact[f.param][k]...)
	}
	return out
}

// scanStrings answers a string filter from the parameter's distinct
// folded values: every matching value's posting list is marked in a bitset
// over the table's positions, which yields the resources in creation order,
// each once, with no map and no sort however many match.
func (t *table) scanStrings(f Filter) []*Doc {
	idx := t.strs[f.param]
	set := make([]uint64, (len(t.byPos)+63)/64)
	n := 0
	mark := func(l []*Doc) {
		for _, d := range l {
			w, b := d.pos/64, uint(d.pos%64)
			if set[w]&(1<<b) == 0 {
				set[w] |= 1 << b
				n++
			}
		}
	}
	for _, v := range f.Values {
		if f.Modifier == "exact" {
			mark(idx[fold(v.Code)])
			continue
		}
		for k, l := range idx {
			if strings.Contains(k, v.Code) {
				mark(l)
			}
		}
	}
	out := make([]*Doc, 0, n)
	for w, word := range set {
		for word != 0 {
			out = append(out, t.byPos[w*64+bits.TrailingZeros64(word)])
			word &= word - 1
		}
	}
	return out
}

func dedupe(l []*Doc) []*Doc {
	seen := make(map[*Doc]struct{}, len(l))
	out := l[:0:0]
	for _, d := range l {
		if _, ok := seen[d]; !ok {
			seen[d] = struct{}{}
			out = append(out, d)
		}
	}
	return out
}

func sortSeq(l []*Doc) []*Doc {
	if !slices.IsSortedFunc(l, bySeq) {
		l = slices.Clone(l)
		slices.SortFunc(l, bySeq)
	}
	return l
}

func bySeq(a, b *Doc) int { return cmp.Compare(a.seq, b.seq) }

func (t *table) matchAll(d *Doc, filters []Filter, skip int) bool {
	for i, f := range filters {
		if i == skip && f.Modifier != "exact" { // the index answered it exactly
			continue
		}
		if !t.match(d, f) {
			return false
		}
	}
	return true
}

func (t *table) match(d *Doc, f Filter) bool {
	switch f.param {
	case -1:
		for _, v := range f.Values {
			if v.Code == d.ID {
				return true
			}
		}
		return false
	case -2:
		lo, hi := d.Updated.Unix(), d.Updated.Unix()+1
		if f.Modifier == "missing" {
			return !f.Missing
		}
		for _, v := range f.Values {
			if dateMatch(v, lo, hi) {
				return true
			}
		}
		return false
	}
	if f.Modifier == "missing" {
		has := false
		for _, v := range d.values() {
			if int(v.param) == f.param {
				has = true
				break
			}
		}
		return has != f.Missing
	}
	if f.Modifier == "not" {
		for _, v := range d.values() {
			if int(v.param) == f.param && tokenMatchAny(v, f) {
				return false
			}
		}
		return true
	}
	for _, v := range d.values() {
		if int(v.param) != f.param {
			continue
		}
		switch f.Type {
		case String:
			for _, fv := range f.Values {
				if f.Modifier == "exact" {
					if v.text == fv.Code {
						return true
					}
				} else if strings.Contains(v.str, fv.Code) {
					return true
				}
			}
		case Token:
			if f.Modifier == "text" {
				for _, fv := range f.Values {
					if strings.Contains(v.text, fv.Code) {
						return true
					}
				}
			} else if tokenMatchAny(v, f) {
				return true
			}
		case Reference:
			for _, fv := range f.Values {
				if fv.Code == v.str || !strings.Contains(fv.Code, "/") && strings.HasSuffix(v.str, "/"+fv.Code) {
					return true
				}
			}
		case Date:
			for _, fv := range f.Values {
				if dateMatch(fv, v.lo, v.hi) {
					return true
				}
			}
		case URI:
			for _, fv := range f.Values {
				switch f.Modifier {
				case "below":
					if strings.HasPrefix(v.str, fv.Code) {
						return true
					}
				case "above":
					if strings.HasPrefix(fv.Code, v.str) {
						return true
					}
				default:
					if v.str == fv.Code {
						return true
					}
				}
			}
		case Number:
			for _, fv := range f.Values {
				if numMatch(fv, v.num()) {
					return true
				}
			}
		case Quantity:
			for _, fv := range f.Values {
				if quantityUnitMatch(fv, v) && numMatch(fv, v.num()) {
					return true
				}
			}
		}
	}
	return false
}

// quantityUnitMatch: a quantity search value with |system|code names the
// unit by system and code; with an empty system (5.4||mg) the code may be
// the value's code or its unit.
func quantityUnitMatch(fv FilterValue, v value) bool {
	switch {
	case !fv.HasSystem || fv.System == "" && fv.Code == "":
		return true
	case fv.System == "":
		return fv.Code == v.str || fv.Code == v.text
	}
	return fv.System == v.system && (fv.Code == "" || fv.Code == v.str)
}

func tokenMatchAny(v value, f Filter) bool {
	for _, fv := range f.Values {
		if fv.HasSystem {
			if fv.System != v.system {
				continue
			}
			if fv.Code == "" || fv.Code == v.str {
				return true
			}
			continue
		}
		if fv.Code == v.str {
			return true
		}
	}
	return false
}

// dateMatch applies a date prefix to a resource value covering [lo, hi)
// and a search value covering [fv.lo, fv.hi), as the FHIR search page
// defines the prefixes over ranges.
func dateMatch(fv FilterValue, lo, hi int64) bool {
	switch fv.Prefix {
	case "eq":
		return lo >= fv.lo && hi <= fv.hi
	case "ne":
		return !(lo >= fv.lo && hi <= fv.hi)
	case "gt":
		return hi > fv.hi
	case "lt":
		return lo < fv.lo
	case "ge":
		return hi > fv.lo
	case "le":
		return lo < fv.hi
	case "sa":
		return lo >= fv.hi
	case "eb":
		return hi <= fv.lo
	}
	return false
}

func (t *table) sort(l []*Doc, keys []SortKey) {
	if len(keys) == 0 || len(l) < 2 {
		return // creation order already
	}
	// each resource's sort values are worked out once, not at every
	// comparison: a stable sort compares O(n log n) times
	type item struct {
		d    *Doc
		vals []sortVal
	}
	vals := make([]sortVal, len(l)*len(keys))
	items := make([]item, len(l))
	for i, d := range l {
		v := vals[i*len(keys) : (i+1)*len(keys) : (i+1)*len(keys)]
		for j, k := range keys {
			v[j], v[j].ok = t.sortValue(d, k)
		}
		items[i] = item{d: d, vals: v}
	}
	slices.SortStableFunc(items, func(a, b item) int {
		for j, k := range keys {
			if c := compareSortVals(a.vals[j], b.vals[j], k.Desc); c != 0 {
				return c
			}
		}
		return 0
	})
	for i := range items {
		l[i] = items[i].d
	}
}

// compareSortVals orders two resources' values of one sort key;
// resources without a value sort last in either direction.
func compareSortVals(av, bv sortVal, desc bool) int {
	switch {
	case !av.ok && !bv.ok:
		return 0
	case !av.ok:
		return 1
	case !bv.ok:
		return -1
	}
	c := 0
	if av.num {
		c = cmp.Compare(av.f, bv.f)
	} else if av.s != "" || bv.s != "" {
		c = strings.Compare(av.s, bv.s)
	} else {
		c = cmp.Compare(av.n, bv.n)
	}
	if desc {
		c = -c
	}
	return c
}

type sortVal struct {
	s   string
	n   int64
	f   float64 // number and quantity
	num bool
	ok  bool // the resource has a value for the key
}

func (t *table) sortValue(d *Doc, k SortKey) (sortVal, bool) {
	switch k.param {
	case -1:
		return sortVal{s: d.ID}, true
	case -2:
		return sortVal{n: d.Updated.UnixNano()}, true
	}
	var best sortVal
	found := false
	for _, v := range d.values() {
		if int(v.param) != k.param {
			continue
		}
		var sv sortVal
		switch t.params[k.param].Type {
		case Date:
			sv.n = v.lo
			if k.Desc {
				sv.n = v.hi
			}
		case Number, Quantity:
			sv.f, sv.num = v.num(), true
			if !found || (!k.Desc && sv.f < best.f) || (k.Desc && sv.f > best.f) {
				best, found = sv, true
			}
			continue
		default:
			sv.s = v.str
		}
		// ascending takes the smallest value, descending the largest
		if !found || (!k.Desc && (sv.n < best.n || sv.s < best.s)) || (k.Desc && (sv.n > best.n || sv.s > best.s)) {
			best, found = sv, true
		}
	}
	return best, found
}
