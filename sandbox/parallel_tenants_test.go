package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestParallelCrossTenantWrites is reliability checklist 38: under -race,
// writers and readers of three tenants work in parallel over real HTTP
// through the real stores and state journal while tokens are minted, a
// client secret rotates and the signing key rotates (old keys retired, so
// callers meet 401 and mint again). No response ever carries another
// tenant's resource, and at the end each tenant holds exactly its own
// acknowledged writes.
func TestParallelCrossTenantWrites(t *testing.T) {
	t.Parallel()
	const third = "0b5e7c1a-2d3f-4a6b-9c8d-7e6f5a4b3c2d"
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 2, 2
	cfg.Tenants = append(cfg.Tenants, TenantConfig{ID: third, Name: "Third Clinic", Patients: 2, Seed: 3})
	cfg.Auth.SigningAlg = "ES256" // key rotation is cheap enough to repeat
	cfg.Admin.Token = "admin-token-for-parallel-tenants"
	cfg.StateFile = filepath.Join(t.TempDir(), "sandbox.state")
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)

	tenants := []string{ContosoTenant, FabrikamTenant, third}
	tag := func(i int) string { return fmt.Sprintf("Zzparallel%c", 'a'+i) } // a family name per tenant
	mint := func(tenant, secret string) (string, int) {
		res, err := http.PostForm(srv.URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {DefaultClientID}, "client_secret": {secret}, "scope": {tenant}})
		if err != nil {
			t.Error(err)
			return "", 0
		}
		defer res.Body.Close()
		var b struct {
			AccessToken string `json:"access_token"`
		}
		_ = json.NewDecoder(res.Body).Decode(&b)
		return b.AccessToken, res.StatusCode
	}
	do := func(method, path, token, body string) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if body != "" {
			req.Header.Set("Content-Type", "application/fhir+json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	// foreign reports a body that carries another tenant's family name
	foreign := func(own int, body string) string {
		for i := range tenants {
			if i != own && strings.Contains(body, tag(i)) {
				return tag(i)
			}
		}
		return ""
	}

	var stop atomic.Bool
	var bg sync.WaitGroup
	// the signing key rotates, and the key before the last is retired
	bg.Go(func() {
		for !stop.Load() {
			published, _ := s.auth.Keys()
			if err := (controls{s}).RotateSigningKey(false); err != nil {
				t.Errorf("rotate key: %v", err)
				return
			}
			if len(published) >= 2 {
				if err := s.auth.RetireKey(published[0]); err != nil {
					t.Errorf("retire key: %v", err)
					return
				}
			}
			time.Sleep(100 * time.Millisecond) // tokens live a few rotations
		}
	})
	// a second secret is added, used, revoked and deleted, over and over
	// (not tried once revoked: failures would get the client throttled)
	bg.Go(func() {
		admin := func(method, path, body string) (int, string) {
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return 0, ""
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		for i := 0; !stop.Load(); i++ {
			st, b := admin("POST", "/admin/api/clients/"+DefaultClientID+"/secrets", "")
			var sec struct {
				ID    string `json:"id"`
				Value string `json:"value"`
			}
			if st != 201 || json.Unmarshal([]byte(b), &sec) != nil || sec.Value == "" {
				t.Errorf("add secret: %d %s", st, b)
				return
			}
			if _, st := mint(tenants[i%len(tenants)], sec.Value); st != 200 {
				t.Errorf("token with the new secret: %d", st)
			}
			if st, b := admin("POST", "/admin/api/clients/"+DefaultClientID+"/secrets/"+sec.ID+"/revoke", ""); st != 200 {
				t.Errorf("revoke secret: %d %s", st, b)
				return
			}
			if st, b := admin("DELETE", "/admin/api/clients/"+DefaultClientID+"/secrets/"+sec.ID, ""); st != 204 {
				t.Errorf("delete secret: %d %s", st, b)
				return
			}
		}
	})

	const writers, writes = 3, 20
	acked := make([]atomic.Int64, len(tenants))
	var work sync.WaitGroup
	for ti, tenant := range tenants {
		for g := range writers {
			work.Go(func() {
				token, _ := mint(tenant, "change-me-dev-secret")
				// call retries with a fresh token when a retired key made
				// the last one invalid
				call := func(method, path, body string) (int, string) {
					st, b := do(method, path, token, body)
					for try := 0; st == 401 && try < 3; try++ {
						token, _ = mint(tenant, "change-me-dev-secret")
						st, b = do(method, path, token, body)
					}
					return st, b
				}
				for i := range writes {
					id := fmt.Sprintf("par-%d-%d-%d", ti, g, i)
					st, b := call("PUT", "/r4/Patient/"+id, `{"resourceType":"Patient","id":"`+id+`","name":[{"family":"`+tag(ti)+`"}]}`)
					if st == 201 {
						acked[ti].Add(1)
					} else if st != 401 {
						t.Errorf("tenant %d PUT %s: %d %.200s", ti, id, st, b)
					}
					// its own write, and another tenant's id at the same place
					if st, b := call("GET", "/r4/Patient/"+id, ""); st == 200 && (!strings.Contains(b, tag(ti)) || foreign(ti, b) != "") {
						t.Errorf("tenant %d read its %s: %.300s", ti, id, b)
					}
					other := fmt.Sprintf("par-%d-%d-%d", (ti+1)%len(tenants), g, i)
					if st, b := call("GET", "/r4/Patient/"+other, ""); st == 200 || foreign(ti, b) != "" {
						t.Errorf("tenant %d read another tenant's %s: %d %.300s", ti, other, st, b)
					}
					if st, b := call("GET", "/r4/Patient?_count=100&family=zzparallel", ""); st == 200 && foreign(ti, b) != "" {
						t.Errorf("tenant %d search found %s's patients: %.300s", ti, foreign(ti, b), b)
					}
				}
			})
		}
	}
	work.Wait()
	stop.Store(true)
	bg.Wait()

	// each tenant holds exactly its acknowledged writes, and no other's
	for ti, tenant := range tenants {
		token, st := mint(tenant, "change-me-dev-secret")
		if st != 200 {
			t.Fatalf("token: %d", st)
		}
		for oi := range tenants {
			st, b := do("GET", "/r4/Patient?_summary=count&family="+tag(oi), token, "")
			want := int64(0)
			if oi == ti {
				want = acked[ti].Load()
			}
			if st != 200 || !strings.Contains(b, fmt.Sprintf(`"total":%d`, want)) {
				t.Errorf("tenant %d holds patients of tenant %d: %d %.300s, want total %d", ti, oi, st, b, want)
			}
		}
		if acked[ti].Load() < writers*writes/2 {
			t.Errorf("tenant %d: only %d of %d writes acknowledged", ti, acked[ti].Load(), writers*writes)
		}
	}
}
