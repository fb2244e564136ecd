package scenario

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/yamlfile"
	"github.com/fhirsandbox/fhirsandbox/sandbox/smartscope"
	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a scenario file; larger files are refused unread.
const MaxFileBytes = yamlfile.MaxBytes

// Bounds on values, so a scenario cannot ask the server to do something
// absurd (sleep a day, repeat a request a million times). Lists are
// bounded by yamlfile.MaxItems.
const (
	maxDuration = 24 * time.Hour
	maxLatency  = 10 * time.Minute
	maxRepeat   = 10000
	// a setup secret's length: the token endpoint's bounds
	minSecretLen = 16
	maxSecretLen = 1024
)

// Problem is one thing wrong with a scenario file.
type Problem = yamlfile.Problem

// LoadError lists every problem of a file, in line order. It is a type of
// its own, not an alias of the shared error, so that errors.As tells a bad
// scenario from a bad config.
type LoadError yamlfile.Error

func (e *LoadError) Error() string { return (*yamlfile.Error)(e).Error() }

// LoadFile reads and loads one scenario file.
func LoadFile(path string) (*Scenario, error) {
	data, ps := yamlfile.Read(path)
	if ps != nil {
		return nil, &LoadError{Problems: ps}
	}
	return Load(path, data)
}

// Load parses and validates a scenario. name is used in messages. Every
// problem is reported at once in a *LoadError.
func Load(name string, data []byte) (*Scenario, error) {
	d := &decoder{Decoder: yamlfile.Decoder{File: name, Wording: yamlfile.MustBe}}
	root := d.Parse(data)
	if root == nil {
		if len(d.Problems()) == 0 {
			d.Add(0, "file is empty")
		}
		return nil, (*LoadError)(yamlfile.NewError(d.Problems()))
	}
	s := &Scenario{File: name}
	d.scenario(root, s)
	if ps := d.Problems(); len(ps) > 0 {
		return nil, (*LoadError)(yamlfile.NewError(ps))
	}
	return s, nil
}

// decoder walks a scenario through the shared primitives; what it adds is
// the cross-field rules of the format.
type decoder struct {
	yamlfile.Decoder
	// vars are the variables a step may use: built-ins and earlier
	// captures.
	vars map[string]bool
}

// ---- scenario ----

func (d *decoder) scenario(n *yaml.Node, s *Scenario) {
	d.vars = map[string]bool{"client_id": true, "client_secret": true, "tenant": true, "base_url": true}
	var rules, timeline, steps *yaml.Node
	ok := d.Mapping(n, "scenario", yamlfile.Fields{
		"name":        d.StrTo(&s.Name, "name"),
		"description": d.StrTo(&s.Description, "description"),
		"setup":       func(v *yaml.Node) { s.Setup = d.setup(v) },
		"rules":       func(v *yaml.Node) { rules = v },
		"timeline":    func(v *yaml.Node) { timeline = v },
		"steps":       func(v *yaml.Node) { steps = v },
		"journal":     func(v *yaml.Node) { s.Journal = d.journal(v) },
	})
	if !ok {
		return
	}
	if strings.TrimSpace(s.Name) == "" {
		d.Addf(n, "scenario: name is required")
	} else if !validName(s.Name) {
		d.Addf(n, "scenario: name %q must be lower-case letters, digits, '-' and '_'", s.Name)
	}
	if strings.TrimSpace(s.Description) == "" {
		d.Addf(n, "scenario: description is required: say what it reproduces and what a client should do")
	}
	if rules != nil {
		d.List(rules, "rules", func(c *yaml.Node) { s.Rules = append(s.Rules, d.rule(c, len(s.Rules)+1)) })
	}
	if timeline != nil {
		d.List(timeline, "timeline", func(c *yaml.Node) { s.Timeline = append(s.Timeline, d.event(c)) })
	}
	if steps != nil {
		d.List(steps, "steps", func(c *yaml.Node) { s.Steps = append(s.Steps, d.step(c, len(s.Steps)+1)) })
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,79}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (d *decoder) setup(n *yaml.Node) *Setup {
	su := &Setup{}
	d.Mapping(n, "setup", yamlfile.Fields{
		"tenants": func(v *yaml.Node) {
			d.List(v, "setup.tenants", func(c *yaml.Node) {
				var t SetupTenant
				d.Mapping(c, "setup tenant", yamlfile.Fields{
					"id":       d.StrTo(&t.ID, "tenant id"),
					"name":     d.StrTo(&t.Name, "tenant name"),
					"patients": d.IntTo(&t.Patients, "tenant patients", 0, 1000000),
					"seed": func(v *yaml.Node) {
						if x, ok := d.Int64(v, "tenant seed", math.MinInt64, math.MaxInt64); ok {
							t.Seed = x
						}
					},
				})
				if !guidRE.MatchString(t.ID) {
					d.Addf(c, "setup tenant: id must be a tenant GUID, got %q", t.ID)
				}
				su.Tenants = append(su.Tenants, t)
			})
		},
		"patients": func(v *yaml.Node) {
			if x, ok := d.Int(v, "setup.patients", 0, 1000000); ok {
				su.Patients = &x
			}
		},
		"fhir_version": func(v *yaml.Node) {
			if s, ok := d.Str(v, "setup.fhir_version"); ok {
				if _, ok := spec.Lookup(s); !ok || strings.ToLower(s) != s {
					d.Addf(v, "setup.fhir_version must be %s, got %q", spec.NameList(), s)
				}
				su.FHIRVersion = s
			}
		},
		"auth_required": func(v *yaml.Node) {
			if b, ok := d.Bool(v, "setup.auth_required"); ok {
				su.AuthRequired = &b
			}
		},
		"token_ttl": func(v *yaml.Node) {
			if x, ok := d.Duration(v, "setup.token_ttl", 0, maxDuration); ok {
				if x < time.Second {
					d.Addf(v, "setup.token_ttl must be at least 1s")
				}
				su.TokenTTL = &x
			}
		},
		"clients": func(v *yaml.Node) {
			d.List(v, "setup.clients", func(c *yaml.Node) {
				var cl SetupClient
				d.Mapping(c, "setup client", yamlfile.Fields{
					"id":      d.StrTo(&cl.ID, "client id"),
					"name":    d.StrTo(&cl.Name, "client name"),
					"tenants": func(v *yaml.Node) { cl.Tenants = d.StringList(v, "client tenants") },
					"secrets": func(v *yaml.Node) {
						d.List(v, "client secrets", func(sn *yaml.Node) {
							var sec SetupSecret
							d.Mapping(sn, "client secret", yamlfile.Fields{
								"value": d.StrTo(&sec.Value, "secret value"),
								"expires": func(v *yaml.Node) {
									if t, ok := d.Time(v, "secret expires"); ok {
										sec.Expires = t
									}
								},
								"expires_in": d.DurationTo(&sec.ExpiresIn, "secret expires_in", 0, maxDuration),
							})
							switch n := len(sec.Value); {
							case n == 0:
								d.Addf(sn, "client secret: value is required")
							case n < minSecretLen || n > maxSecretLen:
								// the token endpoint's rule (package auth), caught
								// here so validate fails where run would
								d.Addf(sn, "client secret: value has %d characters; want %d to %d", n, minSecretLen, maxSecretLen)
							}
							cl.Secrets = append(cl.Secrets, sec)
						})
					},
				})
				if cl.ID == "" {
					d.Addf(c, "setup client: id is required")
				}
				su.Clients = append(su.Clients, cl)
			})
		},
	})
	return su
}

func (d *decoder) match(n *yaml.Node, what string) Match {
	var m Match
	d.Mapping(n, what, yamlfile.Fields{
		"method": func(v *yaml.Node) {
			if s, ok := d.Str(v, what+".method"); ok {
				s = strings.ToUpper(s)
				if !isToken(s) {
					d.Addf(v, "%s.method %q is not an HTTP method", what, s)
				}
				m.Method = s
			}
		},
		"path": func(v *yaml.Node) {
			if s, ok := d.Str(v, what+".path"); ok {
				if !strings.HasPrefix(s, "/") {
					d.Addf(v, "%s.path must start with /, got %q", what, s)
				}
				m.Path = s
			}
		},
		"resource_type": func(v *yaml.Node) {
			var types []string
			if v.Kind == yaml.SequenceNode {
				types = d.StringList(v, what+".resource_type")
			} else if s, ok := d.Str(v, what+".resource_type"); ok {
				types = []string{s}
			}
			for _, s := range types {
				if s == "" || s[0] < 'A' || s[0] > 'Z' {
					d.Addf(v, "%s.resource_type must be a FHIR type such as Observation, got %q", what, s)
				}
			}
			m.ResourceTypes = types
		},
		"query": func(v *yaml.Node) { m.Query = d.StringMap(v, what+".query") },
		"tenant": func(v *yaml.Node) {
			if s, ok := d.Str(v, what+".tenant"); ok {
				if !guidRE.MatchString(s) {
					d.Addf(v, "%s.tenant must be a tenant GUID, got %q", what, s)
				}
				m.Tenant = strings.ToLower(s)
			}
		},
		"client_id": d.StrTo(&m.ClientID, what+".client_id"),
		"header": func(v *yaml.Node) {
			h := d.StringMap(v, what+".header")
			m.Header = map[string]string{}
			for k, val := range h {
				m.Header[http.CanonicalHeaderKey(k)] = val
			}
		},
	})
	return m
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

var faultKinds = []string{FaultConnectionReset, FaultEmptyResponse, FaultTruncatedBody, FaultMalformedJSON, FaultSlowDribble, FaultHang}

var quirkKinds = []string{QuirkDropOptional, QuirkSloppyDates, QuirkDSTU2ShapeInSTU3, QuirkWrongTotal, QuirkBrokenNextLink, QuirkIgnoreCount, QuirkCategoryAsObject, QuirkCategoryAsArray}

func (d *decoder) rule(n *yaml.Node, idx int) Rule {
	r := Rule{Line: n.Line, Probability: 1, Name: fmt.Sprintf("rule %d", idx)}
	what := fmt.Sprintf("rule %d", idx)
	hasMatch := false
	d.Mapping(n, what, yamlfile.Fields{
		"name":    d.StrTo(&r.Name, what+".name"),
		"match":   func(v *yaml.Node) { hasMatch = true; r.Match = d.match(v, what+".match") },
		"latency": func(v *yaml.Node) { r.Latency = d.latency(v, what+".latency") },
		"respond": func(v *yaml.Node) { r.Respond = d.respond(v, what+".respond") },
		"fault":   func(v *yaml.Node) { r.Fault = d.fault(v, what+".fault") },
		"quirks": func(v *yaml.Node) {
			d.List(v, what+".quirks", func(c *yaml.Node) {
				if q, ok := d.quirk(c, what+".quirks"); ok {
					r.Quirks = append(r.Quirks, q)
				}
			})
		},
		"probability": func(v *yaml.Node) {
			if p, ok := d.Float(v, what+".probability", 0, 1); ok {
				r.Probability = p
			}
		},
		"count": func(v *yaml.Node) {
			c := &CountWindow{}
			d.Mapping(v, what+".count", yamlfile.Fields{
				"from":  d.IntTo(&c.From, what+".count.from", 1, math.MaxInt32),
				"to":    d.IntTo(&c.To, what+".count.to", 1, math.MaxInt32),
				"every": d.IntTo(&c.Every, what+".count.every", 1, math.MaxInt32),
			})
			if c.From == 0 {
				c.From = max(c.Every, 1)
			}
			if c.Every == 0 {
				c.Every = 1
			}
			if c.To != 0 && c.To < c.From {
				d.Addf(v, "%s.count: to (%d) is before from (%d)", what, c.To, c.From)
			}
			r.Count = c
		},
		"window": func(v *yaml.Node) {
			w := &TimeWindow{}
			d.Mapping(v, what+".window", yamlfile.Fields{
				"after": d.DurationTo(&w.After, what+".window.after", 0, maxDuration),
				"until": d.DurationTo(&w.Until, what+".window.until", 0, maxDuration),
			})
			if w.Until != 0 && w.Until <= w.After {
				d.Addf(v, "%s.window: until (%s) must be after after (%s)", what, w.Until, w.After)
			}
			r.Window = w
		},
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	if !hasMatch {
		d.Addf(n, "%s: match is required (use match: {path: \"/**\"} for every request)", what)
	}
	if r.Latency == nil && r.Respond == nil && r.Fault == nil && len(r.Quirks) == 0 {
		d.Addf(n, "%s: no effect: give latency, respond, fault or quirks", what)
	}
	if r.Fault != nil && r.Respond != nil {
		switch r.Fault.Kind {
		case FaultConnectionReset, FaultEmptyResponse, FaultHang:
			d.Addf(n, "%s: fault %s sends no response, so respond would never be seen", what, r.Fault.Kind)
		}
	}
	return r
}

func (d *decoder) latency(n *yaml.Node, what string) *Latency {
	l := &Latency{}
	if n.Kind == yaml.ScalarNode {
		if v, ok := d.Duration(n, what, 0, maxLatency); ok {
			l.Fixed = v
		}
		return l
	}
	set := 0
	d.Mapping(n, what, yamlfile.Fields{
		"fixed": func(v *yaml.Node) { set++; l.Fixed, _ = d.Duration(v, what+".fixed", 0, maxLatency) },
		"uniform": func(v *yaml.Node) {
			set++
			u := &UniformLatency{}
			d.Mapping(v, what+".uniform", yamlfile.Fields{
				"min": d.DurationTo(&u.Min, what+".uniform.min", 0, maxLatency),
				"max": d.DurationTo(&u.Max, what+".uniform.max", 0, maxLatency),
			})
			if u.Max < u.Min {
				d.Addf(v, "%s.uniform: max (%s) is below min (%s)", what, u.Max, u.Min)
			}
			l.Uniform = u
		},
		"lognormal": func(v *yaml.Node) {
			set++
			ln := &LogNormalLatency{}
			d.Mapping(v, what+".lognormal", yamlfile.Fields{
				"median": d.DurationTo(&ln.Median, what+".lognormal.median", 0, maxLatency),
				"sigma": func(s *yaml.Node) {
					ln.Sigma, _ = d.Float(s, what+".lognormal.sigma", 0, 4)
				},
			})
			if ln.Median <= 0 {
				d.Addf(v, "%s.lognormal: median must be above 0", what)
			}
			l.LogNorm = ln
		},
	})
	if n.Kind == yaml.MappingNode && set != 1 {
		d.Addf(n, "%s must give exactly one of fixed, uniform, lognormal", what)
	}
	return l
}

func (d *decoder) respond(n *yaml.Node, what string) *Respond {
	r := &Respond{Headers: map[string]string{}}
	var oo *yaml.Node
	hasBody := false
	d.Mapping(n, what, yamlfile.Fields{
		"status": d.IntTo(&r.Status, what+".status", 100, 599),
		"body": func(v *yaml.Node) {
			hasBody = true
			if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && d.Check(v, what+".body") {
				r.Body = []byte(v.Value)
				return
			}
			if b, ok := d.JSON(v, what+".body"); ok {
				r.Body = b
				r.Headers["Content-Type"] = "application/fhir+json; charset=utf-8"
			}
		},
		"headers": func(v *yaml.Node) {
			for k, val := range d.StringMap(v, what+".headers") {
				r.Headers[http.CanonicalHeaderKey(k)] = val
			}
		},
		"operation_outcome": func(v *yaml.Node) { oo = v },
	})
	if oo != nil {
		if hasBody {
			d.Addf(oo, "%s: give body or operation_outcome, not both", what)
		}
		code, diag, severity := "exception", "", "error"
		d.Mapping(oo, what+".operation_outcome", yamlfile.Fields{
			"code":        d.StrTo(&code, what+".operation_outcome.code"),
			"diagnostics": d.StrTo(&diag, what+".operation_outcome.diagnostics"),
			"severity":    d.StrTo(&severity, what+".operation_outcome.severity"),
		})
		r.Outcome = &Outcome{Severity: severity, Code: code, Diagnostics: diag}
		r.Body = operationOutcome(severity, code, diag)
		r.Headers["Content-Type"] = "application/fhir+json; charset=utf-8"
	}
	if r.Status == 0 {
		d.Addf(n, "%s: status is required", what)
	}
	if _, ok := r.Headers["Content-Type"]; !ok && len(r.Body) > 0 {
		r.Headers["Content-Type"] = "text/plain; charset=utf-8"
	}
	return r
}

func operationOutcome(severity, code, diag string) []byte {
	type issue struct {
		Severity    string `json:"severity"`
		Code        string `json:"code"`
		Diagnostics string `json:"diagnostics,omitempty"`
	}
	b, _ := json.Marshal(struct {
		ResourceType string  `json:"resourceType"`
		Issue        []issue `json:"issue"`
	}{"OperationOutcome", []issue{{severity, code, diag}}})
	return b
}

func (d *decoder) fault(n *yaml.Node, what string) *Fault {
	kind, params, ok := d.OneOf(n, what, faultKinds)
	if !ok {
		return nil
	}
	f := &Fault{Kind: kind}
	if kind == FaultSlowDribble {
		f.BytesPerSecond = 100
		if params != nil {
			d.Mapping(params, what+"."+kind, yamlfile.Fields{
				"bytes_per_second": d.IntTo(&f.BytesPerSecond, what+".bytes_per_second", 1, 1<<30),
			})
		}
	} else if params != nil {
		d.Addf(params, "%s: %s takes no parameters", what, kind)
	}
	return f
}

func (d *decoder) quirk(n *yaml.Node, what string) (Quirk, bool) {
	kind, params, ok := d.OneOf(n, what, quirkKinds)
	if !ok {
		return Quirk{}, false
	}
	q := Quirk{Kind: kind}
	w := what + "." + kind
	switch kind {
	case QuirkDropOptional:
		if params == nil {
			d.Addf(n, "%s: fields is required", w)
			return q, false
		}
		d.Mapping(params, w, yamlfile.Fields{
			"fields": func(v *yaml.Node) { q.Fields = d.StringList(v, w+".fields") },
		})
		if len(q.Fields) == 0 {
			d.Addf(params, "%s: fields must list at least one element", w)
		}
		for _, f := range q.Fields {
			if f == "" || strings.Contains(f, "..") || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || f == "resourceType" || f == "id" {
				d.Addf(params, "%s: %q is not a droppable element path", w, f)
			}
		}
	case QuirkWrongTotal:
		if params == nil {
			d.Addf(n, "%s: give value or delta", w)
			return q, false
		}
		set := 0
		d.Mapping(params, w, yamlfile.Fields{
			"value": func(v *yaml.Node) {
				set++
				if x, ok := d.Int(v, w+".value", 0, math.MaxInt32); ok {
					q.Total = &x
				}
			},
			"delta": func(v *yaml.Node) {
				set++
				q.HasDelta = true
				q.Delta, _ = d.Int(v, w+".delta", math.MinInt32, math.MaxInt32)
			},
		})
		if set != 1 {
			d.Addf(params, "%s: give exactly one of value, delta", w)
		}
	case QuirkBrokenNextLink:
		q.Mode = "dangling"
		if params != nil {
			d.Mapping(params, w, yamlfile.Fields{
				"mode": func(v *yaml.Node) {
					if s, ok := d.Str(v, w+".mode"); ok {
						if s != "dangling" && s != "loop" {
							d.Addf(v, "%s.mode must be dangling or loop, got %q", w, s)
						}
						q.Mode = s
					}
				},
			})
		}
	default:
		if params != nil {
			d.Addf(params, "%s takes no parameters", w)
		}
	}
	return q, true
}

var actionKinds = []string{ActionExpireSecret, ActionRevokeSecret, ActionDeleteClient, ActionRotateSigningKey, ActionRevokeTokens, ActionSetTokenTTL, ActionUnmapTenant, ActionTenantDown, ActionMetadata, ActionSetScopes}

func (d *decoder) event(n *yaml.Node) Event {
	e := Event{Line: n.Line}
	what := fmt.Sprintf("timeline event at line %d", n.Line)
	var actionNode *yaml.Node
	d.Mapping(n, "timeline event", yamlfile.Fields{
		"at": func(v *yaml.Node) {
			if x, ok := d.Duration(v, "timeline at", 0, maxDuration); ok {
				e.At = &x
			}
		},
		"after_requests": d.IntTo(&e.AfterRequests, "timeline after_requests", 1, math.MaxInt32),
		"match": func(v *yaml.Node) {
			m := d.match(v, "timeline match")
			e.Match = &m
		},
		"action": func(v *yaml.Node) { actionNode = v },
	})
	if n.Kind != yaml.MappingNode {
		return e
	}
	if (e.At == nil) == (e.AfterRequests == 0) {
		d.Addf(n, "%s: give exactly one of at, after_requests", what)
	}
	if e.Match != nil && e.AfterRequests == 0 {
		d.Addf(n, "%s: match only applies to after_requests events", what)
	}
	if actionNode == nil {
		d.Addf(n, "%s: action is required", what)
		return e
	}
	kind, params, ok := d.OneOf(actionNode, "action", actionKinds)
	if !ok {
		return e
	}
	a := Action{Kind: kind}
	w := "action " + kind
	fields := yamlfile.Fields{}
	switch kind {
	case ActionExpireSecret, ActionDeleteClient:
		fields["client_id"] = d.StrTo(&a.ClientID, w+".client_id")
	case ActionRevokeSecret:
		fields["client_id"] = d.StrTo(&a.ClientID, w+".client_id")
		fields["keep_newest"] = d.BoolTo(&a.KeepNewest, w+".keep_newest")
	case ActionRotateSigningKey:
		fields["retire_old"] = d.BoolTo(&a.RetireOld, w+".retire_old")
	case ActionSetTokenTTL:
		fields["ttl"] = d.DurationTo(&a.TTL, w+".ttl", 0, maxDuration)
	case ActionUnmapTenant:
		fields["tenant"] = d.StrTo(&a.Tenant, w+".tenant")
	case ActionTenantDown:
		a.Down = true
		fields["tenant"] = d.StrTo(&a.Tenant, w+".tenant")
		fields["down"] = d.BoolTo(&a.Down, w+".down")
	case ActionSetScopes:
		fields["client_id"] = d.StrTo(&a.ClientID, w+".client_id")
		fields["scopes"] = func(n *yaml.Node) {
			a.Scopes = d.StringList(n, w+".scopes")
			if a.Scopes == nil {
				a.Scopes = []string{}
			}
			for _, sc := range a.Scopes {
				if _, err := smartscope.Parse(sc); err != nil {
					d.Addf(n, "%s.scopes: %v", w, err)
				}
			}
		}
	case ActionMetadata:
		fields["token_url"] = d.StrTo(&a.Metadata.TokenURL, w+".token_url")
		fields["drop_oauth_uris"] = d.BoolTo(&a.Metadata.DropOAuthURIs, w+".drop_oauth_uris")
		fields["fhir_version"] = d.StrTo(&a.Metadata.FHIRVersion, w+".fhir_version")
	}
	if params != nil {
		if len(fields) == 0 {
			d.Addf(params, "%s takes no parameters", w)
		} else {
			d.Mapping(params, w, fields)
		}
	}
	switch kind {
	case ActionSetTokenTTL:
		if a.TTL < time.Second {
			d.Addf(actionNode, "%s: ttl of at least 1s is required", w)
		}
	case ActionUnmapTenant, ActionTenantDown:
		if !guidRE.MatchString(a.Tenant) {
			d.Addf(actionNode, "%s: tenant must be a tenant GUID, got %q", w, a.Tenant)
		}
		a.Tenant = strings.ToLower(a.Tenant)
	case ActionSetScopes:
		if a.Scopes == nil {
			d.Addf(actionNode, "%s: scopes is required (a list of SMART system scopes; [] lifts the restriction)", w)
		}
	case ActionMetadata:
		m := a.Metadata
		if m.TokenURL == "" && !m.DropOAuthURIs && m.FHIRVersion == "" {
			d.Addf(actionNode, "%s: give token_url, drop_oauth_uris or fhir_version", w)
		}
	}
	e.Action = a
	return e
}

var varRE = regexp.MustCompile(`\$\{([^}]*)\}`)

// checkVars reports ${var} references to variables no earlier step sets.
func (d *decoder) checkVars(n *yaml.Node, s string) {
	for _, m := range varRE.FindAllStringSubmatch(s, -1) {
		if !d.vars[m[1]] {
			d.Addf(n, "unknown variable ${%s}: capture it in an earlier step (known: %s)", m[1], strings.Join(sortedKeys(d.vars), ", "))
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkVarsIn walks every scalar of a node for ${var} references.
func (d *decoder) checkVarsIn(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode {
		d.checkVars(n, n.Value)
	}
	for _, c := range n.Content {
		d.checkVarsIn(c)
	}
}

func (d *decoder) pairList(n *yaml.Node, what string) [][2]string {
	var out [][2]string
	d.Pairs(n, what, func(k, v *yaml.Node) {
		if v.Kind == yaml.SequenceNode {
			for _, s := range d.StringList(v, what+" "+k.Value) {
				out = append(out, [2]string{k.Value, s})
			}
			return
		}
		if s, ok := d.Str(v, what+" "+k.Value); ok {
			out = append(out, [2]string{k.Value, s})
		}
	})
	return out
}

func (d *decoder) step(n *yaml.Node, idx int) Step {
	st := Step{Line: n.Line, Repeat: 1, Name: fmt.Sprintf("step %d", idx)}
	what := fmt.Sprintf("step %d", idx)
	var captures *yaml.Node
	d.Mapping(n, what, yamlfile.Fields{
		"name": d.StrTo(&st.Name, what+".name"),
		"request": func(v *yaml.Node) {
			d.checkVarsIn(v)
			st.Request = d.request(v, what+".request")
		},
		"get_token": func(v *yaml.Node) {
			d.checkVarsIn(v)
			g := &GetToken{}
			if !yamlfile.IsNull(v) {
				d.Mapping(v, what+".get_token", yamlfile.Fields{
					"client_id":     d.StrTo(&g.ClientID, "get_token.client_id"),
					"client_secret": d.StrTo(&g.ClientSecret, "get_token.client_secret"),
					"tenant":        d.StrTo(&g.Tenant, "get_token.tenant"),
					"scope":         d.StrTo(&g.Scope, "get_token.scope"),
					"assertion": func(v *yaml.Node) {
						a := &AssertionSpec{}
						if !yamlfile.IsNull(v) {
							w := what + ".get_token.assertion"
							d.Mapping(v, w, yamlfile.Fields{
								"aud": d.StrTo(&a.Audience, w+".aud"),
								"jti": d.StrTo(&a.JTI, w+".jti"),
								"kid": d.StrTo(&a.KID, w+".kid"),
								"key": d.StrTo(&a.Key, w+".key"),
								"exp_in": func(n *yaml.Node) {
									var x time.Duration
									d.DurationTo(&x, w+".exp_in", -maxDuration, maxDuration)(n)
									a.ExpIn = &x
								},
								"iat_in": func(n *yaml.Node) {
									var x time.Duration
									d.DurationTo(&x, w+".iat_in", -maxDuration, maxDuration)(n)
									a.IatIn = &x
								},
							})
							if a.Key != "" && a.Key != AssertionKeyRotated {
								d.Addf(v, "%s.key: %q is not a key (want %s)", w, a.Key, AssertionKeyRotated)
							}
						}
						g.Assertion = a
					},
				})
				if g.Assertion != nil && g.ClientSecret != "" {
					d.Addf(v, "%s.get_token: give client_secret or assertion, not both", what)
				}
			}
			st.GetToken = g
		},
		"expect": func(v *yaml.Node) {
			d.checkVarsIn(v)
			st.Expect = d.expect(v, what+".expect")
		},
		"capture": func(v *yaml.Node) { captures = v },
		"repeat":  d.IntTo(&st.Repeat, what+".repeat", 1, maxRepeat),
		"wait":    d.DurationTo(&st.Wait, what+".wait", 0, maxDuration),
	})
	if n.Kind != yaml.MappingNode {
		return st
	}
	if (st.Request == nil) == (st.GetToken == nil) {
		if st.Request == nil && st.Wait > 0 && captures == nil {
			// a pure wait step: advance the clock, check nothing
			return st
		}
		d.Addf(n, "%s: give exactly one of request, get_token", what)
	}
	if st.GetToken != nil {
		d.vars["token"] = true
	}
	if captures != nil {
		st.Capture = map[string]string{}
		d.Pairs(captures, what+".capture", func(k, v *yaml.Node) {
			if !varNameRE.MatchString(k.Value) {
				d.Addf(k, "%s.capture: %q is not a variable name", what, k.Value)
			}
			if s, ok := d.Str(v, what+".capture "+k.Value); ok {
				if _, err := parsePath(s); err != nil {
					d.Addf(v, "%s.capture %s: %v", what, k.Value, err)
				} else if strings.Contains(s, "*") {
					// a variable holds one value; "*" reaches any number
					d.Addf(v, "%s.capture %s: %q has a \"*\" segment, but a capture takes one value", what, k.Value, s)
				}
				st.Capture[k.Value] = s
				d.vars[k.Value] = true
			}
		})
	}
	return st
}

var varNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (d *decoder) request(n *yaml.Node, what string) *StepRequest {
	r := &StepRequest{Method: http.MethodGet}
	d.Mapping(n, what, yamlfile.Fields{
		"method": func(v *yaml.Node) {
			if s, ok := d.Str(v, what+".method"); ok {
				r.Method = strings.ToUpper(s)
				if !isToken(r.Method) {
					d.Addf(v, "%s.method %q is not an HTTP method", what, s)
				}
			}
		},
		"path": d.StrTo(&r.Path, what+".path"),
		"query": func(v *yaml.Node) {
			r.Query = d.pairList(v, what+".query")
		},
		"form": func(v *yaml.Node) { r.Form = d.pairList(v, what+".form") },
		"json": func(v *yaml.Node) {
			if b, ok := d.JSON(v, what+".json"); ok {
				r.JSON = b
			}
		},
		"headers": func(v *yaml.Node) { r.Headers = d.StringMap(v, what+".headers") },
		"auth": func(v *yaml.Node) {
			if s, ok := d.Str(v, what+".auth"); ok {
				if s != AuthNone && s != AuthToken && s != AuthBasic {
					d.Addf(v, "%s.auth must be none, token or basic, got %q", what, s)
				}
				r.Auth = s
			}
		},
	})
	if n.Kind == yaml.MappingNode && !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "${") {
		d.Addf(n, "%s: path must start with / (or be a captured URL such as ${next}), got %q", what, r.Path)
	}
	if r.Form != nil && r.JSON != nil {
		d.Addf(n, "%s: give form or json, not both", what)
	}
	if r.Auth == AuthToken && !d.vars["token"] {
		d.Addf(n, "%s: auth token needs an earlier get_token step", what)
	}
	return r
}

func (d *decoder) expect(n *yaml.Node, what string) Expect {
	var e Expect
	d.Mapping(n, what, yamlfile.Fields{
		"status": func(v *yaml.Node) {
			if v.Kind == yaml.SequenceNode {
				d.List(v, what+".status", func(c *yaml.Node) {
					if x, ok := d.Int(c, what+".status", 100, 599); ok {
						e.Status = append(e.Status, x)
					}
				})
				return
			}
			if x, ok := d.Int(v, what+".status", 100, 599); ok {
				e.Status = []int{x}
			}
		},
		"headers": func(v *yaml.Node) {
			e.Headers = map[string]*regexp.Regexp{}
			d.Pairs(v, what+".headers", func(k, val *yaml.Node) {
				s, ok := d.Str(val, what+".headers "+k.Value)
				if !ok {
					return
				}
				re, err := regexp.Compile(s)
				if err != nil {
					d.Addf(val, "%s.headers %s: bad regular expression: %v", what, k.Value, err)
					return
				}
				e.Headers[http.CanonicalHeaderKey(k.Value)] = re
			})
		},
		"json": func(v *yaml.Node) {
			d.Pairs(v, what+".json", func(k, val *yaml.Node) {
				if _, err := parsePath(k.Value); err != nil {
					d.Addf(k, "%s.json: %v", what, err)
					return
				}
				if je, ok := d.jsonExpect(k.Value, val, what+".json "+k.Value); ok {
					e.JSON = append(e.JSON, je)
				}
			})
		},
		"resource_count": func(v *yaml.Node) {
			if x, ok := d.Int(v, what+".resource_count", 0, math.MaxInt32); ok {
				e.ResourceCount = &x
			}
		},
		"max_ms": d.IntTo(&e.MaxMS, what+".max_ms", 1, int(maxDuration/time.Millisecond)),
		"min_ms": d.IntTo(&e.MinMS, what+".min_ms", 0, int(maxDuration/time.Millisecond)),
		"error": func(v *yaml.Node) {
			s, ok := d.Str(v, what+".error")
			if !ok {
				return
			}
			re, err := regexp.Compile(s)
			if err != nil {
				d.Addf(v, "%s.error: bad regular expression: %v", what, err)
				return
			}
			e.Error = re
		},
		"json_valid": func(v *yaml.Node) {
			if b, ok := d.Bool(v, what+".json_valid"); ok {
				e.JSONValid = &b
			}
		},
	})
	if e.Error != nil && (len(e.Status) > 0 || len(e.JSON) > 0 || len(e.Headers) > 0 || e.ResourceCount != nil) {
		d.Addf(n, "%s: error expects no response, so status, headers and json cannot be checked", what)
	}
	if e.MaxMS > 0 && e.MinMS > e.MaxMS {
		d.Addf(n, "%s: min_ms (%d) is above max_ms (%d)", what, e.MinMS, e.MaxMS)
	}
	return e
}

var jsonOps = []string{OpExists, OpAbsent, OpEq, OpContains, OpGt, OpLt, OpLen}

func (d *decoder) jsonExpect(path string, n *yaml.Node, what string) (JSONExpect, bool) {
	je := JSONExpect{Path: path, Op: OpEq}
	if !d.Check(n, what) {
		return je, false
	}
	valNode := n
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && slices.Contains(jsonOps, n.Content[0].Value) {
		je.Op = n.Content[0].Value
		valNode = n.Content[1]
	} else if n.Kind == yaml.MappingNode && len(n.Content) == 2 && strings.HasPrefix(n.Content[0].Value, "$") {
		d.Addf(n, "%s: unknown operator %q (known: %s)", what, n.Content[0].Value, strings.Join(jsonOps, ", "))
		return je, false
	}
	b, ok := d.JSON(valNode, what)
	if !ok {
		return je, false
	}
	if err := json.Unmarshal(b, &je.Value); err != nil {
		d.Addf(n, "%s: %v", what, err)
		return je, false
	}
	switch je.Op {
	case OpExists, OpAbsent:
		if bv, isBool := je.Value.(bool); !isBool || !bv {
			d.Addf(valNode, "%s: %s takes true", what, je.Op)
			return je, false
		}
	case OpGt, OpLt, OpLen:
		if _, isNum := je.Value.(float64); !isNum {
			d.Addf(valNode, "%s: %s takes a number", what, je.Op)
			return je, false
		}
	}
	return je, true
}

func (d *decoder) journal(n *yaml.Node) *JournalExpect {
	j := &JournalExpect{}
	d.Mapping(n, "journal", yamlfile.Fields{
		"token_requests": func(v *yaml.Node) {
			d.Mapping(v, "journal.token_requests", yamlfile.Fields{
				"max": func(m *yaml.Node) {
					if x, ok := d.Int(m, "journal.token_requests.max", 0, math.MaxInt32); ok {
						j.TokenRequestsMax = &x
					}
				},
			})
		},
		"max_rps": func(v *yaml.Node) {
			j.MaxRPS, _ = d.Float(v, "journal.max_rps", 0.001, 1e6)
		},
		"honoured_retry_after": d.BoolTo(&j.HonouredRetryAfter, "journal.honoured_retry_after"),
	})
	return j
}
