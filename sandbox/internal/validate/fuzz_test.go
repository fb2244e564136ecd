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

func FuzzDSTU2(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Patient","gender":"male","name":[{"family":["X"]}]}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"searchset","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1.5}}}]}`))
	f.Add([]byte(`{"resourceType":"Patient","name":[{"family":["A",null],"_family":[null,{"id":"x"}]}],"fhir_comments":["c"]}`))
	f.Add([]byte(`{"resourceType":"Patient","text":{"status":"generated","div":"<div>x</div>"},"contained":[{"resourceType":"Organization"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = DSTU2(b)
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
