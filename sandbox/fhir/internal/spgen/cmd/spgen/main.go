// Command spgen has two jobs:
//
//   - with -bundle, it reduces an official search-parameters.json Bundle to
//     the compact definitions kept under sandbox/fhir/searchparams (done
//     once per release, by hand; see the README there);
//   - with -defs, it writes the Go table of a release from those compact
//     definitions (run by go generate in sandbox/fhir).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fhirsandbox/fhirsandbox/sandbox/fhir/internal/spgen"
)

func main() {
	bundle := flag.String("bundle", "", "official search-parameters.json Bundle to reduce")
	version := flag.String("version", "", "FHIR version (kept entries must carry it when -bundle; named in the header when -defs)")
	defs := flag.String("defs", "", "compact definitions to generate Go from")
	fn := flag.String("func", "", "name of the generated function")
	out := flag.String("out", "", "output file")
	flag.Parse()
	if err := run(*bundle, *version, *defs, *fn, *out); err != nil {
		fmt.Fprintln(os.Stderr, "spgen:", err)
		os.Exit(1)
	}
}

func run(bundle, version, defs, fn, out string) error {
	if out == "" || (bundle == "") == (defs == "") {
		return fmt.Errorf("give -out and one of -bundle or -defs")
	}
	var b []byte
	if bundle != "" {
		in, err := os.ReadFile(bundle)
		if err != nil {
			return err
		}
		// Only the 4.0.1 bundle's entries carry a version; STU3's do not.
		if b, err = spgen.Compact(in, version); err != nil {
			return err
		}
	} else {
		in, err := os.ReadFile(defs)
		if err != nil {
			return err
		}
		var ds []spgen.Def
		if err := json.Unmarshal(in, &ds); err != nil {
			return err
		}
		if b, err = spgen.Generate("fhir", fn, filepath.ToSlash(defs), version, ds); err != nil {
			return err
		}
	}
	return os.WriteFile(out, b, 0o644)
}
