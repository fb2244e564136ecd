package scenario

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goodScenario = `name: good-one
description: a scenario using every part of the format
setup:
  fhir_version: dstu2
  auth_required: true
  token_ttl: 5m
  patients: 10
  tenants:
    - {id: 2f4a9c3e-8b1d-4e6f-a5c7-1d3b5e7f9a0c, name: Contoso, patients: 100, seed: 42}
  clients:
    - id: other-app
      tenants: ["*"]
      secrets: [{value: other-app-s3cret-value, expires_in: 1h}]
rules:
  - name: slow observations
    match: {method: get, path: "/stu3/Observation*", query: {patient: "*"}, header: {x-test: yes}}
    latency: {lognormal: {median: 200ms, sigma: 0.5}}
    probability: 0.5
    count: {every: 4}
    window: {after: 1s, until: 1m}
  - match: {path: "/**"}
    respond:
      status: 429
      headers: {Retry-After: "2"}
      operation_outcome: {code: throttled, diagnostics: slow down}
  - match: {resource_type: Patient}
    fault: {slow_dribble: {bytes_per_second: 10}}
    quirks:
      - sloppy_dates
      - drop_optional: {fields: [telecom, Patient.address]}
      - wrong_total: {delta: 5}
      - broken_next_link: {mode: loop}
timeline:
  - at: 30s
    action: {expire_secret: {client_id: teams-patients-app}}
  - after_requests: 3
    match: {path: /token}
    action: revoke_tokens
  - at: 0s
    action: {metadata: {token_url: https://elsewhere/token, drop_oauth_uris: true}}
steps:
  - get_token: {}
    capture: {tok: access_token}
  - name: list
    request: {path: /stu3/Patient, query: {_count: "2", family: [a, b]}, headers: {X-T: "${tok}"}}
    expect:
      status: [200, 206]
      headers: {Content-Type: "json"}
      json: {resourceType: Bundle, total: {gt: 1}, entry: {len: 2}, "entry[0].resource.id": {exists: true}}
      resource_count: 2
      max_ms: 2000
    repeat: 3
  - wait: 2s
journal:
  token_requests: {max: 1}
  max_rps: 10
  honoured_retry_after: true
`

func TestLoadGood(t *testing.T) {
	t.Parallel()
	s, err := Load("good.yaml", []byte(goodScenario))
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "good-one" || len(s.Rules) != 3 || len(s.Timeline) != 3 || len(s.Steps) != 3 {
		t.Fatalf("parsed %+v", s)
	}
	r := s.Rules[0]
	if r.Match.Method != "GET" || r.Count.From != 4 || r.Count.Every != 4 || r.Window.Until != time.Minute || r.Latency.LogNorm.Median != 200*time.Millisecond {
		t.Errorf("rule 0 = %+v", r)
	}
	if got := string(s.Rules[1].Respond.Body); !strings.Contains(got, `"code":"throttled"`) {
		t.Errorf("operation outcome body = %s", got)
	}
	if s.Rules[2].Fault.BytesPerSecond != 10 || len(s.Rules[2].Quirks) != 4 || !s.Rules[2].Quirks[2].HasDelta {
		t.Errorf("rule 2 = %+v", s.Rules[2])
	}
	if s.Timeline[1].AfterRequests != 3 || s.Timeline[1].Action.Kind != ActionRevokeTokens || !s.Timeline[2].Action.Metadata.DropOAuthURIs {
		t.Errorf("timeline = %+v", s.Timeline)
	}
	if q := s.Steps[1].Request.Query; len(q) != 3 {
		t.Errorf("query = %v", q)
	}
	if len(s.Steps[1].Expect.JSON) != 4 || s.Steps[1].Repeat != 3 || *s.Steps[1].Expect.ResourceCount != 2 {
		t.Errorf("step = %+v", s.Steps[1])
	}
	if s.Setup.Clients[0].Secrets[0].ExpiresIn != time.Hour || *s.Setup.Patients != 10 {
		t.Errorf("setup = %+v", s.Setup)
	}
	if s.Journal.TokenRequestsMax == nil || *s.Journal.TokenRequestsMax != 1 || !s.Journal.HonouredRetryAfter {
		t.Errorf("journal = %+v", s.Journal)
	}
}

func TestLoadReportsEveryProblemWithLines(t *testing.T) {
	t.Parallel()
	src := `name: Bad Name
description: ""
colour: blue
base: &b {path: /x}
rules:
  - match: *b
    latency: 2 parsecs
  - match: {path: "/a"}
    fault: explode
    probability: 1.5
  - match: {path: "/a", path: "/b"}
    quirks: [sloppy_dates, {wrong_total: {}}]
  - match: {method: 5}
    respond: {status: "x"}
    count: {from: 5, to: 2}
timeline:
  - action: revoke_tokens
  - at: 5s
    after_requests: 2
    action: {set_token_ttl: {ttl: banana}}
steps:
  - request: {path: "/x/${nope}", auth: token}
    expect: {json: {a: {gt: "x"}}, headers: {X: "("}}
  - get_token: {}
    repeat: 0
---
name: second
`
	_, err := Load("bad.yaml", []byte(src))
	var le *LoadError
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want *LoadError", err)
	}
	want := []struct {
		line int
		frag string
	}{
		{1, "name \"Bad Name\""},
		{1, "description is required"},
		{3, `unknown key "colour"`},
		{6, "aliases are not allowed"},
		{7, "duration"},
		{9, `unknown kind "explode"`},
		{10, "probability must be between 0 and 1"},
		{11, `duplicate key "path"`},
		{12, "wrong_total: give exactly one of value, delta"},
		{13, "is not an HTTP method"},
		{14, "status must be an integer"},
		{15, "to (2) is before from (5)"},
		{17, "give exactly one of at, after_requests"},
		{18, "give exactly one of at, after_requests"},
		{20, "ttl must be a duration"},
		{22, "unknown variable ${nope}"},
		{22, "auth token needs an earlier get_token step"},
		{23, "gt takes a number"},
		{23, "bad regular expression"},
		{25, "repeat must be between 1"},
		{26, "a second YAML document is not allowed"},
	}
	for _, w := range want {
		found := false
		for _, p := range le.Problems {
			if p.Line == w.line && strings.Contains(p.Msg, w.frag) && p.File == "bad.yaml" {
				found = true
			}
		}
		if !found {
			t.Errorf("missing problem at line %d containing %q", w.line, w.frag)
		}
	}
	if t.Failed() {
		t.Logf("got:\n%v", err)
	}
	for i := 1; i < len(le.Problems); i++ {
		if le.Problems[i].Line < le.Problems[i-1].Line {
			t.Errorf("problems not in line order: %v", le.Problems)
		}
	}
	if !strings.HasPrefix(err.Error(), "bad.yaml:1: ") {
		t.Errorf("error text should be file:line: message, got %q", err.Error())
	}
}

func TestLoadRejects(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("#", MaxFileBytes+1)
	tests := []struct {
		name, src, frag string
	}{
		{"empty", "", "file is empty"},
		{"too big", big, "larger than"},
		{"syntax", "name: [unclosed", "did not find expected"},
		{"not a mapping", "- a\n- b\n", "scenario must be a mapping"},
		{"rule without effect", "name: a\ndescription: d\nrules:\n  - match: {path: /x}\n", "no effect"},
		{"rule without match", "name: a\ndescription: d\nrules:\n  - latency: 1s\n", "match is required"},
		{"respond without status", "name: a\ndescription: d\nrules:\n  - match: {}\n    respond: {body: x}\n", "status is required"},
		{"respond and reset", "name: a\ndescription: d\nrules:\n  - match: {}\n    respond: {status: 500}\n    fault: connection_reset\n", "would never be seen"},
		{"latency over cap", "name: a\ndescription: d\nrules:\n  - match: {}\n    latency: 2h\n", "between 0 and 10m0s"},
		{"bad tenant", "name: a\ndescription: d\ntimeline:\n  - at: 1s\n    action: {unmap_tenant: {tenant: contoso}}\n", "tenant GUID"},
		{"action params", "name: a\ndescription: d\ntimeline:\n  - at: 1s\n    action: {revoke_tokens: {x: 1}}\n", "takes no parameters"},
		{"bad capture path", "name: a\ndescription: d\nsteps:\n  - get_token: {}\n    capture: {t: \"a..b\"}\n", "empty segment"},
		{"step neither", "name: a\ndescription: d\nsteps:\n  - name: x\n", "exactly one of request, get_token"},
		{"json and form", "name: a\ndescription: d\nsteps:\n  - request: {path: /x, form: {a: b}, json: {a: 1}}\n", "not both"},
		{"assertion and secret", "name: a\ndescription: d\nsteps:\n  - get_token: {client_secret: x, assertion: {}}\n", "client_secret or assertion"},
		{"assertion key", "name: a\ndescription: d\nsteps:\n  - get_token: {assertion: {key: other}}\n", "is not a key"},
		{"assertion unknown field", "name: a\ndescription: d\nsteps:\n  - get_token: {assertion: {exp: 1}}\n", "exp"},
		{"assertion bad duration", "name: a\ndescription: d\nsteps:\n  - get_token: {assertion: {exp_in: soon}}\n", "exp_in"},
		{"set_scopes without scopes", "name: a\ndescription: d\ntimeline:\n  - at: 1s\n    action: {set_scopes: {client_id: x}}\n", "scopes is required"},
		{"set_scopes bad scope", "name: a\ndescription: d\ntimeline:\n  - at: 1s\n    action: {set_scopes: {scopes: [system/Patient.rw]}}\n", "malformed SMART scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("f.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.frag) {
				t.Fatalf("err = %v, want one containing %q", err, tc.frag)
			}
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err is %T, want *LoadError", err)
			}
		})
	}
}

func TestLoadAssertionSteps(t *testing.T) {
	t.Parallel()
	s, err := Load("f.yaml", []byte(`name: a
description: d
timeline:
  - after_requests: 1
    action: {set_scopes: {scopes: [system/Patient.rs, "system/Observation.rs?category=vital-signs"]}}
steps:
  - get_token: {scope: system/*.read, assertion: {aud: "${base_url}/x", exp_in: -5m, iat_in: 2m, jti: j1, kid: k1, key: rotated}}
`))
	if err != nil {
		t.Fatal(err)
	}
	g := s.Steps[0].GetToken
	a := g.Assertion
	if g.Scope != "system/*.read" || a == nil || a.Audience != "${base_url}/x" || *a.ExpIn != -5*time.Minute || *a.IatIn != 2*time.Minute || a.JTI != "j1" || a.KID != "k1" || a.Key != AssertionKeyRotated {
		t.Errorf("get_token %+v assertion %+v", g, a)
	}
	if act := s.Timeline[0].Action; act.Kind != ActionSetScopes || len(act.Scopes) != 2 {
		t.Errorf("action %+v", act)
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "s.yaml")
	if err := os.WriteFile(p, []byte(goodScenario), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LoadFile(p)
	if err != nil || s.File != p {
		t.Fatalf("LoadFile = %v, %v", s, err)
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("missing file loaded")
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(goodScenario))
	f.Add([]byte("name: a\ndescription: b\nrules: [{match: {}, latency: 1s}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("--- \n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Load("fuzz.yaml", data)
		if err == nil {
			if s == nil || s.Name == "" {
				t.Fatalf("nil error without a named scenario")
			}
			return
		}
		var le *LoadError
		if !errors.As(err, &le) || len(le.Problems) == 0 {
			t.Fatalf("error %v is not a non-empty *LoadError", err)
		}
	})
}
