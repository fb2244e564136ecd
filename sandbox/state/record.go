package state

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/auth"
	"github.com/fhirsandbox/fhirsandbox/sandbox/store"
	"github.com/fhirsandbox/fhirsandbox/sandbox/tenant"
)

// Record kinds.
const (
	KindClients = "clients" // Clients: the whole client registry
	KindTenants = "tenants" // Tenants: the whole tenant map
	KindWrites  = "writes"  // Writes: one FHIR write of one store
	KindAdmin   = "admin"   // AdminTokenSHA256: the generated admin token's digest
	KindRevoked = "revoked" // Revoked: one token revocation
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
	// AdminTokenSHA256 is the hex SHA-256 of the admin token a server
	// generated, so the next start with this journal keeps the same token
	// (never the token itself, as for client secrets).
	AdminTokenSHA256 string
	Revoked          *auth.Revocation
}

// Writes is one write to the store of a tenant and FHIR release, as the
// store's write hook reports it: each Op puts JSON under Type/ID, or
// deletes Type/ID when JSON is nil.
type Writes struct {
	Tenant  string
	Release string
	Ops     []store.Op
	// At is the lastUpdated the store gave the puts; replay gives them
	// the same (store.ApplyAt), or a restart would move every written
	// resource's lastUpdated and Last-Modified to the restart. Zero in
	// records written before it was kept: replay then uses its own time.
	At time.Time
}

// wire is a record as written: one JSON object per line. Resources are
// embedded as JSON, not base64, so the journal stays readable.
type wire struct {
	Kind    string           `json:"kind"`
	Clients *auth.State      `json:"clients,omitempty"`
	Tenants []tenant.Tenant  `json:"tenants,omitempty"`
	Writes  *wireWrites      `json:"writes,omitempty"`
	Admin   *wireAdmin       `json:"admin,omitempty"`
	Revoked *auth.Revocation `json:"revoked,omitempty"`
}

type wireAdmin struct {
	TokenSHA256 string `json:"token_sha256"`
}

type wireWrites struct {
	Tenant  string    `json:"tenant"`
	Release string    `json:"release"`
	At      time.Time `json:"at,omitzero"`
	Ops     []wireOp  `json:"ops"`
}

type wireOp struct {
	Type     string          `json:"type"`
	ID       string          `json:"id"`
	Resource json.RawMessage `json:"resource,omitempty"`
	// KeepMeta: the resource keeps its own versionId and lastUpdated (an
	// imported fixture), on replay as when it was written.
	KeepMeta bool `json:"keep_meta,omitempty"`
	// Versions: how many puts this one stands for, in a compacted
	// journal (store.Op.Versions).
	Versions int `json:"versions,omitempty"`
}

// check reports whether the record is well formed.
func (r Record) check() error {
	switch r.Kind {
	case KindClients:
		if r.Clients == nil || r.Tenants != nil || r.Writes != nil || r.AdminTokenSHA256 != "" || r.Revoked != nil {
			return errors.New("a clients record carries the client state only")
		}
	case KindTenants:
		if r.Clients != nil || r.Writes != nil || r.AdminTokenSHA256 != "" || r.Revoked != nil {
			return errors.New("a tenants record carries the tenants only")
		}
	case KindAdmin:
		if r.Clients != nil || r.Tenants != nil || r.Writes != nil || r.Revoked != nil {
			return errors.New("an admin record carries the admin token digest only")
		}
		if b, err := hex.DecodeString(r.AdminTokenSHA256); err != nil || len(b) != sha256.Size || strings.ToLower(r.AdminTokenSHA256) != r.AdminTokenSHA256 {
			return errors.New("an admin record needs a SHA-256 digest in 64 lowercase hex digits")
		}
	case KindRevoked:
		if r.Revoked == nil || r.Clients != nil || r.Tenants != nil || r.Writes != nil || r.AdminTokenSHA256 != "" {
			return errors.New("a revoked record carries one revocation only")
		}
		if (r.Revoked.JTI == "") == (r.Revoked.MinGen == 0) || len(r.Revoked.JTI) > 256 || r.Revoked.Until.IsZero() {
			return errors.New("a revocation names either a jti (at most 256 bytes) or a generation, and when it may be forgotten")
		}
	case KindWrites:
		if r.Writes == nil || r.Clients != nil || r.Tenants != nil || r.AdminTokenSHA256 != "" || r.Revoked != nil {
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
			if op.Versions < 0 || op.Versions > 1 && (op.JSON == nil || op.KeepMeta) {
				return fmt.Errorf("op %d: versions is for puts that do not keep their own meta", i)
			}
		}
	default:
		return fmt.Errorf("unknown record kind %q", r.Kind)
	}
	return nil
}

// A line is {"crc":"%08x","rec":RECORD}: RECORD is the record's JSON and
// crc its CRC-32C (Castagnoli), in lowercase hex, over RECORD's bytes
// exactly as they stand in the line. The checksum catches damage that
// still parses (a flipped letter in a patient's name), which JSON syntax
// alone does not. Lines without the envelope (a bare RECORD, as written
// before checksums) still load, unchecked.
const crcPrefix = `{"crc":"`

// checksum is the CRC-32C of b. MakeTable caches the Castagnoli table, so
// no package variable is needed to hold it.
func checksum(b []byte) uint32 {
	return crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
}

// envelope is a checksummed line; Rec keeps the exact bytes the checksum
// is over.
type envelope struct {
	CRC string          `json:"crc"`
	Rec json.RawMessage `json:"rec"`
}

// errChecksum marks a line whose record does not match its checksum.
var errChecksum = errors.New("checksum mismatch")

// encode returns the record's line, newline included.
func encode(r Record) ([]byte, error) {
	b, err := encodeRecord(r)
	if err != nil {
		return nil, err
	}
	line := make([]byte, 0, len(b)+len(crcPrefix)+16)
	line = fmt.Appendf(line, "%s%08x\",\"rec\":", crcPrefix, checksum(b))
	line = append(line, b...)
	line = append(line, '}', '\n')
	if len(line) > MaxRecordBytes {
		return nil, fmt.Errorf("%s record of %d bytes is over the %d-byte limit", r.Kind, len(line), MaxRecordBytes)
	}
	return line, nil
}

// decode parses one line (without its newline): a checksummed envelope,
// or a bare record from a journal written before checksums.
func decode(line []byte) (Record, error) {
	if !bytes.HasPrefix(line, []byte(crcPrefix)) {
		return decodeRecord(line)
	}
	var e envelope
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Record{}, err
	}
	if dec.More() {
		return Record{}, errors.New("data after the record")
	}
	if len(e.Rec) == 0 {
		return Record{}, errors.New("no record in the envelope")
	}
	if want := fmt.Sprintf("%08x", checksum(e.Rec)); e.CRC != want {
		return Record{}, fmt.Errorf("%w (line says %q, record sums to %q)", errChecksum, e.CRC, want)
	}
	return decodeRecord(e.Rec)
}

// encodeRecord returns the record's JSON.
func encodeRecord(r Record) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	w := wire{Kind: r.Kind, Clients: r.Clients, Tenants: r.Tenants, Revoked: r.Revoked}
	if r.Kind == KindAdmin {
		w.Admin = &wireAdmin{TokenSHA256: r.AdminTokenSHA256}
	}
	if r.Writes != nil {
		ww := &wireWrites{Tenant: r.Writes.Tenant, Release: r.Writes.Release, At: r.Writes.At, Ops: make([]wireOp, len(r.Writes.Ops))}
		for i, op := range r.Writes.Ops {
			ww.Ops[i] = wireOp{Type: op.Type, ID: op.ID, KeepMeta: op.KeepMeta, Versions: op.Versions}
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
	return b, nil
}

// decodeRecord parses a record's JSON.
func decodeRecord(line []byte) (Record, error) {
	var w wire
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Record{}, err
	}
	if dec.More() {
		return Record{}, errors.New("data after the record")
	}
	r := Record{Kind: w.Kind, Clients: w.Clients, Tenants: w.Tenants, Revoked: w.Revoked}
	if w.Admin != nil {
		r.AdminTokenSHA256 = w.Admin.TokenSHA256
	}
	if r.Kind == KindTenants && r.Tenants == nil {
		r.Tenants = []tenant.Tenant{}
	}
	if w.Writes != nil {
		r.Writes = &Writes{Tenant: w.Writes.Tenant, Release: w.Writes.Release, At: w.Writes.At, Ops: make([]store.Op, len(w.Writes.Ops))}
		for i, op := range w.Writes.Ops {
			r.Writes.Ops[i] = store.Op{Type: op.Type, ID: op.ID, KeepMeta: op.KeepMeta, Versions: op.Versions}
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
