package scenario

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/spec"
	"gopkg.in/yaml.v3"
)

// MaxFileBytes bounds a scenario file; larger files are refused unread.
const MaxFileBytes = 1 << 20

// Bounds on values, so a scenario cannot ask the server to do something
// absurd (sleep a day, repeat a request a million times).
const (
	maxDuration = 24 * time.Hour
	maxLatency  = 10 * time.Minute
	maxRepeat   = 10000
	maxItems    = 10000
)

// Problem is one thing wrong with a scenario file.
type Problem struct {
	File string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.File, p.Msg)
}

// LoadError lists every problem of a file, in line order.
type LoadError struct {
	Problems []Problem
}

func (e *LoadError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and loads one scenario file.
func LoadFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load scenario: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("load scenario %s: %w", path, err)
	}
	return Load(path, data)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// Load parses and validates a scenario. name is used in messages. Every
// problem is reported at once in a *LoadError.
func Load(name string, data []byte) (*Scenario, error) {
	d := &decoder{file: name}
	if len(data) > MaxFileBytes {
		d.add(0, fmt.Sprintf("file is larger than %d bytes", MaxFileBytes))
		return nil, d.err()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			d.add(0, "file is empty")
		} else {
			d.yamlErr(err)
		}
		return nil, d.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.add(extra.Line, "a second YAML document is not allowed; a file holds one scenario")
	} else if !errors.Is(err, io.EOF) {
		d.yamlErr(err)
	}
	s := &Scenario{File: name}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	d.scenario(doc, s)
	if len(d.probs) > 0 {
		return nil, d.err()
	}
	return s, nil
}

type decoder struct {
	file  string
	probs []Problem
	// vars are the variables a step may use: built-ins and earlier
	// captures.
	vars map[string]bool
}

func (d *decoder) add(line int, msg string) {
	d.probs = append(d.probs, Problem{File: d.file, Line: line, Msg: msg})
}

func (d *decoder) addf(n *yaml.Node, format string, args ...any) {
	d.add(n.Line, fmt.Sprintf(format, args...))
}

func (d *decoder) yamlErr(err error) {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		for _, m := range te.Errors {
			d.yamlMsg(m)
		}
		return
	}
	d.yamlMsg(err.Error())
}

func (d *decoder) yamlMsg(msg string) {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		d.add(n, m[2])
		return
	}
	d.add(0, strings.TrimPrefix(msg, "yaml: "))
}

func (d *decoder) err() error {
	sort.SliceStable(d.probs, func(i, j int) bool { return d.probs[i].Line < d.probs[j].Line })
	return &LoadError{Problems: d.probs}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// checkNode refuses aliases: they make a file's meaning depend on text
// elsewhere and allow exponential expansion.
func (d *decoder) checkNode(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		d.addf(n, "aliases are not allowed; write the value out")
		return false
	}
	return true
}

type field func(*yaml.Node)

// mapping walks a mapping node, reporting non-mappings, duplicate and
// unknown keys, and calling the handler of each known key.
func (d *decoder) mapping(n *yaml.Node, what string, fields map[string]field) bool {
	if !d.checkNode(n) {
		return false
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s must be a mapping, got %s", what, kindName(n))
		return false
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.addf(k, "%s: keys must be plain names", what)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.addf(k, "%s: duplicate key %q (first at line %d)", what, k.Value, prev)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			d.addf(k, "%s: unknown key %q (known: %s)", what, k.Value, knownKeys(fields))
			continue
		}
		if !d.checkNode(v) {
			continue
		}
		f(v)
	}
	return true
}

func knownKeys(fields map[string]field) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// pairs walks a mapping of free-form keys (query parameters, headers).
func (d *decoder) pairs(n *yaml.Node, what string, f func(k, v *yaml.Node)) {
	if !d.checkNode(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.addf(n, "%s must be a mapping, got %s", what, kindName(n))
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			d.addf(k, "%s: keys must be non-empty names", what)
			continue
		}
		if seen[k.Value] {
			d.addf(k, "%s: duplicate key %q", what, k.Value)
			continue
		}
		seen[k.Value] = true
		if !d.checkNode(v) {
			continue
		}
		f(k, v)
	}
}

func (d *decoder) list(n *yaml.Node, what string, f func(*yaml.Node)) {
	if !d.checkNode(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.addf(n, "%s must be a list, got %s", what, kindName(n))
		return
	}
	if len(n.Content) > maxItems {
		d.addf(n, "%s has %d items, at most %d allowed", what, len(n.Content), maxItems)
		return
	}
	for _, c := range n.Content {
		if d.checkNode(c) {
			f(c)
		}
	}
}

func (d *decoder) str(n *yaml.Node, what string) (string, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.addf(n, "%s must be a string, got %s", what, kindName(n))
		return "", false
	}
	return n.Value, true
}

func (d *decoder) strTo(dst *string, what string) field {
	return func(n *yaml.Node) {
		if s, ok := d.str(n, what); ok {
			*dst = s
		}
	}
}

func (d *decoder) intVal(n *yaml.Node, what string, lo, hi int) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		d.addf(n, "%s must be an integer, got %s", what, kindName(n))
		return 0, false
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil || v < lo || v > hi {
		d.addf(n, "%s must be between %d and %d, got %s", what, lo, hi, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) intTo(dst *int, what string, lo, hi int) field {
	return func(n *yaml.Node) {
		if v, ok := d.intVal(n, what, lo, hi); ok {
			*dst = v
		}
	}
}

func (d *decoder) float(n *yaml.Node, what string, lo, hi float64) (float64, bool) {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		d.addf(n, "%s must be a number, got %s", what, kindName(n))
		return 0, false
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || v < lo || v > hi {
		d.addf(n, "%s must be between %g and %g, got %s", what, lo, hi, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) boolVal(n *yaml.Node, what string) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		d.addf(n, "%s must be true or false, got %s", what, kindName(n))
		return false, false
	}
	return n.Value == "true", true
}

func (d *decoder) boolTo(dst *bool, what string) field {
	return func(n *yaml.Node) {
		if v, ok := d.boolVal(n, what); ok {
			*dst = v
		}
	}
}

// duration accepts Go durations ("250ms", "2s", "1h30m"), and 0.
func (d *decoder) duration(n *yaml.Node, what string, hi time.Duration) (time.Duration, bool) {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		d.addf(n, "%s must be a duration such as 250ms or 2s, got %s", what, kindName(n))
		return 0, false
	}
	if n.Value == "0" {
		return 0, true
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		d.addf(n, "%s must be a duration such as 250ms or 2s, got %q", what, n.Value)
		return 0, false
	}
	if v < 0 || v > hi {
		d.addf(n, "%s must be between 0 and %s, got %s", what, hi, n.Value)
		return 0, false
	}
	return v, true
}

func (d *decoder) durTo(dst *time.Duration, what string, hi time.Duration) field {
	return func(n *yaml.Node) {
		if v, ok := d.duration(n, what, hi); ok {
			*dst = v
		}
	}
}

func (d *decoder) stringList(n *yaml.Node, what string) []string {
	var out []string
	d.list(n, what, func(c *yaml.Node) {
		if s, ok := d.str(c, what+" item"); ok {
			out = append(out, s)
		}
	})
	return out
}

func (d *decoder) stringMap(n *yaml.Node, what string) map[string]string {
	out := map[string]string{}
	d.pairs(n, what, func(k, v *yaml.Node) {
		if s, ok := d.str(v, what+" "+k.Value); ok {
			out[k.Value] = s
		}
	})
	return out
}

// oneOf reads "name" or {name: params}: a kind with optional parameters.
func (d *decoder) oneOf(n *yaml.Node, what string, kinds []string) (kind string, params *yaml.Node, ok bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		kind = n.Value
	case yaml.MappingNode:
		if len(n.Content) != 2 {
			d.addf(n, "%s must name exactly one of: %s", what, strings.Join(kinds, ", "))
			return "", nil, false
		}
		kind, params = n.Content[0].Value, n.Content[1]
		if !d.checkNode(params) {
			return "", nil, false
		}
		if params.Kind == yaml.ScalarNode && params.Tag == "!!null" {
			params = nil
		}
	default:
		d.addf(n, "%s must be a name or a one-key mapping, got %s", what, kindName(n))
		return "", nil, false
	}
	if !slices.Contains(kinds, kind) {
		d.addf(n, "%s: unknown kind %q (known: %s)", what, kind, strings.Join(kinds, ", "))
		return "", nil, false
	}
	return kind, params, true
}

// toJSON renders a YAML value as JSON, keeping mapping key order.
func (d *decoder) toJSON(n *yaml.Node, what string) ([]byte, bool) {
	var b bytes.Buffer
	ok := d.writeJSON(&b, n, what, 0)
	return b.Bytes(), ok
}

func (d *decoder) writeJSON(b *bytes.Buffer, n *yaml.Node, what string, depth int) bool {
	if !d.checkNode(n) {
		return false
	}
	if depth > 64 {
		d.addf(n, "%s is nested too deeply", what)
		return false
	}
	switch n.Kind {
	case yaml.MappingNode:
		b.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				d.addf(k, "%s: keys must be plain names", what)
				return false
			}
			if seen[k.Value] {
				d.addf(k, "%s: duplicate key %q", what, k.Value)
				return false
			}
			seen[k.Value] = true
			if i > 0 {
				b.WriteByte(',')
			}
			kb, _ := json.Marshal(k.Value)
			b.Write(kb)
			b.WriteByte(':')
			if !d.writeJSON(b, n.Content[i+1], what, depth+1) {
				return false
			}
		}
		b.WriteByte('}')
	case yaml.SequenceNode:
		b.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				b.WriteByte(',')
			}
			if !d.writeJSON(b, c, what, depth+1) {
				return false
			}
		}
		b.WriteByte(']')
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			b.WriteString("null")
		case "!!bool":
			b.WriteString(n.Value)
		case "!!int", "!!float":
			f, err := strconv.ParseFloat(n.Value, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				d.addf(n, "%s: %q is not a JSON number", what, n.Value)
				return false
			}
			if n.Tag == "!!int" {
				if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
					b.WriteString(strconv.FormatInt(i, 10))
					return true
				}
			}
			nb, _ := json.Marshal(f)
			b.Write(nb)
		default:
			sb, _ := json.Marshal(n.Value)
			b.Write(sb)
		}
	default:
		d.addf(n, "%s cannot be rendered as JSON", what)
		return false
	}
	return true
}

// ---- scenario ----

func (d *decoder) scenario(n *yaml.Node, s *Scenario) {
	d.vars = map[string]bool{"client_id": true, "client_secret": true, "tenant": true, "base_url": true}
	var rules, timeline, steps *yaml.Node
	ok := d.mapping(n, "scenario", map[string]field{
		"name":        d.strTo(&s.Name, "name"),
		"description": d.strTo(&s.Description, "description"),
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
		d.addf(n, "scenario: name is required")
	} else if !validName(s.Name) {
		d.addf(n, "scenario: name %q must be lower-case letters, digits, '-' and '_'", s.Name)
	}
	if strings.TrimSpace(s.Description) == "" {
		d.addf(n, "scenario: description is required: say what it reproduces and what a client should do")
	}
	if rules != nil {
		d.list(rules, "rules", func(c *yaml.Node) { s.Rules = append(s.Rules, d.rule(c, len(s.Rules)+1)) })
	}
	if timeline != nil {
		d.list(timeline, "timeline", func(c *yaml.Node) { s.Timeline = append(s.Timeline, d.event(c)) })
	}
	if steps != nil {
		d.list(steps, "steps", func(c *yaml.Node) { s.Steps = append(s.Steps, d.step(c, len(s.Steps)+1)) })
	}
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,79}$`)

func validName(s string) bool { return nameRE.MatchString(s) }

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func (d *decoder) setup(n *yaml.Node) *Setup {
	su := &Setup{}
	d.mapping(n, "setup", map[string]field{
		"tenants": func(v *yaml.Node) {
			d.list(v, "setup.tenants", func(c *yaml.Node) {
				var t SetupTenant
				d.mapping(c, "setup tenant", map[string]field{
					"id":       d.strTo(&t.ID, "tenant id"),
					"name":     d.strTo(&t.Name, "tenant name"),
					"patients": d.intTo(&t.Patients, "tenant patients", 0, 1000000),
					"seed": func(v *yaml.Node) {
						if x, ok := d.intVal(v, "tenant seed", math.MinInt, math.MaxInt); ok {
							t.Seed = int64(x)
						}
					},
				})
				if !guidRE.MatchString(t.ID) {
					d.addf(c, "setup tenant: id must be a tenant GUID, got %q", t.ID)
				}
				su.Tenants = append(su.Tenants, t)
			})
		},
		"patients": func(v *yaml.Node) {
			if x, ok := d.intVal(v, "setup.patients", 0, 1000000); ok {
				su.Patients = &x
			}
		},
		"fhir_version": func(v *yaml.Node) {
			if s, ok := d.str(v, "setup.fhir_version"); ok {
				if _, ok := spec.Lookup(s); !ok || strings.ToLower(s) != s {
					d.addf(v, "setup.fhir_version must be %s, got %q", spec.NameList(), s)
				}
				su.FHIRVersion = s
			}
		},
		"auth_required": func(v *yaml.Node) {
			if b, ok := d.boolVal(v, "setup.auth_required"); ok {
				su.AuthRequired = &b
			}
		},
		"token_ttl": func(v *yaml.Node) {
			if x, ok := d.duration(v, "setup.token_ttl", maxDuration); ok {
				if x < time.Second {
					d.addf(v, "setup.token_ttl must be at least 1s")
				}
				su.TokenTTL = &x
			}
		},
		"clients": func(v *yaml.Node) {
			d.list(v, "setup.clients", func(c *yaml.Node) {
				var cl SetupClient
				d.mapping(c, "setup client", map[string]field{
					"id":      d.strTo(&cl.ID, "client id"),
					"name":    d.strTo(&cl.Name, "client name"),
					"tenants": func(v *yaml.Node) { cl.Tenants = d.stringList(v, "client tenants") },
					"secrets": func(v *yaml.Node) {
						d.list(v, "client secrets", func(sn *yaml.Node) {
							var sec SetupSecret
							d.mapping(sn, "client secret", map[string]field{
								"value": d.strTo(&sec.Value, "secret value"),
								"expires": func(v *yaml.Node) {
									if s, ok := d.str(v, "secret expires"); ok {
										t, err := time.Parse(time.RFC3339, s)
										if err != nil {
											d.addf(v, "secret expires must be an RFC 3339 time, got %q", s)
										}
										sec.Expires = t
									}
								},
								"expires_in": d.durTo(&sec.ExpiresIn, "secret expires_in", maxDuration),
							})
							if sec.Value == "" {
								d.addf(sn, "client secret: value is required")
							}
							cl.Secrets = append(cl.Secrets, sec)
						})
					},
				})
				if cl.ID == "" {
					d.addf(c, "setup client: id is required")
				}
				su.Clients = append(su.Clients, cl)
			})
		},
	})
	return su
}

func (d *decoder) match(n *yaml.Node, what string) Match {
	var m Match
	d.mapping(n, what, map[string]field{
		"method": func(v *yaml.Node) {
			if s, ok := d.str(v, what+".method"); ok {
				s = strings.ToUpper(s)
				if !isToken(s) {
					d.addf(v, "%s.method %q is not an HTTP method", what, s)
				}
				m.Method = s
			}
		},
		"path": func(v *yaml.Node) {
			if s, ok := d.str(v, what+".path"); ok {
				if !strings.HasPrefix(s, "/") {
					d.addf(v, "%s.path must start with /, got %q", what, s)
				}
				m.Path = s
			}
		},
		"resource_type": func(v *yaml.Node) {
			var types []string
			if v.Kind == yaml.SequenceNode {
				types = d.stringList(v, what+".resource_type")
			} else if s, ok := d.str(v, what+".resource_type"); ok {
				types = []string{s}
			}
			for _, s := range types {
				if s == "" || s[0] < 'A' || s[0] > 'Z' {
					d.addf(v, "%s.resource_type must be a FHIR type such as Observation, got %q", what, s)
				}
			}
			m.ResourceTypes = types
		},
		"query": func(v *yaml.Node) { m.Query = d.stringMap(v, what+".query") },
		"tenant": func(v *yaml.Node) {
			if s, ok := d.str(v, what+".tenant"); ok {
				if !guidRE.MatchString(s) {
					d.addf(v, "%s.tenant must be a tenant GUID, got %q", what, s)
				}
				m.Tenant = strings.ToLower(s)
			}
		},
		"client_id": d.strTo(&m.ClientID, what+".client_id"),
		"header": func(v *yaml.Node) {
			h := d.stringMap(v, what+".header")
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
	d.mapping(n, what, map[string]field{
		"name":    d.strTo(&r.Name, what+".name"),
		"match":   func(v *yaml.Node) { hasMatch = true; r.Match = d.match(v, what+".match") },
		"latency": func(v *yaml.Node) { r.Latency = d.latency(v, what+".latency") },
		"respond": func(v *yaml.Node) { r.Respond = d.respond(v, what+".respond") },
		"fault":   func(v *yaml.Node) { r.Fault = d.fault(v, what+".fault") },
		"quirks": func(v *yaml.Node) {
			d.list(v, what+".quirks", func(c *yaml.Node) {
				if q, ok := d.quirk(c, what+".quirks"); ok {
					r.Quirks = append(r.Quirks, q)
				}
			})
		},
		"probability": func(v *yaml.Node) {
			if p, ok := d.float(v, what+".probability", 0, 1); ok {
				r.Probability = p
			}
		},
		"count": func(v *yaml.Node) {
			c := &CountWindow{}
			d.mapping(v, what+".count", map[string]field{
				"from":  d.intTo(&c.From, what+".count.from", 1, math.MaxInt32),
				"to":    d.intTo(&c.To, what+".count.to", 1, math.MaxInt32),
				"every": d.intTo(&c.Every, what+".count.every", 1, math.MaxInt32),
			})
			if c.From == 0 {
				c.From = max(c.Every, 1)
			}
			if c.Every == 0 {
				c.Every = 1
			}
			if c.To != 0 && c.To < c.From {
				d.addf(v, "%s.count: to (%d) is before from (%d)", what, c.To, c.From)
			}
			r.Count = c
		},
		"window": func(v *yaml.Node) {
			w := &TimeWindow{}
			d.mapping(v, what+".window", map[string]field{
				"after": d.durTo(&w.After, what+".window.after", maxDuration),
				"until": d.durTo(&w.Until, what+".window.until", maxDuration),
			})
			if w.Until != 0 && w.Until <= w.After {
				d.addf(v, "%s.window: until (%s) must be after after (%s)", what, w.Until, w.After)
			}
			r.Window = w
		},
	})
	if n.Kind != yaml.MappingNode {
		return r
	}
	if !hasMatch {
		d.addf(n, "%s: match is required (use match: {path: \"/**\"} for every request)", what)
	}
	if r.Latency == nil && r.Respond == nil && r.Fault == nil && len(r.Quirks) == 0 {
		d.addf(n, "%s: no effect: give latency, respond, fault or quirks", what)
	}
	if r.Fault != nil && r.Respond != nil {
		switch r.Fault.Kind {
		case FaultConnectionReset, FaultEmptyResponse, FaultHang:
			d.addf(n, "%s: fault %s sends no response, so respond would never be seen", what, r.Fault.Kind)
		}
	}
	return r
}

func (d *decoder) latency(n *yaml.Node, what string) *Latency {
	l := &Latency{}
	if n.Kind == yaml.ScalarNode {
		if v, ok := d.duration(n, what, maxLatency); ok {
			l.Fixed = v
		}
		return l
	}
	set := 0
	d.mapping(n, what, map[string]field{
		"fixed": func(v *yaml.Node) { set++; l.Fixed, _ = d.duration(v, what+".fixed", maxLatency) },
		"uniform": func(v *yaml.Node) {
			set++
			u := &UniformLatency{}
			d.mapping(v, what+".uniform", map[string]field{
				"min": d.durTo(&u.Min, what+".uniform.min", maxLatency),
				"max": d.durTo(&u.Max, what+".uniform.max", maxLatency),
			})
			if u.Max < u.Min {
				d.addf(v, "%s.uniform: max (%s) is below min (%s)", what, u.Max, u.Min)
			}
			l.Uniform = u
		},
		"lognormal": func(v *yaml.Node) {
			set++
			ln := &LogNormalLatency{}
			d.mapping(v, what+".lognormal", map[string]field{
				"median": d.durTo(&ln.Median, what+".lognormal.median", maxLatency),
				"sigma": func(s *yaml.Node) {
					ln.Sigma, _ = d.float(s, what+".lognormal.sigma", 0, 4)
				},
			})
			if ln.Median <= 0 {
				d.addf(v, "%s.lognormal: median must be above 0", what)
			}
			l.LogNorm = ln
		},
	})
	if n.Kind == yaml.MappingNode && set != 1 {
		d.addf(n, "%s must give exactly one of fixed, uniform, lognormal", what)
	}
	return l
}

func (d *decoder) respond(n *yaml.Node, what string) *Respond {
	r := &Respond{Headers: map[string]string{}}
	var oo *yaml.Node
	hasBody := false
	d.mapping(n, what, map[string]field{
		"status": d.intTo(&r.Status, what+".status", 100, 599),
		"body": func(v *yaml.Node) {
			hasBody = true
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
				r.Body = []byte(v.Value)
				return
			}
			if b, ok := d.toJSON(v, what+".body"); ok {
				r.Body = b
				r.Headers["Content-Type"] = "application/fhir+json; charset=utf-8"
			}
		},
		"headers": func(v *yaml.Node) {
			for k, val := range d.stringMap(v, what+".headers") {
				r.Headers[http.CanonicalHeaderKey(k)] = val
			}
		},
		"operation_outcome": func(v *yaml.Node) { oo = v },
	})
	if oo != nil {
		if hasBody {
			d.addf(oo, "%s: give body or operation_outcome, not both", what)
		}
		code, diag, severity := "exception", "", "error"
		d.mapping(oo, what+".operation_outcome", map[string]field{
			"code":        d.strTo(&code, what+".operation_outcome.code"),
			"diagnostics": d.strTo(&diag, what+".operation_outcome.diagnostics"),
			"severity":    d.strTo(&severity, what+".operation_outcome.severity"),
		})
		r.Outcome = &Outcome{Severity: severity, Code: code, Diagnostics: diag}
		r.Body = operationOutcome(severity, code, diag)
		r.Headers["Content-Type"] = "application/fhir+json; charset=utf-8"
	}
	if r.Status == 0 {
		d.addf(n, "%s: status is required", what)
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
	kind, params, ok := d.oneOf(n, what, faultKinds)
	if !ok {
		return nil
	}
	f := &Fault{Kind: kind}
	if kind == FaultSlowDribble {
		f.BytesPerSecond = 100
		if params != nil {
			d.mapping(params, what+"."+kind, map[string]field{
				"bytes_per_second": d.intTo(&f.BytesPerSecond, what+".bytes_per_second", 1, 1<<30),
			})
		}
	} else if params != nil {
		d.addf(params, "%s: %s takes no parameters", what, kind)
	}
	return f
}

func (d *decoder) quirk(n *yaml.Node, what string) (Quirk, bool) {
	kind, params, ok := d.oneOf(n, what, quirkKinds)
	if !ok {
		return Quirk{}, false
	}
	q := Quirk{Kind: kind}
	w := what + "." + kind
	switch kind {
	case QuirkDropOptional:
		if params == nil {
			d.addf(n, "%s: fields is required", w)
			return q, false
		}
		d.mapping(params, w, map[string]field{
			"fields": func(v *yaml.Node) { q.Fields = d.stringList(v, w+".fields") },
		})
		if len(q.Fields) == 0 {
			d.addf(params, "%s: fields must list at least one element", w)
		}
		for _, f := range q.Fields {
			if f == "" || strings.Contains(f, "..") || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || f == "resourceType" || f == "id" {
				d.addf(params, "%s: %q is not a droppable element path", w, f)
			}
		}
	case QuirkWrongTotal:
		if params == nil {
			d.addf(n, "%s: give value or delta", w)
			return q, false
		}
		set := 0
		d.mapping(params, w, map[string]field{
			"value": func(v *yaml.Node) {
				set++
				if x, ok := d.intVal(v, w+".value", 0, math.MaxInt32); ok {
					q.Total = &x
				}
			},
			"delta": func(v *yaml.Node) {
				set++
				q.HasDelta = true
				q.Delta, _ = d.intVal(v, w+".delta", math.MinInt32, math.MaxInt32)
			},
		})
		if set != 1 {
			d.addf(params, "%s: give exactly one of value, delta", w)
		}
	case QuirkBrokenNextLink:
		q.Mode = "dangling"
		if params != nil {
			d.mapping(params, w, map[string]field{
				"mode": func(v *yaml.Node) {
					if s, ok := d.str(v, w+".mode"); ok {
						if s != "dangling" && s != "loop" {
							d.addf(v, "%s.mode must be dangling or loop, got %q", w, s)
						}
						q.Mode = s
					}
				},
			})
		}
	default:
		if params != nil {
			d.addf(params, "%s takes no parameters", w)
		}
	}
	return q, true
}

var actionKinds = []string{ActionExpireSecret, ActionRevokeSecret, ActionDeleteClient, ActionRotateSigningKey, ActionRevokeTokens, ActionSetTokenTTL, ActionUnmapTenant, ActionTenantDown, ActionMetadata}

func (d *decoder) event(n *yaml.Node) Event {
	e := Event{Line: n.Line}
	what := fmt.Sprintf("timeline event at line %d", n.Line)
	var actionNode *yaml.Node
	d.mapping(n, "timeline event", map[string]field{
		"at": func(v *yaml.Node) {
			if x, ok := d.duration(v, "timeline at", maxDuration); ok {
				e.At = &x
			}
		},
		"after_requests": d.intTo(&e.AfterRequests, "timeline after_requests", 1, math.MaxInt32),
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
		d.addf(n, "%s: give exactly one of at, after_requests", what)
	}
	if e.Match != nil && e.AfterRequests == 0 {
		d.addf(n, "%s: match only applies to after_requests events", what)
	}
	if actionNode == nil {
		d.addf(n, "%s: action is required", what)
		return e
	}
	kind, params, ok := d.oneOf(actionNode, "action", actionKinds)
	if !ok {
		return e
	}
	a := Action{Kind: kind}
	w := "action " + kind
	fields := map[string]field{}
	switch kind {
	case ActionExpireSecret, ActionDeleteClient:
		fields["client_id"] = d.strTo(&a.ClientID, w+".client_id")
	case ActionRevokeSecret:
		fields["client_id"] = d.strTo(&a.ClientID, w+".client_id")
		fields["keep_newest"] = d.boolTo(&a.KeepNewest, w+".keep_newest")
	case ActionRotateSigningKey:
		fields["retire_old"] = d.boolTo(&a.RetireOld, w+".retire_old")
	case ActionSetTokenTTL:
		fields["ttl"] = d.durTo(&a.TTL, w+".ttl", maxDuration)
	case ActionUnmapTenant:
		fields["tenant"] = d.strTo(&a.Tenant, w+".tenant")
	case ActionTenantDown:
		a.Down = true
		fields["tenant"] = d.strTo(&a.Tenant, w+".tenant")
		fields["down"] = d.boolTo(&a.Down, w+".down")
	case ActionMetadata:
		fields["token_url"] = d.strTo(&a.Metadata.TokenURL, w+".token_url")
		fields["drop_oauth_uris"] = d.boolTo(&a.Metadata.DropOAuthURIs, w+".drop_oauth_uris")
		fields["fhir_version"] = d.strTo(&a.Metadata.FHIRVersion, w+".fhir_version")
	}
	if params != nil {
		if len(fields) == 0 {
			d.addf(params, "%s takes no parameters", w)
		} else {
			d.mapping(params, w, fields)
		}
	}
	switch kind {
	case ActionSetTokenTTL:
		if a.TTL < time.Second {
			d.addf(actionNode, "%s: ttl of at least 1s is required", w)
		}
	case ActionUnmapTenant, ActionTenantDown:
		if !guidRE.MatchString(a.Tenant) {
			d.addf(actionNode, "%s: tenant must be a tenant GUID, got %q", w, a.Tenant)
		}
		a.Tenant = strings.ToLower(a.Tenant)
	case ActionMetadata:
		m := a.Metadata
		if m.TokenURL == "" && !m.DropOAuthURIs && m.FHIRVersion == "" {
			d.addf(actionNode, "%s: give token_url, drop_oauth_uris or fhir_version", w)
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
			d.addf(n, "unknown variable ${%s}: capture it in an earlier step (known: %s)", m[1], strings.Join(sortedKeys(d.vars), ", "))
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
	d.pairs(n, what, func(k, v *yaml.Node) {
		if v.Kind == yaml.SequenceNode {
			for _, s := range d.stringList(v, what+" "+k.Value) {
				out = append(out, [2]string{k.Value, s})
			}
			return
		}
		if s, ok := d.str(v, what+" "+k.Value); ok {
			out = append(out, [2]string{k.Value, s})
		}
	})
	return out
}

func (d *decoder) step(n *yaml.Node, idx int) Step {
	st := Step{Line: n.Line, Repeat: 1, Name: fmt.Sprintf("step %d", idx)}
	what := fmt.Sprintf("step %d", idx)
	var captures *yaml.Node
	d.mapping(n, what, map[string]field{
		"name": d.strTo(&st.Name, what+".name"),
		"request": func(v *yaml.Node) {
			d.checkVarsIn(v)
			st.Request = d.request(v, what+".request")
		},
		"get_token": func(v *yaml.Node) {
			d.checkVarsIn(v)
			g := &GetToken{}
			if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") && !(v.Kind == yaml.MappingNode && len(v.Content) == 0) {
				d.mapping(v, what+".get_token", map[string]field{
					"client_id":     d.strTo(&g.ClientID, "get_token.client_id"),
					"client_secret": d.strTo(&g.ClientSecret, "get_token.client_secret"),
					"tenant":        d.strTo(&g.Tenant, "get_token.tenant"),
				})
			}
			st.GetToken = g
		},
		"expect": func(v *yaml.Node) {
			d.checkVarsIn(v)
			st.Expect = d.expect(v, what+".expect")
		},
		"capture": func(v *yaml.Node) { captures = v },
		"repeat":  d.intTo(&st.Repeat, what+".repeat", 1, maxRepeat),
		"wait":    d.durTo(&st.Wait, what+".wait", maxDuration),
	})
	if n.Kind != yaml.MappingNode {
		return st
	}
	if (st.Request == nil) == (st.GetToken == nil) {
		if st.Request == nil && st.Wait > 0 && captures == nil {
			// a pure wait step: advance the clock, check nothing
			return st
		}
		d.addf(n, "%s: give exactly one of request, get_token", what)
	}
	if st.GetToken != nil {
		d.vars["token"] = true
	}
	if captures != nil {
		st.Capture = map[string]string{}
		d.pairs(captures, what+".capture", func(k, v *yaml.Node) {
			if !varNameRE.MatchString(k.Value) {
				d.addf(k, "%s.capture: %q is not a variable name", what, k.Value)
			}
			if s, ok := d.str(v, what+".capture "+k.Value); ok {
				if _, err := parsePath(s); err != nil {
					d.addf(v, "%s.capture %s: %v", what, k.Value, err)
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
	d.mapping(n, what, map[string]field{
		"method": func(v *yaml.Node) {
			if s, ok := d.str(v, what+".method"); ok {
				r.Method = strings.ToUpper(s)
				if !isToken(r.Method) {
					d.addf(v, "%s.method %q is not an HTTP method", what, s)
				}
			}
		},
		"path": d.strTo(&r.Path, what+".path"),
		"query": func(v *yaml.Node) {
			r.Query = d.pairList(v, what+".query")
		},
		"form": func(v *yaml.Node) { r.Form = d.pairList(v, what+".form") },
		"json": func(v *yaml.Node) {
			if b, ok := d.toJSON(v, what+".json"); ok {
				r.JSON = b
			}
		},
		"headers": func(v *yaml.Node) { r.Headers = d.stringMap(v, what+".headers") },
		"auth": func(v *yaml.Node) {
			if s, ok := d.str(v, what+".auth"); ok {
				if s != AuthNone && s != AuthToken && s != AuthBasic {
					d.addf(v, "%s.auth must be none, token or basic, got %q", what, s)
				}
				r.Auth = s
			}
		},
	})
	if n.Kind == yaml.MappingNode && !strings.HasPrefix(r.Path, "/") && !strings.HasPrefix(r.Path, "${") {
		d.addf(n, "%s: path must start with / (or be a captured URL such as ${next}), got %q", what, r.Path)
	}
	if r.Form != nil && r.JSON != nil {
		d.addf(n, "%s: give form or json, not both", what)
	}
	if r.Auth == AuthToken && !d.vars["token"] {
		d.addf(n, "%s: auth token needs an earlier get_token step", what)
	}
	return r
}

func (d *decoder) expect(n *yaml.Node, what string) Expect {
	var e Expect
	d.mapping(n, what, map[string]field{
		"status": func(v *yaml.Node) {
			if v.Kind == yaml.SequenceNode {
				d.list(v, what+".status", func(c *yaml.Node) {
					if x, ok := d.intVal(c, what+".status", 100, 599); ok {
						e.Status = append(e.Status, x)
					}
				})
				return
			}
			if x, ok := d.intVal(v, what+".status", 100, 599); ok {
				e.Status = []int{x}
			}
		},
		"headers": func(v *yaml.Node) {
			e.Headers = map[string]*regexp.Regexp{}
			d.pairs(v, what+".headers", func(k, val *yaml.Node) {
				s, ok := d.str(val, what+".headers "+k.Value)
				if !ok {
					return
				}
				re, err := regexp.Compile(s)
				if err != nil {
					d.addf(val, "%s.headers %s: bad regular expression: %v", what, k.Value, err)
					return
				}
				e.Headers[http.CanonicalHeaderKey(k.Value)] = re
			})
		},
		"json": func(v *yaml.Node) {
			d.pairs(v, what+".json", func(k, val *yaml.Node) {
				if _, err := parsePath(k.Value); err != nil {
					d.addf(k, "%s.json: %v", what, err)
					return
				}
				if je, ok := d.jsonExpect(k.Value, val, what+".json "+k.Value); ok {
					e.JSON = append(e.JSON, je)
				}
			})
		},
		"resource_count": func(v *yaml.Node) {
			if x, ok := d.intVal(v, what+".resource_count", 0, math.MaxInt32); ok {
				e.ResourceCount = &x
			}
		},
		"max_ms": d.intTo(&e.MaxMS, what+".max_ms", 1, int(maxDuration/time.Millisecond)),
		"min_ms": d.intTo(&e.MinMS, what+".min_ms", 0, int(maxDuration/time.Millisecond)),
		"error": func(v *yaml.Node) {
			s, ok := d.str(v, what+".error")
			if !ok {
				return
			}
			re, err := regexp.Compile(s)
			if err != nil {
				d.addf(v, "%s.error: bad regular expression: %v", what, err)
				return
			}
			e.Error = re
		},
		"json_valid": func(v *yaml.Node) {
			if b, ok := d.boolVal(v, what+".json_valid"); ok {
				e.JSONValid = &b
			}
		},
	})
	if e.Error != nil && (len(e.Status) > 0 || len(e.JSON) > 0 || len(e.Headers) > 0 || e.ResourceCount != nil) {
		d.addf(n, "%s: error expects no response, so status, headers and json cannot be checked", what)
	}
	if e.MaxMS > 0 && e.MinMS > e.MaxMS {
		d.addf(n, "%s: min_ms (%d) is above max_ms (%d)", what, e.MinMS, e.MaxMS)
	}
	return e
}

var jsonOps = []string{OpExists, OpAbsent, OpEq, OpContains, OpGt, OpLt, OpLen}

func (d *decoder) jsonExpect(path string, n *yaml.Node, what string) (JSONExpect, bool) {
	je := JSONExpect{Path: path, Op: OpEq}
	valNode := n
	if n.Kind == yaml.MappingNode && len(n.Content) == 2 && slices.Contains(jsonOps, n.Content[0].Value) {
		je.Op = n.Content[0].Value
		valNode = n.Content[1]
	} else if n.Kind == yaml.MappingNode && len(n.Content) == 2 && strings.HasPrefix(n.Content[0].Value, "$") {
		d.addf(n, "%s: unknown operator %q (known: %s)", what, n.Content[0].Value, strings.Join(jsonOps, ", "))
		return je, false
	}
	b, ok := d.toJSON(valNode, what)
	if !ok {
		return je, false
	}
	if err := json.Unmarshal(b, &je.Value); err != nil {
		d.addf(n, "%s: %v", what, err)
		return je, false
	}
	switch je.Op {
	case OpExists, OpAbsent:
		if bv, isBool := je.Value.(bool); !isBool || !bv {
			d.addf(valNode, "%s: %s takes true", what, je.Op)
			return je, false
		}
	case OpGt, OpLt, OpLen:
		if _, isNum := je.Value.(float64); !isNum {
			d.addf(valNode, "%s: %s takes a number", what, je.Op)
			return je, false
		}
	}
	return je, true
}

func (d *decoder) journal(n *yaml.Node) *JournalExpect {
	j := &JournalExpect{}
	d.mapping(n, "journal", map[string]field{
		"token_requests": func(v *yaml.Node) {
			d.mapping(v, "journal.token_requests", map[string]field{
				"max": func(m *yaml.Node) {
					if x, ok := d.intVal(m, "journal.token_requests.max", 0, math.MaxInt32); ok {
						j.TokenRequestsMax = &x
					}
				},
			})
		},
		"max_rps": func(v *yaml.Node) {
			j.MaxRPS, _ = d.float(v, "journal.max_rps", 0.001, 1e6)
		},
		"honoured_retry_after": d.boolTo(&j.HonouredRetryAfter, "journal.honoured_retry_after"),
	})
	return j
}
