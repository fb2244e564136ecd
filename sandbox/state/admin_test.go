package state

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
)

// TestAdminTokenKept: the admin token's digest survives reopening and
// compaction, the last one journalled wins, and a malformed admin record
// is damage.
func TestAdminTokenKept(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "s")
	j, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	first, second := sha256.Sum256([]byte("first-token")), sha256.Sum256([]byte("second-token"))
	for _, d := range [][32]byte{first, second} {
		if err := j.SetAdminToken(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Compact(nil); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(data), `"kind":"admin"`); n != 1 {
		t.Errorf("compacted journal holds %d admin records, want 1:\n%s", n, data)
	}
	j, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := j.Load(nil)
	j.Close()
	if err != nil || snap.AdminTokenSHA256 != hex.EncodeToString(second[:]) {
		t.Fatalf("after reopening: %q, %v; want the second digest", snap.AdminTokenSHA256, err)
	}

	empty := auth.State{} // a client state, where an admin record must carry none
	for _, bad := range []Record{
		{Kind: KindAdmin, AdminTokenSHA256: "not-hex"},
		{Kind: KindAdmin, AdminTokenSHA256: strings.ToUpper(hex.EncodeToString(first[:]))},
		{Kind: KindAdmin, AdminTokenSHA256: hex.EncodeToString(first[:]), Tenants: nil, Clients: &empty},
		{Kind: KindClients, Clients: &empty, AdminTokenSHA256: hex.EncodeToString(first[:])},
	} {
		if _, err := encode(bad); err == nil {
			t.Errorf("record %+v encoded", bad)
		}
	}
	if _, err := decode([]byte(`{"kind":"admin","admin":{"token_sha256":"abc"}}`)); err == nil {
		t.Error("an admin record with a short digest decoded")
	}
}
