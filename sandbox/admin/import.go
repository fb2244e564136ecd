package admin

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxImportBytes caps one import body: a fixture file's cap
// (fhir.MaxFixtureBytes), restated so admin needs no FHIR package.
const MaxImportBytes = 256 << 20

// Importer loads FHIR data into a running tenant the way fixtures are
// loaded at start (reference resolution, release, validation), through
// the store like API writes, so a state file journals them. The sandbox
// implements it; admin only routes and answers.
type Importer interface {
	// Import loads data (Bundles or NDJSON) named name (the file name,
	// for the ids of entries without one) into the tenant's store of
	// release, or of the release the content shows when release is "".
	// A file with problems stores nothing: they are returned, each as
	// "entry N: JSON path: message", with ErrInvalid.
	Import(tenantID, release, name string, data []byte) (ImportResult, error)
}

// ImportResult is the answer of POST /admin/api/tenants/{id}/import.
type ImportResult struct {
	Release  string   `json:"release"`
	Stored   int      `json:"stored"`
	Problems []string `json:"problems,omitempty"`
}

// importHandler answers POST /admin/api/tenants/{id}/import?fhir_version=R&name=F.
func importHandler(im Importer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxImportBytes))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the body is larger than %d MiB", MaxImportBytes>>20))
				return
			}
			fail(w, badRequest("cannot read the body"))
			return
		}
		name := r.URL.Query().Get("name")
		if name == "" {
			name = "import"
		}
		if strings.ContainsAny(name, "/\\") || len(name) > 255 {
			fail(w, badRequest("name: a file name, without a directory, is wanted"))
			return
		}
		res, err := im.Import(r.PathValue("id"), r.URL.Query().Get("fhir_version"), name, body)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, res)
		case errors.Is(err, ErrInvalid) && len(res.Problems) > 0:
			writeJSON(w, http.StatusUnprocessableEntity, struct {
				ErrorJSON
				ImportResult
			}{ErrorJSON{Error: "invalid_fixture", Message: err.Error()}, res})
		default:
			fail(w, err)
		}
	}
}
