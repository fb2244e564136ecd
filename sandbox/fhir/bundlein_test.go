package fhir

import (
	"encoding/json"
	"os"
	"reflect"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
)

// bundleInputs are request Bundles of every shape the scan reads itself
// and of the shapes it leaves to encoding/json.
var bundleInputs = []string{
	`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?patient=pat-1&category=vital-signs&_sort=-date"}},{"request":{"method":"GET","url":"Condition?patient=pat-1"}}]}`,
	"{\n  \"resourceType\" : \"Bundle\",\n  \"type\": \"transaction\",\n  \"entry\": [ {\n    \"fullUrl\": \"urn:uuid:1\",\n    \"resource\": {\"resourceType\":\"Patient\",\"name\":[{\"family\":\"O'Brien \\\"}]{[\"}]},\n    \"request\": { \"method\": \"POST\", \"url\": \"Patient\" }\n  } ]\n}\n",
	`{"resourceType":"Bundle","type":"batch","entry":[]}`,
	`{"resourceType":"Bundle","type":"batch"}`,
	`{}`,
	`{"resourceType":"Bundle","type":"batch","entry":null}`,
	`{"resourceType":"Bundle","type":"batch","entry":[null]}`,
	`{"resourceType":"Bundle","type":"batch","entry":[{"request":null,"resource":null}]}`,
	`{"resourceType":"Bundle","type":"batch","entry":[{"request":{}}]}`,
	`{"resourceType":"Bundle","type":"b\u0061tch","entry":[{"request":{"method":"GET","url":"Patient?name=\u00e9"}}]}`,
	`{"resourceType":"Bundle","Type":"batch","ENTRY":[{"Request":{"METHOD":"GET","Url":"Patient"}}]}`,
	"{\"resourceType\":\"Bundle\",\"type\":\"batch\",\"entry\":[{\"request\":{\"method\":\"GET\",\"url\":\"Patient\"}}],\"\u212aey\":1,\"entr\u0443\":2}",
	`{"resourceType":"Bundle","type":1,"entry":[]}`,
	`{"resourceType":"Bundle","type":"batch","entry":{}}`,
	`{"resourceType":"Bundle","type":"batch","entry":[1,"x",true]}`,
	`{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":1}}]}`,
	`{"resourceType":"Bundle","type":"batch","id":"x","meta":{"tag":[{"code":"a\"b"}]},"total":-1.5e3,"ok":true,"no":null,"entry":[{"fullUrl":"u","search":{"mode":"match"},"resource":[1,{"a":"]"}],"request":{"method":"GET","url":"Patient","ifNoneMatch":"*"}}]}`,
	`[]`,
	`"Bundle"`,
	`null`,
}

// TestDecodeBundleMatchesEncodingJSON: whatever the input, decodeBundle
// gives what json.Unmarshal gives, error or value.
func TestDecodeBundleMatchesEncodingJSON(t *testing.T) {
	body, err := os.ReadFile("../../testdata/batch-six-queries.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range append(bundleInputs, string(body)) {
		checkDecodeBundle(t, []byte(in))
	}
}

func checkDecodeBundle(t *testing.T, b []byte) {
	t.Helper()
	if store.CheckJSON(b) != nil {
		return // refused before decoding
	}
	var want, got bundleIn
	werr := json.Unmarshal(b, &want)
	gerr := decodeBundle(b, &got)
	if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
		t.Fatalf("%s: error %v, encoding/json %v", b, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%s:\n got  %#v\n want %#v", b, got, want)
	}
}

func FuzzDecodeBundle(f *testing.F) {
	for _, in := range bundleInputs {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkDecodeBundle(t, b)
	})
}

func BenchmarkDecodeBundle(b *testing.B) {
	body, err := os.ReadFile("../../testdata/batch-six-queries.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, dec := range []struct {
		name string
		fn   func([]byte, *bundleIn) error
	}{{"scan", decodeBundle}, {"encoding-json", func(b []byte, in *bundleIn) error { return json.Unmarshal(b, in) }}} {
		b.Run(dec.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var in bundleIn
				if err := dec.fn(body, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
