package store

import "sync"

// Rendered is a bounded cache of responses rendered from the store (a
// search's Bundle, less what differs per response), valid for as long
// as the store's content does not change: every write, undo and
// population change empties it. A search asked again, as a client
// polling a patient's chart does, then costs a lookup and a copy
// instead of the search and the render.
//
// Entries are tagged with the generation read before the search ran
// (Gen): Keep drops an entry whose generation is no longer current, so a
// render computed while a write was being applied is never kept. Oldest
// entries go first when the bound is reached.
type Rendered struct {
	mu    sync.Mutex
	gen   uint64
	max   int // bytes; 0: caching off
	used  int
	m     map[string]renderedEntry
	order []string // the keys, oldest first
}

type renderedEntry struct {
	gen  uint64
	body []byte
}

// renderedOverhead is what an entry is counted to cost besides its key
// and bytes (map slot, order slot, headers).
const renderedOverhead = 96

// SetRenderCache bounds the store's cache of rendered responses to
// maxBytes (0 turns it off). It empties the cache.
func (s *Store) SetRenderCache(maxBytes int) {
	c := &s.rendered
	c.mu.Lock()
	defer c.mu.Unlock()
	c.max = max(maxBytes, 0)
	c.clearLocked()
}

// RenderGen is the store's content generation, to be read before a
// search whose render may be kept with KeepRendered.
func (s *Store) RenderGen() uint64 {
	c := &s.rendered
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// CachedRender returns the bytes kept under key for the store's current
// content, if any. The bytes are shared: callers must not modify them.
func (s *Store) CachedRender(key []byte) ([]byte, bool) {
	c := &s.rendered
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[string(key)] // no copy of the key for a lookup
	if !ok || e.gen != c.gen {
		return nil, false
	}
	return e.body, true
}

// KeepRendered keeps body under key when the store's content is still
// that of generation gen (RenderGen, read before the search) and body is
// small enough to be worth keeping (an eighth of the bound at most).
// body must not be modified afterwards.
func (s *Store) KeepRendered(keyBytes []byte, gen uint64, body []byte) {
	key := string(keyBytes)
	c := &s.rendered
	cost := len(key) + len(body) + renderedOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max == 0 || gen != c.gen || cost > c.max/8 {
		return
	}
	if _, ok := c.m[key]; ok {
		return // the same search rendered twice at once: one copy is kept
	}
	for c.used+cost > c.max && len(c.order) > 0 {
		k := c.order[0]
		c.order[0] = ""
		c.order = c.order[1:]
		e := c.m[k]
		c.used -= len(k) + len(e.body) + renderedOverhead
		delete(c.m, k)
	}
	if c.m == nil {
		c.m = make(map[string]renderedEntry)
	}
	c.m[key] = renderedEntry{gen: gen, body: body}
	c.order = append(c.order, key)
	c.used += cost
}

// RenderedBytes is how many bytes the cache of rendered responses holds.
func (s *Store) RenderedBytes() int {
	c := &s.rendered
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used
}

// invalidateRendered empties the cache and moves to the next generation;
// called with s.mu held for writing, after the store's content changed.
func (s *Store) invalidateRendered() {
	c := &s.rendered
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.clearLocked()
}

func (c *Rendered) clearLocked() {
	if len(c.m) > 0 {
		clear(c.m)
	}
	c.order = c.order[:0:0]
	c.used = 0
}
