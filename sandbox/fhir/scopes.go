package fhir

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// SMART scope enforcement. The layer in front of the API (the bearer
// check) puts the token's system scopes in the request's context with
// WithScopes; a request without them, or with an empty set, is not
// restricted (tokens that carry no system scope keep every access).
//
// What a scoped token may do:
//   - read and vread need r on the type; search needs s; create c,
//     update (PUT, also when it creates) u, delete d. Anything else is
//     403 with an OperationOutcome (code forbidden).
//   - a v2 constraint (system/Observation.rs?category=vital-signs)
//     narrows searches: its parameters are added to the search, so the
//     Bundle holds only matching resources and its total and links agree.
//     Several constrained scopes of one type whose constraints name the
//     same single parameter are merged (category=a,b); any other mix is
//     refused with 403, as the SMART v2 text allows. A read of a resource
//     outside the constraint is 403. Writes under a constrained scope are
//     refused (403): write with an unconstrained scope.
//   - _include results of types (or constraints) the token does not
//     cover are left out of the Bundle.
//   - batch entries are checked one by one (each its own 403);
//     a transaction with an entry not permitted fails as a whole with 403.

type scopesKey struct{}

// WithScopes returns ctx carrying the SMART system scopes a request's
// token was granted.
func WithScopes(ctx context.Context, set smartscope.Set) context.Context {
	return context.WithValue(ctx, scopesKey{}, set)
}

func scopesOf(r *http.Request) smartscope.Set {
	set, _ := r.Context().Value(scopesKey{}).(smartscope.Set)
	return set
}

var opNames = map[int]string{
	smartscope.Create: "create (c)", smartscope.Read: "read (r)", smartscope.Update: "update (u)",
	smartscope.Delete: "delete (d)", smartscope.Search: "search (s)",
}

func forbidden(format string, args ...any) *Error {
	return errorf(http.StatusForbidden, "forbidden", format, args...)
}

// permit checks that the token's scopes allow op on typ at the type
// level, and returns the constraints that still apply (nil: none).
func permit(r *http.Request, typ string, op int) ([]url.Values, *Error) {
	set := scopesOf(r)
	d := set.Permit(typ, op)
	if !d.Allowed {
		return nil, forbidden("the access token's scopes (%s) do not permit %s on %s", strings.Join(set.Strings(), " "), opNames[op], typ)
	}
	if d.Constraints != nil && op&(smartscope.Create|smartscope.Update|smartscope.Delete) != 0 {
		return nil, forbidden("writes to %s under a constrained scope are not supported; ask for an unconstrained write scope", typ)
	}
	return d.Constraints, nil
}

// opOf is the interaction of a request on a type route.
func opOf(method string, segs []string) int {
	switch {
	case len(segs) == 1 && method == http.MethodPost:
		return smartscope.Create
	case len(segs) == 1 || segs[1] == "_search":
		return smartscope.Search
	case method == http.MethodPut:
		return smartscope.Update
	case method == http.MethodDelete:
		return smartscope.Delete
	}
	return smartscope.Read
}

// constrainSearch adds a constrained scope's parameters to a search.
func (a *API) constrainSearch(typ string, kvs []store.KV, cons []url.Values) ([]store.KV, *Error) {
	if cons == nil {
		return kvs, nil
	}
	merged := cons[0]
	if len(cons) > 1 {
		merged = url.Values{}
		for _, c := range cons {
			if len(c) != 1 {
				return nil, forbidden("more than one constrained scope covers %s and they cannot be combined into one search; ask for a token with one of them", typ)
			}
			for k, vs := range c {
				if len(merged) == 1 && merged[k] == nil {
					return nil, forbidden("more than one constrained scope covers %s with different parameters; ask for a token with one of them", typ)
				}
				for _, v := range vs {
					if !slices.Contains(merged[k], v) {
						merged[k] = append(merged[k], v)
					}
				}
			}
		}
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := slices.Clone(kvs)
	for _, k := range keys {
		if !a.hasParam(typ, k) {
			return nil, forbidden("the scope constraint parameter %q is not a search parameter of %s here, so it cannot be enforced", k, typ)
		}
		out = append(out, store.KV{Key: k, Value: strings.Join(merged[k], ",")})
	}
	return out, nil
}

func (a *API) hasParam(typ, name string) bool {
	base, _, _ := strings.Cut(name, ":")
	_, ok := a.defs.Lookup(typ, base)
	return ok
}

// inScope reports whether a stored resource matches one of the
// constraints (true when there are none).
func (a *API) inScope(s *store.Store, d *store.Doc, cons []url.Values) bool {
	if cons == nil {
		return true
	}
	for _, c := range cons {
		kvs := []store.KV{{Key: "_id", Value: d.ID}}
		ok := true
		for k, vs := range c {
			if !a.hasParam(d.Type, k) {
				ok = false
				break
			}
			kvs = append(kvs, store.KV{Key: k, Value: strings.Join(vs, ",")})
		}
		if !ok {
			continue
		}
		q, err := a.defs.ParseQuery(d.Type, kvs, store.Options{DefaultCount: 1, MaxCount: 1})
		if err != nil || len(q.Ignored) > 0 {
			continue
		}
		q.Count = 0
		if s.Search(q).Total > 0 {
			return true
		}
	}
	return false
}

// readable checks a read of a stored resource against the token's scopes.
func (a *API) readable(r *http.Request, s *store.Store, d *store.Doc) *Error {
	cons, e := permit(r, d.Type, smartscope.Read)
	if e != nil {
		return e
	}
	if !a.inScope(s, d, cons) {
		return forbidden("%s/%s is outside the access token's scope constraint", d.Type, d.ID)
	}
	return nil
}

// filterIncluded drops _include results the token may not read.
func (a *API) filterIncluded(r *http.Request, s *store.Store, docs []*store.Doc) []*store.Doc {
	if !scopesOf(r).Scoped() {
		return docs
	}
	out := docs[:0:0]
	for _, d := range docs {
		if a.readable(r, s, d) == nil {
			out = append(out, d)
		}
	}
	return out
}

// CheckProxiedScopes checks a request bound for a tenant's upstream
// server against the token's scopes, at the type level only: the
// sandbox does not read what the upstream answers, so a constrained
// scope, a batch or a transaction cannot be enforced and is refused
// (403) for a scoped token. Unscoped tokens pass.
func (a *API) CheckProxiedScopes(r *http.Request) *Error {
	if !scopesOf(r).Scoped() {
		return nil
	}
	segs, e := a.segments(r, nil)
	if e != nil {
		return e
	}
	if len(segs) == 0 {
		return forbidden("a batch or transaction to a proxied tenant cannot be checked against the token's scopes; send its entries one by one")
	}
	op := smartscope.Read
	if len(segs) <= 2 {
		op = opOf(r.Method, segs)
	}
	cons, e := permit(r, segs[0], op)
	if e != nil {
		return e
	}
	if cons != nil {
		return forbidden("the scope constraint on %s cannot be enforced on a proxied tenant; use an unconstrained scope", segs[0])
	}
	return nil
}
