package validate

import "testing"

func FuzzSTU3(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male"}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient"}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}`))
	f.Add([]byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = STU3(b)
	})
}

func FuzzR4(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male"}`))
	f.Add([]byte(`{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/1"}}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = R4(b)
	})
}
