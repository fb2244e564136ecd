// Package examples_test is an example of a FHIR client's test suite that
// uses package sandboxtest: a small client with the retry behaviour a
// partner expects (wait for Retry-After on 429), tested against an
// in-process sandbox with the throttled-429 scenario switched on, and
// checked through the request journal.
package examples_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandboxtest"
)

// client is the code under test: a FHIR client that searches with a
// bearer token and retries a 429 after its Retry-After.
type client struct {
	base, token string
	http        *http.Client
	sleep       func(time.Duration)
}

// countPatients answers Bundle.total of a Patient search.
func (c *client) countPatients(ctx context.Context) (int, error) {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, "GET", c.base+"/Patient?_summary=count", nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "application/fhir+json")
		res, err := c.http.Do(req)
		if err != nil {
			return 0, err
		}
		if res.StatusCode == http.StatusTooManyRequests && attempt < 3 {
			res.Body.Close()
			secs, _ := strconv.Atoi(res.Header.Get("Retry-After"))
			c.sleep(time.Duration(max(secs, 1)) * time.Second)
			continue
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("Patient search: %s", res.Status)
		}
		var b struct {
			Total int `json:"total"`
		}
		return b.Total, json.NewDecoder(res.Body).Decode(&b)
	}
}

func TestClientSurvivesThrottling(t *testing.T) {
	const patients = 12
	sb := sandboxtest.New(t, sandboxtest.WithPatients(patients))
	c := &client{base: sb.BaseURL("stu3"), token: sb.Token(sb.Tenants[0]), http: sb.Client(), sleep: time.Sleep}

	if err := sb.EnableScenario("throttled-429"); err != nil {
		t.Fatal(err)
	}
	if err := sb.ClearRequests(); err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // every fourth request is throttled
		n, err := c.countPatients(context.Background())
		if err != nil || n != patients {
			t.Fatalf("search %d: %d, %v; want %d", i+1, n, err, patients)
		}
	}

	// the journal shows the 429 and that the retry waited for Retry-After
	reqs, err := sb.Requests()
	if err != nil {
		t.Fatal(err)
	}
	var throttledAt time.Time
	retried := false
	for _, r := range reqs {
		if r.Path != "/stu3/Patient" {
			continue
		}
		if r.Status == http.StatusTooManyRequests {
			wait, _ := strconv.Atoi(r.RetryAfter)
			throttledAt = r.Time.Add(time.Duration(wait) * time.Second)
			continue
		}
		if !throttledAt.IsZero() {
			retried = true
			if r.Time.Before(throttledAt) {
				t.Errorf("the retry at %s came before Retry-After allowed (%s)", r.Time, throttledAt)
			}
			throttledAt = time.Time{}
		}
	}
	if !retried {
		t.Errorf("no throttled request was retried; journal: %+v", reqs)
	}
}
