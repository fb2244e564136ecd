package cli

import (
	"fmt"

	ucli "github.com/urfave/cli/v2"
)

func requestsCommand() *ucli.Command {
	return adminCommand(&ucli.Command{
		Name:  "requests",
		Usage: "manage the request journal of a running sandbox",
		Description: `Calls the admin API of a running sandbox (--url, default ` + defaultURL + `)
with the admin token (--admin-token or FHIRSANDBOX_ADMIN_TOKEN). The journal
keeps the latest requests the sandbox answered (GET /admin/api/requests, the
portal's Requests page); clear empties it, for example between two test runs.

Examples:
  fhirsandbox requests clear`,
		Subcommands: []*ucli.Command{
			{Name: "clear", Usage: "forget every request kept in the journal", ArgsUsage: " ", Action: requestsClear},
		},
	}, adminFlags)
}

func requestsClear(c *ucli.Context) error {
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
	if _, err := ac.call(c.Context, "DELETE", "/admin/api/requests", nil, nil); err != nil {
		return fmt.Errorf("clear the request journal: %w", err)
	}
	if c.Bool("json") {
		fmt.Fprintln(c.App.Writer, `{"cleared":true}`)
		return nil
	}
	fmt.Fprintln(c.App.Writer, "cleared the request journal")
	return nil
}
