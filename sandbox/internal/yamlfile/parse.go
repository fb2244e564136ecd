package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxBytes caps a file: a config or a scenario this large is a mistake (or
// an attack), so it is refused before parsing.
const MaxBytes = 1 << 20

// Read returns the content of the regular file at path, at most MaxBytes.
// On failure it returns no data and the one problem, naming the file, that
// stopped it; callers put it in their own error type.
func Read(path string) ([]byte, []Problem) {
	fail := func(format string, args ...any) ([]byte, []Problem) {
		return nil, []Problem{{File: path, Msg: fmt.Sprintf(format, args...)}}
	}
	f, err := os.Open(path)
	if err != nil {
		return fail("cannot open: %v", pathless(err))
	}
	defer f.Close()
	// A FIFO or a device would block or never end.
	st, err := f.Stat()
	if err != nil {
		return fail("cannot stat: %v", pathless(err))
	}
	if !st.Mode().IsRegular() {
		return fail("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return fail("cannot read: %v", pathless(err))
	}
	if len(data) > MaxBytes {
		return fail("file is larger than %d bytes", MaxBytes)
	}
	return data, nil
}

// pathless drops the path from an *fs.PathError: the problem names the
// file already.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Decoder parses one file and walks its nodes, collecting problems. Its
// zero value words problems in the MustBe style; set File to name the
// file in every problem.
type Decoder struct {
	File    string
	Wording Wording

	problems []Problem
}

// Add records a problem at line (0 when no line applies). A line break in
// msg is escaped, so that each line of an Error's text is one problem.
func (d *Decoder) Add(line int, msg string) {
	msg = strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(msg)
	d.problems = append(d.problems, Problem{File: d.File, Line: line, Msg: msg})
}

// Addf records a problem at the line of n.
func (d *Decoder) Addf(n *yaml.Node, format string, args ...any) {
	d.Add(n.Line, fmt.Sprintf(format, args...))
}

// Problems returns what was recorded so far, in the order it was found;
// NewError puts them in line order.
func (d *Decoder) Problems() []Problem { return d.problems }

// Parse turns text into the root node of its one document. It returns nil
// when there is no document (empty text, only comments) or the text cannot
// be parsed; the recorded problems tell the two apart. A second document
// is reported but the first is still returned, so that its own problems
// are reported in the same run.
func (d *Decoder) Parse(data []byte) *yaml.Node {
	if len(data) > MaxBytes {
		d.Add(0, fmt.Sprintf("file is larger than %d bytes", MaxBytes))
		return nil
	}
	// yaml.v3 would report bad bytes without a line, or decode UTF-16;
	// neither helps a user find the mistake.
	if !utf8.Valid(data) {
		d.Add(1+lineBreaks(data[:firstInvalidUTF8(data)]), "file is not valid UTF-8")
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if !errors.Is(err, io.EOF) {
			d.syntax(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.Add(extra.Line, "a second YAML document is not allowed: put everything in one document")
	case !errors.Is(err, io.EOF):
		d.syntax(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	return doc.Content[0]
}

// syntax records a parser error at the line it names, if any.
func (d *Decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(num); err == nil {
				line, msg = l, text
			}
		}
	}
	d.Add(line, "yaml syntax: "+msg)
}

// lineBreaks counts line breaks as YAML does: \n, \r\n and a lone \r.
func lineBreaks(b []byte) int {
	return bytes.Count(b, []byte("\n")) + bytes.Count(b, []byte("\r")) - bytes.Count(b, []byte("\r\n"))
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}
