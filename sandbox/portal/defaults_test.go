package portal

import (
	"net/http"
	"strings"
	"testing"

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
	if n := le.journal.Len(); n < 3 {
		t.Fatalf("journal holds %d entries before the clear, want at least 3", n)
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
