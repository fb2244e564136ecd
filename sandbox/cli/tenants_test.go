package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
)

func TestTenantsCommands(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t)
	steps := []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"tenants", "list"}, 0, "synthetic, 10 patients, seed 0"},
		{[]string{"tenants", "add", "{" + strings.ToUpper(cliTenantNew) + "}", "--name", "Northwind", "--patients", "5", "--seed", "3"}, 0, "added tenant " + cliTenantNew + " (Northwind): synthetic, 5 patients, seed 3, up"},
		{[]string{"tenants", "add", cliTenantNew}, 1, "already exists"},
		{[]string{"tenants", "map", cliTenantNew, "--upstream", "https://fhir.example.org/r3"}, 0, "upstream https://fhir.example.org/r3"},
		{[]string{"tenants", "map", cliTenantNew, "--patients", "200", "--seed", "7"}, 0, "synthetic, 200 patients, seed 7"},
		{[]string{"tenants", "map", cliTenantNew, "--down"}, 0, ", down"},
		{[]string{"tenants", "map", cliTenantNew, "--down=false"}, 0, ", up"},
		{[]string{"tenants", "map", cliTenantNew, "--upstream", "https://user:pw@x/fhir"}, 1, "credentials"},
		{[]string{"tenants", "map", cliTenantNew, "--upstream", "https://x", "--patients", "3"}, 2, "not both"},
		{[]string{"tenants", "map", cliTenantNew, "--patients", "1000001"}, 2, "out of range"},
		{[]string{"tenants", "map", cliTenantNew}, 2, "nothing to change"},
		{[]string{"tenants", "map", "not-a-guid", "--down"}, 1, "HTTP 404"},
		{[]string{"tenants", "list"}, 0, cliTenantNew + "  Northwind  synthetic, 200 patients, seed 7"},
	}
	for _, s := range steps {
		code, out, errOut := f.admin(t, s.args...)
		if code != s.code || !strings.Contains(out+errOut, s.out) {
			t.Fatalf("%v: exit %d\nstdout %s\nstderr %s\nwant exit %d and %q", s.args, code, out, errOut, s.code, s.out)
		}
	}
	code, out, _ := f.admin(t, "tenants", "list", "--json")
	var ts []admin.TenantJSON
	if code != 0 || json.Unmarshal([]byte(out), &ts) != nil || len(ts) != 3 || ts[1].Upstream != "https://fhir.example.org/r3" {
		t.Fatalf("list --json: %d %s", code, out)
	}
	if got, _ := f.tenants.Get(cliTenantNew); got.Patients != 200 || got.Seed != 7 || got.Upstream != "" {
		t.Errorf("registry holds %+v", got)
	}
}
