package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/sandbox/scenario"
)

type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"schemas"`
	} `json:"components"`
}

func parseOpenAPI(t *testing.T, b []byte) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc
}

// TestOpenAPIMatchesRoutes: every route the API registers (with every
// optional part given) is in the OpenAPI document with the same methods,
// and the document names no route the API does not serve.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	_, routes := newAPI(f.svc, APIOptions{Token: adminToken, Journal: scenario.NewJournal(10), Scenarios: &fakeScenarios{}, Importer: &fakeImporter{}})
	served := map[string]bool{}
	for _, r := range routes {
		for _, m := range r.methods {
			served[m+" "+r.pattern] = true
		}
	}
	documented := map[string]bool{}
	for path, ops := range parseOpenAPI(t, []byte(openAPIDocument)).Paths {
		for m := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			documented[strings.ToUpper(m)+" "+path] = true
		}
	}
	if len(served) < 20 {
		t.Fatalf("only %d routes registered: %v", len(served), served)
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("%s is served but missing from sandbox/admin/openapi.json", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("%s is in sandbox/admin/openapi.json but not served", r)
		}
	}
}

// TestOpenAPISchemasMatchTypes: each schema's properties are the JSON
// names of the Go type the API encodes or decodes.
func TestOpenAPISchemasMatchTypes(t *testing.T) {
	types := map[string]reflect.Type{
		"Error":                   reflect.TypeFor[ErrorJSON](),
		"Client":                  reflect.TypeFor[ClientJSON](),
		"Secret":                  reflect.TypeFor[SecretJSON](),
		"Tenant":                  reflect.TypeFor[TenantJSON](),
		"CreateClientRequest":     reflect.TypeFor[CreateClientRequest](),
		"CreateClientResponse":    reflect.TypeFor[CreateClientResponse](),
		"SetTenantsRequest":       reflect.TypeFor[SetTenantsRequest](),
		"AddSecretRequest":        reflect.TypeFor[AddSecretRequest](),
		"CreateTenantRequest":     reflect.TypeFor[CreateTenantRequest](),
		"PatchTenantRequest":      reflect.TypeFor[PatchTenantRequest](),
		"ImportResult":            reflect.TypeFor[ImportResult](),
		"RequestEntry":            reflect.TypeFor[scenario.Entry](),
		"ScenarioList":            reflect.TypeFor[ScenarioListJSON](),
		"Scenario":                reflect.TypeFor[ScenarioJSON](),
		"ActivateScenarioRequest": reflect.TypeFor[ActivateScenarioRequest](),
		"ActiveScenarios":         reflect.TypeFor[ActiveScenariosJSON](),
		"Key":                     reflect.TypeFor[KeyJSON](),
		"AddKeysRequest":          reflect.TypeFor[AddKeysRequest](),
		"SetJWKSURIRequest":       reflect.TypeFor[SetJWKSURIRequest](),
		"SetScopesRequest":        reflect.TypeFor[SetScopesRequest](),
	}
	// answers encoded from anonymous structs: their fields by hand
	composed := map[string][]string{
		"ImportProblems": append(jsonNames(reflect.TypeFor[ErrorJSON]()), jsonNames(reflect.TypeFor[ImportResult]())...),
		"RequestJournal": {"entries", "dropped_by_subscribers"},
	}
	doc := parseOpenAPI(t, []byte(openAPIDocument))
	for name, s := range doc.Components.Schemas {
		var want []string
		if typ, ok := types[name]; ok {
			want = jsonNames(typ)
		} else if w, ok := composed[name]; ok {
			want = w
		} else {
			t.Errorf("schema %s: no Go type to check it against (add it to this test)", name)
			continue
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for k := range s.Properties {
				if !yield(k) {
					return
				}
			}
		})
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("schema %s has properties %q, the Go type %q", name, got, want)
		}
	}
	for name := range types {
		if _, ok := doc.Components.Schemas[name]; !ok {
			t.Errorf("schema %s is missing", name)
		}
	}
}

func jsonNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// TestOpenAPIServed: the document is served without the admin token to
// loopback callers, refused through a tunnel, GET only.
func TestOpenAPIServed(t *testing.T) {
	f := newFixture(t)
	get := func(method string, hdr ...string) (*http.Response, []byte) {
		req, err := http.NewRequest(method, f.srv.URL+OpenAPIPath, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	res, b := get("GET")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET without a token: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	if doc := parseOpenAPI(t, b); !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Paths) == 0 {
		t.Errorf("served document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths))
	}
	if res, _ := get("GET", "X-Forwarded-For", "203.0.113.9"); res.StatusCode != http.StatusForbidden {
		t.Errorf("through a tunnel: %s, want 403", res.Status)
	}
	if res, _ := get("POST"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s, want 405", res.Status)
	}
	// the rest of the API still wants the token
	if res, _ := get("GET"); res.StatusCode != 200 {
		t.Errorf("again: %s", res.Status)
	}
	req, _ := http.NewRequest("GET", f.srv.URL+"/admin/api/clients", nil)
	if res, err := f.srv.Client().Do(req); err != nil || res.StatusCode != http.StatusUnauthorized {
		t.Errorf("clients without a token: %v %v", res.Status, err)
	}
}
