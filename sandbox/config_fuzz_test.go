package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParseConfig holds the loader to its contract on any input: no panic;
// either a valid config or a *ConfigError whose every line is file:line:
// message; and an accepted config survives a write-and-reload unchanged.
func FuzzParseConfig(f *testing.F) {
	if def, err := os.ReadFile(filepath.Join("..", "sandbox.yaml")); err == nil {
		f.Add(def)
	}
	for _, s := range []string{
		"", "listen: :0\n", "a: &a [x]\nb: *a\n", "listen: a\nlisten: b\n", "---\n---\n",
		"tenants:\n  - {id: " + ContosoTenant + ", name: x, patients: 5}\n",
		"auth: {token_ttl: 90s, required: false}\nreference_date: 2020-02-29\n",
		"clients: [{id: x, tenants: ['*'], secrets: [{value: s, expires: 2030-01-01}]}]\n",
		"\xff", "limits: {max_count: 0x10}\n", "admin: !!binary aGVsbG8=\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig("f.yaml", data)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("error is not a non-empty *ConfigError: %v", err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml") {
					t.Fatalf("problem %q does not name the file", line)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config fails Validate: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal accepted config: %v", err)
		}
		again, err := ParseConfig("f.yaml", out)
		if err != nil {
			t.Fatalf("re-reading a written config: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("config changed on write and reload:\n%+v\n%+v", cfg, again)
		}
	})
}

// FuzzCheckConfig holds config check to its contract on any input: no
// panic; warnings come even with errors, each naming the file at a line
// of it (or none), and never print a secret's value other than the
// published development secret.
func FuzzCheckConfig(f *testing.F) {
	for _, s := range []string{
		"", "clients: [{id: x, tenants: ['*'], secrets: [{value: a-secret-that-expired-long-ago, expires: 2020-01-01T00:00:00Z}]}]\n",
		"public_url: https://x.example\nauth: {required: false}\n", "public_url: http://[::1]:9\n",
		"clients: [{id: x, tenants: ['*'], secrets: [{value: change-me-dev-secret}]}]\npublic_url: https://x\n",
		"listen: nonsense\npublic_url: https://a.b\n", "tenants: [\n",
	} {
		f.Add([]byte(s))
	}
	now := NewDate(2026, 6, 1).Time
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, lines, _ := decodeConfig("f.yaml", data)
		n := strings.Count(string(data), "\n") + 1
		for _, w := range cfg.Warnings(now, "f.yaml", lines) {
			if w.File != "f.yaml" || w.Line < 0 || w.Line > n {
				t.Fatalf("warning %q at f.yaml:%d of %d lines", w.Msg, w.Line, n)
			}
			for _, c := range cfg.Clients {
				for _, s := range c.Secrets {
					if len(s.Value) >= MinSecretLen && s.Value != DevSecret && !strings.Contains(c.ID+" "+cfg.PublicURL+" "+cfg.Listen, s.Value) && strings.Contains(w.Msg, s.Value) {
						t.Fatalf("warning %q prints a secret", w.Msg)
					}
				}
			}
		}
	})
}
