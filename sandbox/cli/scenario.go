package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	ucli "github.com/urfave/cli/v2"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
)

func scenarioCommand() *ucli.Command {
	targetFlags := func() []ucli.Flag {
		return []ucli.Flag{
			&ucli.StringFlag{Name: "target", Usage: "run against the sandbox (or partner) at `URL` instead of an in-process sandbox", EnvVars: []string{"FHIRSANDBOX_TARGET"}},
			&ucli.StringFlag{Name: "client-id", Usage: "OAuth client `ID` the steps authenticate as (default: the scenario's or teams-patients-app)", EnvVars: []string{"FHIRSANDBOX_CLIENT_ID"}},
			&ucli.StringFlag{Name: "client-secret", Usage: "client `SECRET`", EnvVars: []string{"FHIRSANDBOX_CLIENT_SECRET"}},
			&ucli.StringFlag{Name: "tenant", Usage: "tenant `GUID` of the steps' tokens", EnvVars: []string{"FHIRSANDBOX_TENANT"}},
			&ucli.StringFlag{Name: "admin-token", Usage: "admin `TOKEN` of the --target sandbox (required with --target): the scenario is switched on there through the admin API for the run and off after it, and the request journal is read", EnvVars: []string{"FHIRSANDBOX_ADMIN_TOKEN"}},
			&ucli.StringFlag{Name: "junit", Usage: "also write a JUnit XML report to `FILE`"},
			&ucli.BoolFlag{Name: "json", Usage: "print the reports as JSON", DisableDefaultText: true},
		}
	}
	return adminCommand(&ucli.Command{
		Name:  "scenario",
		Usage: "list, show, validate and run scenarios (edge cases a partner client must survive)",
		Description: `A scenario makes the sandbox misbehave on purpose (rules), changes it over
time (timeline: secrets expire, keys rotate, tenants go down) and scripts
what a client should observe (steps). NAME is a built-in scenario (see
list); FILE is a scenario YAML file.

Examples:
  fhirsandbox scenario list
  fhirsandbox scenario show expired-secret
  fhirsandbox scenario validate my-scenario.yaml
  fhirsandbox scenario run expired-secret slow-ehr --junit report.xml
  fhirsandbox scenario run my-scenario.yaml --target http://127.0.0.1:8080 \
      --admin-token "$FHIRSANDBOX_ADMIN_TOKEN" --client-id teams-patients-app \
      --client-secret change-me-dev-secret --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c

Without --target each scenario runs against a fresh in-process sandbox
with its setup applied and a simulated clock (waits take no real time).
With --target the sandbox running there is used as it is configured (a
scenario's setup: is not applied; the run says so): the scenario is
switched on through its admin API (--admin-token is required), its steps
run, and it is switched off again, also when a step fails or the run is
interrupted. JUnit time attributes are wall time; the time on the run's
clock is the simulated_time property.`,
		Subcommands: []*ucli.Command{
			{Name: "list", Usage: "list the built-in scenarios", ArgsUsage: " ", Action: scenarioList},
			{Name: "show", Usage: "print a built-in scenario's YAML", ArgsUsage: "NAME", Action: scenarioShow},
			{Name: "validate", Usage: "check scenario files; every problem is printed as file:line: message", ArgsUsage: "FILE...", Action: scenarioValidate},
			{Name: "run", Usage: "run scenarios' steps and print a pass/fail line per step", ArgsUsage: "NAME|FILE...", Flags: targetFlags(), Action: scenarioRun},
		},
	}, func() []ucli.Flag { return nil })
}

func checkCommand() *ucli.Command {
	return &ucli.Command{
		Name:  "check",
		Usage: "check a partner's FHIR server against the Patients app contract",
		Description: `Reads the target's metadata, picks the conformance scenario of its release
(patients-app-` + spec.NameChoices() + ` by the metadata's fhirVersion: ` + releaseVersions() + `),
and runs every query of the Patients app interface against it with the
checks on minimum fields. --target is the FHIR base URL; the token URL
comes from the metadata's oauth-uris extension. Given a server root
rather than a base, check lists the FHIR bases it finds under it.

A target that is not on this machine needs --client-id and --client-secret
(or FHIRSANDBOX_CLIENT_ID and FHIRSANDBOX_CLIENT_SECRET): the sandbox's
development credentials are the default for a loopback target only. When
the token cannot be had, the steps that need it are reported as skipped,
not as failures.

Examples:
  fhirsandbox check --target http://127.0.0.1:8080/stu3 --client-id teams-patients-app \
      --client-secret change-me-dev-secret --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c
  fhirsandbox check --target https://partner.example.org/fhir/dstu2 ... --junit check.xml

With --client-key the token requests authenticate by private_key_jwt
(SMART Backend Services): each is a client assertion signed with the
private key in the PEM file (kid: --kid, default the key's RFC 7638
thumbprint; alg: --alg, default by key type), aud = the target's root +
/token, instead of a client secret:
  fhirsandbox check --target http://127.0.0.1:8080/r4 --client-id backend \
      --client-key backend-key.pem --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c`,
		Flags: []ucli.Flag{
			&ucli.StringFlag{Name: "target", Usage: "FHIR base `URL` of the server to check", EnvVars: []string{"FHIRSANDBOX_TARGET"}},
			&ucli.StringFlag{Name: "client-id", Usage: "OAuth client `ID`", EnvVars: []string{"FHIRSANDBOX_CLIENT_ID"}},
			&ucli.StringFlag{Name: "client-secret", Usage: "client `SECRET`", EnvVars: []string{"FHIRSANDBOX_CLIENT_SECRET"}},
			&ucli.StringFlag{Name: "client-key", Usage: "private key PEM `FILE`: authenticate with signed client assertions instead of a secret"},
			&ucli.StringFlag{Name: "kid", Usage: "key `ID` the assertions name (default: the key's RFC 7638 thumbprint)"},
			&ucli.StringFlag{Name: "alg", Usage: "assertion `ALG`: RS384, ES384, RS256 or ES256 (default: from the key)"},
			&ucli.StringFlag{Name: "tenant", Usage: "tenant `GUID` of the token", EnvVars: []string{"FHIRSANDBOX_TENANT"}},
			&ucli.StringFlag{Name: "junit", Usage: "also write a JUnit XML report to `FILE`"},
			&ucli.BoolFlag{Name: "json", Usage: "print the report as JSON", DisableDefaultText: true},
		},
		Action: checkAction,
	}
}

func scenarioList(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	lib, err := sandbox.BuiltinScenarios()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSUMMARY")
	for _, s := range lib {
		summary, _, _ := strings.Cut(strings.TrimSpace(s.Description), "\n")
		if len(summary) > 100 {
			summary = summary[:97] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\n", s.Name, summary)
	}
	return tw.Flush()
}

func scenarioShow(c *ucli.Context) error {
	if c.NArg() != 1 {
		return usagef("scenario show: want one NAME")
	}
	if _, err := sandbox.BuiltinScenario(c.Args().First()); err != nil {
		return usagef("%v", err)
	}
	b, err := sandbox.BuiltinScenarioYAML(c.Args().First())
	if err != nil {
		return err
	}
	_, err = c.App.Writer.Write(b)
	return err
}

func scenarioValidate(c *ucli.Context) error {
	if c.NArg() == 0 {
		return usagef("scenario validate: want at least one FILE")
	}
	failed := 0
	for _, path := range c.Args().Slice() {
		if _, err := scenario.LoadFile(path); err != nil {
			failed++
			fmt.Fprintln(c.App.ErrWriter, err)
			continue
		}
		fmt.Fprintf(c.App.Writer, "%s: ok\n", path)
	}
	if failed > 0 {
		return usagef("%d of %d scenario files are invalid", failed, c.NArg())
	}
	return nil
}

// loadScenario takes a built-in name or a file path.
func loadScenario(arg string) (*scenario.Scenario, error) {
	if isFileArg(arg) {
		return scenario.LoadFile(arg)
	}
	return sandbox.BuiltinScenario(arg)
}

// isFileArg tells a scenario file from a built-in name.
func isFileArg(arg string) bool {
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.ContainsRune(arg, filepath.Separator) {
		return true
	}
	_, err := os.Stat(arg)
	return err == nil
}

func scenarioRun(c *ucli.Context) error {
	args, err := interspersed(c)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		return usagef("scenario run: want at least one NAME or FILE")
	}
	var scs []*scenario.Scenario
	var switches []activateBody
	for _, arg := range args {
		sc, sw, err := loadScenarioSwitch(arg)
		if err != nil {
			return usagef("%v", err)
		}
		scs, switches = append(scs, sc), append(switches, sw)
	}
	target := strings.TrimSuffix(c.String("target"), "/")
	if target != "" {
		if err := checkTargetURL(target); err != nil {
			return err
		}
		if c.String("admin-token") == "" {
			return usagef("scenario run --target: --admin-token (or FHIRSANDBOX_ADMIN_TOKEN) is required: the scenario is switched on at the target through its admin API for the run, and off after it; `fhirsandbox serve` prints the token at start")
		}
	}
	var reports []scenario.Report
	for i, sc := range scs {
		var rep scenario.Report
		var err error
		if target != "" {
			rep, err = runSwitchedOn(c, sc, switches[i], target)
		} else {
			rep, err = runInProcess(c.Context, sc, c)
		}
		if err != nil {
			return err
		}
		reports = append(reports, rep)
	}
	return writeReports(c, reports)
}

// activateBody is the admin API's POST /admin/api/scenarios body: a
// built-in scenario by name or a file's text.
type activateBody struct {
	Name string `json:"name,omitempty"`
	YAML string `json:"yaml,omitempty"`
}

// loadScenarioSwitch loads a built-in name or a file path, with what
// switches the same scenario on at a target.
func loadScenarioSwitch(arg string) (*scenario.Scenario, activateBody, error) {
	sc, err := loadScenario(arg)
	if err != nil {
		return nil, activateBody{}, err
	}
	if !isFileArg(arg) {
		return sc, activateBody{Name: arg}, nil
	}
	text, err := os.ReadFile(arg)
	if err != nil {
		return nil, activateBody{}, err
	}
	return sc, activateBody{YAML: string(text)}, nil
}

// checkTargetURL refuses a --target that is not an http(s) URL.
func checkTargetURL(target string) error {
	if !isHTTPBase(target) {
		return usagef("--target: %q is not an http(s) URL such as http://127.0.0.1:8080", target)
	}
	return nil
}

// runSwitchedOn switches sc on at the target, runs its steps there and
// switches it off again: after a failed step, and after an interrupt too
// (the switch-off does not use the cancelled context).
func runSwitchedOn(c *ucli.Context, sc *scenario.Scenario, sw activateBody, target string) (scenario.Report, error) {
	ac := &adminClient{base: target, token: c.String("admin-token"), http: &http.Client{Timeout: callTimeout}}
	if sc.Setup != nil {
		fmt.Fprintf(c.App.ErrWriter, "fhirsandbox: scenario %s: its setup: is not applied to %s (the target runs with its own configuration)\n", sc.Name, target)
	}
	if _, err := ac.call(c.Context, http.MethodPost, "/admin/api/scenarios", sw, nil); err != nil {
		return scenario.Report{}, fmt.Errorf("scenario %s: switch it on at %s: %w", sc.Name, target, err)
	}
	off := func() error {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Context), callTimeout)
		defer cancel()
		_, err := ac.call(ctx, http.MethodDelete, "/admin/api/scenarios/"+url.PathEscape(sc.Name), nil, nil)
		return err
	}
	rep, err := runAgainst(c.Context, sc, target, c, false)
	if oerr := off(); oerr != nil {
		return rep, fmt.Errorf("scenario %s: switch it off at %s: %w", sc.Name, target, oerr)
	}
	return rep, err
}

// writeReports prints the reports (text or JSON), writes the JUnit file,
// and fails when a step failed.
func writeReports(c *ucli.Context, reports []scenario.Report) error {
	failed := 0
	for _, r := range reports {
		if !r.Passed() {
			failed++
		}
		if !c.Bool("json") {
			if err := r.WriteText(c.App.Writer); err != nil {
				return err
			}
		}
	}
	if c.Bool("json") {
		enc := json.NewEncoder(c.App.Writer)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
	}
	if path := c.String("junit"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		werr := scenario.WriteJUnit(f, reports...)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return fmt.Errorf("write %s: %w", path, werr)
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d scenarios failed", failed, len(reports))
	}
	return nil
}

// runInProcess runs a scenario against a fresh in-process sandbox
// (sandbox.RunScenario: one fake clock, so waits take no real time).
func runInProcess(ctx context.Context, sc *scenario.Scenario, c *ucli.Context) (scenario.Report, error) {
	return sandbox.RunScenario(ctx, sc, sandbox.ScenarioRun{
		ClientID: c.String("client-id"), ClientSecret: c.String("client-secret"), Tenant: c.String("tenant"),
	})
}

func runAgainst(ctx context.Context, sc *scenario.Scenario, target string, c *ucli.Context, skipAfterToken bool) (scenario.Report, error) {
	client, secret, tenant := defaultsFor(sandbox.DefaultConfig(), c)
	opts := scenario.RunOptions{BaseURL: target, ClientID: client, ClientSecret: secret, Tenant: tenant, SkipAfterTokenFailure: skipAfterToken}
	if f := c.String("client-key"); f != "" {
		if c.IsSet("client-secret") {
			return scenario.Report{}, usagef("%s: give --client-secret or --client-key, not both", c.Command.Name)
		}
		pem, err := readCapped(f, auth.MaxJWKSBytes)
		if err != nil {
			return scenario.Report{}, fmt.Errorf("client key: %w", err)
		}
		signer, err := sandbox.FileSigner(pem, c.String("kid"), c.String("alg"))
		if err != nil {
			return scenario.Report{}, fmt.Errorf("client key %s: %w", f, err)
		}
		opts.ClientSecret, opts.Signer = "", signer
	}
	if tok := c.String("admin-token"); tok != "" {
		opts.Journal = journalFetcher(target, tok)
	}
	return scenario.Run(ctx, sc, opts), nil
}

// defaultsFor picks the steps' credentials: flags first, then the
// configuration's first client (with a secret in clear) and tenant.
func defaultsFor(cfg sandbox.Config, c *ucli.Context) (client, secret, tenant string) {
	if len(cfg.Clients) > 0 {
		client = cfg.Clients[0].ID
		for _, s := range cfg.Clients[0].Secrets {
			if s.Value != "" {
				secret = s.Value
				break
			}
		}
	}
	if len(cfg.Tenants) > 0 {
		tenant = cfg.Tenants[0].ID
	}
	if v := c.String("client-id"); v != "" {
		client = v
	}
	if v := c.String("client-secret"); v != "" {
		secret = v
	}
	if v := c.String("tenant"); v != "" {
		tenant = v
	}
	return client, secret, tenant
}

// journalFetcher reads a sandbox's request journal through its admin API.
func journalFetcher(base, adminToken string) func(context.Context) ([]scenario.Entry, error) {
	return func(ctx context.Context) ([]scenario.Entry, error) {
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/admin/api/requests", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("request journal: %s", res.Status)
		}
		var body struct {
			Entries []scenario.Entry `json:"entries"`
		}
		if err := json.NewDecoder(io.LimitReader(res.Body, 64<<20)).Decode(&body); err != nil {
			return nil, fmt.Errorf("request journal: %w", err)
		}
		return body.Entries, nil
	}
}

func checkAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	target := strings.TrimSuffix(c.String("target"), "/")
	if target == "" {
		return usagef("check: --target (the FHIR base URL) is required")
	}
	if err := checkTargetURL(target); err != nil {
		return err
	}
	if err := explicitCredentials(c, target); err != nil {
		return err
	}
	release, err := targetRelease(c.Context, target)
	if err != nil {
		if found := probeBases(c.Context, target); len(found) > 0 {
			return fmt.Errorf("%w\nFHIR bases found under %s; check one of them with --target:\n  %s", err, target, strings.Join(found, "\n  "))
		}
		return err
	}
	sc, err := sandbox.BuiltinScenario(release.ConformanceScenario())
	if err != nil {
		return err
	}
	// the conformance scenarios address the sandbox's release bases;
	// point them at the target's base instead
	root, err := rebase(sc, target, release)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.App.Writer, "%s: FHIR %s, checking with %s\n", target, release.Name, sc.Name)
	rep, err := runAgainst(c.Context, sc, root, c, true)
	if err != nil {
		return err
	}
	return writeReports(c, []scenario.Report{rep})
}

// explicitCredentials refuses to check a target that is not on this
// machine without a client id and secret given on purpose (flags or
// environment): the built-in development secret is never sent elsewhere.
func explicitCredentials(c *ucli.Context, target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return usagef("--target: %v", err)
	}
	if isLoopbackHost(u.Hostname()) {
		return nil
	}
	var missing []string
	for _, f := range []struct{ flag, env string }{{"client-id", "FHIRSANDBOX_CLIENT_ID"}, {"client-secret", "FHIRSANDBOX_CLIENT_SECRET"}} {
		if c.String(f.flag) == "" {
			missing = append(missing, "--"+f.flag+" (or "+f.env+")")
		}
	}
	if len(missing) > 0 {
		return usagef("check: %s is not on this machine: give the credentials of your client registration there with %s; the development defaults are used only for a loopback target", u.Host, strings.Join(missing, " and "))
	}
	return nil
}

// isLoopbackHost: localhost or a loopback IP address.
func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") || strings.HasSuffix(strings.ToLower(h), ".localhost") {
		return true
	}
	ip, err := netip.ParseAddr(h)
	return err == nil && ip.Unmap().IsLoopback()
}

// probeBases looks for FHIR bases under a URL that is not one itself (a
// server root): the sandbox's release bases and common ones. It returns
// "URL (FHIR version)" for each whose metadata answers with a fhirVersion.
func probeBases(ctx context.Context, target string) []string {
	var paths []string
	for _, rel := range spec.Releases() {
		paths = append(paths, rel.Base())
	}
	paths = append(paths, "/fhir", "/fhir/dstu2", "/fhir/stu3", "/fhir/r4", "/baseDstu2", "/baseDstu3", "/baseR4", "/api/fhir")
	client := &http.Client{Timeout: 10 * time.Second}
	var found []string
	for _, p := range paths {
		base := target + p
		req, err := http.NewRequestWithContext(ctx, "GET", base+"/metadata", nil)
		if err != nil {
			continue
		}
		req.Header.Set("Accept", "application/fhir+json, application/json+fhir, application/json")
		res, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var md struct {
			FHIRVersion string `json:"fhirVersion"`
		}
		derr := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&md)
		res.Body.Close()
		if res.StatusCode == http.StatusOK && derr == nil && md.FHIRVersion != "" {
			found = append(found, fmt.Sprintf("%s (FHIR %s)", base, md.FHIRVersion))
		}
	}
	return found
}

// targetRelease reads fhirVersion from the target's metadata.
func targetRelease(ctx context.Context, target string) (spec.Release, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", target+"/metadata", nil)
	if err != nil {
		return spec.Release{}, usagef("--target: %v", err)
	}
	req.Header.Set("Accept", "application/fhir+json, application/json+fhir, application/json")
	client := &http.Client{Timeout: 30 * time.Second}
	res, err := client.Do(req)
	if err != nil {
		return spec.Release{}, fmt.Errorf("read %s/metadata: %w", target, err)
	}
	defer res.Body.Close()
	var md struct {
		FHIRVersion string `json:"fhirVersion"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&md); err != nil || res.StatusCode != http.StatusOK {
		return spec.Release{}, fmt.Errorf("read %s/metadata: %s, not a metadata statement", target, res.Status)
	}
	if rel, ok := spec.ByFHIRVersion(md.FHIRVersion); ok {
		return rel, nil
	}
	return spec.Release{}, fmt.Errorf("%s speaks FHIR %q: the Patients app contract is checked for %s", target, md.FHIRVersion, releaseVersions())
}

// rebase rewrites the scenario's step paths from the sandbox's release
// base ("/stu3/...") to the target's base path, and returns the root URL
// (scheme://host) the runner joins them to.
func rebase(sc *scenario.Scenario, target string, release spec.Release) (string, error) {
	i := strings.Index(target, "://")
	if i < 0 {
		return "", usagef("--target: %q is not an http(s) URL", target)
	}
	root, basePath := target, ""
	if j := strings.IndexByte(target[i+3:], '/'); j >= 0 {
		root, basePath = target[:i+3+j], target[i+3+j:]
	}
	prefix := release.Base()
	for _, st := range sc.Steps {
		if r := st.Request; r != nil && (r.Path == prefix || strings.HasPrefix(r.Path, prefix+"/") || strings.HasPrefix(r.Path, prefix+"?")) {
			r.Path = basePath + strings.TrimPrefix(r.Path, prefix)
		}
	}
	return root, nil
}

// releaseVersions lists the releases check knows: "DSTU2 (1.0.2), STU3 (3.0.1)".
func releaseVersions() string {
	var parts []string
	for _, rel := range spec.Releases() {
		parts = append(parts, rel.Label+" ("+rel.FHIRVersion+")")
	}
	return strings.Join(parts, ", ")
}
