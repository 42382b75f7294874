package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/internal/fakeapi"
	"github.com/hooktrigger/hooktrigger/store"
)

// pushGitHub sends a signed GitHub push for sha to path and returns the id
// of the one run it started.
func pushGitHub(tb testing.TB, base, path, secret, repo, sha, exitCode string) string {
	tb.Helper()
	body := fmt.Sprintf(`{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":%q,`+
		`"repository":{"full_name":%q},"pusher":{"name":"dev"},"sender":{"login":"dev"},"exit_code":%q}`, sha, repo, exitCode)
	return deliverGitHub(tb, base, path, secret, "push", body)
}

func deliverGitHub(tb testing.TB, base, path, secret, event, body string) string {
	tb.Helper()
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(body))
	resp := Do(tb, "POST", base+path, []byte(body), map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      event,
		"X-GitHub-Delivery":   store.NewID(),
		"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	})
	if resp.Status != http.StatusAccepted {
		tb.Fatalf("delivery: want 202, got %d %s", resp.Status, resp.Body)
	}
	runs, _ := resp.JSON(tb)["runs"].([]any)
	if len(runs) != 1 {
		tb.Fatalf("want one run, got %s", resp.Body)
	}
	return runs[0].(map[string]any)["id"].(string)
}

// waitRunField polls GET /api/runs/{id} until field is non-empty.
func waitRunField(tb testing.TB, base, token, id, field string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := Do(tb, "GET", base+"/api/runs/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
		m := r.JSON(tb)
		if v, _ := m[field].(string); v != "" {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("run %s: %s still empty after 30s", id, field)
	return nil
}

func TestServe_CommitStatus(t *testing.T) {
	dir := t.TempDir()
	gh := fakeapi.NewGitHub(t, "gh-status-token", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	// The build waits until the test lets it go, so the order of states the
	// API sees does not depend on timing.
	writeFile(t, filepath.Join(dir, "build.sh"), `#!/bin/sh
i=0
while [ ! -e "$GATES/$HOOKTRIGGER_SHA" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
exit "$code"
`)
	gates := filepath.Join(dir, "gates")
	if err := os.Mkdir(gates, 0o755); err != nil {
		t.Fatal(err)
	}
	open := func(sha string) { writeFile(t, filepath.Join(gates, sha), "") }
	trig := func(name, token, base string) string {
		return fmt.Sprintf(`  - name: %s
    provider: github
    secret: gh-hook-secret
    variables:
      - name: code
        jsonpath: $.exit_code
    run:
      command: [./build.sh]
      dir: .
      env: {GATES: %s}
    status:
      token: %s
      base_url: %s
`, name, gates, token, base)
	}
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
public_url: https://ci.example.org/
api_token: api-secret
triggers:
`+trig("app", "${HT_TEST_STATUS_TOKEN}", gh.URL)+trig("badtoken", "wrong-token", gh.URL)+trig("down", "${HT_TEST_STATUS_TOKEN}", closed))
	p := MustServe(t, cfg, "HT_TEST_STATUS_TOKEN=gh-status-token")

	sha := func(c byte) string { return strings.Repeat(string(c), 40) }
	accepted := func(sha string) []string { return gh.States(sha) }

	for _, tc := range []struct {
		name   string
		sha    string
		code   string
		fault  *fakeapi.Fault
		state  string
		final  string
		faults int
	}{
		{name: "Success", sha: sha('a'), code: "0", state: "succeeded", final: "success"},
		{name: "Failure", sha: sha('b'), code: "1", state: "failed", final: "failure"},
		{name: "RetriedAfter502", sha: sha('c'), code: "0", state: "succeeded", final: "success",
			fault: &fakeapi.Fault{Code: 502, Body: "<html><body>502 Bad Gateway</body></html>"}, faults: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fault != nil {
				gh.Fail(*tc.fault)
			}
			id := pushGitHub(t, p.URL, "/hooks/app", "gh-hook-secret", "octo/app", tc.sha, tc.code)
			gh.WaitFor(t, 30*time.Second, "pending for "+tc.name, func([]fakeapi.Call) bool { return len(accepted(tc.sha)) > 0 })
			open(tc.sha)
			run := WaitRun(t, p.URL, "api-secret", id)
			if run["state"] != tc.state {
				t.Fatalf("run: %v", run)
			}
			gh.WaitFor(t, 30*time.Second, "the final status", func([]fakeapi.Call) bool {
				s := accepted(tc.sha)
				return len(s) > 0 && s[len(s)-1] != "pending"
			})
			states := accepted(tc.sha)
			for i, s := range states {
				if want := "pending"; i == len(states)-1 {
					want = tc.final
					if s != want {
						t.Fatalf("states %v, want pending… then %s", states, tc.final)
					}
				} else if s != want {
					t.Fatalf("states %v, want pending… then %s", states, tc.final)
				}
			}
			if len(states) < 2 || len(states) > 3 {
				t.Fatalf("states %v: want pending (queued, maybe running) then %s", states, tc.final)
			}
			var last fakeapi.Call
			failed := 0
			for _, c := range gh.Calls() {
				if c.SHA != tc.sha {
					continue
				}
				if c.Code != 201 {
					failed++
				}
				last = c
			}
			if failed != tc.faults {
				t.Fatalf("%d failed calls, want %d", failed, tc.faults)
			}
			if last.Path != "/api/v3/repos/octo/app/statuses/"+tc.sha || last.Context != "hooktrigger/app" ||
				last.TargetURL != "https://ci.example.org/ui/runs/"+id || last.Description != "hooktrigger: "+tc.state {
				t.Fatalf("last status: %+v", last)
			}
			if note, _ := run["status_note"].(string); note != "" {
				t.Fatalf("unexpected status note %q", note)
			}
		})
	}

	t.Run("UnauthorizedNotedOnce", func(t *testing.T) {
		s := sha('d')
		id := pushGitHub(t, p.URL, "/hooks/badtoken", "gh-hook-secret", "octo/app", s, "0")
		run := waitRunField(t, p.URL, "api-secret", id, "status_note")
		open(s)
		run = WaitRun(t, p.URL, "api-secret", id)
		time.Sleep(500 * time.Millisecond) // time for a retry storm to show
		n := 0
		for _, c := range gh.Calls() {
			if c.SHA == s {
				n++
				if c.Code != 401 {
					t.Fatalf("call %+v, want 401", c)
				}
			}
		}
		note, _ := run["status_note"].(string)
		if n != 1 || run["state"] != "succeeded" || !strings.Contains(note, "401") || strings.Contains(note, "wrong-token") {
			t.Fatalf("%d calls, run %v", n, run)
		}
	})

	t.Run("Metrics", func(t *testing.T) {
		m := string(Do(t, "GET", p.URL+"/metrics", nil, nil).Body)
		if !strings.Contains(m, "hooktrigger_commit_statuses_total{result=\"failed\"} 1\n") ||
			!regexp.MustCompile(`(?m)^hooktrigger_commit_statuses_total\{result="sent"\} [1-9][0-9]*$`).MatchString(m) {
			t.Errorf("want the statuses sent counted and the one refused with 401 failed:\n%s", grepLines(m, "hooktrigger_commit_statuses_total"))
		}
	})

	t.Run("NoSHANoted", func(t *testing.T) {
		id := deliverGitHub(t, p.URL, "/hooks/app", "gh-hook-secret", "issue_comment",
			`{"action":"created","issue":{"number":7,"pull_request":{"url":"x"}},"comment":{"body":"retest"},"repository":{"full_name":"octo/app"},"sender":{"login":"dev"},"exit_code":"0"}`)
		// No sha: the build's gate path is the gates directory, open already.
		run := WaitRun(t, p.URL, "api-secret", id)
		run = waitRunField(t, p.URL, "api-secret", id, "status_note")
		if note := run["status_note"].(string); run["state"] != "succeeded" || !strings.Contains(note, "no commit sha") {
			t.Fatalf("run %v", run)
		}
	})

	t.Run("APIUnreachable", func(t *testing.T) {
		s := sha('e')
		id := pushGitHub(t, p.URL, "/hooks/down", "gh-hook-secret", "octo/app", s, "0")
		open(s)
		if run := WaitRun(t, p.URL, "api-secret", id); run["state"] != "succeeded" {
			t.Fatalf("the build did not complete: %v", run)
		}
		start := time.Now()
		p.Stop(t) // must not wait for the unreachable API beyond its grace
		t.Logf("stopped in %s with a status still retrying", time.Since(start))
	})
}

func TestServe_CommitStatusGitLab(t *testing.T) {
	dir := t.TempDir()
	gl := fakeapi.NewGitLab(t, "gl-status-token")
	writeFile(t, filepath.Join(dir, "build.sh"), `#!/bin/sh
i=0
while [ ! -e "$GATE" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
exit 0
`)
	gate := filepath.Join(dir, "gate")
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
public_url: https://ci.example.org
api_token: api-secret
triggers:
  - name: app
    provider: gitlab
    secret: gl-hook-token
    run:
      command: [./build.sh]
      dir: .
      env: {GATE: `+gate+`}
    status:
      token: ${HT_TEST_GL_TOKEN}
      context: ci/app
      base_url: `+gl.URL+`
`)
	p := MustServe(t, cfg, "HT_TEST_GL_TOKEN=gl-status-token")
	defer p.Stop(t)
	sha := strings.Repeat("f", 40)
	body := `{"object_kind":"push","event_name":"push","ref":"refs/heads/main","before":"1111111111111111111111111111111111111111",` +
		`"after":"` + sha + `","checkout_sha":"` + sha + `","user_username":"dev","project":{"path_with_namespace":"group/sub/app"}}`
	resp := Do(t, "POST", p.URL+"/hooks/app", []byte(body), map[string]string{
		"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": "gl-hook-token", "Idempotency-Key": store.NewID(),
	})
	if resp.Status != http.StatusAccepted {
		t.Fatalf("want 202, got %d %s", resp.Status, resp.Body)
	}
	id := resp.JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	// Running is reported while the build waits at its gate.
	gl.WaitFor(t, 30*time.Second, "running", func([]fakeapi.Call) bool { s := gl.States(sha); return len(s) > 0 && s[len(s)-1] == "running" })
	writeFile(t, gate, "")
	if run := WaitRun(t, p.URL, "api-secret", id); run["state"] != "succeeded" {
		t.Fatalf("run %v", run)
	}
	calls := gl.WaitFor(t, 30*time.Second, "success", func([]fakeapi.Call) bool { s := gl.States(sha); return s[len(s)-1] == "success" })
	states := gl.States(sha)
	if got := strings.Join(states, ","); got != "pending,running,success" && got != "running,success" {
		t.Fatalf("states %s, want [pending,]running,success", got)
	}
	last := calls[len(calls)-1]
	if last.Path != "/api/v4/projects/group%2Fsub%2Fapp/statuses/"+sha || last.Context != "ci/app" ||
		last.TargetURL != "https://ci.example.org/ui/runs/"+id || last.Description != "hooktrigger: succeeded" {
		t.Fatalf("last status %+v", last)
	}
}

// TestServe_CommitStatusAfterRestart: a final commit status the API could
// not take before a stop (SIGTERM) or a crash (SIGKILL) is sent at the next
// start, so a required check does not stay pending; a status the API took
// is not sent again by a later start.
func TestServe_CommitStatusAfterRestart(t *testing.T) {
	dir := t.TempDir()
	gh := fakeapi.NewGitHub(t, "gh-status-token", true)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String() // nothing listens there once closed
	ln.Close()
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	serve := func(apiBase string) *Proc {
		writeFile(t, cfg, fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
triggers:
  - name: app
    provider: github
    secret: gh-hook-secret
    run:
      command: [/bin/sh, -c, 'exit 0']
    status:
      token: ${HT_TEST_STATUS_TOKEN}
      base_url: %s
`, apiBase))
		return MustServe(t, cfg, "HT_TEST_STATUS_TOKEN=gh-status-token")
	}
	sha := func(c byte) string { return strings.Repeat(string(c), 40) }
	successes := func(s string) int {
		n := 0
		for _, st := range gh.States(s) {
			if st == "success" {
				n++
			}
		}
		return n
	}
	push := func(p *Proc, s string) {
		id := pushGitHub(t, p.URL, "/hooks/app", "gh-hook-secret", "octo/app", s, "0")
		if run := WaitRun(t, p.URL, "api-secret", id); run["state"] != "succeeded" {
			t.Fatalf("run for %s: %v", s[:1], run)
		}
	}

	p := serve(down)
	push(p, sha('a'))
	p.Stop(t) // the API is down: the statuses of a are abandoned after the grace

	p = serve(down)
	push(p, sha('b'))
	p.Kill() // a crash, with the statuses of a (sent again) and b unsent

	p = serve(gh.URL)
	gh.WaitFor(t, 30*time.Second, "the final statuses left unsent", func([]fakeapi.Call) bool {
		return successes(sha('a')) > 0 && successes(sha('b')) > 0
	})
	p.Stop(t)

	p = serve(gh.URL)
	push(p, sha('c'))
	gh.WaitFor(t, 30*time.Second, "the status of a run of this start", func([]fakeapi.Call) bool { return successes(sha('c')) > 0 })
	p.Stop(t)
	for _, c := range []byte("abc") {
		if n := successes(sha(c)); n != 1 {
			t.Errorf("commit %c: the API accepted success %d times, want once", c, n)
		}
	}
	if got := gh.States(sha('a')); len(got) != 1 {
		t.Errorf("commit a: accepted states %v; want only the final one (queued and running were never taken)", got)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
