package store

// ParamType is a FHIR search parameter type.
type ParamType uint8

// The search parameter types the store indexes.
const (
	String ParamType = iota + 1
	Token
	Date
	Reference
	// Quantity, URI and Number come after the original four so their
	// values (stored nowhere but in memory) keep their meaning.
	Quantity
	URI
	Number
)

func (t ParamType) String() string {
	switch t {
	case String:
		return "string"
	case Token:
		return "token"
	case Date:
		return "date"
	case Reference:
		return "reference"
	case Quantity:
		return "quantity"
	case URI:
		return "uri"
	case Number:
		return "number"
	}
	return "unknown"
}

// Param declares one search parameter of a resource type: its name, type
// and the element paths whose values it indexes. A path is a dot-separated
// list of element names; arrays are walked transparently, so "name.given"
// reaches every given name of every HumanName. A segment may end in a
// url in parentheses, "extension(http://example.org/x).valueReference",
// to follow only the items (extensions) whose url it is.
type Param struct {
	Name  string
	Type  ParamType
	Paths []string
	// Target is the resource type a bare id means for a reference
	// parameter ("patient=123" means Patient/123). Empty: any type.
	Target string
	// Doc is the one-line description published in the metadata.
	Doc string
}

// Definitions lists the search parameters of each resource type of one
// FHIR release. _id and _lastUpdated are implicit for every type.
type Definitions map[string][]Param

// Lookup returns the definition of a parameter, including the implicit
// _id (token) and _lastUpdated (date).
func (d Definitions) Lookup(resourceType, name string) (Param, bool) {
	switch name {
	case "_id":
		return Param{Name: "_id", Type: Token}, true
	case "_lastUpdated":
		return Param{Name: "_lastUpdated", Type: Date}, true
	}
	for _, p := range d[resourceType] {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}
