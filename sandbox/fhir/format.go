package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// format is what the client asked of the response's shape.
type format struct {
	pretty bool
}

// jsonTypes are the media types (and _format shorthands) answered with
// JSON; both releases' FHIR JSON types are accepted by either release.
func isJSONType(t string) bool {
	switch strings.ToLower(strings.TrimSpace(t)) {
	case "json", "application/json", "application/fhir+json", "application/json+fhir", "text/json":
		return true
	}
	return false
}

// HeaderValue is h.Get(key) for a key already in canonical form (every
// literal key the request path reads): the map read without
// canonicalizing the key again, which Get does on every call.
func HeaderValue(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseFormat reads _format, _pretty and Accept. Only JSON is served:
// asking for XML (or only for something else) is 406.
func parseFormat(r *http.Request) (format, *Error) {
	var f format
	var q url.Values
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
		f.pretty = q.Get("_pretty") == "true"
	}
	if v := q.Get("_format"); v != "" {
		mt, _, err := mime.ParseMediaType(v)
		if err != nil {
			mt = v
		}
		if !isJSONType(mt) {
			return f, errorf(http.StatusNotAcceptable, "not-supported", "_format=%s is not supported: this server answers JSON only (_format=json)", v)
		}
		return f, nil
	}
	accept := HeaderValue(r.Header, "Accept")
	if accept == "" {
		return f, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		if params["q"] == "0" {
			continue
		}
		if isJSONType(mt) || mt == "*/*" || mt == "application/*" {
			return f, nil
		}
	}
	return f, errorf(http.StatusNotAcceptable, "not-supported", "cannot answer with %q: this server answers FHIR JSON only (Accept: application/fhir+json or application/json)", accept)
}

// readBody reads a JSON request body: the content type must be a JSON
// type (or form-encoded where form is true), the size is capped, and
// the JSON is checked strictly.
func (a *API) readBody(r *http.Request) ([]byte, *Error) {
	ct := HeaderValue(r.Header, "Content-Type")
	if ct != "" && !plainJSONType(ct) {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || !isJSONType(mt) {
			return nil, errorf(http.StatusUnsupportedMediaType, "not-supported", "Content-Type %q is not supported: send FHIR JSON (%s or application/json)", ct, a.o.Version.Release().MediaType)
		}
	}
	b, e := a.readCapped(r)
	if e != nil {
		return nil, e
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, errorf(http.StatusBadRequest, "structure", "the request body is empty")
	}
	return b, nil
}

// plainJSONType reports whether a Content-Type is a JSON type (isJSONType)
// with no parameter but charset=utf-8, as clients write it: one
// mime.ParseMediaType (a map of parameters a request) would only confirm.
func plainJSONType(ct string) bool {
	mt, params, _ := strings.Cut(ct, ";")
	params = strings.TrimSpace(params)
	return (params == "" || params == "charset=utf-8") && isJSONType(mt)
}

// preallocBody is the largest declared request body read into a buffer
// of its declared size before it has arrived.
const preallocBody = 64 << 10

func (a *API) readCapped(r *http.Request) ([]byte, *Error) {
	body := http.MaxBytesReader(nil, r.Body, a.o.Limits.MaxBodyBytes)
	var b []byte
	var err error
	if n := r.ContentLength; n > 0 && n <= min(a.o.Limits.MaxBodyBytes, preallocBody) {
		// net/http's body reader stops at the declared length: read a
		// small body into a buffer of that size, not one grown from 512
		// bytes (a large one grows as it arrives, so a declared length
		// alone never holds memory)
		b = make([]byte, n)
		var got int
		got, err = io.ReadFull(body, b)
		b = b[:got]
	} else {
		b, err = io.ReadAll(body)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "too-long", "the request body is larger than %d bytes", a.o.Limits.MaxBodyBytes)
		}
		return nil, errorf(http.StatusBadRequest, "structure", "could not read the request body")
	}
	return b, nil
}

var nosniff = []string{"nosniff"}

// write sends a FHIR JSON body, indented when _pretty=true.
func (a *API) write(w http.ResponseWriter, r *http.Request, f format, status int, body []byte) {
	a.writeParts(w, r, f, status, nil, body)
}

// writeParts sends the FHIR JSON body head followed by body (a search
// Bundle's own start and its shared rest), without joining them unless
// the body is indented.
func (a *API) writeParts(w http.ResponseWriter, r *http.Request, f format, status int, head, body []byte) {
	h := w.Header()
	// canonical keys and shared values: set on every response, so no
	// per-request allocation (the slices are never modified)
	h["Content-Type"] = a.contentType
	h["X-Content-Type-Options"] = nosniff
	if f.pretty {
		var buf bytes.Buffer
		if json.Indent(&buf, append(head[:len(head):len(head)], body...), "", "  ") == nil {
			buf.WriteByte('\n')
			head, body = nil, buf.Bytes()
		}
	}
	// an explicit length: net/http only computes one for bodies that fit
	// its first buffer, and a search Bundle sent chunked costs the client
	// a parse of the framing and the server a write per chunk
	h["Content-Length"] = []string{strconv.Itoa(len(head) + len(body))}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		if len(head) > 0 {
			if _, err := w.Write(head); err != nil {
				return
			}
		}
		_, _ = w.Write(body)
	}
}
