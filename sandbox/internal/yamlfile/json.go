package yamlfile

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxJSONDepth bounds the nesting of a value rendered as JSON; a request
// or response body in a test file never needs more.
const maxJSONDepth = 64

// JSON renders a YAML value as JSON, keeping the order of mapping keys as
// written. ok is false, with problems recorded, when the value has no JSON
// form (an infinite number, a repeated key...).
func (d *Decoder) JSON(n *yaml.Node, what string) (b []byte, ok bool) {
	var buf bytes.Buffer
	ok = d.writeJSON(&buf, n, what, 0)
	return buf.Bytes(), ok
}

func (d *Decoder) writeJSON(b *bytes.Buffer, n *yaml.Node, what string, depth int) bool {
	if !d.Check(n, what) {
		return false
	}
	if depth > maxJSONDepth {
		d.Addf(n, "%s is nested too deeply", what)
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if !d.key(k, what, jsonKey, seen) {
				return false
			}
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			b.Write(kb)
			b.WriteByte(':')
			if !d.writeJSON(b, n.Content[i+1], what, depth+1) {
				return false
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !d.writeJSON(b, c, what, depth+1) {
				return false
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		return d.writeJSONScalar(b, n, what)
	default:
		d.Addf(n, "%s cannot be rendered as JSON", what)
		return false
	}
	return true
}

// writeJSONScalar writes numbers and booleans as the values yaml.v3 reads
// them as (0x10 is 16, True is true) and everything else as a string.
func (d *Decoder) writeJSONScalar(b *bytes.Buffer, n *yaml.Node, what string) bool {
	switch n.ShortTag() {
	case "!!null":
		b.WriteString("null")
	case "!!bool":
		var v bool
		if n.Decode(&v) != nil {
			d.Addf(n, "%s: %q is not a JSON boolean", what, n.Value)
			return false
		}
		b.WriteString(strconv.FormatBool(v))
	case "!!int":
		if !d.unambiguous(n, what) {
			return false
		}
		var v int64
		if n.Decode(&v) != nil {
			d.Addf(n, "%s: %q is not a JSON number", what, n.Value)
			return false
		}
		b.WriteString(strconv.FormatInt(v, 10))
	case "!!float":
		var v float64
		if n.Decode(&v) != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			d.Addf(n, "%s: %q is not a JSON number", what, n.Value)
			return false
		}
		nb, _ := json.Marshal(v)
		b.Write(nb)
	default:
		sb, _ := json.Marshal(n.Value)
		b.Write(sb)
	}
	return true
}
