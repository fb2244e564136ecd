package sandboxtest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"

	"github.com/fhirsandbox/fhirsandbox/sandboxtest"
)

// A client test starts a sandbox, gets a token for a tenant and searches.
// In a test, sandboxtest.New(t, ...) does the same and closes the sandbox
// when the test ends.
func Example() {
	const patients = 5
	sb, err := sandboxtest.NewServer(sandboxtest.WithPatients(patients), sandboxtest.WithSeed(1))
	if err != nil {
		log.Fatal(err)
	}
	defer sb.Close()

	token, err := sb.FetchToken(context.Background(), sb.Tenants[0])
	if err != nil {
		log.Fatal(err)
	}
	req, _ := http.NewRequest("GET", sb.BaseURL("r4")+"/Patient?_summary=count", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/fhir+json")
	res, err := sb.Client().Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var bundle struct {
		ResourceType string `json:"resourceType"`
		Total        int    `json:"total"`
	}
	if err := json.NewDecoder(res.Body).Decode(&bundle); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.StatusCode, bundle.ResourceType, bundle.Total == patients)
	// Output: 200 Bundle true
}
