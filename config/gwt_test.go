package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/providers"
)

func TestLoad_GWT(t *testing.T) {
	t.Setenv("GWT_CFG_TEST_TOKEN", "from-env")
	for _, tc := range []struct {
		name  string
		yaml  string
		want  []string // substrings of the error; none = it loads
		check func(t *testing.T, c *config.Config)
	}{
		{
			name: "Minimal",
			yaml: "triggers:\n  - token: abc\n    run: {command: [\"true\"]}\n",
			check: func(t *testing.T, c *config.Config) {
				tr, ok := c.Triggers.ByName("gwt-0")
				if !ok || tr.GWT == nil || !tr.GWT.HasToken || tr.Path != "/hooks/gwt-0" {
					t.Fatalf("trigger %+v", tr)
				}
			},
		},
		{
			name: "NameFromCauseString",
			yaml: "triggers:\n  - causeString: 'Push of $ref by ${user}!'\n    run: {command: [\"true\"]}\n",
			check: func(t *testing.T, c *config.Config) {
				if _, ok := c.Triggers.ByName("push-of-ref-by-user"); !ok {
					t.Fatalf("names: %v", c.Triggers.All()[0].Name)
				}
			},
		},
		{
			name: "TokenFromEnvVerifies",
			yaml: "triggers:\n  - name: x\n    token: ${GWT_CFG_TEST_TOKEN}\n    run: {command: [\"true\"]}\n",
			check: func(t *testing.T, c *config.Config) {
				tr, _ := c.Triggers.ByName("x")
				ok := &providers.Request{Query: map[string][]string{"token": {"from-env"}}}
				bad := &providers.Request{Query: map[string][]string{"token": {"from-envx"}}}
				none := &providers.Request{}
				if tr.Provider.Verify(ok) != nil || !errors.Is(tr.Provider.Verify(bad), providers.ErrUnauthorized) || !errors.Is(tr.Provider.Verify(none), providers.ErrUnauthorized) {
					t.Fatal("token check")
				}
			},
		},
		{
			name: "AllKeys",
			yaml: `triggers:
  - name: all
    genericVariables:
      - {key: ref, value: $.ref, expressionType: JSONPath, regexpFilter: '^refs/heads/', defaultValue: main}
      - {key: files, value: "$.commits[*].['modified','added'][*]"}
      - {key: version, value: /project/version, expressionType: XPath}
    genericHeaderVariables: [{key: X-GitHub-Event, regexpFilter: x}]
    genericRequestVariables: [{key: env}]
    regexpFilterText: $ref
    regexpFilterExpression: '^main$'
    token: t
    causeString: c
    silentResponse: false
    shouldNotFlatten: true
    printContributedVariables: true
    printPostContent: true
    overrideQuietPeriod: true
    allowSeveralTriggersPerBuild: true
    filter: {cel: 'vars.ref == "main"'}
    events: [push]
    run: {command: ["true"]}
`,
			check: func(t *testing.T, c *config.Config) {
				tr, _ := c.Triggers.ByName("all")
				// Each request variable reads the query and the form: 6.
				if len(tr.GWT.Vars) != 6 || len(tr.Filters) != 2 || tr.Spec.Command.Preamble == nil || tr.GWT.Filter == nil {
					t.Fatalf("%d vars, %d filters", len(tr.GWT.Vars), len(tr.Filters))
				}
			},
		},
		{name: "MixedVariables", yaml: "triggers:\n  - token: a\n    variables: [{name: a, jsonpath: $.a}]\n    genericVariables: [{key: b, value: $.b}]\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:3: triggers[0].variables: give either variables or GWT's"}},
		{name: "MixedFilter", yaml: "triggers:\n  - regexpFilterText: $a\n    filter: {text: $a, regexp: x}\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].filter: give either filter.text/filter.regexp"}},
		{name: "MixedSecret", yaml: "triggers:\n  - token: a\n    secret: b\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].secret: a trigger written with GWT's keys is authenticated by token"}},
		{name: "OtherProvider", yaml: "triggers:\n  - token: a\n    provider: github\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].provider: a trigger written with GWT's keys takes provider generic"}},
		{name: "TokenCredentialID", yaml: "triggers:\n  - tokenCredentialId: my-cred\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:2: triggers[0].tokenCredentialId: Jenkins credentials are not available; use token: ${ENV}"}},
		{name: "EmptyToken", yaml: "triggers:\n  - token: ''\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].token: is empty"}},
		{name: "UnsetTokenEnv", yaml: "triggers:\n  - token: ${GWT_CFG_TEST_UNSET}\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].token: environment variable GWT_CFG_TEST_UNSET is not set"}},
		{name: "BadExpressionType", yaml: "triggers:\n  - genericVariables:\n      - {key: a, value: $.a, expressionType: YAML}\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:3: triggers[0].genericVariables[0].expressionType: must be JSONPath or XPath"}},
		{name: "BadJSONPath", yaml: "triggers:\n  - genericVariables:\n      - key: a\n        value: $.a[\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:4: triggers[0].genericVariables[0].value:"}},
		{name: "BadVariableRegexp", yaml: "triggers:\n  - genericVariables:\n      - key: a\n        value: $.a\n        regexpFilter: '('\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:5: triggers[0].genericVariables[0].regexpFilter:"}},
		{name: "BadFilterRegexp", yaml: "triggers:\n  - regexpFilterText: $a\n    regexpFilterExpression: '(?<'\n    run: {command: [\"true\"]}\n",
			want: []string{"x.yaml:3: triggers[0].regexpFilterExpression: invalid regexp"}},
		{name: "MissingKey", yaml: "triggers:\n  - genericHeaderVariables: [{regexpFilter: x}]\n    run: {command: [\"true\"]}\n",
			want: []string{"triggers[0].genericHeaderVariables[0].key: is required"}},
		{name: "MissingRun", yaml: "triggers:\n  - token: a\n", want: []string{"triggers[0].run: is required"}},
		{name: "MisspelledKey", yaml: "triggers:\n  - token: a\n    genericVariable: []\n    run: {command: [\"true\"]}\n",
			want: []string{`triggers[0].genericVariable: unknown key (did you mean "genericVariables"?)`}},
		{name: "DuplicateDefaultNames", yaml: "triggers:\n  - {causeString: same, run: {command: [\"true\"]}}\n  - {causeString: same, run: {command: [\"true\"]}}\n",
			want: []string{`triggers[1].name: duplicate trigger name "same"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.LoadBytes("x.yaml", []byte(tc.yaml))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil || !errors.Is(err, config.ErrInvalid) {
				t.Fatalf("err = %v, want a config error", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestJaywayPath(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{name: "DotBracket", in: "$.commits[*].['modified','added'][*]", want: "$.commits[*]['modified','added'][*]"},
		{name: "Unchanged", in: "$.a.b[0]", want: "$.a.b[0]"},
		{name: "DescendantKept", in: "$..['a']", want: "$..['a']"},
		{name: "QuotedKept", in: "$['x.[y']", want: "$['x.[y']"},
		{name: "FilterKept", in: `$.c[?(@.n == "a.[b")]`, want: `$.c[?(@.n == "a.[b")]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := config.JaywayPath(tc.in); got != tc.want {
				t.Fatalf("JaywayPath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
