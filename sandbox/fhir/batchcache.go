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

// Where a Bundle's id and a searchset head's lastUpdated are, when the id
// is a GUID (searchsetHead and responseBundle write them so).
const (
	idLen      = 36 // a GUID, as NewID draws them
	instantLen = 24 // as store.AppendInstant writes it
	idAt       = len(bundleOpen) + 1
	instantAt  = idAt + idLen + 1 + len(searchsetMeta)
	headLen    = instantAt + instantLen + 1
)

// batchKey is the render-cache key of a batch's response, or nil when it
// is not to be kept: a body too large to be a key, or a token whose SMART
// scopes shape what the searches see. The key is a 'B' (search keys start
// with a digit), then the base URL and the body, both length-prefixed.
func batchKey(r *http.Request, base string, body []byte) []byte {
	if len(body) > maxCachedBatchBody || scopesOf(r).Scoped() {
		return nil
	}
	b := append(make([]byte, 0, len(base)+len(body)+16), 'B')
	b = appendKeyPart(b, base)
	return appendKeyPart(b, string(body))
}

// cachedBatch answers a batch from its kept response (a count, the
// offsets of the entries' heads, the bytes; see keepBatch), restamped, or
// reports false.
func (a *API) cachedBatch(s *store.Store, key []byte) (*bytes.Buffer, bool) {
	v, ok := s.CachedRender(key)
	if !ok || len(v) < 4 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint32(v))
	if len(v) < 4+4*n {
		return nil, false
	}
	heads, body := v[4:4+4*n], v[4+4*n:]
	instant := store.AppendInstant(make([]byte, 0, instantLen), a.o.Now())
	if len(instant) != instantLen {
		return nil, false // a year beyond 9999 is written longer
	}
	out := a.bufs.get(len(body))
	out.Write(body)
	b := out.Bytes()
	restamp := func(at int, withInstant bool) bool {
		id := a.o.NewID()
		end := at + idAt + idLen
		if withInstant {
			end = at + headLen
		}
		if len(id) != idLen || end > len(b) {
			return false
		}
		copy(b[at+idAt:], id)
		if withInstant {
			copy(b[at+instantAt:], instant)
		}
		return true
	}
	ok = restamp(0, false) // the batch-response's own id
	for i := 0; ok && i < n; i++ {
		ok = restamp(int(binary.LittleEndian.Uint32(heads[4*i:])), true)
	}
	if !ok {
		a.bufs.put(out)
		return nil, false
	}
	return out, true
}

// keepBatch keeps a batch's response (b, as responseBundle wrote it for
// results, the entries' heads at the offsets heads) under key, when
// every entry is an answered search and every id a GUID. gen is the
// store's render generation from before the batch ran.
func keepBatch(s *store.Store, key []byte, gen uint64, results []entryResult, heads []int, b []byte) {
	guidAt := func(h []byte) bool { return len(h) >= idAt+idLen+1 && h[idAt+idLen] == '"' }
	if !guidAt(b) {
		return
	}
	v := make([]byte, 0, 4+4*len(results)+len(b))
	v = binary.LittleEndian.AppendUint32(v, uint32(len(results)))
	for i := range results {
		res := &results[i]
		if res.status != http.StatusOK || res.outcome || heads[i] < 0 || len(res.head) != headLen || !guidAt(res.head) {
			return
		}
		v = binary.LittleEndian.AppendUint32(v, uint32(heads[i]))
	}
	v = append(v, b...)
	s.KeepRendered(key, gen, v)
}
