package trigger

import (
	"bytes"
	"errors"
	"sort"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/pipeline"
)

// GWT is what a trigger written with Jenkins Generic Webhook Trigger's own
// keys (genericVariables, regexpFilterText, token, causeString …) adds to
// it. Such a trigger resolves its variables as GWT does: a body that is not
// the JSON or XML a variable needs leaves that variable unresolved (its
// default applies) instead of refusing the delivery.
type GWT struct {
	Vars        []GWTVar      // every variable, in config order
	HasToken    bool          // the trigger has a token: selected only when the request carries it
	CauseString string        // causeString template; "" renders as DefaultCause
	Silent      bool          // silentResponse: left out of the endpoint's response
	PrintVars   bool          // printContributedVariables
	PrintPost   bool          // printPostContent
	Filter      *RegexpFilter // regexpFilterText/regexpFilterExpression, nil when not given
}

// GWTVar is one variable of a GWT-keyed trigger with its default, which
// applies also when the body cannot be read for it.
type GWTVar struct {
	Var     *extract.Variable
	Default *string
}

// DefaultCause is GWT's cause when causeString is empty or renders empty.
const DefaultCause = "Generic Cause"

// resolve resolves the variables in GWT's merge order (headers, request
// parameters, body; a later source overwrites an earlier one). It returns
// the names whose value came from a request header or from the token query
// parameter. Errors other than an
// unreadable body (a regexp_filter timeout, a nesting bomb) are returned.
func (g *GWT) resolve(in *extract.Input) (map[string]string, map[string]bool, error) {
	out := map[string]string{}
	var private map[string]bool
	for pass := 0; pass < 3; pass++ {
		for _, gv := range g.Vars {
			if gwtClass(gv.Var.Source()) != pass {
				continue
			}
			tmp := map[string]string{}
			if err := gv.Var.Resolve(in, tmp); err != nil {
				if !errors.Is(err, extract.ErrMalformedBody) {
					return out, private, err
				}
				clear(tmp)
				if gv.Default != nil {
					tmp[gv.Var.Name()] = *gv.Default
				}
			}
			// Header values, and a request parameter named token (it may
			// be the trigger's token), are never shown in a response.
			hidden := pass == 0 || (gv.Var.Source() != "header" && pass == 1 && gv.Var.Expression() == "token")
			for k, v := range tmp {
				out[k] = v
				if hidden {
					if private == nil {
						private = map[string]bool{}
					}
					private[k] = true
				} else {
					delete(private, k)
				}
			}
		}
	}
	return out, private, nil
}

func gwtClass(source string) int {
	switch source {
	case "header":
		return 0
	case "query", "form":
		return 1
	}
	return 2
}

// Cause renders the causeString with vars.
func (g *GWT) Cause(vars map[string]string) string {
	c := extract.Render(g.CauseString, vars)
	if c == "" {
		return DefaultCause
	}
	return c
}

// PublicVars returns d's variables without those holding a request header
// value: what a response may show.
func PublicVars(d Decision) map[string]string {
	out := make(map[string]string, len(d.Vars))
	for k, v := range d.Vars {
		if !d.Private[k] {
			out[k] = v
		}
	}
	return out
}

// ResponseFilterText is the regexpFilterText rendered for a response: with
// the variables of PublicVars only, so a header value stays "$name".
func (g *GWT) ResponseFilterText(d Decision) string {
	if g.Filter == nil {
		return ""
	}
	return g.Filter.Rendered(PublicVars(d))
}

// FilterExpression is the regexpFilterExpression, "" when none.
func (g *GWT) FilterExpression() string {
	if g.Filter == nil {
		return ""
	}
	return g.Filter.Expr
}

// Preamble returns the lines GWT prints at the start of the build log:
// "Contributing variables:" with one "    name = value" line per variable
// (printContributedVariables) and "Received:" followed by the body
// (printPostContent). Use it as pipeline.Command.Preamble.
func (g *GWT) Preamble(job *pipeline.Job) []byte {
	var b bytes.Buffer
	if g.PrintVars {
		b.WriteString("Contributing variables:\n\n")
		names := make([]string, 0, len(job.Vars))
		for k := range job.Vars {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			b.WriteString("    " + k + " = " + job.Vars[k] + "\n")
		}
		b.WriteString("\n")
	}
	if g.PrintPost {
		b.WriteString("Received:\n\n")
		b.Write(job.Payload)
		b.WriteString("\n\n")
	}
	return b.Bytes()
}
