package scenario

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIdentifyFromRequest(t *testing.T) {
	t.Parallel()
	jwt := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	form := "grant_type=client_credentials&client_id=app-a&client_secret=x&scope=2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C+other"
	tests := []struct {
		name           string
		req            func() *http.Request
		tenant, client string
	}{
		{"bearer", func() *http.Request {
			r := httptest.NewRequest("GET", "/stu3/Patient", nil)
			r.Header.Set("Authorization", "Bearer "+jwt(`{"sub":"app-b","tid":"7C1E5B9D-3A2F-4D8E-B6C4-0E9F1A2B3C4D"}`))
			return r
		}, "7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d", "app-b"},
		{"garbage bearer", func() *http.Request {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set("Authorization", "Bearer not.a%.jwt")
			return r
		}, "", ""},
		{"token form", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader(form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "app-a"},
		{"client assertion without client_id", func() *http.Request {
			body := "grant_type=client_credentials&scope=2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=" + jwt(`{"iss":"backend","sub":"backend"}`)
			r := httptest.NewRequest("POST", "/token", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}, "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "backend"},
		{"basic", func() *http.Request {
			r := httptest.NewRequest("POST", "/token", strings.NewReader("grant_type=client_credentials"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("app%2Dc", "pw")
			return r
		}, "", "app-c"},
		{"anonymous", func() *http.Request { return httptest.NewRequest("GET", "/stu3/metadata", nil) }, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.req()
			var before string
			if r.Body != nil {
				b, _ := io.ReadAll(r.Body)
				before = string(b)
				r.Body = io.NopCloser(strings.NewReader(before))
			}
			tenant, client := IdentifyFromRequest(r)
			if tenant != tc.tenant || client != tc.client {
				t.Errorf("got (%q, %q), want (%q, %q)", tenant, client, tc.tenant, tc.client)
			}
			if r.Body != nil {
				after, _ := io.ReadAll(r.Body)
				if string(after) != before {
					t.Errorf("body not restored: %q", after)
				}
			}
		})
	}
}
