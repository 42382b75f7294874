package extract

import (
	"strconv"

	"github.com/theory/jsonpath"
	"github.com/theory/jsonpath/spec"
	"github.com/tidwall/gjson"
)

// A step of a compiled singular query. Consecutive member names that gjson
// cannot confuse with array indexes are joined into one gjson path; member
// names made of digits only (gjson would also apply them to arrays) and
// index selectors (gjson would also apply them to objects) are steps of
// their own with a type check.
type step struct {
	kind  stepKind
	path  string // gjson path (stepPath, stepName)
	name  string // member name (stepName, stepEmptyName)
	index int    // stepIndex
}

type stepKind uint8

const (
	stepPath      stepKind = iota // one or more member names, as a gjson path
	stepName                      // one member name gjson could read as an index
	stepEmptyName                 // the empty member name, which gjson paths cannot express
	stepIndex                     // an array index, possibly negative
)

// singularQuery is a compiled RFC 9535 singular query answered with gjson.
type singularQuery struct {
	first *step // first step, answered from the top-level member index when a name
	steps []step
}

// compileSingular returns the gjson plan for q, or nil when q is not a
// singular query.
func compileSingular(q *spec.PathQuery) *singularQuery {
	type seg struct {
		isName bool
		name   string
		index  int
	}
	var segs []seg
	for _, s := range q.Segments() {
		sels := s.Selectors()
		if s.IsDescendant() || len(sels) != 1 {
			return nil
		}
		switch sel := sels[0].(type) {
		case spec.Name:
			segs = append(segs, seg{isName: true, name: string(sel)})
		case spec.Index:
			segs = append(segs, seg{index: int(sel)})
		default:
			return nil
		}
	}
	sq := &singularQuery{}
	if len(segs) > 0 && segs[0].isName {
		sq.first = &step{kind: stepName, name: segs[0].name}
		segs = segs[1:]
	}
	var names []string
	flush := func() {
		if len(names) == 0 {
			return
		}
		p := ""
		for i, n := range names {
			if i > 0 {
				p += "."
			}
			p += gjsonEscape(n)
		}
		sq.steps = append(sq.steps, step{kind: stepPath, path: p})
		names = names[:0]
	}
	for _, s := range segs {
		switch {
		case !s.isName:
			flush()
			sq.steps = append(sq.steps, step{kind: stepIndex, index: s.index})
		case s.name == "":
			flush()
			sq.steps = append(sq.steps, step{kind: stepEmptyName})
		case ambiguousName(s.name):
			flush()
			sq.steps = append(sq.steps, step{kind: stepName, name: s.name, path: gjsonEscape(s.name)})
		default:
			names = append(names, s.name)
		}
	}
	flush()
	return sq
}

// ambiguousName reports whether gjson could apply name n to an array or read
// it as something other than a plain key.
func ambiguousName(n string) bool {
	for i := 0; i < len(n); i++ {
		if n[i] < '0' || n[i] > '9' {
			return false
		}
	}
	return true
}

// gjsonEscape escapes a member name for use as one gjson path component.
// gjson.Escape covers the path syntax (. * ? | # @ ! = < > % \ and so on);
// it leaves control characters and spaces alone, which gjson reads literally.
func gjsonEscape(n string) string {
	return gjson.Escape(n)
}

// eval answers the query on the validated body of in. ok is false when the
// query selects nothing.
func (sq *singularQuery) eval(in *Input, top []member) (gjson.Result, bool) {
	var cur gjson.Result
	steps := sq.steps
	if sq.first != nil {
		if in.rootKind != '{' {
			return gjson.Result{}, false
		}
		found := false
		for i := range top {
			m := &top[i]
			if (!m.esc && m.key == sq.first.name) || (m.esc && m.name() == sq.first.name) {
				cur = gjson.Result{Raw: m.val}
				found = true
				break
			}
		}
		if !found {
			return gjson.Result{}, false
		}
		cur = gjson.Parse(cur.Raw)
	} else {
		cur = gjson.Parse(in.body)
	}
	for i := range steps {
		st := &steps[i]
		switch st.kind {
		case stepPath:
			if !cur.IsObject() {
				return gjson.Result{}, false
			}
			cur = gjson.Get(cur.Raw, st.path)
		case stepName:
			if !cur.IsObject() {
				return gjson.Result{}, false
			}
			cur = gjson.Get(cur.Raw, st.path)
		case stepEmptyName:
			if !cur.IsObject() {
				return gjson.Result{}, false
			}
			var hit gjson.Result
			cur.ForEach(func(k, v gjson.Result) bool {
				if k.Str == "" {
					hit = v
					return false
				}
				return true
			})
			cur = hit
		case stepIndex:
			if !cur.IsArray() {
				return gjson.Result{}, false
			}
			idx := st.index
			if idx < 0 {
				n := 0
				cur.ForEach(func(_, _ gjson.Result) bool { n++; return true })
				idx += n
				if idx < 0 {
					return gjson.Result{}, false
				}
			}
			cur = gjson.Get(cur.Raw, strconv.Itoa(idx))
		}
		if !cur.Exists() {
			return gjson.Result{}, false
		}
	}
	if !cur.Exists() {
		return gjson.Result{}, false
	}
	return cur, true
}

// parseJSONPath parses an RFC 9535 query.
func parseJSONPath(expr string) (*jsonpath.Path, error) {
	return jsonpath.Parse(expr)
}

// selectOrdered evaluates q on the decoded document like RFC 9535, visiting
// object members in document order (Go maps have none), so results and the
// variables named after them are deterministic.
// At most maxNodes nodes are selected per segment (ok is false beyond).
func (d *document) selectOrdered(q *spec.PathQuery, maxNodes int) (nodes []any, ok bool) {
	nodes = []any{d.root}
	for _, seg := range q.Segments() {
		var out []any
		for _, n := range nodes {
			if seg.IsDescendant() {
				out = d.descend(seg.Selectors(), n, out, maxNodes)
			} else {
				out = d.apply(seg.Selectors(), n, out)
			}
			if len(out) > maxNodes {
				return nil, false
			}
		}
		nodes = out
	}
	return nodes, true
}

// maxNodesFor bounds the node list of a query on a body of n bytes.
func maxNodesFor(n int) int { return budgetFor(n) / 128 }

func (d *document) descend(sels []spec.Selector, n any, out []any, maxNodes int) []any {
	out = d.apply(sels, n, out)
	if len(out) > maxNodes {
		return out
	}
	switch v := n.(type) {
	case []any:
		for _, c := range v {
			if out = d.descend(sels, c, out, maxNodes); len(out) > maxNodes {
				return out
			}
		}
	case map[string]any:
		for _, k := range d.keys(v) {
			if out = d.descend(sels, v[k], out, maxNodes); len(out) > maxNodes {
				return out
			}
		}
	}
	return out
}

func (d *document) apply(sels []spec.Selector, n any, out []any) []any {
	root := d.root
	for _, sel := range sels {
		m, isMap := n.(map[string]any)
		if !isMap {
			out = append(out, sel.Select(n, root)...)
			continue
		}
		switch sel := sel.(type) {
		case spec.WildcardSelector, *spec.WildcardSelector:
			for _, k := range d.keys(m) {
				out = append(out, m[k])
			}
		case *spec.FilterSelector:
			for _, k := range d.keys(m) {
				if sel.Eval(m[k], root) {
					out = append(out, m[k])
				}
			}
		default:
			out = append(out, sel.Select(n, root)...)
		}
	}
	return out
}
