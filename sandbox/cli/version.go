package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

// Release builds stamp these with the linker, for example
//
//	go build -ldflags "-X github.com/fhirsandbox/fhirsandbox/sandbox/cli.version=v1.2.3
//	  -X github.com/fhirsandbox/fhirsandbox/sandbox/cli.commit=abc123
//	  -X github.com/fhirsandbox/fhirsandbox/sandbox/cli.date=2026-12-01T10:00:00Z"
//
// (the Dockerfile and .goreleaser.yaml do). They are constants in all but
// name: nothing assigns them at run time. Left empty, buildInfo fills them
// from the Go build information (module version from go install
// ...@vX.Y.Z, VCS revision and time from a build in a git checkout).
var (
	version string
	commit  string
	date    string
)

// BuildInfo is what the binary knows about its own build.
type BuildInfo struct {
	Version  string // v1.2.3, a pseudo-version, or "(devel)"
	Commit   string // VCS revision, or "unknown"
	Date     string // commit or build time (RFC 3339), or ""
	Modified bool   // built from a checkout with uncommitted changes
}

// readBuildInfo merges the linker-stamped values (which win) with the Go
// build information.
func readBuildInfo() BuildInfo {
	info, _ := debug.ReadBuildInfo()
	return mergeBuildInfo(BuildInfo{Version: version, Commit: commit, Date: date}, info)
}

// mergeBuildInfo fills what stamped leaves empty from info (nil: none):
// the module version (go install ...@vX.Y.Z; not "(devel)"), then
// vcs.revision, vcs.time and vcs.modified (a build in a git checkout).
func mergeBuildInfo(stamped BuildInfo, info *debug.BuildInfo) BuildInfo {
	bi := stamped
	if info != nil {
		if bi.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			bi.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if bi.Commit == "" {
					bi.Commit = s.Value
				}
			case "vcs.time":
				if bi.Date == "" {
					bi.Date = s.Value
				}
			case "vcs.modified":
				// a stamped release says what it is; only an unstamped
				// build reports its checkout's state
				if stamped.Commit == "" {
					bi.Modified = s.Value == "true"
				}
			}
		}
	}
	if bi.Version == "" {
		bi.Version = "(devel)"
	}
	if bi.Commit == "" {
		bi.Commit = "unknown"
	}
	return bi
}

func versionCommand() *ucli.Command {
	return &ucli.Command{
		Name:   "version",
		Usage:  "print the version, commit, build date, Go version and the FHIR releases served",
		Action: versionAction,
	}
}

func versionAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	printVersion(c.App.Writer)
	return nil
}

// printVersion is the output of both `fhirsandbox version` and
// `fhirsandbox --version`.
func printVersion(w io.Writer) {
	bi := readBuildInfo()
	revision := bi.Commit
	if bi.Date != "" {
		revision += " (" + bi.Date + ")"
	}
	if bi.Modified {
		revision += " modified"
	}
	var releases []string
	for _, rel := range spec.Releases() {
		releases = append(releases, fmt.Sprintf("%s (FHIR %s)", rel.Label, rel.FHIRVersion))
	}
	fmt.Fprintf(w, "fhirsandbox %s\n", bi.Version)
	fmt.Fprintf(w, "revision    %s\n", revision)
	fmt.Fprintf(w, "go          %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(w, "fhir        %s\n", strings.Join(releases, ", "))
}
