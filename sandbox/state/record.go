package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Record kinds.
const (
	KindClients = "clients" // Clients: the whole client registry
	KindTenants = "tenants" // Tenants: the whole tenant map
	KindWrites  = "writes"  // Writes: one FHIR write of one store
)

// MaxRecordBytes bounds one record (one line of the journal). A full
// client registry (auth.MaxClients clients with auth.MaxSecretsPerClient
// secrets each) or a large transaction fits; anything larger is refused
// by Append and treated as damage by Open.
const MaxRecordBytes = 64 << 20

// Record is one entry of the journal. Exactly the field named by Kind is
// set; Tenants may be empty (no tenant mapped).
type Record struct {
	Kind    string
	Clients *auth.State
	Tenants []tenant.Tenant
	Writes  *Writes
}

// Writes is one write to the store of a tenant and FHIR release, as the
// store's write hook reports it: each Op puts JSON under Type/ID, or
// deletes Type/ID when JSON is nil.
type Writes struct {
	Tenant  string
	Release string
	Ops     []store.Op
}

// wire is a record as written: one JSON object per line. Resources are
// embedded as JSON, not base64, so the journal stays readable.
type wire struct {
	Kind    string          `json:"kind"`
	Clients *auth.State     `json:"clients,omitempty"`
	Tenants []tenant.Tenant `json:"tenants,omitempty"`
	Writes  *wireWrites     `json:"writes,omitempty"`
}

type wireWrites struct {
	Tenant  string   `json:"tenant"`
	Release string   `json:"release"`
	Ops     []wireOp `json:"ops"`
}

type wireOp struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	Resource json.RawMessage `json:"resource,omitempty"`
}

// check reports whether the record is well formed.
func (r Record) check() error {
	switch r.Kind {
	case KindClients:
		if r.Clients == nil || r.Tenants != nil || r.Writes != nil {
			return errors.New("a clients record carries the client state only")
		}
	case KindTenants:
		if r.Clients != nil || r.Writes != nil {
			return errors.New("a tenants record carries the tenants only")
		}
	case KindWrites:
		if r.Writes == nil || r.Clients != nil || r.Tenants != nil {
			return errors.New("a writes record carries the writes only")
		}
		w := r.Writes
		if w.Tenant == "" || w.Release == "" || len(w.Ops) == 0 {
			return errors.New("a writes record needs a tenant, a release and at least one op")
		}
		for i, op := range w.Ops {
			if op.Type == "" || op.ID == "" {
				return fmt.Errorf("op %d: needs a type and an id", i)
			}
		}
	default:
		return fmt.Errorf("unknown record kind %q", r.Kind)
	}
	return nil
}

// encode returns the record's line, newline included.
func encode(r Record) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	w := wire{Kind: r.Kind, Clients: r.Clients, Tenants: r.Tenants}
	if r.Writes != nil {
		ww := &wireWrites{Tenant: r.Writes.Tenant, Release: r.Writes.Release, Ops: make([]wireOp, len(r.Writes.Ops))}
		for i, op := range r.Writes.Ops {
			ww.Ops[i] = wireOp{Type: op.Type, ID: op.ID}
			if op.JSON != nil {
				ww.Ops[i].Resource = json.RawMessage(op.JSON)
			}
		}
		w.Writes = ww
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode %s record: %w", r.Kind, err)
	}
	if len(b)+1 > MaxRecordBytes {
		return nil, fmt.Errorf("%s record of %d bytes is over the %d-byte limit", r.Kind, len(b), MaxRecordBytes)
	}
	return append(b, '\n'), nil
}

// decode parses one line (without its newline).
func decode(line []byte) (Record, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Record{}, err
	}
	if dec.More() {
		return Record{}, errors.New("data after the record")
	}
	r := Record{Kind: w.Kind, Clients: w.Clients, Tenants: w.Tenants}
	if r.Kind == KindTenants && r.Tenants == nil {
		r.Tenants = []tenant.Tenant{}
	}
	if w.Writes != nil {
		r.Writes = &Writes{Tenant: w.Writes.Tenant, Release: w.Writes.Release, Ops: make([]store.Op, len(w.Writes.Ops))}
		for i, op := range w.Writes.Ops {
			r.Writes.Ops[i] = store.Op{Type: op.Type, ID: op.ID}
			if len(op.Resource) > 0 && string(op.Resource) != "null" {
				r.Writes.Ops[i].JSON = []byte(op.Resource)
			}
		}
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	return r, nil
}
