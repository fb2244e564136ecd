package cli

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	ucli "github.com/urfave/cli/v2"
)

func clientsCommand() *ucli.Command {
	return adminCommand(&ucli.Command{
		Name:  "clients",
		Usage: "list, create, rotate, revoke and delete OAuth clients of a running sandbox",
		Description: `Calls the admin API of a running sandbox (--url, default ` + defaultURL + `)
with the admin token (--admin-token or FHIRSANDBOX_ADMIN_TOKEN; serve prints
it at start). A client secret is printed once, when it is made, and never
again. Changes are saved before they are acknowledged when the sandbox runs
with a state file.

Examples:
  fhirsandbox clients list
  fhirsandbox clients create "Teams Patients app" --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c
  fhirsandbox clients rotate CLIENT_ID --expires 720h --revoke-old
  fhirsandbox clients revoke CLIENT_ID SECRET_ID
  fhirsandbox clients delete CLIENT_ID

Keys for private_key_jwt (SMART Backend Services):
  fhirsandbox clients add-key CLIENT_ID jwks.json      # a JWKS, a JWK or a public key PEM
  fhirsandbox clients add-key CLIENT_ID key.pem        # a private key: only its public half is sent
  fhirsandbox clients revoke-key CLIENT_ID KID
  fhirsandbox clients delete-key CLIENT_ID KID
  fhirsandbox clients jwks-uri CLIENT_ID https://partner.example/jwks.json   # "" clears it
  fhirsandbox clients scopes CLIENT_ID system/Patient.rs "system/Observation.rs?category=vital-signs"
  fhirsandbox clients scopes CLIENT_ID                 # no scopes: unrestricted`,
		Subcommands: []*ucli.Command{
			{Name: "list", Usage: "list clients and their secrets (never the secrets' values)", ArgsUsage: " ", Action: clientsList},
			{
				Name: "create", Usage: "register a client and print its first secret, once", ArgsUsage: "NAME",
				Flags: []ucli.Flag{
					&ucli.StringSliceFlag{Name: "tenant", Aliases: []string{"tenants"}, Usage: "tenant `GUID` the client may ask tokens for, or \"*\" for all (repeatable)", DefaultText: "every tenant, \"*\""},
				},
				Action: clientsCreate,
			},
			{
				Name: "rotate", Usage: "add a new secret to a client and print it, once", ArgsUsage: "CLIENT_ID",
				Flags: []ucli.Flag{
					&ucli.StringFlag{Name: "expires", Usage: "expiry of the new secret: RFC 3339 `TIME` or a duration from now such as 720h (default: never)"},
					&ucli.BoolFlag{Name: "revoke-old", Usage: "revoke the client's other secrets once the new one exists", DisableDefaultText: true},
				},
				Action: clientsRotate,
			},
			{Name: "revoke", Usage: "revoke one secret of a client at once", ArgsUsage: "CLIENT_ID SECRET_ID", Action: clientsRevoke},
			{Name: "delete", Usage: "delete a client; its tokens stop working", ArgsUsage: "CLIENT_ID", Action: clientsDelete},
			{Name: "add-key", Usage: "register public keys (JWKS, JWK or PEM file) for private_key_jwt", ArgsUsage: "CLIENT_ID FILE", Action: clientsAddKey},
			{Name: "revoke-key", Usage: "revoke one key of a client at once", ArgsUsage: "CLIENT_ID KID", Action: clientsKeyOp("revoke")},
			{Name: "delete-key", Usage: "delete one key of a client", ArgsUsage: "CLIENT_ID KID", Action: clientsKeyOp("delete")},
			{Name: "jwks-uri", Usage: "set (or, with \"\", clear) the URL the client's key set is fetched from", ArgsUsage: "CLIENT_ID URL", Action: clientsJWKSURI},
			{Name: "scopes", Usage: "replace the SMART system scopes the client may be granted (none: unrestricted)", ArgsUsage: "CLIENT_ID [SCOPE...]", Action: clientsScopes},
		},
	}, adminFlags)
}

func clientPath(id string, rest ...string) string {
	p := "/admin/api/clients/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

func clientsList(c *ucli.Context) error {
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
	var cs []admin.ClientJSON
	raw, err := ac.call(c.Context, "GET", "/admin/api/clients", nil, &cs)
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	return printClients(c.App.Writer, cs, time.Now())
}

func printClients(w io.Writer, cs []admin.ClientJSON, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLIENT ID\tNAME\tTENANTS\tSECRETS")
	for _, cl := range cs {
		var secs []string
		for _, s := range cl.Secrets {
			secs = append(secs, fmt.Sprintf("%s(...%s %s)", s.ID, s.Hint, secretState(s, now)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", cl.ID, oneLine(cl.Name), strings.Join(cl.Tenants, ","), strings.Join(secs, " "))
	}
	return tw.Flush()
}

// oneLine keeps a name from breaking the table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func secretState(s admin.SecretJSON, now time.Time) string {
	switch {
	case s.Revoked:
		return "revoked"
	case s.Expires == nil:
		return "live"
	case !now.Before(*s.Expires):
		return "expired " + fmtTime(s.Expires)
	}
	return "expires " + fmtTime(s.Expires)
}

func clientsCreate(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "NAME"); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	tenants := c.StringSlice("tenant")
	if tenants == nil {
		tenants = []string{}
	}
	var out admin.CreateClientResponse
	raw, err := ac.call(c.Context, "POST", "/admin/api/clients", admin.CreateClientRequest{Name: args[0], Tenants: tenants}, &out)
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "client id:      %s\n", out.Client.ID)
	fmt.Fprintf(w, "name:           %s\n", oneLine(out.Client.Name))
	fmt.Fprintf(w, "tenants:        %s\n", strings.Join(out.Client.Tenants, ", "))
	fmt.Fprintf(w, "secret id:      %s\n", out.Secret.ID)
	fmt.Fprintf(w, "client secret:  %s\n", out.Secret.Value)
	fmt.Fprintln(w, "The client secret is shown only now: store it safely.")
	return nil
}

func clientsRotate(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "CLIENT_ID"); err != nil {
		return err
	}
	expires, err := parseExpires(c.String("expires"), time.Now())
	if err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	id := args[0]
	var sec admin.SecretJSON
	raw, err := ac.call(c.Context, "POST", clientPath(id, "secrets"), admin.AddSecretRequest{Expires: expires}, &sec)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", id, err)
	}
	var revoked []string
	if c.Bool("revoke-old") {
		var cl admin.ClientJSON
		if _, err := ac.call(c.Context, "GET", clientPath(id), nil, &cl); err != nil {
			return fmt.Errorf("rotate %s: the new secret %s exists (value %s) but listing the old ones failed: %w", id, sec.ID, sec.Value, err)
		}
		for _, s := range cl.Secrets {
			if s.ID == sec.ID || s.Revoked {
				continue
			}
			if _, err := ac.call(c.Context, "POST", clientPath(id, "secrets", s.ID, "revoke"), nil, nil); err != nil {
				return fmt.Errorf("rotate %s: the new secret %s exists (value %s) but revoking %s failed: %w", id, sec.ID, sec.Value, s.ID, err)
			}
			revoked = append(revoked, s.ID)
		}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	w := c.App.Writer
	fmt.Fprintf(w, "secret id:      %s\n", sec.ID)
	fmt.Fprintf(w, "client secret:  %s\n", sec.Value)
	fmt.Fprintf(w, "expires:        %s\n", fmtTime(sec.Expires))
	if c.Bool("revoke-old") {
		fmt.Fprintf(w, "revoked:        %s\n", orNone(strings.Join(revoked, ", ")))
	}
	fmt.Fprintln(w, "The client secret is shown only now: store it safely.")
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func clientsRevoke(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "CLIENT_ID", "SECRET_ID"); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	var sec admin.SecretJSON
	raw, err := ac.call(c.Context, "POST", clientPath(args[0], "secrets", args[1], "revoke"), nil, &sec)
	if err != nil {
		return fmt.Errorf("revoke %s %s: %w", args[0], args[1], err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	fmt.Fprintf(c.App.Writer, "revoked secret %s of client %s\n", sec.ID, args[0])
	return nil
}

func clientsDelete(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "CLIENT_ID"); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	if _, err := ac.call(c.Context, "DELETE", clientPath(args[0]), nil, nil); err != nil {
		return fmt.Errorf("delete %s: %w", args[0], err)
	}
	if c.Bool("json") {
		fmt.Fprintln(c.App.Writer, `{"deleted":true}`)
		return nil
	}
	fmt.Fprintf(c.App.Writer, "deleted client %s\n", args[0])
	return nil
}

// keyPayload turns a key file into the admin API's body: a JWKS or JWK
// as JSON, public keys in PEM, or the public half of a private key PEM
// (the private key itself never leaves this machine).
func keyPayload(b []byte) (admin.AddKeysRequest, error) {
	t := bytes.TrimSpace(b)
	switch {
	case len(t) > 0 && t[0] == '{':
		return admin.AddKeysRequest{JWKS: t}, nil
	case bytes.Contains(t, []byte("PRIVATE KEY-----")):
		key, err := auth.ParseKeyPEM(t)
		if err != nil {
			return admin.AddKeysRequest{}, err
		}
		der, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			return admin.AddKeysRequest{}, err
		}
		return admin.AddKeysRequest{PEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}, nil
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		return admin.AddKeysRequest{PEM: string(t)}, nil
	}
	return admin.AddKeysRequest{}, errors.New("want a JWKS or JWK (JSON) or a PEM key")
}

func clientsAddKey(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "CLIENT_ID", "FILE"); err != nil {
		return err
	}
	b, err := readCapped(args[1], auth.MaxJWKSBytes)
	if err != nil {
		return fmt.Errorf("add-key: %w", err)
	}
	body, err := keyPayload(b)
	if err != nil {
		return fmt.Errorf("add-key: %s: %w", args[1], err)
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	var keys []admin.KeyJSON
	raw, err := ac.call(c.Context, "POST", clientPath(args[0], "keys"), body, &keys)
	if err != nil {
		return fmt.Errorf("add-key %s: %w", args[0], err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	for _, k := range keys {
		fmt.Fprintf(c.App.Writer, "added key %s (%s) to client %s\n", k.KID, orAny(k.Alg), args[0])
	}
	return nil
}

func orAny(alg string) string {
	if alg == "" {
		return "any algorithm that suits the key"
	}
	return alg
}

func clientsKeyOp(op string) ucli.ActionFunc {
	return func(c *ucli.Context) error {
		args, err := interspersed(c)
		if err != nil {
			return err
		}
		if err := wantArgs(c, args, "CLIENT_ID", "KID"); err != nil {
			return err
		}
		ac, err := newAdminClient(c)
		if err != nil {
			return err
		}
		method, path := "POST", clientPath(args[0], "keys", args[1], "revoke")
		if op == "delete" {
			method, path = "DELETE", clientPath(args[0], "keys", args[1])
		}
		raw, err := ac.call(c.Context, method, path, nil, nil)
		if err != nil {
			return fmt.Errorf("%s-key %s %s: %w", op, args[0], args[1], err)
		}
		if c.Bool("json") {
			if len(bytes.TrimSpace(raw)) == 0 {
				raw = []byte(`{"deleted":true}`)
			}
			return printJSON(c.App.Writer, raw)
		}
		fmt.Fprintf(c.App.Writer, "%sd key %s of client %s\n", strings.TrimSuffix(op, "e"), args[1], args[0])
		return nil
	}
}

func clientsJWKSURI(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "CLIENT_ID", "URL"); err != nil {
		return err
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	raw, err := ac.call(c.Context, "PUT", clientPath(args[0], "jwks_uri"), admin.SetJWKSURIRequest{JWKSURI: &args[1]}, nil)
	if err != nil {
		return fmt.Errorf("jwks-uri %s: %w", args[0], err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	fmt.Fprintf(c.App.Writer, "jwks_uri of client %s: %s\n", args[0], orNone(args[1]))
	return nil
}

func clientsScopes(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(args) < 1 {
		return usagef("%s: want CLIENT_ID [SCOPE...]", c.Command.Name)
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	scopes := append([]string{}, args[1:]...)
	raw, err := ac.call(c.Context, "PUT", clientPath(args[0], "scopes"), admin.SetScopesRequest{Scopes: scopes}, nil)
	if err != nil {
		return fmt.Errorf("scopes %s: %w", args[0], err)
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, raw)
	}
	fmt.Fprintf(c.App.Writer, "scopes of client %s: %s\n", args[0], orNone(strings.Join(scopes, " ")))
	return nil
}
