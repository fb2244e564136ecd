package fhir

import (
	"bytes"
	"encoding/binary"
	"net/http"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// A batch asked again byte for byte, with the tenant's data unchanged
// (the Patients app polling the chart on screen), is answered from its
// rendered batch-response, kept in the store's render cache next to the
// renders of its searches (limits.search_cache_bytes bounds both). Only
// what each response has of its own is new: the batch-response's id, and
// each searchset's id and meta.lastUpdated, written over the kept bytes
// at the places they occupy (an id is always a 36-character GUID and an
// instant 24 characters, so the rest of the bytes does not move). A batch
// is kept only when every entry is a search that was answered: an entry
// that failed, a read, or a response cut by its size limit is run again
// the next time.

// maxCachedBatchBody bounds the request bodies whose answers are kept:
// the body is part of the key.
const maxCachedBatchBody = 4 << 10

// Where a batch-response and a searchset head carry their own values.
const (
	bundleIDAt = len(`{"resourceType":"Bundle","id":"`) // both start so
	idLen      = 36                                     // a GUID, as NewID draws them
	instantLen = 24                                     // as store.AppendInstant writes it
	headTail   = instantLen + 1                         // a head ends with the instant and its quote
)

// batch hole kinds
const (
	holeID      = 'i'
	holeInstant = 't'
)

// appendBatchKey is the render-cache key of a batch's response: a 'B'
// (search keys start with a digit), the base URL and the body, both
// length-prefixed.
func appendBatchKey(b []byte, base string, body []byte) []byte {
	b = append(b, 'B')
	b = appendKeyPart(b, base)
	b = appendKeyPart(b, string(body))
	return b
}

// batchKey is the key under which a batch's response is kept, or nil when
// it is not to be kept: a body too large to be a key, or a token whose
// SMART scopes shape what the searches see.
func batchKey(r *http.Request, base string, body []byte) []byte {
	if len(body) > maxCachedBatchBody || scopesOf(r).Scoped() {
		return nil
	}
	return appendBatchKey(make([]byte, 0, len(base)+len(body)+16), base, body)
}

// cachedBatch answers a batch from its kept response, restamped, or
// reports false.
func (a *API) cachedBatch(s *store.Store, key []byte) (*bytes.Buffer, bool) {
	v, ok := s.CachedRender(key)
	if !ok || len(v) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(v))
	if len(v) < 4+5*n {
		return nil, false
	}
	holes, body := v[4:4+5*n], v[4+5*n:]
	var instant []byte
	for i := 0; i < n; i++ {
		if holes[5*i+4] == holeInstant {
			instant = store.AppendInstant(make([]byte, 0, instantLen), a.o.Now())
			break
		}
	}
	if instant != nil && len(instant) != instantLen {
		return nil, false // a year beyond 9999 is written longer
	}
	out := a.bufs.get(len(body))
	out.Write(body)
	b := out.Bytes()
	for i := 0; i < n; i++ {
		at := int(binary.LittleEndian.Uint32(holes[5*i:]))
		switch holes[5*i+4] {
		case holeID:
			id := a.o.NewID()
			if len(id) != idLen || at+idLen > len(b) {
				a.bufs.put(out)
				return nil, false
			}
			copy(b[at:], id)
		case holeInstant:
			if at+instantLen > len(b) {
				a.bufs.put(out)
				return nil, false
			}
			copy(b[at:], instant)
		}
	}
	return out, true
}

// keepBatch keeps a batch's response (b, as responseBundle wrote it for
// results) under key, when every entry is an answered search whose head
// has the layout cachedBatch rewrites. gen is the store's render
// generation from before the batch ran.
func keepBatch(s *store.Store, key []byte, gen uint64, results []entryResult, b []byte) {
	holes := make([]byte, 0, 5*(1+2*len(results)))
	hole := func(at int, kind byte) {
		holes = binary.LittleEndian.AppendUint32(holes, uint32(at))
		holes = append(holes, kind)
	}
	if len(b) < bundleIDAt+idLen || b[bundleIDAt+idLen] != '"' {
		return
	}
	hole(bundleIDAt, holeID)
	from := bundleIDAt + idLen
	for i := range results {
		res := &results[i]
		h := res.head
		if res.status != http.StatusOK || res.outcome || h == nil || len(h) < bundleIDAt+idLen+headTail ||
			h[bundleIDAt+idLen] != '"' || h[len(h)-1] != '"' {
			return
		}
		// the head as written into b, after the previous one
		p := bytes.Index(b[from:], h)
		if p < 0 {
			return
		}
		p += from
		hole(p+bundleIDAt, holeID)
		hole(p+len(h)-headTail, holeInstant)
		from = p + len(h)
	}
	v := make([]byte, 0, 4+len(holes)+len(b))
	v = binary.LittleEndian.AppendUint32(v, uint32(len(holes)/5))
	v = append(v, holes...)
	v = append(v, b...)
	s.KeepRendered(key, gen, v)
}
