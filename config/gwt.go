package config

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/generic"
	ghprovider "github.com/hooktrigger/hooktrigger/providers/github"
	glprovider "github.com/hooktrigger/hooktrigger/providers/gitlab"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// GWTVariable is an entry of GWT's genericVariables: a JSONPath or XPath
// expression on the body.
type GWTVariable struct {
	Key            string  `yaml:"key"`
	Value          string  `yaml:"value"`
	ExpressionType string  `yaml:"expressionType"` // JSONPath (default) | XPath
	RegexpFilter   string  `yaml:"regexpFilter"`
	DefaultValue   *string `yaml:"defaultValue"`
}

// GWTRequestVariable is an entry of GWT's genericHeaderVariables (key is a
// header name) or genericRequestVariables (key is a query parameter).
type GWTRequestVariable struct {
	Key          string `yaml:"key"`
	RegexpFilter string `yaml:"regexpFilter"`
}

// gwtKeyed reports whether rt uses any of GWT's keys.
func gwtKeyed(rt *Trigger) bool {
	return rt.GenericVariables != nil || rt.GenericHeaderVariables != nil || rt.GenericRequestVariables != nil ||
		rt.RegexpFilterText != nil || rt.RegexpFilterExpression != nil || rt.Token != nil ||
		rt.TokenCredentialID != nil || rt.CauseString != nil || rt.SilentResponse != nil ||
		rt.ShouldNotFlatten != nil || rt.ShouldNotFlattern != nil || rt.PrintContributedVariables != nil ||
		rt.PrintPostContent != nil || rt.OverrideQuietPeriod != nil || rt.AllowSeveralTriggersPerBuild != nil
}

// gwtPrep is what prepareGWT compiled, attached to the trigger once the
// rest of it is compiled.
type gwtPrep struct {
	gwt      *trigger.GWT
	provider *gwtProvider
}

// prepareGWT compiles the GWT keys of rt (index i of the file's triggers)
// and fills what compileTrigger needs from them: a default name and, since
// the token is checked by the GWT provider, allow_unsigned. It returns nil
// when rt uses no GWT key.
func (p *parser) prepareGWT(field string, i int, rt *Trigger) *gwtPrep {
	if !gwtKeyed(rt) {
		return nil
	}
	// One style per concern.
	if len(rt.Variables) > 0 && (rt.GenericVariables != nil || rt.GenericHeaderVariables != nil || rt.GenericRequestVariables != nil) {
		p.errf(field+".variables", "give either variables or GWT's genericVariables/genericHeaderVariables/genericRequestVariables, not both")
	}
	if rt.Filter != nil && (rt.Filter.Text != "" || rt.Filter.Regexp != "") && (rt.RegexpFilterText != nil || rt.RegexpFilterExpression != nil) {
		p.errf(field+".filter", "give either filter.text/filter.regexp or GWT's regexpFilterText/regexpFilterExpression, not both")
	}
	if len(rt.Secret) > 0 || rt.Auth != nil || rt.AllowUnsigned {
		p.errf(field+".secret", "a trigger written with GWT's keys is authenticated by token: (or has none); leave out secret, auth and allow_unsigned")
	}
	if rt.Provider != "" && rt.Provider != "generic" {
		p.errf(field+".provider", "a trigger written with GWT's keys takes provider generic (or none), not %q", rt.Provider)
	}
	if rt.TokenCredentialID != nil {
		p.errf(field+".tokenCredentialId", "Jenkins credentials are not available; use token: ${ENV}")
	}
	if rt.ShouldNotFlatten != nil && rt.ShouldNotFlattern != nil {
		p.errf(field+".shouldNotFlattern", "give shouldNotFlatten only")
	}

	g := &trigger.GWT{
		CauseString: deref(rt.CauseString),
		Silent:      derefBool(rt.SilentResponse),
		PrintVars:   derefBool(rt.PrintContributedVariables),
		PrintPost:   derefBool(rt.PrintPostContent),
	}
	if rt.Name == "" {
		rt.Name = slug(g.CauseString)
		if rt.Name == "" {
			rt.Name = "gwt-" + strconv.Itoa(i)
		}
	}

	// The token is this trigger's secret.
	prov := &gwtProvider{}
	if rt.Token != nil {
		tf := field + ".token"
		if *rt.Token == "" {
			p.errf(tf, "is empty; leave token out for a trigger without one")
		} else if v := p.secret(tf, *rt.Token); v == "" {
			p.errf(tf, "resolves to an empty token")
		} else {
			prov.token = [][]byte{[]byte(v)}
			g.HasToken = true
		}
	}
	rt.AllowUnsigned = true // the provider compileTrigger builds is replaced by prov

	flat := !derefBool(rt.ShouldNotFlatten) && !derefBool(rt.ShouldNotFlattern)
	for j, v := range rt.GenericVariables {
		vf := fmt.Sprintf("%s.genericVariables[%d]", field, j)
		if v.Key == "" {
			p.errf(vf+".key", "is required")
			continue
		}
		if strings.TrimSpace(v.Value) == "" {
			p.errf(vf+".value", "is required: a JSONPath or XPath expression")
			continue
		}
		spec := extract.Spec{Name: v.Key, RegexpFilter: v.RegexpFilter, Default: v.DefaultValue, ShouldNotFlatten: !flat}
		switch strings.ToLower(v.ExpressionType) {
		case "", "jsonpath":
			spec.JSONPath = JaywayPath(v.Value)
		case "xpath":
			spec.XPath = v.Value
		default:
			p.errf(vf+".expressionType", "must be JSONPath or XPath, not %q", v.ExpressionType)
			continue
		}
		p.gwtVar(g, vf, spec, v.DefaultValue)
	}
	for j, v := range rt.GenericHeaderVariables {
		vf := fmt.Sprintf("%s.genericHeaderVariables[%d]", field, j)
		if strings.TrimSpace(v.Key) == "" {
			p.errf(vf+".key", "is required: a header name")
			continue
		}
		p.gwtVar(g, vf, extract.Spec{Header: v.Key, RegexpFilter: v.RegexpFilter}, nil)
	}
	for j, v := range rt.GenericRequestVariables {
		vf := fmt.Sprintf("%s.genericRequestVariables[%d]", field, j)
		if v.Key == "" {
			p.errf(vf+".key", "is required: a query parameter name")
			continue
		}
		// GWT's request parameters are the servlet's: the query string
		// and, for a form post, the form fields.
		p.gwtVar(g, vf, extract.Spec{Query: v.Key, RegexpFilter: v.RegexpFilter}, nil)
		p.gwtVar(g, vf, extract.Spec{Form: v.Key, RegexpFilter: v.RegexpFilter}, nil)
	}
	if rt.RegexpFilterText != nil || rt.RegexpFilterExpression != nil {
		f, err := trigger.CompileRegexpFilter(deref(rt.RegexpFilterText), deref(rt.RegexpFilterExpression))
		if err != nil {
			p.errf(field+".regexpFilterExpression", "%v", err)
		} else {
			g.Filter = f
		}
	}
	return &gwtPrep{gwt: g, provider: prov}
}

func (p *parser) gwtVar(g *trigger.GWT, field string, spec extract.Spec, def *string) {
	v, err := p.vars.Compile(spec)
	if err != nil {
		key := "value"
		switch {
		case spec.RegexpFilter != "" && strings.Contains(err.Error(), "regexp"):
			key = "regexpFilter"
		case spec.Header != "" || spec.Query != "":
			key = "key"
		}
		p.errf(field+"."+key, "%s", strings.TrimPrefix(err.Error(), "extract: "))
		return
	}
	g.Vars = append(g.Vars, trigger.GWTVar{Var: v, Default: def})
}

// attach completes t with the GWT part; a nil g does nothing.
func (g *gwtPrep) attach(t *trigger.Trigger) {
	if g == nil {
		return
	}
	t.GWT = g.gwt
	t.Provider = g.provider
	t.ProviderName = "generic"
	for _, v := range g.gwt.Vars {
		t.Variables = append(t.Variables, v.Var)
	}
	if g.gwt.Filter != nil {
		t.Filters = append([]trigger.Filter{g.gwt.Filter}, t.Filters...)
	}
	if (g.gwt.PrintVars || g.gwt.PrintPost) && t.Spec != nil && t.Spec.Command != nil {
		t.Spec.Command.Preamble = g.gwt.Preamble
	}
}

// JaywayPath rewrites the Jayway JSONPath forms GWT users write that RFC
// 9535 spells differently: a dot before a bracket ("$.a.['b','c']" is
// "$.a['b','c']"). Text inside quotes is left alone.
func JaywayPath(expr string) string {
	var b strings.Builder
	var quote byte
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		switch {
		case quote != 0:
			if c == '\\' && i+1 < len(expr) {
				b.WriteByte(c)
				i++
				c = expr[i]
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '.' && i+1 < len(expr) && expr[i+1] == '[' && (i == 0 || expr[i-1] != '.'):
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// slug makes a trigger name of a causeString: lower-case letters and digits,
// other runs replaced by one '-', at most 60 characters.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			if b.Len() >= 60 {
				break
			}
			continue
		}
		dash = true
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefBool(b *bool) bool { return b != nil && *b }

// gwtProvider authenticates a GWT-keyed trigger by its token, looked up in
// GWT's order (generic.Token) and compared in constant time, and reads the
// delivery as GitHub or GitLab when their event header is present, so that
// events, branches, tags and deduplication work as for native triggers.
type gwtProvider struct {
	token [][]byte // nil: no token, every request verifies
}

var _ providers.Provider = (*gwtProvider)(nil)

var (
	gwtGitHub  = must(ghprovider.New(providers.Config{AllowUnsigned: true}))
	gwtGitLab  = must(glprovider.New(providers.Config{AllowUnsigned: true}))
	gwtGeneric = must(generic.New(providers.Config{AllowUnsigned: true}))
)

func must[P any](p P, err error) P {
	if err != nil {
		panic(err)
	}
	return p
}

func (g *gwtProvider) Name() string { return "generic" }

// Verify accepts a request carrying the trigger's token or, for a trigger
// without a token, any request.
func (g *gwtProvider) Verify(r *providers.Request) error {
	if g.token == nil {
		return nil
	}
	tok, ok := generic.Token(r)
	if !ok || tok == "" {
		return fmt.Errorf("%w: gwt: no token in ?token=, token, Authorization: Bearer or X-Gitlab-Token", providers.ErrUnauthorized)
	}
	if !providers.TokenMatches(tok, g.token) {
		return fmt.Errorf("%w: gwt: token does not match", providers.ErrUnauthorized)
	}
	return nil
}

// deliveryHeaders name a delivery for deduplication when neither GitHub
// nor GitLab sent the request.
var deliveryHeaders = []string{"Idempotency-Key", "Webhook-Id", "X-Request-Uuid", "X-Gitea-Delivery"}

// Inspect never fails: a body the sniffed provider cannot read gives the
// generic reading.
func (g *gwtProvider) Inspect(r *providers.Request) (*providers.Info, error) {
	var p providers.Provider
	switch {
	case r.Header.Get("X-Github-Event") != "":
		p = gwtGitHub
	case r.Header.Get("X-Gitlab-Event") != "":
		p = gwtGitLab
	}
	if p != nil {
		if info, err := p.Inspect(r); err == nil {
			return info, nil
		}
	}
	info, _ := gwtGeneric.Inspect(r)
	for _, h := range deliveryHeaders {
		if v := r.Header.Get(h); v != "" {
			info.DeliveryID = v
			break
		}
	}
	if info.Event == "" {
		info.Event = r.Header.Get(http.CanonicalHeaderKey("X-Event-Key")) // Bitbucket
	}
	return info, nil
}
