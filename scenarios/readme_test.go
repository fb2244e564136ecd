package scenarios_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/cli"
)

// readmeExamples returns the yaml blocks of README.md after the first
// (the outline of a file, with "..." for the sections), each with the
// line it starts on.
func readmeExamples(t *testing.T) (blocks []string, lines []int) {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?ms)^```yaml\n(.*?)^```\n")
	for _, m := range re.FindAllSubmatchIndex(b, -1) {
		blocks = append(blocks, string(b[m[2]:m[3]]))
		lines = append(lines, bytes.Count(b[:m[2]], []byte("\n"))+1)
	}
	if len(blocks) < 2 {
		t.Fatalf("README.md has %d yaml blocks, want the outline and the examples", len(blocks))
	}
	return blocks[1:], lines[1:]
}

// TestReadmeExamples makes a scenario file of each example of README.md
// (a name and description, then the example) and runs the command on it
// as a user would: every example passes scenario validate, and the
// examples of the sections a run carries out on the sandbox alone
// (setup, rules, timeline) pass scenario run. The steps example is a
// reference of every expectation, validated only: its searches assume
// data the reader's sandbox may not hold.
func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	blocks, lines := readmeExamples(t)
	dir := t.TempDir()
	ran := 0
	for i, block := range blocks {
		section, _, _ := strings.Cut(block, ":")
		name := fmt.Sprintf("readme-%s", section)
		file := filepath.Join(dir, name+".yaml")
		text := "name: " + name + "\ndescription: the " + section + " example of scenarios/README.md, line " + fmt.Sprint(lines[i]) + "\n" + block
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		if code := cli.Main([]string{"fhirsandbox", "scenario", "validate", file}, &out, &errb); code != 0 {
			t.Errorf("README.md:%d: the %s example fails scenario validate (exit %d):\n%s%s", lines[i], section, code, out.String(), errb.String())
			continue
		}
		if section == "steps" {
			continue
		}
		out.Reset()
		errb.Reset()
		if code := cli.Main([]string{"fhirsandbox", "scenario", "run", file}, &out, &errb); code != 0 {
			t.Errorf("README.md:%d: the %s example fails scenario run (exit %d):\n%s%s", lines[i], section, code, out.String(), errb.String())
		}
		ran++
	}
	if ran < 3 {
		t.Errorf("ran %d examples, want setup, rules and timeline", ran)
	}
}
