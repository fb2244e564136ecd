package store

// StoredForm and ParseEncode let the external tests compare the two paths
// on the generators' real output.
var (
	StoredForm  = storedForm
	ParseEncode = parseEncode
)
