package state

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
)

// TestRevocationsKeptUntilExpired: revocation records load in order, and
// compaction keeps those whose Until is still ahead and drops the rest.
func TestRevocationsKeptUntilExpired(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "s.state")
	j, err := Open(path, WithNow(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	revs := []auth.Revocation{
		{JTI: "expired", Until: now.Add(-time.Second)},
		{JTI: "live", Until: now.Add(time.Hour)},
		{MinGen: 42, Until: now.Add(time.Minute)},
		{MinGen: 7, Until: now},
	}
	hook := RevocationHook(j)
	for _, r := range revs {
		if err := hook(r); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := j.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Revoked) != len(revs) {
		t.Fatalf("loaded %d revocations, want %d: %+v", len(snap.Revoked), len(revs), snap.Revoked)
	}
	for i, r := range snap.Revoked {
		if r.JTI != revs[i].JTI || r.MinGen != revs[i].MinGen || !r.Until.Equal(revs[i].Until) {
			t.Errorf("revocation %d: %+v, want %+v", i, r, revs[i])
		}
	}
	if err := j.Compact(nil); err != nil {
		t.Fatal(err)
	}
	snap, err = j.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []auth.Revocation
	for _, r := range revs {
		if now.Before(r.Until) {
			want = append(want, r)
		}
	}
	if len(snap.Revoked) != len(want) {
		t.Fatalf("after compaction: %+v, want %+v", snap.Revoked, want)
	}
	for i, r := range snap.Revoked {
		if r.JTI != want[i].JTI || r.MinGen != want[i].MinGen {
			t.Errorf("after compaction %d: %+v, want %+v", i, r, want[i])
		}
	}
	// a malformed revocation is refused, not journalled
	for _, bad := range []auth.Revocation{{Until: now}, {JTI: "x", MinGen: 1, Until: now}, {JTI: "x"}} {
		if err := hook(bad); err == nil {
			t.Errorf("revocation %+v accepted", bad)
		}
	}
}
