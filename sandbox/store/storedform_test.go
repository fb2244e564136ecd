package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"
)

// parseEncode is the general path storedForm stands in for.
func parseEncode(raw []byte, typ, id string, at time.Time) ([]byte, bool) {
	p, err := parse(raw)
	if err != nil || p.typ != typ {
		return nil, false
	}
	j, err := p.encode(id, 1, at)
	return j, err == nil
}

// TestStoredForm: a rendering in the generators' shape gets the bytes
// parse and encode would give it; any other shape is left to them.
func TestStoredForm(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fast := []string{
		`{"resourceType":"Patient","id":"pat-1","gender":"female"}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{"profile":["http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"]},"text":{"status":"generated","div":"<div>}{</div>"}}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{},"active":true}`,
		`{"resourceType":"Observation","id":"obs-1-2","meta":{"profile":["a"],"tag":[{"code":"x"}]},"status":"final"}`,
		`{"resourceType":"Patient","id":"pat-1"}`,
		`{"resourceType":"Patient","id":"A.b-9","name":[{"text":"\"meta\": no"}]}`,
	}
	for _, raw := range fast {
		want, wok := parseEncode([]byte(raw), typeOf(raw), idOf(raw), at)
		got, ok := storedForm([]byte(raw), typeOf(raw), idOf(raw), at)
		// with room to spare, the insertion is made in place: same bytes
		roomy := append(make([]byte, 0, len(raw)+100), raw...)
		inPlace, ok2 := storedForm(roomy, typeOf(raw), idOf(raw), at)
		if ok2 != ok || !bytes.Equal(inPlace, got) || ok && &inPlace[0] != &roomy[0] {
			t.Errorf("%s: in place %v %s, want %v %s", raw, ok2, inPlace, ok, got)
		}
		if !ok || !wok || !bytes.Equal(got, want) {
			t.Errorf("%s:\nstoredForm %v %s\nencode     %v %s", raw, ok, got, wok, want)
		}
	}
	slow := []string{
		`{"resourceType":"Patient","meta":{"profile":["a"]},"id":"pat-1"}`,           // id after meta
		`{"resourceType":"Patient","id":"pat-1","text":{},"meta":{"profile":["a"]}}`, // meta after text
		`{"resourceType":"Patient","id":"pat-1","meta":{"versionId":"7"}}`,           // the resource's own version
		`{"resourceType":"Patient","id":"pat-1","meta":{"lastUpdated":"2020-01-01T00:00:00Z"}}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{ "profile":["a"]}}`, // not compact
		`{"resourceType":"Patient","id":"pat-1","meta":["a"]}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{"profile":["a"]`,
		`{"resourceType":"Patient","id":"pat-1"`,
		`{"resourceType":"Patient","id":"pat-1"x}`,
		`{"resourceType":"Patient","id":"pat-1","gender":"x"`,
		`{"resourceType":"Pat\u0069ent","id":"pat-1"}`,
		`{ "resourceType":"Patient","id":"pat-1"}`,
	}
	for _, raw := range slow {
		if got, ok := storedForm([]byte(raw), "Patient", "pat-1", at); ok {
			t.Errorf("%s: storedForm took it: %s", raw, got)
		}
	}
	if _, ok := storedForm([]byte(`{"resourceType":"Patient","id":"a\"b"}`), "Patient", `a"b`, at); ok {
		t.Error("an id JSON escapes was spliced")
	}
}

func typeOf(raw string) string {
	_, rest, _ := bytes.Cut([]byte(raw), []byte(`"resourceType":"`))
	t, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(t)
}

func idOf(raw string) string {
	_, rest, _ := bytes.Cut([]byte(raw), []byte(`"id":"`))
	id, _, _ := bytes.Cut(rest, []byte(`"`))
	return string(id)
}

// FuzzStoredForm: whatever storedForm splices is what parse and encode
// make of the same bytes, whenever those accept them: the same bytes, or,
// where encode rewrites a key's escaping (it writes keys afresh, and no
// generator writes a key that needs escaping), the same JSON tokens in
// the same order.
func FuzzStoredForm(f *testing.F) {
	for _, s := range []string{
		`{"resourceType":"Patient","id":"pat-1","meta":{"profile":["a"]},"gender":"female"}`,
		`{"resourceType":"Patient","id":"pat-1","gender":"female"}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{"security":[{"code":"R"}]}}`,
		`{"resourceType":"Patient","id":"pat-1","meta":{"versionId":"2"}}`,
	} {
		f.Add([]byte(s), "pat-1")
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw []byte, id string) {
		raw = bytes.Clone(raw) // storedForm may write into its spare capacity
		want, wok := parseEncode(raw, "Patient", id, at)
		got, ok := storedForm(raw, "Patient", id, at)
		if !ok {
			return
		}
		if wok && !bytes.Equal(got, want) && !slices.Equal(tokens(t, got), tokens(t, want)) {
			t.Fatalf("%q:\nstoredForm %s\nencode     %s", raw, got, want)
		}
	})
}

// tokens are b's JSON tokens, written out one by one.
func tokens(t *testing.T, b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		out = append(out, fmt.Sprintf("%T:%v", tok, tok))
	}
}
