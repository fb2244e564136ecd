package admin

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

func tenantRegistry(t *testing.T) *tenant.Registry {
	t.Helper()
	return tenant.NewRegistry(func(tenant.Tenant, string) (*store.Store, error) {
		return store.New(store.Definitions{}, func() time.Time { return t0 }), nil
	})
}

// TestPersistFailureUndoes proves a change is acknowledged only when
// durable: when Persist fails the method fails and the registries are as
// they were.
func TestPersistFailureUndoes(t *testing.T) {
	t.Parallel()
	exp := t0.Add(time.Hour)
	cases := []struct {
		name string
		op   func(s *Impl) error
	}{
		{"create client", func(s *Impl) error { _, _, err := s.CreateClient("x", []string{"*"}); return err }},
		{"delete client", func(s *Impl) error { return s.DeleteClient(seedClient) }},
		{"set tenants", func(s *Impl) error { return s.SetClientTenants(seedClient, []string{tenantB}) }},
		{"add secret", func(s *Impl) error { _, _, err := s.AddSecret(seedClient, nil); return err }},
		{"revoke secret", func(s *Impl) error { return s.RevokeSecret(seedClient, "sec_seed") }},
		{"expire secret", func(s *Impl) error { return s.SetSecretExpiry(seedClient, "sec_seed", &exp) }},
		{"delete secret", func(s *Impl) error { return s.DeleteSecret(seedClient, "sec_seed") }},
		{"add tenant", func(s *Impl) error { _, err := s.AddTenant(tenant.Tenant{ID: tenantNew}); return err }},
		{"update tenant", func(s *Impl) error {
			_, err := s.UpdateTenant(tenantA, func(t *tenant.Tenant) { t.Upstream = "https://x.example/fhir" })
			return err
		}},
		{"remove tenant", func(s *Impl) error { return s.RemoveTenant(tenantB) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			clients, tenants := f.auth.Registry().Snapshot(), f.tenants.List()
			f.persist.setFail(true)
			err := tc.op(f.svc)
			if !errors.Is(err, ErrPersist) {
				t.Fatalf("err = %v, want ErrPersist", err)
			}
			if got := f.auth.Registry().Snapshot(); !reflect.DeepEqual(got, clients) {
				t.Errorf("clients changed:\n%+v\nwant\n%+v", got, clients)
			}
			if got := f.tenants.List(); !reflect.DeepEqual(got, tenants) {
				t.Errorf("tenants changed:\n%+v\nwant\n%+v", got, tenants)
			}
			// The API answers 503 without details.
			f.persist.setFail(true)
			r := f.do(t, "POST", "/admin/api/clients", `{"name":"y"}`)
			if r.status != http.StatusServiceUnavailable || r.errCode() != "not_persisted" {
				t.Errorf("API on persist failure: %d %s", r.status, r.body)
			}
		})
	}
}

func TestUpdateTenantKeepsIDAndFixtures(t *testing.T) {
	t.Parallel()
	treg := tenantRegistry(t)
	if _, err := treg.Add(tenant.Tenant{ID: tenantA, Fixtures: []string{"a.json"}}); err != nil {
		t.Fatal(err)
	}
	svc := New(Options{Clients: newFixture(t).auth.Registry(), Tenants: treg})
	got, err := svc.UpdateTenant(tenantA, func(t *tenant.Tenant) {
		t.ID, t.Fixtures, t.Name = tenantB, []string{"/etc/passwd"}, "renamed"
	})
	if err != nil || got.ID != tenantA || !reflect.DeepEqual(got.Fixtures, []string{"a.json"}) || got.Name != "renamed" {
		t.Fatalf("UpdateTenant = %+v, %v", got, err)
	}
	if _, err := svc.UpdateTenant(tenantA, func(t *tenant.Tenant) { t.Patients = -4 }); !errors.Is(err, ErrInvalid) {
		t.Fatalf("negative patients: %v", err)
	}
	if cur, _ := treg.Get(tenantA); cur.Patients != 0 {
		t.Errorf("an invalid update was applied: %+v", cur)
	}
}

// TestConcurrentChanges runs changes of both kinds in parallel (under
// -race) and checks every change was persisted exactly once.
func TestConcurrentChanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var wg sync.WaitGroup
	const n = 16
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c, _, err := f.svc.CreateClient(fmt.Sprintf("c%d", i), []string{tenantA})
			if err != nil {
				t.Error(err)
				return
			}
			if _, _, err := f.svc.AddSecret(c.ID, nil); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := f.svc.UpdateTenant(tenantB, func(t *tenant.Tenant) { t.Seed++ }); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got, _ := f.tenants.Get(tenantB); got.Seed != n {
		t.Errorf("seed = %d, want %d (lost update)", got.Seed, n)
	}
	if got := len(f.persist.calls()); got != 3*n {
		t.Errorf("%d persist calls, want %d", got, 3*n)
	}
}
