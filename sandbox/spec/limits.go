package spec

// Limits shared by every surface that accepts them (config, flags, admin
// API, seed), so a value accepted in one place is accepted in all.
const (
	// MaxPatients bounds a synthetic tenant's population: a million
	// patients is a mid-sized health system.
	MaxPatients = 1_000_000
	// MaxNameLen bounds client and tenant display names, in bytes.
	MaxNameLen = 200
)

// Request limits of the FHIR API, the defaults of the config's limits
// section.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultCount            = 20
	DefaultMaxCount         = 100
	DefaultMaxBundleEntries = 500
	// DefaultMaxResponseBytes bounds a search or batch response: a batch
	// of 500 Patient?_count=100 searches would otherwise build ~75 MB.
	DefaultMaxResponseBytes = 16 << 20
	MaxQueryParams          = 100
)
