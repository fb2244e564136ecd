package cli

import (
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

func tenantsCommand() *ucli.Command {
	return adminCommand(&ucli.Command{
		Name:  "tenants",
		Usage: "list, add, map and remove the tenants of a running sandbox",
		Description: `Calls the admin API of a running sandbox (--url, default ` + defaultURL + `)
with the admin token (--admin-token or FHIRSANDBOX_ADMIN_TOKEN). A tenant
is an Azure AD tenant GUID mapped to a synthetic hospital (--patients,
--seed) or to a real FHIR server (--upstream). Changing a tenant's
population or seed rebuilds its hospital: resources written to it are lost.
A tenant added without --patients or --seed gets the sandbox's
tenant_defaults (100 patients, seed 42 unless its config says otherwise).

Examples:
  fhirsandbox tenants list
  fhirsandbox tenants add 00000000-1111-4222-8333-444444444444 --name Northwind --patients 50
  fhirsandbox tenants map 00000000-1111-4222-8333-444444444444 --upstream https://fhir.example.org/r3
  fhirsandbox tenants map 00000000-1111-4222-8333-444444444444 --patients 200 --seed 7
  fhirsandbox tenants remove 00000000-1111-4222-8333-444444444444`,
		Subcommands: []*ucli.Command{
			{Name: "list", Usage: "list tenants and what serves them", ArgsUsage: " ", Action: tenantsList},
			{
				Name: "add", Usage: "map a new tenant GUID", ArgsUsage: "GUID",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "upstream", Usage: "base `URL` of a real FHIR server to proxy to"},
					&ucli.IntFlag{Name: "patients", Usage: "synthetic patients `N`, 0 to 1000000", DefaultText: "the sandbox's tenant_defaults.patients, 100 unless configured"},
					&ucli.Int64Flag{Name: "seed", Usage: "random seed `S` of the synthetic hospital", DefaultText: "the sandbox's tenant_defaults.seed, 42 unless configured"},
					&ucli.StringFlag{Name: "name", Usage: "display `NAME` of the tenant"},
				},
				Action: tenantsAdd,
			},
			{
				Name: "map", Usage: "map a tenant to an upstream server or to a synthetic hospital", ArgsUsage: "GUID",
				Flags: append(tenantFlags(),
					&ucli.StringFlag{Name: "name", Usage: "new display `NAME`"},
					&ucli.BoolFlag{Name: "down", Usage: "answer every FHIR request of the tenant with 503 (--down=false to restore)", DisableDefaultText: true},
				),
				Action: tenantsMap,
			},
			{Name: "remove", Usage: "remove a tenant; its tokens stop working and its data is dropped", ArgsUsage: "GUID", Action: tenantsRemove},
		},
	}, adminFlags)
}

func tenantFlags() []ucli.Flag {
	return []ucli.Flag{
		&ucli.StringFlag{Name: "upstream", Usage: "base `URL` of a real FHIR server to proxy to"},
		&ucli.IntFlag{Name: "patients", Usage: "synthetic patients `N`, 0 to 1000000"},
		&ucli.Int64Flag{Name: "seed", Usage: "random seed `S` of the synthetic hospital"},
	}
}

func tenantsList(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	var ts []admin.TenantJSON
	raw, err := ac.call(c.Context, "GET", "/admin/api/tenants", nil, &ts)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tNAME\tBACKEND\tSTATUS")
	for _, t := range ts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, oneLine(t.Name), backend(t), status(t))
	}
	return tw.Flush()
}

func backend(t admin.TenantJSON) string {
	if t.Upstream != "" {
		return "upstream " + t.Upstream
	}
	return fmt.Sprintf("synthetic, %d patients, seed %d", t.Patients, t.Seed)
}

func status(t admin.TenantJSON) string {
	if t.Down {
		return "down"
	}
	return "up"
}

func printTenant(w io.Writer, verb string, t admin.TenantJSON) {
	fmt.Fprintf(w, "%s tenant %s (%s): %s, %s\n", verb, t.ID, oneLine(t.Name), backend(t), status(t))
}

// checkMapping rejects flags that map a tenant two ways at once.
func checkMapping(c *ucli.Context) error {
	if c.IsSet("upstream") && c.String("upstream") != "" && (c.IsSet("patients") || c.IsSet("seed")) {
		return usagef("%s: give --upstream or --patients/--seed, not both", c.Command.Name)
	}
	if n := c.Int("patients"); n < 0 || n > spec.MaxPatients {
		return usagef("--patients: %d is out of range (want 0 to %d)", n, spec.MaxPatients)
	}
	return nil
}

// ifSet returns a pointer to the value of flag name, or nil when the
// flag was not given, for request fields that are sent only when set.
func ifSet[T any](c *ucli.Context, name string, get func(string) T) *T {
	if !c.IsSet(name) {
		return nil
	}
	v := get(name)
	return &v
}

func tenantsAdd(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "GUID"); err != nil {
		return err
	}
	if err := checkMapping(c); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	// patients and seed go only when given: the sandbox fills in its
	// tenant_defaults for those left out
	req := struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Upstream string `json:"upstream,omitempty"`
		Patients *int   `json:"patients,omitempty"`
		Seed     *int64 `json:"seed,omitempty"`
	}{
		ID: args[0], Name: c.String("name"), Upstream: c.String("upstream"),
		Patients: ifSet(c, "patients", c.Int), Seed: ifSet(c, "seed", c.Int64),
	}
	var t admin.TenantJSON
	raw, err := ac.call(c.Context, "POST", "/admin/api/tenants", req, &t)
	if err != nil {
		return fmt.Errorf("add tenant: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	printTenant(c.App.Writer, "added", t)
	return nil
}

func tenantsMap(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "GUID"); err != nil {
		return err
	}
	if err := checkMapping(c); err != nil {
		return err
	}
	req := admin.PatchTenantRequest{
		Upstream: ifSet(c, "upstream", c.String),
		Patients: ifSet(c, "patients", c.Int),
		Seed:     ifSet(c, "seed", c.Int64),
		Name:     ifSet(c, "name", c.String),
		Down:     ifSet(c, "down", c.Bool),
	}
	if req == (admin.PatchTenantRequest{}) {
		return usagef("map: nothing to change: give --upstream URL, or --patients N [--seed S], or --name, --down")
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	var t admin.TenantJSON
	raw, err := ac.call(c.Context, "PATCH", "/admin/api/tenants/"+url.PathEscape(args[0]), req, &t)
	if err != nil {
		return fmt.Errorf("map tenant %s: %w", args[0], err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	printTenant(c.App.Writer, "mapped", t)
	return nil
}

func tenantsRemove(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "GUID"); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	if _, err := ac.call(c.Context, "DELETE", "/admin/api/tenants/"+url.PathEscape(args[0]), nil, nil); err != nil {
		return fmt.Errorf("remove tenant %s: %w", args[0], err)
	}
	if c.Bool("json") {
		fmt.Fprintln(c.App.Writer, `{"removed":true}`)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "removed tenant %s\n", args[0])
	return nil
}
