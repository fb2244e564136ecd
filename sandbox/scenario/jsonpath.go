package scenario

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// pathStep is one segment of a JSON path: an object key or an array index.
type pathStep struct {
	key   string
	index int // -1 for a key
}

// parsePath reads "a.b.0.c", "a.b[0].c" or "link[?relation=next].url"-free
// dotted paths. A segment of digits indexes an array.
func parsePath(p string) ([]pathStep, error) {
	if p == "" {
		return nil, errors.New("empty json path")
	}
	if len(p) > 512 {
		return nil, errors.New("json path is longer than 512 characters")
	}
	p = strings.ReplaceAll(p, "[", ".")
	p = strings.ReplaceAll(p, "]", "")
	var out []pathStep
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return nil, fmt.Errorf("json path %q has an empty segment", p)
		}
		if i, err := strconv.Atoi(seg); err == nil {
			if i < 0 {
				return nil, fmt.Errorf("json path %q has a negative index", p)
			}
			out = append(out, pathStep{index: i})
			continue
		}
		out = append(out, pathStep{key: seg, index: -1})
	}
	return out, nil
}

// lookup follows a path through decoded JSON; ok false when a segment is
// missing.
func lookup(v any, path string) (any, bool) {
	steps, err := parsePath(path)
	if err != nil {
		return nil, false
	}
	for _, s := range steps {
		switch x := v.(type) {
		case map[string]any:
			if s.index >= 0 {
				var ok bool
				v, ok = x[strconv.Itoa(s.index)]
				if !ok {
					return nil, false
				}
				continue
			}
			var ok bool
			v, ok = x[s.key]
			if !ok {
				return nil, false
			}
		case []any:
			if s.index < 0 || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, true
}
