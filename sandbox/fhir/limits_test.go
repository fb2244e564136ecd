package fhir

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A batch of many full-page searches would build tens of megabytes; its
// response stays under Limits.MaxResponseBytes and the entries past the
// bound answer too-costly.
func TestBatchResponseBounded(t *testing.T) {
	f := newAPIFixture(t, R4{}, 100)
	// a smaller bound than the default keeps the test quick; the default
	// (16 MiB) against ~75 MB unbounded is measured the same way
	const bound = 2 << 20
	f.api.o.Limits.MaxResponseBytes = bound
	es := strings.TrimSuffix(strings.Repeat(`{"request":{"method":"GET","url":"Patient?_count=100"}},`, 500), ",")
	batch := `{"resourceType":"Bundle","type":"batch","entry":[` + es + `]}`
	r := f.do(t, "POST", "", strings.NewReader(batch), "Content-Type", "application/fhir+json")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %.500s", r.status, r.body)
	}
	t.Logf("batch of 500 Patient?_count=100: %d bytes (bound %d)", len(r.body), bound)
	if len(r.body) > bound {
		t.Fatalf("batch response is %d bytes, over the bound %d", len(r.body), bound)
	}
	got := entries(r)
	answered := 0
	for _, e := range got {
		if strings.HasPrefix(str(at(e, "response.status")), "200") {
			answered++
		}
	}
	t.Logf("%d of 500 entries answered", answered)
	if len(got) != 500 {
		t.Fatalf("%d entries, want 500", len(got))
	}
	if s := str(at(got[0], "response.status")); !strings.HasPrefix(s, "200") {
		t.Errorf("first entry status %q, want 200", s)
	}
	last := got[499]
	if s := str(at(last, "response.status")); !strings.HasPrefix(s, "400") {
		t.Errorf("last entry status %q, want 400", s)
	}
	if c := str(at(last, "response.outcome.issue.0.code")); c != "too-costly" {
		t.Errorf("last entry outcome code %q, want too-costly", c)
	}
	// a prefix is answered: once an entry is too costly, so are the rest
	cut := false
	for i, e := range got {
		tc := str(at(e, "response.outcome.issue.0.code")) == "too-costly"
		if cut && !tc {
			t.Fatalf("entry %d answered after an earlier entry was too costly", i)
		}
		cut = cut || tc
	}

	// the client's six queries are answered in full
	pid := f.patientWith(t).Patient.ID
	r = f.do(t, "POST", "", strings.NewReader(batchOf(pid, R4{})), "Content-Type", "application/fhir+json")
	for i, e := range entries(r) {
		if s := str(at(e, "response.status")); !strings.HasPrefix(s, "200") {
			t.Errorf("client query %d: status %q", i, s)
		}
	}
}

// A single search page larger than the bound is refused, not built.
func TestSearchResponseBounded(t *testing.T) {
	f := newAPIFixture(t, R4{}, 100)
	f.api.o.Limits.MaxResponseBytes = 64 << 10
	r := f.do(t, "GET", "/Patient?_count=100", nil)
	if r.status != http.StatusBadRequest || str(at(r.json, "issue.0.code")) != "too-costly" {
		t.Fatalf("status %d, want 400 too-costly: %.300s", r.status, r.body)
	}
	r = f.do(t, "GET", "/Patient?_count=5", nil)
	if r.status != http.StatusOK {
		t.Fatalf("a small page: status %d: %.300s", r.status, r.body)
	}
	// a read is bounded by the body limit, not this one
	r = f.do(t, "GET", fmt.Sprintf("/Patient/%s", f.patientWith(t).Patient.ID), nil)
	if r.status != http.StatusOK {
		t.Fatalf("read: status %d", r.status)
	}
}
