package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/internal/fakeapi"
)

const runnerToken = "runner-api-token"

var runnerAPI = map[string]string{"Authorization": "Bearer " + runnerToken}

// runnerConfig writes a config with top-level settings top and the given
// triggers (YAML list items, indented by two spaces) into dir.
func runnerConfig(tb testing.TB, dir, top, triggers string) string {
	tb.Helper()
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(tb, cfg, "listen: 127.0.0.1:0\ndata_dir: ./data\napi_token: "+runnerToken+"\n"+top+"triggers:\n"+triggers)
	return cfg
}

// fire posts an empty JSON body to trigger name with query q and returns
// the id of the one run it started.
func fire(tb testing.TB, p *Proc, name, q string) string {
	tb.Helper()
	r := Do(tb, "POST", p.URL+"/hooks/"+name+"?token=tok&"+q, []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	if r.Status != http.StatusAccepted {
		tb.Fatalf("hook %s: %d %s", name, r.Status, r.Body)
	}
	runs, _ := r.JSON(tb)["runs"].([]any)
	if len(runs) != 1 {
		tb.Fatalf("hook %s started %d runs: %s", name, len(runs), r.Body)
	}
	return runs[0].(map[string]any)["id"].(string)
}

// getRun reads one run through the API.
func getRun(tb testing.TB, p *Proc, id string) map[string]any {
	tb.Helper()
	r := Do(tb, "GET", p.URL+"/api/runs/"+id, nil, runnerAPI)
	if r.Status != 200 {
		tb.Fatalf("GET run %s: %d %s", id, r.Status, r.Body)
	}
	return r.JSON(tb)
}

// waitState polls the API until run id is in state (up to 30s).
func waitState(tb testing.TB, p *Proc, id, state string) map[string]any {
	tb.Helper()
	var m map[string]any
	for range 600 {
		if m = getRun(tb, p, id); m["state"] == state {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("run %s did not reach %s: %v", id, state, m)
	return nil
}

// waitPid waits up to 30s for a script to write a pid to name.
func waitPid(tb testing.TB, name string) int {
	tb.Helper()
	for range 600 {
		b, err := os.ReadFile(name)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil && strings.HasSuffix(string(b), "\n") {
			return pid
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("no pid in %s", name)
	return 0
}

// alive reports whether pid runs (a zombie counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || (b[i+2] != 'Z' && b[i+2] != 'X')
}

// groupAlive reports whether process group pgid has a live member.
func groupAlive(pgid int) bool {
	names, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		f := strings.Fields(s[i+2:])
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return true
		}
	}
	return false
}

// killAtEnd makes sure a process a test started through a build does not
// outlive the test, whatever happens.
func killAtEnd(tb testing.TB, pid int) {
	tb.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) })
}

func TestRunner_CancelThroughAPI(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "", `  - name: slow
    secret: tok
    run:
      script: 'echo $$ > "$PIDS/leader"; sleep 60 & echo $! > "$PIDS/child"; wait'
      env: {PIDS: `+dir+`}
`)
	p := MustServe(t, cfg)
	defer p.Stop(t)
	id := fire(t, p, "slow", "")
	leader, child := waitPid(t, filepath.Join(dir, "leader")), waitPid(t, filepath.Join(dir, "child"))
	killAtEnd(t, child)
	waitState(t, p, id, "running")

	r := Do(t, "POST", p.URL+"/api/runs/"+id+"/cancel", nil, runnerAPI)
	if r.Status != http.StatusAccepted {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	got := WaitRun(t, p.URL, runnerToken, id)
	if got["state"] != "cancelled" || got["signal"] != "SIGTERM" || !strings.Contains(got["error"].(string), "cancelled through the API") {
		t.Fatalf("run after cancel: %v", got)
	}
	if groupAlive(leader) || alive(child) {
		t.Fatalf("the build's process group survived the cancel")
	}
	t.Run("AgainIsConflict", func(t *testing.T) {
		if r := Do(t, "POST", p.URL+"/api/runs/"+id+"/cancel", nil, runnerAPI); r.Status != http.StatusConflict {
			t.Fatalf("cancel of an ended run: %d %s", r.Status, r.Body)
		}
	})
	t.Run("UnknownIs404", func(t *testing.T) {
		if r := Do(t, "POST", p.URL+"/api/runs/nope/cancel", nil, runnerAPI); r.Status != http.StatusNotFound {
			t.Fatalf("cancel of an unknown run: %d %s", r.Status, r.Body)
		}
	})
}

func TestRunner_TimeoutKillsGrandchildIgnoringTERM(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "", `  - name: stuck
    secret: tok
    run:
      script: |
        sh -c 'trap "" TERM; echo $$ > "$PIDS/grandchild"; while :; do sleep 1; done' &
        wait
      env: {PIDS: `+dir+`}
      timeout: 1s
      kill_grace: 1s
`)
	p := MustServe(t, cfg)
	defer p.Stop(t)
	id := fire(t, p, "stuck", "")
	gc := waitPid(t, filepath.Join(dir, "grandchild"))
	killAtEnd(t, gc)
	got := WaitRun(t, p.URL, runnerToken, id)
	if got["state"] != "timed_out" || got["signal"] != "SIGKILL" {
		t.Fatalf("run: %v", got)
	}
	if alive(gc) {
		t.Fatal("the grandchild that ignores SIGTERM outlived the timeout")
	}
	log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, runnerAPI)
	if !strings.Contains(string(log.Body), "timed out after 1s") {
		t.Fatalf("log does not say it timed out: %q", log.Body)
	}
}

func TestRunner_Environment(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "", `  - name: plain
    secret: tok
    run:
      script: 'echo "secret=${SECRET_TOKEN-unset} lang=${LANG-unset}"'
  - name: inherits
    secret: tok
    run:
      script: 'echo "secret=${SECRET_TOKEN-unset} lang=${LANG-unset}"'
      inherit_env: [SECRET_TOKEN]
`)
	p := MustServe(t, cfg, "SECRET_TOKEN=hunter2", "LANG=C.UTF-8")
	defer p.Stop(t)
	for _, tc := range []struct {
		name, trigger, want string
	}{
		{name: "AbsentByDefault", trigger: "plain", want: "secret=unset lang=C.UTF-8\n"},
		{name: "InheritedWhenNamed", trigger: "inherits", want: "secret=hunter2 lang=unset\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fire(t, p, tc.trigger, "")
			if got := WaitRun(t, p.URL, runnerToken, id); got["state"] != "succeeded" {
				t.Fatalf("run: %v", got)
			}
			log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, runnerAPI)
			if string(log.Body) != tc.want {
				t.Fatalf("build saw %q, want %q", log.Body, tc.want)
			}
		})
	}
}

func TestRunner_LogCap(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "", `  - name: chatty
    secret: tok
    run:
      script: 'i=0; while [ $i -lt 2000 ]; do echo "line $i of a chatty build"; i=$((i+1)); done; echo done > "$OUT/finished"'
      env: {OUT: `+dir+`}
      max_log: 4KiB
`)
	p := MustServe(t, cfg)
	defer p.Stop(t)
	id := fire(t, p, "chatty", "")
	if got := WaitRun(t, p.URL, runnerToken, id); got["state"] != "succeeded" {
		t.Fatalf("run: %v", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "finished")); err != nil {
		t.Fatal("the build did not run to its end once the log was full")
	}
	log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, runnerAPI)
	body := string(log.Body)
	if !strings.HasPrefix(body, "line 0 of a chatty build\n") || !strings.Contains(body, "log truncated at 4096 bytes") || len(body) > 4096+200 {
		t.Fatalf("log of %d bytes, start %q, end %q", len(body), body[:min(len(body), 40)], body[max(0, len(body)-100):])
	}
	if strings.Contains(body, "line 1999 ") {
		t.Fatal("output past the cap reached the log")
	}
}

func TestRunner_LogFollow(t *testing.T) {
	dir := t.TempDir()
	gate := filepath.Join(dir, "go-on")
	cfg := runnerConfig(t, dir, "", `  - name: talk
    secret: tok
    run:
      script: 'echo first line; while [ ! -e "$GATE" ]; do sleep 0.05; done; echo second line'
      env: {GATE: `+gate+`}
`)
	p := MustServe(t, cfg)
	defer p.Stop(t)
	id := fire(t, p, "talk", "")
	req, _ := http.NewRequest("GET", p.URL+"/api/runs/"+id+"/log?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+runnerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() (string, bool) {
		select {
		case l, ok := <-lines:
			return l, ok
		case <-time.After(30 * time.Second):
			t.Fatal("no line from the follower within 30s")
			return "", false
		}
	}
	if l, _ := next(); l != "first line" {
		t.Fatalf("first streamed line %q", l)
	}
	// The build cannot end before the gate file exists: the line came
	// while it was running.
	if st := getRun(t, p, id)["state"]; st != "running" {
		t.Fatalf("state while the build waits: %v", st)
	}
	writeFile(t, gate, "")
	if l, _ := next(); l != "second line" {
		t.Fatalf("second streamed line %q", l)
	}
	if l, ok := next(); ok {
		t.Fatalf("the stream went on after the last line: %q", l)
	}
	if st := getRun(t, p, id)["state"]; st != "succeeded" {
		t.Fatalf("state after the stream ended: %v", st)
	}
}

func TestRunner_ListFilters(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "", `  - name: ok
    secret: tok
    run: {command: ["true"]}
  - name: bad
    secret: tok
    run: {command: ["false"]}
`)
	p := MustServe(t, cfg)
	defer p.Stop(t)
	var ids []string
	for _, name := range []string{"ok", "bad", "ok", "ok"} {
		id := fire(t, p, name, "")
		WaitRun(t, p.URL, runnerToken, id)
		ids = append(ids, id)
	}
	for _, tc := range []struct {
		name  string
		query string
		want  []string // newest first
	}{
		{name: "ByTrigger", query: "trigger=ok", want: []string{ids[3], ids[2], ids[0]}},
		{name: "ByState", query: "state=failed", want: []string{ids[1]}},
		{name: "ByTriggerAndState", query: "trigger=bad&state=succeeded", want: nil},
		{name: "Limit", query: "limit=2", want: []string{ids[3], ids[2]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Do(t, "GET", p.URL+"/api/runs?"+tc.query, nil, runnerAPI)
			if r.Status != 200 {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			runs, _ := r.JSON(t)["runs"].([]any)
			var got []string
			for _, x := range runs {
				got = append(got, x.(map[string]any)["id"].(string))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// crashScript sleeps in a grandchild on the first attempt of a run (noting
// the grandchild's pid) and succeeds at once on any later one.
const crashScript = `
      script: |
        if [ "$nap" = 0 ] || [ -e "$PIDS/once-$HOOKTRIGGER_RUN_ID" ]; then echo quick; exit 0; fi
        touch "$PIDS/once-$HOOKTRIGGER_RUN_ID"
        sleep 30 &
        echo $! > "$PIDS/sleeper"
        wait
`

func TestRunner_CrashRecovery(t *testing.T) {
	for _, tc := range []struct {
		name        string
		retry       string
		wantState   string
		wantAttempt float64
	}{
		{name: "InterruptedThenQueuedRunExecutes", retry: "false", wantState: "interrupted"},
		{name: "RetryInterruptedRunsItAgain", retry: "true", wantState: "succeeded", wantAttempt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := runnerConfig(t, dir, "", `  - name: build
    secret: tok
    variables:
      - {name: nap, query: nap, default: "0"}
    run:`+crashScript+`      env: {PIDS: `+dir+`}
      kill_grace: 1s
      retry_interrupted: `+tc.retry+`
      concurrency: {group: main, policy: queue}
`)
			p := MustServe(t, cfg)
			first := fire(t, p, "build", "nap=30")
			sleeper := waitPid(t, filepath.Join(dir, "sleeper"))
			killAtEnd(t, sleeper)
			waitState(t, p, first, "running")
			second := fire(t, p, "build", "nap=0")
			if st := getRun(t, p, second)["state"]; st != "queued" {
				t.Fatalf("the second run of the group is %v, want queued behind the first", st)
			}
			p.Kill()
			if !alive(sleeper) {
				t.Fatal("test premise: the build's grandchild should outlive a SIGKILL of hooktrigger")
			}

			p2 := MustServe(t, cfg)
			defer p2.Stop(t)
			if alive(sleeper) {
				t.Fatal("the crashed run's grandchild survived the restart")
			}
			got := WaitRun(t, p2.URL, runnerToken, first)
			if got["state"] != tc.wantState || got["attempt"] != tc.wantAttempt {
				t.Fatalf("crashed run: %v", got)
			}
			if got := WaitRun(t, p2.URL, runnerToken, second); got["state"] != "succeeded" {
				t.Fatalf("queued run after the restart: %v", got)
			}
			if !strings.Contains(p2.Logs(), "stopped processes a crashed run left behind") {
				t.Fatalf("the restart does not log the leftovers it stopped:\n%s", p2.Logs())
			}
		})
	}
}

func TestRunner_GracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := runnerConfig(t, dir, "shutdown_grace: 1s\n", `  - name: long
    secret: tok
    run:
      script: 'echo started; sleep 60 & echo $! > "$PIDS/child"; wait'
      env: {PIDS: `+dir+`}
`)
	p := MustServe(t, cfg)
	id := fire(t, p, "long", "")
	child := waitPid(t, filepath.Join(dir, "child"))
	killAtEnd(t, child)
	waitState(t, p, id, "running")

	// A client following the log must not hold up the shutdown.
	req, _ := http.NewRequest("GET", p.URL+"/api/runs/"+id+"/log?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+runnerToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("follow: %q %v", line, err)
	}

	begun := time.Now()
	p.Stop(t) // SIGTERM; fails the test if the process is still there after 30s
	if took := time.Since(begun); took > 20*time.Second {
		t.Fatalf("shutdown took %v with a 1s grace", took)
	}
	if alive(child) {
		t.Fatal("the build outlived the shutdown")
	}
	if !strings.Contains(p.Logs(), "shutting down") {
		t.Fatalf("logs:\n%s", p.Logs())
	}

	p2 := MustServe(t, cfg)
	defer p2.Stop(t)
	got := getRun(t, p2, id)
	if got["state"] != "interrupted" || got["signal"] != "SIGTERM" || !strings.Contains(got["error"].(string), "shutting down") {
		t.Fatalf("run after a graceful shutdown: %v", got)
	}
}

// serveTriggers serves a config of the given triggers (the YAML under
// `triggers:`) with api_token api-secret, in a new directory.
// decodeHook reads r as a hook's answer (see hookAnswer, crash_test.go).
func decodeHook(t *testing.T, r *Response) hookAnswer {
	t.Helper()
	a := hookAnswer{Status: r.Status}
	if err := json.Unmarshal(r.Body, &a); err != nil {
		t.Fatalf("%d %s: %v", r.Status, r.Body, err)
	}
	return a
}

func serveTriggers(t *testing.T, triggers string) *Proc {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "hooktrigger.yaml")
	writeFile(t, cfg, "listen: 127.0.0.1:0\ndata_dir: ./data\napi_token: api-secret\ntriggers:\n"+triggers)
	return MustServe(t, cfg)
}

// TestServe_Wait: with run.wait the answer to a delivery waits for its run
// and carries the state, exit code and log; a run that outlasts the wait
// gets the usual 202 with its state then.
func TestServe_Wait(t *testing.T) {
	p := serveTriggers(t, `  - name: quick
    secret: tok
    variables:
      - {name: who, jsonpath: $.who}
    run:
      script: 'echo "hello $who"; echo oops >&2; exit 3'
      wait: 10s
  - name: slow
    secret: tok
    run:
      command: [sleep, '5']
      wait: 300ms
`)
	auth := map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"}

	r := Do(t, "POST", p.URL+"/hooks/quick", []byte(`{"who":"$(id) world"}`), auth)
	var quick struct {
		Runs []struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			ExitCode *int   `json:"exit_code"`
			Log      string `json:"log"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(r.Body, &quick); err != nil || r.Status != http.StatusOK || len(quick.Runs) != 1 {
		t.Fatalf("quick: %d %s (%v)", r.Status, r.Body, err)
	}
	got := quick.Runs[0]
	if got.State != "failed" || got.ExitCode == nil || *got.ExitCode != 3 || !strings.Contains(got.Log, "hello $(id) world\n") || !strings.Contains(got.Log, "oops\n") {
		t.Fatalf("quick: want failed, exit 3 and both output lines in the log, got %s", r.Body)
	}
	if logged := Do(t, "GET", p.URL+"/api/runs/"+got.ID+"/log", nil, map[string]string{"Authorization": "Bearer api-secret"}); string(logged.Body) != got.Log {
		t.Errorf("the answer's log differs from the run's log:\n%q\n%q", got.Log, logged.Body)
	}

	start := time.Now()
	r = Do(t, "POST", p.URL+"/hooks/slow", []byte(`{}`), auth)
	if took := time.Since(start); r.Status != http.StatusAccepted || !strings.Contains(string(r.Body), `"state":"running"`) || strings.Contains(string(r.Body), `"log"`) || took > 4*time.Second {
		t.Fatalf("slow: want 202 with the run still running after the 300ms wait, got %d in %s: %s", r.Status, took, r.Body)
	}
}

// TestAPI_RunTrigger: POST /api/triggers/{name}/run makes a delivery by
// hand, with the API token in place of the sender's signature; the trigger
// reads, filters, records and runs it as one sent to its path.
func TestAPI_RunTrigger(t *testing.T) {
	p := serveTriggers(t, `  - name: app
    provider: github
    secret: github-secret
    events: [push]
    branches: [main]
    variables:
      - {name: target, query: env, default: staging}
    run:
      script: 'echo "deploying $HOOKTRIGGER_REPO $HOOKTRIGGER_BRANCH to $target"'
      wait: 10s
`)
	api := map[string]string{"Authorization": "Bearer api-secret", "Content-Type": "application/json"}
	req := func(ref string) []byte {
		b, _ := json.Marshal(map[string]any{
			"payload": fmt.Sprintf(`{"ref":%q,"after":"4f2b1c9","repository":{"full_name":"acme/app"}}`, ref),
			"headers": map[string]string{"X-GitHub-Event": "push"},
			"query":   map[string]string{"env": "prod"},
		})
		return b
	}

	r := Do(t, "POST", p.URL+"/api/triggers/app/run", req("refs/heads/main"), api)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `deploying acme/app main to prod\n`) || !strings.Contains(string(r.Body), `"state":"succeeded"`) {
		t.Fatalf("run on main: %d %s", r.Status, r.Body)
	}
	delivery := r.JSON(t)["delivery"].(string)
	stored := Do(t, "GET", p.URL+"/api/deliveries/"+delivery, nil, api)
	if stored.Status != http.StatusOK || !strings.Contains(string(stored.Body), `"path":"/hooks/app"`) || !strings.Contains(string(stored.Body), `"X-Hooktrigger-Run-By":["api"]`) {
		t.Errorf("the delivery is not recorded on the trigger's path, marked as written by hand: %d %s", stored.Status, stored.Body)
	}

	r = Do(t, "POST", p.URL+"/api/triggers/app/run", req("refs/heads/feature"), api)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), `"state"`) || !strings.Contains(string(r.Body), `branch \"feature\" does not match`) {
		t.Fatalf("run on a branch the trigger does not build: %d %s", r.Status, r.Body)
	}
	for _, c := range []struct {
		path   string
		header map[string]string
		want   int
	}{
		{"/api/triggers/app/run", map[string]string{"Content-Type": "application/json"}, http.StatusUnauthorized},
		{"/api/triggers/app/run", map[string]string{"Authorization": "Bearer github-secret"}, http.StatusUnauthorized},
		{"/api/triggers/nope/run", api, http.StatusNotFound},
	} {
		if r := Do(t, "POST", p.URL+c.path, req("refs/heads/main"), c.header); r.Status != c.want {
			t.Errorf("POST %s with %v: %d, want %d", c.path, c.header, r.Status, c.want)
		}
	}
	if r := Do(t, "POST", p.URL+"/api/triggers/app/run", []byte(`{"body":"{}"}`), api); r.Status != http.StatusBadRequest {
		t.Errorf("unknown field: %d %s", r.Status, r.Body)
	}
}

// TestAPI_RunTriggerEvent: a manual run's event is written into the header
// the trigger's provider reads it from, so the events filter and the
// build's HOOKTRIGGER_EVENT see it as a sender's; an action the payload does
// not say, or an event for a trigger that reads no event header, is refused.
func TestAPI_RunTriggerEvent(t *testing.T) {
	p := serveTriggers(t, `  - name: pr
    provider: github
    secret: github-secret
    events: [pull_request.opened]
    run:
      script: 'echo "event=$HOOKTRIGGER_EVENT action=$HOOKTRIGGER_ACTION"'
      wait: 10s
  - name: mr
    provider: gitlab
    secret: gitlab-secret
    events: [merge_request]
    run:
      script: 'echo "event=$HOOKTRIGGER_EVENT"'
      wait: 10s
  - name: plain
    secret: tok
    run:
      command: ['true']
`)
	api := map[string]string{"Authorization": "Bearer api-secret", "Content-Type": "application/json"}
	run := func(trigger, event, payload string) *Response {
		b, _ := json.Marshal(map[string]any{"event": event, "payload": payload})
		return Do(t, "POST", p.URL+"/api/triggers/"+trigger+"/run", b, api)
	}
	if r := run("pr", "pull_request.opened", `{"action":"opened","number":7}`); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `event=pull_request action=opened\n`) {
		t.Errorf("pull_request.opened on a github trigger: %d %s", r.Status, r.Body)
	}
	if r := run("pr", "pull_request.opened", `{"action":"closed","number":7}`); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "pull_request.closed") {
		t.Errorf("an action the payload contradicts: %d %s", r.Status, r.Body)
	}
	r := run("mr", "merge_request", `{"object_kind":"merge_request","object_attributes":{"action":"open"}}`)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `event=merge_request\n`) {
		t.Fatalf("merge_request on a gitlab trigger: %d %s", r.Status, r.Body)
	}
	stored := Do(t, "GET", p.URL+"/api/deliveries/"+r.JSON(t)["delivery"].(string), nil, api)
	if !strings.Contains(string(stored.Body), `"X-Gitlab-Event":["Merge Request Hook"]`) {
		t.Errorf("the delivery is not recorded with GitLab's header: %s", stored.Body)
	}
	if r := run("plain", "push", `{}`); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "event_header") {
		t.Errorf("an event for a trigger without an event header: %d %s", r.Status, r.Body)
	}
}

// TestServe_GiteaAsGitHub: Gitea sends GitHub's headers beside its own
// (X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256) and payloads of
// GitHub's shape, so a github trigger verifies its deliveries, filters them
// by branch and event, deduplicates them and fills HOOKTRIGGER_*.
func TestServe_GiteaAsGitHub(t *testing.T) {
	p := serveTriggers(t, `  - name: gitea
    provider: github
    secret: gitea-secret
    events: [push]
    branches: [main]
    run:
      script: 'echo "$HOOKTRIGGER_EVENT $HOOKTRIGGER_REPO $HOOKTRIGGER_BRANCH $HOOKTRIGGER_SHA $HOOKTRIGGER_ACTOR pr=$HOOKTRIGGER_PR"'
      wait: 10s
  - name: gitea-pr
    path: /hooks/gitea
    provider: github
    secret: gitea-secret
    events: [pull_request.opened]
    run:
      script: 'echo "$HOOKTRIGGER_EVENT $HOOKTRIGGER_REPO $HOOKTRIGGER_BRANCH pr=$HOOKTRIGGER_PR"'
      wait: 10s
`)
	deliver := func(event, delivery, body string) *Response {
		sig := hmacHex("gitea-secret", []byte(body))
		return Do(t, "POST", p.URL+"/hooks/gitea", []byte(body), map[string]string{
			"Content-Type":        "application/json",
			"X-Gitea-Delivery":    delivery,
			"X-Gitea-Event":       event,
			"X-Gitea-Event-Type":  event,
			"X-Gitea-Signature":   sig,
			"X-Gogs-Delivery":     delivery,
			"X-Gogs-Event":        event,
			"X-Gogs-Signature":    sig,
			"X-Hub-Signature-256": "sha256=" + sig,
			"X-GitHub-Delivery":   delivery,
			"X-GitHub-Event":      event,
			"X-GitHub-Event-Type": event,
		})
	}
	const sha = "9c1e5d0e2f4b3a6978c8d7e6f5a4b3c2d1e0f9a8"
	push := `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000","after":"` + sha + `",
		"compare_url":"https://gitea.example.org/acme/app/compare/0000000...9c1e5d0",
		"commits":[{"id":"` + sha + `","message":"Tune the cache\n","author":{"name":"Dana","email":"dana@example.org","username":"dana"}}],
		"repository":{"id":7,"owner":{"id":1,"login":"acme","username":"acme"},"name":"app","full_name":"acme/app","private":false,"default_branch":"main"},
		"pusher":{"id":3,"login":"dana","username":"dana"},"sender":{"id":3,"login":"dana","username":"dana"}}`
	r := deliver("push", "5b0f8e4e-2a41-4c7e-9d3e-0a1b2c3d4e5f", push)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `push acme/app main `+sha+` dana pr=\n`) {
		t.Fatalf("a Gitea push: %d %s", r.Status, r.Body)
	}
	if r := deliver("push", "5b0f8e4e-2a41-4c7e-9d3e-0a1b2c3d4e5f", push); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"duplicate":true`) {
		t.Errorf("the same Gitea delivery again: %d %s", r.Status, r.Body)
	}
	other := strings.Replace(push, "refs/heads/main", "refs/heads/topic", 1)
	if r := deliver("push", "0d6c3b2a-1f0e-4d9c-8b7a-6f5e4d3c2b1a", other); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `branch \"topic\" does not match`) {
		t.Errorf("a Gitea push to another branch: %d %s", r.Status, r.Body)
	}
	pr := `{"action":"opened","number":12,
		"pull_request":{"id":40,"number":12,"title":"Tune the cache","head":{"ref":"topic","sha":"` + sha + `"},"base":{"ref":"main","sha":"1111111111111111111111111111111111111111"}},
		"repository":{"id":7,"owner":{"login":"acme"},"name":"app","full_name":"acme/app"},"sender":{"login":"dana","username":"dana"}}`
	r = deliver("pull_request", "7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928", pr)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `pull_request acme/app topic pr=12\n`) {
		t.Errorf("a Gitea pull request: %d %s", r.Status, r.Body)
	}
	forged := Do(t, "POST", p.URL+"/hooks/gitea", []byte(push), map[string]string{
		"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": "f0f0",
		"X-Gitea-Signature": strings.Repeat("0", 64), "X-Hub-Signature-256": "sha256=" + strings.Repeat("0", 64),
	})
	if forged.Status != http.StatusUnauthorized {
		t.Errorf("a wrong signature: %d %s", forged.Status, forged.Body)
	}
}

// TestServe_Retry: run.retry runs a failed or timed-out attempt again, in
// a run directory emptied of what the attempt left, appending to one log;
// the run ends with its last attempt's result. A cancel during the delay
// ends the run.
func TestServe_Retry(t *testing.T) {
	p := serveTriggers(t, `  - name: flaky
    secret: tok
    run:
      script: 'echo "attempt $HOOKTRIGGER_ATTEMPT sees: $(ls)"; touch "left-by-$HOOKTRIGGER_ATTEMPT"; [ "$HOOKTRIGGER_ATTEMPT" -ge 2 ]'
      retry: {max: 3, delay: 200ms}
      wait: 20s
  - name: broken
    secret: tok
    run:
      script: 'echo "try $HOOKTRIGGER_ATTEMPT"; exit 3'
      retry: {max: 2}
      wait: 20s
  - name: only-timeouts
    secret: tok
    run:
      script: 'echo "try $HOOKTRIGGER_ATTEMPT"; exit 1'
      retry: {max: 2, on: timed_out}
      wait: 20s
  - name: slow
    secret: tok
    run:
      script: 'sleep 5'
      timeout: 300ms
      kill_grace: 100ms
      retry: {max: 1, on: [timed_out]}
      wait: 20s
  - name: patient
    secret: tok
    run:
      script: 'exit 1'
      retry: {max: 3, delay: 1m}
`)
	type answer struct {
		Runs []struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			ExitCode *int   `json:"exit_code"`
			Error    string `json:"error"`
			Log      string `json:"log"`
		} `json:"runs"`
	}
	auth := map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"}
	api := map[string]string{"Authorization": "Bearer api-secret"}
	deliver := func(trigger string) (answer, string) {
		t.Helper()
		r := Do(t, "POST", p.URL+"/hooks/"+trigger, []byte(`{}`), auth)
		var a answer
		if err := json.Unmarshal(r.Body, &a); err != nil || len(a.Runs) != 1 {
			t.Fatalf("%s: %d %s (%v)", trigger, r.Status, r.Body, err)
		}
		return a, string(r.Body)
	}
	attempt := func(id string) float64 {
		n, _ := Do(t, "GET", p.URL+"/api/runs/"+id, nil, api).JSON(t)["attempt"].(float64)
		return n
	}

	a, body := deliver("flaky")
	if got := a.Runs[0]; got.State != "succeeded" || attempt(got.ID) != 1 ||
		!strings.Contains(got.Log, "attempt 1 sees: log\npayload\nvars.json\n") ||
		!strings.Contains(got.Log, "[hooktrigger: attempt 1 failed with exit status 1; attempt 2 of 4 in 200ms]\n") ||
		!strings.Contains(got.Log, "attempt 2 sees: log\npayload\nvars.json\n") || strings.Contains(got.Log, "attempt 3") {
		t.Errorf("flaky: want success on attempt 2, in a directory without attempt 1's file: %s", body)
	}
	if page := uiPage(t, p.URL, "api-secret", "/ui/runs/"+a.Runs[0].ID); !strings.Contains(page, `<dd id="run-attempt">2</dd>`) {
		t.Errorf("flaky: the run page does not say attempt 2:\n%s", page)
	}

	a, body = deliver("broken")
	if got := a.Runs[0]; got.State != "failed" || got.ExitCode == nil || *got.ExitCode != 3 || attempt(got.ID) != 2 ||
		strings.Count(got.Log, "try ") != 3 || !strings.Contains(got.Log, "[hooktrigger: attempt 2 failed with exit status 3; attempt 3 of 3]\n") {
		t.Errorf("broken: want failed after three attempts: %s", body)
	}

	a, body = deliver("only-timeouts")
	if got := a.Runs[0]; got.State != "failed" || attempt(got.ID) != 0 || strings.Count(got.Log, "try ") != 1 {
		t.Errorf("only-timeouts: a failure is not retried: %s", body)
	}

	a, body = deliver("slow")
	if got := a.Runs[0]; got.State != "timed_out" || attempt(got.ID) != 1 || !strings.Contains(got.Log, "[hooktrigger: attempt 1 timed out after 300ms; attempt 2 of 2]\n") {
		t.Errorf("slow: want timed out twice: %s", body)
	}

	r := Do(t, "POST", p.URL+"/hooks/patient", []byte(`{}`), auth)
	var pa answer
	if err := json.Unmarshal(r.Body, &pa); err != nil || len(pa.Runs) != 1 {
		t.Fatalf("patient: %d %s", r.Status, r.Body)
	}
	id := pa.Runs[0].ID
	deadline := time.Now().Add(10 * time.Second)
	for attempt(id) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("patient: the first attempt's failure was not recorded: %s", Do(t, "GET", p.URL+"/api/runs/"+id, nil, api).Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	run := Do(t, "GET", p.URL+"/api/runs/"+id, nil, api).JSON(t)
	if run["state"] != "running" || !strings.Contains(fmt.Sprint(run["error"]), "attempt 1 failed with exit status 1; retrying") {
		t.Errorf("patient: while waiting to retry, want running with the reason, got %v", run)
	}
	if c := Do(t, "POST", p.URL+"/api/runs/"+id+"/cancel", nil, api); c.Status != http.StatusAccepted {
		t.Fatalf("cancel during the delay: %d %s", c.Status, c.Body)
	}
	ended := WaitRun(t, p.URL, "api-secret", id)
	if ended["state"] != "cancelled" {
		t.Errorf("patient: cancelled during the delay, got %v", ended)
	}
}

// uiPage signs in to the UI with token and returns the page at path.
func uiPage(t *testing.T, base, token, path string) string {
	t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(base+"/ui/login", url.Values{"token": {token}, "next": {path}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign in: %d %v", resp.StatusCode, resp.Header)
	}
	req, _ := http.NewRequest("GET", base+path, nil)
	req.AddCookie(resp.Cookies()[0])
	page, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer page.Body.Close()
	b, _ := io.ReadAll(page.Body)
	if page.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, page.StatusCode, b)
	}
	return string(b)
}

// TestServe_BitbucketRecipe: the generic recipe for Bitbucket Cloud in
// docs/providers.md (hmac in X-Hub-Signature with sha256=, X-Event-Key,
// X-Request-UUID) verifies its deliveries, filters by branch, deduplicates
// redeliveries and hands the build the branch and commit.
func TestServe_BitbucketRecipe(t *testing.T) {
	p := serveTriggers(t, `  - name: bitbucket-main
    provider: generic
    secret: bb-secret
    auth: {type: hmac, header: X-Hub-Signature, algorithm: sha256, encoding: hex, prefix: 'sha256='}
    event_header: X-Event-Key
    delivery_header: X-Request-UUID
    events: ['repo:push']
    variables:
      - {name: branch, jsonpath: '$.push.changes[0].new.name'}
      - {name: sha, jsonpath: '$.push.changes[0].new.target.hash'}
      - {name: repo, jsonpath: '$.repository.full_name'}
    filter: {text: '$branch', regexp: '^main$'}
    run:
      script: 'echo "$HOOKTRIGGER_EVENT $repo $branch $sha"'
      wait: 10s
`)
	push := func(branch string) string {
		return `{"push":{"changes":[{"new":{"type":"branch","name":"` + branch + `","target":{"type":"commit","hash":"8d2f0c1b7a6e5d4c3b2a19081726354453627180"}},"old":{"type":"branch","name":"` + branch + `"}}]},
			"repository":{"type":"repository","full_name":"acme/app","name":"app"},"actor":{"display_name":"Dana","nickname":"dana"}}`
	}
	deliver := func(body, uuid, sig string) *Response {
		if sig == "" {
			sig = "sha256=" + hmacHex("bb-secret", []byte(body))
		}
		return Do(t, "POST", p.URL+"/hooks/bitbucket-main", []byte(body), map[string]string{
			"Content-Type": "application/json", "X-Event-Key": "repo:push", "X-Request-UUID": uuid,
			"X-Hook-UUID": "{5c1f8e2a-3b4d-4e6f-8a9b-0c1d2e3f4a5b}", "X-Hub-Signature": sig, "User-Agent": "Bitbucket-Webhooks/2.0",
		})
	}
	if r := deliver(push("main"), "0b6e1f3a-2c4d-4e5f-9a8b-7c6d5e4f3a2b", ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `repo:push acme/app main 8d2f0c1b7a6e5d4c3b2a19081726354453627180\n`) {
		t.Fatalf("a push to main: %d %s", r.Status, r.Body)
	}
	if r := deliver(push("main"), "0b6e1f3a-2c4d-4e5f-9a8b-7c6d5e4f3a2b", ""); r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"duplicate":true`) {
		t.Errorf("the same delivery again: %d %s", r.Status, r.Body)
	}
	if r := deliver(push("topic"), "1c7f2a4b-3d5e-4f6a-8b9c-0d1e2f3a4b5c", ""); r.Status != http.StatusOK || strings.Contains(string(r.Body), `"state"`) {
		t.Errorf("a push to another branch: %d %s", r.Status, r.Body)
	}
	if r := deliver(push("main"), "2d8a3b5c-4e6f-4a7b-9c0d-1e2f3a4b5c6d", "sha256="+strings.Repeat("0", 64)); r.Status != http.StatusUnauthorized {
		t.Errorf("a wrong signature: %d %s", r.Status, r.Body)
	}
}

// TestServe_RetryFreesWorker: during a retry's delay the run gives its
// worker back, so with one worker another trigger's run starts and ends
// meanwhile; the retry then takes the worker again.
func TestServe_RetryFreesWorker(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
workers: 1
triggers:
  - name: flaky
    secret: tok
    run:
      script: '[ "$HOOKTRIGGER_ATTEMPT" -ge 2 ]'
      retry: {max: 1, delay: 3s}
  - name: quick
    secret: tok
    run:
      command: ['true']
`)
	p := MustServe(t, cfg)
	auth := map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"}
	api := map[string]string{"Authorization": "Bearer api-secret"}
	start := func(trigger string) string {
		r := Do(t, "POST", p.URL+"/hooks/"+trigger, []byte(`{}`), auth)
		if r.Status != http.StatusAccepted {
			t.Fatalf("%s: %d %s", trigger, r.Status, r.Body)
		}
		return r.JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	}
	flaky := start("flaky")
	deadline := time.Now().Add(10 * time.Second)
	for {
		run := Do(t, "GET", p.URL+"/api/runs/"+flaky, nil, api).JSON(t)
		if n, _ := run["attempt"].(float64); n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first attempt's failure was not recorded: %v", run)
		}
		time.Sleep(20 * time.Millisecond)
	}
	quick := WaitRun(t, p.URL, "api-secret", start("quick"))
	if quick["state"] != "succeeded" {
		t.Fatalf("quick: %v", quick)
	}
	if run := Do(t, "GET", p.URL+"/api/runs/"+flaky, nil, api).JSON(t); run["state"] != "running" {
		t.Errorf("quick ran only after flaky's retry ended, not during its delay: flaky is %v", run)
	}
	if run := WaitRun(t, p.URL, "api-secret", flaky); run["state"] != "succeeded" {
		t.Errorf("flaky after its retry: %v", run)
	}
}

// TestServe_Paths: triggers on one path that build different parts of a
// monorepo fire by the files a push changed, read from real GitHub and
// GitLab payloads; a delivery that does not list its files fires them all.
func TestServe_Paths(t *testing.T) {
	corpus := corpusDir(t)
	p := serveTriggers(t, `  - name: readme
    path: /hooks/mono
    provider: github
    secret: gh-secret
    paths: ['README.md']
    run: {command: ['true']}
  - name: api
    path: /hooks/mono
    provider: github
    secret: gh-secret
    paths: ['services/api/**', '!**/*.md']
    run:
      script: 'if [ -n "${HOOKTRIGGER_CHANGED_FILES:-}" ]; then cat "$HOOKTRIGGER_CHANGED_FILES"; else echo not known; fi'
      wait: 10s
  - name: gitlab-docs
    provider: gitlab
    secret: gl-secret
    paths: ['*.md']
    run: {command: ['true']}
`)
	logs := map[string]string{} // the api trigger's log, by delivery
	read := func(r *Response) (fired []string, skipped map[string]string) {
		t.Helper()
		a := decodeHook(t, r)
		skipped = map[string]string{}
		for _, run := range a.Runs {
			fired = append(fired, run.Trigger)
			if run.Trigger == "api" {
				logs[string(r.Body)] = run.Log
			}
		}
		for _, s := range a.Skipped {
			skipped[s.Trigger] = s.Reason
		}
		return fired, skipped
	}
	github := func(body []byte, event, id string) *Response {
		return Do(t, "POST", p.URL+"/hooks/mono", body, map[string]string{"Content-Type": "application/json",
			"X-GitHub-Event": event, "X-GitHub-Delivery": id, "X-Hub-Signature-256": "sha256=" + hmacHex("gh-secret", body)})
	}

	// GitHub's own push of a new branch adds README.md.
	newBranch := mustRead(t, filepath.Join(corpus, "github/push/with-new-branch.payload.json"))
	fired, skipped := read(github(newBranch, "push", "d1"))
	if !slices.Equal(fired, []string{"readme"}) || !strings.Contains(skipped["api"], "none of the 1 changed files matches paths [services/api/** !**/*.md]") {
		t.Errorf("README.md pushed: fired %v, skipped %v", fired, skipped)
	}
	// The same push changing a file of the API too.
	api := withJSON(t, newBranch, func(m map[string]any) {
		m["commits"].([]any)[0].(map[string]any)["modified"] = []any{"services/api/handler.go", "services/api/README.md"}
	})
	r := github(api, "push", "d2")
	if fired, skipped = read(r); !slices.Equal(fired, []string{"readme", "api"}) {
		t.Errorf("README.md and an API file pushed: fired %v, skipped %v", fired, skipped)
	}
	if got, want := logs[string(r.Body)], "README.md\nservices/api/handler.go\nservices/api/README.md\n"; got != want {
		t.Errorf("the build's $HOOKTRIGGER_CHANGED_FILES held %q, want %q", got, want)
	}
	// Only a Markdown file under the API: excluded.
	apiDoc := withJSON(t, newBranch, func(m map[string]any) {
		m["commits"].([]any)[0].(map[string]any)["added"] = []any{"services/api/CHANGES.md"}
	})
	if fired, skipped = read(github(apiDoc, "push", "d3")); len(fired) != 0 || skipped["api"] == "" || skipped["readme"] == "" {
		t.Errorf("an excluded file pushed: fired %v, skipped %v", fired, skipped)
	}
	// A push listing no commits does not say what changed: both fire.
	noCommits := mustRead(t, filepath.Join(corpus, "github/push/payload.json"))
	r = github(noCommits, "push", "d4")
	if fired, skipped = read(r); !slices.Equal(fired, []string{"readme", "api"}) {
		t.Errorf("a push without commits: fired %v, skipped %v", fired, skipped)
	}
	if got := logs[string(r.Body)]; got != "not known\n" {
		t.Errorf("files not known: the build's log %q, want no $HOOKTRIGGER_CHANGED_FILES", got)
	}

	gitlab := func(name, event, id string) (fired []string, skipped map[string]string) {
		body := mustRead(t, filepath.Join(corpus, "gitlab", name))
		return read(Do(t, "POST", p.URL+"/hooks/gitlab-docs", body, map[string]string{"Content-Type": "application/json",
			"X-Gitlab-Event": event, "X-Gitlab-Token": "gl-secret", "Idempotency-Key": id}))
	}
	// GitLab's tag push changed UPGRADE.md (and Gemfile): it fires.
	if fired, skipped = gitlab("tag_push.json", "Tag Push Hook", "g1"); !slices.Equal(fired, []string{"gitlab-docs"}) {
		t.Errorf("GitLab tag push: fired %v, skipped %v", fired, skipped)
	}
	// GitLab's push lists 2 of its 4 commits: what changed is not known,
	// so it fires though neither listed commit touches a Markdown file.
	if fired, skipped = gitlab("push.json", "Push Hook", "g2"); !slices.Equal(fired, []string{"gitlab-docs"}) {
		t.Errorf("GitLab push with commits left out: fired %v, skipped %v", fired, skipped)
	}
	// With every commit listed, the same push is skipped.
	body := withJSON(t, mustRead(t, filepath.Join(corpus, "gitlab/push.json")), func(m map[string]any) { m["total_commits_count"] = 2 })
	r = Do(t, "POST", p.URL+"/hooks/gitlab-docs", body, map[string]string{"Content-Type": "application/json",
		"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-secret", "Idempotency-Key": "g3"})
	if fired, skipped = read(r); len(fired) != 0 || !strings.Contains(skipped["gitlab-docs"], "changed files matches paths [*.md]") {
		t.Errorf("GitLab push with every commit: fired %v, skipped %v", fired, skipped)
	}
}

// TestServe_PathsPullRequest: a pull or merge request's payload lists no
// files, so with a token the paths filter asks the API (a fake that checks
// the token and pages as GitHub and GitLab do); without one, or when the
// API fails, the request is let through.
func TestServe_PathsPullRequest(t *testing.T) {
	corpus := corpusDir(t)
	gh := fakeapi.NewGitHub(t, "gh-api-token", true)
	gl := fakeapi.NewGitLab(t, "gl-api-token")
	p := serveTriggers(t, fmt.Sprintf(`  - name: api
    path: /hooks/gh
    provider: github
    secret: gh-secret
    paths: ['services/api/**']
    provider_api: {token: gh-api-token, base_url: '%[1]s'}
    run:
      script: 'tail -n 3 "$HOOKTRIGGER_CHANGED_FILES"'
      wait: 10s
  - name: web
    path: /hooks/gh
    provider: github
    secret: gh-secret
    paths: ['services/web/**']
    status: {token: gh-api-token, base_url: '%[1]s'}
    run: {command: ['true']}
  - name: blind
    path: /hooks/gh
    provider: github
    secret: gh-secret
    paths: ['nothing/**']
    run: {command: ['true']}
  - name: mr
    provider: gitlab
    secret: gl-secret
    paths: ['*.md']
    provider_api: {token: gl-api-token, base_url: '%[2]s'}
    run: {command: ['true']}
`, gh.URL, gl.URL))
	var apiLog string
	fired := func(r *Response) []string {
		t.Helper()
		var out []string
		for _, run := range decodeHook(t, r).Runs {
			out = append(out, run.Trigger)
			if run.Trigger == "api" {
				apiLog = run.Log
			}
		}
		return out
	}
	opened := mustRead(t, filepath.Join(corpus, "github/pull_request/opened.payload.json"))
	// pr delivers the pull request's event action with head commit head.
	pr := func(id, action, head string) []string {
		body := withJSON(t, opened, func(m map[string]any) {
			m["action"] = action
			m["pull_request"].(map[string]any)["head"].(map[string]any)["sha"] = head
		})
		return fired(Do(t, "POST", p.URL+"/hooks/gh", body, map[string]string{"Content-Type": "application/json",
			"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": id, "X-Hub-Signature-256": "sha256=" + hmacHex("gh-secret", body)}))
	}
	lists := func() int { // the web trigger's status block also posts commit statuses
		n := 0
		for _, c := range gh.Calls() {
			if strings.HasSuffix(c.Path, "/files") {
				n++
			}
		}
		return n
	}

	// 150 files, the API file on the second page, plus a rename out of web.
	var files []fakeapi.File
	for i := range 149 {
		files = append(files, fakeapi.File{Name: fmt.Sprintf("docs/page%03d.md", i)})
	}
	files = append(files, fakeapi.File{Name: "services/api/main.go"}, fakeapi.File{Name: "lib/util.go", Previous: "services/web/util.go"})
	gh.SetFiles("Codertocat/Hello-World", 2, files...)
	head1, head2, head3 := strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)
	if got := pr("p1", "opened", head1); !slices.Equal(got, []string{"api", "web", "blind"}) {
		t.Errorf("fired %v: want api (a file on page 2), web (the old name of a rename, through the status token) and blind (no token)", got)
	}
	if want := "services/api/main.go\nlib/util.go\nservices/web/util.go\n"; apiLog != want {
		t.Errorf("the end of $HOOKTRIGGER_CHANGED_FILES: %q, want %q", apiLog, want)
	}
	if n := lists(); n != 2 {
		t.Errorf("%d list requests: want the 2 pages once, shared by the triggers with the same token", n)
	}
	// A label on the same head: the list is remembered; an edit asks again.
	if got := pr("p1-labeled", "labeled", head1); !slices.Equal(got, []string{"api", "web", "blind"}) || lists() != 2 {
		t.Errorf("a label on the same head: fired %v after %d list requests, want the same triggers and no new request", got, lists())
	}
	if pr("p1-edited", "edited", head1); lists() != 4 {
		t.Errorf("an edit: %d list requests, want the 2 pages asked again", lists())
	}

	gh.SetFiles("Codertocat/Hello-World", 2, fakeapi.File{Name: "README.md"})
	if got := pr("p2", "synchronize", head2); !slices.Equal(got, []string{"blind"}) {
		t.Errorf("only README.md changed: fired %v, want blind alone", got)
	}
	// The API fails: the paths filter lets the request through.
	gh.Fail(fakeapi.Fault{Code: http.StatusBadGateway})
	if got := pr("p3", "synchronize", head3); !slices.Equal(got, []string{"api", "web", "blind"}) {
		t.Errorf("the API failing: fired %v, want every trigger", got)
	}
	if !strings.Contains(p.Logs(), "cannot list the files of the pull request") || strings.Contains(p.Logs(), "gh-api-token") {
		t.Errorf("the log should say the API failed, without the token:\n%s", p.Logs())
	}

	mr := mustRead(t, filepath.Join(corpus, "gitlab/merge_request.json"))
	merge := func(id, head string) []string {
		body := withJSON(t, mr, func(m map[string]any) {
			m["object_attributes"].(map[string]any)["last_commit"].(map[string]any)["id"] = head
		})
		return fired(Do(t, "POST", p.URL+"/hooks/mr", body, map[string]string{"Content-Type": "application/json",
			"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": "gl-secret", "Idempotency-Key": id}))
	}
	gl.SetFiles("gitlabhq/gitlab-test", 1, fakeapi.File{Name: "app/models/user.rb"})
	if got := merge("m1", head1); len(got) != 0 {
		t.Errorf("a merge request changing no Markdown: fired %v", got)
	}
	gl.SetFiles("gitlabhq/gitlab-test", 1, fakeapi.File{Name: "app/models/user.rb"}, fakeapi.File{Name: "CHANGELOG.md"})
	if got := merge("m2", head2); !slices.Equal(got, []string{"mr"}) {
		t.Errorf("a merge request changing CHANGELOG.md: fired %v", got)
	}
	metrics := string(Do(t, "GET", p.URL+"/metrics", nil, nil).Body)
	for _, want := range []string{`hooktrigger_changed_files_lookups_total{result="listed"} 5`, `hooktrigger_changed_files_lookups_total{result="failed"} 1`,
		`hooktrigger_changed_files_lookups_total{result="cut"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestServe_MaskedLog: the values of run.mask's variables never reach the
// run's log, also when the build prints one in two writes; a value too
// short to mask is named in the log instead.
func TestServe_MaskedLog(t *testing.T) {
	const token = "tok-7f3a9c2e51b8"
	cfg := filepath.Join(t.TempDir(), "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
triggers:
  - name: deploy
    secret: tok
    run:
      inherit_env: [PATH, DEPLOY_TOKEN]
      env: {DB_PASSWORD: 'correct horse battery', PIN: '123'}
      mask: [DEPLOY_TOKEN, DB_PASSWORD, PIN]
      script: |
        echo "token=$DEPLOY_TOKEN"
        printf 'split=%s' "${DEPLOY_TOKEN%????????}"; sleep 0.3; printf '%s\n' "${DEPLOY_TOKEN#????????}"
        echo "db $DB_PASSWORD, pin $PIN" >&2
        echo "tok-7f3a9c2e51b is not the token"
      wait: 10s
`)
	p := MustServe(t, cfg, "DEPLOY_TOKEN="+token)
	r := Do(t, "POST", p.URL+"/hooks/deploy", []byte(`{}`), map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"})
	ans := decodeHook(t, r)
	if len(ans.Runs) != 1 || ans.Runs[0].State != "succeeded" {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	got := ans.Runs[0]
	logged := string(Do(t, "GET", p.URL+"/api/runs/"+got.ID+"/log", nil, map[string]string{"Authorization": "Bearer api-secret"}).Body)
	want := "[hooktrigger: not masked, shorter than 4 bytes: PIN]\ntoken=***\nsplit=***\ndb ***, pin 123\ntok-7f3a9c2e51b is not the token\n"
	if logged != want || got.Log != want {
		t.Errorf("log:\n%q\nanswer's log:\n%q\nwant:\n%q", logged, got.Log, want)
	}
}

// TestServe_Methods: a generic trigger may take GET (a link, a monitor,
// adnanh/webhook's http-methods); on a shared path each method reaches the
// triggers that take it, and a method none takes gets 405 with Allow.
func TestServe_Methods(t *testing.T) {
	p := serveTriggers(t, `  - name: by-link
    path: /hooks/deploy
    secret: tok
    methods: [get]
    variables:
      - {name: env, query: env}
    run:
      script: 'echo "deploy to $env"'
      wait: 10s
  - name: by-post
    path: /hooks/deploy
    secret: tok
    run: {command: ['true']}
`)
	fired := func(r *Response) []string {
		t.Helper()
		var out []string
		for _, run := range decodeHook(t, r).Runs {
			out = append(out, run.Trigger+": "+run.Log)
		}
		return out
	}
	r := Do(t, "GET", p.URL+"/hooks/deploy?token=tok&env=prod", nil, nil)
	if got := fired(r); r.Status != http.StatusOK || !slices.Equal(got, []string{"by-link: deploy to prod\n"}) {
		t.Errorf("GET: %d %v, want the GET trigger alone, with its query variable", r.Status, got)
	}
	r = Do(t, "POST", p.URL+"/hooks/deploy?token=tok", []byte(`{}`), map[string]string{"Content-Type": "application/json"})
	if got := fired(r); r.Status != http.StatusAccepted || !slices.Equal(got, []string{"by-post: "}) {
		t.Errorf("POST: %d %v, want the default trigger alone", r.Status, got)
	}
	r = Do(t, "DELETE", p.URL+"/hooks/deploy?token=tok", nil, nil)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST, PUT" {
		t.Errorf("DELETE: %d Allow %q, want 405 with Allow: GET, POST, PUT", r.Status, r.Header.Get("Allow"))
	}
	if r := Do(t, "GET", p.URL+"/hooks/deploy?token=wrong&env=prod", nil, nil); r.Status != http.StatusUnauthorized {
		t.Errorf("GET with a wrong token: %d, want 401", r.Status)
	}
}

// TestServe_ChangedFilesAcrossAttempts: $HOOKTRIGGER_CHANGED_FILES lists
// the push's files for every attempt of run.retry (the run directory is
// emptied between attempts, that file kept).
func TestServe_ChangedFilesAcrossAttempts(t *testing.T) {
	p := serveTriggers(t, `  - name: changed
    secret: tok
    paths: ['src/**']
    run:
      script: 'echo "attempt $HOOKTRIGGER_ATTEMPT:"; cat "$HOOKTRIGGER_CHANGED_FILES"; [ "$HOOKTRIGGER_ATTEMPT" -ge 2 ]'
      retry: {max: 1}
      wait: 20s
`)
	body := []byte(`{"ref":"refs/heads/main","commits":[{"added":["src/a.go"],"modified":["docs/b.md"],"removed":[]}]}`)
	r := Do(t, "POST", p.URL+"/hooks/changed", body, map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"})
	a := decodeHook(t, r)
	if len(a.Runs) != 1 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	for _, want := range []string{"attempt 1:\nsrc/a.go\ndocs/b.md\n", "attempt 2:\nsrc/a.go\ndocs/b.md\n"} {
		if a.Runs[0].State != "succeeded" || !strings.Contains(a.Runs[0].Log, want) {
			t.Errorf("run %s, log lacks %q:\n%s", a.Runs[0].State, want, a.Runs[0].Log)
		}
	}
}
