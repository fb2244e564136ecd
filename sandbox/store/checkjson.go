package store

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// CheckJSON rejects what encoding/json would silently accept from an
// untrusted client: invalid UTF-8 (replaced by U+FFFD otherwise), duplicate
// object keys (the last would win), nesting deeper than MaxDepth, and
// trailing data after the value. It is a single pass over the bytes with
// no allocation but the key sets, so it costs little next to the request
// it guards.
func CheckJSON(b []byte) error {
	if !utf8.Valid(b) {
		return structureErr("the body is not valid UTF-8")
	}
	c := checker{b: b}
	c.ws()
	if err := c.value(0); err != nil {
		return err
	}
	c.ws()
	if c.i != len(c.b) {
		return structureErr("unexpected data after the JSON value at offset %d", c.i)
	}
	return nil
}

type checker struct {
	b      []byte
	i      int
	spaced bool // whitespace was seen between tokens: the input is not compact
}

func (c *checker) ws() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
			c.spaced = true
		default:
			return
		}
	}
}

func (c *checker) fail(what string) error {
	if c.i >= len(c.b) {
		return structureErr("malformed JSON: the JSON ends early (%s)", what)
	}
	return structureErr("malformed JSON at offset %d: %s", c.i, what)
}

func (c *checker) value(depth int) error {
	if c.i >= len(c.b) {
		return c.fail("a value is missing")
	}
	switch ch := c.b[c.i]; {
	case ch == '{':
		if depth >= MaxDepth {
			return structureErr("JSON nested deeper than %d levels", MaxDepth)
		}
		return c.object(depth + 1)
	case ch == '[':
		if depth >= MaxDepth {
			return structureErr("JSON nested deeper than %d levels", MaxDepth)
		}
		return c.array(depth + 1)
	case ch == '"':
		_, err := c.str()
		return err
	case ch == 't':
		return c.lit("true")
	case ch == 'f':
		return c.lit("false")
	case ch == 'n':
		return c.lit("null")
	case ch == '-' || ch >= '0' && ch <= '9':
		return c.number()
	}
	return c.fail("unexpected character")
}

func (c *checker) lit(s string) error {
	if len(c.b)-c.i < len(s) || string(c.b[c.i:c.i+len(s)]) != s {
		return c.fail("invalid literal")
	}
	c.i += len(s)
	return nil
}

func (c *checker) number() error {
	start := c.i
	if c.b[c.i] == '-' {
		c.i++
	}
	digits := func() int {
		n := 0
		for c.i < len(c.b) && c.b[c.i] >= '0' && c.b[c.i] <= '9' {
			c.i++
			n++
		}
		return n
	}
	if c.i < len(c.b) && c.b[c.i] == '0' {
		c.i++
	} else if digits() == 0 {
		return c.fail("invalid number")
	}
	if c.i < len(c.b) && c.b[c.i] == '.' {
		c.i++
		if digits() == 0 {
			return c.fail("invalid number")
		}
	}
	if c.i < len(c.b) && (c.b[c.i] == 'e' || c.b[c.i] == 'E') {
		c.i++
		if c.i < len(c.b) && (c.b[c.i] == '+' || c.b[c.i] == '-') {
			c.i++
		}
		if digits() == 0 {
			return c.fail("invalid number")
		}
	}
	if c.i == start {
		return c.fail("invalid number")
	}
	return nil
}

// str scans a string and returns its raw bytes (between the quotes) and
// whether it holds escapes, through the escaped flag in the raw slice.
func (c *checker) str() ([]byte, error) {
	c.i++ // opening quote
	start := c.i
	for c.i < len(c.b) {
		ch := c.b[c.i]
		switch {
		case ch == '"':
			raw := c.b[start:c.i]
			c.i++
			return raw, nil
		case ch == '\\':
			c.i++
			if c.i >= len(c.b) {
				return nil, c.fail("unterminated string")
			}
			switch c.b[c.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				c.i++
			case 'u':
				if len(c.b)-c.i < 5 || !isHex4(c.b[c.i+1:c.i+5]) {
					return nil, c.fail("invalid \\u escape")
				}
				c.i += 5
			default:
				return nil, c.fail("invalid escape")
			}
		case ch < 0x20:
			return nil, c.fail("control character in string")
		default:
			c.i++
		}
	}
	return nil, c.fail("unterminated string")
}

func isHex4(b []byte) bool {
	for _, ch := range b {
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'f' || ch >= 'A' && ch <= 'F') {
			return false
		}
	}
	return true
}

func (c *checker) object(depth int) error {
	c.i++ // {
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		return nil
	}
	var keys map[string]struct{}
	var first [8][]byte // small objects need no map, and their keys no copies
	n := 0
	for {
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			return c.fail("an object key is expected")
		}
		key, err := c.str()
		if err != nil {
			return err
		}
		if bytes.IndexByte(key, '\\') >= 0 { // compare keys as decoded, as encoding/json would
			var s string
			_ = json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &s)
			key = []byte(s)
		}
		dup := false
		if keys != nil {
			_, dup = keys[string(key)]
			keys[string(key)] = struct{}{}
		} else {
			for _, k := range first[:n] {
				if bytes.Equal(k, key) {
					dup = true
				}
			}
			if n < len(first) {
				first[n] = key
				n++
			} else {
				keys = make(map[string]struct{}, 16)
				for _, k := range first {
					keys[string(k)] = struct{}{}
				}
				keys[string(key)] = struct{}{}
			}
		}
		if dup {
			return structureErr("duplicate key %q in a JSON object", key)
		}
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return c.fail("':' is expected after an object key")
		}
		c.i++
		c.ws()
		if err := c.value(depth); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.b) {
			return c.fail("the object is not closed")
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case '}':
			c.i++
			return nil
		default:
			return c.fail("',' or '}' is expected")
		}
	}
}

func (c *checker) array(depth int) error {
	c.i++ // [
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == ']' {
		c.i++
		return nil
	}
	for {
		c.ws()
		if err := c.value(depth); err != nil {
			return err
		}
		c.ws()
		if c.i >= len(c.b) {
			return c.fail("the array is not closed")
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case ']':
			c.i++
			return nil
		default:
			return c.fail("',' or ']' is expected")
		}
	}
}

// members scans a top-level JSON object, validating it whole, and returns
// its members in document order with their raw values.
func (c *checker) members() ([]member, error) {
	c.ws()
	if c.i >= len(c.b) || c.b[c.i] != '{' {
		return nil, invalidErr("a resource must be a JSON object")
	}
	c.i++
	var out []member
	c.ws()
	if c.i < len(c.b) && c.b[c.i] == '}' {
		c.i++
		return out, nil
	}
	for {
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != '"' {
			return nil, c.fail("an object key is expected")
		}
		raw, err := c.str()
		if err != nil {
			return nil, err
		}
		key := string(raw)
		if containsByte(raw, '\\') {
			_ = json.Unmarshal(append(append([]byte{'"'}, raw...), '"'), &key)
		}
		for _, m := range out {
			if m.key == key {
				return nil, structureErr("duplicate key %q in a JSON object", key)
			}
		}
		c.ws()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return nil, c.fail("':' is expected after an object key")
		}
		c.i++
		c.ws()
		start := c.i
		if err := c.value(1); err != nil {
			return nil, err
		}
		out = append(out, member{key: key, raw: c.b[start:c.i]})
		c.ws()
		if c.i >= len(c.b) {
			return nil, c.fail("the object is not closed")
		}
		switch c.b[c.i] {
		case ',':
			c.i++
		case '}':
			c.i++
			return out, nil
		default:
			return nil, c.fail("',' or '}' is expected")
		}
	}
}

func containsByte(b []byte, x byte) bool {
	for _, ch := range b {
		if ch == x {
			return true
		}
	}
	return false
}
