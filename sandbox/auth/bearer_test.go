package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestBearer holds checklist items 12, 13 and 19 on a protected route.
func TestBearer(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	tok := h.token(clientA, secretA, tenantA)
	for _, tc := range []struct {
		name   string
		authz  string
		mods   []func(*http.Request)
		status int
		code   string // X-Code set by onError
		chall  string // exact WWW-Authenticate, or a prefix ending in "error="
	}{
		{name: "no authorization", status: 401, code: "login", chall: `Bearer realm="fhirsandbox"`},
		{name: "access_token query ignored", mods: []func(*http.Request){func(r *http.Request) { r.URL.RawQuery = "access_token=" + tok }}, status: 401, code: "login", chall: `Bearer realm="fhirsandbox"`},
		{name: "valid", authz: "Bearer " + tok, status: 200},
		{name: "lower-case scheme", authz: "bearer " + tok, status: 200},
		{name: "upper-case scheme", authz: "BEARER " + tok, status: 200},
		{name: "extra spaces", authz: "  Bearer   " + tok + "  ", status: 200},
		{name: "garbage", authz: "Bearer garbage!", status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="token is not a compact JWT (unexpected character)"`},
		{name: "ten thousand dots", authz: "Bearer " + strings.Repeat(".", 10000), status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="token larger than 8192 bytes"`},
		{name: "9 KiB token", authz: "Bearer " + strings.Repeat("a", 9<<10), status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description=`},
		{name: "empty token", authz: "Bearer", status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="empty bearer token"`},
		{name: "basic scheme", authz: "Basic YTpi", status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="the Authorization scheme must be Bearer"`},
		{name: "two headers", mods: []func(*http.Request){func(r *http.Request) {
			r.Header.Add("Authorization", "Bearer "+tok)
			r.Header.Add("Authorization", "Bearer "+tok)
		}}, status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="more than one Authorization header"`},
		{name: "token for another base", authz: "Bearer " + tok, mods: []func(*http.Request){func(r *http.Request) { r.Host = "elsewhere.example" }}, status: 401, code: "invalid_token", chall: `Bearer realm="fhirsandbox", error="invalid_token", error_description="token issuer does not match this server"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ans := h.fhir(tc.authz, tc.mods...)
			if ans.status != tc.status {
				t.Fatalf("status %d, want %d: %s", ans.status, tc.status, ans.body)
			}
			if tc.status == 200 {
				if ans.json["Tenant"] != tenantA {
					t.Errorf("claims not in context: %s", ans.body)
				}
				return
			}
			if got := ans.header.Get("X-Code"); got != tc.code {
				t.Errorf("onError code %q, want %q", got, tc.code)
			}
			got := ans.header.Get("WWW-Authenticate")
			if strings.HasSuffix(tc.chall, "error_description=") {
				if !strings.HasPrefix(got, tc.chall) {
					t.Errorf("WWW-Authenticate %q, want prefix %q", got, tc.chall)
				}
			} else if got != tc.chall {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.chall)
			}
		})
	}
}

func TestBearerDefaultWriterAndQuoting(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	mw := h.a.Bearer(`we"ird\realm`+"\r\n", nil)
	rec := httptest.NewRecorder()
	mw(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != 401 || !strings.Contains(rec.Body.String(), `"error":"login"`) {
		t.Errorf("default writer: %d %s", rec.Code, rec.Body)
	}
	if got, want := rec.Header().Get("WWW-Authenticate"), `Bearer realm="we\"ird\\realm"`; got != want {
		t.Errorf("WWW-Authenticate %q, want %q", got, want)
	}
	for in, want := range map[string]string{
		`plain`:       `"plain"`,
		`a"b\c`:       `"a\"b\\c"`,
		"line\r\nnew": `"linenew"`,
		"caf\u00e9":   `"caf"`,
	} {
		if got := quoteParam(in); got != want {
			t.Errorf("quoteParam(%q) = %s, want %s", in, got, want)
		}
	}
	if _, ok := FromContext(httptest.NewRequest(http.MethodGet, "/", nil).Context()); ok {
		t.Error("claims in a bare context")
	}
}
