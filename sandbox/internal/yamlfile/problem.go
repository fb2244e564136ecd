package yamlfile

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a file, located in it.
type Problem struct {
	File string // empty for a value built in code rather than read
	Line int    // 1-based; 0 when no line applies
	Msg  string
}

// String reads file:line: msg, leaving out whichever location is unknown.
func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// Error lists every problem found in a file, one per line of its text.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// NewError returns ps as an Error in line order. The sort is stable so that
// problems of one line keep the order they were found in, which follows
// the file.
func NewError(ps []Problem) *Error {
	sorted := slices.Clone(ps)
	slices.SortStableFunc(sorted, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return &Error{Problems: sorted}
}
