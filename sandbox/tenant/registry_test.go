package tenant

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

func TestRegistry(t *testing.T) {
	t.Parallel()
	var builds atomic.Int32
	r := NewRegistry(func(tn Tenant, release string) (*store.Store, error) {
		builds.Add(1)
		return store.New(store.Definitions{}, time.Now), nil
	})
	if _, err := r.Add(Tenant{ID: "{2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C}", Name: "A", Patients: 5}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Add(Tenant{ID: "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"}); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate after canonicalisation accepted: %v", err)
	}
	if _, err := r.Add(Tenant{ID: "nope"}); err == nil {
		t.Fatal("bad GUID accepted")
	}
	var wg sync.WaitGroup
	stores := make([]*store.Store, 8)
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], _ = r.Store("2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C", "stu3")
		}()
	}
	wg.Wait()
	for _, s := range stores[1:] {
		if s != stores[0] || s == nil {
			t.Fatal("concurrent first use built more than one store")
		}
	}
	if builds.Load() != 1 {
		t.Fatalf("builds = %d", builds.Load())
	}
	if _, err := r.Update("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", func(tn *Tenant) { tn.Name = "renamed" }); err != nil {
		t.Fatal(err)
	}
	s, _ := r.Store("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "stu3")
	if s != stores[0] {
		t.Error("a rename rebuilt the store")
	}
	if _, err := r.Update("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", func(tn *Tenant) { tn.Seed = 7 }); err != nil {
		t.Fatal(err)
	}
	s, _ = r.Store("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "stu3")
	if s == stores[0] {
		t.Error("a new seed kept the old store")
	}
	if err := r.Remove("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Store("2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c", "stu3"); !errors.Is(err, ErrUnknown) {
		t.Errorf("removed tenant still served: %v", err)
	}
}
