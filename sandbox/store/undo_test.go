package store

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// fingerprint is everything a reader can see of s: every resource's JSON
// in creation order and what a few searches find, for comparing states.
func fingerprint(t *testing.T, s *Store) string {
	t.Helper()
	var b strings.Builder
	s.All(func(d *Doc) bool {
		fmt.Fprintf(&b, "%s/%s v%d %s\n", d.Type, d.ID, d.Version, d.JSON)
		return true
	})
	for _, q := range []struct{ typ, query string }{
		{"Patient", "gender=male"}, {"Patient", "gender=female"}, {"Patient", "family=smi"},
		{"Patient", "identifier=urn:mrn|100"}, {"Observation", "patient=p1"}, {"Observation", "code=8867-4"},
	} {
		pq, err := testDefs.ParseQuery(q.typ, parseKV(q.query+"&_count=100"), Options{DefaultCount: 10, MaxCount: 100})
		if err != nil {
			t.Fatal(err)
		}
		r := s.Search(pq)
		fmt.Fprintf(&b, "%s?%s total=%d:", q.typ, q.query, r.Total)
		for _, d := range r.Matches {
			fmt.Fprintf(&b, " %s", d.ID)
		}
		b.WriteString("\n")
	}
	for _, id := range []string{"p1", "p2", "p9", "o4"} {
		_, err := s.Get("Patient", id)
		fmt.Fprintf(&b, "get %s: %v\n", id, err)
	}
	return b.String()
}

// TestFailedCommitUndoesWrites: writes whose journal commit fails are
// undone, newest first, together with every write applied after them, so
// the store is again exactly what it was before them: resources, versions,
// indexes, deleted markers. A later write that commits stays.
func TestFailedCommitUndoesWrites(t *testing.T) {
	s := newTestStore(t)
	if _, err := s.Delete("Patient", "p4"); err != nil { // a "gone" entry to restore
		t.Fatal(err)
	}
	before := fingerprint(t, s)

	errDisk := errors.New("disk full")
	release := make(chan struct{})
	var hooked sync.WaitGroup
	s.SetWriteHook(func(ops []Op, at time.Time) (func() error, error) {
		hooked.Done()
		return func() error { <-release; return errDisk }, nil
	})
	writes := []func() error{
		func() error { // update: p1 becomes male Smith
			_, err := s.Put([]byte(`{"resourceType":"Patient","id":"p1","name":[{"family":"Smith"}],"gender":"male"}`), "", time.Time{})
			return err
		},
		func() error { // create
			_, err := s.Put([]byte(`{"resourceType":"Patient","id":"p9","gender":"male"}`), "", time.Time{})
			return err
		},
		func() error { // delete
			_, err := s.Delete("Observation", "o4")
			return err
		},
		func() error { // re-create a deleted one, and update the first again
			_, err := s.Apply([]Op{
				{Type: "Patient", ID: "p4", JSON: []byte(`{"resourceType":"Patient","id":"p4","gender":"female"}`)},
				{Type: "Patient", ID: "p1", JSON: []byte(`{"resourceType":"Patient","id":"p1","gender":"female","identifier":[{"system":"urn:mrn","value":"100"}]}`)},
				{Type: "Patient", ID: "p2"},
			})
			return err
		},
	}
	errs := make(chan error, len(writes))
	for _, w := range writes {
		// one after the other into the store (so each builds on the last),
		// all waiting for their commits at once
		hooked.Add(1)
		go func() { errs <- w() }()
		hooked.Wait()
	}
	if fingerprint(t, s) == before {
		t.Fatal("the writes were not applied before their commits")
	}
	close(release)
	for range writes {
		if err := <-errs; !errors.Is(err, ErrPersist) || !errors.Is(err, errDisk) {
			t.Errorf("write with a failed commit: %v", err)
		}
	}
	if got := fingerprint(t, s); got != before {
		t.Errorf("store after failed commits:\n%s\nwant:\n%s", got, before)
	}

	// a write that commits stays, and builds on the restored state
	s.SetWriteHook(func([]Op, time.Time) (func() error, error) { return func() error { return nil }, nil })
	r, err := s.Put([]byte(`{"resourceType":"Patient","id":"p1","gender":"other"}`), "", time.Time{})
	if err != nil || r.Doc.Version != 2 {
		t.Fatalf("write after the undo: %+v %v", r, err)
	}
	r, err = s.Put([]byte(`{"resourceType":"Patient","id":"p4","gender":"other"}`), "", time.Time{})
	if err != nil || r.Doc.Version != 2 || !r.Created {
		t.Fatalf("re-create of the deleted p4 after the undo: %+v %v", r, err)
	}
}

// TestFailedCommitUndoesDerivedWrites: a failed commit of an update or a
// delete of a generated (derived, never stored) resource uncovers the
// generated resource again: it reads and searches as before the writes.
func TestFailedCommitUndoesDerivedWrites(t *testing.T) {
	pop := fakePop{n: 20}
	_, s := storedAndDerived(t, pop, 4)
	queries := []string{"Patient?family=zebedee", "Observation?patient=pat-5", "Patient?_id=pat-8", "Patient?_id=pat-3"}
	state := func() string {
		var b strings.Builder
		for _, q := range queries {
			fmt.Fprintf(&b, "%s: %s\n", q, searchIDs(t, s, q))
		}
		for _, id := range []string{"Patient/pat-3", "Patient/pat-8", "Observation/obs-5-1"} {
			typ, rid, _ := strings.Cut(id, "/")
			d, err := s.Get(typ, rid)
			if err != nil {
				fmt.Fprintf(&b, "get %s: %v\n", id, err)
				continue
			}
			fmt.Fprintf(&b, "get %s: v%d %s\n", id, d.Version, d.JSON)
		}
		return b.String()
	}
	before := state()
	errDisk := errors.New("disk full")
	s.SetWriteHook(func([]Op, time.Time) (func() error, error) {
		return func() error { return errDisk }, nil
	})
	if _, err := s.Put([]byte(`{"resourceType":"Patient","id":"pat-3","name":[{"family":"Zebedee"}],"gender":"male"}`), "pat-3", time.Time{}); !errors.Is(err, ErrPersist) {
		t.Fatalf("update of a generated patient with a failed commit: %v", err)
	}
	if _, err := s.Delete("Patient", "pat-8"); !errors.Is(err, ErrPersist) {
		t.Fatalf("delete of a generated patient with a failed commit: %v", err)
	}
	if _, err := s.Delete("Observation", "obs-5-1"); !errors.Is(err, ErrPersist) {
		t.Fatalf("delete of a generated observation with a failed commit: %v", err)
	}
	if got := state(); got != before {
		t.Errorf("after failed commits:\n%s\nwant:\n%s", got, before)
	}
}
