package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"text/template"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

func initCommand(d deps) *ucli.Command {
	return &ucli.Command{
		Name:      "init",
		Usage:     "write a commented sandbox.yaml with a fresh tenant, client id and secret",
		ArgsUsage: "[DIR]",
		Description: `Writes DIR/sandbox.yaml (DIR defaults to the current directory, and is
created if missing): one tenant with a fresh random GUID, one client with a
fresh client id and a fresh 256-bit secret, and a state file beside it so
that clients, tenants and the generated admin token stay the same from one
start to the next. The file keeps only the secret's SHA-256: the secret is
printed once, now. An existing sandbox.yaml is left alone unless --force.

Examples:
  fhirsandbox init
  fhirsandbox init ./sandbox && fhirsandbox serve --config ./sandbox/sandbox.yaml`,
		Flags: []ucli.Flag{
			&ucli.BoolFlag{Name: "force", Usage: "overwrite an existing sandbox.yaml", DisableDefaultText: true},
			&ucli.StringFlag{Name: "name", Value: "My Test Hospital", Usage: "display `NAME` of the tenant"},
		},
		Action: func(c *ucli.Context) error { return initAction(c, d) },
	}
}

// initValues fill initTemplate.
type initValues struct {
	TenantID, TenantName, ClientID, SecretSHA256 string
}

// initTemplate is the file init writes; every value in it is one a user
// may want to change, so each is explained where it stands.
var initTemplate = template.Must(template.New("sandbox.yaml").Parse(`# fhirsandbox configuration, written by "fhirsandbox init".
# Start with:   fhirsandbox serve --config sandbox.yaml
# Check with:   fhirsandbox config check sandbox.yaml
# Every key not written here has its built-in default (see the project's
# sandbox.yaml and docs/configuration-rules.md).

# HOST:PORT to listen on. 0.0.0.0:8080 listens on every interface (a
# container, another machine); port 0 picks a free port.
listen: 127.0.0.1:8080

# The address clients reach the sandbox at, such as an ngrok URL. Empty: the
# Host and X-Forwarded-* headers of each request.
public_url: ""

# Default FHIR release: dstu2, stu3 or r4 (each is served under its own base).
fhir_version: stu3

tenants:
  # The Azure AD tenant GUID a client asks a token for (the token's scope).
  - id: {{.TenantID}}
    name: {{printf "%q" .TenantName}}
    # Synthetic patients, generated the same way on every start.
    patients: 100
    seed: 42

clients:
  # The client_id and the SHA-256 of its secret; the secret itself was
  # printed once by "fhirsandbox init". A new secret: "fhirsandbox clients
  # rotate {{.ClientID}}" against the running sandbox.
  - id: {{.ClientID}}
    name: My FHIR client
    # Tenant GUIDs this client may ask tokens for; "*" means every tenant.
    tenants: ["*"]
    secrets:
      - value_sha256: {{.SecretSHA256}}
        # When the secret stops working (RFC 3339); absent: never.
        # expires: 2027-12-31T00:00:00Z

admin:
  # The admin API and portal token, at least 16 characters. Empty: one is
  # generated at the first start, printed once and kept in state_file;
  # FHIRSANDBOX_ADMIN_TOKEN overrides it.
  token: ""
  # true lets requests through a tunnel or from another machine reach the
  # portal and admin API (they still need the token).
  allow_remote: false

# Clients, secrets, tenants, written resources and the generated admin token
# survive restarts in this journal (relative to this file).
state_file: sandbox.state
`))

func initAction(c *ucli.Context, d deps) error {
	args, err := interspersed(c) // "init DIR --force" as well as "init --force DIR"
	if err != nil {
		return err
	}
	if len(args) > 1 {
		return usagef("init: want at most one DIR, got %d arguments", len(args))
	}
	dir := "."
	if len(args) == 1 && args[0] != "" {
		dir = args[0]
	}
	name := c.String("name")
	if err := checkDisplayName(name); err != nil {
		return usagef("--name: %v", err)
	}
	random := make([]byte, 16+4+32)
	if _, err := io.ReadFull(d.rand, random); err != nil {
		return fmt.Errorf("init: read random bytes: %w", err)
	}
	guid, idPart, secretBytes := random[:16], random[16:20], random[20:]
	guid[6] = guid[6]&0x0f | 0x40 // version 4
	guid[8] = guid[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(guid)
	v := initValues{
		TenantID:   h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:],
		TenantName: name,
		ClientID:   "client-" + hex.EncodeToString(idPart),
	}
	secret := hex.EncodeToString(secretBytes)
	sum := sha256.Sum256([]byte(secret))
	v.SecretSHA256 = hex.EncodeToString(sum[:])

	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("init: %w", err)
	}
	path := filepath.Join(dir, defaultConfigFile)
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if c.Bool("force") {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("init: %s exists; left as it is (--force overwrites it)", path)
	}
	if err != nil {
		return fmt.Errorf("init: %w", err)
	}
	if err := initTemplate.Execute(f, v); err != nil {
		f.Close()
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("init: write %s: %w", path, err)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s\n", path)
	fmt.Fprintf(w, "  tenant GUID    %s  (%s)\n", v.TenantID, name)
	fmt.Fprintf(w, "  client id      %s\n", v.ClientID)
	fmt.Fprintf(w, "  client secret  %s\n", secret)
	fmt.Fprintf(w, "The client secret is shown only now (the file keeps its SHA-256): store it safely.\n")
	fmt.Fprintf(w, "Next: fhirsandbox serve --config %s\n", path)
	return nil
}

// checkDisplayName accepts a one-line name of at most spec.MaxNameLen
// bytes, the limit the sandbox puts on display names.
func checkDisplayName(s string) error {
	if s == "" || len(s) > spec.MaxNameLen {
		return fmt.Errorf("want 1 to %d characters", spec.MaxNameLen)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return errors.New("want a single line of printable characters")
		}
	}
	return nil
}
