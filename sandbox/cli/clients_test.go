package cli

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
)

var (
	secretLine = regexp.MustCompile(`(?m)^client secret:\s+(\S+)$`)
	secretID   = regexp.MustCompile(`(?m)^secret id:\s+(\S+)$`)
	clientLine = regexp.MustCompile(`(?m)^client id:\s+(\S+)$`)
)

func match(t *testing.T, re *regexp.Regexp, s string) string {
	t.Helper()
	m := re.FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no %s in:\n%s", re, s)
	}
	return m[1]
}

// getToken runs the token command and returns its exit code and output.
func (f *sandboxFixture) getToken(t *testing.T, client, secret, tenantID string) (int, string, string) {
	t.Helper()
	return runCLI(context.Background(), "token", "--url", f.url, "--client-id", client, "--client-secret", secret, "--tenant", tenantID)
}

func TestClientsCommands(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t)

	code, out, errOut := f.admin(t, "clients", "create", "Scheduler", "--tenant", strings.ToUpper(cliTenantA), "--tenant", cliTenantB)
	if code != 0 {
		t.Fatalf("create: exit %d: %s", code, errOut)
	}
	id, first, firstID := match(t, clientLine, out), match(t, secretLine, out), match(t, secretID, out)
	if !strings.Contains(out, cliTenantA+", "+cliTenantB) || !strings.Contains(out, "shown only now") {
		t.Errorf("create output:\n%s", out)
	}
	if code, tok, errOut := f.getToken(t, id, first, cliTenantB); code != 0 || strings.Count(tok, ".") != 2 || strings.Count(tok, "\n") != 1 {
		t.Fatalf("token with the new secret: exit %d %q %s", code, tok, errOut)
	}

	// Rotation with --revoke-old, flags after the argument.
	code, out, errOut = f.admin(t, "clients", "rotate", id, "--expires", "2099-01-01T00:00:00Z", "--revoke-old")
	if code != 0 {
		t.Fatalf("rotate: exit %d: %s", code, errOut)
	}
	second := match(t, secretLine, out)
	if second == first || !strings.Contains(out, "revoked:        "+firstID) || !strings.Contains(out, "2099-01-01T00:00:00Z") {
		t.Errorf("rotate output:\n%s", out)
	}
	if code, _, errOut := f.getToken(t, id, first, cliTenantA); code != 1 || !strings.Contains(errOut, "invalid_client") {
		t.Errorf("old secret after rotate --revoke-old: exit %d %s", code, errOut)
	}
	if code, _, _ := f.getToken(t, id, second, cliTenantA); code != 0 {
		t.Error("new secret does not work")
	}

	// list never shows a secret value.
	code, out, _ = f.admin(t, "clients", "list")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, firstID+"(...") || !strings.Contains(out, "revoked") || !strings.Contains(out, cliClient) {
		t.Fatalf("list: exit %d:\n%s", code, out)
	}
	if strings.Contains(out, first) || strings.Contains(out, second) {
		t.Fatal("list shows a secret value")
	}
	code, out, _ = f.admin(t, "clients", "list", "--json")
	var cs []admin.ClientJSON
	if code != 0 || json.Unmarshal([]byte(out), &cs) != nil || len(cs) != 2 {
		t.Fatalf("list --json: exit %d:\n%s", code, out)
	}

	// revoke the second secret explicitly, then delete the client.
	secondID := cs[0].Secrets[len(cs[0].Secrets)-1].ID
	if cs[0].ID != id {
		secondID = cs[1].Secrets[len(cs[1].Secrets)-1].ID
	}
	if code, out, errOut := f.admin(t, "clients", "revoke", id, secondID); code != 0 || !strings.Contains(out, "revoked secret "+secondID) {
		t.Fatalf("revoke: exit %d %s %s", code, out, errOut)
	}
	if code, _, _ := f.getToken(t, id, second, cliTenantA); code != 1 {
		t.Error("revoked secret still works")
	}
	if code, out, _ := f.admin(t, "clients", "delete", id); code != 0 || !strings.Contains(out, "deleted client "+id) {
		t.Fatalf("delete: exit %d %s", code, out)
	}
	if code, _, errOut := f.admin(t, "clients", "delete", id); code != 1 || !strings.Contains(errOut, "HTTP 404") {
		t.Errorf("second delete: exit %d %s", code, errOut)
	}
	// A client for a tenant that does not exist is refused by the server.
	if code, _, errOut := f.admin(t, "clients", "create", "x", "--tenant", cliTenantNew); code != 1 || !strings.Contains(errOut, "not a known tenant") {
		t.Errorf("unknown tenant: exit %d %s", code, errOut)
	}
}
