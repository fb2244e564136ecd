package auth

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
)

func newTestRegistry(t *testing.T) (*Registry, *clock) {
	t.Helper()
	c := newClock()
	return NewRegistry(c.Now, &lockedReader{r: rand.NewChaCha8([32]byte{1})}), c
}

func TestCreateClientAndAuthenticate(t *testing.T) {
	t.Parallel()
	reg, clk := newTestRegistry(t)
	c, plain, err := reg.CreateClient("Teams Patients app", []string{"{" + strings.ToUpper(tenantA) + "}", tenantA, "*"})
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(c.ID) {
		t.Errorf("client id %q is not a v4 UUID", c.ID)
	}
	if got := strings.Join(c.Tenants, ","); got != tenantA+",*" {
		t.Errorf("tenants %q, want canonical and deduplicated", got)
	}
	raw, err := base64.RawURLEncoding.DecodeString(plain)
	if err != nil || len(raw) != 32 {
		t.Errorf("secret %q is not 256 bits of base64url: %v", plain, err)
	}
	s := c.Secrets[0]
	if s.Digest != sha256.Sum256([]byte(plain)) || s.Hint != plain[len(plain)-4:] || !regexp.MustCompile(`^sec_[0-9a-f]{8}$`).MatchString(s.ID) || !s.Created.Equal(clk.Now()) {
		t.Errorf("secret = %+v", s)
	}
	gc, gs, err := reg.Authenticate(c.ID, plain)
	if err != nil || gc.ID != c.ID || gs.ID != s.ID {
		t.Fatalf("Authenticate = %v, %v, %v", gc, gs, err)
	}
	for name, args := range map[string][2]string{
		"wrong secret":   {c.ID, plain + "x"},
		"empty secret":   {c.ID, ""},
		"unknown client": {"ghost", plain},
		"empty client":   {"", plain},
	} {
		if _, _, err := reg.Authenticate(args[0], args[1]); !errors.Is(err, ErrInvalidClient) {
			t.Errorf("%s: err = %v, want ErrInvalidClient", name, err)
		}
	}
	// Returned values are copies.
	c.Tenants[0] = tenantB
	c.Secrets[0].Revoked = true
	if again, _ := reg.Client(c.ID); again.Tenants[0] != tenantA || again.Secrets[0].Revoked {
		t.Error("mutating a returned client changed the registry")
	}
	if _, _, err := reg.CreateClient("", nil); err == nil {
		t.Error("empty name accepted")
	}
	if _, _, err := reg.CreateClient("x\x00y", nil); err == nil {
		t.Error("control character in name accepted")
	}
	if _, _, err := reg.CreateClient("x", []string{"not-a-guid"}); err == nil {
		t.Error("bad tenant accepted")
	}
}

func TestRegistrySecretsLifecycle(t *testing.T) {
	t.Parallel()
	reg, clk := newTestRegistry(t)
	c, first, err := reg.CreateClient("app", []string{tenantA})
	if err != nil {
		t.Fatal(err)
	}
	exp := clk.Now().Add(time.Hour)
	s2, second, err := reg.AddSecret(c.ID, &exp)
	if err != nil {
		t.Fatal(err)
	}
	exp = exp.Add(time.Hour) // the registry keeps its own copy
	for _, p := range []string{first, second} {
		if _, _, err := reg.Authenticate(c.ID, p); err != nil {
			t.Fatalf("secret %s: %v", p[:4], err)
		}
	}
	clk.Advance(time.Hour)
	if _, _, err := reg.Authenticate(c.ID, second); !errors.Is(err, ErrSecretExpired) {
		t.Errorf("at expiry: %v, want ErrSecretExpired", err)
	}
	if err := reg.RevokeSecret(c.ID, c.Secrets[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Authenticate(c.ID, first); !errors.Is(err, ErrSecretRevoked) || !errors.Is(err, ErrInvalidClient) {
		t.Errorf("revoked: %v", err)
	}
	got, _ := reg.Client(c.ID)
	if !got.Secrets[0].Revoked || !got.Secrets[0].RevokedAt.Equal(clk.Now()) {
		t.Errorf("revoked secret = %+v", got.Secrets[0])
	}
	for name, err := range map[string]error{
		"revoke unknown secret": reg.RevokeSecret(c.ID, "sec_nope"),
		"expire unknown client": reg.SetSecretExpiry("ghost", s2.ID, nil),
		"delete unknown secret": reg.DeleteSecret(c.ID, "sec_nope"),
		"tenants unknown":       reg.SetTenants("ghost", nil),
		"delete unknown client": reg.DeleteClient("ghost"),
	} {
		if !errors.Is(err, ErrNoSecret) && !errors.Is(err, ErrNoClient) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for i := len(got.Secrets); i < MaxSecretsPerClient; i++ {
		if _, _, err := reg.AddSecret(c.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := reg.AddSecret(c.ID, nil); !errors.Is(err, ErrTooMany) {
		t.Errorf("secret %d: %v, want ErrTooMany", MaxSecretsPerClient+1, err)
	}
	if err := reg.DeleteSecret(c.ID, s2.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.AddSecret(c.ID, nil); err != nil {
		t.Errorf("after deleting one: %v", err)
	}
	if err := reg.DeleteClient(c.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg.Authenticate(c.ID, first); !errors.Is(err, ErrInvalidClient) {
		t.Errorf("deleted client: %v", err)
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	reg, _ := newTestRegistry(t)
	plain := "seeded-secret-value-0123"
	sum := sha256.Sum256([]byte(plain))
	err := reg.Seed([]ClientSpec{
		{ID: "b", Name: "B", Tenants: []string{tenantB}, Secrets: []SecretSpec{{ValueSHA256: strings.ToUpper(hex.EncodeToString(sum[:]))}}},
		{ID: "a", Tenants: []string{"{" + strings.ToUpper(tenantA) + "}"}, Secrets: []SecretSpec{{ID: "sec_fixed", Value: plain}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cs := reg.Clients()
	if len(cs) != 2 || cs[0].ID != "a" || cs[1].ID != "b" || cs[0].Name != "a" || cs[0].Tenants[0] != tenantA || cs[0].Secrets[0].ID != "sec_fixed" || cs[1].Secrets[0].Hint != "" {
		t.Errorf("clients = %+v", cs)
	}
	for _, id := range []string{"a", "b"} {
		if _, _, err := reg.Authenticate(id, plain); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	// Every problem is reported, and nothing is added.
	err = reg.Seed([]ClientSpec{
		{ID: "c", Secrets: []SecretSpec{{Value: plain, ValueSHA256: hex.EncodeToString(sum[:])}}},
		{ID: "d", Secrets: []SecretSpec{{}}},
		{ID: "e", Tenants: []string{"nope"}},
		{ID: "bad id"},
		{ID: "f", Secrets: []SecretSpec{{ValueSHA256: "abc"}}},
		{ID: "g", Secrets: []SecretSpec{{Value: "short"}}},
		{ID: "h"}, {ID: "h"},
		{ID: "a"},
	})
	if err == nil {
		t.Fatal("bad specs accepted")
	}
	for _, want := range []string{"clients[0]", "clients[1]", "clients[2]", "clients[3]", "clients[4]", "clients[5]", "clients[7]: duplicate", `"a" already registered`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q:\n%v", want, err)
		}
	}
	if n := len(reg.Clients()); n != 2 {
		t.Errorf("%d clients after a failed seed, want 2", n)
	}
}

func TestSnapshotRestore(t *testing.T) {
	t.Parallel()
	reg, clk := newTestRegistry(t)
	c, plain, err := reg.CreateClient("app", []string{tenantA, "*"})
	if err != nil {
		t.Fatal(err)
	}
	exp := clk.Now().Add(time.Hour)
	s2, plain2, _ := reg.AddSecret(c.ID, &exp)
	_ = reg.RevokeSecret(c.ID, c.Secrets[0].ID)
	st := reg.Snapshot()
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(plain)) || bytes.Contains(b, []byte(plain2)) {
		t.Fatal("snapshot holds a plaintext secret")
	}
	var back State
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	reg2, _ := newTestRegistry(t)
	if err := reg2.Restore(back); err != nil {
		t.Fatal(err)
	}
	if _, _, err := reg2.Authenticate(c.ID, plain2); err != nil {
		t.Errorf("restored live secret: %v", err)
	}
	if _, _, err := reg2.Authenticate(c.ID, plain); !errors.Is(err, ErrSecretRevoked) {
		t.Errorf("restored revoked secret: %v", err)
	}
	got, _ := reg2.Client(c.ID)
	if got.Secrets[1].ID != s2.ID || !got.Secrets[1].Expires.Equal(exp) || got.Secrets[1].Hint != plain2[len(plain2)-4:] || !got.Secrets[0].RevokedAt.Equal(clk.Now()) {
		t.Errorf("restored client = %+v", got)
	}
	if b2, _ := json.Marshal(reg2.Snapshot()); !bytes.Equal(b, b2) {
		t.Errorf("snapshot does not round-trip:\n%s\n%s", b, b2)
	}
	for name, mut := range map[string]func(*State){
		"bad digest":       func(s *State) { s.Clients[0].Secrets[0].SHA256 = "zz" },
		"bad tenant":       func(s *State) { s.Clients[0].Tenants = []string{"x"} },
		"duplicate client": func(s *State) { s.Clients = append(s.Clients, s.Clients[0]) },
		"duplicate secret": func(s *State) { s.Clients[0].Secrets[1].ID = s.Clients[0].Secrets[0].ID },
		"bad client id":    func(s *State) { s.Clients[0].ID = "a b" },
		"long hint":        func(s *State) { s.Clients[0].Secrets[0].Hint = "12345" },
	} {
		var bad State
		_ = json.Unmarshal(b, &bad)
		mut(&bad)
		if err := reg2.Restore(bad); err == nil {
			t.Errorf("%s: restored", name)
		}
		if _, _, err := reg2.Authenticate(c.ID, plain2); err != nil {
			t.Errorf("%s: failed restore changed the registry: %v", name, err)
		}
	}
}
