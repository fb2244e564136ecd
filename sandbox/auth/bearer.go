package auth

import (
	"context"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/reqnote"
	"net/http"
	"strings"
)

type ctxKey struct{}

// FromContext returns the verified claims the Bearer middleware put in
// the request context.
// They are shared by every request with the same token: read them, do
// not modify them.
func FromContext(ctx context.Context) (*Claims, bool) {
	if c, ok := ctx.Value(ctxKey{}).(*Claims); ok {
		return c, true
	}
	if n := reqnote.From(ctx); n != nil {
		c, ok := n.Claims().(*Claims)
		return c, ok && c != nil
	}
	return nil, false
}

// NewContext returns ctx carrying c, as the Bearer middleware does; for
// tests of handlers behind it.
func NewContext(ctx context.Context, c *Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// Bearer returns middleware that admits only requests with a valid access
// token (RFC 6750 §2.1, the Authorization header; an access_token query
// parameter is ignored, since URLs end up in logs). The scheme is matched
// case-insensitively. Failures answer 401 with a WWW-Authenticate
// challenge and hand the body to onError: code "login" when no
// credentials were sent (the challenge then has no error attribute, RFC
// 6750 §3.1), "invalid_token" otherwise. A nil onError writes a small
// JSON body.
func (a *Authority) Bearer(realm string, onError func(w http.ResponseWriter, r *http.Request, status int, code, description string)) func(http.Handler) http.Handler {
	if onError == nil {
		onError = func(w http.ResponseWriter, _ *http.Request, status int, code, desc string) {
			writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
		}
	}
	challenge := "Bearer realm=" + quoteParam(realm)
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fail := func(code, desc string) {
				if n := reqnote.From(r.Context()); n != nil {
					n.Refuse(desc) // a fixed description, never the token
				}
				h := challenge
				if code != "login" {
					h += `, error="invalid_token", error_description=` + quoteParam(desc)
				}
				w.Header().Set("WWW-Authenticate", h)
				onError(w, r, http.StatusUnauthorized, code, desc)
			}
			vals := r.Header["Authorization"] // Values("Authorization") without canonicalizing the key again
			switch len(vals) {
			case 0:
				fail("login", "authentication required: send Authorization: Bearer <access token>")
				return
			case 1:
			default:
				fail("invalid_token", "more than one Authorization header")
				return
			}
			scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
			if !strings.EqualFold(scheme, "Bearer") {
				fail("invalid_token", "the Authorization scheme must be Bearer")
				return
			}
			tok = strings.TrimSpace(tok)
			if tok == "" {
				fail("invalid_token", "empty bearer token")
				return
			}
			cl, err := a.verify(tok, a.base(r))
			if err != nil {
				desc := "invalid token"
				if te, ok := err.(*TokenError); ok {
					desc = te.Description
				}
				fail("invalid_token", desc)
				return
			}
			if n := reqnote.From(r.Context()); n != nil {
				// the request note carries the claims: no new context,
				// no copy of the request
				n.Authenticated(cl.Tenant, cl.ClientID)
				n.SetClaims(cl)
				a.onAuth(r, cl.ClientID)
				next.ServeHTTP(w, r)
				return
			}
			a.onAuth(r, cl.ClientID)
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), cl)))
		})
	}
}

// quoteParam renders an RFC 7235 quoted-string: '"' and '\' escaped,
// control and non-ASCII bytes dropped so the header stays one clean line.
func quoteParam(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c >= 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
