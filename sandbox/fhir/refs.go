package fhir

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// refEntry is one entry of a transaction Bundle or fixture as reference
// resolution sees it: where it came from (fullUrl, its own id) and the id
// it is stored under.
type refEntry struct {
	FullURL string
	Type    string
	OldID   string // the resource's id before storing; "" when it had none
	NewID   string // the id it is stored under; "" for a delete
	JSON    []byte // the resource; rewritten in place
}

// refProblem is a reference that cannot be resolved.
type refProblem struct {
	Entry int    // index in the entries
	Path  string // JSON path of the reference element, e.g. subject.reference
	Msg   string
}

// refTargets maps every name an entry was known by (its fullUrl, its old
// Type/id, the Type/id ending an absolute fullUrl) to the Type/id it gets.
// A fixture loader passes one map through all its files so that a
// patient file may point at the urn:uuid of a hospital file loaded before.
type refTargets map[string]string

func (t refTargets) add(entries []refEntry) {
	for _, e := range entries {
		if e.NewID == "" || e.Type == "" {
			continue
		}
		to := e.Type + "/" + e.NewID
		if e.FullURL != "" {
			t[e.FullURL] = to
			// an absolute fullUrl ends with the Type/id relative
			// references use; those follow the entry to its new id
			if typ, id, ok := tailTypeID(e.FullURL); ok && typ == e.Type && id != e.NewID {
				t[typ+"/"+id] = to
			}
		}
		if e.OldID != "" && e.OldID != e.NewID {
			t[e.Type+"/"+e.OldID] = to
		}
	}
}

// tailTypeID returns the Type/id an absolute RESTful URL ends with.
func tailTypeID(u string) (typ, id string, ok bool) {
	if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		return "", "", false
	}
	u, _, _ = strings.Cut(u, "?")
	if i := strings.Index(u, "/_history/"); i >= 0 {
		u = u[:i]
	}
	parts := strings.Split(strings.TrimSuffix(u, "/"), "/")
	if len(parts) < 2 {
		return "", "", false
	}
	typ, id = parts[len(parts)-2], parts[len(parts)-1]
	if !isTypeName(typ) || !store.ValidID(id) {
		return "", "", false
	}
	return typ, id, true
}

func isTypeName(s string) bool {
	if s == "" || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// resolveReferences is the one reference rewriting of the sandbox, used by
// the transaction endpoint and the fixture loader alike. In every entry's
// resource, a reference naming another entry (by fullUrl, urn:uuid
// included, or by a Type/id that changed) becomes that entry's Type/id; a
// conditional reference (Type?params) becomes the Type/id of the one
// resource it matches among the entries (identifier only) and the store,
// and is a problem when it matches none or several. A urn: reference that
// names no entry is a problem too: it could never be followed.
// Only the values of "reference" elements are touched, so a string that
// merely looks like a fullUrl stays as it is.
func resolveReferences(entries []refEntry, targets refTargets, s *store.Store, defs store.Definitions) []refProblem {
	targets.add(entries)
	var problems []refProblem
	for i := range entries {
		e := &entries[i]
		if len(e.JSON) == 0 {
			continue
		}
		spans, err := referenceSpans(e.JSON)
		if err != nil {
			problems = append(problems, refProblem{Entry: i, Msg: err.Error()})
			continue
		}
		if len(spans) == 0 {
			continue
		}
		var out []byte
		last := 0
		for _, sp := range spans {
			to, ok := targets[sp.value]
			if !ok && strings.Contains(sp.value, "?") && !strings.Contains(sp.value, "://") {
				var msg string
				to, msg = resolveConditional(sp.value, entries, s, defs)
				if msg != "" {
					problems = append(problems, refProblem{Entry: i, Path: sp.path, Msg: msg})
					continue
				}
				ok = true
			}
			if !ok {
				if strings.HasPrefix(sp.value, "urn:") {
					problems = append(problems, refProblem{Entry: i, Path: sp.path, Msg: fmt.Sprintf("reference %q names no entry", sp.value)})
				}
				continue
			}
			if out == nil {
				out = make([]byte, 0, len(e.JSON)+64)
			}
			out = append(out, e.JSON[last:sp.start]...)
			out = appendJSONString(out, to)
			last = sp.end
		}
		if out != nil {
			e.JSON = append(out, e.JSON[last:]...)
		}
	}
	return problems
}

// resolveConditional finds the one resource a conditional reference
// matches: among the entries by identifier (the only parameter a resource
// not yet stored can be matched on), and in the store by a search.
func resolveConditional(ref string, entries []refEntry, s *store.Store, defs store.Definitions) (string, string) {
	typ, query, _ := strings.Cut(ref, "?")
	if !isTypeName(typ) {
		return "", fmt.Sprintf("conditional reference %q does not start with a resource type", ref)
	}
	kvs, e := parseQueryString(query, store.MaxParams)
	if e != nil {
		return "", fmt.Sprintf("conditional reference %q: %s", ref, e.Diagnostics)
	}
	if len(kvs) == 0 {
		return "", fmt.Sprintf("conditional reference %q has no search parameters", ref)
	}
	matches := map[string]bool{}
	var order []string
	found := func(tid string) {
		if !matches[tid] {
			matches[tid] = true
			order = append(order, tid)
		}
	}
	onlyIdentifier := true
	for _, kv := range kvs {
		onlyIdentifier = onlyIdentifier && kv.Key == "identifier"
	}
	if onlyIdentifier {
		for _, en := range entries {
			if en.Type == typ && en.NewID != "" && identifiersMatch(en.JSON, kvs) {
				found(typ + "/" + en.NewID)
			}
		}
	}
	if s != nil {
		q, err := defs.ParseQuery(typ, kvs, store.Options{DefaultCount: 2, MaxCount: 2})
		if err != nil {
			return "", fmt.Sprintf("conditional reference %q: %v", ref, err)
		}
		if len(q.Ignored) > 0 {
			return "", fmt.Sprintf("conditional reference %q: unknown search parameter %s", ref, strings.Join(q.Ignored, ", "))
		}
		q.Count = 2
		for _, d := range s.Search(q).Matches {
			found(d.Type + "/" + d.ID)
		}
	}
	switch len(order) {
	case 1:
		return order[0], ""
	case 0:
		return "", fmt.Sprintf("conditional reference %q matches no resource", ref)
	default:
		return "", fmt.Sprintf("conditional reference %q matches several resources (%s, …)", ref, strings.Join(order[:2], ", "))
	}
}

// identifiersMatch reports whether a resource has, for every identifier
// parameter, an identifier equal to system|value (or value alone).
func identifiersMatch(b []byte, kvs []store.KV) bool {
	var r struct {
		Identifier []struct {
			System string `json:"system"`
			Value  string `json:"value"`
		} `json:"identifier"`
	}
	if json.Unmarshal(b, &r) != nil {
		return false
	}
	for _, kv := range kvs {
		system, value, hasSystem := strings.Cut(kv.Value, "|")
		if !hasSystem {
			system, value = "", kv.Value
		}
		ok := false
		for _, id := range r.Identifier {
			if id.Value == value && (!hasSystem || id.System == system) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// refSpan is where a reference value sits in a resource's bytes.
type refSpan struct {
	path       string
	start, end int // the quoted string, quotes included
	value      string
}

// referenceSpans finds every string value of a "reference" member, with
// its JSON path and byte span, so a rewrite keeps the rest of the bytes
// (member order, spacing) as they were.
func referenceSpans(b []byte) ([]refSpan, error) {
	// a quick test spares the token walk for resources without references
	if !bytes.Contains(b, []byte(`"reference"`)) {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var spans []refSpan
	// the stack holds, per open container, its path and, for arrays, the
	// next index, for objects whether the next token is a key
	type frame struct {
		path  string
		array bool
		index int
		key   string
		isKey bool
	}
	stack := []frame{{path: "", isKey: false}}
	child := func(f *frame) string {
		if f.array {
			p := f.path + "[" + strconv.Itoa(f.index) + "]"
			f.index++
			return p
		}
		if f.path == "" {
			return f.key
		}
		return f.path + "." + f.key
	}
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			return spans, nil
		}
		if err != nil {
			return nil, fmt.Errorf("malformed JSON: %v", err)
		}
		top := &stack[len(stack)-1]
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{', '[':
				p := ""
				if len(stack) > 1 {
					p = child(top)
				}
				if len(stack) > 1 && !top.array {
					top.isKey = true
				}
				stack = append(stack, frame{path: p, array: d == '[', isKey: d == '{'})
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
			continue
		}
		if len(stack) > 1 && !top.array && top.isKey {
			top.key, _ = tok.(string)
			top.isKey = false
			continue
		}
		p := ""
		if len(stack) > 1 {
			p = child(top)
			if !top.array {
				top.isKey = true
			}
		}
		if sv, ok := tok.(string); ok && len(stack) > 1 && !top.array && top.key == "reference" {
			end := int(dec.InputOffset())
			start := bytes.IndexByte(b[before:end], '"')
			if start < 0 {
				continue
			}
			spans = append(spans, refSpan{path: p, start: int(before) + start, end: end, value: sv})
		}
	}
}
