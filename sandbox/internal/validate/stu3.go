package validate

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/structural"
	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// maxNestingDepth bounds recursion in the STU3 unmarshaller; real resources
// (Bundle > entry > resource > contained > ...) stay far below it.
const maxNestingDepth = 64

// STU3 validates one STU3 (3.0.x) resource of any type, including a Bundle
// with nested resources, against the STU3 definitions compiled into
// github.com/google/fhir, after the release-independent JSON checks of
// checkShape. It returns all problems joined, or nil.
func STU3(resourceJSON []byte) error {
	if err := checkInput(resourceJSON); err != nil {
		return fmt.Errorf("stu3: %w", err)
	}
	var problems []error
	if err := structural.JSONRules(resourceJSON); err != nil {
		problems = append(problems, err)
	}
	// NewUnmarshaller (as opposed to NewUnmarshallerWithoutValidation) also
	// runs fhirvalidate: primitive regexes, required fields, reference types.
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.STU3)
	if err != nil {
		return fmt.Errorf("stu3: build unmarshaller: %w", err)
	}
	u.MaxNestingDepth = maxNestingDepth
	if _, err := u.Unmarshal(resourceJSON); err != nil {
		problems = append(problems, describeUnmarshalError(err))
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("stu3: %w", errors.Join(problems...))
}

// describeUnmarshalError rewrites the unmarshaller's error list so every
// problem carries its diagnostics: the library's own Error() drops them, and
// "unknown field" without the field's name is useless in a failing test.
// The list type lives in an internal package, hence reflection on its
// exported fields (Path, Details, Diagnostics); anything else is kept as is.
func describeUnmarshalError(err error) error {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		if s, ok := describeOne(v.Elem()); ok {
			return &libError{msg: s, cause: err}
		}
		return err
	}
	if v.Kind() != reflect.Slice {
		return err
	}
	var lines []string
	for i := 0; i < v.Len(); i++ {
		e := v.Index(i)
		if e.Kind() != reflect.Pointer || e.IsNil() || e.Elem().Kind() != reflect.Struct {
			return err
		}
		s, ok := describeOne(e.Elem())
		if !ok {
			return err
		}
		lines = append(lines, s)
	}
	return &libError{msg: strings.Join(lines, "\n"), cause: err}
}

func describeOne(s reflect.Value) (string, bool) {
	path, ok1 := stringField(s, "Path")
	details, ok2 := stringField(s, "Details")
	diag, ok3 := stringField(s, "Diagnostics")
	if !ok1 || !ok2 || !ok3 {
		return "", false
	}
	msg := details
	if path != "" {
		msg = path + ": " + details
	}
	if diag != "" {
		msg += " (" + diag + ")"
	}
	return msg, true
}

func stringField(s reflect.Value, name string) (string, bool) {
	f := s.FieldByName(name)
	if !f.IsValid() || f.Kind() != reflect.String {
		return "", false
	}
	return f.String(), true
}

// libError keeps the original error reachable through errors.As/Is.
type libError struct {
	msg   string
	cause error
}

func (e *libError) Error() string { return e.msg }
func (e *libError) Unwrap() error { return e.cause }
