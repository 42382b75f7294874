package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// gwtConfig holds one GWT-keyed trigger per documented GWT scenario, each
// selected by its own token, plus a native trigger for the concurrency test.
const gwtConfig = `listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
triggers:
  # Build only develop and feature/* pushes.
  - causeString: Push of $ref
    token: tok-branches
    printContributedVariables: true
    printPostContent: true
    genericVariables:
      - {key: ref, value: $.ref}
    regexpFilterText: $ref
    regexpFilterExpression: '^refs/heads/(develop|feature/.+)$'
    run: &run
      command: [./build.sh]
      dir: .
      env: {OUT: ./out.txt}

  # Ignore GitLab branch creation and deletion (an all-zero sha).
  - name: gitlab-no-create-delete
    token: ${GWT_TEST_GITLAB_TOKEN}
    genericVariables:
      - {key: before, value: $.before}
      - {key: after, value: $.after}
    genericHeaderVariables:
      - {key: X-Gitlab-Event}
    regexpFilterText: $x_gitlab_event $before $after
    # (\s, so that the expression, which responses show, differs from the header value)
    regexpFilterExpression: '^Push\sHook (?!0{40}).{40} (?!0{40}).{40}$'
    run: *run

  # Build only when something below src/ changed.
  - name: changed-files
    token: tok-files
    genericVariables:
      - {key: changed_files, value: "$.commits[*].['modified','added','removed'][*]"}
    regexpFilterText: $changed_files
    regexpFilterExpression: '"src/[^"]+"'
    run: *run

  # Build on a merge-request comment "please rebuild this".
  - name: mr-comment
    token: tok-comment
    genericVariables:
      - {key: object_kind, value: $.object_kind}
      - {key: noteable_type, value: $.object_attributes.noteable_type}
      - {key: comment, value: $.object_attributes.note}
    regexpFilterText: $object_kind $noteable_type $comment
    regexpFilterExpression: '^note MergeRequest .*please rebuild this'
    run: *run

  # Skip pushes by a given user.
  - name: not-the-bot
    token: tok-user
    genericVariables:
      - {key: pusher, value: $.pusher.name}
    regexpFilterText: $pusher
    regexpFilterExpression: '^(?!jenkins-bot$).+$'
    run: *run

  # Bitbucket: build tag pushes only.
  - name: bitbucket-tags
    token: tok-bitbucket
    genericVariables:
      - {key: tag, value: '$.push.changes[?(@.new.type == "tag")].new.name'}
    regexpFilterText: $tag_0
    regexpFilterExpression: '^v[0-9]'
    run: *run

  # silentResponse: the run happens, the response is empty.
  - name: silent
    token: tok-silent
    silentResponse: true
    run: *run

  # Two triggers share a token: one request decides both.
  - name: shared-a
    token: tok-shared
    genericRequestVariables:
      - {key: env}
    regexpFilterText: $env
    regexpFilterExpression: '^prod$'
    run: *run
  - name: shared-b
    token: tok-shared
    run: *run

  # Without a token: selected only when the request carries none.
  - name: open
    genericVariables:
      - {key: who, value: $.who, defaultValue: nobody}
    run: *run

  # Pathological filter regexps, to be served concurrently with others.
  - {name: slow-1, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-2, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-3, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-4, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-5, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-6, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-7, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-8, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-9, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}
  - {name: slow-10, token: tok-slow, genericVariables: [{key: s, value: $.s}], regexpFilterText: $s, regexpFilterExpression: '(a+)+$', run: *run}

  - name: normal
    allow_unsigned: true
    run: *run
`

// gwtSecrets are the tokens and header values the tests send; no response
// may contain any of them.
var gwtSecrets = []string{
	"tok-branches", "gitlab-t0ken-from-env", "tok-files", "tok-comment", "tok-user", "tok-bitbucket",
	"tok-silent", "tok-shared", "tok-slow", "tok-wrong", "Push Hook", "Note Hook", "repo:push",
	"dlv-7f3a9c", "hdr-value-x1",
}

// gwtClient sends requests and keeps every response body for the leak check.
type gwtClient struct {
	base   string
	mu     sync.Mutex
	bodies [][]byte
}

func (c *gwtClient) do(tb testing.TB, method, query string, body []byte, header map[string]string) *Response {
	tb.Helper()
	if header == nil {
		header = map[string]string{}
	}
	if _, ok := header["Content-Type"]; !ok {
		header["Content-Type"] = "application/json"
	}
	header["X-Extra"] = "hdr-value-x1"
	r := Do(tb, method, c.base+"/generic-webhook-trigger/invoke"+query, body, header)
	c.mu.Lock()
	c.bodies = append(c.bodies, r.Body)
	c.mu.Unlock()
	return r
}

type gwtJobReply struct {
	Triggered              bool              `json:"triggered"`
	ID                     any               `json:"id"`
	URL                    string            `json:"url"`
	RegexpFilterText       string            `json:"regexpFilterText"`
	RegexpFilterExpression string            `json:"regexpFilterExpression"`
	ResolvedVariables      map[string]string `json:"resolvedVariables"`
	Reason                 string            `json:"reason"`
	Duplicate              bool              `json:"duplicate"`
}

type gwtReplyBody struct {
	Jobs    map[string]gwtJobReply `json:"jobs"`
	Message string                 `json:"message"`
}

func decodeGWT(tb testing.TB, r *Response) gwtReplyBody {
	tb.Helper()
	var out gwtReplyBody
	if err := json.Unmarshal(r.Body, &out); err != nil {
		tb.Fatalf("status %d, body not GWT JSON: %v: %s", r.Status, err, r.Body)
	}
	return out
}

func readCorpus(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(tb), name))
	if err != nil {
		tb.Skipf("corpus payload: %v", err)
	}
	return b
}

// withJSON returns payload with the top-level or nested member set.
func withJSON(tb testing.TB, payload []byte, set func(m map[string]any)) []byte {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		tb.Fatal(err)
	}
	set(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func countRuns(tb testing.TB, base string) int {
	tb.Helper()
	r := Do(tb, "GET", base+"/api/runs", nil, map[string]string{"Authorization": "Bearer api-secret"})
	if r.Status != 200 {
		tb.Fatalf("list runs: %d %s", r.Status, r.Body)
	}
	rs, _ := r.JSON(tb)["runs"].([]any)
	return len(rs)
}

func TestGWT_Invoke(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "build.sh"), "#!/bin/sh\necho \"$HOOKTRIGGER_TRIGGER|$HOOKTRIGGER_CAUSE\" >> \"$OUT\"\necho build done\n")
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, gwtConfig)
	p := MustServe(t, cfg, "GWT_TEST_GITLAB_TOKEN=gitlab-t0ken-from-env")
	c := &gwtClient{base: p.URL}

	type scenario struct {
		name    string
		query   string
		header  map[string]string
		body    []byte
		job     string
		trigger bool
		text    string // expected regexpFilterText, when set
	}
	push := func(ref, pusher string) []byte {
		return []byte(`{"ref":"` + ref + `","pusher":{"name":"` + pusher + `"}}`)
	}
	glPush := readCorpus(t, "gitlab/push.json")
	glNote := readCorpus(t, "gitlab/note_merge_request.json")
	zeros := strings.Repeat("0", 40)
	glHeader := func() map[string]string {
		return map[string]string{"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gitlab-t0ken-from-env"}
	}
	note := func(text string) []byte {
		return withJSON(t, glNote, func(m map[string]any) { m["object_attributes"].(map[string]any)["note"] = text })
	}
	bitbucket := func(typ, name string) []byte {
		return []byte(`{"push":{"changes":[{"new":{"type":"branch","name":"main"}},{"new":{"type":"` + typ + `","name":"` + name + `"}}]}}`)
	}
	commits := func(files string) []byte {
		return []byte(`{"ref":"refs/heads/main","commits":[{"modified":["README.md"],"added":[],"removed":[]},{"modified":[],"added":[` + files + `],"removed":[]}]}`)
	}
	for _, sc := range []scenario{
		{name: "Branches/Develop", query: "?token=tok-branches", body: push("refs/heads/develop", "a"), job: "push-of-ref", trigger: true, text: "refs/heads/develop"},
		{name: "Branches/Feature", query: "?token=tok-branches", body: push("refs/heads/feature/login", "a"), job: "push-of-ref", trigger: true},
		{name: "Branches/MainSkipped", query: "?token=tok-branches", body: push("refs/heads/main", "a"), job: "push-of-ref", text: "refs/heads/main"},
		{name: "Branches/FeaturePrefixOnlySkipped", query: "?token=tok-branches", body: push("refs/heads/featurex", "a"), job: "push-of-ref"},

		{name: "GitLabCreateDelete/Push", header: glHeader(), body: glPush, job: "gitlab-no-create-delete", trigger: true,
			text: "$x_gitlab_event 95790bf891e76fee5e1747ab589903a6a1f80f22 da1560886d4f094c3e6c9ef40349f7d38b5d27d7"},
		{name: "GitLabCreateDelete/BranchCreated", header: glHeader(), body: withJSON(t, glPush, func(m map[string]any) { m["before"] = zeros }), job: "gitlab-no-create-delete"},
		{name: "GitLabCreateDelete/BranchDeleted", header: glHeader(), body: withJSON(t, glPush, func(m map[string]any) { m["after"] = zeros }), job: "gitlab-no-create-delete"},

		{name: "ChangedFiles/SrcAdded", query: "?token=tok-files", body: commits(`"src/app/main.go"`), job: "changed-files", trigger: true,
			text: `["README.md","src/app/main.go"]`},
		{name: "ChangedFiles/DocsOnly", query: "?token=tok-files", body: commits(`"docs/index.md"`), job: "changed-files"},
		{name: "ChangedFiles/NotAPrefixMatch", query: "?token=tok-files", body: commits(`"lib/src/x.go"`), job: "changed-files"},

		{name: "MRComment/PleaseRebuild", header: map[string]string{"Authorization": "Bearer tok-comment", "X-Gitlab-Event": "Note Hook"},
			body: note("LGTM, but please rebuild this"), job: "mr-comment", trigger: true},
		{name: "MRComment/OtherComment", header: map[string]string{"Authorization": "Bearer tok-comment", "X-Gitlab-Event": "Note Hook"},
			body: glNote, job: "mr-comment", text: "note MergeRequest This MR needs work."},

		{name: "SkipUser/Alice", header: map[string]string{"token": "tok-user"}, body: push("refs/heads/main", "alice"), job: "not-the-bot", trigger: true},
		{name: "SkipUser/Bot", header: map[string]string{"token": "tok-user"}, body: push("refs/heads/main", "jenkins-bot"), job: "not-the-bot"},
		{name: "SkipUser/BotPrefixIsNotTheBot", header: map[string]string{"token": "tok-user"}, body: push("refs/heads/main", "jenkins-bot2"), job: "not-the-bot", trigger: true},

		{name: "BitbucketTag/TagPush", query: "?token=tok-bitbucket", header: map[string]string{"X-Event-Key": "repo:push"}, body: bitbucket("tag", "v1.4.0"), job: "bitbucket-tags", trigger: true, text: "v1.4.0"},
		{name: "BitbucketTag/BranchPush", query: "?token=tok-bitbucket", header: map[string]string{"X-Event-Key": "repo:push"}, body: bitbucket("branch", "v-branch"), job: "bitbucket-tags", text: "[]_0"}, // GWT renders $tag (the empty list), then "_0"

		{name: "NoToken/OpenTrigger", body: []byte(`not json at all`), job: "open", trigger: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			r := c.do(t, "POST", sc.query, sc.body, sc.header)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			rep := decodeGWT(t, r)
			if rep.Message != "Triggered jobs." || len(rep.Jobs) != 1 {
				t.Fatalf("reply %s", r.Body)
			}
			j, ok := rep.Jobs[sc.job]
			if !ok {
				t.Fatalf("job %q missing: %s", sc.job, r.Body)
			}
			if j.Triggered != sc.trigger {
				t.Fatalf("triggered = %v, want %v: %s", j.Triggered, sc.trigger, r.Body)
			}
			if sc.text != "" && j.RegexpFilterText != sc.text {
				t.Errorf("regexpFilterText %q, want %q", j.RegexpFilterText, sc.text)
			}
			if sc.trigger {
				id, _ := j.ID.(string)
				if id == "" || !strings.HasSuffix(j.URL, "/ui/runs/"+id) || j.ResolvedVariables == nil {
					t.Fatalf("a triggered job needs a run id, its url and its variables: %s", r.Body)
				}
				if run := WaitRun(t, p.URL, "api-secret", id); run["state"] != "succeeded" {
					t.Fatalf("run: %v", run)
				}
			} else {
				if j.ID != float64(0) || j.URL != "" || j.ResolvedVariables != nil || j.Reason == "" {
					t.Fatalf("a job that did not trigger has id 0, no url, no variables, a reason: %s", r.Body)
				}
			}
		})
	}

	t.Run("CauseAndLogPreamble", func(t *testing.T) {
		body := push("refs/heads/develop", "a")
		r := c.do(t, "POST", "?token=tok-branches", body, nil)
		j := decodeGWT(t, r).Jobs["push-of-ref"]
		id, _ := j.ID.(string)
		WaitRun(t, p.URL, "api-secret", id)
		log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, map[string]string{"Authorization": "Bearer api-secret"})
		want := "Contributing variables:\n\n    ref = refs/heads/develop\n\nReceived:\n\n" + string(body) + "\n\nbuild done\n"
		if !strings.HasPrefix(string(log.Body), want) {
			t.Fatalf("log %q, want it to start with %q", log.Body, want)
		}
		out, _ := os.ReadFile(filepath.Join(dir, "out.txt"))
		if !strings.Contains(string(out), "push-of-ref|Push of refs/heads/develop\n") {
			t.Fatalf("the build did not see the cause: %q", out)
		}
	})

	t.Run("HeaderVariablesNotInResponse", func(t *testing.T) {
		r := c.do(t, "POST", "", glPush, glHeader())
		j := decodeGWT(t, r).Jobs["gitlab-no-create-delete"]
		if _, ok := j.ResolvedVariables["x_gitlab_event"]; ok || j.ResolvedVariables["before"] == "" {
			t.Fatalf("resolvedVariables %v: header variables must be left out, body ones kept", j.ResolvedVariables)
		}
	})

	t.Run("SharedToken", func(t *testing.T) {
		r := c.do(t, "POST", "?token=tok-shared&env=staging", nil, nil)
		rep := decodeGWT(t, r)
		if len(rep.Jobs) != 2 || rep.Jobs["shared-a"].Triggered || !rep.Jobs["shared-b"].Triggered {
			t.Fatalf("%s", r.Body)
		}
		r = c.do(t, "POST", "?token=tok-shared&env=prod", nil, nil)
		rep = decodeGWT(t, r)
		if !rep.Jobs["shared-a"].Triggered || rep.Jobs["shared-a"].ResolvedVariables["env"] != "prod" || !rep.Jobs["shared-b"].Triggered {
			t.Fatalf("%s", r.Body)
		}
	})

	t.Run("WrongToken404", func(t *testing.T) {
		before := countRuns(t, p.URL)
		r := c.do(t, "POST", "?token=tok-wrong", push("refs/heads/develop", "a"), nil)
		rep := decodeGWT(t, r)
		if r.Status != http.StatusNotFound || rep.Jobs != nil || rep.Message != "Did not find any jobs with GenericTrigger configured!\nA token was supplied.\n" {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		if !bytes.Contains(r.Body, []byte(`"jobs":null`)) {
			t.Fatalf("jobs must be null: %s", r.Body)
		}
		if after := countRuns(t, p.URL); after != before {
			t.Fatalf("runs %d → %d", before, after)
		}
	})

	t.Run("Silent", func(t *testing.T) {
		before := countRuns(t, p.URL)
		r := c.do(t, "POST", "?token=tok-silent", nil, nil)
		if r.Status != http.StatusOK || len(r.Body) != 0 {
			t.Fatalf("want 200 and an empty body, got %d %q", r.Status, r.Body)
		}
		if after := countRuns(t, p.URL); after != before+1 {
			t.Fatalf("a silent trigger still runs: runs %d → %d", before, after)
		}
	})

	t.Run("DryRun", func(t *testing.T) {
		before := countRuns(t, p.URL)
		for _, tc := range []struct {
			name    string
			ref     string
			trigger bool
		}{
			{name: "Matching", ref: "refs/heads/develop", trigger: true},
			{name: "NotMatching", ref: "refs/heads/main"},
		} {
			r := c.do(t, "POST", "?token=tok-branches", push(tc.ref, "a"), map[string]string{"gwt-dry-run": "TRUE"})
			j := decodeGWT(t, r).Jobs["push-of-ref"]
			if r.Status != 200 || j.Triggered != tc.trigger || j.ID != float64(0) || j.URL != "" {
				t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		if after := countRuns(t, p.URL); after != before {
			t.Fatalf("a dry run started runs: %d → %d", before, after)
		}
	})

	t.Run("Options", func(t *testing.T) {
		r := c.do(t, "OPTIONS", "?token=tok-branches", nil, nil)
		if r.Status != 200 || len(r.Body) != 0 {
			t.Fatalf("%d %q", r.Status, r.Body)
		}
	})

	t.Run("AnyMethod", func(t *testing.T) {
		r := c.do(t, "GET", "?token=tok-branches", nil, nil)
		if r.Status != 200 || decodeGWT(t, r).Jobs["push-of-ref"].Triggered {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
	})

	t.Run("DuplicateDelivery", func(t *testing.T) {
		h := func() map[string]string {
			return map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "dlv-7f3a9c", "token": "tok-user"}
		}
		before := countRuns(t, p.URL)
		first := decodeGWT(t, c.do(t, "POST", "", push("refs/heads/main", "alice"), h())).Jobs["not-the-bot"]
		second := decodeGWT(t, c.do(t, "POST", "", push("refs/heads/main", "alice"), h())).Jobs["not-the-bot"]
		if !first.Triggered || first.Duplicate || !second.Duplicate || second.ID != first.ID {
			t.Fatalf("first %+v, second %+v", first, second)
		}
		if after := countRuns(t, p.URL); after != before+1 {
			t.Fatalf("runs %d → %d", before, after)
		}
	})

	t.Run("SlowFilterDoesNotBlockOthers", func(t *testing.T) {
		slowBody := []byte(`{"s":"` + strings.Repeat("a", 40) + `b"}`)
		var slowDone, normalDone time.Time
		var slow *Response
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			slow = c.do(t, "POST", "?token=tok-slow", slowBody, nil)
			slowDone = time.Now()
		}()
		time.Sleep(100 * time.Millisecond)
		r := Do(t, "POST", p.URL+"/hooks/normal", []byte(`{}`), nil)
		normalDone = time.Now()
		wg.Wait()
		if r.Status != http.StatusAccepted {
			t.Fatalf("normal: %d %s", r.Status, r.Body)
		}
		if !normalDone.Before(slowDone) {
			t.Fatalf("the normal delivery waited for the slow one (normal done %v after the slow one)", normalDone.Sub(slowDone))
		}
		rep := decodeGWT(t, slow)
		if slow.Status != 200 || len(rep.Jobs) != 10 {
			t.Fatalf("slow: %d %s", slow.Status, slow.Body)
		}
		for name, j := range rep.Jobs {
			if j.Triggered || !strings.Contains(j.Reason, "match timeout") {
				t.Errorf("%s: triggered=%v reason=%q", name, j.Triggered, j.Reason)
			}
		}
	})

	t.Run("AlsoOnHooksPath", func(t *testing.T) {
		r := Do(t, "POST", p.URL+"/hooks/not-the-bot?token=tok-user", push("refs/heads/main", "alice"), nil)
		if r.Status != http.StatusAccepted {
			t.Fatalf("with the token: %d %s", r.Status, r.Body)
		}
		r = Do(t, "POST", p.URL+"/hooks/not-the-bot?token=tok-wrong", push("refs/heads/main", "alice"), nil)
		if r.Status != http.StatusUnauthorized || bytes.Contains(r.Body, []byte("tok-")) {
			t.Fatalf("with a wrong token: %d %s", r.Status, r.Body)
		}
		r = Do(t, "POST", p.URL+"/hooks/not-the-bot?token=tok-user", push("refs/heads/main", "jenkins-bot"), nil)
		if r.Status != http.StatusOK || !bytes.Contains(r.Body, []byte(`"skipped"`)) {
			t.Fatalf("filtered out: %d %s", r.Status, r.Body)
		}
	})

	t.Run("NoResponseLeaks", func(t *testing.T) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if len(c.bodies) < 20 {
			t.Fatalf("only %d responses collected", len(c.bodies))
		}
		for _, b := range c.bodies {
			for _, s := range gwtSecrets {
				if bytes.Contains(b, []byte(s)) {
					t.Errorf("a response contains %q: %s", s, b)
				}
			}
		}
	})
}

func TestGWT_NotFoundWithoutToken(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, "listen: 127.0.0.1:0\ndata_dir: ./data\nmax_body: 1KiB\ntriggers:\n  - {token: t0k, run: {command: [\"true\"]}}\n")
	p := MustServe(t, cfg)
	r := Do(t, "POST", p.URL+"/generic-webhook-trigger/invoke", []byte(`{}`), map[string]string{"Authorization": "Basic dXNlcjpwYXNz"})
	rep := decodeGWT(t, r)
	if r.Status != 404 || rep.Jobs != nil || !strings.HasPrefix(rep.Message, "Did not find any jobs with GenericTrigger configured!\nNo token was supplied.\n") {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if bytes.Contains(r.Body, []byte("dXNlcjpwYXNz")) || bytes.Contains(r.Body, []byte("t0k")) {
		t.Fatalf("the 404 echoes a credential: %s", r.Body)
	}
	big := Do(t, "POST", p.URL+"/generic-webhook-trigger/invoke?token=t0k", bytes.Repeat([]byte("x"), 4096), nil)
	if rep := decodeGWT(t, big); big.Status != http.StatusRequestEntityTooLarge || rep.Jobs != nil || !strings.Contains(rep.Message, "max_body") {
		t.Fatalf("body over max_body: %d %s", big.Status, big.Body)
	}
	// The token-less lookup must not reach a trigger that has a token.
	r = Do(t, "POST", p.URL+"/generic-webhook-trigger/invoke?token=", []byte(`{}`), nil)
	if r.Status != 404 {
		t.Fatalf("empty token: %d %s", r.Status, r.Body)
	}
}

func TestGWT_JenkinsMigrationExample(t *testing.T) {
	src := "../../examples/jenkins-migration"
	dir := t.TempDir()
	for _, f := range []string{"hooktrigger.yaml", "build.sh"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "hooktrigger.yaml" {
			b = bytes.Replace(b, []byte("listen: 127.0.0.1:8080"), []byte("listen: 127.0.0.1:0"), 1)
		}
		writeFile(t, filepath.Join(dir, f), string(b))
	}
	env := []string{"JENKINS_GWT_TOKEN=my-app-token"}
	t.Run("Check", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, env, "check", "--config", filepath.Join(src, "hooktrigger.yaml"))
		if code != 0 || !strings.Contains(stdout, "triggered-on-ref") {
			t.Fatalf("exit %d: %s %s", code, stdout, stderr)
		}
	})
	p := MustServe(t, filepath.Join(dir, "hooktrigger.yaml"), env...)
	c := &gwtClient{base: p.URL}
	payload := func(ref string) []byte {
		return []byte(`{"ref":"` + ref + `","after":"4f2b1c9","pusher":{"name":"alice"},"commits":[{"modified":["src/app.go"],"added":[],"removed":[]}]}`)
	}
	hdr := func() map[string]string { return map[string]string{"X-GitHub-Event": "push"} }

	r := c.do(t, "POST", "?token=my-app-token&env=prod", payload("refs/heads/main"), hdr())
	j := decodeGWT(t, r).Jobs["triggered-on-ref"]
	id, _ := j.ID.(string)
	if r.Status != 200 || !j.Triggered || id == "" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if run := WaitRun(t, p.URL, "", id); run["state"] != "succeeded" {
		t.Fatalf("run %v", run)
	}
	log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, nil)
	for _, want := range []string{
		"Contributing variables:\n\n",
		"    changed_files = [\"src/app.go\"]\n",
		"    x_github_event = push\n",
		"cause: Triggered on refs/heads/main\n",
		"building 4f2b1c9 of refs/heads/main for prod, pushed by alice\n",
		"changed: [\"src/app.go\"]\n",
	} {
		if !strings.Contains(string(log.Body), want) {
			t.Errorf("log lacks %q:\n%s", want, log.Body)
		}
	}

	r = c.do(t, "POST", "?token=my-app-token", payload("refs/heads/feature/x"), hdr())
	if j := decodeGWT(t, r).Jobs["triggered-on-ref"]; r.Status != 200 || j.Triggered {
		t.Fatalf("a feature branch push triggered: %s", r.Body)
	}
	for _, b := range c.bodies {
		if bytes.Contains(b, []byte("my-app-token")) {
			t.Fatalf("a response holds the token: %s", b)
		}
	}
}
