package cli

import (
	"context"
	"strings"
	"testing"
)

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	f := newSandboxFixture(t)
	code, out, errOut := f.getToken(t, cliClient, cliSecret, strings.ToUpper(cliTenantA))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	tok := strings.TrimSuffix(out, "\n")
	if strings.ContainsAny(tok, " \n{") || strings.Count(tok, ".") != 2 {
		t.Fatalf("output is not a bare JWT: %q", out)
	}
	if cl, err := f.auth.Verify(tok, f.url); err != nil || cl.Tenant != cliTenantA {
		t.Fatalf("the printed token does not verify for tenant A: %+v, %v", cl, err)
	}
	cases := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"wrong secret", []string{"--client-id", cliClient, "--client-secret", "wrong-secret-0123456789", "--tenant", cliTenantA}, 1, "token: invalid_client"},
		{"tenant not allowed", []string{"--client-id", cliClient, "--client-secret", cliSecret, "--tenant", cliTenantB}, 1, "token: "},
		{"bad tenant", []string{"--client-id", cliClient, "--client-secret", cliSecret, "--tenant", "nope"}, 1, "token: invalid_scope"},
		{"missing flags", []string{"--client-id", cliClient}, 2, "--client-secret, --tenant required"},
		{"stray argument", []string{"extra"}, 2, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runCLI(context.Background(), append([]string{"token", "--url", f.url}, tc.args...)...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.err) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.err)
			}
			if strings.Contains(errOut, cliSecret) {
				t.Error("the client secret is printed")
			}
		})
	}
}
