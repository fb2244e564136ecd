package fhir

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// decodeBundle reads a request Bundle (body has passed store.CheckJSON)
// into in. The Bundles clients send (a batch of searches, compact or
// indented, members spelled exactly) are read by a direct scan of the
// bytes; anything else (escaped strings, null members, keys that differ
// from a field's name only in case, values of the wrong kind) goes to
// encoding/json, whose result and errors are the reference the scan
// must match.
func decodeBundle(body []byte, in *bundleIn) error {
	d := bundleScan{b: body}
	if d.bundle(in) && d.end() {
		return nil
	}
	*in = bundleIn{}
	return json.Unmarshal(body, in)
}

// bundleScan scans JSON that is known to be well formed. Every method
// reports false when the input is not of the simple shape it reads,
// leaving the decision to encoding/json.
type bundleScan struct {
	b []byte
	i int
}

func (d *bundleScan) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *bundleScan) end() bool {
	d.ws()
	return d.i == len(d.b)
}

// next reports whether the next token starts with c, and consumes it.
func (d *bundleScan) next(c byte) bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, as is.
func (d *bundleScan) str() (string, bool) {
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return "", false
	}
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			d.i = j + 1
			return string(d.b[start:j]), true
		case c == '\\' || c < 0x20:
			return "", false
		}
	}
	return "", false
}

// skip consumes one value of any kind.
func (d *bundleScan) skip() bool {
	d.ws()
	if d.i >= len(d.b) {
		return false
	}
	switch c := d.b[d.i]; c {
	case '"':
		d.i++
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case '\\':
				d.i += 2
			case '"':
				d.i++
				return true
			default:
				d.i++
			}
		}
		return false
	case '{', '[':
		depth := 0
		for d.i < len(d.b) {
			switch d.b[d.i] {
			case '{', '[':
				depth++
				d.i++
			case '}', ']':
				depth--
				d.i++
				if depth == 0 {
					return true
				}
			case '"':
				if !d.skip() {
					return false
				}
			default:
				d.i++
			}
		}
		return false
	default: // a number, true, false or null
		start := d.i
		for d.i < len(d.b) && !strings.ContainsRune(",}] \t\n\r", rune(d.b[d.i])) {
			d.i++
		}
		return d.i > start
	}
}

// key reads the next member's key of an object being read, and the
// colon after it: first is true for an object's first member. done
// reports the end of the object. A key with an escape, a non-ASCII byte,
// or differing only in case from one of names (encoding/json matches
// field names case-insensitively) stops the scan (ok false).
func (d *bundleScan) key(first bool, names []string) (key []byte, done, ok bool) {
	if first {
		if !d.next('{') {
			return nil, false, false
		}
		if d.next('}') {
			return nil, true, true
		}
	} else if !d.next(',') {
		return nil, true, d.next('}')
	}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false, false
	}
	start := d.i + 1
	end := start
	for ; end < len(d.b) && d.b[end] != '"'; end++ {
		if c := d.b[end]; c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return nil, false, false
		}
	}
	if end >= len(d.b) {
		return nil, false, false
	}
	key = d.b[start:end]
	d.i = end + 1
	for _, n := range names {
		if string(key) != n && strings.EqualFold(string(key), n) {
			return nil, false, false
		}
	}
	return key, false, d.next(':')
}

// notNull reports whether the next value is not null (null sets a field
// to its zero value in encoding/json, which the scan leaves to it).
func (d *bundleScan) notNull() bool {
	d.ws()
	return d.i < len(d.b) && d.b[d.i] != 'n'
}

var (
	bundleNames  = []string{"resourceType", "type", "entry"}
	entryNames   = []string{"fullUrl", "resource", "request"}
	requestNames = []string{"method", "url"}
)

func (d *bundleScan) bundle(in *bundleIn) bool {
	for first := true; ; first = false {
		k, done, ok := d.key(first, bundleNames)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(k) {
		case "resourceType":
			in.ResourceType, ok = d.str()
		case "type":
			in.Type, ok = d.str()
		case "entry":
			ok = d.entries(in)
		default:
			ok = d.skip()
		}
		if !ok {
			return false
		}
	}
}

func (d *bundleScan) entries(in *bundleIn) bool {
	if !d.next('[') {
		return false // null or not an array
	}
	// room for every entry that looks like one: the slice grows once
	in.Entry = make([]bundleEntryIn, 0, bytes.Count(d.b[d.i:], []byte(`"request"`)))
	if d.next(']') {
		return true
	}
	for {
		in.Entry = append(in.Entry, bundleEntryIn{})
		if !d.entry(&in.Entry[len(in.Entry)-1]) {
			return false
		}
		if d.next(',') {
			continue
		}
		return d.next(']')
	}
}

func (d *bundleScan) entry(en *bundleEntryIn) bool {
	for first := true; ; first = false {
		k, done, ok := d.key(first, entryNames)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(k) {
		case "fullUrl":
			en.FullURL, ok = d.str()
		case "resource":
			ok = d.notNull()
			if ok {
				d.ws()
				start := d.i
				if ok = d.skip(); ok {
					en.Resource = append(json.RawMessage(nil), d.b[start:d.i]...)
				}
			}
		case "request":
			ok = d.notNull() && d.request(en)
		default:
			ok = d.skip()
		}
		if !ok {
			return false
		}
	}
}

func (d *bundleScan) request(en *bundleEntryIn) bool {
	req := &bundleRequestIn{}
	en.Request = req
	for first := true; ; first = false {
		k, done, ok := d.key(first, requestNames)
		switch {
		case !ok:
			return false
		case done:
			return true
		}
		switch string(k) {
		case "method":
			req.Method, ok = d.str()
			req.Method = methodName(req.Method)
		case "url":
			req.URL, ok = d.str()
		default:
			ok = d.skip()
		}
		if !ok {
			return false
		}
	}
}

// methodName returns the shared copy of an HTTP method name, so that a
// batch's entries do not each hold their own "GET".
func methodName(m string) string {
	for _, known := range [...]string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"} {
		if m == known {
			return known
		}
	}
	return m
}
