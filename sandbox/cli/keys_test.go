package cli

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

func TestClientKeyCommands(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t)
	dir := t.TempDir()
	for alg, name := range map[string]string{"ES384": "ec.pem", "RS384": "rsa.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), jwstest.PrivatePEM(jwstest.NewKey(alg)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ecPEM, rsaPEM := filepath.Join(dir, "ec.pem"), filepath.Join(dir, "rsa.pem")
	token := func(extra ...string) (int, string, string) {
		return runCLI(context.Background(), append([]string{"token", "--url", f.url, "--client-id", cliClient, "--tenant", cliTenantA}, extra...)...)
	}

	// a private key file: only its public half is registered, under its
	// thumbprint, which is the kid token --client-key uses by default
	code, out, errOut := f.admin(t, "clients", "add-key", cliClient, ecPEM)
	if code != 0 {
		t.Fatalf("add-key: exit %d %s", code, errOut)
	}
	kid := regexp.MustCompile(`added key (\S+)`).FindStringSubmatch(out)
	key, _ := os.ReadFile(ecPEM)
	signer, err := auth.NewClientSigner(key, "", "")
	if err != nil || kid == nil || kid[1] != signer.KID {
		t.Fatalf("add-key output %q, want the thumbprint %v (%v)", out, signer, err)
	}
	if c, _ := f.auth.Registry().Client(cliClient); len(c.Keys) != 1 {
		t.Fatalf("registered %d keys", len(c.Keys))
	}
	code, tok, errOut := token("--client-key", ecPEM)
	if code != 0 || strings.Count(tok, ".") != 2 {
		t.Fatalf("token --client-key: exit %d %q %s", code, tok, errOut)
	}

	// a JWKS file with a named kid and algorithm
	rk, _ := os.ReadFile(rsaPEM)
	rs, err := auth.NewClientSigner(rk, "partner-2026", "RS256")
	if err != nil {
		t.Fatal(err)
	}
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, jwstest.JWKS(jwstest.JWK(rs.Key, "partner-2026", "RS256")), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := f.admin(t, "clients", "add-key", cliClient, jwks); code != 0 {
		t.Fatalf("add-key jwks: exit %d %s", code, errOut)
	}
	if code, _, errOut := token("--client-key", rsaPEM, "--kid", "partner-2026", "--alg", "RS256"); code != 0 {
		t.Fatalf("token with the JWKS key: exit %d %s", code, errOut)
	}
	if code, _, errOut := token("--client-key", rsaPEM, "--kid", "partner-2026"); code != 1 || !strings.Contains(errOut, "does not suit key") {
		t.Errorf("RS384 for an RS256 key: exit %d %s", code, errOut)
	}

	// scopes narrow the token
	if code, _, errOut := f.admin(t, "clients", "scopes", cliClient, "system/Patient.rs"); code != 0 {
		t.Fatalf("scopes: exit %d %s", code, errOut)
	}
	if c, _ := f.auth.Registry().Client(cliClient); strings.Join(c.Scopes, " ") != "system/Patient.rs" {
		t.Errorf("scopes %v", c.Scopes)
	}
	if code, _, errOut := token("--client-key", ecPEM, "--scope", "system/Condition.read"); code != 1 || !strings.Contains(errOut, "invalid_scope") {
		t.Errorf("a scope not allowed: exit %d %s", code, errOut)
	}
	if code, _, errOut := f.admin(t, "clients", "jwks-uri", cliClient, "https://partner.example/jwks.json"); code != 0 {
		t.Errorf("jwks-uri: exit %d %s", code, errOut)
	}

	// revoke: the key stops working at once; delete removes it
	if code, _, errOut := f.admin(t, "clients", "revoke-key", cliClient, signer.KID); code != 0 {
		t.Fatalf("revoke-key: exit %d %s", code, errOut)
	}
	if code, _, errOut := token("--client-key", ecPEM); code != 1 || !strings.Contains(errOut, "invalid_client") || !strings.Contains(errOut, "revoked") {
		t.Errorf("revoked key: exit %d %s", code, errOut)
	}
	if code, _, errOut := f.admin(t, "clients", "delete-key", cliClient, signer.KID); code != 0 {
		t.Fatalf("delete-key: exit %d %s", code, errOut)
	}

	// usage errors exit 2; a bad file or an unknown key 1
	garbage := filepath.Join(dir, "garbage")
	_ = os.WriteFile(garbage, []byte("hello"), 0o600)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"token", "--url", f.url, "--client-id", cliClient, "--tenant", cliTenantA, "--client-key", ecPEM, "--client-secret", "x"}, 2},
		{[]string{"token", "--url", f.url, "--client-id", cliClient, "--tenant", cliTenantA, "--kid", "x", "--client-secret", "x"}, 2},
		{[]string{"token", "--url", f.url, "--client-id", cliClient, "--tenant", cliTenantA, "--client-key", garbage}, 1},
		{[]string{"token", "--url", f.url, "--client-id", cliClient, "--tenant", cliTenantA, "--client-key", filepath.Join(dir, "missing.pem")}, 1},
	} {
		if code, _, errOut := runCLI(context.Background(), tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"clients", "add-key", cliClient}, 2},
		{[]string{"clients", "add-key", cliClient, garbage}, 1},
		{[]string{"clients", "revoke-key", cliClient, "nope"}, 1},
		{[]string{"clients", "scopes"}, 2},
		{[]string{"clients", "scopes", cliClient, "system/Patient.bad"}, 1},
		{[]string{"clients", "jwks-uri", cliClient, "ftp://x"}, 1},
	} {
		if code, _, errOut := f.admin(t, tc.args...); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%s)", tc.args, code, tc.code, errOut)
		}
	}
}

// TestCheckWithClientKey runs check against a sandbox whose client
// authenticates by private_key_jwt only: every token request of the
// conformance scenario is a client assertion signed with the PEM file.
func TestCheckWithClientKey(t *testing.T) {
	t.Parallel()
	key := jwstest.NewKey("ES384")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "backend.pem")
	if err := os.WriteFile(keyFile, jwstest.PrivatePEM(key), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := sandbox.DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = 20, 1
	cfg.Clients = append(cfg.Clients, sandbox.ClientConfig{ID: "backend", Tenants: []string{"*"}, JWKS: jwstest.JWKS(jwstest.JWK(key, "backend-1", "ES384"))})
	s, err := sandbox.New(cfg, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	code, out, errOut := runCLI(context.Background(), "check", "--target", srv.URL+"/r4",
		"--client-id", "backend", "--client-key", keyFile, "--kid", "backend-1", "--tenant", sandbox.ContosoTenant)
	if code != 0 || !strings.Contains(out, "patients-app-r4") || strings.Contains(out, "FAIL") {
		t.Errorf("check --client-key: %d\n%s\n%s", code, out, errOut)
	}
	// the wrong kid: every token request is refused, so the check fails
	code, out, _ = runCLI(context.Background(), "check", "--target", srv.URL+"/r4",
		"--client-id", "backend", "--client-key", keyFile, "--kid", "not-registered", "--tenant", sandbox.ContosoTenant)
	if code != 1 || !strings.Contains(out, "FAIL") {
		t.Errorf("check with an unregistered kid: %d\n%s", code, out)
	}
	if code, _, errOut := runCLI(context.Background(), "check", "--target", srv.URL+"/r4", "--client-id", "backend",
		"--client-key", keyFile, "--client-secret", "x", "--tenant", sandbox.ContosoTenant); code != 2 {
		t.Errorf("--client-key with --client-secret: exit %d %s", code, errOut)
	}
}
