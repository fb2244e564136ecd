package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Entry is one request as the journal keeps it: never a header, a body, a
// secret or a token.
type Entry struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Query     string    `json:"query,omitempty"`
	Tenant    string    `json:"tenant,omitempty"`
	Client    string    `json:"client,omitempty"`
	Status    int       `json:"status"`
	LatencyMS float64   `json:"latency_ms"`
	// RetryAfter is the response's Retry-After header, for checking that
	// clients honour it.
	RetryAfter string   `json:"retry_after,omitempty"`
	Faults     []string `json:"faults,omitempty"`
	RequestID  string   `json:"request_id,omitempty"`
	// Bytes is how much of the response body the server wrote.
	Bytes int64 `json:"bytes,omitempty"`
	// Cut: the response was cut before its end (the client read too
	// slowly or went away, the write timeout, the in-flight response
	// budget): the client got Bytes at most, not a whole response.
	Cut bool `json:"cut,omitempty"`
}

// Filter selects journal entries; zero fields match everything.
type Filter struct {
	Client   string
	Tenant   string
	Since    time.Time
	AfterSeq uint64
	Limit    int
}

func (f Filter) match(e *Entry) bool {
	return (f.Client == "" || f.Client == e.Client) &&
		(f.Tenant == "" || f.Tenant == e.Tenant) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) &&
		e.Seq > f.AfterSeq
}

// Journal is a bounded ring of recent requests with live subscribers.
type Journal struct {
	now       func() time.Time
	identify  func(*http.Request) (string, string)
	done      <-chan struct{} // closed at shutdown: streams end; nil: never
	requestID func(*http.Request, http.ResponseWriter) string
	subBuf    int

	maxBytes int64

	mu sync.Mutex
	// ring holds n entries from start (the oldest), wrapping around
	ring  []Entry
	start int
	n     int
	bytes int64 // entrySize of the kept entries
	seq   uint64
	subs  map[chan Entry]struct{}
	// Dropped counts entries slow subscribers missed.
	dropped uint64
}

// JournalOption configures a Journal.
type JournalOption func(*Journal)

// WithJournalClock sets the clock.
func WithJournalClock(now func() time.Time) JournalOption {
	return func(j *Journal) { j.now = now }
}

// WithJournalDone ends every SSE stream when done closes (server
// shutdown): a stream otherwise lasts as long as its client, and would
// hold the shutdown until its grace period runs out.
func WithJournalDone(done <-chan struct{}) JournalOption {
	return func(j *Journal) { j.done = done }
}

// WithJournalIdentify sets how a request's tenant and client are named
// (the same function as EngineOptions.Identify; it runs once per request
// and the engine reuses its answer).
func WithJournalIdentify(f func(*http.Request) (tenant, clientID string)) JournalOption {
	return func(j *Journal) { j.identify = f }
}

// WithJournalRequestID sets how the request id is found; the default reads
// the X-Request-Id response header an outer middleware has set.
func WithJournalRequestID(f func(*http.Request, http.ResponseWriter) string) JournalOption {
	return func(j *Journal) { j.requestID = f }
}

// WithSubscriberBuffer sets each subscriber's buffer (default 64); a
// subscriber whose buffer is full misses entries rather than slowing
// requests down.
func WithSubscriberBuffer(n int) JournalOption {
	return func(j *Journal) { j.subBuf = max(1, n) }
}

// WithJournalMaxBytes bounds the kept entries' accounted bytes (default
// DefaultJournalBytes): the oldest are dropped past it, so requests with
// large paths or queries keep fewer entries rather than more memory.
func WithJournalMaxBytes(n int64) JournalOption {
	return func(j *Journal) { j.maxBytes = max(1, n) }
}

const (
	// DefaultJournalBytes bounds a journal's entries by their size: 2,000
	// entries of unauthenticated junk reached ~120 MB without it.
	DefaultJournalBytes = 8 << 20
	// MaxEntryField caps each text field an entry keeps (path, query,
	// tenant, client, request id, each fault), in bytes: anyone can send a
	// long URL, nobody needs more of it to recognise the request.
	MaxEntryField = 2 << 10
	// maxEntryFaults caps how many fault names an entry keeps.
	maxEntryFaults = 16
	// entryFixed is an Entry's size besides its strings' bytes.
	entryFixed = int64(unsafe.Sizeof(Entry{}))
)

// truncateField cuts s to MaxEntryField bytes on a rune boundary, marking
// the cut.
func truncateField(s string) string {
	if len(s) <= MaxEntryField {
		return s
	}
	const mark = "...(truncated)"
	cut := MaxEntryField - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}

// capEntry bounds an entry's fields, so one request costs at most a few KB.
func capEntry(e *Entry) {
	e.Method = truncateField(e.Method)
	e.Path = truncateField(e.Path)
	e.Query = truncateField(e.Query)
	e.Tenant = truncateField(e.Tenant)
	e.Client = truncateField(e.Client)
	e.RetryAfter = truncateField(e.RetryAfter)
	e.RequestID = truncateField(e.RequestID)
	if len(e.Faults) > maxEntryFaults {
		e.Faults = e.Faults[:maxEntryFaults]
	}
	for i, f := range e.Faults {
		e.Faults[i] = truncateField(f)
	}
}

// entrySize is what an entry is accounted for: its struct and the bytes
// its strings hold.
func entrySize(e *Entry) int64 {
	n := entryFixed + int64(len(e.Method)+len(e.Path)+len(e.Query)+len(e.Tenant)+len(e.Client)+len(e.RetryAfter)+len(e.RequestID))
	for _, f := range e.Faults {
		n += int64(len(f)) + 16
	}
	return n
}

// NewJournal keeps the last size requests (at least 1), within
// DefaultJournalBytes unless WithJournalMaxBytes says otherwise.
func NewJournal(size int, opts ...JournalOption) *Journal {
	j := &Journal{
		maxBytes: DefaultJournalBytes,
		now:      time.Now,
		identify: func(*http.Request) (string, string) { return "", "" },
		requestID: func(_ *http.Request, w http.ResponseWriter) string {
			return w.Header().Get("X-Request-Id")
		},
		subBuf: 64,
		ring:   make([]Entry, max(1, size)),
		subs:   map[chan Entry]struct{}{},
	}
	for _, o := range opts {
		o(j)
	}
	return j
}

// redacted are query parameters whose values never reach the journal.
var redacted = map[string]bool{
	"access_token": true, "client_secret": true, "code": true, "refresh_token": true,
	"id_token": true, "token": true, "password": true, "client_assertion": true, "assertion": true,
}

// RedactQuery returns the query with secret-bearing values replaced.
func RedactQuery(raw string) string {
	if raw == "" {
		return ""
	}
	q, err := url.ParseQuery(raw)
	if err != nil && len(q) == 0 {
		return "(unparseable query)"
	}
	for k, vs := range q {
		if redacted[strings.ToLower(k)] {
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
	}
	return q.Encode()
}

// Middleware records each request once its response is done (or aborted).
func (j *Journal) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := j.now()
		note := noteFrom(r.Context())
		if note == nil {
			note = &reqNote{}
			r = r.WithContext(withNote(r.Context(), note))
		}
		// A request with a bearer token is identified after it is served:
		// the bearer check has then recorded the verified tenant and
		// client in the note, so the token is parsed once, not twice
		// (only a token that failed the check is read again, unverified).
		// Any other request (a token request's form body is read) is
		// identified now, before its body is consumed.
		if !hasBearer(r) {
			if _, _, ok := note.Identity(); !ok {
				t, c := j.identify(r)
				note.SetIdentity(t, c)
			}
		}
		jw := &journalWriter{ResponseWriter: w}
		completed := false
		defer func() {
			tenant, client, ok := note.Identity()
			if !ok {
				tenant, client = j.identify(r)
				note.SetIdentity(tenant, client)
			}
			id := note.ID
			if id == "" {
				id = j.requestID(r, w)
			}
			e := Entry{
				Time:       start,
				Method:     r.Method,
				Path:       r.URL.Path,
				Query:      RedactQuery(r.URL.RawQuery),
				Tenant:     tenant,
				Client:     client,
				Status:     jw.status,
				LatencyMS:  float64(j.now().Sub(start).Microseconds()) / 1000,
				RetryAfter: jw.retryAfter,
				Faults:     note.Applied(),
				RequestID:  id,
				Bytes:      jw.bytes,
				// a write failed, or the handler gave up (panicked) after
				// the status went out: the client has part of a response
				Cut: jw.err != nil || !completed && jw.status != 0,
			}
			j.add(e)
		}()
		next.ServeHTTP(jw, r)
		completed = true
	})
}

// hasBearer reports whether r carries an Authorization header with the
// Bearer scheme (matched case-insensitively, as the bearer check does).
func hasBearer(r *http.Request) bool {
	for _, v := range r.Header["Authorization"] {
		v = strings.TrimSpace(v)
		if len(v) >= 7 && strings.EqualFold(v[:7], "bearer ") {
			return true
		}
	}
	return false
}

// journalWriter remembers the status; Unwrap keeps Flush and Hijack
// reachable through http.ResponseController.
type journalWriter struct {
	http.ResponseWriter
	status     int
	retryAfter string
	bytes      int64
	err        error // the first failed write: the response was cut
}

func (w *journalWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
		w.retryAfter = retryAfterOf(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *journalWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
		w.retryAfter = retryAfterOf(w.Header())
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Flush is direct so that writers checking for http.Flusher still find it.
func (w *journalWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *journalWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// retryAfterOf is h.Get("Retry-After") without canonicalizing the key
// again.
func retryAfterOf(h http.Header) string {
	if v := h["Retry-After"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (j *Journal) add(e Entry) {
	capEntry(&e)
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq = j.seq
	if j.n == len(j.ring) {
		j.evictOldest()
	}
	j.ring[(j.start+j.n)%len(j.ring)] = e
	j.n++
	j.bytes += entrySize(&e)
	// the newest entry always stays: a capped entry is far below any budget
	for j.bytes > j.maxBytes && j.n > 1 {
		j.evictOldest()
	}
	for ch := range j.subs {
		select {
		case ch <- e:
		default:
			j.dropped++
		}
	}
}

// evictOldest drops the oldest kept entry; j.mu is held.
func (j *Journal) evictOldest() {
	old := &j.ring[j.start]
	j.bytes -= entrySize(old)
	*old = Entry{} // let its strings go
	j.start = (j.start + 1) % len(j.ring)
	j.n--
}

// Bytes is the accounted size of the kept entries, which stays within the
// journal's byte budget.
func (j *Journal) Bytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.bytes
}

// Len is how many entries are kept.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.n
}

// Entries returns the kept entries matching f, oldest first (the newest
// Limit when Limit is set).
func (j *Journal) Entries(f Filter) []Entry {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []Entry
	for i := range j.n {
		e := j.ring[(j.start+i)%len(j.ring)]
		if f.match(&e) {
			e.Faults = slicesClone(e.Faults)
			out = append(out, e)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out
}

// Clear forgets every kept entry. Sequence numbers carry on from where
// they were, so a reader resuming with since=<seq> (or an SSE client's
// Last-Event-ID) still gets exactly the entries recorded after it, and
// live subscribers are left subscribed. The dropped count is about
// subscribers, not the ring, and stays too.
func (j *Journal) Clear() {
	j.mu.Lock()
	defer j.mu.Unlock()
	clear(j.ring) // drop the old entries' fault lists along with them
	j.start, j.n, j.bytes = 0, 0, 0
}

// Dropped is how many entries slow subscribers have missed.
func (j *Journal) Dropped() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dropped
}

// Subscribe streams new entries until ctx ends, then closes the channel.
func (j *Journal) Subscribe(ctx context.Context) <-chan Entry {
	ch := make(chan Entry, j.subBuf)
	j.mu.Lock()
	j.subs[ch] = struct{}{}
	j.mu.Unlock()
	context.AfterFunc(ctx, func() {
		j.mu.Lock()
		delete(j.subs, ch)
		close(ch)
		j.mu.Unlock()
	})
	return ch
}

// ParseFilter reads ?client=&tenant=&since=&limit=: since is an RFC 3339
// time or an entry sequence number.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for k := range q {
		switch k {
		case "client", "tenant", "since", "limit":
		default:
			return f, fmt.Errorf("unknown parameter %q (known: client, tenant, since, limit)", k)
		}
	}
	f.Client = q.Get("client")
	f.Tenant = strings.ToLower(q.Get("tenant"))
	if s := q.Get("since"); s != "" {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil {
			f.AfterSeq = n
		} else if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			f.Since = t
		} else {
			return f, fmt.Errorf("since must be an RFC 3339 time or an entry sequence number, got %q", s)
		}
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			return f, fmt.Errorf("limit must be an integer from 1 to 100000, got %q", s)
		}
		f.Limit = n
	}
	return f, nil
}

func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// Handler serves GET /admin/api/requests as {"entries": [...]}.
func (j *Journal) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		f, err := ParseFilter(r.URL.Query())
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		entries := j.Entries(f)
		if entries == nil {
			entries = []Entry{}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_ = json.NewEncoder(w).Encode(struct {
			Entries []Entry `json:"entries"`
			Dropped uint64  `json:"dropped_by_subscribers"`
		}{entries, j.Dropped()})
	})
}

// SSEHandler serves GET /admin/api/requests/stream as server-sent events
// (event "request", id = seq), filtered like Handler, with a comment line
// every heartbeat so proxies keep the stream open.
func (j *Journal) SSEHandler() http.Handler {
	return j.sseHandler(15 * time.Second)
}

func (j *Journal) sseHandler(heartbeat time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			writeJSONError(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		f, err := ParseFilter(r.URL.Query())
		if err != nil {
			writeJSONError(w, http.StatusBadRequest, err.Error())
			return
		}
		rc := http.NewResponseController(w)
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		ch := j.Subscribe(ctx)
		h := w.Header()
		h.Set("Content-Type", "text/event-stream")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		// Entries since the filter's point first, so a reconnecting
		// inspector misses nothing still in the ring.
		if r.URL.Query().Has("since") {
			for _, e := range j.Entries(f) {
				f.AfterSeq = e.Seq
				if writeEvent(w, e) != nil {
					return
				}
			}
		}
		if rc.Flush() != nil {
			return
		}
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		for {
			select {
			case e, ok := <-ch:
				if !ok {
					return
				}
				if !f.match(&e) {
					continue
				}
				if writeEvent(w, e) != nil || rc.Flush() != nil {
					return
				}
			case <-t.C:
				if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
					return
				}
			case <-ctx.Done():
				return
			case <-j.done:
				return
			}
		}
	})
}

func writeEvent(w http.ResponseWriter, e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "id: %d\nevent: request\ndata: %s\n\n", e.Seq, b)
	return err
}
