package scenario

import (
	"net/http"
	"net/url"
	"strings"
)

// reqInfo is what rules look at, computed once per request.
type reqInfo struct {
	r            *http.Request
	method       string
	path         string
	resourceType string
	tenant       string
	client       string
	query        url.Values // parsed on first use
}

func newReqInfo(r *http.Request, tenant, client string) *reqInfo {
	return &reqInfo{r: r, method: r.Method, path: r.URL.Path, resourceType: resourceTypeOf(r.URL.Path), tenant: tenant, client: client}
}

func (ri *reqInfo) queryValues() url.Values {
	if ri.query == nil {
		q, err := url.ParseQuery(ri.r.URL.RawQuery)
		if err != nil && q == nil {
			q = url.Values{}
		}
		ri.query = q
	}
	return ri.query
}

// resourceTypeOf finds the FHIR type in /stu3/Observation/1 or
// /Observation: the first of the first two segments that starts with an
// upper-case letter.
func resourceTypeOf(p string) string {
	p = strings.TrimPrefix(p, "/")
	for range 2 {
		seg, rest, _ := strings.Cut(p, "/")
		if seg != "" && seg[0] >= 'A' && seg[0] <= 'Z' {
			return seg
		}
		p = rest
	}
	return ""
}

// matcher is a compiled Match.
type matcher struct {
	m Match
	// prefix is the literal part of the path glob before its first '*',
	// a cheap test that rejects most requests without running the glob.
	prefix string
	glob   bool
}

func compileMatch(m Match) matcher {
	c := matcher{m: m}
	if i := strings.IndexByte(m.Path, '*'); i >= 0 {
		c.prefix, c.glob = m.Path[:i], true
	} else {
		c.prefix = m.Path
	}
	return c
}

func (c *matcher) matches(ri *reqInfo) bool {
	m := &c.m
	if m.Path != "" {
		if !strings.HasPrefix(ri.path, c.prefix) {
			return false
		}
		if !c.glob {
			if len(ri.path) != len(c.prefix) {
				return false
			}
		} else if !globMatch(m.Path, ri.path) {
			return false
		}
	}
	if m.Method != "" && m.Method != ri.method {
		return false
	}
	if len(m.ResourceTypes) > 0 && !contains(m.ResourceTypes, ri.resourceType) {
		return false
	}
	if m.Tenant != "" && m.Tenant != ri.tenant {
		return false
	}
	if m.ClientID != "" && m.ClientID != ri.client {
		return false
	}
	for k, want := range m.Header {
		got, ok := ri.r.Header[k]
		if !ok || (want != "*" && !contains(got, want)) {
			return false
		}
	}
	if len(m.Query) > 0 {
		q := ri.queryValues()
		for k, want := range m.Query {
			got, ok := q[k]
			if !ok || (want != "*" && !contains(got, want)) {
				return false
			}
		}
	}
	return true
}

func contains(vals []string, v string) bool {
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

// globMatch matches a path against a pattern where "*" matches within one
// segment, and "**" or a "*" ending the pattern match across segments.
func globMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		if pattern[0] != '*' {
			if len(s) == 0 || s[0] != pattern[0] {
				return false
			}
			pattern, s = pattern[1:], s[1:]
			continue
		}
		deep := strings.HasPrefix(pattern, "**") || len(pattern) == 1
		pattern = strings.TrimLeft(pattern, "*")
		if pattern == "" && deep {
			return true
		}
		for i := 0; i <= len(s); i++ {
			if !deep && i > 0 && s[i-1] == '/' {
				break
			}
			if globMatch(pattern, s[i:]) {
				return true
			}
		}
		return false
	}
	return s == ""
}
