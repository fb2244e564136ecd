package state

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// A write's fsync runs outside the store's lock: reads of the tenant go on
// while it sleeps, and the write is answered only once it has returned.
func TestWriteSyncOutsideStoreLock(t *testing.T) {
	const slow = 50 * time.Millisecond
	var syncing, synced atomic.Int32
	started := make(chan struct{}, 16)
	j, err := Open(filepath.Join(t.TempDir(), "s"), WithSync(func(f *os.File) error {
		syncing.Add(1)
		started <- struct{}{}
		time.Sleep(slow)
		synced.Add(1)
		return f.Sync()
	}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })

	v := fhir.R4{}
	now := func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }
	st := store.New(v.SearchParams(), now)
	if _, err := st.Put([]byte(`{"resourceType":"Patient","id":"p0"}`), "p0", now()); err != nil {
		t.Fatal(err)
	}
	st.SetWriteHook(WriteHook(j, tenantA, "r4"))
	api := fhir.NewAPI(fhir.Options{
		Version: v,
		Store:   func(*http.Request) (*store.Store, *fhir.Error) { return st, nil },
		Base:    func(r *http.Request) string { return "http://" + r.Host },
		Now:     now,
		NewID:   func() string { return "x" },
	})
	mux := http.NewServeMux()
	mux.Handle(api.Prefix()+"/", api)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	base := srv.URL + api.Prefix()

	type answer struct {
		status      int
		syncedAtAck int32
	}
	done := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPut, base+"/Patient/p1", strings.NewReader(`{"resourceType":"Patient","id":"p1"}`))
		req.Header.Set("Content-Type", "application/fhir+json")
		res, err := srv.Client().Do(req)
		if err != nil {
			done <- answer{}
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		done <- answer{res.StatusCode, synced.Load()}
	}()
	<-started // the write's record is in the file, its fsync sleeping

	const reads = 10
	t0 := time.Now()
	for range reads {
		res, err := srv.Client().Get(base + "/Patient/p0")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("read: status %d", res.StatusCode)
		}
	}
	elapsed := time.Since(t0)
	inSync := synced.Load() == 0
	t.Logf("%d reads in %v while a %v fsync ran (reads done before it returned: %v)", reads, elapsed, slow, inSync)
	if !inSync {
		t.Errorf("%d reads waited for the write's fsync (%v)", reads, elapsed)
	}

	a := <-done
	if a.status != http.StatusCreated && a.status != http.StatusOK {
		t.Fatalf("write: status %d", a.status)
	}
	if a.syncedAtAck < 1 {
		t.Errorf("write answered before its fsync returned")
	}
	// the record is there after a reopen
	j.Close()
	snap, err := open(t, j.path).Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Writes) != 1 || snap.Writes[0].Ops[0].ID != "p1" || !snap.Writes[0].At.Equal(now()) {
		t.Errorf("journal writes %+v", snap.Writes)
	}
}

// Writers arriving while an fsync runs share the next one, and a failed
// fsync refuses every later record.
func TestCommitGroupsAndFailureSticks(t *testing.T) {
	var syncs atomic.Int32
	fail := atomic.Bool{}
	j, err := Open(filepath.Join(t.TempDir(), "s"), WithSync(func(f *os.File) error {
		syncs.Add(1)
		time.Sleep(20 * time.Millisecond)
		if fail.Load() {
			return os.ErrInvalid
		}
		return f.Sync()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	const writers = 20
	errs := make(chan error, writers)
	for i := range writers {
		go func() { errs <- j.Append(writesRec(tenantA, "p"+string(rune('a'+i)), false)) }()
	}
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d appends, %d fsyncs", writers, syncs.Load())
	if n := syncs.Load(); n >= writers {
		t.Errorf("%d fsyncs for %d concurrent appends: not grouped", n, writers)
	}
	fail.Store(true)
	if err := j.Append(writesRec(tenantA, "q", false)); err == nil {
		t.Fatal("append with a failing fsync succeeded")
	}
	fail.Store(false)
	if err := j.Append(writesRec(tenantA, "r", false)); err == nil {
		t.Error("append after a failed fsync succeeded")
	}
}

// A compaction waits for a running fsync instead of replacing the file
// under it, and keeps the record that fsync is making durable.
func TestCompactWaitsForSync(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	var slow atomic.Bool
	slow.Store(true)
	j, err := Open(filepath.Join(t.TempDir(), "s"), WithSync(func(f *os.File) error {
		if slow.Load() {
			started <- struct{}{}
			<-release
		}
		return f.Sync()
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	appended := make(chan error, 1)
	go func() { appended <- j.Append(writesRec(tenantA, "p1", false)) }()
	<-started
	slow.Store(false)
	compacted := make(chan error, 1)
	go func() { compacted <- j.Compact(nil) }()
	select {
	case err := <-compacted:
		t.Fatalf("compaction ran during an fsync (err %v)", err)
	case <-time.After(30 * time.Millisecond):
	}
	close(release)
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
	if err := <-compacted; err != nil {
		t.Fatal(err)
	}
	snap, err := j.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Writes) != 1 || snap.Writes[0].Ops[0].ID != "p1" {
		t.Errorf("journal writes after compaction %+v", snap.Writes)
	}
}
