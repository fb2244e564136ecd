package cli

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
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
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/stu3/Patient

With --client-key the client authenticates by private_key_jwt (SMART
Backend Services) instead of a secret: the command signs a client
assertion (iss = sub = --client-id, aud = the token URL, a fresh jti,
exp 4 minutes ahead) with the private key in the PEM file. The key's kid
defaults to its RFC 7638 thumbprint, which is the kid the sandbox gives a
public key registered from PEM; the algorithm defaults to RS384 for RSA,
ES256 for P-256 and ES384 for P-384.

  fhirsandbox token --client-id backend --client-key backend-key.pem \
      --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c --scope "system/Patient.rs"`,
		Flags: []ucli.Flag{
			urlFlag(),
			&ucli.StringFlag{Name: "client-id", Usage: "OAuth client `ID`", EnvVars: []string{"FHIRSANDBOX_CLIENT_ID"}},
			&ucli.StringFlag{Name: "client-secret", Usage: "client `SECRET` (prefer the variable: flags show in ps)", EnvVars: []string{"FHIRSANDBOX_CLIENT_SECRET"}},
			&ucli.StringFlag{Name: "tenant", Usage: "tenant `GUID` the token is for", EnvVars: []string{"FHIRSANDBOX_TENANT"}},
			&ucli.StringFlag{Name: "scope", Usage: "extra space-separated `SCOPES` to ask for besides the tenant"},
			&ucli.StringFlag{Name: "client-key", Usage: "private key PEM `FILE`: authenticate with a signed client assertion instead of a secret"},
			&ucli.StringFlag{Name: "kid", Usage: "key `ID` the assertion names (default: the key's RFC 7638 thumbprint)"},
			&ucli.StringFlag{Name: "alg", Usage: "assertion `ALG`: RS384, ES384, RS256 or ES256 (default: from the key)"},
		},
		Action: tokenAction,
	}
}

// clientAssertion signs a client assertion with the PEM key in file.
func clientAssertion(file, kid, alg, clientID, tokenURL string, now time.Time) (string, error) {
	pem, err := readCapped(file, auth.MaxJWKSBytes)
	if err != nil {
		return "", fmt.Errorf("client key: %w", err)
	}
	s, err := auth.NewClientSigner(pem, kid, alg)
	if err != nil {
		return "", fmt.Errorf("client key %s: %w", file, err)
	}
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	return s.Sign(auth.AssertionClaims{ClientID: clientID, Audience: tokenURL, ID: base64.RawURLEncoding.EncodeToString(jti), IssuedAt: now, Expiry: now.Add(4 * time.Minute)})
}

// readCapped reads a file of at most max bytes.
func readCapped(file string, max int64) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes", file, max)
	}
	return b, nil
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
	need := []string{"client-id", "client-secret", "tenant"}
	if c.String("client-key") != "" {
		need = []string{"client-id", "tenant"}
		if c.IsSet("client-secret") {
			return usagef("token: give --client-secret or --client-key, not both")
		}
	} else if c.IsSet("kid") || c.IsSet("alg") {
		return usagef("token: --kid and --alg go with --client-key")
	}
	for _, f := range need {
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
		"grant_type": {"client_credentials"},
		"client_id":  {c.String("client-id")},
		"scope":      {scope},
	}
	if f := c.String("client-key"); f != "" {
		a, err := clientAssertion(f, c.String("kid"), c.String("alg"), c.String("client-id"), base+"/token", time.Now())
		if err != nil {
			return err
		}
		form.Set("client_assertion_type", auth.AssertionType)
		form.Set("client_assertion", a)
	} else {
		form.Set("client_secret", c.String("client-secret"))
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
