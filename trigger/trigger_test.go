package trigger_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

func mustGlobs(tb testing.TB, patterns ...string) *trigger.Globs {
	tb.Helper()
	if len(patterns) == 0 {
		return nil
	}
	g, err := trigger.CompileGlobs(patterns)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

func mustRegexp(tb testing.TB, text, expr string) *trigger.RegexpFilter {
	tb.Helper()
	f, err := trigger.CompileRegexpFilter(text, expr)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func mustCEL(tb testing.TB, expr string) *trigger.CELFilter {
	tb.Helper()
	f, err := trigger.CompileCEL(expr)
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func mustVar(tb testing.TB, s extract.Spec) *extract.Variable {
	tb.Helper()
	v, err := extract.Compile(s)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// delivery is a push of main by alice.
var pushBody = []byte(`{"ref":"refs/heads/main","pusher":{"name":"alice"},"repository":{"private":false}}`)

func decide(t *testing.T, tr *trigger.Trigger, info *providers.Info, body []byte) trigger.Decision {
	t.Helper()
	h := http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {info.Event}}
	q := url.Values{"env": {"prod"}}
	req := &providers.Request{Header: h, Query: q, Body: body}
	return tr.Decide(req, info, extract.NewInput(body, h, q))
}

func TestTrigger_Decide(t *testing.T) {
	refVar := extract.Spec{Name: "ref", JSONPath: "$.ref", RegexpFilter: "^refs/heads/"}
	pushMain := &providers.Info{Event: "push", Ref: "refs/heads/main", Branch: "main"}
	pushWip := &providers.Info{Event: "push", Ref: "refs/heads/wip/x", Branch: "wip/x"}
	pushRelease := &providers.Info{Event: "push", Ref: "refs/heads/release/1.2/rc", Branch: "release/1.2/rc"}
	tagV1 := &providers.Info{Event: "push", Ref: "refs/tags/v1.0", Tag: "v1.0"}
	prOpened := &providers.Info{Event: "pull_request", Action: "opened", Branch: "feature/a"}
	prClosed := &providers.Info{Event: "pull_request", Action: "closed", Branch: "feature/a"}
	for _, tc := range []struct {
		name     string
		events   []string
		branches []string
		tags     []string
		regexp   [2]string // text, expression
		cel      string
		info     *providers.Info
		fire     bool
		reason   string // substring of the reason when it does not fire
	}{
		// events alone
		{name: "Events/BareNameMatches", events: []string{"push"}, info: pushMain, fire: true},
		{name: "Events/OtherEventSkipped", events: []string{"push"}, info: prOpened, reason: `event "pull_request.opened" is not in events`},
		{name: "Events/EventActionMatches", events: []string{"pull_request.opened"}, info: prOpened, fire: true},
		{name: "Events/OtherActionSkipped", events: []string{"pull_request.opened"}, info: prClosed, reason: "pull_request.closed"},
		{name: "Events/BareNameCoversActions", events: []string{"pull_request"}, info: prClosed, fire: true},
		{name: "Events/Star", events: []string{"*"}, info: prClosed, fire: true},
		// branches alone
		{name: "Branches/Exact", branches: []string{"main"}, info: pushMain, fire: true},
		{name: "Branches/ExactOther", branches: []string{"develop"}, info: pushMain, reason: `branch "main" does not match branches`},
		{name: "Branches/DoubleStarAcrossSegments", branches: []string{"release/**"}, info: pushRelease, fire: true},
		{name: "Branches/SingleStarOneSegment", branches: []string{"release/*"}, info: pushRelease, reason: "does not match"},
		{name: "Branches/ExcludeOnly", branches: []string{"!wip/*"}, info: pushWip, reason: "does not match"},
		{name: "Branches/ExcludeOnlyOthersPass", branches: []string{"!wip/*"}, info: pushMain, fire: true},
		{name: "Branches/IncludeAndExclude", branches: []string{"**", "!wip/*"}, info: pushWip, reason: "does not match"},
		{name: "Branches/TagPushSkipped", branches: []string{"**"}, info: tagV1, reason: "builds branches only"},
		// tags alone
		{name: "Tags/Glob", tags: []string{"v*"}, info: tagV1, fire: true},
		{name: "Tags/GlobOther", tags: []string{"release-*"}, info: tagV1, reason: `tag "v1.0" does not match tags`},
		{name: "Tags/BranchPushSkipped", tags: []string{"v*"}, info: pushMain, reason: "builds tags only"},
		{name: "BranchesAndTags/EitherKind", branches: []string{"main"}, tags: []string{"v*"}, info: tagV1, fire: true},
		// GWT regexp filter alone
		{name: "Regexp/Matches", regexp: [2]string{"$ref", "^(main|develop)$"}, info: pushMain, fire: true},
		{name: "Regexp/Unanchored", regexp: [2]string{"push $ref by $pusher", "ai"}, info: pushMain, fire: true},
		{name: "Regexp/NoMatch", regexp: [2]string{"$ref", "^develop$"}, info: pushMain, reason: `filter text "$ref" (rendered) does not match "^develop$"`},
		{name: "Regexp/AbsentVariableLiteral", regexp: [2]string{"$nothere", `^\$nothere$`}, info: pushMain, fire: true},
		{name: "Regexp/Lookahead", regexp: [2]string{"$ref", "^(?!wip/).*$"}, info: pushMain, fire: true},
		{name: "Regexp/EmptyBothMatches", regexp: [2]string{"", ""}, info: pushMain, fire: true},
		// CEL alone
		{name: "CEL/BodyTrue", cel: `body.repository.private == false`, info: pushMain, fire: true},
		{name: "CEL/BodyFalse", cel: `body.pusher.name == "bob"`, info: pushMain, reason: "is false"},
		{name: "CEL/HeadersLowerCase", cel: `headers["x-github-event"] == "push"`, info: pushMain, fire: true},
		{name: "CEL/Query", cel: `query.env == "prod"`, info: pushMain, fire: true},
		{name: "CEL/Vars", cel: `vars.ref == "main"`, info: pushMain, fire: true},
		{name: "CEL/Event", cel: `event == "pull_request.opened"`, info: prOpened, fire: true},
		{name: "CEL/MissingKeyIsSkipNotPanic", cel: `body.nothere == "x"`, info: pushMain, reason: "CEL"},
		// combined: every given filter must hold
		{name: "Combined/AllHold", events: []string{"push"}, branches: []string{"main", "release/**"}, regexp: [2]string{"$pusher", "^alice$"}, cel: `vars.ref == "main"`, info: pushMain, fire: true},
		{name: "Combined/EventFails", events: []string{"pull_request"}, branches: []string{"main"}, regexp: [2]string{"$pusher", "^alice$"}, cel: "true", info: pushMain, reason: "is not in events"},
		{name: "Combined/BranchFails", events: []string{"push"}, branches: []string{"develop"}, regexp: [2]string{"$pusher", "^alice$"}, cel: "true", info: pushMain, reason: "does not match branches"},
		{name: "Combined/RegexpFails", events: []string{"push"}, branches: []string{"main"}, regexp: [2]string{"$pusher", "^bob$"}, cel: "true", info: pushMain, reason: "^bob$"},
		{name: "Combined/CELFails", events: []string{"push"}, branches: []string{"main"}, regexp: [2]string{"$pusher", "^alice$"}, cel: "false", info: pushMain, reason: "is false"},
		{name: "Combined/TagsWithEvent", events: []string{"push"}, tags: []string{"v*"}, cel: `event == "push"`, info: tagV1, fire: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trigger.Trigger{
				Name: "t", Events: tc.events,
				Branches: mustGlobs(t, tc.branches...), Tags: mustGlobs(t, tc.tags...),
				Variables: []*extract.Variable{
					mustVar(t, refVar),
					mustVar(t, extract.Spec{Name: "pusher", JSONPath: "$.pusher.name"}),
				},
			}
			if tc.regexp != [2]string{} || strings.HasPrefix(tc.name, "Regexp/") {
				tr.Filters = append(tr.Filters, mustRegexp(t, tc.regexp[0], tc.regexp[1]))
			}
			if tc.cel != "" {
				tr.Filters = append(tr.Filters, mustCEL(t, tc.cel))
			}
			d := decide(t, tr, tc.info, pushBody)
			if d.Fire != tc.fire {
				t.Fatalf("fire = %v (reason %q), want %v", d.Fire, d.Reason, tc.fire)
			}
			if tc.fire && d.Reason != "" {
				t.Errorf("fired with a reason %q", d.Reason)
			}
			if !tc.fire && !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("reason %q lacks %q", d.Reason, tc.reason)
			}
		})
	}
}

func TestRegexpFilter_Timeout(t *testing.T) {
	f := mustRegexp(t, "$text", "(a+)+$")
	tr := &trigger.Trigger{
		Name:      "slow",
		Variables: []*extract.Variable{mustVar(t, extract.Spec{Name: "text", JSONPath: "$.text"})},
		Filters:   []trigger.Filter{f},
	}
	body := []byte(`{"text":"` + strings.Repeat("a", 40) + `b"}`)
	start := time.Now()
	d := decide(t, tr, &providers.Info{Event: "push"}, body)
	if d.Fire {
		t.Fatal("a timed-out filter fired")
	}
	if !strings.Contains(d.Reason, "match timeout") || !strings.Contains(d.Reason, "(a+)+$") {
		t.Fatalf("reason %q does not name the timeout and the expression", d.Reason)
	}
	// Without the timeout this pattern backtracks for hours; a generous bound
	// shows that the timeout, not the input, ended the match.
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("took %v", el)
	}
	ok, _, err := f.Match(&trigger.Delivery{Vars: map[string]string{"text": "aaab"}})
	if err != nil || ok {
		t.Fatalf("short input: ok=%v err=%v, want a plain non-match", ok, err)
	}
	_, _, err = f.Match(&trigger.Delivery{Vars: map[string]string{"text": strings.Repeat("a", 40) + "b"}})
	if !errors.Is(err, trigger.ErrFilterTimeout) {
		t.Fatalf("err = %v, want ErrFilterTimeout", err)
	}
}

func TestGlobs_Match(t *testing.T) {
	for _, tc := range []struct {
		name     string
		patterns []string
		in       string
		want     bool
	}{
		{name: "Exact", patterns: []string{"main"}, in: "main", want: true},
		{name: "ExactNoPrefix", patterns: []string{"main"}, in: "main2", want: false},
		{name: "StarOneSegment", patterns: []string{"feature/*"}, in: "feature/a", want: true},
		{name: "StarNotTwoSegments", patterns: []string{"feature/*"}, in: "feature/a/b", want: false},
		{name: "DoubleStarZeroSegments", patterns: []string{"release/**"}, in: "release", want: true},
		{name: "DoubleStarMany", patterns: []string{"release/**"}, in: "release/1/2/3", want: true},
		{name: "DoubleStarMiddle", patterns: []string{"a/**/z"}, in: "a/b/c/z", want: true},
		{name: "PrefixStar", patterns: []string{"v*"}, in: "v1.2.3", want: true},
		{name: "PrefixStarOther", patterns: []string{"v*"}, in: "x1", want: false},
		{name: "ExcludeWins", patterns: []string{"*", "!wip"}, in: "wip", want: false},
		{name: "OnlyExcludes", patterns: []string{"!wip/*"}, in: "main", want: true},
		{name: "CharClass", patterns: []string{"v[0-9]*"}, in: "v9", want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustGlobs(t, tc.patterns...).Match(tc.in); got != tc.want {
				t.Fatalf("%v.Match(%q) = %v, want %v", tc.patterns, tc.in, got, tc.want)
			}
		})
	}
	t.Run("BadPatterns", func(t *testing.T) {
		for _, p := range [][]string{{""}, {"!"}, {"a["}} {
			if _, err := trigger.CompileGlobs(p); err == nil {
				t.Errorf("CompileGlobs(%q) accepted", p)
			}
		}
	})
}
