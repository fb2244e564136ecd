package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

const (
	cliTenantA    = "2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c"
	cliTenantB    = "7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d"
	cliTenantNew  = "00000000-1111-4222-8333-444444444444"
	cliAdminToken = "cli-admin-token-0123456789"
	cliClient     = "teams-app"
	cliSecret     = "teams-secret-0123456789abcdef"
)

// sandboxFixture is a running admin API and token endpoint over real
// registries, as serve mounts them.
type sandboxFixture struct {
	url     string
	auth    *auth.Authority
	tenants *tenant.Registry
}

func newSandboxFixture(t *testing.T) *sandboxFixture {
	t.Helper()
	now := time.Now // the token endpoint and the CLI's --expires share real time
	treg := tenant.NewRegistry(func(tenant.Tenant, string) (*store.Store, error) {
		return store.New(store.Definitions{}, now), nil
	})
	for _, tn := range []tenant.Tenant{{ID: cliTenantA, Name: "Contoso", Patients: 10}, {ID: cliTenantB, Name: "Fabrikam", Upstream: "https://fhir.example.org/r3"}} {
		if _, err := treg.Add(tn); err != nil {
			t.Fatal(err)
		}
	}
	a, err := auth.New(auth.Options{
		Alg: "ES256", Now: now, TenantKnown: treg.Known,
		Base:    func(r *http.Request) string { return "http://" + r.Host },
		Clients: []auth.ClientSpec{{ID: cliClient, Name: "Teams", Tenants: []string{cliTenantA}, Secrets: []auth.SecretSpec{{ID: "sec_seed", Value: cliSecret}}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/api/", admin.NewAPI(admin.New(admin.Options{Clients: a.Registry(), Tenants: treg}), admin.APIOptions{Token: cliAdminToken}))
	mux.Handle("/token", a.Token())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &sandboxFixture{url: srv.URL, auth: a, tenants: treg}
}

// admin runs an admin command against the fixture.
func (f *sandboxFixture) admin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	full := append(args[:2:2], append([]string{"--url", f.url, "--admin-token", cliAdminToken}, args[2:]...)...)
	return runCLI(context.Background(), full...)
}

func TestAdminClientErrors(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t)
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"no token", []string{"clients", "list", "--url", f.url}, 2, "admin token is required"},
		{"wrong token", []string{"clients", "list", "--url", f.url, "--admin-token", "wrong-token"}, 1, "check --admin-token"},
		{"bad url", []string{"clients", "list", "--url", "ftp://x", "--admin-token", "t"}, 2, "--url"},
		{"nothing listening", []string{"clients", "list", "--url", "http://127.0.0.1:1", "--admin-token", "t"}, 1, "is it running?"},
		{"unknown subcommand", []string{"clients", "frobnicate"}, 2, "unknown command"},
		{"unknown trailing flag", []string{"clients", "delete", "x", "--bogus", "--url", f.url, "--admin-token", cliAdminToken}, 2, "unknown flag --bogus"},
		{"missing flag value", []string{"tenants", "map", cliTenantA, "--upstream"}, 2, "needs a value"},
		{"extra argument", []string{"clients", "delete", "a", "b", "--url", f.url, "--admin-token", cliAdminToken}, 2, "want 1 argument"},
		{"no such client", []string{"clients", "delete", "nobody", "--url", f.url, "--admin-token", cliAdminToken}, 1, "no such client"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := runCLI(context.Background(), tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.err) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.err)
			}
			if strings.Contains(stderr, cliAdminToken) {
				t.Error("the admin token is printed")
			}
		})
	}
}

func TestParseExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for in, want := range map[string]string{"": "never", "never": "never", "2030-01-02T03:04:05Z": "2030-01-02T03:04:05Z", "48h": "2026-01-03T00:00:00Z"} {
		got, err := parseExpires(in, now)
		if err != nil || fmtTime(got) != want {
			t.Errorf("parseExpires(%q) = %v, %v; want %s", in, fmtTime(got), err, want)
		}
	}
	for _, in := range []string{"tomorrow", "-1h", "2030-01-02"} {
		if _, err := parseExpires(in, now); err == nil {
			t.Errorf("parseExpires(%q) accepted", in)
		}
	}
}

// FuzzParseExpires: --expires of any text is a time, "never" (nil) or a
// usage error, never a panic; a duration lands after now.
func FuzzParseExpires(f *testing.F) {
	for _, s := range []string{"", "never", "720h", "2030-01-02T15:04:05Z", "-1h", "2030-01-02", "1e9h", "9223372036854775807ns"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseExpires(s, now)
		if err != nil {
			if got != nil {
				t.Fatalf("%q: both a time and an error", s)
			}
			return
		}
		if got == nil && s != "" && s != "never" {
			t.Fatalf("%q: accepted as never", s)
		}
		if _, perr := time.ParseDuration(s); perr == nil && got != nil && !got.After(now.Add(-time.Second)) {
			t.Fatalf("%q: a duration from now gave %s", s, got)
		}
	})
}
