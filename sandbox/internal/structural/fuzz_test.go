package structural

import "testing"

// The validators read fixtures and $import bodies, outside input: whatever
// the bytes, they answer without panicking, in time bounded by the input
// (MaxInputBytes, maxTreeDepth, maxProblems).

func FuzzDSTU2(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male","name":[{"family":["X"]}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5}}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"family":["A",null],"_family":[null,{"id":"x"}]}],"fhir_comments":["c"]}`))
	f.Add([]byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>"},"contained":[{"resourceType":"Organization"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = DSTU2(b)
	})
}

func FuzzSTU3(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male","birthDate":"1974-12-25","multipleBirthInteger":2}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5},"subject":{"reference":"Patient/1"}}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"given":["A",null],"_given":[null,{"id":"x"}]}]}`))
	f.Add([]byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},"contained":[{"resourceType":"Organization"}]}`))
	f.Add([]byte(`{"resourceType":"Condition","clinicalStatus":"active","subject":{"reference":"Patient/1"},"assertedDate":"2020-01-01"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = STU3(b)
	})
}

func FuzzR4(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male","deceasedDateTime":"2020-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"resourceType":"Condition","clinicalStatus":{"coding":[{"code":"active"}]},"subject":{"reference":"Patient/1"}}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Patient","_birthDate":{"extension":[{"url":"x","valueDecimal":1e3}]}}}]}`))
	f.Add([]byte(`{"resourceType":"Parameters","parameter":[{"name":"r","resource":{"resourceType":"Coverage","status":"active"}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = R4(b)
	})
}
