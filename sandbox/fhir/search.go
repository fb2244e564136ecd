package fhir

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// parseQueryString splits a raw query into ordered parameters (url.Values
// would lose the order, and a FHIR self link keeps the client's order).
func parseQueryString(raw string, max int) ([]store.KV, *Error) {
	if raw == "" {
		return nil, nil
	}
	parts := strings.Split(raw, "&")
	if len(parts) > max {
		return nil, errorf(http.StatusBadRequest, "too-costly", "more than %d query parameters", max)
	}
	out := make([]store.KV, 0, len(parts))
	for _, part := range parts {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err1 := url.QueryUnescape(k)
		vu, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, errorf(http.StatusBadRequest, "invalid", "the query parameter %q is not validly %%-encoded", part)
		}
		if !utf8.ValidString(ku) || !utf8.ValidString(vu) {
			return nil, errorf(http.StatusBadRequest, "invalid", "the query parameter %q is not valid UTF-8", ku)
		}
		out = append(out, store.KV{Key: ku, Value: vu})
	}
	return out, nil
}

// searchRequest is a search as the handler needs it: the store query and
// the rendering controls.
type searchRequest struct {
	q            store.Query
	summaryCount bool
	elements     []string
	// total is the _total the client asked for (releases with
	// Release.Total): "none" leaves Bundle.total out.
	total string
}

// parseSearch turns query parameters into a search. strict makes unknown
// parameters an error (Prefer: handling=strict).
func (a *API) parseSearch(typ string, kvs []store.KV, strict bool) (searchRequest, *Error) {
	var sr searchRequest
	rest := kvs[:0:0]
	for _, kv := range kvs {
		name, _, _ := strings.Cut(kv.Key, ":")
		switch name {
		case "_format", "_pretty":
			continue
		case "_summary":
			switch kv.Value {
			case "count":
				sr.summaryCount = true
			case "false":
			default:
				return sr, &Error{Status: http.StatusBadRequest, Code: "not-supported", Diagnostics: "_summary supports count and false", Location: "_summary"}
			}
			continue
		case "_total":
			if !a.rel.Total {
				break // not a parameter of this release: ignored like any unknown one
			}
			switch kv.Value {
			case "none", "estimate", "accurate":
				sr.total = kv.Value
			default:
				return sr, &Error{Status: http.StatusBadRequest, Code: "value", Diagnostics: "_total takes none, estimate or accurate, not " + strconv.Quote(kv.Value), Location: "_total"}
			}
			continue
		case "_elements":
			for _, e := range strings.Split(kv.Value, ",") {
				if e = strings.TrimSpace(e); e != "" {
					sr.elements = append(sr.elements, e)
				}
			}
			continue
		case "_revinclude", "_contained", "_containedType", "_has", "_list", "_query", "_filter", "_text", "_content":
			if strict {
				return sr, &Error{Status: http.StatusBadRequest, Code: "not-supported", Diagnostics: kv.Key + " is not supported", Location: kv.Key}
			}
		}
		rest = append(rest, kv)
	}
	q, err := a.defs.ParseQuery(typ, rest, store.Options{DefaultCount: a.o.Limits.DefaultCount, MaxCount: a.o.Limits.MaxCount, RefuseSortModifiers: !a.rel.SortModifiers})
	if err != nil {
		var pe *store.ParamError
		if errors.As(err, &pe) {
			return sr, &Error{Status: http.StatusBadRequest, Code: pe.Code, Diagnostics: pe.Error(), Location: pe.Param}
		}
		return sr, errorf(http.StatusBadRequest, "invalid", "%v", err)
	}
	if strict && len(q.Ignored) > 0 {
		return sr, &Error{Status: http.StatusBadRequest, Code: "not-supported", Diagnostics: "unknown search parameter " + q.Ignored[0] + " for " + typ + " (handling=strict)", Location: q.Ignored[0]}
	}
	if sr.summaryCount {
		q.Count = 0
	}
	sr.q = q
	return sr, nil
}

func preferStrict(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(v, ",") {
			if strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(part), " ", ""), "handling=strict") {
				return true
			}
		}
	}
	return false
}

// searchHTTP answers GET Type?..., GET/POST Type/_search.
func (a *API) searchHTTP(w http.ResponseWriter, r *http.Request, f format, s *store.Store, typ string, form bool) *Error {
	kvs, e := parseQueryString(r.URL.RawQuery, a.o.Limits.MaxQueryParams)
	if e != nil {
		return e
	}
	if form {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if ct != "" && (err != nil || mt != "application/x-www-form-urlencoded") {
			return errorf(http.StatusUnsupportedMediaType, "not-supported", "POST %s/_search takes a form body (application/x-www-form-urlencoded), not %q", typ, ct)
		}
		body, e := a.readCapped(r)
		if e != nil {
			return e
		}
		more, e := parseQueryString(string(bytes.TrimSpace(body)), a.o.Limits.MaxQueryParams-len(kvs))
		if e != nil {
			return e
		}
		kvs = append(kvs, more...)
	}
	head, tail, e := a.search(r, a.BaseURL(r), s, typ, kvs, preferStrict(r))
	if e != nil {
		return e
	}
	a.writeParts(w, r, f, http.StatusOK, head, tail)
	return nil
}

// search runs a search and renders the searchset Bundle, in two parts
// written one after the other: head, the Bundle's own id and
// lastUpdated, and tail, the rest. A search whose render the store keeps
// (same type, parameters, base URL and handling, no SMART scope
// restricting it, the store's content unchanged since) is answered from
// it: tail is then the store's copy, shared, not to be modified.
//
// base is the release's base URL for this request (API.BaseURL), which the
// Bundle's links carry: a batch works it out once for all its entries.
func (a *API) search(r *http.Request, base string, s *store.Store, typ string, kvs []store.KV, strict bool) (head, tail []byte, _ *Error) {
	cons, e := permit(r, typ, smartscope.Search)
	if e != nil {
		return nil, nil, e
	}
	if kvs, e = a.constrainSearch(typ, kvs, cons); e != nil {
		return nil, nil, e
	}
	var key []byte
	var gen uint64
	cacheable := !scopesOf(r).Scoped()
	if cacheable {
		var buf [256]byte
		key = appendSearchKey(buf[:0], typ, base, strict, kvs)
		if tail, ok := s.CachedRender(key); ok {
			return a.searchsetHead(), tail, nil
		}
		gen = s.RenderGen() // before the search: a write after it keeps this render out
	}
	sr, e := a.parseSearch(typ, kvs, strict)
	if e != nil {
		return nil, nil, e
	}
	res := s.Search(sr.q)
	res.Included = a.filterIncluded(r, s, res.Included)
	max := a.o.Limits.MaxResponseBytes
	// without _elements the stored bytes are a lower bound of the page:
	// refuse before rendering rather than after
	if len(sr.elements) == 0 && int64(totalLen(res.Matches)+totalLen(res.Included)) > max {
		return nil, nil, tooLarge(max)
	}
	tail = a.searchsetTail(base, typ, sr, res)
	head = a.searchsetHead()
	if int64(len(head)+len(tail)) > max {
		return nil, nil, tooLarge(max)
	}
	if cacheable {
		s.KeepRendered(key, gen, tail)
	}
	return head, tail, nil
}

// appendSearchKey appends the key of a search's render: everything it
// depends on besides the store's content. Each part is length-prefixed, so no value
// can make two searches share a key.
func appendSearchKey(b []byte, typ, base string, strict bool, kvs []store.KV) []byte {
	b = appendKeyPart(appendKeyPart(b, typ), base)
	if strict {
		b = append(b, 's')
	}
	for _, kv := range kvs {
		b = appendKeyPart(appendKeyPart(b, kv.Key), kv.Value)
	}
	return b
}

func appendKeyPart(b []byte, v string) []byte {
	b = strconv.AppendInt(b, int64(len(v)), 10)
	b = append(b, ':')
	return append(b, v...)
}

// tooLarge refuses a search page over Limits.MaxResponseBytes; a smaller
// _count (or _elements) gets it through.
func tooLarge(max int64) *Error {
	return errorf(http.StatusBadRequest, "too-costly", "the search response would exceed %d bytes; ask for a smaller _count", max)
}

// How a Bundle the API writes starts (searchsetHead, responseBundle), and
// what a searchset's head has after its id.
const (
	bundleOpen    = `{"resourceType":"Bundle","id":`
	searchsetMeta = `,"meta":{"lastUpdated":"`
)

// searchsetHead is the start of a searchset Bundle, up to the end of its
// own id and lastUpdated; searchsetTail is the rest.
func (a *API) searchsetHead() []byte {
	id := a.o.NewID()
	b := make([]byte, 0, len(bundleOpen)+len(id)+4+len(searchsetMeta)+len(store.InstantLayout)+2)
	b = append(b, bundleOpen...)
	b = appendJSONString(b, id)
	b = append(b, searchsetMeta...)
	b = store.AppendInstant(b, a.o.Now())
	return append(b, '"')
}

// searchsetTail writes a searchset Bundle from the stored bytes, from
// the end of meta.lastUpdated on: everything but what each response has
// of its own.
func (a *API) searchsetTail(base, typ string, sr searchRequest, res store.Result) []byte {
	q := sr.q
	var b bytes.Buffer
	b.Grow(256 + 64*len(res.Matches) + totalLen(res.Matches) + totalLen(res.Included))
	b.WriteString(`},"type":"searchset"`)
	if sr.total != "none" {
		b.WriteString(`,"total":`)
		b.WriteString(strconv.Itoa(res.Total))
	}
	b.WriteString(`,"link":[`)
	link := func(rel string, offset int, first bool) {
		if !first {
			b.WriteByte(',')
		}
		b.WriteString(`{"relation":"`)
		b.WriteString(rel)
		b.WriteString(`","url":`)
		u := base + "/" + typ
		if qs := q.Encode(offset); qs != "" {
			u += "?" + qs
		}
		// controls the store does not see travel in every link
		if sr.summaryCount {
			u = addParam(u, "_summary=count")
		}
		if sr.total != "" {
			u = addParam(u, "_total="+sr.total)
		}
		ooString(&b, u)
		b.WriteByte('}')
	}
	link("self", q.Offset, true)
	if q.Count > 0 {
		link("first", 0, false)
		if q.Offset > 0 {
			link("previous", max(0, q.Offset-q.Count), false)
		}
		if q.Offset+q.Count < res.Total {
			link("next", q.Offset+q.Count, false)
		}
		if res.Total > 0 {
			link("last", (res.Total-1)/q.Count*q.Count, false)
		}
	}
	b.WriteByte(']')
	if len(res.Matches)+len(res.Included) > 0 {
		b.WriteString(`,"entry":[`)
		first := true
		entry := func(d *store.Doc, mode string) {
			if !first {
				b.WriteByte(',')
			}
			first = false
			b.WriteString(`{"fullUrl":`)
			ooString(&b, base+"/"+d.Type+"/"+d.ID)
			b.WriteString(`,"resource":`)
			b.Write(a.subset(d.JSON, sr.elements))
			b.WriteString(`,"search":{"mode":"`)
			b.WriteString(mode)
			b.WriteString(`"}}`)
		}
		for _, d := range res.Matches {
			entry(d, "match")
		}
		for _, d := range res.Included {
			entry(d, "include")
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.Bytes()
}

func totalLen(ds []*store.Doc) int {
	n := 0
	for _, d := range ds {
		n += len(d.JSON)
	}
	return n
}

// read answers GET Type/id and GET Type/id/_history/vid (only the current
// version is kept).
func (a *API) read(w http.ResponseWriter, r *http.Request, f format, s *store.Store, typ, id, vid string) *Error {
	d, err := s.Get(typ, id)
	switch {
	case errors.Is(err, store.ErrGone):
		return errorf(http.StatusGone, "not-found", "%s/%s has been deleted", typ, id)
	case err != nil:
		return errorf(http.StatusNotFound, "not-found", "%s/%s is not known", typ, id)
	}
	if e := a.readable(r, s, d); e != nil {
		return e
	}
	if vid != "" && vid != strconv.Itoa(d.Version) {
		return errorf(http.StatusNotFound, "not-found", "%s/%s has no version %q here (only the current version, %d, is kept)", typ, id, vid, d.Version)
	}
	a.setVersionHeaders(w, d)
	if notModified(r, d) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	a.write(w, r, f, http.StatusOK, d.JSON)
	return nil
}

// notModified answers a conditional read (RFC 9110 §13.2.2): If-None-Match
// when present, else If-Modified-Since. HTTP dates have whole seconds, so
// lastUpdated is compared truncated to the second: a resource written at
// 10:00:00.400 has not changed since "10:00:00 GMT", which is what its own
// Last-Modified says. An unparsable date is ignored, as RFC 9110 asks.
func notModified(r *http.Request, d *store.Doc) bool {
	if match := HeaderValue(r.Header, "If-None-Match"); match != "" {
		return match == etag(d)
	}
	ims := HeaderValue(r.Header, "If-Modified-Since")
	if ims == "" {
		return false // most requests: no parse, no error to allocate
	}
	since, err := http.ParseTime(ims)
	return err == nil && !d.Updated.Truncate(time.Second).After(since)
}

func etag(d *store.Doc) string { return etagOf(d.Version) }

func etagOf(version int) string { return `W/"` + strconv.Itoa(version) + `"` }

func (a *API) setVersionHeaders(w http.ResponseWriter, d *store.Doc) {
	h := w.Header()
	if v := d.Version; v >= 1 && v <= etagsKept {
		h["Etag"] = a.etags[v-1]
	} else {
		h["Etag"] = []string{etag(d)}
	}
	m := a.lastMod.Load()
	if m == nil || !m.t.Equal(d.Updated) {
		m = &lastModMemo{t: d.Updated, v: []string{d.Updated.UTC().Format(http.TimeFormat)}}
		a.lastMod.Store(m)
	}
	h["Last-Modified"] = m.v
}

// lastModified is a Bundle response's lastModified element.
func lastModified(d *store.Doc) string { return d.Updated.UTC().Format(time.RFC3339) }

// addParam appends one encoded name=value to a URL.
func addParam(u, kv string) string {
	if strings.Contains(u, "?") {
		return u + "&" + kv
	}
	return u + "?" + kv
}
