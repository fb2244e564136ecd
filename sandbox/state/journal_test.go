package state

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

const (
	tenantA = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	tenantB = "7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clientsRec(name string) Record {
	return Record{Kind: KindClients, Clients: &auth.State{Clients: []auth.ClientState{{
		ID: "app", Name: name, Tenants: []string{tenantA}, Created: t0,
		Secrets: []auth.SecretState{{ID: "sec_1", SHA256: strings.Repeat("ab", 32), Hint: "wxyz", Created: t0}},
	}}}}
}

func tenantsRec(ts ...tenant.Tenant) Record { return Record{Kind: KindTenants, Tenants: ts} }

func writesRec(tid, id string, del bool) Record {
	op := store.Op{Type: "Patient", ID: id, JSON: []byte(`{"resourceType":"Patient","id":"` + id + `"}`)}
	if del {
		op.JSON = nil
	}
	return Record{Kind: KindWrites, Writes: &Writes{Tenant: tid, Release: "stu3", Ops: []store.Op{op}}}
}

func open(t *testing.T, path string) *Journal {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func records(t *testing.T, j *Journal) []Record {
	t.Helper()
	var out []Record
	if err := j.Replay(func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestAppendReplayRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.jsonl")
	want := []Record{clientsRec("one"), tenantsRec(tenant.Tenant{ID: tenantA, Name: "A", Patients: 3}), tenantsRec(), writesRec(tenantA, "p1", false), writesRec(tenantA, "p1", true)}
	want[2].Tenants = []tenant.Tenant{}
	j := open(t, path)
	for _, r := range want {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	if got := records(t, j); !reflect.DeepEqual(got, want) {
		t.Fatalf("replay before restart:\n%+v\nwant\n%+v", got, want)
	}
	j.Close()
	if err := j.Append(clientsRec("x")); err == nil {
		t.Error("append after close succeeded")
	}
	j2 := open(t, path)
	if got := records(t, j2); !reflect.DeepEqual(got, want) {
		t.Fatalf("replay after restart:\n%+v\nwant\n%+v", got, want)
	}
	raw, _ := os.ReadFile(path)
	if !bytes.Contains(raw, []byte(`"resource":{"resourceType":"Patient","id":"p1"}`)) {
		t.Errorf("resources are not embedded as JSON:\n%s", raw)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestBadRecordsRefused(t *testing.T) {
	t.Parallel()
	j := open(t, filepath.Join(t.TempDir(), "s"))
	for i, r := range []Record{
		{Kind: "nope"},
		{Kind: KindClients},
		{Kind: KindWrites, Writes: &Writes{Tenant: tenantA, Release: "stu3"}},
		{Kind: KindWrites, Writes: &Writes{Tenant: tenantA, Release: "stu3", Ops: []store.Op{{Type: "Patient"}}}},
		{Kind: KindTenants, Clients: &auth.State{}},
		{Kind: KindWrites, Writes: &Writes{Tenant: tenantA, Release: "stu3", Ops: []store.Op{{Type: "Patient", ID: "x", JSON: []byte("{bad")}}}},
	} {
		if err := j.Append(r); err == nil {
			t.Errorf("record %d accepted", i)
		}
	}
	if j.Size() != 0 {
		t.Errorf("refused records left %d bytes", j.Size())
	}
}

// TestCrashTails simulates what a crash leaves at the end of the file.
func TestCrashTails(t *testing.T) {
	t.Parallel()
	good, err := encode(clientsRec("one"))
	if err != nil {
		t.Fatal(err)
	}
	next, _ := encode(writesRec(tenantA, "p2", false))
	cases := []struct {
		name    string
		tail    []byte
		corrupt bool
	}{
		{"clean", nil, false},
		{"torn mid-line", next[:len(next)/2], false},
		{"torn before newline", next[:len(next)-1], false},
		{"zero-filled block", make([]byte, 4096), false},
		{"garbage line", []byte("garbage\n"), false},
		{"garbage then torn", append([]byte("{\"kind\":\n"), next[:9]...), false},
		{"blank line", []byte("\n"), false},
		{"damage before good record", append([]byte("xx\n"), next...), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s")
			if err := os.WriteFile(path, append(slices.Clone(good), tc.tail...), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := Open(path)
			if tc.corrupt {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open = %v, want ErrCorrupt", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got := records(t, j); len(got) != 1 || got[0].Clients.Clients[0].Name != "one" {
				t.Fatalf("records after crash: %+v", got)
			}
			if raw, _ := os.ReadFile(path); !bytes.Equal(raw, good) {
				t.Fatalf("tail not cut: %q", raw)
			}
			// Appends go after the good records and replay cleanly.
			if err := j.Append(writesRec(tenantA, "p3", false)); err != nil {
				t.Fatal(err)
			}
			j.Close()
			if got := records(t, open(t, path)); len(got) != 2 || got[1].Writes.Ops[0].ID != "p3" {
				t.Fatalf("after reopen: %+v", got)
			}
		})
	}
}

func TestOversizedLineIsDamage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	good, _ := encode(clientsRec("one"))
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(good)
	// A line one byte over the limit, unterminated: a torn giant append.
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for range MaxRecordBytes>>20 + 1 {
		f.Write(chunk)
	}
	f.Close()
	j := open(t, path)
	if j.Size() != int64(len(good)) {
		t.Errorf("size %d, want %d", j.Size(), len(good))
	}
	big := writesRec(tenantA, "big", false)
	big.Writes.Ops[0].JSON = []byte(`"` + strings.Repeat("x", MaxRecordBytes) + `"`)
	if err := j.Append(big); err == nil {
		t.Error("a record over MaxRecordBytes was appended")
	}
}

func TestConcurrentAppends(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	j := open(t, path)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := j.Append(writesRec(tenantA, fmt.Sprintf("w%d-%d", w, i), false)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 5 {
			if err := j.Replay(func(Record) error { return nil }); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
	j.Close()
	seen := map[string]bool{}
	for _, r := range records(t, open(t, path)) {
		seen[r.Writes.Ops[0].ID] = true
	}
	if len(seen) != writers*each {
		t.Fatalf("%d distinct records, want %d", len(seen), writers*each)
	}
}

func TestReplayStopsOnError(t *testing.T) {
	t.Parallel()
	j := open(t, filepath.Join(t.TempDir(), "s"))
	j.Append(clientsRec("a"))
	j.Append(clientsRec("b"))
	boom := errors.New("boom")
	n := 0
	err := j.Replay(func(Record) error { n++; return boom })
	if !errors.Is(err, boom) || n != 1 {
		t.Fatalf("Replay = %v after %d calls", err, n)
	}
}

func FuzzDecode(f *testing.F) {
	for _, r := range []Record{clientsRec("a"), tenantsRec(tenant.Tenant{ID: tenantA}), writesRec(tenantA, "p", true)} {
		b, _ := encode(r)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte(`{"kind":"writes","writes":{"tenant":"t","release":"r","ops":[{"type":"P","id":"1","resource":null}]}}`))
	f.Add([]byte(`{"kind":"revoked","revoked":{"jti":"abc","until":"2026-01-01T00:00:00Z"}}`))
	f.Add([]byte(`{"kind":"revoked","revoked":{"min_gen":18446744073709551615,"until":"2026-01-01T00:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := decode(line)
		if err != nil {
			return
		}
		b, err := encode(r)
		if err != nil {
			t.Fatalf("decoded record does not encode: %v", err)
		}
		// Compare encodings: times decoded from different offsets of the
		// same instant are equal but not DeepEqual.
		r2, err := decode(b[:len(b)-1])
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if b2, err := encode(r2); err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("round trip:\n%s\n%s\n%v", b, b2, err)
		}
	})
}

// TestOpenLocked: a journal open elsewhere is refused with its holder's
// pid and address, and free again once closed.
func TestOpenLocked(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	j := open(t, path)
	if err := j.Announce("127.0.0.1:8080"); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	want := fmt.Sprintf("in use by pid %d (listening on 127.0.0.1:8080)", os.Getpid())
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("second Open = %v, want ErrLocked naming %q", err, want)
	}
	j.Close()
	open(t, path).Close()
}

// patientRec is a write whose resource carries a name, so a test can flip
// a byte inside a string value and leave valid JSON.
func patientRec(id, family string) Record {
	op := store.Op{Type: "Patient", ID: id, JSON: []byte(`{"resourceType":"Patient","id":"` + id + `","name":[{"family":"` + family + `"}]}`)}
	return Record{Kind: KindWrites, Writes: &Writes{Tenant: tenantA, Release: "stu3", Ops: []store.Op{op}}}
}

// writeJournal writes recs through Append and returns the file's bytes
// and each record's starting offset.
func writeJournal(t *testing.T, path string, recs ...Record) ([]byte, []int64) {
	t.Helper()
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, r := range recs {
		offs = append(offs, j.Size())
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return raw, offs
}

// TestChecksums: every line carries a CRC-32C of its record, so a flipped
// byte that leaves valid JSON is caught; in the middle of the file Open
// refuses it naming the offset and the records that would be lost, at the
// end it is cut and reported like a torn append.
func TestChecksums(t *testing.T) {
	t.Parallel()
	recs := []Record{patientRec("p1", "Smith"), patientRec("p2", "Jones"), patientRec("p3", "Brown")}
	flip := func(raw []byte, within string, from int64) []byte {
		out := slices.Clone(raw)
		i := bytes.Index(out[from:], []byte(within))
		if i < 0 {
			t.Fatalf("%q not in the journal after %d", within, from)
		}
		out[from+int64(i)] ^= 0x20 // "Jones" -> "jones": still valid JSON
		return out
	}
	t.Run("line format", func(t *testing.T) {
		t.Parallel()
		raw, _ := writeJournal(t, filepath.Join(t.TempDir(), "s"), recs[0])
		if !bytes.HasPrefix(raw, []byte(`{"crc":"`)) || !bytes.Contains(raw, []byte(`","rec":{"kind":"writes"`)) {
			t.Fatalf("line %s", raw)
		}
	})
	t.Run("flipped byte in the middle", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "s")
		raw, offs := writeJournal(t, path, recs...)
		os.WriteFile(path, flip(raw, "Jones", offs[1]), 0o600)
		_, err := Open(path)
		want := fmt.Sprintf("record at byte offset %d (line 2) is damaged (checksum mismatch", offs[1])
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "1 good records after it") {
			t.Fatalf("Open = %v, want ErrCorrupt with %q", err, want)
		}
		if now, _ := os.ReadFile(path); len(now) != len(raw) {
			t.Errorf("a refused file was changed")
		}
	})
	t.Run("unparseable line in the middle", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "s")
		raw, offs := writeJournal(t, path, recs...)
		raw[offs[1]] = 'x'
		os.WriteFile(path, raw, 0o600)
		if _, err := Open(path); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d", offs[1])) {
			t.Fatalf("Open = %v", err)
		}
	})
	for _, tc := range []struct {
		name   string
		damage func(raw []byte, last int64) []byte
		reason string
	}{
		{"flipped byte in the last record", func(raw []byte, last int64) []byte { return flip(raw, "Brown", last) }, "checksum mismatch"},
		{"truncated tail", func(raw []byte, last int64) []byte { return raw[:len(raw)-7] }, "unterminated"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "s")
			raw, offs := writeJournal(t, path, recs...)
			os.WriteFile(path, tc.damage(raw, offs[2]), 0o600)
			j := open(t, path)
			torn, ok := j.Torn()
			if !ok || torn.Offset != offs[2] || !strings.Contains(torn.Reason, tc.reason) {
				t.Fatalf("Torn = %+v %v, want offset %d, reason %q", torn, ok, offs[2], tc.reason)
			}
			if got := records(t, j); len(got) != 2 {
				t.Fatalf("%d records, want the 2 before the damage", len(got))
			}
			if j.Size() != offs[2] {
				t.Errorf("size %d, want the cut at %d", j.Size(), offs[2])
			}
		})
	}
	t.Run("clean file reports no cut", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "s")
		writeJournal(t, path, recs...)
		if torn, ok := open(t, path).Torn(); ok {
			t.Errorf("Torn = %+v on a clean file", torn)
		}
	})
}

// TestLegacyLinesLoad: a journal written before checksums (bare records)
// still loads, and new appends to it are checksummed.
func TestLegacyLinesLoad(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	legacy := `{"kind":"writes","writes":{"tenant":"` + tenantA + `","release":"stu3","ops":[{"type":"Patient","id":"old","resource":{"resourceType":"Patient","id":"old"}}]}}` + "\n"
	os.WriteFile(path, []byte(legacy), 0o600)
	j := open(t, path)
	if err := j.Append(patientRec("new", "New")); err != nil {
		t.Fatal(err)
	}
	got := records(t, j)
	if len(got) != 2 || got[0].Writes.Ops[0].ID != "old" || got[1].Writes.Ops[0].ID != "new" {
		t.Fatalf("records %+v", got)
	}
}

// TestWritesKeepTimeAndMeta: a write's time and its ops' KeepMeta come
// back from the journal, so replay stamps resources as the write did.
func TestWritesKeepTimeAndMeta(t *testing.T) {
	t.Parallel()
	r := patientRec("p1", "Smith")
	r.Writes.At = t0.Add(1234567 * time.Nanosecond)
	r.Writes.Ops[0].KeepMeta = true
	line, err := encode(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decode(line[:len(line)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !got.Writes.At.Equal(r.Writes.At) || !got.Writes.Ops[0].KeepMeta {
		t.Fatalf("decoded at %v keep_meta %v from %s", got.Writes.At, got.Writes.Ops[0].KeepMeta, line)
	}
}
