package reqnote

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestNoteIdentity(t *testing.T) {
	t.Parallel()
	ctx := With(context.Background(), &Note{ID: "r-1"})
	n := From(ctx)
	if n == nil || n.ID != "r-1" || From(context.Background()) != nil {
		t.Fatalf("From: %+v", n)
	}
	if _, _, ok := n.Identity(); ok {
		t.Fatal("a new note is identified")
	}
	// a verified identity becomes the identity when none was set
	n.Authenticated("tenant-a", "client-a")
	if tn, c, ok := n.Identity(); !ok || tn != "tenant-a" || c != "client-a" || n.AuthTenant() != "tenant-a" || !n.IsVerified("client-a") {
		t.Errorf("after Authenticated: %q %q %v", tn, c, ok)
	}
	// an identity set before (a token request's form) is kept
	m := &Note{}
	m.SetIdentity("tenant-b", "client-b")
	m.Authenticated("", "client-b")
	if tn, c, _ := m.Identity(); tn != "tenant-b" || c != "client-b" || m.AuthTenant() != "" || !m.IsVerified("client-b") || m.IsVerified("other") {
		t.Errorf("identity overwritten or verification lost: %q %q", tn, c)
	}
	m.Authenticated("tenant-b", "") // no client: nothing verified
	if m.AuthTenant() != "" {
		t.Errorf("a tenant was verified without a client")
	}
}

func TestNoteRecordsOnce(t *testing.T) {
	t.Parallel()
	n := &Note{}
	n.Refuse("wrong_secret")
	n.Refuse("throttled")
	n.SetRoute("/token")
	n.SetRoute("/other")
	if n.Refusal() != "wrong_secret" || n.Route() != "/token" {
		t.Errorf("first refusal and route should stay: %q %q", n.Refusal(), n.Route())
	}
	if n.Applied() != nil || n.Faults() != nil || n.Claims() != nil {
		t.Errorf("empty note has facts")
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.AddApplied("rule: latency 1ms")
			n.AddFault(Fault{Scenario: "s", Rule: "rule", Effect: "latency"})
			n.SetClaims(i)
		}()
	}
	wg.Wait()
	if len(n.Applied()) != 8 || len(n.Faults()) != 8 {
		t.Errorf("%d applied, %d faults, want 8 each", len(n.Applied()), len(n.Faults()))
	}
	a := n.Applied()
	a[0] = "changed"
	if n.Applied()[0] == "changed" {
		t.Errorf("Applied returned the note's own slice")
	}
}

func TestContextCarriesNoteAndParent(t *testing.T) {
	t.Parallel()
	type other struct{}
	parent, cancel := context.WithCancel(context.WithValue(context.Background(), other{}, "kept"))
	n := &Note{ID: "id-1"}
	var c Context
	c.Init(parent, n)
	if From(&c) != n || c.Value(other{}) != "kept" {
		t.Fatalf("note %v, parent's value %v", From(&c), c.Value(other{}))
	}
	child, stop := context.WithCancel(&c)
	defer stop()
	if From(child) != n {
		t.Error("a child context lost the note")
	}
	cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("cancelling the parent did not reach the child")
	}
	if child.Err() != context.Canceled || c.Err() != context.Canceled {
		t.Errorf("errors %v, %v", child.Err(), c.Err())
	}
}

func TestSummaryReadsTheNote(t *testing.T) {
	t.Parallel()
	n := &Note{}
	if s := n.Summary(); s.Tenant != "" || s.Applied != nil || s.Faults != nil {
		t.Fatalf("empty note: %+v", s)
	}
	n.SetIdentity("t-claimed", "c-1")
	n.Authenticated("t-verified", "c-1")
	n.Refuse("why")
	n.SetRoute("/x/{id}")
	n.AddApplied("a", "b")
	n.AddFault(Fault{Scenario: "s", Rule: "r", Effect: "e"})
	s := n.Summary()
	tenant, client, _ := n.Identity()
	if s.Tenant != tenant || s.Client != client || s.AuthTenant != n.AuthTenant() || s.Refusal != n.Refusal() ||
		s.Route != n.Route() || !slices.Equal(s.Applied, n.Applied()) || !slices.Equal(s.Faults, n.Faults()) {
		t.Errorf("summary %+v differs from the note's accessors", s)
	}
	s.Applied[0] = "changed"
	if n.Applied()[0] != "a" {
		t.Error("the summary shares the note's applied list")
	}
}
