package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binPath is the hooktrigger binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hooktrigger-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "hooktrigger")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Proc is a hooktrigger serve process started by a test.
type Proc struct {
	cmd  *exec.Cmd
	URL  string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

// Logs returns everything the process logged so far.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// Stop sends SIGTERM and waits for the process to exit.
func (p *Proc) Stop(tb testing.TB) {
	tb.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		tb.Fatal("hooktrigger did not stop within 30s of SIGTERM")
	}
}

// Kill sends SIGKILL and waits.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

var listenRe = regexp.MustCompile(`msg=listening addr=(\S+)`)

// MustServe starts `hooktrigger serve` on cfgPath (whose listen address must
// be 127.0.0.1:0) and waits until it listens.
func MustServe(tb testing.TB, cfgPath string, env ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(binPath, "serve", "--config", cfgPath)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &Proc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.logs.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.Kill()
		}
	})
	select {
	case a := <-addr:
		p.URL = "http://" + a
	case <-p.done:
		tb.Fatalf("hooktrigger exited before listening:\n%s", p.Logs())
	case <-time.After(20 * time.Second):
		tb.Fatalf("hooktrigger did not listen within 20s:\n%s", p.Logs())
	}
	return p
}

// Response is a decoded HTTP answer.
type Response struct {
	Status int
	Body   []byte
	Header http.Header
}

// JSON decodes the body into a map.
func (r *Response) JSON(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		tb.Fatalf("status %d, body not JSON: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// Do sends one request.
func Do(tb testing.TB, method, url string, body []byte, header map[string]string) *Response {
	tb.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return &Response{Status: resp.StatusCode, Body: b, Header: resp.Header}
}

// WaitRun polls the API until the run reaches a final state.
func WaitRun(tb testing.TB, base, token, id string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := Do(tb, "GET", base+"/api/runs/"+id, nil, map[string]string{"Authorization": "Bearer " + token})
		if r.Status != 200 {
			tb.Fatalf("GET run: %d %s", r.Status, r.Body)
		}
		m := r.JSON(tb)
		switch m["state"] {
		case "queued", "running":
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return m
	}
	tb.Fatalf("run %s did not end within 30s", id)
	return nil
}

func writeFile(tb testing.TB, path, content string) {
	tb.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		tb.Fatal(err)
	}
}

// runCLI runs the binary and returns its exit code, stdout and stderr.
func runCLI(tb testing.TB, env []string, args ...string) (int, string, string) {
	tb.Helper()
	cmd := exec.CommandContext(context.Background(), binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		tb.Fatal(err)
	}
	return code, out.String(), errb.String()
}

func TestServe_EndToEnd(t *testing.T) {
	dir := t.TempDir()
	outFile := filepath.Join(dir, "out.txt")
	writeFile(t, filepath.Join(dir, "build.sh"), `#!/bin/sh
echo "ref=$ref sha=$sha target=$target run=$HOOKTRIGGER_RUN_ID" >> "$OUT"
echo "log line from the build"
echo "to stderr" >&2
`)
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
max_body: 2KiB
api_token: api-secret
triggers:
  - name: app
    provider: generic
    secret: s3cret-token
    variables:
      - name: ref
        jsonpath: $.ref
        regexp_filter: '^refs/heads/'
      - name: sha
        jsonpath: $.commits[0].id
      - name: target
        query: env
        default: staging
    run:
      command: [./build.sh]
      dir: .
      env: {OUT: `+outFile+`}
`)
	p := MustServe(t, cfg)
	api := map[string]string{"Authorization": "Bearer api-secret"}
	payload := []byte(`{"ref":"refs/heads/main","commits":[{"id":"abc123"}]}`)

	resp := Do(t, "POST", p.URL+"/hooks/app?token=s3cret-token", payload, map[string]string{"Content-Type": "application/json"})
	if resp.Status != http.StatusAccepted {
		t.Fatalf("want 202, got %d %s", resp.Status, resp.Body)
	}
	reply := resp.JSON(t)
	runs, _ := reply["runs"].([]any)
	if reply["delivery"] == "" || len(runs) != 1 {
		t.Fatalf("reply shape: %s", resp.Body)
	}
	run := runs[0].(map[string]any)
	runID, _ := run["id"].(string)
	if run["trigger"] != "app" || runID == "" || !strings.HasSuffix(run["url"].(string), "/ui/runs/"+runID) {
		t.Fatalf("run ref shape: %v", run)
	}

	t.Run("RunExecutedOnceWithVariables", func(t *testing.T) {
		got := WaitRun(t, p.URL, "api-secret", runID)
		if got["state"] != "succeeded" || got["exit_code"] != float64(0) || got["started_at"] == nil || got["ended_at"] == nil {
			t.Fatalf("run record: %v", got)
		}
		out, err := os.ReadFile(outFile)
		if err != nil {
			t.Fatal(err)
		}
		want := "ref=main sha=abc123 target=staging run=" + runID + "\n"
		if string(out) != want {
			t.Fatalf("build saw %q, want %q", out, want)
		}
		log := Do(t, "GET", p.URL+"/api/runs/"+runID+"/log", nil, api)
		if log.Status != 200 || !strings.Contains(string(log.Body), "log line from the build") || !strings.Contains(string(log.Body), "to stderr") {
			t.Fatalf("log: %d %q", log.Status, log.Body)
		}
	})

	countRuns := func() int {
		r := Do(t, "GET", p.URL+"/api/runs", nil, api)
		if r.Status != 200 {
			t.Fatalf("list runs: %d %s", r.Status, r.Body)
		}
		rs, _ := r.JSON(t)["runs"].([]any)
		return len(rs)
	}

	t.Run("Unauthorized", func(t *testing.T) {
		before := countRuns()
		for _, tc := range []struct {
			name   string
			url    string
			header map[string]string
		}{
			{name: "WrongToken", url: "/hooks/app?token=nope"},
			{name: "MissingToken", url: "/hooks/app"},
			{name: "WrongBearer", url: "/hooks/app", header: map[string]string{"Authorization": "Bearer nope"}},
		} {
			r := Do(t, "POST", p.URL+tc.url, payload, tc.header)
			if r.Status != http.StatusUnauthorized {
				t.Errorf("%s: want 401, got %d", tc.name, r.Status)
			}
			if bytes.Contains(r.Body, []byte("s3cret-token")) || bytes.Contains(r.Body, payload) {
				t.Errorf("%s: the 401 body echoes the secret or the payload: %s", tc.name, r.Body)
			}
		}
		if after := countRuns(); after != before {
			t.Fatalf("an unauthorized delivery started a run: %d → %d", before, after)
		}
	})

	t.Run("OtherTokenPlaces", func(t *testing.T) {
		for _, h := range []map[string]string{
			{"Authorization": "Bearer s3cret-token"},
			{"token": "s3cret-token"},
			{"X-Gitlab-Token": "s3cret-token"},
		} {
			if r := Do(t, "POST", p.URL+"/hooks/app?env=prod", payload, h); r.Status != http.StatusAccepted {
				t.Errorf("token in %v: want 202, got %d %s", h, r.Status, r.Body)
			}
		}
	})

	t.Run("UnknownPath", func(t *testing.T) {
		if r := Do(t, "POST", p.URL+"/hooks/nope?token=s3cret-token", payload, nil); r.Status != http.StatusNotFound {
			t.Fatalf("want 404, got %d", r.Status)
		}
	})

	t.Run("BodyOverMaxBody", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 4096)
		if r := Do(t, "POST", p.URL+"/hooks/app?token=s3cret-token", big, nil); r.Status != http.StatusRequestEntityTooLarge {
			t.Fatalf("want 413, got %d", r.Status)
		}
	})

	t.Run("MalformedBody", func(t *testing.T) {
		r := Do(t, "POST", p.URL+"/hooks/app?token=s3cret-token", []byte(`{"ref": nope`), nil)
		if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "offset") {
			t.Fatalf("want 400 naming the offset, got %d %s", r.Status, r.Body)
		}
	})

	t.Run("APINeedsToken", func(t *testing.T) {
		if r := Do(t, "GET", p.URL+"/api/runs", nil, nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("want 401, got %d", r.Status)
		}
	})

	t.Run("SurvivesRestart", func(t *testing.T) {
		p.Stop(t)
		p2 := MustServe(t, cfg)
		defer p2.Stop(t)
		r := Do(t, "GET", p2.URL+"/api/runs/"+runID, nil, api)
		if r.Status != 200 || r.JSON(t)["state"] != "succeeded" {
			t.Fatalf("run after restart: %d %s", r.Status, r.Body)
		}
		d := Do(t, "GET", p2.URL+"/api/deliveries/"+reply["delivery"].(string), nil, api)
		if d.Status != 200 || !strings.Contains(d.JSON(t)["body"].(string), "abc123") {
			t.Fatalf("delivery after restart: %d %s", d.Status, d.Body)
		}
	})
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of stderr, each a file:line message
	}{
		{
			name: "UnknownKey",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    sekret: x\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:4: triggers[0].sekret: unknown key"},
		},
		{
			name: "InvalidJSONPath",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    variables:\n      - name: v\n        jsonpath: $.a[\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:6: triggers[0].variables[0].jsonpath:"},
		},
		{
			name: "DuplicateName",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    run: {command: [true]}\n  - name: a\n    allow_unsigned: true\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:5: triggers[1].name: duplicate trigger name \"a\""},
		},
		{
			name: "UnsetSecretVariable",
			yaml: "triggers:\n  - name: a\n    secret: ${HOOKTRIGGER_TEST_UNSET_SECRET}\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:3: triggers[0].secret: environment variable HOOKTRIGGER_TEST_UNSET_SECRET is not set"},
		},
		{
			name: "WaitTooLong",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    run:\n      command: [true]\n      wait: 11m\n",
			want: []string{"triggers[0].run.wait: must be between 0 and 10m0s"},
		},
		{
			name: "BadRetry",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    run:\n      command: [true]\n      retry: {max: 0, delay: 2h, on: [cancelled]}\n",
			want: []string{
				"triggers[0].run.retry.max: must be between 1 and 10",
				"triggers[0].run.retry.delay: must be between 0 and 1h0m0s",
				`triggers[0].run.retry.on: names failed or timed_out, not "cancelled"`,
			},
		},
		{
			name: "BadPaths",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    paths: ['src/**', '!', 'a[']\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:4: triggers[0].paths: empty pattern"},
		},
		{
			name: "BadAPI",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    provider_api: {base_url: 'https://ghe.example.org'}\n    run: {command: [true]}\n",
			want: []string{"triggers[0].provider_api: needs provider github or gitlab", "triggers[0].provider_api.token: is required"},
		},
		{
			name: "BadMask",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    run:\n      command: [true]\n      mask: [DEPLOY-TOKEN]\n",
			want: []string{`triggers[0].run.mask: "DEPLOY-TOKEN" is not a valid environment variable name`},
		},
		{
			name: "BadMethods",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    methods: [GET, FETCH]\n    run: {command: [true]}\n  - name: b\n    provider: github\n    secret: s\n    methods: [GET]\n    run: {command: [true]}\n",
			want: []string{`triggers[0].methods: "FETCH" is not one of GET, POST, PUT, PATCH, DELETE`, "triggers[1].methods: only for provider generic: github POSTs its webhooks"},
		},
		{
			name: "APIBaseURLWithoutScheme",
			yaml: "triggers:\n  - name: a\n    provider: github\n    secret: s\n    provider_api: {token: t, base_url: ghe.example.org}\n    run: {command: [true]}\n",
			want: []string{"triggers[0].provider_api.base_url: needs an http:// or https:// URL"},
		},
		{
			name: "BadNotify",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    run: {command: [true]}\n    notify:\n      - {url: 'hooks.example.org/x?token=t0ken', format: teams, on: [running], secret: 'nope!'}\n",
			want: []string{
				"triggers[0].notify[0].secret: must be a Standard Webhooks secret, whsec_ followed by base64",
				"bad.yaml:6: triggers[0].notify[0].url: needs an http:// or https:// URL",
				`triggers[0].notify[0].format: must be json or slack, not "teams"`,
				`triggers[0].notify[0].on: names final run states (succeeded, failed, timed_out, cancelled, skipped, superseded, interrupted), not "running"`,
			},
		},
		{
			name: "MissingSecret",
			yaml: "triggers:\n  - name: a\n    run: {command: [true]}\n",
			want: []string{"bad.yaml:2: triggers[0].secret: is required"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "bad.yaml")
			writeFile(t, path, tc.yaml)
			code, _, stderr := runCLI(t, nil, "check", "--config", path)
			if code != 1 {
				t.Fatalf("want exit 1, got %d (stderr %q)", code, stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
	t.Run("WarningDoesNotRefuse", func(t *testing.T) {
		path := filepath.Join(dir, "warn.yaml")
		writeFile(t, path, "triggers:\n  - name: a\n    allow_unsigned: true\n    run:\n      command: [true]\n      wait: 5s\n")
		code, stdout, stderr := runCLI(t, nil, "check", "--config", path)
		want := "warning: " + path + ":6: triggers[0].run.wait: the answer carries the build's log, and with allow_unsigned anyone who reaches the trigger reads it"
		if code != 0 || !strings.Contains(stdout, "ok  a") || !strings.Contains(stderr, want) {
			t.Fatalf("want exit 0, the summary and %q; got %d, %q, %q", want, code, stdout, stderr)
		}
	})
	// Warnings: check exits 0 and says each one, and only those.
	for _, tc := range []struct {
		name, yaml, want string
		not              []string // warnings that must not appear
	}{
		{
			name: "MaskOfAVariableTheBuildLacks",
			yaml: "triggers:\n  - name: a\n    allow_unsigned: true\n    variables:\n      - {name: session, jsonpath: $.session}\n    run:\n      command: [true]\n      env: {DB_PASSWORD: x1y2z3w4}\n      mask: [DB_PASSWORD, session, AWS_SECRET_ACCESS_KEY]\n",
			want: "triggers[0].run.mask: AWS_SECRET_ACCESS_KEY is not in run.env, inherit_env or the variables: the build does not get it",
			not:  []string{"DB_PASSWORD is not", "session is not"},
		},
		{
			name: "APITokenInClear", // a loopback address is fine
			yaml: "triggers:\n  - name: a\n    provider: gitlab\n    secret: s\n    status: {token: t, base_url: 'http://gitlab.example.org'}\n    provider_api: {token: t, base_url: 'http://127.0.0.1:8929'}\n    run: {command: [true]}\n",
			want: "triggers[0].status.base_url: plain http: the token crosses the network unencrypted",
			not:  []string{"provider_api.base_url"},
		},
		{
			name: "PathsForPullRequestsWithoutToken",
			yaml: "triggers:\n  - name: a\n    provider: github\n    secret: s\n    events: [push, pull_request]\n    paths: [src/**]\n    run: {command: [true]}\n  - name: b\n    provider: github\n    secret: s\n    events: [push]\n    paths: [src/**]\n    run: {command: [true]}\n",
			want: "triggers[0].paths: pull and merge requests list no files: without provider_api (or status) they always fire",
			not:  []string{"triggers[1].paths"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			writeFile(t, path, tc.yaml)
			code, _, stderr := runCLI(t, nil, "check", "--config", path)
			if code != 0 || !strings.Contains(stderr, tc.want) || slices.ContainsFunc(tc.not, func(s string) bool { return strings.Contains(stderr, s) }) {
				t.Fatalf("want exit 0 and the warning %q, none of %q; got %d, %q", tc.want, tc.not, code, stderr)
			}
		})
	}
	t.Run("GoodFile", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "check", "--config", "../../examples/quickstart/hooktrigger.yaml")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		if !strings.Contains(stdout, "ok  quickstart  POST /hooks/quickstart  provider generic") || strings.Count(stdout, "\n") != 1 {
			t.Fatalf("want one summary line, got %q", stdout)
		}
	})
}

// mustExtract runs `hooktrigger extract` with args, wants exit 0, decodes
// its JSON into out and returns it as printed.
func mustExtract(t *testing.T, out any, args ...string) string {
	t.Helper()
	code, stdout, stderr := runCLI(t, nil, append([]string{"extract"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), out); err != nil {
		t.Fatal(err, stdout)
	}
	return stdout
}

func TestExtract(t *testing.T) {
	dir := t.TempDir()
	payload := filepath.Join(dir, "p.json")
	writeFile(t, payload, `{"ref":"refs/heads/main","commits":[{"id":"a1"},{"id":"b2"}]}`)
	t.Run("AdHocJSONPath", func(t *testing.T) {
		code, stdout, stderr := runCLI(t, nil, "extract", "--payload", payload, "--jsonpath", "$.commits[*].id")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var out struct {
			Variables map[string]string `json:"variables"`
			Nodes     []any             `json:"nodes"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatal(err, stdout)
		}
		if len(out.Nodes) != 2 || out.Nodes[0] != "a1" || out.Nodes[1] != "b2" {
			t.Fatalf("nodes %v", out.Nodes)
		}
		if out.Variables["value_0"] != "a1" || out.Variables["value_1"] != "b2" {
			t.Fatalf("variables %v", out.Variables)
		}
	})
	t.Run("InvalidExpressionExits2", func(t *testing.T) {
		code, _, stderr := runCLI(t, nil, "extract", "--payload", payload, "--jsonpath", "$.a[")
		if code != 2 || stderr == "" {
			t.Fatalf("want exit 2 with a message, got %d %q", code, stderr)
		}
	})
	t.Run("InvalidPayloadExits2", func(t *testing.T) {
		bad := filepath.Join(dir, "bad.json")
		writeFile(t, bad, `{"a":`)
		code, _, stderr := runCLI(t, nil, "extract", "--payload", bad, "--jsonpath", "$.a")
		if code != 2 || stderr == "" {
			t.Fatalf("want exit 2 with a message, got %d %q", code, stderr)
		}
	})
	t.Run("ConfigTrigger", func(t *testing.T) {
		cfg := filepath.Join(dir, "c.yaml")
		writeFile(t, cfg, `triggers:
  - name: t
    allow_unsigned: true
    variables:
      - {name: ref, jsonpath: $.ref, regexp_filter: '^refs/heads/'}
      - {name: env, query: env, default: staging}
    filter: {text: $ref, regexp: '^release/'}
    run: {command: [true]}
`)
		var out struct {
			Variables map[string]string `json:"variables"`
			Filter    struct {
				Matched bool   `json:"matched"`
				Reason  string `json:"reason"`
			} `json:"filter"`
		}
		stdout := mustExtract(t, &out, "--config", cfg, "--trigger", "t", "--payload", payload)
		if out.Variables["ref"] != "main" || out.Variables["env"] != "staging" || out.Filter.Matched || !strings.Contains(out.Filter.Reason, "^release/") {
			t.Fatalf("got %s", stdout)
		}
	})
	t.Run("CELVariables", func(t *testing.T) {
		cfg := filepath.Join(dir, "cel.yaml")
		// branch comes before ref in the file and still sees it: CEL
		// variables are computed after every other source.
		writeFile(t, cfg, `triggers:
  - name: t
    allow_unsigned: true
    variables:
      - {name: branch, cel: 'vars.ref.upperAscii()'}
      - {name: ref, jsonpath: $.ref, regexp_filter: '^refs/heads/'}
      - {name: short, cel: 'body.commits[1].id.substring(0, 1)'}
      - {name: ids, cel: 'body.commits.map(c, c.id)'}
      - {name: count, cel: 'size(body.commits)'}
      - {name: gone, cel: 'body.nothere', default: none}
      - {name: env, cel: 'has(query.env) ? query.env : "dev"'}
    run: {command: [true]}
`)
		var out struct {
			Variables map[string]string `json:"variables"`
		}
		mustExtract(t, &out, "--config", cfg, "--trigger", "t", "--payload", payload, "--query", "env=prod")
		want := map[string]string{"branch": "MAIN", "ref": "main", "short": "b", "ids": `["a1","b2"]`, "ids_0": "a1", "ids_1": "b2",
			"count": "2", "gone": "none", "env": "prod"}
		for k, v := range want {
			if out.Variables[k] != v {
				t.Errorf("%s = %q, want %q", k, out.Variables[k], v)
			}
		}
	})
	t.Run("CELVariableWithoutEvent", func(t *testing.T) {
		cfg := filepath.Join(dir, "celbad.yaml")
		writeFile(t, cfg, "triggers:\n  - name: t\n    allow_unsigned: true\n    variables:\n      - {name: e, cel: 'event'}\n    run: {command: [true]}\n")
		code, _, stderr := runCLI(t, nil, "check", "--config", cfg)
		if code != 1 || !strings.Contains(stderr, "triggers[0].variables[0].cel: invalid CEL") || !strings.Contains(stderr, "event") {
			t.Fatalf("want exit 1 naming the undeclared event, got %d %q", code, stderr)
		}
	})
}

// hmacHex is the hex HMAC-SHA256 of body under secret, as GitHub, Gitea and
// Bitbucket sign.
func hmacHex(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}
