package smartscope

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Interactions a scope may grant, as SMART v2 letters.
const (
	Create = 1 << iota // c
	Read               // r: read, vread
	Update             // u
	Delete             // d
	Search             // s
)

const (
	all            = Create | Read | Update | Delete | Search
	maxTypeLen     = 64
	maxConstraints = 4
	maxValues      = 16
)

// ErrScope is matched by every parse error.
var ErrScope = errors.New("malformed SMART scope")

// Scope is one parsed system scope.
type Scope struct {
	Raw  string // as written
	Type string // a resource type, or "*"
	Ops  int    // the interactions granted (Create|Read|...)
	V2   bool   // written in the v2 syntax
	// Constraint restricts the resources to those matching these search
	// parameters (v2 only): every parameter must match, and one of each
	// parameter's values. Nil: no restriction.
	Constraint url.Values
}

// IsSystemScope reports whether tok is meant as a SMART system scope.
func IsSystemScope(tok string) bool { return strings.HasPrefix(tok, "system/") }

// Parse reads one system scope. tok must start with "system/".
func Parse(tok string) (Scope, error) {
	rest, ok := strings.CutPrefix(tok, "system/")
	if !ok {
		return Scope{}, fmt.Errorf("%w %q: want system/<Type>.<permissions>", ErrScope, trunc(tok))
	}
	typ, perm, ok := strings.Cut(rest, ".")
	if !ok || typ == "" || perm == "" {
		return Scope{}, fmt.Errorf("%w %q: want system/<Type>.<permissions>", ErrScope, trunc(tok))
	}
	if typ != "*" && !validType(typ) {
		return Scope{}, fmt.Errorf("%w %q: %q is not a resource type name", ErrScope, trunc(tok), trunc(typ))
	}
	s := Scope{Raw: tok, Type: typ}
	perm, query, hasQuery := strings.Cut(perm, "?")
	switch perm {
	case "":
		return Scope{}, fmt.Errorf("%w %q: no permissions", ErrScope, trunc(tok))
	case "read":
		s.Ops = Read | Search
	case "write":
		s.Ops = Create | Update | Delete
	case "*":
		s.Ops = all
	default:
		ops, err := v2Ops(perm)
		if err != nil {
			return Scope{}, fmt.Errorf("%w %q: %v", ErrScope, trunc(tok), err)
		}
		s.Ops, s.V2 = ops, true
	}
	if hasQuery {
		if !s.V2 {
			return Scope{}, fmt.Errorf("%w %q: a ?parameter constraint needs v2 permissions such as .rs", ErrScope, trunc(tok))
		}
		c, err := parseConstraint(query)
		if err != nil {
			return Scope{}, fmt.Errorf("%w %q: %v", ErrScope, trunc(tok), err)
		}
		s.Constraint = c
	}
	return s, nil
}

// v2Ops reads "cruds" letters: each at most once, in that order.
func v2Ops(p string) (int, error) {
	const order = "cruds"
	ops, last := 0, -1
	for i := 0; i < len(p); i++ {
		j := strings.IndexByte(order, p[i])
		if j < 0 {
			return 0, fmt.Errorf("permission %q: want read, write, * or letters of cruds", trunc(p))
		}
		if j <= last {
			return 0, fmt.Errorf("permission %q: the letters c r u d s go once each, in that order", trunc(p))
		}
		last = j
		ops |= 1 << j
	}
	return ops, nil
}

func parseConstraint(q string) (url.Values, error) {
	if q == "" {
		return nil, errors.New("empty constraint after ?")
	}
	v, err := url.ParseQuery(q)
	if err != nil {
		return nil, errors.New("constraint is not a query string")
	}
	if len(v) > maxConstraints {
		return nil, fmt.Errorf("more than %d constraint parameters", maxConstraints)
	}
	out := url.Values{}
	for k, vs := range v {
		if !validParam(k) {
			return nil, fmt.Errorf("constraint parameter %q is not a search parameter name", trunc(k))
		}
		for _, x := range vs {
			for _, one := range strings.Split(x, ",") {
				if one == "" {
					return nil, fmt.Errorf("constraint %s has an empty value", k)
				}
				if !slices.Contains(out[k], one) {
					out[k] = append(out[k], one)
				}
			}
		}
		if len(out[k]) > maxValues {
			return nil, fmt.Errorf("constraint %s has more than %d values", k, maxValues)
		}
	}
	return out, nil
}

func validType(t string) bool {
	if len(t) > maxTypeLen || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func validParam(k string) bool {
	if k == "" || len(k) > maxTypeLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Covers reports whether s grants everything o grants: the same type or
// "*", a superset of the interactions, and a constraint no narrower.
func (s Scope) Covers(o Scope) bool {
	if s.Type != "*" && s.Type != o.Type {
		return false
	}
	if s.Ops&o.Ops != o.Ops {
		return false
	}
	if s.Constraint == nil {
		return true
	}
	if o.Constraint == nil || len(o.Constraint) < len(s.Constraint) {
		return false
	}
	for k, vs := range s.Constraint {
		ovs, ok := o.Constraint[k]
		if !ok {
			return false
		}
		for _, v := range ovs {
			if !slices.Contains(vs, v) {
				return false
			}
		}
	}
	return true
}

// Set is the SMART scopes of a token. The zero Set (no system scopes)
// means the token is not scoped: everything is permitted, as for tokens
// issued before scopes were enforced.
type Set []Scope

// ParseSet reads the system scopes among space-separated scope tokens;
// other tokens are skipped.
func ParseSet(scope string) (Set, error) {
	var out Set
	for tok := range strings.FieldsSeq(scope) { // no slice of the tokens: most are not system scopes
		if !IsSystemScope(tok) {
			continue
		}
		s, err := Parse(tok)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Scoped reports whether the set restricts anything.
func (set Set) Scoped() bool { return len(set) > 0 }

// Decision is what a Set permits for one type and interaction.
type Decision struct {
	Allowed bool
	// Constraints, when Allowed, is nil if some granted scope is
	// unconstrained; otherwise one entry per constrained scope that
	// applies: the resource must match at least one of them.
	Constraints []url.Values
}

// Permit answers whether the set allows op (one of Create, Read, Update,
// Delete, Search) on resources of type typ. An unscoped set allows all.
func (set Set) Permit(typ string, op int) Decision {
	if !set.Scoped() {
		return Decision{Allowed: true}
	}
	var d Decision
	for _, s := range set {
		if (s.Type != "*" && s.Type != typ) || s.Ops&op == 0 {
			continue
		}
		if s.Constraint == nil {
			return Decision{Allowed: true}
		}
		d.Allowed = true
		d.Constraints = append(d.Constraints, s.Constraint)
	}
	return d
}

// Grant narrows requested system scopes to what allowed permits. Each
// requested scope that an allowed scope covers is granted as asked; one
// that is broader than some allowed scopes (system/*.read asked,
// system/Patient.read allowed) is granted as those allowed scopes. An
// empty request grants every allowed scope. The result keeps the order
// of first appearance and has no duplicates.
func Grant(requested, allowed Set) Set {
	if len(requested) == 0 {
		return slices.Clone(allowed)
	}
	var out Set
	add := func(s Scope) {
		if !slices.ContainsFunc(out, func(o Scope) bool { return o.Raw == s.Raw }) {
			out = append(out, s)
		}
	}
	for _, r := range requested {
		if slices.ContainsFunc(allowed, func(a Scope) bool { return a.Covers(r) }) {
			add(r)
			continue
		}
		for _, a := range allowed {
			if r.Covers(a) {
				add(a)
			}
		}
	}
	return out
}

// Strings returns the scopes as written.
func (set Set) Strings() []string {
	out := make([]string, len(set))
	for i, s := range set {
		out[i] = s.Raw
	}
	return out
}
