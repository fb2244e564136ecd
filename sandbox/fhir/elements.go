package fhir

import (
	"bytes"
	"encoding/json"
	"slices"
)

// subsetTag marks a resource cut down by _elements, as FHIR requires.
const subsetTag = `{"system":"http://hl7.org/fhir/v3/ObservationValue","code":"SUBSETTED","display":"subsetted"}`

// subset keeps only the named top-level elements of a stored resource
// (plus resourceType, id and meta, which are mandatory), and tags it
// SUBSETTED. With no elements it returns the stored bytes unchanged.
func (a *API) subset(doc []byte, elements []string) []byte {
	if len(elements) == 0 {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return doc
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return doc
		}
		key, _ := kt.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return doc
		}
		switch {
		case key == "meta":
			raw = tagSubsetted(raw)
		case key == "resourceType" || key == "id" || slices.Contains(elements, key):
		default:
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		ooString(&b, key)
		b.WriteByte(':')
		b.Write(raw)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// tagSubsetted adds the SUBSETTED tag to a meta object.
func tagSubsetted(meta json.RawMessage) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return meta
	}
	var tags []json.RawMessage
	_ = json.Unmarshal(m["tag"], &tags)
	tags = append(tags, json.RawMessage(subsetTag))
	m["tag"], _ = json.Marshal(tags)
	out, err := json.Marshal(m)
	if err != nil {
		return meta
	}
	return out
}
