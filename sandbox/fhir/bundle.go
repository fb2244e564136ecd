package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// head is the part of a resource every handler needs before anything else.
type head struct {
	ResourceType string  `json:"resourceType"`
	ID           *string `json:"id"`
}

// headOf reads a resource's resourceType and id; a body that does not
// decode has neither.
func headOf(b []byte) head {
	var h head
	_ = json.Unmarshal(b, &h)
	return h
}

func resourceTypeOf(b []byte) string { return headOf(b).ResourceType }

func idOf(b []byte) (string, bool) {
	if h := headOf(b); h.ID != nil {
		return *h.ID, true
	}
	return "", false
}

type bundleIn struct {
	ResourceType string          `json:"resourceType"`
	Type         string          `json:"type"`
	Entry        []bundleEntryIn `json:"entry"`
}

type bundleEntryIn struct {
	FullURL  string           `json:"fullUrl"`
	Resource json.RawMessage  `json:"resource"`
	Request  *bundleRequestIn `json:"request"`
}

type bundleRequestIn struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// entryResult is one entry of a batch-response or transaction-response.
type entryResult struct {
	status   int
	resource []byte // the resource, a searchset, or an OperationOutcome
	head     []byte // when set, the start of resource (a searchset's, see API.search)
	outcome  bool   // resource is an OperationOutcome about a failure
	doc      *store.Doc
	location string
}

// bundle answers POST {base} with a batch or transaction Bundle.
func (a *API) bundle(w http.ResponseWriter, r *http.Request, f format, s *store.Store) *Error {
	body, e := a.readBody(r)
	if e != nil {
		return e
	}
	// a batch asked again byte for byte, the tenant's data unchanged
	// since (batchcache.go); only a body that passed every check below
	// and ran is ever kept, so a kept one needs none of them again
	base := a.BaseURL(r)
	key := batchKey(r, base, body)
	var gen uint64
	if key != nil {
		if out, ok := a.cachedBatch(s, key); ok {
			a.write(w, r, f, http.StatusOK, out.Bytes())
			a.bufs.put(out)
			return nil
		}
		gen = s.RenderGen() // before the batch runs: a write meanwhile keeps its answer out
	}
	if err := store.CheckJSON(body); err != nil {
		return storeError(err)
	}
	var in bundleIn
	if err := decodeBundle(body, &in); err != nil {
		return errorf(http.StatusBadRequest, "structure", "the Bundle does not have the shape of a FHIR Bundle: %v", err)
	}
	if in.ResourceType != "Bundle" {
		return errorf(http.StatusBadRequest, "invalid", "POST to the base URL takes a Bundle, not %q", in.ResourceType)
	}
	if len(in.Entry) > a.o.Limits.MaxBundleEntries {
		return errorf(http.StatusBadRequest, "too-costly", "the Bundle has %d entries; at most %d are accepted", len(in.Entry), a.o.Limits.MaxBundleEntries)
	}
	var results []entryResult
	var kind string
	switch in.Type {
	case "batch":
		kind = "batch-response"
		results = make([]entryResult, len(in.Entry))
		// built tracks the bytes of the results built so far, so that once
		// the response is over its bound the remaining entries are not run
		// at all: memory stays near the bound whatever the batch asks
		var built atomic.Int64
		max := a.o.Limits.MaxResponseBytes
		skipped := make([]bool, len(in.Entry))
		run := func(i int) {
			if built.Load() > max {
				skipped[i] = true
				return
			}
			en := in.Entry[i]
			if en.Request == nil {
				results[i] = a.entryError(errorf(http.StatusBadRequest, "required", "entry %d has no request", i))
				return
			}
			results[i] = a.batchEntry(r, base, s, en.Request.Method, en.Request.URL, en.Resource)
			built.Add(int64(entryCost(&results[i])))
		}
		if readOnly(&in) {
			// reads are independent: answer them side by side, so a batch
			// of the client's six clinical queries costs about one search
			parallel(len(in.Entry), run)
		} else {
			for i := range in.Entry {
				run(i)
			}
		}
		a.boundBatch(results, skipped)
	case "transaction":
		kind = "transaction-response"
		var e *Error
		results, e = a.transaction(r, s, &in)
		if e != nil {
			return e
		}
	default:
		return errorf(http.StatusBadRequest, "invalid", "Bundle.type must be batch or transaction, not %q", in.Type)
	}
	var heads []int // where each entry's head went, for a batch to keep
	if key != nil && kind == "batch-response" {
		heads = make([]int, len(results))
	}
	b := a.responseBundle(kind, results, heads)
	if heads != nil {
		keepBatch(s, key, gen, results, heads, b.Bytes())
	}
	a.write(w, r, f, http.StatusOK, b.Bytes())
	a.bufs.put(b) // written: every writer in front copies or sends what it is given
	return nil
}

func (a *API) entryError(e *Error) entryResult {
	return entryResult{status: e.Status, resource: OperationOutcome("error", e.Code, e.Diagnostics, e.Location), outcome: true}
}

// entryOverhead bounds what responseBundle writes around an entry's
// resource besides its location: the keys, status, etag and lastModified.
const entryOverhead = 160

// entryCost is an upper bound of an entry's bytes in the response Bundle.
func entryCost(res *entryResult) int {
	return len(res.head) + len(res.resource) + len(res.location) + entryOverhead
}

// boundBatch keeps a batch response under Limits.MaxResponseBytes: from
// the first entry whose result does not fit (or was not run because the
// bound was already passed) on, every entry answers an OperationOutcome
// too-costly. Room for those outcomes is set aside first, so the whole
// response stays under the bound. Parallel entries may have been skipped
// out of order; cutting at the first one keeps the answer a prefix.
func (a *API) boundBatch(results []entryResult, skipped []bool) {
	max := a.o.Limits.MaxResponseBytes
	tooCostly := a.tooCostly // its bytes are shared by every batch, never modified
	oc := int64(entryCost(&tooCostly))
	total := 256 + int64(len(results))*oc // the envelope, and every entry as an outcome
	cut := false
	for i := range results {
		if !cut && !skipped[i] {
			if extra := int64(entryCost(&results[i])) - oc; total+extra <= max {
				total += extra
				continue
			}
		}
		cut = true
		results[i] = tooCostly
	}
}

// splitEntryURL turns a request URL ("Patient/1", "Patient?name=x", or an
// absolute URL under this base) into path segments and a raw query.
// base is the release's base URL for the request (API.BaseURL).
func splitEntryURL(base, raw string) ([]string, string, *Error) {
	if rest, ok := strings.CutPrefix(raw, base); ok && strings.HasPrefix(rest, "/") {
		raw = rest[1:]
	} else if strings.Contains(raw, "://") {
		return nil, "", errorf(http.StatusBadRequest, "invalid", "request.url %q is not under this server's base %s", raw, base)
	}
	raw = strings.TrimPrefix(raw, "/")
	path, query, _ := strings.Cut(raw, "?")
	var segs []string
	for _, s := range strings.Split(strings.TrimSuffix(path, "/"), "/") {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, "", errorf(http.StatusBadRequest, "invalid", "request.url %q is not a valid relative URL", raw)
		}
		segs = append(segs, u)
	}
	return segs, query, nil
}

// batchEntry runs one batch entry on its own: its failure is its own.
func (a *API) batchEntry(r *http.Request, base string, s *store.Store, method, rawURL string, resource json.RawMessage) entryResult {
	segs, query, e := splitEntryURL(base, rawURL)
	if e != nil {
		return a.entryError(e)
	}
	typ := segs[0]
	if !a.types[typ] {
		return a.entryError(errorf(http.StatusNotFound, "not-supported", "resource type %q is not supported", typ))
	}
	switch method {
	case http.MethodGet:
		switch {
		case len(segs) == 1 || len(segs) == 2 && segs[1] == "_search":
			kvs, e := parseQueryString(query, a.o.Limits.MaxQueryParams)
			if e != nil {
				return a.entryError(e)
			}
			head, tail, e := a.search(r, base, s, typ, kvs, false)
			if e != nil {
				return a.entryError(e)
			}
			return entryResult{status: http.StatusOK, head: head, resource: tail}
		case len(segs) == 2:
			if !store.ValidID(segs[1]) {
				return a.entryError(errorf(http.StatusBadRequest, "invalid", "%q is not a valid FHIR id", segs[1]))
			}
			d, err := s.Get(typ, segs[1])
			if errors.Is(err, store.ErrGone) {
				return a.entryError(errorf(http.StatusGone, "not-found", "%s/%s has been deleted", typ, segs[1]))
			}
			if err != nil {
				return a.entryError(errorf(http.StatusNotFound, "not-found", "%s/%s is not known", typ, segs[1]))
			}
			if e := a.readable(r, s, d); e != nil {
				return a.entryError(e)
			}
			return entryResult{status: http.StatusOK, resource: d.JSON, doc: d}
		}
	case http.MethodPost, http.MethodPut:
		op := smartscope.Update
		if method == http.MethodPost {
			op = smartscope.Create
		}
		if _, e := permit(r, typ, op); e != nil {
			return a.entryError(e)
		}
		if len(resource) == 0 || resourceTypeOf(resource) != typ {
			return a.entryError(errorf(http.StatusBadRequest, "invalid", "entry resource must be a %s", typ))
		}
		var res store.PutResult
		var err error
		if method == http.MethodPost && len(segs) == 1 {
			res, err = s.Create(resource, a.o.NewID)
		} else if method == http.MethodPut && len(segs) == 2 {
			res, err = s.Put(resource, segs[1], a.o.Now())
		} else {
			return a.entryError(errorf(http.StatusBadRequest, "invalid", "%s %s is not a supported entry request", method, rawURL))
		}
		if err != nil {
			return a.entryError(storeError(err))
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return entryResult{status: status, resource: res.Doc.JSON, doc: res.Doc, location: base + "/" + typ + "/" + res.Doc.ID + "/_history/" + strconv.Itoa(res.Doc.Version)}
	case http.MethodDelete:
		if len(segs) == 2 {
			if _, e := permit(r, typ, smartscope.Delete); e != nil {
				return a.entryError(e)
			}
			if _, err := s.Delete(typ, segs[1]); err != nil {
				return a.entryError(storeError(err))
			}
			return entryResult{status: http.StatusNoContent}
		}
	}
	return a.entryError(errorf(http.StatusBadRequest, "not-supported", "%s %s is not supported in a batch", method, rawURL))
}

// transaction applies every entry or none. POST entries get new ids, and
// references to another entry (its fullUrl, urn:uuid included, or its old
// Type/id) and conditional references are rewritten to Type/id by
// resolveReferences, the fixture loader's rewriting too.
func (a *API) transaction(r *http.Request, s *store.Store, in *bundleIn) ([]entryResult, *Error) {
	ops := make([]store.Op, len(in.Entry))
	refs := make([]refEntry, len(in.Entry))
	for i, en := range in.Entry {
		if en.Request == nil {
			return nil, &Error{Status: http.StatusBadRequest, Code: "required", Diagnostics: "entry " + strconv.Itoa(i) + " has no request", Location: "Bundle.entry[" + strconv.Itoa(i) + "].request"}
		}
		segs, query, e := splitEntryURL(a.BaseURL(r), en.Request.URL)
		if e != nil {
			return nil, e
		}
		if !a.types[segs[0]] {
			return nil, errorf(http.StatusBadRequest, "not-supported", "entry %d: resource type %q is not supported", i, segs[0])
		}
		refs[i] = refEntry{FullURL: en.FullURL, Type: segs[0], JSON: en.Resource}
		if id, ok := idOf(en.Resource); ok {
			refs[i].OldID = id
		}
		switch {
		case en.Request.Method == http.MethodPost && len(segs) == 1 && query == "":
			ops[i] = store.Op{Type: segs[0], ID: a.o.NewID(), JSON: en.Resource}
		case en.Request.Method == http.MethodPut && len(segs) == 2 && query == "":
			ops[i] = store.Op{Type: segs[0], ID: segs[1], JSON: en.Resource}
		case en.Request.Method == http.MethodDelete && len(segs) == 2 && query == "":
			ops[i] = store.Op{Type: segs[0], ID: segs[1]}
			refs[i].JSON = nil
		default:
			return nil, errorf(http.StatusBadRequest, "not-supported", "entry %d: %s %s is not supported in a transaction (POST Type, PUT Type/id, DELETE Type/id)", i, en.Request.Method, en.Request.URL)
		}
		op := smartscope.Update
		switch en.Request.Method {
		case http.MethodPost:
			op = smartscope.Create
		case http.MethodDelete:
			op = smartscope.Delete
		}
		if _, e := permit(r, segs[0], op); e != nil {
			e.Diagnostics = "entry " + strconv.Itoa(i) + ": " + e.Diagnostics
			return nil, e
		}
		if ops[i].JSON != nil && len(ops[i].JSON) == 0 {
			return nil, errorf(http.StatusBadRequest, "required", "entry %d has no resource", i)
		}
		if ops[i].JSON != nil {
			refs[i].NewID = ops[i].ID
		}
	}
	if ps := resolveReferences(refs, refTargets{}, s, s.Definitions()); len(ps) > 0 {
		p := ps[0]
		return nil, &Error{Status: http.StatusBadRequest, Code: "invalid", Diagnostics: fmt.Sprintf("entry %d: %s: %s", p.Entry, p.Path, p.Msg), Location: fmt.Sprintf("Bundle.entry[%d].resource.%s", p.Entry, p.Path)}
	}
	for i := range ops {
		if ops[i].JSON != nil {
			ops[i].JSON = refs[i].JSON
		}
	}
	applied, err := s.Apply(ops)
	if err != nil {
		return nil, storeError(err)
	}
	out := make([]entryResult, len(ops))
	for i, res := range applied {
		switch {
		case ops[i].JSON == nil:
			out[i] = entryResult{status: http.StatusNoContent}
		default:
			status := http.StatusOK
			if res.Created {
				status = http.StatusCreated
			}
			out[i] = entryResult{status: status, resource: res.Doc.JSON, doc: res.Doc, location: a.BaseURL(r) + "/" + res.Doc.Type + "/" + res.Doc.ID + "/_history/" + strconv.Itoa(res.Doc.Version)}
		}
	}
	return out, nil
}

// responseBundle renders a batch-response or transaction-response. A
// failed entry's OperationOutcome goes where the release keeps it:
// response.outcome, or entry.resource where Bundle.entry.response has no
// outcome (Release.OutcomeInResponse).
// The buffer comes from a.bufs; the caller puts it back once written.
//
// heads, when not nil, gets the offset in the Bundle of each entry's head
// (entryResult.head), or -1 for an entry without one.
func (a *API) responseBundle(kind string, results []entryResult, heads []int) *bytes.Buffer {
	size := 128
	for _, res := range results {
		size += len(res.head) + len(res.resource) + 160
	}
	b := a.bufs.get(size)
	b.WriteString(bundleOpen)
	ooString(b, a.o.NewID())
	b.WriteString(`,"type":"`)
	b.WriteString(kind)
	b.WriteString(`"`)
	if len(results) > 0 {
		b.WriteString(`,"entry":[`)
	}
	inResponse := a.rel.OutcomeInResponse
	for i, res := range results {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		wroteResource := false
		if heads != nil {
			heads[i] = -1
		}
		if res.resource != nil && !(res.outcome && inResponse) {
			b.WriteString(`"resource":`)
			if heads != nil && res.head != nil {
				heads[i] = b.Len()
			}
			b.Write(res.head)
			b.Write(res.resource)
			wroteResource = true
		}
		if wroteResource {
			b.WriteByte(',')
		}
		b.WriteString(`"response":{"status":`)
		ooString(b, strconv.Itoa(res.status)+" "+http.StatusText(res.status))
		if res.location != "" {
			b.WriteString(`,"location":`)
			ooString(b, res.location)
		}
		if res.doc != nil {
			b.WriteString(`,"etag":`)
			ooString(b, etag(res.doc))
			b.WriteString(`,"lastModified":`)
			ooString(b, lastModified(res.doc))
		}
		if res.outcome && inResponse {
			b.WriteString(`,"outcome":`)
			b.Write(res.resource)
		}
		b.WriteString(`}}`)
	}
	if len(results) > 0 {
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b
}

// readOnly reports whether every entry of a batch is a GET.
func readOnly(in *bundleIn) bool {
	for _, en := range in.Entry {
		if en.Request == nil || en.Request.Method != http.MethodGet {
			return false
		}
	}
	return true
}

// parallel runs fn(0..n-1) on at most GOMAXPROCS goroutines.
func parallel(n int, fn func(int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
