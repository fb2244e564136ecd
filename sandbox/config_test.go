package sandbox

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultConfigFileMatchesDefaultConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig(filepath.Join("..", "sandbox.yaml"))
	if err != nil {
		t.Fatalf("the documented default config does not load: %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("sandbox.yaml differs from DefaultConfig():\n got %+v\nwant %+v", cfg, want)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("DefaultConfig() is invalid: %v", err)
	}
}

func TestParseConfigOverlaysDefaults(t *testing.T) {
	t.Parallel()
	cfg, err := ParseConfig("c.yaml", []byte(`
listen: ":9000"
auth: {token_ttl: 15m}
tenants:
  - id: "{2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C}"
    name: Contoso
    patients: 3
clients:
  - id: app
    tenants: ["2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C"]
    secrets:
      - value_sha256: 5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8
        expires: 2030-01-02
`))
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	if cfg.Listen != ":9000" || cfg.Auth.TokenTTL != 15*time.Minute {
		t.Errorf("file values not applied: listen %q ttl %s", cfg.Listen, cfg.Auth.TokenTTL)
	}
	if cfg.Auth.SigningAlg != def.Auth.SigningAlg || cfg.Auth.Required != def.Auth.Required || cfg.FHIRVersion != def.FHIRVersion {
		t.Errorf("keys absent from the file lost their defaults: %+v", cfg.Auth)
	}
	if len(cfg.Tenants) != 1 || cfg.Tenants[0].ID != ContosoTenant || cfg.Tenants[0].Seed != 0 {
		t.Errorf("tenants list should replace the default one, GUID canonical: %+v", cfg.Tenants)
	}
	if got := cfg.Clients[0].Tenants[0]; got != ContosoTenant {
		t.Errorf("client tenant not canonicalised: %q", got)
	}
	s := cfg.Clients[0].Secrets[0]
	if s.ValueSHA256 != strings.ToLower(s.ValueSHA256) {
		t.Errorf("digest not lower-cased: %q", s.ValueSHA256)
	}
	if want := time.Date(2030, 1, 2, 0, 0, 0, 0, time.UTC); !s.Expires.Equal(want) {
		t.Errorf("expires = %s, want %s", s.Expires, want)
	}
	if d := s.Digest(); d != (SecretConfig{Value: "password"}).Digest() {
		t.Errorf("digest of value_sha256 does not match the digest of the clear value")
	}
}

func TestParseConfigEmptyIsDefault(t *testing.T) {
	t.Parallel()
	for _, text := range []string{"", "# only a comment\n", "---\n"} {
		cfg, err := ParseConfig("c.yaml", []byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if !reflect.DeepEqual(cfg, DefaultConfig()) {
			t.Errorf("%q: not the default config", text)
		}
	}
}

// want is one expected problem: its line and a fragment of its message.
type want struct {
	line int
	msg  string
}

func TestParseConfigReportsEveryProblem(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		text string
		want []want
	}{
		{"unknown keys everywhere", "listn: x\nauth:\n  requried: true\nlimits: {max_cont: 3}\n",
			[]want{{1, `unknown key "listn"`}, {3, `auth: unknown key "requried"`}, {4, `limits: unknown key "max_cont"`}}},
		{"wrong types", "listen: [a]\nauth:\n  required: yes\n  token_ttl: 60\nlimits:\n  max_count: ten\ntenants: {id: x}\nreference_date: tomorrow\n",
			[]want{{1, "listen: want a string"}, {3, "auth.required: want true or false"}, {4, "auth.token_ttl: want a duration"},
				{6, "limits.max_count: want a whole number"}, {7, "tenants: want a list"}, {8, "reference_date: want a date"}}},
		{"duplicate keys", "listen: a:1\nfhir_version: stu3\nlisten: b:2\n",
			[]want{{3, `duplicate key "listen" (first set at line 1)`}}},
		{"aliases refused", "admin: &a {token: xxxxxxxxxxxxxxxxxxxx}\nauth: *a\n",
			[]want{{2, "aliases"}}},
		{"alias bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
			[]want{{1, `unknown key "a"`}, {2, `unknown key "b"`}, {3, `unknown key "c"`}, {4, `unknown key "d"`}}},
		{"merge key", "base: &b {token: xxxxxxxxxxxxxxxxxxxx}\nadmin:\n  <<: *b\n",
			[]want{{1, `unknown key "base"`}, {3, "merge keys (<<) are not allowed"}}},
		{"second document", "listen: :1\n---\nlisten: :2\n", []want{{2, "second YAML document"}}},
		{"syntax error", "listen: :1\n  bad: [\n", []want{{2, "yaml syntax"}}},
		{"not utf-8", "listen: :1\nadmin: {token: \"\xff\xfe\"}\n", []want{{2, "not valid UTF-8"}}},
		{"top level not a mapping", "- a\n- b\n", []want{{1, "config: want a mapping"}}},
		{"semantic problems", `listen: "localhost"
public_url: ftp://x
fhir_version: r5
auth: {signing_alg: HS256, token_ttl: 0s}
tenants:
  - id: not-a-guid
    name: A
    patients: -1
  - id: 2F4A9C3E-8B1D-4E6F-A5C7-1D3B5E7F9A0C
    name: B
  - id: "{2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c}"
    name: C
    patients: 1000001
    upstream: file:///etc
clients:
  - id: app
    tenants: [11111111-2222-3333-4444-555555555555]
    secrets:
      - {}
      - {value: a, value_sha256: 00}
      - {value_sha256: zz}
  - id: app
    tenants: []
admin: {token: short}
limits: {default_count: 500, patient_cache: 0}
`, []want{
			{1, "listen: \"localhost\" is not HOST:PORT"},
			{2, "public_url: \"ftp://x\" is not an http or https URL"},
			{3, `fhir_version: "r5" is not a supported release`},
			{4, "auth.token_ttl: 0s is out of range"},
			{4, `auth.signing_alg: "HS256" is not supported`},
			{6, `tenants[0].id: "not-a-guid" is not a GUID`},
			{8, "tenants[0].patients: -1 is out of range"},
			{11, "tenants[2].id: duplicate tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c (also tenants[1])"},
			{13, "tenants[2].patients: 1000001 is out of range"},
			{14, "tenants[2].upstream: \"file:///etc\" is not an http or https URL"},
			{14, "either proxied (upstream) or local"},
			{17, "clients[0].tenants[0]: tenant 11111111-2222-3333-4444-555555555555 is not configured"},
			{19, "clients[0].secrets[0]: set one of value or value_sha256"},
			{20, "clients[0].secrets[1]: set value or value_sha256, not both"},
			{21, "clients[0].secrets[2].value_sha256: not a SHA-256 digest"},
			{22, `clients[1].id: duplicate client id "app" (also clients[0])`},
			{23, "clients[1].tenants: empty"},
			{24, "admin.token: too short"},
			{25, "limits.default_count: 500 is out of range"},
			{25, "limits.patient_cache: 0 is out of range (want 1 to 1000000)"},
		}},
		{"fixtures: a path or a mapping", `tenants:
  - id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c
    name: A
    fixtures_validation: strict
    fixtures:
      - a.json
      - {path: b.json, fhir_version: r5}
      - {fhir_version: stu3}
      - "bad[glob"
`, []want{
			{4, `tenants[0].fixtures_validation: "strict" is not a validation mode (want error or warn)`},
			{7, `tenants[0].fixtures[1].fhir_version: "r5" is not a supported release`},
			{8, "tenants[0].fixtures[2]: empty path"},
			{9, `tenants[0].fixtures[3]: "bad[glob" is not a valid glob`},
		}},
		{"fixtures: types first", `tenants:
  - id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c
    name: A
    fixtures:
      - {path: c.json, release: r4}
      - [x]
      - {path: [y]}
`, []want{
			{5, `tenants[0].fixtures[0]: unknown key "release" (known: path, fhir_version)`},
			{6, "tenants[0].fixtures[1]: want a path or a mapping {path, fhir_version}, got a list"},
			{7, "tenants[0].fixtures[2].path"},
		}},
		{"upstream auth", `tenants:
  - id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c
    name: Up
    upstream: https://fhir.example.org/r3
    upstream_auth:
      bearer_token: t
      client_credentials: {token_url: "https://x/token?a=b", client_id: c}
  - id: 7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d
    name: Local
    upstream_auth: {bearer_token: t}
`, []want{
			{5, "tenants[0].upstream_auth: set exactly one of"},
			{7, "token_url: \"https://x/token?a=b\" must not have a query"},
			{7, "client_secret: missing"},
			{10, "tenants[1].upstream_auth: set without upstream"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfig("c.yaml", []byte(tt.text))
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("want a *ConfigError, got %v", err)
			}
			for _, w := range tt.want {
				found := false
				for _, p := range ce.Problems {
					if p.File == "c.yaml" && p.Line == w.line && strings.Contains(p.Msg, w.msg) {
						found = true
						break
					}
				}
				if !found {
					t.Errorf("missing problem c.yaml:%d: ...%s...\ngot:\n%v", w.line, w.msg, err)
				}
			}
			if len(ce.Problems) != len(tt.want) {
				t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), len(tt.want), err)
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "c.yaml:") {
					t.Errorf("error line %q does not start with file:line", line)
				}
			}
		})
	}
}

func TestSecretsNeverEchoed(t *testing.T) {
	t.Parallel()
	const secret = "0123456789abcdef-super-secret"
	_, err := ParseConfig("c.yaml", []byte("clients:\n  - id: a\n    tenants: ['*']\n    secrets: [{value_sha256: "+secret+"}]\n"))
	if err == nil || strings.Contains(err.Error(), secret) {
		t.Errorf("want an error that does not repeat the secret, got %v", err)
	}
}

func TestLoadConfigFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("relative paths follow the file", func(t *testing.T) {
		p := write("rel.yaml", []byte("auth: {signing_key_file: keys/k.pem}\ntenants:\n  - {id: "+ContosoTenant+", name: C, fixtures: [extra.ndjson, /abs/x.json, {path: d/, fhir_version: dstu2}]}\n"))
		cfg, err := LoadConfig(p)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := cfg.Auth.SigningKeyFile, filepath.Join(dir, "keys", "k.pem"); got != want {
			t.Errorf("signing_key_file = %q, want %q", got, want)
		}
		if got := cfg.Tenants[0].Fixtures; got[0].Path != filepath.Join(dir, "extra.ndjson") || got[1].Path != "/abs/x.json" || got[2] != (FixtureConfig{Path: filepath.Join(dir, "d"), FHIRVersion: "dstu2"}) {
			t.Errorf("fixtures = %+v", got)
		}
	})
	t.Run("oversize file refused", func(t *testing.T) {
		p := write("big.yaml", []byte("# "+strings.Repeat("x", MaxConfigBytes)+"\n"))
		_, err := LoadConfig(p)
		if err == nil || !strings.Contains(err.Error(), "larger than") || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("want a size error naming the file, got %v", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadConfig(filepath.Join(dir, "nope.yaml"))
		if !errors.Is(err, err) || err == nil || !strings.Contains(err.Error(), "nope.yaml") {
			t.Errorf("want an error naming the file, got %v", err)
		}
	})
	t.Run("directory refused", func(t *testing.T) {
		if _, err := LoadConfig(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("want a not-a-file error, got %v", err)
		}
	})
}

func TestValidateInCode(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Listen = "nope"
	cfg.Tenants[1].ID = strings.ToUpper(cfg.Tenants[0].ID)
	err := cfg.Validate()
	var ce *ConfigError
	if !errors.As(err, &ce) || len(ce.Problems) != 2 {
		t.Fatalf("want 2 problems (listen, duplicate tenant), got %v", err)
	}
	if !strings.HasPrefix(ce.Problems[0].String(), "listen: ") {
		t.Errorf("a problem without a file reads %q", ce.Problems[0])
	}
}

func TestHostChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		host string
		ok   bool
	}{
		{"example.org", true}, {"abc.ngrok.app:443", true}, {"127.0.0.1:8080", true}, {"[::1]:8080", true}, {"[::1]", true},
		{"localhost", true}, {"", false}, {"a..b", false}, {"-a.b", false}, {"x:0", false}, {"x:99999", false},
		{"x:", false}, {"[::1", false}, {"[1.2.3.4]", false}, {"a b", false}, {"evil.com/path", false}, {"a@b", false},
		{strings.Repeat("a", 64) + ".com", false},
	}
	for _, tt := range tests {
		if got := validHost(tt.host); got != tt.ok {
			t.Errorf("validHost(%q) = %v, want %v", tt.host, got, tt.ok)
		}
	}
}
