package fhir

import (
	"bytes"
	"fmt"
	"html"
	"net/http"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

// Error is a failure on a FHIR route, rendered as an OperationOutcome of
// the active release. Handlers return it; one writer renders it.
type Error struct {
	Status      int
	Code        string // FHIR issue-type code: invalid, structure, not-found, ...
	Diagnostics string
	Location    string      // the parameter or element at fault, if any
	Header      http.Header // extra headers (Allow, Retry-After, WWW-Authenticate)
}

func (e *Error) Error() string { return e.Diagnostics }

func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Diagnostics: fmt.Sprintf(format, args...)}
}

// OperationOutcome renders a one-issue OperationOutcome. severity is
// "error" for failures, "information" or "warning" otherwise. The JSON is
// the same in DSTU2 and STU3 for the elements used here.
func OperationOutcome(severity, code, diagnostics, location string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":"OperationOutcome","text":{"status":"generated","div":`)
	div := `<div xmlns="http://www.w3.org/1999/xhtml"><p>` + html.EscapeString(diagnostics) + `</p></div>`
	ooString(&b, div)
	b.WriteString(`},"issue":[{"severity":`)
	ooString(&b, severity)
	b.WriteString(`,"code":`)
	ooString(&b, code)
	if diagnostics != "" {
		b.WriteString(`,"diagnostics":`)
		ooString(&b, diagnostics)
	}
	if location != "" {
		b.WriteString(`,"location":[`)
		ooString(&b, location)
		b.WriteByte(']')
	}
	b.WriteString(`}]}`)
	return b.Bytes()
}

func ooString(b *bytes.Buffer, s string) {
	b.Write(appendJSONString(b.AvailableBuffer(), s))
}

// WriteError writes err as an OperationOutcome with the release's media
// type. It is exported so the layers in front of the API (bearer auth,
// tenant routing, scenario faults) answer FHIR routes in the same shape.
func WriteError(w http.ResponseWriter, rel spec.Release, e *Error) {
	for k, vals := range e.Header {
		for _, val := range vals {
			w.Header().Add(k, val)
		}
	}
	w.Header().Set("Content-Type", rel.MediaType+"; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.Status)
	_, _ = w.Write(OperationOutcome("error", e.Code, e.Diagnostics, e.Location))
}
