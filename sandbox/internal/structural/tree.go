package structural

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxTreeDepth bounds JSON nesting; FHIR resources, even a Bundle with
// contained resources, stay well below it.
const maxTreeDepth = 100

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	switch k {
	case kindNull:
		return "null"
	case kindBool:
		return "boolean"
	case kindNumber:
		return "number"
	case kindString:
		return "string"
	case kindArray:
		return "array"
	default:
		return "object"
	}
}

// node is one JSON value. Unlike map[string]any it keeps the literal text of
// numbers (FHIR decimals and integers have their own lexical rules) and the
// key order, and the parser rejects duplicate keys instead of keeping the
// last one.
type node struct {
	kind  kind
	text  string // string value, or the literal of a number
	b     bool
	keys  []string
	vals  []*node
	items []*node
}

func (n *node) get(key string) (*node, bool) {
	for i, k := range n.keys {
		if k == key {
			return n.vals[i], true
		}
	}
	return nil, false
}

// parseTree decodes exactly one JSON value from b.
func parseTree(b []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := parseValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid json: data after the top-level value")
	}
	return n, nil
}

func parseValue(dec *json.Decoder, path string, depth int) (*node, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("%s: nesting deeper than %d", orRoot(path), maxTreeDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("invalid json at %s: %w", orRoot(path), err)
	}
	switch t := tok.(type) {
	case nil:
		return &node{kind: kindNull}, nil
	case bool:
		return &node{kind: kindBool, b: t}, nil
	case json.Number:
		return &node{kind: kindNumber, text: string(t)}, nil
	case string:
		return &node{kind: kindString, text: t}, nil
	case json.Delim:
		switch t {
		case '[':
			n := &node{kind: kindArray}
			for i := 0; dec.More(); i++ {
				item, err := parseValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
				if err != nil {
					return nil, err
				}
				n.items = append(n.items, item)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid json at %s: %w", orRoot(path), err)
			}
			return n, nil
		case '{':
			n := &node{kind: kindObject}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("invalid json at %s: %w", orRoot(path), err)
				}
				key, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("invalid json at %s: object key is not a string", orRoot(path))
				}
				if seen[key] {
					return nil, fmt.Errorf("%s: duplicate key %q", orRoot(path), key)
				}
				seen[key] = true
				val, err := parseValue(dec, joinPath(path, key), depth+1)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.vals = append(n.vals, val)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("invalid json at %s: %w", orRoot(path), err)
			}
			return n, nil
		}
	}
	return nil, fmt.Errorf("invalid json at %s: unexpected token %v", orRoot(path), tok)
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(root)"
	}
	return path
}
