package extract

import "github.com/theory/jsonpath"

// ForceSlow returns a copy of v whose singular JSONPath query is answered by
// decoding the body and walking it (the path every indefinite query takes)
// instead of by gjson on the raw bytes.
func ForceSlow(v *Variable) *Variable {
	c := *v
	c.slow = true
	if c.path == nil { // a singular query keeps only its fast path
		c.path = jsonpath.MustParse(c.expr)
	}
	return &c
}

// NodesSlow is Nodes for JSONPath on the decoding path only.
func NodesSlow(expr string, in *Input) ([]any, error) {
	p, err := parseJSONPath(expr)
	if err != nil {
		return nil, err
	}
	return jsonPathNodes(p, nil, in)
}

// IsSingular reports whether v is answered by the gjson fast path.
func IsSingular(v *Variable) bool { return v.singular != nil }
