// Command fhirsandbox is a FHIR DSTU2/STU3 interop partner sandbox; see
// README.md and `fhirsandbox --help`.
package main

import (
	"os"

	"github.com/fhirsandbox/fhirsandbox/sandbox/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
