package scenario

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseFilter(f *testing.F) {
	f.Add("client=a&tenant=B&since=3&limit=10")
	f.Add("since=2026-01-01T00:00:00Z")
	f.Add("since=%zz&limit=-1")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := ParseFilter(q)
		if err == nil && (fl.Limit < 0 || fl.Limit > 100000) {
			t.Fatalf("limit %d accepted", fl.Limit)
		}
	})
}

func FuzzIdentify(f *testing.F) {
	f.Add("Bearer e30.eyJzdWIiOiJhIiwidGlkIjoiYiJ9.x", "client_id=a&scope=2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c")
	f.Add("Basic YTpi", "")
	f.Add("Bearer ...", "%")
	f.Fuzz(func(t *testing.T, authz, form string) {
		r := httptest.NewRequest("POST", "/token", strings.NewReader(form))
		r.Header.Set("Authorization", authz)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = IdentifyFromRequest(r)
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			n, err := r.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if b.String() != form {
			t.Fatalf("body changed: %q -> %q", form, b.String())
		}
	})
}

func FuzzQuirks(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","total":3,"link":[{"relation":"next","url":"http://x/a?b=c"}],"entry":[{"resource":{"resourceType":"Patient","name":[{"family":"A"}],"birthDate":"2001-02-03"}}]}`))
	f.Add([]byte(`{"resourceType":"Observation","category":{"a":1},"effectiveDateTime":"2018-09-17T00:00:00Z"}`))
	f.Add([]byte(`[1,2`))
	all := []Quirk{
		{Kind: QuirkDropOptional, Fields: []string{"name", "Patient.name.given", "Observation.code"}},
		{Kind: QuirkSloppyDates}, {Kind: QuirkDSTU2ShapeInSTU3}, {Kind: QuirkCategoryAsObject},
		{Kind: QuirkCategoryAsArray}, {Kind: QuirkWrongTotal, Delta: -5, HasDelta: true},
		{Kind: QuirkBrokenNextLink, Mode: "dangling"}, {Kind: QuirkBrokenNextLink, Mode: "loop"},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_ = applyQuirks(body, all)
		_ = malform(body)
	})
}
