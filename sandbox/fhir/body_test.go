package fhir

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestRequestBodyRead: the request body is taken whatever way a client
// writes its JSON Content-Type, refused with 415 for any other type and
// for a type that does not parse, read whole when its declared length
// arrives, and answered 400 (not a hang, not a 500) when the client sends
// fewer bytes than it declared and stops.
func TestRequestBodyRead(t *testing.T) {
	t.Parallel()
	f := newAPIFixture(t, STU3{}, 2)
	patient := `{"resourceType":"Patient","gender":"female"}`
	for _, ct := range []string{"", "application/fhir+json", "application/json", "application/fhir+json; charset=utf-8",
		"application/json;charset=utf-8", "application/fhir+json; charset=UTF-8", "Application/FHIR+JSON",
		"application/json+fhir", "application/fhir+json; fhirVersion=3.0", "text/json"} {
		var hdr []string
		if ct != "" {
			hdr = []string{"Content-Type", ct}
		}
		if r := f.do(t, "POST", "/Patient", strings.NewReader(patient), hdr...); r.status != http.StatusCreated {
			t.Errorf("Content-Type %q: %d %s", ct, r.status, r.body)
		}
	}
	for _, ct := range []string{"text/plain", "text/plain; charset=utf-8", "application/fhir+xml", "application/json; charset",
		"application/json;;", "multipart/form-data; boundary=x"} {
		if r := f.do(t, "POST", "/Patient", strings.NewReader(patient), "Content-Type", ct); r.status != http.StatusUnsupportedMediaType ||
			at(r.json, "issue.0.code") != "not-supported" {
			t.Errorf("Content-Type %q: %d %s, want 415 not-supported", ct, r.status, r.body)
		}
	}

	// a body cut short: the declared length never arrives
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sent := patient[:20]
	req := "POST " + f.api.Prefix() + "/Patient HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n" +
		"Content-Length: " + strconv.Itoa(len(patient)) + "\r\n\r\n" + sent
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a body cut short: %v", err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"structure"`) {
		t.Errorf("body cut short: %d %s, want 400 structure", res.StatusCode, body)
	}
}
