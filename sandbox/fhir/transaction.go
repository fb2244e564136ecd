package fhir

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// ErrNoHospital is returned by the bundle writers when given no hospital.
var ErrNoHospital = errors.New("no hospital to write")

// WriteTransactionBundle streams a FHIR transaction Bundle of release v
// holding the hospital's shared resources and patients 0..n-1, generated one
// at a time so that memory stays flat for any n. progress, when not nil, is
// called with the number of patients written after each one.
//
// Each entry is a PUT to "Type/id", so ids survive the load and the
// relative references between resources resolve on the receiving server.
// Both releases require a fullUrl on every entry that is not a POST and
// forbid it to disagree with the resource id; the server base is unknown
// here, so fullUrl is a urn:uuid derived from tenant, type and id, which is
// stable across runs and never collides with a RESTful URL.
func WriteTransactionBundle(w io.Writer, v Version, h *seed.Hospital, n int, progress func(done int)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	s := &bundleStream{w: bw, tenant: tenantOf(h), release: v}
	s.write(`{"resourceType":"Bundle","type":"transaction"`)
	if err := generate(v, h, n, s.entry, progress, s.failed); err != nil {
		return err
	}
	if s.entries > 0 {
		s.write("]")
	}
	s.write("}\n")
	if s.err != nil {
		return fmt.Errorf("write %s transaction bundle: %w", v.Release().Name, s.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write %s transaction bundle: %w", v.Release().Name, err)
	}
	return nil
}

// WriteNDJSON streams the same resources as WriteTransactionBundle as
// newline-delimited JSON, one compact resource per line (bulk-data style).
func WriteNDJSON(w io.Writer, v Version, h *seed.Hospital, n int, progress func(done int)) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var werr error
	line := func(r Resource) {
		if werr != nil {
			return
		}
		if _, err := bw.Write(r.JSON); err != nil {
			werr = err
			return
		}
		werr = bw.WriteByte('\n')
	}
	if err := generate(v, h, n, line, progress, func() bool { return werr != nil }); err != nil {
		return err
	}
	if werr == nil {
		werr = bw.Flush()
	}
	if werr != nil {
		return fmt.Errorf("write %s ndjson: %w", v.Release().Name, werr)
	}
	return nil
}

// generate renders the hospital then each patient through emit, stopping
// early once stop reports a failed write.
func generate(v Version, h *seed.Hospital, n int, emit func(Resource), progress func(int), stop func() bool) error {
	if v == nil {
		return errors.New("no fhir release given")
	}
	if h == nil {
		return ErrNoHospital
	}
	if n < 0 || n > spec.MaxPatients {
		return fmt.Errorf("patient count %d: want 0 to %d", n, spec.MaxPatients)
	}
	v.RenderHospital(h, emit)
	for i := 0; i < n && !stop(); i++ {
		v.RenderPatient(patientAt(h, i), emit)
		if progress != nil {
			progress(i + 1)
		}
	}
	return nil
}

type bundleStream struct {
	w       *bufio.Writer
	tenant  string
	release Version
	entries int
	err     error
}

func (s *bundleStream) failed() bool { return s.err != nil }

func (s *bundleStream) write(str string) {
	if s.err == nil {
		_, s.err = s.w.WriteString(str)
	}
}

func (s *bundleStream) entry(r Resource) {
	if s.err != nil {
		return
	}
	if s.entries == 0 {
		s.write(`,"entry":[`)
	} else {
		s.write(",")
	}
	s.entries++
	url := r.Type + "/" + r.ID
	s.write(`{"fullUrl":"urn:uuid:`)
	s.write(stableUUID(s.tenant, url))
	s.write(`","resource":`)
	if s.err == nil {
		_, s.err = s.w.Write(r.JSON)
	}
	// Type and id come verbatim from the seed: quote them rather than trust.
	var b []byte
	b = append(b, `,"request":{"method":"PUT","url":`...)
	b = appendJSONString(b, url)
	b = append(b, "}}"...)
	if s.err == nil {
		_, s.err = s.w.Write(b)
	}
}

func tenantOf(h *seed.Hospital) string {
	if h == nil {
		return ""
	}
	return h.Tenant
}

// patientAt generates patient i of the hospital on the fly, so that a
// bundle of any size never holds more than one patient in memory.
func patientAt(h *seed.Hospital, i int) *seed.PatientRecord {
	p := h.Patient(i)
	return &p
}
