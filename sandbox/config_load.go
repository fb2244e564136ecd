package sandbox

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// MaxConfigBytes caps a config file: anything larger is a mistake (or an
// attack) and is refused before parsing.
const MaxConfigBytes = 1 << 20

// Problem is one thing wrong with a configuration, located in its file.
type Problem struct {
	File string // empty for a config built in code
	Line int    // 1-based; 0 when no line applies
	Msg  string
}

func (p Problem) String() string {
	switch {
	case p.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	case p.File != "":
		return p.File + ": " + p.Msg
	case p.Line > 0:
		return fmt.Sprintf("line %d: %s", p.Line, p.Msg)
	}
	return p.Msg
}

// ConfigError lists every problem found in a configuration, so a user fixes
// them all in one go instead of one per run.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// LoadConfig reads a YAML config file and lays it over DefaultConfig. Every
// problem (syntax, unknown keys, wrong types, duplicate keys, aliases, bad
// values, dangling references) is reported at once as a *ConfigError whose
// lines read file:line: message. Relative fixture and key paths are made
// relative to the file's directory.
func LoadConfig(path string) (Config, error) {
	data, err := readBounded(path, MaxConfigBytes)
	if err != nil {
		return Config{}, &ConfigError{Problems: []Problem{{File: path, Msg: err.Error()}}}
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return Config{}, err
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
			cfg.Tenants[i].Fixtures[j] = rel(f)
		}
	}
	return cfg, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open config: %w", err)
	}
	defer f.Close()
	// A FIFO or device would block or never end; only plain files are configs.
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot stat config: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, errors.New("config is not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("config is larger than %d bytes", limit)
	}
	return data, nil
}

// ParseConfig decodes YAML config text over DefaultConfig and validates the
// result. name labels problems (usually the file path).
func ParseConfig(name string, data []byte) (Config, error) {
	cfg := DefaultConfig()
	d := &decoder{file: name, lines: map[string]int{}}
	root, ok := d.parse(data)
	if ok && root != nil {
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
	}
	problems := d.problems
	if len(problems) == 0 {
		canonicalize(&cfg)
		problems = validate(cfg, name, d.lineOf)
	}
	if len(problems) > 0 {
		sort.SliceStable(problems, func(i, j int) bool { return problems[i].Line < problems[j].Line })
		return Config{}, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

type decoder struct {
	file     string
	problems []Problem
	lines    map[string]int // key path ("tenants[1].id") -> line of its value
}

func (d *decoder) add(line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
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

var yamlLineErr = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse turns text into one node tree, refusing non-UTF-8 input and
// multi-document streams. A nil root with ok means an empty document.
func (d *decoder) parse(data []byte) (root *yaml.Node, ok bool) {
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalidUTF8(data)], []byte("\n"))
		d.add(line, "file is not valid UTF-8")
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		d.syntax(err)
		return nil, false
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.add(extra.Line, "a second YAML document is not allowed: put everything in one document")
		return nil, false
	case !errors.Is(err, io.EOF):
		d.syntax(err)
		return nil, false
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, true
	}
	return doc.Content[0], true
}

func (d *decoder) syntax(err error) {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		d.add(line, "yaml syntax: %s", m[2])
		return
	}
	d.add(0, "yaml syntax: %s", strings.TrimPrefix(msg, "yaml: "))
}

func firstInvalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	dateType     = reflect.TypeOf(Date{})
	timeType     = reflect.TypeOf(time.Time{})
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%q", n.Value)
}

func label(path string) string {
	if path == "" {
		return "config"
	}
	return path
}

// decode lays node n over v, recording a problem for anything that does not
// fit instead of stopping, so one run reports every mistake in the file.
// It walks the tree itself (rather than yaml.Decoder with KnownFields) to
// keep line numbers and to go on after the first error.
func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if _, ok := d.lines[path]; !ok {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.AliasNode || n.Alias != nil {
		// Refusing aliases outright rules out alias bombs; a config this
		// small never needs them.
		d.add(n.Line, "%s: YAML aliases (*%s) are not allowed", label(path), n.Value)
		return
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if v.Kind() != reflect.Struct || v.Type() == dateType || v.Type() == timeType {
			v.Set(reflect.Zero(v.Type()))
		}
		return
	}
	switch v.Type() {
	case durationType:
		dur, err := time.ParseDuration(n.Value)
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || err != nil {
			d.add(n.Line, "%s: want a duration with a unit such as 90s, 15m or 1h, got %s", label(path), kindName(n))
			return
		}
		v.SetInt(int64(dur))
		return
	case dateType:
		t, err := time.Parse(time.DateOnly, n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.add(n.Line, "%s: want a date YYYY-MM-DD, got %s", label(path), kindName(n))
			return
		}
		v.Set(reflect.ValueOf(Date{t.UTC()}))
		return
	case timeType:
		t, err := parseTimestamp(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.add(n.Line, "%s: want a time such as 2027-12-31T00:00:00Z or a date 2027-12-31, got %s", label(path), kindName(n))
			return
		}
		v.Set(reflect.ValueOf(t))
		return
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
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.add(n.Line, "%s: want a list, got %s", label(path), kindName(n))
			return
		}
		if len(n.Content) == 0 {
			// nil and empty are the same setting; one form keeps configs comparable.
			v.Set(reflect.Zero(v.Type()))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.String:
		if n.Kind != yaml.ScalarNode || !plainScalar(n) {
			d.add(n.Line, "%s: want a string, got %s", label(path), kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		var b bool
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
			d.add(n.Line, "%s: want true or false, got %s", label(path), kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		var i int64
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil || v.OverflowInt(i) {
			d.add(n.Line, "%s: want a whole number, got %s", label(path), kindName(n))
			return
		}
		v.SetInt(i)
	default:
		// Only reachable if Config gains a field of a new kind.
		d.add(n.Line, "%s: unsupported setting type %s", label(path), v.Type())
	}
}

// plainScalar accepts the core YAML scalar types as text (a tenant named
// 1984 is fine) but not binary or application-specific tags.
func plainScalar(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!bool", "!!timestamp":
		return true
	}
	return false
}

func parseTimestamp(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.add(n.Line, "%s: want a mapping of keys, got %s", label(path), kindName(n))
		return
	}
	fields := yamlFields(v.Type())
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			d.add(k.Line, "%s: YAML merge keys (<<) are not allowed", label(path))
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" {
			d.add(k.Line, "%s: keys must be plain names, got %s", label(path), kindName(k))
			continue
		}
		if first, dup := seen[k.Value]; dup {
			d.add(k.Line, "%s: duplicate key %q (first set at line %d)", label(path), k.Value, first)
			continue
		}
		seen[k.Value] = k.Line
		idx, ok := fields[k.Value]
		if !ok {
			d.add(k.Line, "%s: unknown key %q (known keys: %s)", label(path), k.Value, strings.Join(fieldNames(v.Type()), ", "))
			continue
		}
		child := k.Value
		if path != "" {
			child = path + "." + k.Value
		}
		d.lines[child] = k.Line
		d.decode(val, v.Field(idx), child)
	}
}

func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			m[name] = i
		}
	}
	return m
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			names = append(names, name)
		}
	}
	return names
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}
