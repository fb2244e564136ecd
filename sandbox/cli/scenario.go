package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
			&ucli.StringFlag{Name: "admin-token", Usage: "admin `TOKEN` of the target, to read its request journal (journal expectations are skipped without it)", EnvVars: []string{"FHIRSANDBOX_ADMIN_TOKEN"}},
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
      --client-id teams-patients-app --client-secret change-me-dev-secret \
      --tenant 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c`,
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
comes from the metadata's oauth-uris extension.

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
	if strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml") || strings.ContainsRune(arg, filepath.Separator) {
		return scenario.LoadFile(arg)
	}
	if _, err := os.Stat(arg); err == nil {
		return scenario.LoadFile(arg)
	}
	return sandbox.BuiltinScenario(arg)
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
	for _, arg := range args {
		sc, err := loadScenario(arg)
		if err != nil {
			return usagef("%v", err)
		}
		scs = append(scs, sc)
	}
	var reports []scenario.Report
	for _, sc := range scs {
		var rep scenario.Report
		var err error
		if target := c.String("target"); target != "" {
			rep, err = runAgainst(c.Context, sc, strings.TrimSuffix(target, "/"), c)
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

func runAgainst(ctx context.Context, sc *scenario.Scenario, target string, c *ucli.Context) (scenario.Report, error) {
	client, secret, tenant := defaultsFor(sandbox.DefaultConfig(), c)
	opts := scenario.RunOptions{BaseURL: target, ClientID: client, ClientSecret: secret, Tenant: tenant}
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
	release, err := targetRelease(c.Context, target)
	if err != nil {
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
	rep, err := runAgainst(c.Context, sc, root, c)
	if err != nil {
		return err
	}
	return writeReports(c, []scenario.Report{rep})
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
