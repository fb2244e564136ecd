package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/admin"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

func importCommand() *ucli.Command {
	return &ucli.Command{
		Name:      "import",
		Usage:     "load FHIR Bundles or NDJSON into a tenant of a running sandbox, as fixtures load at start",
		ArgsUsage: "FILE|DIR|GLOB",
		Description: `Each file (a directory's or a glob's .json and .ndjson files, in name
order) is sent to POST /admin/api/tenants/{id}/import and loaded into the
store of one release: --fhir-version, else the release its content shows,
else the sandbox's default. References are resolved as a transaction
resolves them, also against files imported or loaded before. A file with
a problem stores nothing; every problem of every file is printed and the
command exits 2. Writes are journalled by --state like API writes.`,
		Flags: append(adminFlags(),
			&ucli.StringFlag{Name: "tenant", Usage: "tenant `GUID` to load into (required)"},
			&ucli.StringFlag{Name: "fhir-version", Usage: "`RELEASE` of the files (dstu2, stu3, r4); default: detected"},
		),
		Action: importAction,
	}
}

func importAction(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if err := wantArgs(c, args, "FILE|DIR|GLOB"); err != nil {
		return err
	}
	tenantID, err := spec.ParseGUID(c.String("tenant"))
	if err != nil {
		return usagef("--tenant: %q is not a GUID", c.String("tenant"))
	}
	rel := c.String("fhir-version")
	if _, ok := spec.Lookup(rel); rel != "" && !ok {
		return usagef("--fhir-version: %q is not a supported release (want %s)", rel, spec.NameList())
	}
	files, err := sandbox.FixtureFiles(args[0])
	if err != nil {
		return usagef("%s: %v", args[0], err)
	}
	ac, err := newAdminClient(c)
	if err != nil {
		return err
	}
	var problems []sandbox.Problem
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			problems = append(problems, sandbox.Problem{File: f, Msg: err.Error()})
			continue
		}
		q := url.Values{"name": {filepath.Base(f)}}
		if rel != "" {
			q.Set("fhir_version", rel)
		}
		var res admin.ImportResult
		raw, err := ac.send(c.Context, http.MethodPost, "/admin/api/tenants/"+tenantID+"/import?"+q.Encode(), bytes.NewReader(data), "application/fhir+json", &res)
		var ae *apiError
		switch {
		case errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity:
			var bad admin.ImportResult
			_ = json.Unmarshal(raw, &bad)
			for _, p := range bad.Problems {
				problems = append(problems, sandbox.Problem{File: f, Msg: p})
			}
			continue
		case err != nil:
			return fmt.Errorf("import %s: %w", f, err)
		}
		if c.Bool("json") {
			if err := printJSON(c.App.Writer, raw); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s: %d resources stored in %s\n", f, res.Stored, res.Release)
	}
	if len(problems) > 0 {
		return &sandbox.FixtureError{Problems: problems}
	}
	return nil
}
