package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:   "version",
		Usage:  "print the version, Go version and the FHIR releases served",
		Action: versionAction,
	}
}

func versionAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	version, revision := "(devel)", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		var rev, at, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			revision = rev
			if at != "" {
				revision += " (" + at + ")"
			}
			if modified == "true" {
				revision += " modified"
			}
		}
	}
	var releases []string
	for _, rel := range spec.Releases() {
		releases = append(releases, fmt.Sprintf("%s (FHIR %s)", rel.Label, rel.FHIRVersion))
	}
	w := c.App.Writer
	fmt.Fprintf(w, "fhirsandbox %s\n", version)
	fmt.Fprintf(w, "revision    %s\n", revision)
	fmt.Fprintf(w, "go          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "fhir        %s\n", strings.Join(releases, ", "))
	return nil
}
