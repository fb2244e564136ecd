package cli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/sandbox/state"
	ucli "github.com/urfave/cli/v2"
)

func serveCommand(d deps) *ucli.Command {
	return &ucli.Command{
		Name:  "serve",
		Usage: "run the sandbox server until SIGINT or SIGTERM",
		Description: `Starts the sandbox on the built-in default configuration, or on --config
FILE laid over it, then flags and FHIRSANDBOX_* variables over that.
Prints the listen address, the FHIR bases, the token URL and (when none is
configured) a freshly generated admin token, then serves until interrupted
and shuts down gracefully. A configuration error lists every problem as
file:line: message and exits 2 without starting.

Examples:
  fhirsandbox serve
  fhirsandbox serve --listen 127.0.0.1:0            # any free port
  fhirsandbox serve --config sandbox.yaml --fhir-version dstu2
  fhirsandbox serve --state sandbox.state          # clients, secrets and writes survive a restart
  fhirsandbox serve --scenario slow-ehr --scenario my-faults.yaml
  fhirsandbox serve --log-format json --log-level warn
  FHIRSANDBOX_PUBLIC_URL=https://abc.ngrok.app fhirsandbox serve`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "config", Aliases: []string{"c"}, Usage: "YAML config `FILE` (default: the built-in configuration, see sandbox.yaml)", EnvVars: []string{"FHIRSANDBOX_CONFIG"}},
			&ucli.StringFlag{Name: "listen", Usage: "`HOST:PORT` to listen on; port 0 picks a free port (config: listen)", EnvVars: []string{"FHIRSANDBOX_LISTEN"}},
			&ucli.StringFlag{Name: "fhir-version", Usage: "default FHIR release, `" + spec.NameChoices() + "` (config: fhir_version)", EnvVars: []string{"FHIRSANDBOX_FHIR_VERSION"}},
			&ucli.StringFlag{Name: "public-url", Usage: "public base `URL` such as https://abc.ngrok.app (config: public_url)", EnvVars: []string{"FHIRSANDBOX_PUBLIC_URL"}},
			&ucli.IntFlag{Name: "patients", Usage: "synthetic patients per local tenant, `N` from 0 to 1000000 (config: tenants[].patients)", DefaultText: "from config", EnvVars: []string{"FHIRSANDBOX_PATIENTS"}},
			&ucli.Int64Flag{Name: "seed", Usage: "random seed `S` of every local tenant (config: tenants[].seed)", DefaultText: "from config", EnvVars: []string{"FHIRSANDBOX_SEED"}},
			&ucli.StringSliceFlag{Name: "scenario", Usage: "switch on a built-in scenario `NAME` or a scenario FILE for live traffic (repeatable)", EnvVars: []string{"FHIRSANDBOX_SCENARIO"}},
			&ucli.StringFlag{Name: "log-format", Usage: "log `FORMAT` on stderr: text (key=value lines) or json (one JSON object per line) (config: log.format)", DefaultText: "text", EnvVars: []string{"FHIRSANDBOX_LOG_FORMAT"}},
			&ucli.StringFlag{Name: "log-level", Usage: "least severe `LEVEL` logged: debug, info (one line per request), warn or error (config: log.level)", DefaultText: "info", EnvVars: []string{"FHIRSANDBOX_LOG_LEVEL"}},
			&ucli.StringFlag{Name: "state", Usage: "journal `FILE` keeping clients, secrets, tenants, written resources and a generated admin token across restarts (config: state_file)", EnvVars: []string{"FHIRSANDBOX_STATE"}},
			&ucli.StringFlag{Name: "admin-token", Usage: "admin `TOKEN`, at least 16 characters; prefer the environment variable, which ps does not show (config: admin.token)", EnvVars: []string{"FHIRSANDBOX_ADMIN_TOKEN"}},
		},
		Action: func(c *ucli.Context) error { return serveAction(c, d) },
	}
}

// serveConfigLines builds the effective configuration: defaults, then the file,
// then flags and environment (urfave/cli already prefers a flag to its
// variable). Flag values are checked here so a mistake names the flag.
// It also returns the config file's name and where each of its settings
// was written, for the start-up warnings.
func serveConfigLines(c *ucli.Context) (cfg sandbox.Config, file string, lines sandbox.Locator, err error) {
	cfg = sandbox.DefaultConfig()
	if path := c.String("config"); c.IsSet("config") {
		if path == "" {
			return cfg, "", nil, usagef("--config: empty file name")
		}
		if cfg, lines, err = sandbox.LoadConfigLines(path); err != nil {
			return cfg, "", nil, err
		}
		file = path
	}
	cfg, err = serveFlags(c, cfg)
	return cfg, file, lines, err
}

// serveFlags lays the flags and environment over cfg.
func serveFlags(c *ucli.Context, cfg sandbox.Config) (sandbox.Config, error) {
	if c.IsSet("listen") {
		v := c.String("listen")
		if err := sandbox.CheckListen(v); err != nil {
			return cfg, usagef("--listen: %v", err)
		}
		cfg.Listen = v
	}
	if c.IsSet("fhir-version") {
		rel, ok := spec.Lookup(c.String("fhir-version"))
		if !ok {
			return cfg, usagef("--fhir-version: %q is not a supported release (want %s)", c.String("fhir-version"), spec.NameList())
		}
		cfg.FHIRVersion = rel.Name
	}
	if c.IsSet("public-url") {
		v := strings.TrimSuffix(c.String("public-url"), "/")
		if v != "" {
			if err := sandbox.CheckPublicURL(v); err != nil {
				return cfg, usagef("--public-url: %v", err)
			}
		}
		cfg.PublicURL = v
	}
	if c.IsSet("patients") {
		n := c.Int("patients")
		if n < 0 || n > spec.MaxPatients {
			return cfg, usagef("--patients: %d is out of range (want 0 to %d)", n, spec.MaxPatients)
		}
		for i := range cfg.Tenants {
			if cfg.Tenants[i].Upstream == "" {
				cfg.Tenants[i].Patients = n
			}
		}
	}
	if c.IsSet("seed") {
		for i := range cfg.Tenants {
			cfg.Tenants[i].Seed = c.Int64("seed")
		}
	}
	if c.IsSet("state") {
		cfg.StateFile = c.String("state")
	}
	if c.IsSet("log-format") {
		v := c.String("log-format")
		if err := sandbox.CheckLogFormat(v); err != nil {
			return cfg, usagef("--log-format: %v", err)
		}
		cfg.Log.Format = v
	}
	if c.IsSet("log-level") {
		v := c.String("log-level")
		if err := sandbox.CheckLogLevel(v); err != nil {
			return cfg, usagef("--log-level: %v", err)
		}
		cfg.Log.Level = v
	}
	// an empty FHIRSANDBOX_ADMIN_TOKEN= counts as unset, as an empty
	// admin.token does
	if v := c.String("admin-token"); c.IsSet("admin-token") && v != "" {
		if len(v) < sandbox.MinAdminTokenLen {
			return cfg, usagef("--admin-token (or FHIRSANDBOX_ADMIN_TOKEN): too short, %d characters (want at least %d; `openssl rand -hex 32` makes a good one)", len(v), sandbox.MinAdminTokenLen)
		}
		cfg.Admin.Token = v
	}
	return cfg, cfg.Validate()
}

func serveAction(c *ucli.Context, d deps) error {
	if err := noArgs(c); err != nil {
		return err
	}
	cfg, file, lines, err := serveConfigLines(c)
	if err != nil {
		return err
	}
	// every warning before the server starts, in the words and
	// file:line form of the config's errors
	// (as JSON log records when the log is JSON, so every line parses)
	logger, sink, err := newLogger(c.App.ErrWriter, cfg.Log.Format, cfg.Log.Level)
	if err != nil {
		return err
	}
	defer sink.Close()
	for _, w := range cfg.Warnings(d.now(), file, lines) {
		if cfg.Log.Format == "json" {
			logger.Warn("configuration", "warning", w)
		} else {
			fmt.Fprintf(c.App.ErrWriter, "fhirsandbox: warning: %s\n", w)
		}
	}
	srv, err := sandbox.New(cfg, sandbox.Options{Logger: logger, ValidateFixture: structural.Release, Now: d.now, Rand: d.rand})
	if errors.Is(err, state.ErrLocked) || errors.Is(err, state.ErrCorrupt) {
		// another server runs on this state file, or the file is damaged
		// in its middle: the fix is the file (or another one), as with
		// any other configuration mistake
		return usagef("--state: %v", err)
	}
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, arg := range c.StringSlice("scenario") {
		sc, err := loadScenario(arg)
		if err != nil {
			return usagef("--scenario: %v", err)
		}
		if err := srv.ActivateScenario(sc); err != nil {
			return usagef("--scenario %s: %v", arg, err)
		}
		logger.Info("scenario active", "name", sc.Name)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	printBanner(c.App.Writer, srv, ln.Addr(), d.now())
	return srv.Run(c.Context, ln)
}

// printBanner tells the user, once, where everything is. The first line's
// format is relied on by scripts and the end-to-end test: "listening on URL".
func printBanner(w io.Writer, srv *sandbox.Server, addr net.Addr, now time.Time) {
	cfg := srv.Config()
	local := "http://" + browsable(addr)
	public := cfg.PublicURL
	if public == "" {
		public = local
	}
	fmt.Fprintf(w, "listening on %s\n", local)
	for _, rel := range spec.Releases() {
		mark := ""
		if rel.Name == cfg.FHIRVersion {
			mark = " (default)"
		}
		fmt.Fprintf(w, "  %-12s %s%s%s\n", rel.Label+" base", public, rel.Base(), mark)
	}
	fmt.Fprintf(w, "  %-12s %s/token\n", "token URL", public)
	fmt.Fprintf(w, "  %-12s %s/portal/\n", "portal", public)
	for _, t := range cfg.Tenants {
		fmt.Fprintf(w, "  %-12s %s  %s\n", "tenant", t.ID, t.Name)
	}
	switch srv.AdminTokenSource() {
	case sandbox.AdminTokenGenerated:
		kept := ""
		if cfg.StateFile != "" {
			kept = ", kept in " + cfg.StateFile + " for the next start"
		}
		fmt.Fprintf(w, "  %-12s %s  (generated; shown only now%s)\n", "admin token", srv.AdminToken(), kept)
	case sandbox.AdminTokenKept:
		fmt.Fprintf(w, "  %-12s kept from %s (shown when it was generated; set FHIRSANDBOX_ADMIN_TOKEN to choose one)\n", "admin token", cfg.StateFile)
	}
	if len(cfg.Tenants) == 0 {
		return
	}
	// a copy-paste request: a token, then a patient search with it
	client, secret := "<client-id>", "<client-secret>"
	if len(cfg.Clients) > 0 {
		client = cfg.Clients[0].ID
		for _, s := range cfg.Clients[0].Secrets {
			// an expired secret would make the example fail
			if s.Value != "" && (s.Expires.IsZero() || now.Before(s.Expires)) {
				secret = s.Value
				break
			}
		}
	}
	fmt.Fprintf(w, "\ntry it:\n")
	fmt.Fprintf(w, "  TOKEN=$(curl -s %s/token -d grant_type=client_credentials -d client_id=%s -d client_secret=%s -d scope=%s | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')\n",
		public, shellQuote(client), shellQuote(secret), cfg.Tenants[0].ID)
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" -d 'family=smi&_count=5' %s/%s/Patient/_search\n", public, cfg.FHIRVersion)
}

// shellQuote quotes s for a POSIX shell when it holds anything but safe
// characters.
func shellQuote(s string) string {
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:/<>", r)) {
			safe = false
			break
		}
	}
	if safe && !strings.ContainsAny(s, "<>") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// browsable turns a wildcard listen address into one a browser can open.
func browsable(addr net.Addr) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	if tcp.IP == nil || tcp.IP.IsUnspecified() {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return tcp.String()
}
