package spec

import (
	"encoding/hex"
	"errors"
	"strings"
)

// ErrBadGUID is returned by ParseGUID for anything that is not a GUID.
var ErrBadGUID = errors.New("not a GUID (want 8-4-4-4-12 hex digits, e.g. 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c)")

// ParseGUID returns the canonical form of a tenant GUID: lower case, no
// braces. "{2F4A9C3E-...}" and "2f4a9c3e-..." name the same tenant; every
// surface (config, token scope, portal, admin API) canonicalises through
// this one function so they always agree.
func ParseGUID(s string) (string, error) {
	if len(s) == 38 && s[0] == '{' && s[37] == '}' {
		s = s[1:37]
	}
	if len(s) != 36 {
		return "", ErrBadGUID
	}
	upper := false
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", ErrBadGUID
			}
		default:
			switch {
			case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			case c >= 'A' && c <= 'F':
				upper = true
			default:
				return "", ErrBadGUID
			}
		}
	}
	if !upper {
		// canonical already, as every token's and config's GUID is: the
		// per-request lookups allocate nothing
		return s, nil
	}
	return strings.ToLower(s), nil
}

// FormatGUID writes 16 bytes in the canonical 8-4-4-4-12 form, lower
// case.
func FormatGUID(b [16]byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}
