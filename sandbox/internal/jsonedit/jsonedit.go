// Package jsonedit holds the validators' test helpers: official examples
// read from a package's testdata, decoded, changed in one known way and
// encoded again, and an error checked for every expected fragment. Only
// tests import it.
package jsonedit

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadExample reads testdata/RELEASE/NAME of the calling package.
func ReadExample(t testing.TB, release, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", release, name))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	return b
}

// Mutate decodes an example, lets fn change it and encodes it again, so
// each broken variant differs from a valid official example in one known
// way.
func Mutate(t testing.TB, b []byte, fn func(m map[string]any)) []byte {
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

// Obj is a decoded JSON object.
func Obj(v any) map[string]any { return v.(map[string]any) }

// Arr is a decoded JSON array.
func Arr(v any) []any { return v.([]any) }

// WantProblems checks that err reports every fragment, so a test fails
// when the validator rejects the variant for some unrelated reason only.
func WantProblems(t testing.TB, err error, fragments ...string) {
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
