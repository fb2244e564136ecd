package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox"
	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"github.com/fhirsandbox/fhirsandbox/seed"
	ucli "github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// progressThreshold is the population from which a progress bar is worth
// drawing (smaller runs finish before it would be read).
const progressThreshold = 1000

func generateCommand() *ucli.Command {
	def := sandbox.DefaultConfig()
	return &ucli.Command{
		Name:  "generate",
		Usage: "write a synthetic hospital as a FHIR transaction Bundle or NDJSON",
		Description: `Generates the same synthetic patients the server would hold for a tenant
and writes them out, to load into another FHIR server or to inspect. The
output depends only on the flags: the same flags give byte-identical output
on every machine and every day.

Examples:
  fhirsandbox generate --patients 10 | jq '.entry | length'
  fhirsandbox generate --patients 1000 --seed 7 --fhir-version dstu2 -o contoso.json
  fhirsandbox generate --format ndjson --tenant 7c1e5b9d-3a2f-4d8e-b6c4-0e9f1a2b3c4d -o fabrikam.ndjson`,
		Flags: []ucli.Flag{
			&ucli.IntFlag{Name: "patients", Value: def.Tenants[0].Patients, Usage: "number of patients `N`, 0 to 1000000"},
			&ucli.Int64Flag{Name: "seed", Value: def.Tenants[0].Seed, Usage: "random seed `S`"},
			&ucli.StringFlag{Name: "fhir-version", Value: def.FHIRVersion, Usage: "FHIR release, `" + spec.NameChoices() + "`"},
			&ucli.StringFlag{Name: "tenant", Value: def.Tenants[0].ID, Usage: "tenant `GUID` (part of every identifier)"},
			&ucli.StringFlag{Name: "reference-date", Value: def.ReferenceDate.String(), Usage: "\"today\" of the generated data, `YYYY-MM-DD`"},
			&ucli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write to `FILE` (atomically) instead of standard output"},
			&ucli.StringFlag{Name: "format", Value: "bundle", Usage: "`bundle` (one transaction Bundle) or ndjson (one resource per line)"},
		},
		Action: generateAction,
	}
}

type generateParams struct {
	opts    seed.Options
	version fhir.Version
	write   func(io.Writer, fhir.Version, *seed.Hospital, int, func(int)) error
	output  string
}

func parseGenerate(c *ucli.Context) (generateParams, error) {
	var p generateParams
	n := c.Int("patients")
	if n < 0 || n > spec.MaxPatients {
		return p, usagef("--patients: %d is out of range (want 0 to %d)", n, spec.MaxPatients)
	}
	g, err := spec.ParseGUID(c.String("tenant"))
	if err != nil {
		return p, usagef("--tenant: %q is %v", c.String("tenant"), err)
	}
	ref, err := time.Parse(time.DateOnly, c.String("reference-date"))
	if err != nil {
		return p, usagef("--reference-date: %q is not a date YYYY-MM-DD", c.String("reference-date"))
	}
	v, ok := fhir.Lookup(strings.ToLower(c.String("fhir-version")))
	if !ok {
		return p, usagef("--fhir-version: %q is not a supported release (want %s)", c.String("fhir-version"), spec.NameList())
	}
	switch c.String("format") {
	case "bundle":
		p.write = fhir.WriteTransactionBundle
	case "ndjson":
		p.write = fhir.WriteNDJSON
	default:
		return p, usagef("--format: %q is not a format (want bundle or ndjson)", c.String("format"))
	}
	if c.IsSet("output") && c.String("output") == "" {
		return p, usagef("--output: empty file name")
	}
	p.opts = seed.Options{Seed: c.Int64("seed"), Tenant: g, Patients: n, ReferenceDate: ref.UTC()}
	p.version = v
	p.output = c.String("output")
	return p, nil
}

func generateAction(c *ucli.Context) error {
	if err := noArgs(c); err != nil {
		return err
	}
	p, err := parseGenerate(c)
	if err != nil {
		return err
	}
	// the writers generate patient i on the fly, so memory stays flat
	// however many patients are asked for
	h, err := seed.NewHospital(p.opts)
	if err != nil {
		return usagef("%v", err)
	}
	progress, done := progressBar(c.App.ErrWriter, p.opts.Patients)
	defer done()
	if p.output == "" || p.output == "-" {
		bw := bufio.NewWriter(c.App.Writer)
		if err := p.write(ctxWriter{c.Context, bw}, p.version, h, p.opts.Patients, progress); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		return bw.Flush()
	}
	return writeFileAtomic(p.output, func(w io.Writer) error {
		return p.write(ctxWriter{c.Context, w}, p.version, h, p.opts.Patients, progress)
	})
}

// writeFileAtomic writes to a temporary file beside path and renames it
// into place, so an interrupted run never leaves a truncated file under
// the requested name.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	return nil
}

// ctxWriter fails writes once ctx is cancelled, which is how an interrupt
// stops a writer that takes no context.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, fmt.Errorf("interrupted: %w", err)
	}
	return c.w.Write(p)
}

// progressBar returns a progress callback drawing on w when w is a terminal
// and the run is big enough, and a func that ends the bar's line.
func progressBar(w io.Writer, total int) (progress func(int), done func()) {
	f, ok := w.(*os.File)
	if !ok || total < progressThreshold || !term.IsTerminal(int(f.Fd())) {
		return nil, func() {}
	}
	const width = 30
	last := -1
	drawn := false
	progress = func(n int) {
		pct := n * 100 / total
		if pct == last {
			return
		}
		last, drawn = pct, true
		fill := width * n / total
		fmt.Fprintf(f, "\r[%s%s] %3d%%  %d/%d patients", strings.Repeat("=", fill), strings.Repeat(" ", width-fill), pct, n, total)
	}
	return progress, func() {
		if drawn {
			fmt.Fprintln(f)
		}
	}
}
