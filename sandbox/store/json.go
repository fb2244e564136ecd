package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// MaxDepth bounds the nesting of JSON the store accepts from outside.
const MaxDepth = 100

// InputError reports a resource the store refuses. Code is the FHIR
// issue-type code the API answers with ("structure" for JSON that does not
// parse, "invalid" for JSON that is not an acceptable resource).
type InputError struct {
	Code string
	Msg  string
}

func (e *InputError) Error() string { return e.Msg }

func structureErr(format string, args ...any) error {
	return &InputError{Code: "structure", Msg: fmt.Sprintf(format, args...)}
}

func invalidErr(format string, args ...any) error {
	return &InputError{Code: "invalid", Msg: fmt.Sprintf(format, args...)}
}

// member is one top-level element of a resource, in document order.
type member struct {
	key string
	raw json.RawMessage
}

// parsed is a resource split into its top-level members. Members are
// decoded only when a search parameter needs them (element), so large
// elements such as the narrative are never unmarshalled.
type parsed struct {
	raw  []byte // the resource as given
	typ  string
	id   string
	meta []member // meta's members other than versionId and lastUpdated
	// metaVersion and metaUpdated are the resource's own meta.versionId
	// and meta.lastUpdated, raw: only a fixture load keeps them (Op.KeepMeta)
	metaVersion, metaUpdated json.RawMessage
	members                  []member        // everything but resourceType, id and meta
	compact                  bool            // no whitespace between tokens: members are copied as they are
	decoded                  []decodedMember // parallel to members, made on first use
}

// decodedMember is a member decoded for index extraction. A slice beside
// members rather than a map by name: a resource is indexed once, through
// a handful of elements, and a map cost more than the lookups it saved.
type decodedMember struct {
	v    any
	done bool
}

// parse splits a resource into ordered top-level members, checking the
// whole document on the way (it is CheckJSON's scanner).
func parse(b []byte) (*parsed, error) {
	c := checker{b: b}
	members, err := c.members()
	if err != nil {
		return nil, err
	}
	c.ws()
	if c.i != len(c.b) {
		return nil, structureErr("unexpected data after the JSON value at offset %d", c.i)
	}
	p := &parsed{raw: b, compact: !c.spaced}
	for _, m := range members {
		switch m.key {
		case "resourceType":
			if err := json.Unmarshal(m.raw, &p.typ); err != nil || p.typ == "" {
				return nil, invalidErr("resourceType must be a non-empty string")
			}
		case "id":
			if err := json.Unmarshal(m.raw, &p.id); err != nil {
				return nil, invalidErr("id must be a string")
			}
		case "meta":
			mc := checker{b: m.raw}
			metas, err := mc.members()
			if err != nil {
				return nil, invalidErr("meta must be a JSON object")
			}
			for _, mm := range metas {
				switch mm.key { // the server owns these
				case "versionId":
					p.metaVersion = mm.raw
				case "lastUpdated":
					p.metaUpdated = mm.raw
				default:
					p.meta = append(p.meta, mm)
				}
			}
		default:
			p.members = append(p.members, m)
		}
	}
	if p.typ == "" {
		return nil, invalidErr("the resource has no resourceType")
	}
	return p, nil
}

// ownMeta returns the resource's own meta.versionId, when it is a
// positive integer (the store numbers versions), and meta.lastUpdated,
// when it is a valid instant; zero values otherwise.
func (p *parsed) ownMeta() (version int, updated time.Time) {
	var v, u string
	if json.Unmarshal(p.metaVersion, &v) == nil {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			version = n
		}
	}
	if json.Unmarshal(p.metaUpdated, &u) == nil {
		if t, err := time.Parse(time.RFC3339Nano, u); err == nil {
			updated = t
		}
	}
	return version, updated
}

// element decodes one top-level element for index extraction, once.
func (p *parsed) element(name string) (any, bool) {
	for i, m := range p.members {
		if m.key != name {
			continue
		}
		if p.decoded == nil {
			p.decoded = make([]decodedMember, len(p.members))
		}
		d := &p.decoded[i]
		if !d.done {
			d.done = true
			var v any
			if json.Unmarshal(m.raw, &v) == nil {
				d.v = v
			}
		}
		return d.v, d.v != nil
	}
	return nil, false
}

// encode writes the stored form of a resource: resourceType, id and meta
// first (meta carrying the server's versionId and lastUpdated), then the
// client's elements in the order it sent them, compacted.
func (p *parsed) encode(id string, version int, updated time.Time) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(p.raw) + 96)
	b.WriteString(`{"resourceType":`)
	writeJSONString(&b, p.typ)
	b.WriteString(`,"id":`)
	writeJSONString(&b, id)
	b.WriteString(`,"meta":{"versionId":"`)
	b.WriteString(strconv.Itoa(version))
	b.WriteString(`","lastUpdated":"`)
	var at [32]byte
	b.Write(AppendInstant(at[:0], updated))
	b.WriteByte('"')
	for _, m := range p.meta {
		b.WriteByte(',')
		writeJSONString(&b, m.key)
		b.WriteByte(':')
		if err := p.copyValue(&b, m.raw); err != nil {
			return nil, structureErr("malformed JSON in meta.%s: %v", m.key, err)
		}
	}
	b.WriteByte('}')
	for _, m := range p.members {
		b.WriteByte(',')
		writeJSONString(&b, m.key)
		b.WriteByte(':')
		if err := p.copyValue(&b, m.raw); err != nil {
			return nil, structureErr("malformed JSON in %s: %v", m.key, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// copyValue writes a member's value compacted; compact input is copied.
func (p *parsed) copyValue(b *bytes.Buffer, raw []byte) error {
	if p.compact {
		b.Write(raw)
		return nil
	}
	return json.Compact(b, raw)
}

// InstantLayout is how the store writes FHIR instants (meta.lastUpdated).
const InstantLayout = "2006-01-02T15:04:05.000Z07:00"

// AppendInstant appends t in UTC as InstantLayout writes it
// ("2026-12-02T15:04:05.123Z"), without the layout interpreter of
// time.Time.AppendFormat for the years 0 to 9999 (every response of a
// search carries one).
func AppendInstant(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, InstantLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	var d [24]byte
	put := func(at, v, width int) {
		for i := at + width - 1; i >= at; i-- {
			d[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	d[4] = '-'
	put(5, int(month), 2)
	d[7] = '-'
	put(8, day, 2)
	d[10] = 'T'
	put(11, hour, 2)
	d[13] = ':'
	put(14, minute, 2)
	d[16] = ':'
	put(17, sec, 2)
	d[19] = '.'
	put(20, ms, 3)
	d[23] = 'Z'
	return append(b, d[:]...)
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a Go string always marshals
	b.Write(enc)
}

// storedForm is what parse and encode make of a generated resource at
// version 1, without parsing it: the renderers write compact JSON that
// begins {"resourceType":typ,"id":id, then meta (profiles only) if any,
// so the store's versionId and lastUpdated are inserted after the id or
// at the start of that meta. ok is false for any other shape (escaped or
// misplaced type, id or meta, a meta with its own versionId or
// lastUpdated, a malformed meta), which the caller parses instead. The
// insertion is made in raw's spare capacity when it has room, so raw
// must not be used afterwards.
func storedForm(raw []byte, typ, id string, updated time.Time) (out []byte, ok bool) {
	if !ValidID(typ) || !ValidID(id) { // letters, digits, '-' and '.': written in JSON as themselves
		return nil, false
	}
	rest, ok := cutPrefixes(raw, `{"resourceType":"`, typ, `","id":"`, id, `"`)
	if !ok {
		return nil, false
	}
	var buf [80]byte
	ins := buf[:0]
	pos := len(raw) - len(rest)
	if m, hasMeta := bytes.CutPrefix(rest, []byte(`,"meta":`)); hasMeta {
		c := checker{b: m}
		if len(m) == 0 || m[0] != '{' || c.value(0) != nil || c.spaced {
			return nil, false
		}
		inner := m[1 : c.i-1]
		if bytes.Contains(inner, []byte(`"versionId"`)) || bytes.Contains(inner, []byte(`"lastUpdated"`)) {
			return nil, false
		}
		rest = m[c.i:]
		pos += len(`,"meta":{`)
		ins = append(ins, `"versionId":"1","lastUpdated":"`...)
		ins = AppendInstant(ins, updated)
		ins = append(ins, '"')
		if len(inner) > 0 {
			ins = append(ins, ',')
		}
	} else {
		if bytes.Contains(rest, []byte(`"meta":`)) {
			return nil, false // meta elsewhere: encode moves it up
		}
		ins = append(ins, `,"meta":{"versionId":"1","lastUpdated":"`...)
		ins = AppendInstant(ins, updated)
		ins = append(ins, '"', '}')
	}
	if len(rest) == 0 || rest[0] != ',' && rest[0] != '}' || rest[len(rest)-1] != '}' {
		return nil, false
	}
	if cap(raw)-len(raw) >= len(ins) {
		out = raw[:len(raw)+len(ins)]
		copy(out[pos+len(ins):], raw[pos:])
	} else {
		out = make([]byte, len(raw)+len(ins))
		copy(out, raw[:pos])
		copy(out[pos+len(ins):], raw[pos:])
	}
	copy(out[pos:], ins)
	return out, true
}

// cutPrefixes is b after the parts, in order, if it begins with them.
func cutPrefixes(b []byte, parts ...string) ([]byte, bool) {
	for _, p := range parts {
		if len(b) < len(p) || string(b[:len(p)]) != p {
			return nil, false
		}
		b = b[len(p):]
	}
	return b, true
}
