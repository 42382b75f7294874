package trigger_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

func gwtTrigger(t *testing.T, cause string, filter *trigger.RegexpFilter, vars ...trigger.GWTVar) *trigger.Trigger {
	t.Helper()
	g := &trigger.GWT{Vars: vars, CauseString: cause, Filter: filter}
	tr := &trigger.Trigger{Name: "gwt", GWT: g}
	if filter != nil {
		tr.Filters = []trigger.Filter{filter}
	}
	return tr
}

func gv(t *testing.T, s extract.Spec, def *string) trigger.GWTVar {
	t.Helper()
	return trigger.GWTVar{Var: mustVar(t, s), Default: def}
}

func strp(s string) *string { return &s }

func TestTrigger_Decide_GWT(t *testing.T) {
	h := http.Header{"X-Gitlab-Event": {"Push Hook"}, "Content-Type": {"application/json"}}
	q := url.Values{"ref": {"from-query"}}
	info := &providers.Info{}
	run := func(tr *trigger.Trigger, body string) trigger.Decision {
		req := &providers.Request{Header: h, Query: q, Body: []byte(body)}
		return tr.Decide(req, info, extract.NewInput([]byte(body), h, q))
	}

	t.Run("MalformedBodyUsesDefault", func(t *testing.T) {
		tr := gwtTrigger(t, "", mustRegexp(t, "$ref", "^main$"),
			gv(t, extract.Spec{Name: "ref", JSONPath: "$.ref"}, strp("main")))
		for _, body := range []string{"", "not json", `{"ref": `} {
			d := run(tr, body)
			if !d.Fire || d.Err != nil || d.Vars["ref"] != "main" {
				t.Errorf("body %q: fire=%v err=%v vars=%v, want the default to fire", body, d.Fire, d.Err, d.Vars)
			}
		}
	})
	t.Run("MalformedBodyNoDefaultLeavesLiteral", func(t *testing.T) {
		tr := gwtTrigger(t, "", mustRegexp(t, "$ref", `^\$ref$`),
			gv(t, extract.Spec{Name: "ref", JSONPath: "$.ref"}, nil))
		if d := run(tr, "nope"); !d.Fire || len(d.Vars) != 0 {
			t.Fatalf("fire=%v vars=%v reason=%q", d.Fire, d.Vars, d.Reason)
		}
	})
	t.Run("MergeOrderAndPrivate", func(t *testing.T) {
		tr := gwtTrigger(t, "", nil,
			gv(t, extract.Spec{JSONPath: "$.ref", Name: "ref"}, nil),
			gv(t, extract.Spec{Query: "ref"}, nil),
			gv(t, extract.Spec{Header: "X-Gitlab-Event"}, nil),
		)
		d := run(tr, `{"ref":"from-body"}`)
		if d.Vars["ref"] != "from-body" {
			t.Errorf("body should overwrite the query: %v", d.Vars)
		}
		if d.Vars["x_gitlab_event"] != "Push Hook" || d.Vars["x_gitlab_event_0"] != "Push Hook" {
			t.Errorf("header variables: %v", d.Vars)
		}
		if !d.Private["x_gitlab_event"] || !d.Private["x_gitlab_event_0"] || d.Private["ref"] {
			t.Errorf("private = %v", d.Private)
		}
		pub := trigger.PublicVars(d)
		if _, ok := pub["x_gitlab_event"]; ok || pub["ref"] != "from-body" {
			t.Errorf("PublicVars = %v", pub)
		}
	})
	t.Run("TokenParameterIsPrivate", func(t *testing.T) {
		tr := gwtTrigger(t, "", nil, gv(t, extract.Spec{Query: "token"}, nil), gv(t, extract.Spec{Query: "ref"}, nil))
		req := &providers.Request{Header: h, Query: url.Values{"token": {"s3cret"}, "ref": {"main"}}}
		d := tr.Decide(req, info, extract.NewInput(nil, h, req.Query))
		pub := trigger.PublicVars(d)
		if d.Vars["token"] != "s3cret" || pub["token"] != "" || pub["token_0"] != "" || pub["ref"] != "main" {
			t.Fatalf("vars %v, public %v", d.Vars, pub)
		}
	})
	t.Run("ResponseFilterTextHidesHeaders", func(t *testing.T) {
		f := mustRegexp(t, "$x_gitlab_event $ref", "Push Hook")
		tr := gwtTrigger(t, "", f,
			gv(t, extract.Spec{JSONPath: "$.ref", Name: "ref"}, nil),
			gv(t, extract.Spec{Header: "X-Gitlab-Event"}, nil))
		d := run(tr, `{"ref":"main"}`)
		if !d.Fire {
			t.Fatalf("the filter sees header values: %q", d.Reason)
		}
		if got := tr.GWT.ResponseFilterText(d); got != "$x_gitlab_event main" {
			t.Fatalf("ResponseFilterText = %q", got)
		}
	})
	t.Run("Cause", func(t *testing.T) {
		for _, tc := range []struct {
			name, cause, want string
		}{
			{name: "Rendered", cause: "Push of ${ref} ($ref)", want: "Push of main (main)"},
			{name: "EmptyIsGeneric", cause: "", want: trigger.DefaultCause},
			{name: "AbsentLiteral", cause: "by $who", want: "by $who"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tr := gwtTrigger(t, tc.cause, nil, gv(t, extract.Spec{JSONPath: "$.ref", Name: "ref"}, nil))
				if d := run(tr, `{"ref":"main"}`); d.Cause != tc.want {
					t.Fatalf("cause %q, want %q", d.Cause, tc.want)
				}
			})
		}
	})
	t.Run("RegexpFilterTimeoutIsReason", func(t *testing.T) {
		tr := gwtTrigger(t, "", mustRegexp(t, "$s", "(a+)+$"), gv(t, extract.Spec{JSONPath: "$.s", Name: "s"}, nil))
		d := run(tr, `{"s":"`+strings.Repeat("a", 40)+`b"}`)
		if d.Fire || !strings.Contains(d.Reason, "timeout") {
			t.Fatalf("fire=%v reason=%q", d.Fire, d.Reason)
		}
	})
}

func TestGWT_Preamble(t *testing.T) {
	job := &pipeline.Job{Vars: map[string]string{"b": "2", "a": "1"}, Payload: []byte(`{"x":1}`)}
	for _, tc := range []struct {
		name string
		g    trigger.GWT
		want string
	}{
		{name: "None", g: trigger.GWT{}, want: ""},
		{name: "Vars", g: trigger.GWT{PrintVars: true}, want: "Contributing variables:\n\n    a = 1\n    b = 2\n\n"},
		{name: "Post", g: trigger.GWT{PrintPost: true}, want: "Received:\n\n{\"x\":1}\n\n"},
		{name: "Both", g: trigger.GWT{PrintVars: true, PrintPost: true}, want: "Contributing variables:\n\n    a = 1\n    b = 2\n\nReceived:\n\n{\"x\":1}\n\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(tc.g.Preamble(job)); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}
