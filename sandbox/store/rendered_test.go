package store

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestRenderedGenerations: a render is kept only for the content it was
// made from: a write between reading the generation and keeping the
// render keeps it out, and every write, and the undo of a write whose
// commit failed, empties the cache.
func TestRenderedGenerations(t *testing.T) {
	s := newTestStore(t)
	s.SetRenderCache(1 << 20)
	body := []byte(`},"type":"searchset"}`)

	g := s.RenderGen()
	s.KeepRendered([]byte("k"), g, body)
	if b, ok := s.CachedRender([]byte("k")); !ok || string(b) != string(body) {
		t.Fatalf("kept render not found: %q %v", b, ok)
	}

	g = s.RenderGen()
	if _, err := s.Put([]byte(`{"resourceType":"Patient","id":"p1","gender":"other"}`), "p1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.CachedRender([]byte("k")); ok {
		t.Fatal("a write left the cache as it was")
	}
	s.KeepRendered([]byte("stale"), g, body) // made before the write
	if _, ok := s.CachedRender([]byte("stale")); ok {
		t.Fatal("a render made before a write was kept")
	}

	s.KeepRendered([]byte("k2"), s.RenderGen(), body)
	if _, err := s.Delete("Patient", "p2"); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.CachedRender([]byte("k2")); ok {
		t.Fatal("a delete left the cache as it was")
	}

	// a write whose commit fails is undone, and so is what was cached
	// while it was visible
	s.SetWriteHook(func(ops []Op, at time.Time) (func() error, error) {
		return func() error {
			s.KeepRendered([]byte("during"), s.RenderGen(), body) // a search seeing the write before it is undone
			return errors.New("disk full")
		}, nil
	})
	if _, err := s.Put([]byte(`{"resourceType":"Patient","id":"p3","gender":"other"}`), "p3", time.Now()); !errors.Is(err, ErrPersist) {
		t.Fatalf("failed commit: %v", err)
	}
	if _, ok := s.CachedRender([]byte("during")); ok {
		t.Fatal("a render of a write that was undone is still served")
	}
}

// TestRenderedBound: the cache keeps to its bound, oldest first out, does
// not keep a render over an eighth of it, and keeps nothing when off.
func TestRenderedBound(t *testing.T) {
	s := newTestStore(t)
	const max = 64 << 10
	s.SetRenderCache(max)
	body := []byte(strings.Repeat("x", 1000))
	for i := 0; i < 200; i++ {
		s.KeepRendered([]byte(strings.Repeat("k", i+1)), s.RenderGen(), body)
		if n := s.RenderedBytes(); n > max {
			t.Fatalf("after %d renders the cache holds %d bytes, over %d", i+1, n, max)
		}
	}
	if _, ok := s.CachedRender([]byte("k")); ok {
		t.Fatal("the oldest render is still kept")
	}
	if _, ok := s.CachedRender([]byte(strings.Repeat("k", 200))); !ok {
		t.Fatal("the newest render is not kept")
	}
	s.KeepRendered([]byte("big"), s.RenderGen(), make([]byte, max/8))
	if _, ok := s.CachedRender([]byte("big")); ok {
		t.Fatal("a render over an eighth of the bound was kept")
	}
	s.SetRenderCache(0)
	s.KeepRendered([]byte("k"), s.RenderGen(), body)
	if _, ok := s.CachedRender([]byte("k")); ok || s.RenderedBytes() != 0 {
		t.Fatal("a cache turned off keeps renders")
	}
}
