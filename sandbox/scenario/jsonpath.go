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

// lookupEach follows a path whose segments may include "*", every element
// of an array, and calls fn with the concrete path and value (ok false when
// a later segment is missing) of each element reached. An empty or missing
// array under "*" reaches nothing: "entry.*.resource.status" checks every
// entry of a searchset, and an empty searchset passes, so a check of the
// fields of whatever a search returns does not depend on the data having
// any. A path without "*" reaches exactly one value, as lookup does.
func lookupEach(v any, path string, fn func(concrete string, v any, ok bool)) {
	steps, err := parsePath(path)
	if err != nil {
		fn(path, nil, false)
		return
	}
	var rec func(v any, steps []pathStep, at string)
	rec = func(v any, steps []pathStep, at string) {
		join := func(seg string) string {
			if at == "" {
				return seg
			}
			return at + "." + seg
		}
		for i, s := range steps {
			if s.key == "*" {
				arr, _ := v.([]any)
				for k, e := range arr {
					rec(e, steps[i+1:], join(strconv.Itoa(k)))
				}
				return
			}
			seg := s.key
			if s.index >= 0 {
				seg = strconv.Itoa(s.index)
			}
			at = join(seg)
			switch x := v.(type) {
			case map[string]any:
				var ok bool
				if v, ok = x[seg]; !ok {
					if i+1 < len(steps) && steps[i+1].key == "*" {
						return // a missing array has no element (FHIR omits empty arrays)
					}
					fn(at, nil, false)
					return
				}
			case []any:
				if s.index < 0 || s.index >= len(x) {
					fn(at, nil, false)
					return
				}
				v = x[s.index]
			default:
				fn(at, nil, false)
				return
			}
		}
		fn(at, v, true)
	}
	rec(v, steps, "")
}
