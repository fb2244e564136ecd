package admin

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeImporter answers by the body: "bad" has problems, "gone" is an
// unknown tenant; anything else is stored.
type fakeImporter struct{ got []string }

func (f *fakeImporter) Import(tenantID, release, name string, data []byte) (ImportResult, error) {
	f.got = append(f.got, tenantID+" "+release+" "+name+" "+string(data))
	switch string(data) {
	case "bad":
		return ImportResult{Release: "r4", Problems: []string{"entry 1: resource.id: bad", "entry 2: resource: worse"}}, fmt.Errorf("%s: 2 problems: %w", name, ErrInvalid)
	case "gone":
		return ImportResult{}, fmt.Errorf("no tenant: %w", ErrNotFound)
	}
	return ImportResult{Release: "stu3", Stored: 3}, nil
}

func TestImportRoute(t *testing.T) {
	t.Parallel()
	im := &fakeImporter{}
	srv := httptest.NewServer(NewAPI(nil, APIOptions{Token: adminToken, Importer: im}))
	t.Cleanup(srv.Close)
	without := httptest.NewServer(NewAPI(nil, APIOptions{Token: adminToken}))
	t.Cleanup(without.Close)
	post := func(base, path, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return res.StatusCode, m
	}
	tests := []struct {
		name, base, path, body string
		status                 int
		want                   string // a field=value of the answer
	}{
		{"stored", srv.URL, "/admin/api/tenants/" + tenantA + "/import?fhir_version=stu3&name=a.json", "ok", 200, "stored=3"},
		{"problems", srv.URL, "/admin/api/tenants/" + tenantA + "/import", "bad", 422, "problems=[entry 1: resource.id: bad entry 2: resource: worse]"},
		{"unknown tenant", srv.URL, "/admin/api/tenants/x/import", "gone", 404, "error=not_found"},
		{"name with a directory", srv.URL, "/admin/api/tenants/" + tenantA + "/import?name=../x", "ok", 400, "error=bad_request"},
		{"route left out without an importer", without.URL, "/admin/api/tenants/" + tenantA + "/import", "ok", 404, "error=not_found"},
	}
	for _, tt := range tests {
		st, m := post(tt.base, tt.path, tt.body)
		k, v, _ := strings.Cut(tt.want, "=")
		if st != tt.status || fmt.Sprint(m[k]) != v {
			t.Errorf("%s: %d %v, want %d and %s", tt.name, st, m, tt.status, tt.want)
		}
	}
	if len(im.got) < 1 || im.got[0] != tenantA+" stu3 a.json ok" {
		t.Errorf("importer got %q", im.got)
	}
}
