package trigger

import (
	"errors"
	"fmt"
	"time"

	"github.com/dlclark/regexp2/v2"

	"github.com/hooktrigger/hooktrigger/extract"
)

// MatchTimeout bounds one regexp filter evaluation, so a pathological pattern
// cannot pin a core.
const MatchTimeout = 100 * time.Millisecond

// ErrFilterTimeout is returned when a filter regexp exceeds MatchTimeout.
var ErrFilterTimeout = errors.New("trigger: filter regexp exceeded its match timeout")

// RegexpFilter is GWT's regexpFilterText/regexpFilterExpression pair: the text
// is rendered with the delivery's variables ($name and ${name}, longest name
// first, absent names left literal) and the expression must be found in it
// (unanchored, Java regexp syntax).
type RegexpFilter struct {
	Text   string
	Expr   string
	regexp *regexp2.Regexp
}

// CompileRegexpFilter compiles expr once.
func CompileRegexpFilter(text, expr string) (*RegexpFilter, error) {
	re, err := regexp2.Compile(expr, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("invalid regexp %q: %v", expr, err)
	}
	re.MatchTimeout = MatchTimeout
	return &RegexpFilter{Text: text, Expr: expr, regexp: re}, nil
}

// Rendered returns the filter text rendered with vars, as Match tests it.
func (f *RegexpFilter) Rendered(vars map[string]string) string { return extract.Render(f.Text, vars) }

// Match renders the text and searches the expression in it.
func (f *RegexpFilter) Match(d *Delivery) (bool, string, error) {
	rendered := extract.Render(f.Text, d.Vars)
	if rendered == "" && f.Expr == "" {
		return true, "", nil
	}
	ok, err := f.regexp.MatchString(rendered)
	if err != nil {
		return false, "", fmt.Errorf("%w: %q", ErrFilterTimeout, f.Expr)
	}
	if !ok {
		// The rendered text is left out: it may hold header values or
		// other parts of the request that a response must not echo.
		return false, fmt.Sprintf("filter text %q (rendered) does not match %q", f.Text, f.Expr), nil
	}
	return true, "", nil
}
