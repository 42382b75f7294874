package extract

import (
	"errors"
	"fmt"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/antchfx/xpath"
	"github.com/dlclark/regexp2/v2"
	"github.com/theory/jsonpath"
	"github.com/tidwall/gjson"
)

// Errors returned by Compile, Resolve, ResolveAll and Nodes, wrapped with
// details; test for them with errors.Is.
var (
	// ErrInvalidExpression is wrapped by Compile and Nodes errors for an
	// expression (JSONPath, gjson, XPath, regexp) that does not compile.
	ErrInvalidExpression = errors.New("extract: invalid expression")
	// ErrMalformedBody is wrapped by Resolve errors when the body is not
	// the JSON or XML a variable needs; the message names the parse error
	// and its byte offset.
	ErrMalformedBody = errors.New("extract: malformed body")
	// ErrTimeout is wrapped by Resolve errors when a regexp_filter exceeds
	// its match timeout (catastrophic backtracking).
	ErrTimeout = errors.New("extract: regexp timeout")
	// ErrTooLarge is wrapped by Resolve errors when flattening one variable
	// would produce more than 1 MiB + 16 times the body size of names and
	// values (a nesting bomb).
	ErrTooLarge = errors.New("extract: result too large")
)

// RegexpTimeout bounds each regexp_filter match.
const RegexpTimeout = 100 * time.Millisecond

// Spec is one variable as written in the config file. Exactly one of
// JSONPath, GJSON, XPath, Header, Query and Form is set.
type Spec struct {
	Name     string
	JSONPath string
	GJSON    string
	XPath    string
	Header   string
	Query    string
	Form     string
	// RegexpFilter is a Java-compatible regexp (regexp2: lookaround,
	// backreferences); every match is removed from each value.
	RegexpFilter string
	// Default is used when nothing resolved or the value is "" (nil: none).
	Default *string
	// ShouldNotFlatten produces only the variable Name, holding the JSON.
	ShouldNotFlatten bool
	// CEL is an expression computing the variable, evaluated by Eval
	// (the trigger package compiles it) after every other source.
	CEL  string
	Eval Evaluator
}

// An Evaluator computes a variable from the delivery and the variables
// resolved before it: its value as JSON text, or ok false when it has none.
type Evaluator func(in *Input, vars map[string]string) (value []byte, ok bool)

// Variable is a compiled Spec. It is immutable and safe for concurrent use.
type Variable struct {
	name   string
	source string
	expr   string
	filter *regexp2.Regexp
	def    *string
	flat   bool

	eval     Evaluator      // cel
	rawRoot  bool           // jsonpath exactly "$"
	path     *jsonpath.Path // jsonpath
	singular *singularQuery // jsonpath fast path, nil when indefinite
	xp       *xpath.Expr    // xpath
	header   string         // canonical header key
	slow     bool           // singular queries take the decoding path (tests)
}

// Name returns the (sanitised) variable name.
func (v *Variable) Name() string { return v.name }

// Source returns where the variable comes from: "jsonpath", "gjson",
// "xpath", "header", "query" or "form".
func (v *Variable) Source() string { return v.source }

// Expression returns the expression, header, query or form field name as
// written.
func (v *Variable) Expression() string { return v.expr }

// Compile compiles s. Errors wrap ErrInvalidExpression and name the
// expression kind and the parser's message.
func Compile(s Spec) (*Variable, error) {
	var c Compiler
	return c.Compile(s)
}

// A Compiler compiles variables and shares what equal regexp filters
// compile to between them, so a config of thousands of triggers that repeat
// one filter holds one compiled copy (a compiled regexp is safe for
// concurrent use). The zero value is ready to use; a Compiler is not safe
// for concurrent use.
type Compiler struct {
	regexps map[string]*regexp2.Regexp
}

// Compile is the package's Compile, sharing regexp filters with the
// variables c compiled before.
func (c *Compiler) Compile(s Spec) (*Variable, error) {
	v := &Variable{def: s.Default, flat: !s.ShouldNotFlatten}
	n := 0
	for _, c := range []struct{ src, expr string }{
		{"jsonpath", s.JSONPath}, {"gjson", s.GJSON}, {"xpath", s.XPath},
		{"header", s.Header}, {"query", s.Query}, {"form", s.Form}, {"cel", s.CEL},
	} {
		if c.expr != "" {
			n++
			v.source, v.expr = c.src, c.expr
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("%w: variable %q: exactly one of jsonpath, gjson, xpath, header, query, form, cel must be set", ErrInvalidExpression, s.Name)
	}
	if v.source == "cel" {
		if s.Eval == nil {
			return nil, fmt.Errorf("%w: variable %q: cel needs an evaluator", ErrInvalidExpression, s.Name)
		}
		v.eval = s.Eval
	}
	switch v.source {
	case "header":
		v.header = textproto.CanonicalMIMEHeaderKey(s.Header)
		v.name = SanitizeName(s.Name)
		if s.Name == "" {
			v.name = strings.ToLower(SanitizeName(s.Header))
		}
	case "query", "form":
		v.name = SanitizeName(s.Name)
		if s.Name == "" {
			v.name = SanitizeName(v.expr)
		}
	default:
		if s.Name == "" {
			return nil, fmt.Errorf("%w: %s variable %q has no name", ErrInvalidExpression, v.source, v.expr)
		}
		v.name = SanitizeName(s.Name)
	}
	switch v.source {
	case "jsonpath":
		p, err := jsonpath.Parse(s.JSONPath)
		if err != nil {
			return nil, fmt.Errorf("%w: jsonpath %q: %v", ErrInvalidExpression, s.JSONPath, err)
		}
		// A singular query is answered from the raw bytes; the parsed
		// query is kept only for the others (it is most of a compiled
		// variable's memory, and a config may hold tens of thousands).
		if v.singular = compileSingular(p.Query()); v.singular == nil {
			v.path = p
		}
		v.rawRoot = strings.TrimSpace(s.JSONPath) == "$"
	case "gjson":
		if strings.TrimSpace(s.GJSON) == "" {
			return nil, fmt.Errorf("%w: gjson: empty expression", ErrInvalidExpression)
		}
	case "xpath":
		e, err := xpath.Compile(s.XPath)
		if err != nil {
			return nil, fmt.Errorf("%w: xpath %q: %v", ErrInvalidExpression, s.XPath, err)
		}
		v.xp = e
	}
	if s.RegexpFilter != "" {
		re, ok := c.regexps[s.RegexpFilter]
		if !ok {
			var err error
			if re, err = regexp2.Compile(s.RegexpFilter); err != nil {
				return nil, fmt.Errorf("%w: regexp_filter %q: %v", ErrInvalidExpression, s.RegexpFilter, err)
			}
			re.MatchTimeout = RegexpTimeout
			if c.regexps == nil {
				c.regexps = map[string]*regexp2.Regexp{}
			}
			c.regexps[s.RegexpFilter] = re
		}
		v.filter = re
	}
	return v, nil
}

// Resolve evaluates the variable on in and writes its resulting variables
// (name, name_0, name_key …) into vars. Errors wrap ErrMalformedBody,
// ErrTimeout or ErrTooLarge; on error vars may hold part of the results.
func (v *Variable) Resolve(in *Input, vars map[string]string) error {
	e := emitter{vars: vars, filter: v.filter, budget: budgetFor(len(in.body))}
	var err error
	switch v.source {
	case "jsonpath":
		err = v.resolveJSONPath(in, &e)
	case "gjson":
		err = v.resolveGJSON(in, &e)
	case "xpath":
		err = v.resolveXPath(in, &e)
	case "header":
		err = v.resolveValues(v.headerValues(in), true, &e)
	case "query":
		err = v.resolveValues(in.query[v.expr], false, &e)
	case "form":
		err = v.resolveValues(in.form[v.expr], false, &e)
	case "cel":
		if js, ok := v.eval(in, vars); ok {
			err = e.flatten(v.name, gjson.ParseBytes(js), v.flat)
		}
	}
	if err != nil {
		return err
	}
	if v.def != nil && (e.written == 0 || vars[v.name] == "") {
		vars[v.name] = *v.def
	}
	return nil
}

func (v *Variable) resolveJSONPath(in *Input, e *emitter) error {
	if v.rawRoot {
		// "$": the raw body, verbatim and unfiltered, plus (for a JSON body)
		// the flattened sub-variables.
		if _, err := in.validJSON(); err == nil && v.flat {
			if err := e.flatten(v.name, gjson.Parse(in.body), true); err != nil {
				return err
			}
		}
		return e.setRaw(v.name, in.body)
	}
	if v.singular != nil && !v.slow {
		top, err := in.validJSON()
		if err != nil {
			return err
		}
		r, ok := v.singular.eval(in, top)
		if !ok {
			return nil
		}
		return e.flatten(v.name, r, v.flat)
	}
	d, err := in.document()
	if err != nil {
		return err
	}
	nodes, ok := d.selectOrdered(v.path.Query(), maxNodesFor(len(in.body)))
	if !ok {
		return errTooManyNodes
	}
	if v.singular != nil {
		if len(nodes) == 0 {
			return nil
		}
		return e.flatten(v.name, d.result(nodes[0]), v.flat)
	}
	rs := make([]gjson.Result, len(nodes))
	for i, n := range nodes {
		rs[i] = d.result(n)
	}
	return e.flattenList(v.name, rs, v.flat)
}

func (v *Variable) resolveGJSON(in *Input, e *emitter) error {
	if _, err := in.validJSON(); err != nil {
		return err
	}
	r := gjson.Get(in.body, v.expr)
	if !r.Exists() {
		return nil
	}
	return e.flatten(v.name, r, v.flat)
}

// headerValues returns the values of the header, matched case-insensitively.
func (v *Variable) headerValues(in *Input) []string {
	if vals, ok := in.header[v.header]; ok {
		return vals
	}
	for k, vals := range in.header {
		if strings.EqualFold(k, v.expr) {
			return vals
		}
	}
	return nil
}

// resolveValues writes name_i for each value, and name: the first value for
// headers (always), the value for query/form fields when there is exactly one.
func (v *Variable) resolveValues(vals []string, header bool, e *emitter) error {
	for i, val := range vals {
		f, err := e.filtered(val)
		if err != nil {
			return err
		}
		if err := e.setRaw(v.name+"_"+strconv.Itoa(i), f); err != nil {
			return err
		}
		if i == 0 && (header || len(vals) == 1) {
			if err := e.setRaw(v.name, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// ResolveAll resolves vars in GWT's merge order (header variables, then
// query and form variables, then body variables; a later one overwrites an
// earlier one with the same name) into a new map. It stops at the first
// error.
func ResolveAll(vars []*Variable, in *Input) (map[string]string, error) {
	out := make(map[string]string, len(vars)+len(vars)/2)
	for pass := 0; pass < 4; pass++ {
		for _, v := range vars {
			if v.class() != pass {
				continue
			}
			if err := v.Resolve(in, out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

func (v *Variable) class() int {
	switch v.source {
	case "header":
		return 0
	case "query", "form":
		return 1
	case "cel": // sees the variables of every other source
		return 3
	}
	return 2
}
