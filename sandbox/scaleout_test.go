package sandbox

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fhirsandbox/fhirsandbox/seed"
)

// scaleOutPatients is the population of the scale-out test: a
// mid-sized health system. Records are derived on demand, so two
// instances start at once; the Patient search waits for each instance's
// population index (about 3 s of CPU a million patients; under the race
// detector, which slows it about tenfold, a tenth of the population).
func scaleOutPatients() int {
	if raceEnabled {
		return 100_000
	}
	return 1_000_000
}

// TestScaleOut starts two instances from the same config and signing key
// file, as behind a load balancer: a token minted by one is honoured by the
// other, and both serve byte-identical synthetic data, derived on demand
// from a population of a million patients: reads, a patient's queries and
// a Patient search by MRN through the population index.
func TestScaleOut(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Tenants[0].Patients, cfg.Tenants[1].Patients = scaleOutPatients(), 5
	cfg.Auth.SigningKeyFile = keyFile
	cfg.PublicURL = "https://sandbox.example.test" // the load balancer's address
	var srvs []*httptest.Server
	for i := 0; i < 2; i++ {
		s, err := New(cfg, Options{})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(s.Handler())
		t.Cleanup(srv.Close)
		srvs = append(srvs, srv)
	}
	res, err := http.PostForm(srvs[0].URL+"/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"teams-patients-app"}, "client_secret": {"change-me-dev-secret"}, "scope": {ContosoTenant}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	tok := between(string(body), `"access_token":"`, `"`)
	if res.StatusCode != 200 || tok == "" {
		t.Fatalf("token from instance 0: %d %s", res.StatusCode, body)
	}
	h, err := seed.NewHospital(seed.Options{Seed: cfg.Tenants[0].Seed, Tenant: ContosoTenant, ReferenceDate: cfg.ReferenceDate.Time})
	if err != nil {
		t.Fatal(err)
	}
	last := h.Demographics(scaleOutPatients() - 1)
	paths := []string{"/stu3/Patient/pat-7", "/dstu2/Observation/obs-7-1",
		"/r4/Patient/" + last.ID, "/r4/Observation?patient=" + last.ID + "&category=vital-signs&_sort=-date",
		"/stu3/Coverage?patient=pat-" + strconv.Itoa(scaleOutPatients()*7/8), "/r4/Patient?identifier=" + last.MRN}
	var got [][]byte
	for i, srv := range srvs {
		for _, path := range paths {
			req, _ := http.NewRequest("GET", srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("instance %d %s: %d %s", i, path, res.StatusCode, b)
			}
			got = append(got, normalise(b))
		}
	}
	for k, path := range paths {
		if a, b := got[k], got[len(paths)+k]; !bytes.Equal(a, b) {
			t.Errorf("%s: the two instances serve different data:\n%.500s\n%.500s", path, a, b)
		}
	}
	if !bytes.Contains(got[len(paths)-1], []byte(`"total":1,`)) || !bytes.Contains(got[len(paths)-1], []byte(`"id":"`+last.ID+`"`)) {
		t.Errorf("the search by the last patient's MRN did not find it: %.400s", got[len(paths)-1])
	}
}

func between(s, start, end string) string {
	_, after, ok := strings.Cut(s, start)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, end)
	return v
}
