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

// parsed is a resource split into its top-level members and decoded once
// for index extraction.
type parsed struct {
	raw     []byte // the resource as given
	typ     string
	id      string
	meta    []member // meta's members other than versionId and lastUpdated
	members []member // everything but resourceType, id and meta
	value   map[string]any
}

// parse splits a resource into ordered top-level members and decodes it
// for index extraction. It assumes b passed CheckJSON when it came from
// outside.
func parse(b []byte) (*parsed, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, structureErr("malformed JSON: %v", err)
	}
	if tok != json.Delim('{') {
		return nil, invalidErr("a resource must be a JSON object")
	}
	p := &parsed{raw: b}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, structureErr("malformed JSON: %v", err)
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, structureErr("malformed JSON in %q: %v", key, err)
		}
		switch key {
		case "resourceType":
			if err := json.Unmarshal(raw, &p.typ); err != nil || p.typ == "" {
				return nil, invalidErr("resourceType must be a non-empty string")
			}
		case "id":
			if err := json.Unmarshal(raw, &p.id); err != nil {
				return nil, invalidErr("id must be a string")
			}
		case "meta":
			if err := p.splitMeta(raw); err != nil {
				return nil, err
			}
		default:
			p.members = append(p.members, member{key: key, raw: raw})
		}
	}
	if p.typ == "" {
		return nil, invalidErr("the resource has no resourceType")
	}
	if err := json.Unmarshal(b, &p.value); err != nil {
		return nil, structureErr("malformed JSON: %v", err)
	}
	return p, nil
}

func (p *parsed) splitMeta(raw json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return invalidErr("meta must be a JSON object")
	}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return structureErr("malformed JSON in meta: %v", err)
		}
		key, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return structureErr("malformed JSON in meta.%s: %v", key, err)
		}
		if key == "versionId" || key == "lastUpdated" {
			continue // the server owns these
		}
		p.meta = append(p.meta, member{key: key, raw: v})
	}
	return nil
}

// encode writes the stored form of a resource: resourceType, id and meta
// first (meta carrying the server's versionId and lastUpdated), then the
// client's elements in the order it sent them, compacted.
func (p *parsed) encode(id string, version int, updated time.Time) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":`)
	writeJSONString(&b, p.typ)
	b.WriteString(`,"id":`)
	writeJSONString(&b, id)
	b.WriteString(`,"meta":{"versionId":"`)
	b.WriteString(strconv.Itoa(version))
	b.WriteString(`","lastUpdated":"`)
	b.WriteString(updated.UTC().Format(InstantLayout))
	b.WriteByte('"')
	for _, m := range p.meta {
		b.WriteByte(',')
		writeJSONString(&b, m.key)
		b.WriteByte(':')
		if err := json.Compact(&b, m.raw); err != nil {
			return nil, structureErr("malformed JSON in meta.%s: %v", m.key, err)
		}
	}
	b.WriteByte('}')
	for _, m := range p.members {
		b.WriteByte(',')
		writeJSONString(&b, m.key)
		b.WriteByte(':')
		if err := json.Compact(&b, m.raw); err != nil {
			return nil, structureErr("malformed JSON in %s: %v", m.key, err)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// InstantLayout is how the store writes FHIR instants (meta.lastUpdated).
const InstantLayout = "2006-01-02T15:04:05.000Z07:00"

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a Go string always marshals
	b.Write(enc)
}
