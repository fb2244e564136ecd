package sandbox

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"github.com/fhirsandbox/fhirsandbox/sandbox/internal/yamlfile"
	"gopkg.in/yaml.v3"
)

// MaxConfigBytes caps a config file: anything larger is a mistake (or an
// attack) and is refused before parsing.
const MaxConfigBytes = yamlfile.MaxBytes

// Problem is one thing wrong with a configuration, located in its file.
// File is empty for a config built in code.
type Problem = yamlfile.Problem

// ConfigError lists every problem found in a configuration, so a user fixes
// them all in one go instead of one per run. It is a type of its own, not
// an alias of the shared error, so that errors.As tells a bad config from a
// bad scenario file.
type ConfigError yamlfile.Error

func (e *ConfigError) Error() string { return (*yamlfile.Error)(e).Error() }

// LoadConfig reads a YAML config file and lays it over DefaultConfig. Every
// problem (syntax, unknown keys, wrong types, duplicate keys, aliases, bad
// values, dangling references) is reported at once as a *ConfigError whose
// lines read file:line: message. Relative fixture and key paths are made
// relative to the file's directory.
func LoadConfig(path string) (Config, error) {
	cfg, _, err := LoadConfigLines(path)
	return cfg, err
}

// Locator maps a key path such as "clients[0].secrets[1].expires" to the
// line of the config file it was written on, or 0.
type Locator func(path string) int

// LoadConfigLines is LoadConfig that also returns where each setting came
// from, so later checks (Config.Warnings) can point into the file.
func LoadConfigLines(path string) (Config, Locator, error) {
	data, ps := yamlfile.Read(path)
	if ps != nil {
		return Config{}, nil, &ConfigError{Problems: ps}
	}
	cfg, lines, err := parseConfig(path, data)
	if err != nil {
		return Config{}, nil, err
	}
	dir := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	cfg.Auth.SigningKeyFile = rel(cfg.Auth.SigningKeyFile)
	cfg.StateFile = rel(cfg.StateFile)
	for i := range cfg.Tenants {
		for j, f := range cfg.Tenants[i].Fixtures {
			cfg.Tenants[i].Fixtures[j].Path = rel(f.Path)
		}
	}
	return cfg, lines, nil
}

// ParseConfig decodes YAML config text over DefaultConfig and validates the
// result. name labels problems (usually the file path).
func ParseConfig(name string, data []byte) (Config, error) {
	cfg, _, err := parseConfig(name, data)
	return cfg, err
}

// CheckConfigFile is `fhirsandbox config check`: it loads path as
// LoadConfig does and returns its warnings (Config.Warnings at now) and
// its errors (a *ConfigError), together: the warnings are computed from
// whatever the file set even when it has errors, so one run reports
// everything.
func CheckConfigFile(path string, now time.Time) (warnings []Problem, err error) {
	data, ps := yamlfile.Read(path)
	if ps != nil {
		return nil, &ConfigError{Problems: ps}
	}
	cfg, lines, problems := decodeConfig(path, data)
	warnings = cfg.Warnings(now, path, lines)
	if len(problems) > 0 {
		return warnings, (*ConfigError)(yamlfile.NewError(problems))
	}
	return warnings, nil
}

func parseConfig(name string, data []byte) (Config, Locator, error) {
	cfg, lines, problems := decodeConfig(name, data)
	if len(problems) > 0 {
		return Config{}, nil, (*ConfigError)(yamlfile.NewError(problems))
	}
	return cfg, lines, nil
}

// decodeConfig decodes and validates; the Config it returns holds what
// did decode even when there are problems.
func decodeConfig(name string, data []byte) (Config, Locator, []Problem) {
	cfg := DefaultConfig()
	d := &decoder{Decoder: yamlfile.Decoder{File: name, Wording: yamlfile.Want}, lines: map[string]int{}}
	root := d.Parse(data)
	if root != nil {
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	problems := d.Problems()
	if root != nil || len(problems) == 0 {
		// The values that did decode are checked too, so one run
		// reports the YAML mistakes and the semantic ones together; a
		// line that already has a YAML problem gets no second one about
		// the value it failed to set.
		bad := map[int]bool{}
		for _, p := range problems {
			bad[p.Line] = true
		}
		canonicalize(&cfg)
		for _, p := range validate(cfg, name, d.lineOf) {
			if p.Line == 0 || !bad[p.Line] {
				problems = append(problems, p)
			}
		}
	}
	return cfg, d.lineOf, problems
}

// decoder lays a node tree over a Config by reflection, through the shared
// primitives, remembering where each setting was written.
type decoder struct {
	yamlfile.Decoder
	lines map[string]int // key path ("tenants[1].id") -> line of its key or item
}

// lineOf finds the line of a key path, falling back to the nearest enclosing
// node that appeared in the file.
func (d *decoder) lineOf(path string) int {
	for path != "" {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	dateType     = reflect.TypeOf(Date{})
	timeType     = reflect.TypeOf(time.Time{})
	fixtureType  = reflect.TypeOf(FixtureConfig{})
	jwksType     = reflect.TypeOf(JWKS(nil))
)

func label(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

// decode lays node n over v, recording a problem for anything that does not
// fit instead of stopping, so one run reports every mistake in the file.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	what := label(path)
	if yamlfile.IsNull(n) {
		// An empty section keeps its defaults; an empty value clears it.
		if v.Kind() != reflect.Struct || v.Type() == dateType || v.Type() == timeType {
			v.Set(reflect.Zero(v.Type()))
		}
		return
	}
	switch v.Type() {
	case durationType:
		// Bounds are validate's job, with the config's own wording.
		if x, ok := d.Duration(n, what, math.MinInt64, math.MaxInt64); ok {
			v.SetInt(int64(x))
		}
		return
	case dateType:
		if t, ok := d.Date(n, what); ok {
			v.Set(reflect.ValueOf(Date{t}))
		}
		return
	case timeType:
		if t, ok := d.Time(n, what); ok {
			v.Set(reflect.ValueOf(t))
		}
		return
	case jwksType:
		// a key set written as YAML is kept as JSON; a string may hold
		// JSON or PEM
		if n.Kind == yaml.ScalarNode {
			if s, ok := d.Str(n, what); ok {
				v.SetBytes([]byte(s))
			}
			return
		}
		if b, ok := d.JSON(n, what); ok {
			v.SetBytes(b)
		}
		return
	case fixtureType:
		// the short form, a bare path, predates the mapping and stays
		switch n.Kind {
		case yaml.ScalarNode:
			if s, ok := d.Str(n, what); ok {
				v.Set(reflect.ValueOf(FixtureConfig{Path: s}))
			}
			return
		case yaml.MappingNode, yaml.AliasNode:
			// a mapping is decoded as the struct below; an alias is
			// refused there in the shared words
		default:
			d.Addf(n, "%s: want a path or a mapping {path, fhir_version}, got a list", what)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		nv := reflect.New(v.Type().Elem())
		if !v.IsNil() {
			nv.Elem().Set(v.Elem())
		}
		d.decode(n, nv.Elem(), path)
		v.Set(nv)
	case reflect.Struct:
		names, index := yamlFields(v.Type())
		d.Keys(n, what, names, func(k, val *yaml.Node) {
			child := k.Value
			if path != "" {
				child = path + "." + k.Value
			}
			d.lines[child] = k.Line
			d.decode(val, v.Field(index[k.Value]), child)
		})
	case reflect.Slice:
		// nil and empty are the same setting; one form keeps configs
		// comparable, so an empty list stays nil.
		s := reflect.Zero(v.Type())
		if d.List(n, what, func(item *yaml.Node) {
			s = reflect.Append(s, reflect.Zero(v.Type().Elem()))
			i := s.Len() - 1
			d.decode(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}) {
			v.Set(s)
		}
	case reflect.String:
		if s, ok := d.Str(n, what); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if b, ok := d.Bool(n, what); ok {
			v.SetBool(b)
		}
	case reflect.Int, reflect.Int64:
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if v.Kind() == reflect.Int {
			lo, hi = math.MinInt, math.MaxInt
		}
		if i, ok := d.Int64(n, what, lo, hi); ok {
			v.SetInt(i)
		}
	default:
		// Only reachable if Config gains a field of a new kind.
		d.Addf(n, "%s: unsupported setting type %s", what, v.Type())
	}
}

// yamlFields lists the keys of a struct type in field order, for messages,
// and maps each to its field index.
func yamlFields(t reflect.Type) (names []string, index map[string]int) {
	index = make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}
