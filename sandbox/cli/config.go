package cli

import (
	"errors"
	"fmt"
	"os"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	ucli "github.com/urfave/cli/v2"
)

// defaultConfigFile is the file init writes and config check reads when
// given none.
const defaultConfigFile = "sandbox.yaml"

func configCommand(d deps) *ucli.Command {
	check := &ucli.Command{
		Name:      "check",
		Usage:     "check a config file and report every problem at once",
		ArgsUsage: "[FILE]",
		Description: `Reads FILE (default: $FHIRSANDBOX_CONFIG, else ./sandbox.yaml) as serve --config
would and prints every problem at once, each as file:line: message: YAML
mistakes (syntax, unknown keys, wrong types) and semantic ones (secrets
shorter than 16 characters, duplicate ids, unknown FHIR releases, bad
GUIDs...), then the warnings serve would print at start (expired or
soon-expiring secrets, the development secret, a public URL with
auth.required: false or with a portal that would answer 403).

Exit status: 0 when the file is valid (warnings or not), 2 when it has
errors.

Examples:
  fhirsandbox config check
  fhirsandbox config check deploy/sandbox.yaml`,
		Action: func(c *ucli.Context) error { return configCheck(c, d) },
	}
	// adminCommand gives check the help flag and usage-error handling, and
	// config the "unknown command" action, as for the admin commands
	return adminCommand(&ucli.Command{
		Name:        "config",
		Usage:       "check configuration files",
		Subcommands: []*ucli.Command{check},
	}, func() []ucli.Flag { return nil })
}

func configCheck(c *ucli.Context, d deps) error {
	if c.NArg() > 1 {
		return usagef("config check: want at most one FILE, got %d arguments", c.NArg())
	}
	path := c.Args().First()
	if path == "" {
		path = os.Getenv("FHIRSANDBOX_CONFIG")
	}
	if path == "" {
		path = defaultConfigFile
	}
	warnings, err := sandbox.CheckConfigFile(path, d.now())
	w := c.App.Writer
	var ce *sandbox.ConfigError
	if err != nil && !errors.As(err, &ce) {
		return err
	}
	if ce != nil {
		for _, p := range ce.Problems {
			fmt.Fprintln(w, p)
		}
	}
	for _, p := range warnings {
		p.Msg = "warning: " + p.Msg
		fmt.Fprintln(w, p)
	}
	if ce != nil {
		return &checkFailed{msg: fmt.Sprintf("%s: %d error(s), %d warning(s)", path, len(ce.Problems), len(warnings))}
	}
	fmt.Fprintf(w, "%s: valid, %d warning(s)\n", path, len(warnings))
	return nil
}

// checkFailed is a check that found errors it has already printed: exit
// 2 (the fix is in the file, as for a bad config given to serve) with a
// one-line summary.
type checkFailed struct{ msg string }

func (e *checkFailed) Error() string { return e.msg }
