package cli

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	ucli "github.com/urfave/cli/v2"
)

// healthCommand probes a running sandbox's /healthz. It exists for
// container health checks: the container image has no shell and no curl,
// so the binary checks itself.
func healthCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "health",
		Usage: "probe a running sandbox's health endpoint; exit 0 when it answers 200",
		Description: `Sends GET to --url (default http://127.0.0.1:8080/healthz) and exits 0
when the answer is 200 OK, 1 otherwise (refused, timed out, any other
status). Meant for container health checks, where no curl is at hand.

Examples:
  fhirsandbox health
  fhirsandbox health --url http://127.0.0.1:8080/healthz --timeout 2s`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "url", Value: defaultURL + "/healthz", Usage: "health `URL` to probe", EnvVars: []string{"FHIRSANDBOX_HEALTH_URL"}},
			&ucli.DurationFlag{Name: "timeout", Value: 5 * time.Second, Usage: "give up after `D` (from 100ms to 1m)"},
			&ucli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "print nothing, only set the exit status", DisableDefaultText: true},
		},
		Action: healthAction,
	}
}

func healthAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	raw := c.String("url")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return usagef("--url: %q is not an http(s) URL such as %s/healthz", raw, defaultURL)
	}
	timeout := c.Duration("timeout")
	if timeout < 100*time.Millisecond || timeout > time.Minute {
		return usagef("--timeout: %s is out of range (want 100ms to 1m)", timeout)
	}
	req, err := http.NewRequestWithContext(c.Context, http.MethodGet, raw, nil)
	if err != nil {
		return usagef("--url: %v", err)
	}
	client := &http.Client{Timeout: timeout}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: %s answered %s", raw, res.Status)
	}
	if !c.Bool("quiet") {
		fmt.Fprintf(c.App.Writer, "healthy: %s answered %s\n", raw, res.Status)
	}
	return nil
}
