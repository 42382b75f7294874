package extract

import (
	"fmt"
	"strconv"

	"github.com/dlclark/regexp2/v2"
	"github.com/tidwall/gjson"
)

// emitter writes one variable's results into vars, applying the regexp
// filter and charging every byte written or scanned against a budget
// proportional to the body, so that a nesting bomb cannot make flattening
// use unbounded memory or time.
type emitter struct {
	vars    map[string]string
	filter  *regexp2.Regexp
	budget  int
	written int // variables written
}

var errTooManyNodes = fmt.Errorf("%w: the query selects more nodes than the body size allows", ErrTooLarge)

// budgetFor returns the flattening budget for a body of n bytes.
func budgetFor(n int) int { return 1<<20 + 16*n }

func (e *emitter) charge(n int) error {
	e.budget -= n
	if e.budget < 0 {
		return fmt.Errorf("%w: flattened variables exceed 1 MiB + 16 times the body size", ErrTooLarge)
	}
	return nil
}

// filtered applies the regexp filter to s.
func (e *emitter) filtered(s string) (string, error) {
	if e.filter == nil {
		return s, nil
	}
	out, err := e.filter.Replace(s, "", -1, -1)
	if err != nil {
		// regexp2's message quotes the input; do not pass it on.
		return "", fmt.Errorf("%w: regexp_filter %q", ErrTimeout, e.filter.String())
	}
	return out, nil
}

// set writes name = filter(val).
func (e *emitter) set(name, val string) error {
	v, err := e.filtered(val)
	if err != nil {
		return err
	}
	return e.setRaw(name, v)
}

// setRaw writes name = val unfiltered.
func (e *emitter) setRaw(name, val string) error {
	if err := e.charge(len(name) + len(val)); err != nil {
		return err
	}
	e.vars[name] = val
	e.written++
	return nil
}

// flatten writes r under name following GWT: strings as is, numbers and
// booleans as JSON text, objects and arrays as compact JSON plus one
// variable per member (name_key) or element (name_i), recursively; nulls
// produce nothing. Names are sanitised.
func (e *emitter) flatten(name string, r gjson.Result, sub bool) error {
	switch r.Type {
	case gjson.Null:
		return nil
	case gjson.String:
		return e.set(name, r.Str)
	case gjson.Number, gjson.True, gjson.False:
		return e.set(name, r.Raw)
	}
	if err := e.charge(len(r.Raw)); err != nil {
		return err
	}
	if err := e.set(name, compactJSON(r.Raw)); err != nil {
		return err
	}
	if !sub {
		return nil
	}
	var err error
	if r.IsArray() {
		i := 0
		r.ForEach(func(_, v gjson.Result) bool {
			err = e.flatten(name+"_"+strconv.Itoa(i), v, true)
			i++
			return err == nil
		})
		return err
	}
	r.ForEach(func(k, v gjson.Result) bool {
		err = e.flatten(name+"_"+SanitizeName(k.Str), v, true)
		return err == nil
	})
	return err
}

// flattenList writes the node list of an indefinite query: name is the
// compact JSON array of the nodes and name_i each node.
func (e *emitter) flattenList(name string, nodes []gjson.Result, sub bool) error {
	size := 2
	for _, n := range nodes {
		size += len(n.Raw) + 1
	}
	if err := e.charge(size); err != nil {
		return err
	}
	b := make([]byte, 0, size)
	b = append(b, '[')
	for i, n := range nodes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, compactJSON(n.Raw)...)
	}
	b = append(b, ']')
	if err := e.set(name, string(b)); err != nil {
		return err
	}
	if !sub {
		return nil
	}
	for i, n := range nodes {
		if err := e.flatten(name+"_"+strconv.Itoa(i), n, true); err != nil {
			return err
		}
	}
	return nil
}
