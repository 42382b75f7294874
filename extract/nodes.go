package extract

import (
	"fmt"
	"strings"

	"github.com/antchfx/xpath"
	"github.com/theory/jsonpath"
	"github.com/tidwall/gjson"
)

// Kind is the language of an ad-hoc expression given to Nodes.
type Kind string

// The kinds of expression Nodes evaluates.
const (
	KindJSONPath Kind = "jsonpath"
	KindGJSON    Kind = "gjson"
	KindXPath    Kind = "xpath"
)

// Nodes evaluates expr of the given kind on in and returns the typed result
// nodes: JSON values as encoding/json decodes them with UseNumber (string,
// json.Number, bool, nil, []any, map[string]any), in RFC 9535 order with
// object members visited in document order; for XPath the text content of
// each node (or the string, float64 or bool of a non-node-set result).
// gjson gives at most one node. Errors wrap ErrInvalidExpression or
// ErrMalformedBody.
func Nodes(kind Kind, expr string, in *Input) ([]any, error) {
	switch kind {
	case KindJSONPath:
		p, err := jsonpath.Parse(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: jsonpath %q: %v", ErrInvalidExpression, expr, err)
		}
		return jsonPathNodes(p, compileSingular(p.Query()), in)
	case KindGJSON:
		if strings.TrimSpace(expr) == "" {
			return nil, fmt.Errorf("%w: gjson: empty expression", ErrInvalidExpression)
		}
		if _, err := in.validJSON(); err != nil {
			return nil, err
		}
		r := gjson.Get(in.body, expr)
		if !r.Exists() {
			return []any{}, nil
		}
		return []any{toAny(r)}, nil
	case KindXPath:
		x, err := xpath.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: xpath %q: %v", ErrInvalidExpression, expr, err)
		}
		return xmlNodes(x, in)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalidExpression, kind)
}

func jsonPathNodes(p *jsonpath.Path, sq *singularQuery, in *Input) ([]any, error) {
	if sq != nil {
		top, err := in.validJSON()
		if err != nil {
			return nil, err
		}
		r, ok := sq.eval(in, top)
		if !ok {
			return []any{}, nil
		}
		return []any{toAny(r)}, nil
	}
	d, err := in.document()
	if err != nil {
		return nil, err
	}
	nodes, ok := d.selectOrdered(p.Query(), maxNodesFor(len(in.body)))
	if !ok {
		return nil, errTooManyNodes
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, nil
}
