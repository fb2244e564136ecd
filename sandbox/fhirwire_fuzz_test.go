package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzFHIRRequest sends arbitrary FHIR requests (method, path and query
// under a release's base, body: searches, reads, writes, batches and
// transactions) through the whole server: the answer is never a 500 and
// always JSON (a resource, a Bundle or an OperationOutcome).
func FuzzFHIRRequest(f *testing.F) {
	cfg := DefaultConfig()
	cfg.Auth.Required = false
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 2, 1
	s, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Add(uint8(0), "r4/Patient?family=smi&_count=5", "")
	f.Add(uint8(1), "stu3", `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient?_count=1"}}]}`)
	f.Add(uint8(1), "r4", `{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"a"},"request":{"method":"PUT","url":"Patient/a"}}]}`)
	f.Add(uint8(2), "dstu2/Patient/x", `{"resourceType":"Patient","id":"x","name":[{"family":"X"}]}`)
	f.Add(uint8(3), "r4/Patient/x", "")
	f.Add(uint8(1), "r4/Patient/_search", "family=smi&_count=2")
	f.Add(uint8(0), "r4/Observation?patient=Patient/1&code=http://loinc.org|8867-4&date=ge2020-01-01&_include=Observation:patient", "")
	f.Fuzz(func(t *testing.T, m uint8, target, body string) {
		methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}
		method := methods[int(m)%len(methods)]
		u, err := url.Parse("/" + target)
		if err != nil || u.Host != "" || u.Scheme != "" {
			return
		}
		if _, ok := s.fhirAPIFor(u.Path); !ok {
			return // FHIR bases only
		}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, Host: "sandbox.test", RemoteAddr: "192.0.2.1:1234",
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RequestURI: u.RequestURI()}
		switch {
		case strings.HasSuffix(u.Path, "/_search"):
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case body != "":
			r.Header.Set("Content-Type", "application/fhir+json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %.500s", method, target, w.Code, w.Body.Bytes())
		}
		if method != "HEAD" && w.Code != http.StatusNoContent && w.Code != http.StatusNotModified && !json.Valid(bytes.TrimSpace(w.Body.Bytes())) {
			t.Fatalf("%s %s: %d, not JSON: %.500s", method, target, w.Code, w.Body.Bytes())
		}
	})
}
