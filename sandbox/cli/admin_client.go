package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	ucli "github.com/urfave/cli/v2"
)

// Limits of the calls the CLI makes to a running sandbox.
const (
	callTimeout  = 30 * time.Second
	maxReplySize = 16 << 20
	defaultURL   = "http://127.0.0.1:8080"
)

// urlFlag and adminFlags are shared by every command that talks to a
// running sandbox.
func urlFlag() ucli.Flag {
	return &ucli.StringFlag{Name: "url", Value: defaultURL, Usage: "base `URL` of the running sandbox", EnvVars: []string{"FHIRSANDBOX_URL"}}
}

func adminFlags() []ucli.Flag {
	return []ucli.Flag{
		urlFlag(),
		&ucli.StringFlag{Name: "admin-token", Usage: "admin `TOKEN` (printed by serve at start, or admin.token in the config)", EnvVars: []string{"FHIRSANDBOX_ADMIN_TOKEN"}},
		&ucli.BoolFlag{Name: "json", Usage: "print the API's JSON instead of a table", DisableDefaultText: true},
	}
}

// adminCommand gives a command group and its subcommands the same help
// flag, usage-error handling and shared flags as the top-level commands.
func adminCommand(cmd *ucli.Command, flags func() []ucli.Flag) *ucli.Command {
	onUsage := func(_ *ucli.Context, err error, _ bool) error { return &usageError{msg: err.Error()} }
	for _, sub := range cmd.Subcommands {
		sub.Flags = append(append(flags(), sub.Flags...), helpFlag())
		sub.OnUsageError = onUsage
		sub.HideHelp = true
	}
	cmd.HideHelpCommand = true
	cmd.Action = func(c *ucli.Context) error {
		if c.NArg() > 0 {
			return usagef("%s: unknown command %q", cmd.Name, c.Args().First())
		}
		return ucli.ShowSubcommandHelp(c)
	}
	return cmd
}

// baseURL reads and checks --url.
func baseURL(c *ucli.Context) (string, error) {
	raw := strings.TrimSuffix(c.String("url"), "/")
	if !isHTTPBase(raw) {
		return "", usagef("--url: %q is not an http(s) base URL such as %s", raw, defaultURL)
	}
	return raw, nil
}

// isHTTPBase reports whether raw is an http(s) URL with a host and no
// user info, query or fragment: a base other paths can be appended to.
func isHTTPBase(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

// adminClient calls the admin API of a running sandbox.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func newAdminClient(c *ucli.Context) (*adminClient, error) {
	base, err := baseURL(c)
	if err != nil {
		return nil, err
	}
	tok := c.String("admin-token")
	if tok == "" {
		return nil, usagef("the admin token is required: --admin-token TOKEN or FHIRSANDBOX_ADMIN_TOKEN (serve prints it at start)")
	}
	return &adminClient{base: base, token: tok, http: &http.Client{Timeout: callTimeout}}, nil
}

// apiError is an error answer of the admin API.
type apiError struct {
	status int
	body   admin.ErrorJSON
}

func (e *apiError) Error() string {
	msg := fmt.Sprintf("%s (HTTP %d %s)", e.body.Message, e.status, e.body.Error)
	switch e.status {
	case http.StatusUnauthorized:
		msg += "; check --admin-token or FHIRSANDBOX_ADMIN_TOKEN"
	}
	return msg
}

// call sends in (when not nil) as JSON and decodes the answer into out
// (when not nil). It returns the raw answer body for --json.
func (a *adminClient) call(ctx context.Context, method, path string, in, out any) ([]byte, error) {
	var body io.Reader
	ct := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body, ct = bytes.NewReader(b), "application/json"
	}
	return a.send(ctx, method, path, body, ct, out)
}

// send is call with a body that is not JSON of the CLI's making (an
// import's FHIR file). On an error answer it returns the raw body too, for
// answers that carry more than the message (an import's problems).
func (a *adminClient) send(ctx context.Context, method, path string, body io.Reader, contentType string, out any) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the sandbox at %s (is it running? see --url): %w", a.base, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReplySize))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if res.StatusCode >= 400 {
		ae := &apiError{status: res.StatusCode}
		if json.Unmarshal(raw, &ae.body) != nil || ae.body.Error == "" {
			ae.body = admin.ErrorJSON{Error: "http_error", Message: fmt.Sprintf("%s %s failed", method, path)}
		}
		return raw, ae
	}
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return nil, fmt.Errorf("%s %s: unexpected answer (is %s a fhirsandbox?): %w", method, path, a.base, err)
		}
	}
	return raw, nil
}

// interspersed returns the positional arguments of c after setting any
// flags written among or after them ("tenants map GUID --upstream URL"),
// which urfave/cli v2 leaves as arguments.
func interspersed(c *ucli.Context) ([]string, error) {
	bools := map[string]bool{}
	known := map[string]bool{}
	for _, f := range c.Command.Flags {
		_, isBool := f.(*ucli.BoolFlag)
		for _, n := range f.Names() {
			known[n] = true
			bools[n] = isBool
		}
	}
	args := c.Args().Slice()
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !known[name] {
			return nil, usagef("%s: unknown flag %s", c.Command.Name, a)
		}
		if !hasVal {
			if bools[name] {
				val = "true"
			} else {
				if i+1 >= len(args) {
					return nil, usagef("%s: flag %s needs a value", c.Command.Name, a)
				}
				i++
				val = args[i]
			}
		}
		if err := c.Set(name, val); err != nil {
			return nil, usagef("%s: %s: %v", c.Command.Name, a, err)
		}
	}
	return pos, nil
}

// wantArgs checks the number of positional arguments.
func wantArgs(c *ucli.Context, args []string, names ...string) error {
	if len(args) != len(names) {
		return usagef("%s: want %d argument(s): %s", c.Command.Name, len(names), strings.Join(names, " "))
	}
	return nil
}

// printJSON writes raw API JSON, indented, for --json.
func printJSON(w io.Writer, raw []byte) error {
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return errors.New("the sandbox answered invalid JSON")
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// parseExpires reads --expires: an RFC 3339 time, or a duration from now
// such as 720h.
func parseExpires(s string, now time.Time) (*time.Time, error) {
	if s == "" || s == "never" {
		return nil, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return &t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		t := now.Add(d).UTC().Truncate(time.Second)
		return &t, nil
	}
	return nil, usagef("--expires: %q is neither an RFC 3339 time (2030-01-02T15:04:05Z) nor a positive duration (720h)", s)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}
