package structural

import (
	"encoding/base64"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// lazyRegexp compiles a pattern on first use: compiling every rule at
// package init would cost every start of the command, which validates
// nothing unless it loads fixtures.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// Lexical forms of the DSTU2 primitives (hl7.org/fhir/DSTU2/datatypes.html).
var (
	integerRe     = lazyRegexp(`^-?(0|[1-9][0-9]*)$`)
	unsignedRe    = lazyRegexp(`^(0|[1-9][0-9]*)$`)
	positiveRe    = lazyRegexp(`^[1-9][0-9]*$`)
	decimalRe     = lazyRegexp(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?$`)
	codeRe        = lazyRegexp(`^[^\s]+( [^\s]+)*$`)
	idRe          = lazyRegexp(`^[A-Za-z0-9\-.]{1,64}$`)
	uriRe         = lazyRegexp(`^\S+$`)
	oidRe         = lazyRegexp(`^urn:oid:[0-2](\.(0|[1-9][0-9]*))+$`)
	uuidRe        = lazyRegexp(`^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	dateRe        = lazyRegexp(`^-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$`)
	dateTimeRe    = lazyRegexp(`^-?[0-9]{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)))?)?)?$`)
	instantRe     = lazyRegexp(`^-?[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$`)
	timeRe        = lazyRegexp(`^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?$`)
	base64SpaceRe = lazyRegexp(`\s+`)
)

// dstu2Primitive checks a DSTU2 primitive by the validator's own rules
// (the DSTU2 definitions carry no regexes).
func dstu2Primitive(n *node, typeName string) error {
	if err := jsonKind(n, typeName); err != nil || typeName == "boolean" {
		return err
	}
	if n.kind == kindNumber {
		return checkNumber(n.text, typeName)
	}
	s := n.text
	var re *regexp.Regexp
	switch typeName {
	case "string", "markdown", "SampledDataDataType":
		return noControl(s, typeName)
	case "code":
		re = codeRe()
	case "id":
		re = idRe()
	case "uri":
		re = uriRe()
	case "oid":
		re = oidRe()
	case "uuid":
		re = uuidRe()
	case "base64Binary":
		if _, err := base64.StdEncoding.DecodeString(base64SpaceRe().ReplaceAllString(s, "")); err != nil {
			return fmt.Errorf("invalid base64Binary: %w", err)
		}
		return nil
	case "date":
		re = dateRe()
	case "dateTime":
		re = dateTimeRe()
	case "instant":
		re = instantRe()
	case "time":
		re = timeRe()
	default:
		return fmt.Errorf("no rule for primitive type %s", typeName)
	}
	if !re.MatchString(s) {
		return fmt.Errorf("invalid %s %q", typeName, s)
	}
	if typeName == "date" || typeName == "dateTime" || typeName == "instant" {
		return checkCalendarDay(s, typeName)
	}
	return nil
}

// checkCalendarDay rejects days the regexes let through (2015-02-30).
func checkCalendarDay(s, typeName string) error {
	if strings.HasPrefix(s, "-") || len(s) < 10 {
		return nil
	}
	if _, err := time.Parse("2006-01-02", s[:10]); err != nil {
		return fmt.Errorf("invalid %s %q: no such day", typeName, s)
	}
	return nil
}

func checkNumber(lit, typeName string) error {
	var re *regexp.Regexp
	switch typeName {
	case "integer":
		re = integerRe()
	case "unsignedInt":
		re = unsignedRe()
	case "positiveInt":
		re = positiveRe()
	default:
		if !decimalRe().MatchString(lit) {
			return fmt.Errorf("invalid decimal %s", lit)
		}
		return nil
	}
	if !re.MatchString(lit) {
		return fmt.Errorf("invalid %s %s", typeName, lit)
	}
	v, err := strconv.ParseInt(lit, 10, 64)
	if err != nil || v > math.MaxInt32 || v < math.MinInt32 {
		return fmt.Errorf("%s %s out of 32-bit range", typeName, lit)
	}
	return nil
}

// primitive checks an STU3 or R4 primitive: the JSON type the FHIR JSON
// format gives it, the regex of its official definition, and what a regex
// cannot say: 32-bit range of integers, real calendar days, base64 that
// decodes, strings (not markdown) without control characters. Where the
// definition has no regex, STU3 instant takes the DSTU2 rule; the other
// types without one (STU3 uri, markdown) are only strings.
func (d *defs) primitive(n *node, typeName string) error {
	if err := jsonKind(n, typeName); err != nil || typeName == "boolean" {
		return err
	}
	if n.kind == kindNumber {
		r := d.PrimitiveRules[typeName]
		if r == nil || r.re == nil {
			return checkNumber(n.text, typeName)
		}
		if !r.re.MatchString(n.text) {
			return fmt.Errorf("invalid %s %s", typeName, n.text)
		}
		if typeName == "decimal" {
			return nil
		}
		return checkNumber(n.text, typeName) // the range
	}
	s := n.text
	switch typeName {
	case "string":
		if err := noControl(s, typeName); err != nil {
			return err
		}
	case "base64Binary":
		if _, err := base64.StdEncoding.DecodeString(base64SpaceRe().ReplaceAllString(s, "")); err != nil {
			return fmt.Errorf("invalid base64Binary: %w", err)
		}
	}
	r := d.PrimitiveRules[typeName]
	switch {
	case r != nil && r.re != nil:
		if !r.re.MatchString(s) {
			return fmt.Errorf("invalid %s %q", typeName, s)
		}
	case typeName == "instant":
		if err := dstu2Primitive(n, typeName); err != nil {
			return err
		}
	}
	if typeName == "date" || typeName == "dateTime" || typeName == "instant" {
		return checkCalendarDay(s, typeName)
	}
	return nil
}

// jsonKind checks that a primitive has the JSON type the FHIR JSON format
// gives its type: boolean, number (integer, unsignedInt, positiveInt,
// decimal) or string (every other primitive).
func jsonKind(n *node, typeName string) error {
	switch typeName {
	case "boolean":
		if n.kind != kindBool {
			return fmt.Errorf("want boolean, got %s", n.kind)
		}
	case "integer", "unsignedInt", "positiveInt", "decimal":
		if n.kind != kindNumber {
			return fmt.Errorf("want %s as JSON number, got %s", typeName, n.kind)
		}
	default:
		if n.kind != kindString {
			return fmt.Errorf("want %s as JSON string, got %s", typeName, n.kind)
		}
	}
	return nil
}

func noControl(s, typeName string) error {
	for _, r := range s {
		if r < 0x20 && r != '\t' && r != '\r' && r != '\n' {
			return fmt.Errorf("%s has control character %U", typeName, r)
		}
	}
	return nil
}
