package state

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

func ids(ws []Writes) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Tenant[:1]+":"+w.Ops[0].ID)
	}
	return out
}

func TestLoadAndCompact(t *testing.T) {
	t.Parallel()
	initial := []tenant.Tenant{{ID: tenantA, Patients: 3}, {ID: tenantB, Patients: 5}}
	path := filepath.Join(t.TempDir(), "s")
	j := open(t, path)
	for _, r := range []Record{
		writesRec(tenantA, "a1", false),
		writesRec(tenantB, "b1", false),
		clientsRec("first"),
		// B's seed changes: its earlier writes go with its old store. A is
		// renamed only: its writes stay.
		tenantsRec(tenant.Tenant{ID: tenantA, Name: "renamed", Patients: 3}, tenant.Tenant{ID: tenantB, Patients: 5, Seed: 9}),
		writesRec(tenantB, "b2", false),
		writesRec(tenantA, "a2", true),
		clientsRec("second"),
	} {
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := j.Load(initial)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(snap.Writes), []string{"2:a1", "7:b2", "2:a2"}; !slices.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	if snap.Clients.Clients[0].Name != "second" || snap.Tenants[0].Name != "renamed" {
		t.Errorf("snapshot: %+v", snap)
	}
	before := j.Size()
	if err := j.Compact(initial); err != nil {
		t.Fatal(err)
	}
	if j.Size() >= before {
		t.Errorf("compaction did not shrink: %d -> %d", before, j.Size())
	}
	// Appends go on after compaction, and a restart sees the same state.
	if err := j.Append(writesRec(tenantA, "a3", false)); err != nil {
		t.Fatal(err)
	}
	j.Close()
	snap2, err := open(t, path).Load(initial)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := ids(snap2.Writes), []string{"2:a1", "7:b2", "2:a2", "2:a3"}; !slices.Equal(got, want) {
		t.Errorf("after compaction and restart: %v, want %v", got, want)
	}
	if !reflect.DeepEqual(snap2.Clients, snap.Clients) || !reflect.DeepEqual(snap2.Tenants, snap.Tenants) {
		t.Error("compaction changed the snapshot")
	}
	// Removing a tenant drops its writes.
	j3 := open(t, filepath.Join(t.TempDir(), "r"))
	j3.Append(writesRec(tenantA, "a1", false))
	j3.Append(tenantsRec(tenant.Tenant{ID: tenantB, Patients: 5}))
	if s, _ := j3.Load(initial); len(s.Writes) != 0 || s.Clients != nil {
		t.Errorf("writes of a removed tenant kept: %+v", s)
	}
}

// TestRoundTripThroughRegistries drives the real registries and a real
// store through Persister and WriteHook, then rebuilds them from the file
// as the server does at start.
func TestRoundTripThroughRegistries(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	j := open(t, path)
	now := func() time.Time { return t0 }
	clients := auth.NewRegistry(now, zeroReader{})
	tenants := tenant.NewRegistry(func(tenant.Tenant, string) (*store.Store, error) {
		return store.New(store.Definitions{"Patient": nil}, now), nil
	})
	persist := Persister(j, clients, tenants)
	if _, err := tenants.Add(tenant.Tenant{ID: tenantA, Name: "A"}); err != nil {
		t.Fatal(err)
	}
	if err := persist(KindTenants); err != nil {
		t.Fatal(err)
	}
	c, _, err := clients.CreateClient("app", []string{tenantA})
	if err != nil {
		t.Fatal(err)
	}
	if err := persist(KindClients); err != nil {
		t.Fatal(err)
	}
	if err := persist("bogus"); err == nil {
		t.Error("unknown kind persisted")
	}
	s, _ := tenants.Store(tenantA, "stu3")
	s.SetWriteHook(WriteHook(j, tenantA, "stu3"))
	if _, err := s.Apply([]store.Op{{Type: "Patient", ID: "p1", JSON: []byte(`{"resourceType":"Patient","id":"p1"}`)}}); err != nil {
		t.Fatal(err)
	}
	j.Close()

	snap, err := open(t, path).Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	clients2 := auth.NewRegistry(now, zeroReader{})
	if err := clients2.Restore(*snap.Clients); err != nil {
		t.Fatal(err)
	}
	if got, _ := clients2.Client(c.ID); !reflect.DeepEqual(got, c) {
		t.Errorf("restored client %+v, want %+v", got, c)
	}
	if len(snap.Tenants) != 1 || snap.Tenants[0].Name != "A" {
		t.Errorf("tenants %+v", snap.Tenants)
	}
	if len(snap.Writes) != 1 || string(snap.Writes[0].Ops[0].JSON) != `{"resourceType":"Patient","id":"p1"}` {
		t.Errorf("writes %+v", snap.Writes)
	}
	s2 := store.New(store.Definitions{"Patient": nil}, now)
	if _, err := s2.Apply(snap.Writes[0].Ops); err != nil {
		t.Fatal(err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i)
	}
	return len(p), nil
}

// TestAutoCompactOnDoubling: after Compact, a journal that doubles (past
// AutoCompactBytes) compacts itself on the append that doubled it, and
// still loads the same state: the last put, standing for all of them.
func TestAutoCompactOnDoubling(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Compact(nil); err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("x", 100<<10)
	const n = 30 // about 3 MiB appended
	var total int64
	for i := range n {
		r := Record{Kind: KindWrites, Writes: &Writes{Tenant: tenantA, Release: "stu3", At: t0.Add(time.Duration(i) * time.Second), Ops: []store.Op{{
			Type: "Patient", ID: "p1", JSON: []byte(fmt.Sprintf(`{"resourceType":"Patient","id":"p1","name":[{"family":"F%d","text":"%s"}]}`, i, pad)),
		}}}}
		line, _ := encode(r)
		total += int64(len(line))
		if err := j.Append(r); err != nil {
			t.Fatal(err)
		}
		if j.Size() > AutoCompactBytes+int64(len(line)) {
			t.Fatalf("append %d: journal at %d bytes, over twice its compacted size", i, j.Size())
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != j.Size() || fi.Size() >= total/2 {
		t.Fatalf("file %d bytes, journal %d, appended %d", fi.Size(), j.Size(), total)
	}
	snap, err := j.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	// replay into a store: the state is the last put, at version n
	s := store.New(store.Definitions{"Patient": nil}, time.Now)
	for _, w := range snap.Writes {
		if _, err := s.ApplyAt(w.Ops, w.At); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Get("Patient", "p1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Version != n || !d.Updated.Equal(t0.Add((n-1)*time.Second)) || !bytes.Contains(d.JSON, []byte(fmt.Sprintf(`"F%d"`, n-1))) {
		t.Fatalf("after auto-compaction: version %d updated %v", d.Version, d.Updated)
	}
}
