package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

// TestCreateClientWithoutTenantsGetsEveryTenant: the portal's form with no
// tenant ticked makes a client of every tenant, the default the CLI and the
// admin API give too (they all go through admin.Service.CreateClient).
func TestCreateClientWithoutTenantsGetsEveryTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.signIn()
	id, secret := e.createClient("No tenants ticked")
	c, ok := e.svc.Client(id)
	if !ok || len(c.Tenants) != 1 || c.Tenants[0] != "*" {
		t.Fatalf("client tenants %v, want [*]", c.Tenants)
	}
	for _, tn := range []string{tenantA, tenantB} {
		if code, errc := e.token(id, secret, tn); code != http.StatusOK {
			t.Errorf("token for tenant %s: %d %s, want 200", tn, code, errc)
		}
	}
}

// TestClearRequests: the Requests page's Clear button empties the journal
// the page shows, and the page says so.
func TestClearRequests(t *testing.T) {
	t.Parallel()
	le := newLiveEnv(t, DefaultHeartbeat)
	le.signIn()
	for range 3 {
		if code := le.fhirGet("/stu3/Patient?family=x"); code != http.StatusOK {
			t.Fatalf("FHIR request: %d", code)
		}
	}
	// an entry is added once its response is written, which the client
	// may see first: wait for the three, so none lands after the clear
	for deadline := time.Now().Add(10 * time.Second); le.journal.Len() < 3; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("journal holds %d entries before the clear, want 3", le.journal.Len())
		}
	}
	page := le.follow(le.post("/portal/requests/clear", nil), "/portal/requests")
	if page.status != http.StatusOK || !strings.Contains(page.body, "request journal was cleared") {
		t.Fatalf("after clear: %d\n%s", page.status, clipBody(page.body))
	}
	if strings.Contains(page.body, "family=x") {
		t.Error("the cleared requests are still listed")
	}
	// the page's own request is not journalled (the portal is left out),
	// so nothing is left
	for _, e := range le.journal.Entries(scenario.Filter{}) {
		if strings.Contains(e.Query, "family=x") {
			t.Errorf("journal still holds %s?%s", e.Path, e.Query)
		}
	}
}

// TestAddTenantDefaults: the add-tenant form starts with the sandbox's
// tenant defaults, and a synthetic tenant whose form leaves patients and
// seed empty gets them (as the CLI and the admin API do).
func TestAddTenantDefaults(t *testing.T) {
	t.Parallel()
	defaults := TenantDefaults{Patients: 23, Seed: 4567}
	e := newEnvWith(t, envConfig{options: func(o *Options) { o.TenantDefaults = &defaults }})
	e.signIn()
	page := e.want(e.get("/portal/"), http.StatusOK)
	for _, want := range []string{`name="patients" type="number" min="0" max="1000000" value="23"`, `name="seed" type="number" value="4567"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("add-tenant form lacks %s", want)
		}
	}
	const id = "0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
	e.want(e.post("/portal/tenants", url.Values{"id": {id}, "name": {"Northwind"}, "backend": {"synthetic"}, "patients": {""}, "seed": {""}}), http.StatusSeeOther)
	got, ok := e.tenants.Get(id)
	if !ok || got.Patients != defaults.Patients || got.Seed != defaults.Seed {
		t.Fatalf("tenant %+v, want %d patients and seed %d", got, defaults.Patients, defaults.Seed)
	}
	const id2 = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
	e.want(e.post("/portal/tenants", url.Values{"id": {id2}, "name": {"Zero"}, "backend": {"synthetic"}, "patients": {"0"}, "seed": {"9"}}), http.StatusSeeOther)
	if got, _ := e.tenants.Get(id2); got.Patients != 0 || got.Seed != 9 {
		t.Errorf("tenant with patients 0 seed 9: %+v", got)
	}
}
