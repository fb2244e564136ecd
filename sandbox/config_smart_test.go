package sandbox

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/jwstest"
)

// yamlJWK writes a public JWK as a YAML flow mapping.
func yamlJWK(m map[string]any) string {
	b, _ := json.Marshal(m) // JSON is YAML
	return string(b)
}

func TestConfigClientKeysAndScopes(t *testing.T) {
	t.Parallel()
	rs, ec := jwstest.NewKey("RS384"), jwstest.NewKey("ES384")
	pemText := strings.ReplaceAll(string(jwstest.PublicPEM(ec)), "\n", "\n      ")
	text := `
tenants:
  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: Contoso, patients: 1}
clients:
  - id: backend
    tenants: ["*"]
    jwks:
      keys:
        - ` + yamlJWK(jwstest.JWK(rs, "rs-1", "RS384")) + `
    jwks_uri: https://partner.example/.well-known/jwks.json
    scopes: [system/Patient.read, "system/Observation.rs?category=vital-signs"]
  - id: pem
    tenants: ["*"]
    jwks: |
      ` + pemText + `
`
	cfg, err := ParseConfig("c.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cfg.Clients {
		keys, err := auth.ParsePublicKeys(c.JWKS)
		if err != nil || len(keys) != 1 {
			t.Errorf("clients[%d].jwks: %v %v", i, keys, err)
		}
	}
	if keys, _ := auth.ParsePublicKeys(cfg.Clients[0].JWKS); len(keys) == 1 && keys[0].KID != "rs-1" {
		t.Errorf("kid %q", keys[0].KID)
	}
	if c := cfg.Clients[0]; c.JWKSURI != "https://partner.example/.well-known/jwks.json" || len(c.Scopes) != 2 {
		t.Errorf("client: %+v", c)
	}

	bad := `
tenants:
  - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: Contoso, patients: 1}
clients:
  - id: backend
    tenants: ["*"]
    jwks: {keys: [{kty: oct, k: AAAA}]}
    jwks_uri: ftp://partner.example/jwks
    scopes: [system/Patient.rw]
`
	_, err = ParseConfig("c.yaml", []byte(bad))
	if err == nil {
		t.Fatal("bad keys accepted")
	}
	msg := err.Error()
	for _, want := range []string{"c.yaml:7:", "c.yaml:8:", "c.yaml:9:", "jwks", "jwks_uri", "scopes[0]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}
