package store

import (
	"container/heap"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// popIndex is a generated population's compact index of the Patient
// values the partner interface searches on, held as arrays of small
// integers (struct of arrays, a few dozen bytes a patient): each distinct
// string (a family name, a given name, a birth date) is kept once, in a
// dictionary with the posting list of the patients who have it. A
// string search matches the dictionaries, not the population, so its cost
// follows the number of distinct names and the page asked for.
type popIndex struct {
	n         int
	pop       Population
	mrnSystem string
	mrn       []uint32 // identifier value, as a number
	byMRN     []uint32 // patients by MRN
	family    dictField
	given     dictField // given[0] and given[1] of each patient share one dictionary
	prefix    dictField
	suffix    dictField
	birth     dictField
	gender    dictField
}

// dictField is one field of the index: a dictionary id per patient per
// slot (0 = none), and the dictionary. Once built, the dictionary is held
// in a few flat arrays: its strings in one string, its posting lists in
// one []uint32, each found by offset. The collector then has a handful
// of pointers to follow where a string and a list per distinct value (a
// million patients have tens of thousands of birth dates) made it mark
// about a hundred thousand objects every cycle, which the requests
// answered meanwhile on the same core waited for.
type dictField struct {
	slots [][]uint32 // slots[k][i]: patient i's k-th value
	// value id's string is text[off[id]:off[id+1]], its folded form
	// folded[foff[id]:foff[id+1]], the patients having it (ascending)
	// post[poff[id]:poff[id+1]]; id 0 is unused
	text, folded    string
	off, foff, poff []uint32
	post            []uint32
	b               *dictBuild // during the build only
}

// dictBuild is a dictionary being built.
type dictBuild struct {
	ids  map[string]uint32
	strs []string
	post [][]uint32
}

func newDictField(n, slots int) dictField {
	f := dictField{slots: make([][]uint32, slots), b: &dictBuild{ids: map[string]uint32{}, strs: []string{""}, post: [][]uint32{nil}}}
	for k := range f.slots {
		f.slots[k] = make([]uint32, n)
	}
	return f
}

func (f *dictField) set(i, slot int, s string) {
	if s == "" {
		return
	}
	b := f.b
	id, ok := b.ids[s]
	if !ok {
		id = uint32(len(b.strs))
		b.ids[s] = id
		b.strs = append(b.strs, s)
		b.post = append(b.post, nil)
	}
	f.slots[slot][i] = id
	if l := b.post[id]; len(l) == 0 || l[len(l)-1] != uint32(i) {
		b.post[id] = append(l, uint32(i))
	}
}

// pack moves the dictionary built into its flat arrays, each of its
// exact size, and drops the build's.
func (f *dictField) pack() error {
	b := f.b
	var text, folded strings.Builder
	nText, nPost := 0, 0
	for id, s := range b.strs {
		nText += len(s)
		nPost += len(b.post[id])
	}
	tooLarge := func(bytes int) error {
		return fmt.Errorf("population index: a dictionary of %d bytes and %d postings is too large", bytes, nPost)
	}
	if nText > math.MaxUint32 || nPost > math.MaxUint32 {
		return tooLarge(nText)
	}
	text.Grow(nText)
	folded.Grow(nText)
	f.off = make([]uint32, 1, len(b.strs)+1)
	f.foff = make([]uint32, 1, len(b.strs)+1)
	f.poff = make([]uint32, 1, len(b.strs)+1)
	f.post = make([]uint32, 0, nPost)
	for id, s := range b.strs {
		text.WriteString(s)
		folded.WriteString(fold(s))
		if folded.Len() > math.MaxUint32 {
			return tooLarge(folded.Len())
		}
		f.post = append(f.post, b.post[id]...)
		f.off = append(f.off, uint32(text.Len()))
		f.foff = append(f.foff, uint32(folded.Len()))
		f.poff = append(f.poff, uint32(len(f.post)))
	}
	f.text, f.folded = text.String(), folded.String()
	f.b = nil
	return nil
}

// size is the number of dictionary ids, the unused 0 included.
func (f *dictField) size() int { return len(f.off) - 1 }

// str is value id's string.
func (f *dictField) str(id uint32) string { return f.text[f.off[id]:f.off[id+1]] }

// foldedStr is value id's string folded for matching.
func (f *dictField) foldedStr(id uint32) string { return f.folded[f.foff[id]:f.foff[id+1]] }

// postings are the patients having value id, ascending.
func (f *dictField) postings(id uint32) []uint32 {
	return f.post[f.poff[id]:f.poff[id+1]:f.poff[id+1]]
}

// yieldEvery is how many patients the index build draws or indexes
// between two yields of its goroutines: a few hundred microseconds of
// work, so the requests a server answers meanwhile on the same cores
// (reads never wait for the index) wait for a yield, not for the
// scheduler to preempt the build.
const yieldEvery = 256

// buildIndex draws every patient's demographics on workers goroutines
// and indexes them in patient order on this one.
func buildIndex(pop Population, workers int) (*popIndex, error) {
	n := pop.Len()
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ix := &popIndex{n: n, pop: pop, mrn: make([]uint32, n),
		family: newDictField(n, 1), given: newDictField(n, 2), prefix: newDictField(n, 1), suffix: newDictField(n, 1),
		birth: newDictField(n, 1), gender: newDictField(n, 1)}
	const chunk = 4096
	chunks := (n + chunk - 1) / chunk
	results := make([]chan []Demographics, chunks)
	for i := range results {
		results[i] = make(chan []Demographics, 1)
	}
	var mu sync.Mutex
	next := 0
	stop := false
	// ahead bounds the chunks drawn but not yet indexed, so the build
	// holds a few chunks of demographics at a time, not the population's
	ahead := make(chan struct{}, 2*workers)
	for range workers {
		go func() {
			for {
				ahead <- struct{}{}
				mu.Lock()
				b := next
				quit := stop || b >= chunks
				if !quit {
					next++ // a chunk counts as taken only when it will be sent
				}
				mu.Unlock()
				if quit {
					<-ahead
					return
				}
				out := make([]Demographics, 0, chunk)
				for i := b * chunk; i < min(n, (b+1)*chunk); i++ {
					out = append(out, pop.Demographics(i))
					if i%yieldEvery == yieldEvery-1 {
						runtime.Gosched()
					}
				}
				results[b] <- out
			}
		}()
	}
	var err error
	for b := 0; b < chunks; b++ {
		ds := <-results[b]
		<-ahead
		if err != nil {
			continue
		}
		for k, d := range ds {
			if k%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
			if err = ix.add(b*chunk+k, d); err != nil {
				mu.Lock()
				stop = true
				mu.Unlock()
				// keep draining the chunks already taken
				for rest := b + 1; rest < chunks; rest++ {
					mu.Lock()
					taken := rest < next
					mu.Unlock()
					if taken {
						<-results[rest]
						<-ahead
					}
				}
				return nil, err
			}
		}
	}
	ix.byMRN = make([]uint32, n)
	for i := range ix.byMRN {
		ix.byMRN[i] = uint32(i)
	}
	slices.SortFunc(ix.byMRN, func(a, b uint32) int { return int(int64(ix.mrn[a]) - int64(ix.mrn[b])) })
	for _, f := range ix.fields() {
		if err := f.pack(); err != nil {
			return nil, err
		}
	}
	return ix, nil
}

func (ix *popIndex) fields() []*dictField {
	return []*dictField{&ix.family, &ix.given, &ix.prefix, &ix.suffix, &ix.birth, &ix.gender}
}

func (ix *popIndex) add(i int, d Demographics) error {
	if len(d.Given) > 2 || len(d.Prefix) > 1 || len(d.Suffix) > 1 {
		return fmt.Errorf("patient %d: more names than the population index holds", i)
	}
	m, err := strconv.ParseUint(d.MRN, 10, 32)
	if err != nil || strconv.FormatUint(m, 10) != d.MRN {
		return fmt.Errorf("patient %d: MRN %q is not a number the population index holds", i, d.MRN)
	}
	if i == 0 {
		ix.mrnSystem = d.MRNSystem
	} else if d.MRNSystem != ix.mrnSystem {
		return fmt.Errorf("patient %d: MRN system %q differs from the population's", i, d.MRNSystem)
	}
	ix.mrn[i] = uint32(m)
	ix.family.set(i, 0, d.Family)
	for k, g := range d.Given {
		ix.given.set(i, k, g)
	}
	for _, p := range d.Prefix {
		ix.prefix.set(i, 0, p)
	}
	for _, p := range d.Suffix {
		ix.suffix.set(i, 0, p)
	}
	ix.birth.set(i, 0, d.BirthDate)
	ix.gender.set(i, 0, d.Gender)
	return nil
}

// indexed names the Patient parameters the index answers.
var indexed = map[string]bool{"identifier": true, "name": true, "family": true, "given": true, "birthdate": true, "gender": true}

// answers reports whether the index can evaluate every filter.
func (ix *popIndex) answers(t *table, filters []Filter) bool {
	for _, f := range filters {
		if f.param == -1 {
			continue
		}
		if f.param < 0 || !indexed[t.params[f.param].Name] {
			return false
		}
	}
	return true
}

// doc is patient i as the index knows it: its id and the values of the
// indexed parameters, exactly as the store extracts them from the
// rendered Patient, so the store's own matching applies to it.
func (ix *popIndex) doc(t *table, i int) *Doc {
	d := &Doc{Type: "Patient", ID: ix.patientID(i), pos: -1}
	for k, p := range t.params {
		if !indexed[p.Name] {
			continue
		}
		param := uint16(k)
		str := func(s string, f *dictField, id uint32) {
			d.vals = append(d.vals, value{param: param, str: f.foldedStr(id), text: s})
		}
		strs := func(f *dictField) {
			for _, sl := range f.slots {
				if id := sl[i]; id != 0 {
					str(f.str(id), f, id)
				}
			}
		}
		switch p.Name {
		case "identifier":
			d.vals = append(d.vals, value{param: param, str: strconv.FormatUint(uint64(ix.mrn[i]), 10), system: ix.mrnSystem})
		case "family":
			strs(&ix.family)
		case "given":
			strs(&ix.given)
		case "name":
			strs(&ix.family)
			strs(&ix.given)
			strs(&ix.prefix)
			strs(&ix.suffix)
		case "birthdate":
			if id := ix.birth.slots[0][i]; id != 0 {
				if lo, hi, ok := parseDateRange(ix.birth.str(id)); ok {
					d.vals = append(d.vals, value{param: param, lo: lo, hi: hi})
				}
			}
		case "gender":
			if id := ix.gender.slots[0][i]; id != 0 {
				d.vals = append(d.vals, value{param: param, str: ix.gender.str(id)})
			}
		}
	}
	return d
}

func (ix *popIndex) patientID(i int) string {
	return ix.pop.PatientID(i)
}

// fieldsOf are the dictionaries a parameter's values come from.
func (ix *popIndex) fieldsOf(name string) []*dictField {
	switch name {
	case "family":
		return []*dictField{&ix.family}
	case "given":
		return []*dictField{&ix.given}
	case "name":
		return []*dictField{&ix.family, &ix.given, &ix.prefix, &ix.suffix}
	case "birthdate":
		return []*dictField{&ix.birth}
	case "gender":
		return []*dictField{&ix.gender}
	}
	return nil
}

// matchingPostings are the posting lists of the dictionary values a
// filter matches, evaluated by the store's matching on each distinct
// value; ok is false when the filter is not a plain value match.
func (ix *popIndex) matchingPostings(t *table, f Filter) (lists [][]uint32, ok bool) {
	if f.param < 0 || f.Missing || f.Modifier != "" && f.Modifier != "contains" && f.Modifier != "exact" {
		return nil, false
	}
	p := t.params[f.param]
	fs := ix.fieldsOf(p.Name)
	if fs == nil {
		return nil, false
	}
	probe := &Doc{vals: make([]value, 1)}
	for _, fd := range fs {
		for id := uint32(1); int(id) < fd.size(); id++ {
			v := value{param: uint16(f.param)}
			switch p.Type {
			case String:
				v.str, v.text = fd.foldedStr(id), fd.str(id)
			case Date:
				lo, hi, ok := parseDateRange(fd.str(id))
				if !ok {
					continue
				}
				v.lo, v.hi = lo, hi
			default:
				v.str = fd.str(id)
			}
			probe.vals[0] = v
			if t.match(probe, f) {
				lists = append(lists, fd.postings(id))
			}
		}
	}
	return lists, true
}

// hidden are the generated patients the overlay replaced or deleted.
func (ix *popIndex) hidden(t *table) map[int]bool {
	h := map[int]bool{}
	add := func(id string) {
		if i, ok := ix.pop.Owner("Patient", id); ok && i >= 0 && i < ix.n {
			h[i] = true
		}
	}
	for id := range t.byID {
		add(id)
	}
	for id := range t.gone {
		add(id)
	}
	return h
}

// search answers a Patient search from the index alone: the generated
// matches in order (an iterator) and how many there are. A single filter
// on a value every patient has at most one of (family, birthdate, gender)
// costs the page, not the matches: its posting lists are disjoint, so the
// total is their summed length and the page a merge of their heads.
func (ix *popIndex) search(s *Store, t *table, filters []Filter) (next func() (int, bool), total int, ok bool) {
	if !ix.answers(t, filters) {
		return nil, 0, false
	}
	hidden := ix.hidden(t)
	if len(filters) == 1 && filters[0].param >= 0 {
		switch t.params[filters[0].param].Name {
		case "family", "birthdate", "gender":
			lists, ok := ix.matchingPostings(t, filters[0])
			if !ok {
				break
			}
			for _, l := range lists {
				total += len(l)
			}
			for i := range hidden {
				if t.matchAll(ix.doc(t, i), filters, -1) {
					total--
				}
			}
			return mergeIter(lists, hidden), total, true
		}
	}
	nums, _ := ix.candidates(s, t, filters)
	out := nums[:0]
	for _, i := range nums {
		if !hidden[i] && t.matchAll(ix.doc(t, i), filters, -1) {
			out = append(out, i)
		}
	}
	k := 0
	return func() (int, bool) {
		if k >= len(out) {
			return 0, false
		}
		k++
		return out[k-1], true
	}, len(out), true
}

// candidates are the generated patients that may match (a superset,
// ascending): the smallest set one filter narrows to, else everyone.
func (ix *popIndex) candidates(s *Store, t *table, filters []Filter) ([]int, bool) {
	var best []int
	found := false
	consider := func(set []int) {
		if !found || len(set) < len(best) {
			best, found = set, true
		}
	}
	for _, f := range filters {
		switch {
		case f.param == -1:
			var set []int
			for _, v := range f.Values {
				if i, ok := ix.pop.Owner("Patient", v.Code); ok && i >= 0 && i < ix.n {
					set = append(set, i)
				}
			}
			slices.Sort(set)
			consider(slices.Compact(set))
		case f.param >= 0 && t.params[f.param].Name == "identifier" && !f.Missing && f.Modifier == "":
			var set []int
			okAll := true
			for _, v := range f.Values {
				m, err := strconv.ParseUint(v.Code, 10, 32)
				if err != nil {
					if v.Code == "" {
						okAll = false // system| alone: every patient of the system
					}
					continue
				}
				lo, _ := slices.BinarySearchFunc(ix.byMRN, uint32(m), func(p, m uint32) int { return int(int64(ix.mrn[p]) - int64(m)) })
				for ; lo < len(ix.byMRN) && ix.mrn[ix.byMRN[lo]] == uint32(m); lo++ {
					set = append(set, int(ix.byMRN[lo]))
				}
			}
			if okAll {
				slices.Sort(set)
				consider(set)
			}
		default:
			lists, ok := ix.matchingPostings(t, f)
			if !ok {
				continue
			}
			size := 0
			for _, l := range lists {
				size += len(l)
			}
			if found && size >= len(best) {
				continue
			}
			set := make([]int, 0, size)
			for _, l := range lists {
				for _, i := range l {
					set = append(set, int(i))
				}
			}
			slices.Sort(set)
			consider(slices.Compact(set))
		}
	}
	if found {
		return best, true
	}
	all := make([]int, ix.n)
	for i := range all {
		all[i] = i
	}
	return all, false
}

// mergeIter yields the union of disjoint ascending lists in order,
// skipping hidden patients.
func mergeIter(lists [][]uint32, hidden map[int]bool) func() (int, bool) {
	h := &postHeap{}
	for _, l := range lists {
		if len(l) > 0 {
			*h = append(*h, l)
		}
	}
	heap.Init(h)
	return func() (int, bool) {
		for h.Len() > 0 {
			l := (*h)[0]
			i := int(l[0])
			if len(l) == 1 {
				heap.Pop(h)
			} else {
				(*h)[0] = l[1:]
				heap.Fix(h, 0)
			}
			if !hidden[i] {
				return i, true
			}
		}
		return 0, false
	}
}

type postHeap [][]uint32

func (h postHeap) Len() int           { return len(h) }
func (h postHeap) Less(a, b int) bool { return h[a][0] < h[b][0] }
func (h postHeap) Swap(a, b int)      { h[a], h[b] = h[b], h[a] }
func (h *postHeap) Push(x any)        { *h = append(*h, x.([]uint32)) }
func (h *postHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
