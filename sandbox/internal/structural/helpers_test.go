package structural

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readExample(t *testing.T, release, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", release, name))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	return b
}

// mutate decodes an example, lets fn change it and encodes it again, so each
// broken variant differs from a valid official example in one known way.
func mutate(t *testing.T, b []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode example: %v", err)
	}
	fn(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode variant: %v", err)
	}
	return out
}

func obj(v any) map[string]any { return v.(map[string]any) }
func arr(v any) []any          { return v.([]any) }

// wantProblems checks that err reports every fragment, so a test fails when
// the validator rejects the variant for some unrelated reason only.
func wantProblems(t *testing.T, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error mentioning %q, got nil", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not mention %q:\n%v", f, err)
		}
	}
}
