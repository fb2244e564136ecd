package sandbox

import (
	"strings"
	"testing"
	"time"
)

// TestWarnings covers the cases of Config.Warnings one at a time.
func TestWarnings(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	withSecret := func(c *Config, exp time.Time) {
		c.Clients = []ClientConfig{{ID: "app", Name: "App", Tenants: []string{"*"}, Secrets: []SecretConfig{{Value: "a-private-secret-0123456789", Expires: exp}}}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want []string // one substring per warning, in order
	}{
		{"defaults: the development secret", func(*Config) {}, []string{`development secret (expires on 2027-12-31)`}},
		{"own secret, no expiry", func(c *Config) { withSecret(c, time.Time{}) }, nil},
		{"expired", func(c *Config) { withSecret(c, now.Add(-time.Hour)) }, []string{"expired on 2026-05-31"}},
		{"expires now", func(c *Config) { withSecret(c, now) }, []string{"expired on 2026-06-01"}},
		{"30 days ahead", func(c *Config) { withSecret(c, now.Add(SecretExpiryWarning)) }, []string{"in 30 days"}},
		{"31 days ahead", func(c *Config) { withSecret(c, now.Add(SecretExpiryWarning+24*time.Hour)) }, nil},
		{"loopback public URL is not public", func(c *Config) {
			withSecret(c, time.Time{})
			c.PublicURL = "http://localhost:8080"
			c.Auth.Required = false
		}, nil},
		{"public URL", func(c *Config) {
			c.PublicURL = "https://abc.ngrok.app"
			c.Auth.Required = false
			c.Listen = "0.0.0.0:9000"
		}, []string{"reachable from the internet", "auth.required: false with public_url https://abc.ngrok.app", "open the portal on this machine at http://127.0.0.1:9000/portal/"}},
		{"public URL, free port, remote admin allowed", func(c *Config) {
			withSecret(c, time.Time{})
			c.PublicURL = "https://abc.ngrok.app"
			c.Listen = "127.0.0.1:0"
		}, []string{"the local address serve prints, /portal/"}},
		{"public URL, remote admin allowed", func(c *Config) {
			withSecret(c, time.Time{})
			c.PublicURL = "https://abc.ngrok.app"
			c.Admin.AllowRemote = true
		}, nil},
	}
	for _, tt := range tests {
		cfg := DefaultConfig()
		tt.edit(&cfg)
		if err := cfg.Validate(); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		ws := cfg.Warnings(now, "", nil)
		if len(ws) != len(tt.want) {
			t.Errorf("%s: %d warnings %v, want %d", tt.name, len(ws), ws, len(tt.want))
			continue
		}
		for i, w := range ws {
			if !strings.Contains(w.Msg, tt.want[i]) {
				t.Errorf("%s: warning %d = %q, want %q in it", tt.name, i, w.Msg, tt.want[i])
			}
			if strings.Contains(w.Msg, "a-private-secret") {
				t.Errorf("%s: a warning prints the secret: %q", tt.name, w.Msg)
			}
		}
	}
}
