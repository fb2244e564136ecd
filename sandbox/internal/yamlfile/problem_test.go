package yamlfile

import "testing"

func TestProblemString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{File: "c.yaml", Line: 3, Msg: "bad"}, "c.yaml:3: bad"},
		{Problem{File: "c.yaml", Msg: "bad"}, "c.yaml: bad"},
		{Problem{Line: 3, Msg: "bad"}, "line 3: bad"},
		{Problem{Msg: "bad"}, "bad"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

func TestAddKeepsAProblemOnOneLine(t *testing.T) {
	t.Parallel()
	d := &Decoder{File: "f"}
	d.Add(2, "a\r\nb")
	if got := NewError(d.Problems()).Error(); got != `f:2: a\r\nb` {
		t.Errorf("Error() = %q", got)
	}
}

func TestNewErrorSortsStablyByLine(t *testing.T) {
	t.Parallel()
	in := []Problem{
		{File: "f", Line: 5, Msg: "e"},
		{File: "f", Line: 2, Msg: "b1"},
		{File: "f", Msg: "a"},
		{File: "f", Line: 2, Msg: "b2"},
	}
	err := NewError(in)
	want := "f: a\nf:2: b1\nf:2: b2\nf:5: e"
	if got := err.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if in[0].Msg != "e" {
		t.Errorf("NewError reordered its argument: %v", in)
	}
}
