package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	ucli "github.com/urfave/cli/v2"
)

func tokenCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "token",
		Usage: "get an access token from a running sandbox and print it alone",
		Description: `Asks the token endpoint (--url/token) for a client-credentials token
scoped to --tenant and prints the access token alone on standard output,
so that it can be captured. An OAuth error (invalid_client, invalid_scope,
...) is printed on standard error and the exit code is 1.

Examples:
  TOKEN=$(fhirsandbox token --client-id teams-patients-app \
      --client-secret change-me-dev-secret --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c)
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/stu3/Patient`,
		Flags: []ucli.Flag{
			urlFlag(),
			&ucli.StringFlag{Name: "client-id", Usage: "OAuth client `ID`", EnvVars: []string{"FHIRSANDBOX_CLIENT_ID"}},
			&ucli.StringFlag{Name: "client-secret", Usage: "client `SECRET` (prefer the variable: flags show in ps)", EnvVars: []string{"FHIRSANDBOX_CLIENT_SECRET"}},
			&ucli.StringFlag{Name: "tenant", Usage: "tenant `GUID` the token is for", EnvVars: []string{"FHIRSANDBOX_TENANT"}},
			&ucli.StringFlag{Name: "scope", Usage: "extra space-separated `SCOPES` to ask for besides the tenant"},
		},
		Action: tokenAction,
	}
}

func tokenAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	base, err := baseURL(c)
	if err != nil {
		return err
	}
	var missing []string
	for _, f := range []string{"client-id", "client-secret", "tenant"} {
		if c.String(f) == "" {
			missing = append(missing, "--"+f)
		}
	}
	if len(missing) > 0 {
		return usagef("token: %s required", strings.Join(missing, ", "))
	}
	scope := c.String("tenant")
	if extra := strings.TrimSpace(c.String("scope")); extra != "" {
		scope += " " + extra
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.String("client-id")},
		"client_secret": {c.String("client-secret")},
		"scope":         {scope},
	}
	req, err := http.NewRequestWithContext(c.Context, "POST", base+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := (&http.Client{Timeout: callTimeout}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the token endpoint at %s/token (is the sandbox running? see --url): %w", base, err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxReplySize))
	if err != nil {
		return fmt.Errorf("token: read answer: %w", err)
	}
	if err := json.Unmarshal(raw, &body); err != nil {
		return fmt.Errorf("token: HTTP %d and no OAuth JSON answer (is %s a fhirsandbox?)", res.StatusCode, base)
	}
	if res.StatusCode != http.StatusOK || body.AccessToken == "" {
		if body.Error == "" {
			return fmt.Errorf("token: HTTP %d without an access token", res.StatusCode)
		}
		msg := body.Error
		if body.Description != "" {
			msg += ": " + body.Description
		}
		return errors.New("token: " + oneLine(msg))
	}
	_, err = fmt.Fprintln(c.App.Writer, body.AccessToken)
	return err
}
