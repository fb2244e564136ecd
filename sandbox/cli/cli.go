package cli

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	ucli "github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

// Main runs the command line and returns its exit code. SIGINT and SIGTERM
// cancel the running command (serve shuts down gracefully, generate removes
// its partial output); a second signal gets the default behaviour back.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	return run(ctx, args, stdout, stderr)
}

// usageError is a mistake on the command line: exit 2 and a pointer to
// --help.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// deps is what commands take from their environment, injected so tests
// control it: the clock and the source of randomness (secrets, GUIDs).
type deps struct {
	now  func() time.Time
	rand io.Reader
}

func defaultDeps() deps { return deps{now: time.Now, rand: crand.Reader} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, defaultDeps())
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, d deps) int {
	if len(args) == 0 {
		args = []string{"fhirsandbox"}
	}
	app := newApp(stdout, stderr, d)
	err := app.RunContext(ctx, args)
	if err == nil {
		return exitOK
	}
	var ue *usageError
	var cf *checkFailed
	var ce *sandbox.ConfigError
	var fe *sandbox.FixtureError
	switch {
	case errors.As(err, &cf):
		fmt.Fprintf(stderr, "fhirsandbox: %v\n", cf)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(stderr, "fhirsandbox: invalid configuration:\n%v\n", ce)
		return exitUsage
	case errors.As(err, &fe):
		// like a bad config, the fix is in the files: exit 2
		fmt.Fprintf(stderr, "fhirsandbox: invalid fixtures:\n%v\n", fe)
		return exitUsage
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "fhirsandbox: %v\nRun 'fhirsandbox --help' or 'fhirsandbox COMMAND --help' for usage.\n", ue)
		return exitUsage
	}
	fmt.Fprintf(stderr, "fhirsandbox: %v\n", err)
	return exitFailure
}

// appDescriptionFormat is the top-level help; the releases come from the
// release table.
const appDescriptionFormat = `fhirsandbox plays the "interop partner" of a FHIR client such as the
Microsoft Teams Patients app: an OAuth2 client-credentials token endpoint,
routing by Azure AD tenant, and a reproducible synthetic hospital served
over FHIR %s.

Examples:
  fhirsandbox serve                               # built-in defaults, 127.0.0.1:8080
  fhirsandbox serve --config sandbox.yaml --listen :8080
  fhirsandbox serve --public-url https://abc.ngrok.app
  fhirsandbox generate --patients 1000 --seed 7 -o hospital.json
  fhirsandbox version

Every serve flag can also be set by an environment variable
(FHIRSANDBOX_LISTEN, ...). Precedence: flags, then environment, then the
config file, then the built-in defaults.`

func newApp(stdout, stderr io.Writer, d deps) *ucli.App {
	onUsage := func(_ *ucli.Context, err error, _ bool) error { return &usageError{msg: err.Error()} }
	cmds := []*ucli.Command{serveCommand(d), generateCommand(), versionCommand(), clientsCommand(), tenantsCommand(), importCommand(), tokenCommand(), scenarioCommand(), checkCommand(), initCommand(d), configCommand(d), requestsCommand(), healthCommand(), completionCommand()}
	// urfave/cli's built-in help flag and help command are package
	// globals it writes to on every run; each app gets its own help flag
	// instead, so Main can run concurrently (in tests) without races.
	for _, c := range cmds {
		c.OnUsageError = onUsage
		c.HideHelp = true
		c.Flags = append(c.Flags, helpFlag())
	}
	return &ucli.App{
		Name:         "fhirsandbox",
		Usage:        "a FHIR DSTU2/STU3 interop partner sandbox with OAuth2 and tenant routing",
		Description:  fmt.Sprintf(appDescriptionFormat, spec.LabelList()),
		HideVersion:  true,
		HideHelp:     true,
		Flags:        []ucli.Flag{helpFlag(), &ucli.BoolFlag{Name: "version", Usage: "print the version (as the version command does)", DisableDefaultText: true}},
		Writer:       stdout,
		ErrWriter:    stderr,
		Commands:     cmds,
		OnUsageError: onUsage,
		// the hidden --generate-bash-completion flag the completion
		// scripts of bash, zsh and PowerShell call at each TAB
		EnableBashCompletion: true,
		// Errors are turned into exit codes by run, never by os.Exit inside
		// the library.
		ExitErrHandler: func(*ucli.Context, error) {},
		Action: func(c *ucli.Context) error {
			if c.Bool("version") {
				if c.NArg() > 0 {
					return usagef("--version takes no argument, got %q", c.Args().First())
				}
				printVersion(c.App.Writer)
				return nil
			}
			if c.NArg() > 0 {
				return usagef("unknown command %q", c.Args().First())
			}
			return ucli.ShowAppHelp(c)
		},
	}
}

func helpFlag() ucli.Flag {
	return &ucli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "show help", DisableDefaultText: true}
}

// noArgs rejects stray positional arguments, which are always a typo here
// (a flag without its dashes, a value without its flag).
func noArgs(c *ucli.Context) error {
	if c.NArg() > 0 {
		return usagef("%s: unexpected argument %q", c.Command.Name, c.Args().First())
	}
	return nil
}
