// Package config reads hooktrigger's YAML config file, validates it and
// compiles it into a trigger set: every expression (JSONPath, gjson, XPath,
// regexp, CEL) is compiled here, once, and every error names the file, the
// line and the field: "hooktrigger.yaml:12: triggers[0].secret: …".
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hooktrigger/hooktrigger/extract"
)

// Error is one problem found in a config file.
type Error struct {
	File  string
	Line  int
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.File, e.Line, e.Field, e.Msg)
}

// Errors is every problem found in a config file, in line order.
type Errors []*Error

func (es Errors) Error() string {
	var b strings.Builder
	for i, e := range es {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// ErrInvalid is wrapped by every error Load returns for a bad file.
var ErrInvalid = errors.New("config: invalid")

// Is makes errors.Is(errs, ErrInvalid) hold.
func (es Errors) Is(target error) bool { return target == ErrInvalid }

// parser carries the state of reading one file: its name, the YAML node tree
// (for line numbers) and the errors found so far.
type parser struct {
	file  string
	lines map[string]int // field path → line
	errs  Errors
	warns Errors // allowed, but worth a second look: Config.Warnings
	env   func(string) (string, bool)
	// vars compiles every variable of the file, sharing equal regexps.
	vars extract.Compiler
}

func (p *parser) errf(field, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// warnf notes something the file may do but probably should not.
func (p *parser) warnf(field, format string, args ...any) {
	p.warns = append(p.warns, &Error{File: p.file, Line: p.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
}

// line returns the line of field, or of its nearest ancestor that has one.
func (p *parser) line(field string) int {
	for f := field; f != ""; f = parent(f) {
		if l, ok := p.lines[f]; ok {
			return l
		}
	}
	return 1
}

func parent(field string) string {
	i := strings.LastIndexAny(field, ".[")
	if i < 0 {
		return ""
	}
	return field[:i]
}

// Parse reads the YAML of a config file into a File, rejecting unknown keys
// and values of the wrong type. name is used in error messages.
func Parse(name string, data []byte) (*File, *parser, error) {
	p := &parser{file: name, lines: map[string]int{}, env: os.LookupEnv}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if err.Error() == "EOF" {
			return nil, p, Errors{{File: name, Line: 1, Msg: "the file is empty"}}
		}
		return nil, p, Errors{{File: name, Line: yamlErrLine(err), Msg: yamlErrMsg(err)}}
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	f := &File{}
	p.walk(doc, reflect.TypeOf(f).Elem(), "")
	if len(p.errs) > 0 {
		return nil, p, p.sorted()
	}
	if err := doc.Decode(f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			for _, m := range te.Errors {
				p.errs = append(p.errs, &Error{File: name, Line: yamlErrLine(errors.New(m)), Msg: yamlErrMsg(errors.New(m))})
			}
			return nil, p, p.sorted()
		}
		return nil, p, Errors{{File: name, Line: yamlErrLine(err), Msg: yamlErrMsg(err)}}
	}
	return f, p, nil
}

func (p *parser) sorted() Errors {
	sort.SliceStable(p.errs, func(i, j int) bool { return p.errs[i].Line < p.errs[j].Line })
	return p.errs
}

// walk records the line of every field and reports keys that the target type
// does not have, and values whose YAML shape cannot fit it.
func (p *parser) walk(n *yaml.Node, t reflect.Type, field string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if field != "" {
		p.lines[field] = n.Line
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(StringList(nil)) {
		return // scalar or list; UnmarshalYAML checks
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.MappingNode {
			p.errf(field, "expected a mapping of keys, found %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Value == "<<" {
				continue
			}
			sub := k.Value
			if field != "" {
				sub = field + "." + k.Value
			}
			ft, ok := fieldByTag(t, k.Value)
			if !ok {
				p.lines[sub] = k.Line
				p.errf(sub, "unknown key%s", suggest(t, k.Value))
				continue
			}
			p.lines[sub] = k.Line
			p.walk(v, ft, sub)
			p.lines[sub] = k.Line
		}
	case reflect.Slice:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.SequenceNode {
			p.errf(field, "expected a list, found %s", describe(n))
			return
		}
		for i, c := range n.Content {
			p.walk(c, t.Elem(), field+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
			return
		}
		if n.Kind != yaml.MappingNode {
			p.errf(field, "expected a mapping, found %s", describe(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			p.lines[field+"."+k.Value] = k.Line
			if n.Content[i+1].Kind != yaml.ScalarNode {
				p.errf(field+"."+k.Value, "expected a plain value, found %s", describe(n.Content[i+1]))
			}
		}
	default:
		if n.Kind != yaml.ScalarNode {
			p.errf(field, "expected a single value, found %s", describe(n))
		}
	}
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func fieldByTag(t reflect.Type, key string) (reflect.Type, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := strings.Split(f.Tag.Get("yaml"), ",")[0]
		if tag == key {
			return f.Type, true
		}
	}
	return nil, false
}

// suggest names a known key close to the unknown one.
func suggest(t reflect.Type, key string) string {
	best, bestD := "", 3
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if d := editDistance(strings.ToLower(key), tag); d < bestD {
			best, bestD = tag, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// yamlErrLine pulls "line N" out of a yaml.v3 error message.
func yamlErrLine(err error) int {
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		j := i + 5
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if n, e := strconv.Atoi(s[i+5 : j]); e == nil {
			return n
		}
	}
	return 1
}

func yamlErrMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	if i := strings.Index(s, "line "); i >= 0 {
		if j := strings.Index(s[i:], ": "); j >= 0 {
			return s[i+j+2:]
		}
	}
	return s
}

// expandEnv replaces every ${NAME} in s with the environment's value; an unset
// name is an error.
func (p *parser) expandEnv(field, s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			p.errf(field, "unterminated ${ in value")
			return ""
		}
		name := s[i+2 : i+j]
		v, ok := p.env(name)
		if !ok {
			p.errf(field, "environment variable %s is not set", name)
		}
		b.WriteString(s[:i])
		b.WriteString(v)
		s = s[i+j+1:]
	}
	return b.String()
}

// maxSecretFile bounds a secret file: a key or token, not a stream.
const maxSecretFile = 64 << 10

// readSecretFile reads a regular file of at most maxSecretFile bytes (a
// FIFO or /dev/zero named by mistake must not hang or exhaust the load).
func readSecretFile(path string) ([]byte, error) {
	// Stat first: opening a FIFO would block until a writer comes.
	if fi, err := os.Stat(path); err != nil {
		return nil, errors.Unwrap(err)
	} else if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, errors.Unwrap(err)
	}
	if len(data) > maxSecretFile {
		return nil, fmt.Errorf("larger than %d bytes", maxSecretFile)
	}
	return data, nil
}

// secret resolves a secret reference: ${NAME}, file:/path, or a literal.
func (p *parser) secret(field, s string) string {
	if path, ok := strings.CutPrefix(s, "file:"); ok {
		path = p.abs(path)
		data, err := readSecretFile(path)
		if err != nil {
			p.errf(field, "cannot read secret file %s: %v", path, err)
			return ""
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			p.errf(field, "secret file %s is empty", path)
		}
		return v
	}
	v := p.expandEnv(field, s)
	return v
}
