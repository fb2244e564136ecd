package fhir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
)

// bundleHospital is a generated hospital; the writers generate its
// patients themselves, and the test compares with the same patients.
func bundleHospital() *seed.Hospital {
	h, err := seed.NewHospital(populationOptions(0))
	if err != nil {
		panic(err) // fixed, valid options
	}
	for i := range 20 {
		h.Patients = append(h.Patients, h.Patient(i))
	}
	return h
}

type bundleDoc struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

func TestWriteTransactionBundle(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		t.Run(v.Release().Name, func(t *testing.T) {
			t.Parallel()
			h := bundleHospital()
			n := len(h.Patients)
			var done []int
			var buf bytes.Buffer
			if err := WriteTransactionBundle(&buf, v, h, n, func(d int) { done = append(done, d) }); err != nil {
				t.Fatal(err)
			}
			want := renderAll(v, h, patientPtrs(h)...)
			var doc bundleDoc
			if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
				t.Fatalf("bundle is not JSON: %v", err)
			}
			if doc.ResourceType != "Bundle" || doc.Type != "transaction" {
				t.Errorf("resourceType %q type %q", doc.ResourceType, doc.Type)
			}
			if len(doc.Entry) != len(want) {
				t.Fatalf("%d entries, want %d", len(doc.Entry), len(want))
			}
			seen := map[string]bool{}
			for i, e := range doc.Entry {
				url := want[i].Type + "/" + want[i].ID
				if e.Request.Method != "PUT" || e.Request.URL != url {
					t.Errorf("entry %d: %s %s, want PUT %s", i, e.Request.Method, e.Request.URL, url)
				}
				if !bytes.Equal(e.Resource, want[i].JSON) {
					t.Errorf("entry %d: resource differs from the rendered one", i)
				}
				if !strings.HasPrefix(e.FullURL, "urn:uuid:") || len(e.FullURL) != len("urn:uuid:")+36 || seen[e.FullURL] {
					t.Errorf("entry %d: fullUrl %q is not a fresh urn:uuid", i, e.FullURL)
				}
				seen[e.FullURL] = true
			}
			if len(done) != n || done[n-1] != n {
				t.Errorf("progress reported %v, want 1..%d", done, n)
			}
			var again bytes.Buffer
			if err := WriteTransactionBundle(&again, v, bundleHospital(), n, nil); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Error("two runs wrote different bundles")
			}
			if err := validateRelease(t, v, buf.Bytes()); err != nil {
				t.Errorf("bundle does not validate: %v", err)
			}
		})
	}
}

func patientPtrs(h *seed.Hospital) []*seed.PatientRecord {
	ps := make([]*seed.PatientRecord, len(h.Patients))
	for i := range h.Patients {
		ps[i] = &h.Patients[i]
	}
	return ps
}

func TestWriteNDJSON(t *testing.T) {
	t.Parallel()
	for _, v := range Versions() {
		h := bundleHospital()
		var buf bytes.Buffer
		if err := WriteNDJSON(&buf, v, h, 2, nil); err != nil {
			t.Fatal(err)
		}
		want := renderAll(v, h, &h.Patients[0], &h.Patients[1])
		sc := bufio.NewScanner(&buf)
		sc.Buffer(nil, 1<<20)
		i := 0
		for sc.Scan() {
			if i >= len(want) {
				t.Fatalf("%s: more lines than the %d resources", v.Release().Name, len(want))
			}
			if !bytes.Equal(sc.Bytes(), want[i].JSON) {
				t.Errorf("%s line %d differs from %s/%s", v.Release().Name, i, want[i].Type, want[i].ID)
			}
			i++
		}
		if i != len(want) {
			t.Errorf("%s: %d lines, want %d", v.Release().Name, i, len(want))
		}
	}
}

func TestBundleWritersRejectBadInput(t *testing.T) {
	t.Parallel()
	writers := map[string]func(*bytes.Buffer, Version, *seed.Hospital, int) error{
		"bundle": func(b *bytes.Buffer, v Version, h *seed.Hospital, n int) error {
			return WriteTransactionBundle(b, v, h, n, nil)
		},
		"ndjson": func(b *bytes.Buffer, v Version, h *seed.Hospital, n int) error { return WriteNDJSON(b, v, h, n, nil) },
	}
	tests := []struct {
		name string
		v    Version
		h    *seed.Hospital
		n    int
		is   error
	}{
		{"nil hospital", STU3{}, nil, 1, ErrNoHospital},
		{"negative count", STU3{}, fixtureHospital(), -1, nil},
		{"nil release", nil, fixtureHospital(), 0, nil},
		{"more patients than allowed", DSTU2{}, bundleHospital(), spec.MaxPatients + 1, nil},
	}
	for wname, write := range writers {
		for _, tt := range tests {
			var b bytes.Buffer
			err := write(&b, tt.v, tt.h, tt.n)
			if err == nil {
				t.Errorf("%s %s: no error", wname, tt.name)
			} else if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("%s %s: %v, want %v", wname, tt.name, err, tt.is)
			}
		}
	}
}

func TestBundleEmptyHospital(t *testing.T) {
	t.Parallel()
	// No resources at all must not produce an empty "entry" array.
	var b bytes.Buffer
	if err := WriteTransactionBundle(&b, STU3{}, &seed.Hospital{}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(b.String()); got != `{"resourceType":"Bundle","type":"transaction"}` {
		t.Errorf("empty bundle = %s", got)
	}
}

func TestBundleWriteErrors(t *testing.T) {
	t.Parallel()
	for _, limit := range []int{0, 10, 3000} {
		for _, v := range Versions() {
			h := bundleHospital()
			if err := WriteTransactionBundle(&errWriter{n: limit}, v, h, len(h.Patients), nil); !errors.Is(err, errShortWrite) {
				t.Errorf("bundle %s limit %d: err %v, want %v", v.Release().Name, limit, err, errShortWrite)
			}
			if err := WriteNDJSON(&errWriter{n: limit}, v, h, len(h.Patients), nil); !errors.Is(err, errShortWrite) {
				t.Errorf("ndjson %s limit %d: err %v, want %v", v.Release().Name, limit, err, errShortWrite)
			}
		}
	}
}
