package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// waitUntil polls cond for up to 20s.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// metric returns the value of the first /metrics line that starts with
// series (name and labels exactly as exported), or -1.
func metric(tb testing.TB, base, series string) float64 {
	tb.Helper()
	r := Do(tb, "GET", base+"/metrics", nil, nil)
	sc := bufio.NewScanner(bytes.NewReader(r.Body))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				tb.Fatalf("%s: %v", series, err)
			}
			return f
		}
	}
	return -1
}

func triggerYAML(names ...string) string {
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\ndata_dir: ./data\ntriggers:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  - name: %s\n    secret: tok\n    run: {command: [/bin/sh, -c, 'exit 0']}\n", n)
	}
	return b.String()
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, triggerYAML("one"))
	p := MustServe(t, cfg)
	defer p.Stop(t)
	auth := map[string]string{"Authorization": "Bearer tok"}
	answers := func(name string) bool {
		return Do(t, "POST", p.URL+"/hooks/"+name, nil, auth).Status == http.StatusAccepted
	}
	t.Run("ValidEditAddsTrigger", func(t *testing.T) {
		if answers("two") {
			t.Fatal("two answers before it is configured")
		}
		writeFile(t, cfg, triggerYAML("one", "two"))
		waitUntil(t, "trigger two", func() bool { return answers("two") })
		if !answers("one") {
			t.Fatal("one stopped answering")
		}
	})
	t.Run("InvalidEditRefused", func(t *testing.T) {
		writeFile(t, cfg, triggerYAML("one", "two", "three")+"    sekret: x\n")
		waitUntil(t, "the refusal", func() bool {
			return metric(t, p.URL, `hooktrigger_config_reloads_total{result="failure"}`) == 1
		})
		if !strings.Contains(p.Logs(), "config reload refused") || !strings.Contains(p.Logs(), "sekret: unknown key") {
			t.Fatalf("the refusal is not logged with its reason:\n%s", p.Logs())
		}
		for _, n := range []string{"one", "two"} {
			if !answers(n) {
				t.Fatalf("%s stopped answering after a refused reload", n)
			}
		}
		if answers("three") {
			t.Fatal("a trigger of the refused file answers")
		}
	})
	t.Run("RenameWrite", func(t *testing.T) {
		tmp := filepath.Join(dir, ".hooktrigger.yaml.swp")
		writeFile(t, tmp, triggerYAML("one", "four"))
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "trigger four", func() bool { return answers("four") })
		if answers("two") {
			t.Fatal("a removed trigger still answers")
		}
	})
	t.Run("SIGHUPRereadsSecretFiles", func(t *testing.T) {
		sec := filepath.Join(dir, "secret.txt")
		writeFile(t, sec, "first-secret\n")
		writeFile(t, cfg, triggerYAML("one")+"  - name: filesec\n    secret: file:secret.txt\n    run: {command: [/bin/sh, -c, 'exit 0']}\n")
		fs := func(tok string) int {
			return Do(t, "POST", p.URL+"/hooks/filesec", nil, map[string]string{"Authorization": "Bearer " + tok}).Status
		}
		waitUntil(t, "trigger filesec", func() bool { return fs("first-secret") == http.StatusAccepted })
		writeFile(t, sec, "second-secret\n")
		time.Sleep(500 * time.Millisecond) // a change of the secret file alone reloads nothing
		if fs("first-secret") != http.StatusAccepted {
			t.Fatal("the secret file was re-read without SIGHUP")
		}
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "the new secret", func() bool { return fs("second-secret") == http.StatusAccepted })
		if fs("first-secret") != http.StatusUnauthorized {
			t.Fatal("the old secret still works")
		}
	})
	t.Run("RestartOnlyKeyWarned", func(t *testing.T) {
		writeFile(t, cfg, strings.Replace(triggerYAML("one", "five"), "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1))
		waitUntil(t, "trigger five", func() bool { return answers("five") })
		if !strings.Contains(p.Logs(), "listen changes only at a restart") {
			t.Fatalf("no warning about listen:\n%s", p.Logs())
		}
	})
}

// TestReload_ConfigMapSymlinkSwap lays the config out as a Kubernetes
// ConfigMap volume does and swaps the ..data symlink.
func TestReload_ConfigMapSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	data := t.TempDir()
	vol := func(stamp string, names ...string) {
		d := filepath.Join(dir, "..2026_01_01_00_00_0"+stamp)
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(d, "hooktrigger.yaml"), strings.Replace(triggerYAML(names...), "./data", data, 1))
	}
	vol("1", "one")
	for _, l := range []struct{ target, name string }{
		{target: "..2026_01_01_00_00_01", name: "..data"},
		{target: "..data/hooktrigger.yaml", name: "hooktrigger.yaml"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	p := MustServe(t, filepath.Join(dir, "hooktrigger.yaml"))
	defer p.Stop(t)
	auth := map[string]string{"Authorization": "Bearer tok"}
	if Do(t, "POST", p.URL+"/hooks/one", nil, auth).Status != http.StatusAccepted {
		t.Fatal("one does not answer")
	}
	// The kubelet's atomic writer: new directory, new symlink, rename over ..data, remove the old directory.
	vol("2", "one", "two")
	if err := os.Symlink("..2026_01_01_00_00_02", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(dir, "..2026_01_01_00_00_01")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "trigger two", func() bool { return Do(t, "POST", p.URL+"/hooks/two", nil, auth).Status == http.StatusAccepted })
	// A second swap is seen too (the watch followed the new target).
	vol("3", "three")
	if err := os.Symlink("..2026_01_01_00_00_03", filepath.Join(dir, "..data_tmp")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "trigger three", func() bool { return Do(t, "POST", p.URL+"/hooks/three", nil, auth).Status == http.StatusAccepted })
}

// vmHWM reads the peak resident set size of a process, in bytes.
func vmHWM(tb testing.TB, pid int) int64 {
	tb.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return kb << 10
		}
	}
	tb.Fatal("no VmHWM")
	return 0
}

// flood sends n bodies of size bytes at once and counts the answers.
func flood(tb testing.TB, url string, n, size int) map[int]int {
	body := append(append([]byte(`{"a":"`), bytes.Repeat([]byte("x"), size-8)...), '"', '}')
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer tok")
			req.Header.Set("Content-Type", "application/json")
			status := 0
			resp, err := http.DefaultClient.Do(req)
			if err == nil {
				status = resp.StatusCode
				if status == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					status = -503 // a 503 without Retry-After
				}
				resp.Body.Close()
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return counts
}

func TestMaxInflightBytes_RSSBounded(t *testing.T) {
	const (
		body    = 8 << 20
		senders = 24
	)
	for _, tc := range []struct {
		name     string
		inflight string
		bounded  bool
	}{
		{name: "Bounded", inflight: "16MiB", bounded: true},
		{name: "Unbounded", inflight: "1GiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if testing.Short() && !tc.bounded {
				t.Skip("comparison run skipped in -short")
			}
			dir := t.TempDir()
			cfg := filepath.Join(dir, "hooktrigger.yaml")
			writeFile(t, cfg, "listen: 127.0.0.1:0\ndata_dir: ./data\nmax_body: 8MiB\nmax_inflight_bytes: "+tc.inflight+
				"\ntriggers:\n  - name: big\n    secret: tok\n    run: {command: [/bin/sh, -c, 'exit 0']}\n")
			p := MustServe(t, cfg)
			defer p.Stop(t)
			before := vmHWM(t, p.cmd.Process.Pid)
			counts := flood(t, p.URL+"/hooks/big", senders, body)
			peak := vmHWM(t, p.cmd.Process.Pid)
			t.Logf("max_inflight_bytes %s: %d × %d MiB at once → %v; VmHWM %d MiB before, %d MiB after",
				tc.inflight, senders, body>>20, counts, before>>20, peak>>20)
			if counts[0] > 0 || counts[-503] > 0 {
				t.Fatalf("failed requests or 503 without Retry-After: %v", counts)
			}
			if !tc.bounded {
				return
			}
			if counts[http.StatusAccepted] == 0 || counts[http.StatusServiceUnavailable] == 0 {
				t.Fatalf("want some 202 and some 503: %v", counts)
			}
			// 24 × 8 MiB would be 192 MiB of bodies alone; 16 MiB may be held.
			if grown := peak - before; grown > 96<<20 {
				t.Fatalf("RSS grew by %d MiB under a 16 MiB max_inflight_bytes", grown>>20)
			}
		})
	}
}

// TestSecretsNeverShown runs a scenario with every kind of secret and
// greps the whole log and every answer for them.
func TestSecretsNeverShown(t *testing.T) {
	dir := t.TempDir()
	secrets := map[string]string{
		"api":     "api-SECRET-9f1c2a",
		"generic": "generic-SECRET-4b7d0e",
		"github":  "github-SECRET-2c8e5f",
		"file":    "file-SECRET-7a3b9d",
		"status":  "status-SECRET-6e0f1a",
		"hmac":    "hmac-SECRET-1d2e3f",
		"notify":  "notify-SECRET-5c9a0b",
		"whsec":   "whsec_bm90aWZ5LXNpZ25pbmctU0VDUkVU",
		"prs":     "prs-SECRET-3f8e2d",
	}
	// A notify endpoint that refuses for good: the notifier logs at once.
	gone := httptest.NewServer(http.NotFoundHandler())
	defer gone.Close()
	writeFile(t, filepath.Join(dir, "secret.txt"), secrets["file"]+"\n")
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
log_level: debug
api_token: ${HT_TEST_API}
triggers:
  - name: gen
    provider: generic
    secret: ${HT_TEST_GENERIC}
    variables:
      - {name: ref, jsonpath: $.ref}
    run: {command: [/bin/sh, -c, 'env; echo ref=$ref']}
  - name: gh
    provider: github
    secret: `+secrets["github"]+`
    status: {token: `+secrets["status"]+`, base_url: 'http://127.0.0.1:1/'}
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: fromfile
    secret: file:secret.txt
    run: {command: [/bin/sh, -c, 'exit 1']}
    notify:
      - {url: '`+gone.URL+`/hook?token=`+secrets["notify"]+`', secret: `+secrets["whsec"]+`}
  - name: signed
    provider: generic
    secret: `+secrets["hmac"]+`
    auth: {type: hmac, header: X-Signature}
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: prs
    provider: github
    secret: `+secrets["github"]+`
    paths: ['src/**']
    provider_api: {token: `+secrets["prs"]+`, base_url: 'http://127.0.0.1:1/'}
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
	p := MustServe(t, cfg, "HT_TEST_API="+secrets["api"], "HT_TEST_GENERIC="+secrets["generic"])
	var answers bytes.Buffer
	keep := func(r *Response) *Response {
		answers.Write(r.Body)
		for k, v := range r.Header {
			fmt.Fprintf(&answers, "%s: %v\n", k, v)
		}
		return r
	}
	api := map[string]string{"Authorization": "Bearer " + secrets["api"]}
	body := []byte(`{"ref":"refs/heads/main","after":"abc"}`)
	mac := func(key string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(body)
		return hex.EncodeToString(m.Sum(nil))
	}
	var runs []string
	for _, tc := range []struct {
		name   string
		url    string
		header map[string]string
		want   int
	}{
		{name: "GenericQueryToken", url: "/hooks/gen?token=" + secrets["generic"], want: 202},
		{name: "GenericBearer", url: "/hooks/gen", header: map[string]string{"Authorization": "Bearer " + secrets["generic"], "X-Request-Id": "rid-1"}, want: 202},
		{name: "GenericWrong", url: "/hooks/gen?token=" + secrets["generic"] + "x", want: 401},
		{name: "GitHubSigned", url: "/hooks/gh", header: map[string]string{"X-GitHub-Event": "push", "X-GitHub-Delivery": "g1", "X-Hub-Signature-256": "sha256=" + mac(secrets["github"])}, want: 202},
		{name: "GitHubWrong", url: "/hooks/gh", header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + mac("nope")}, want: 401},
		{name: "FileSecret", url: "/hooks/fromfile", header: map[string]string{"X-Gitlab-Token": secrets["file"]}, want: 202},
		{name: "HMAC", url: "/hooks/signed", header: map[string]string{"X-Signature": mac(secrets["hmac"])}, want: 202},
		{name: "HMACWrong", url: "/hooks/signed", header: map[string]string{"X-Signature": mac(secrets["generic"])}, want: 401},
	} {
		h := map[string]string{"Content-Type": "application/json"}
		for k, v := range tc.header {
			h[k] = v
		}
		r := keep(Do(t, "POST", p.URL+tc.url, body, h))
		if r.Status != tc.want {
			t.Fatalf("%s: want %d, got %d %s", tc.name, tc.want, r.Status, r.Body)
		}
		if r.Status == 202 {
			for _, run := range r.JSON(t)["runs"].([]any) {
				runs = append(runs, run.(map[string]any)["id"].(string))
			}
		}
	}
	// A pull request to the paths trigger: its files are asked of an API
	// that cannot be reached, which is logged.
	prBody := []byte(`{"action":"opened","number":7,"pull_request":{"number":7,"head":{"ref":"f","sha":"abc"},"base":{"ref":"main"}},"repository":{"full_name":"acme/app"},"sender":{"login":"x"}}`)
	m := hmac.New(sha256.New, []byte(secrets["github"]))
	m.Write(prBody)
	r := keep(Do(t, "POST", p.URL+"/hooks/prs", prBody, map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
		"X-GitHub-Delivery": "pr1", "X-Hub-Signature-256": "sha256=" + hex.EncodeToString(m.Sum(nil))}))
	if r.Status != 202 || !strings.Contains(p.Logs(), "cannot list the files of the pull request") {
		t.Fatalf("a pull request to the paths trigger: %d %s; want it let through and the API failure logged", r.Status, r.Body)
	}
	for _, run := range r.JSON(t)["runs"].([]any) {
		runs = append(runs, run.(map[string]any)["id"].(string))
	}
	for _, id := range runs {
		WaitRun(t, p.URL, secrets["api"], id)
		keep(Do(t, "GET", p.URL+"/api/runs/"+id, nil, api))
		keep(Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, api))
	}
	ds := keep(Do(t, "GET", p.URL+"/api/deliveries", nil, api))
	var list struct {
		Deliveries []struct{ ID string } `json:"deliveries"`
	}
	_ = json.Unmarshal(ds.Body, &list)
	if len(list.Deliveries) == 0 {
		t.Fatalf("no deliveries listed: %s", ds.Body)
	}
	for _, d := range list.Deliveries {
		keep(Do(t, "GET", p.URL+"/api/deliveries/"+d.ID, nil, api))
	}
	waitUntil(t, "the refused notification", func() bool { return strings.Contains(p.Logs(), "notification not delivered") })
	keep(Do(t, "GET", p.URL+"/api/runs", nil, map[string]string{"Authorization": "Bearer " + secrets["api"] + "x"}))
	keep(Do(t, "GET", p.URL+"/metrics", nil, nil))
	keep(Do(t, "GET", p.URL+"/readyz", nil, nil))
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the SIGHUP reload", func() bool { return strings.Contains(p.Logs(), "config reloaded") })
	p.Stop(t)
	logs := p.Logs()
	if !strings.Contains(logs, "request_id=rid-1") {
		t.Fatalf("the scenario's logs lack the request ids (debug level?):\n%s", logs)
	}
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the %s secret is in the log", name)
		}
		if strings.Contains(answers.String(), s) {
			t.Errorf("the %s secret is in an answer", name)
		}
	}
	if t.Failed() {
		t.Logf("logs:\n%s\nanswers:\n%s", logs, answers.String())
	}
}

func TestSchema(t *testing.T) {
	code, out, stderr := runCLI(t, nil, "schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(out), &schema); err != nil {
		t.Fatal(err)
	}
	if schema["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Fatalf("$schema %v", schema["$schema"])
	}
	quick, err := os.ReadFile("../../examples/quickstart/hooktrigger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	full := `listen: 0.0.0.0:8443
max_body: 10MiB
max_inflight_bytes: 104857600
read_header_timeout: 5s
log_format: json
retention: {deliveries: 14d, runs: 720h, max_runs: 1000}
tls: {cert: c.pem, key: k.pem}
triggers:
  - name: gh
    provider: github
    secret: [a, b]
    events: [push]
    rate_limit: {rate: 10/s, burst: 20}
    variables:
      - {name: v, jsonpath: $.x, default: ""}
    run:
      script: make
      env: {A: b}
      timeout: 1h30m
      concurrency: {group: g, policy: cancel-previous}
    status: {token: t}
`
	for _, tc := range []struct {
		name string
		yaml string
		bad  string // a substring of the checker's complaint; "" = valid
	}{
		{name: "Quickstart", yaml: string(quick)},
		{name: "Full", yaml: full},
		{name: "UnknownTopKey", yaml: string(quick) + "lisen: x\n", bad: "lisen: not allowed"},
		{name: "UnknownTriggerKey", yaml: strings.Replace(full, "    events:", "    sekret: x\n    events:", 1), bad: "sekret: not allowed"},
		{name: "BadProvider", yaml: strings.Replace(full, "provider: github", "provider: bitbucket", 1), bad: "provider: not one of"},
		{name: "BadPolicy", yaml: strings.Replace(full, "cancel-previous", "newest", 1), bad: "policy: not one of"},
		{name: "BadLogFormat", yaml: strings.Replace(full, "log_format: json", "log_format: xml", 1), bad: "log_format: not one of"},
		{name: "BadSize", yaml: strings.Replace(full, "max_body: 10MiB", "max_body: ten", 1), bad: "max_body: no alternative"},
		{name: "BadRate", yaml: strings.Replace(full, "10/s", "10/d", 1), bad: "rate: does not match"},
		{name: "WorkersNotANumber", yaml: strings.Replace(string(quick), "workers: 4", "workers: many", 1), bad: "workers: want integer"},
		{name: "NoTriggers", yaml: "listen: x\n", bad: "triggers is required"},
		{name: "NoRun", yaml: "triggers:\n  - name: a\n", bad: "run is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc any
			if err := yaml.Unmarshal([]byte(tc.yaml), &doc); err != nil {
				t.Fatal(err)
			}
			err := validate(schema, doc, "")
			switch {
			case tc.bad == "" && err != nil:
				t.Fatalf("valid file rejected: %v", err)
			case tc.bad != "" && (err == nil || !strings.Contains(err.Error(), tc.bad)):
				t.Fatalf("want %q, got %v", tc.bad, err)
			}
		})
	}
	t.Run("EveryHandWrittenPathExists", func(t *testing.T) {
		for path := range schemaExtra {
			if _, ok := lookup(schema, path); !ok {
				t.Errorf("schemaExtra names %q, which config.File does not have", path)
			}
		}
	})
}

// lookup finds the subschema at a schemaExtra path.
func lookup(s map[string]any, path string) (map[string]any, bool) {
	if path == "" {
		return s, true
	}
	for _, part := range strings.Split(path, ".") {
		items := strings.Count(part, "[]")
		part = strings.TrimSuffix(part, strings.Repeat("[]", items))
		if part != "" {
			props, _ := s["properties"].(map[string]any)
			next, ok := props[part].(map[string]any)
			if !ok {
				return nil, false
			}
			s = next
		}
		for ; items > 0; items-- {
			next, ok := s["items"].(map[string]any)
			if !ok {
				return nil, false
			}
			s = next
		}
	}
	return s, true
}

// validate checks doc against the subset of JSON Schema that `schema`
// emits: type, properties, additionalProperties, required, enum, items,
// oneOf, pattern, minimum, minItems.
func validate(s map[string]any, doc any, at string) error {
	name := at
	if name == "" {
		name = "(top)"
	}
	if alts, ok := s["oneOf"].([]any); ok {
		n := 0
		for _, a := range alts {
			if validate(a.(map[string]any), doc, at) == nil {
				n++
			}
		}
		if n != 1 {
			return fmt.Errorf("%s: no alternative of oneOf matches exactly (%d do)", name, n)
		}
	}
	if typ, ok := s["type"].(string); ok {
		good := false
		switch typ {
		case "object":
			_, good = doc.(map[string]any)
		case "array":
			_, good = doc.([]any)
		case "string":
			_, good = doc.(string)
		case "boolean":
			_, good = doc.(bool)
		case "integer":
			_, good = doc.(int)
		case "number":
			switch doc.(type) {
			case int, float64:
				good = true
			}
		}
		if !good {
			return fmt.Errorf("%s: want %s, got %T", name, typ, doc)
		}
	}
	if enum, ok := s["enum"].([]any); ok {
		found := false
		for _, e := range enum {
			if e == doc {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%s: not one of %v", name, enum)
		}
	}
	if pat, ok := s["pattern"].(string); ok {
		if str, ok := doc.(string); ok && !regexpMatch(pat, str) {
			return fmt.Errorf("%s: does not match %s", name, pat)
		}
	}
	if min, ok := s["minimum"].(float64); ok {
		if n, ok := doc.(int); ok && float64(n) < min {
			return fmt.Errorf("%s: below %v", name, min)
		}
	}
	switch d := doc.(type) {
	case map[string]any:
		props, _ := s["properties"].(map[string]any)
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := d[r.(string)]; !ok {
					return fmt.Errorf("%s: %s is required", name, r)
				}
			}
		}
		for k, v := range d {
			sub := k
			if at != "" {
				sub = at + "." + k
			}
			if ps, ok := props[k].(map[string]any); ok {
				if err := validate(ps, v, sub); err != nil {
					return err
				}
				continue
			}
			switch ap := s["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: not allowed", sub)
				}
			case map[string]any:
				if err := validate(ap, v, sub); err != nil {
					return err
				}
			}
		}
	case []any:
		if min, ok := s["minItems"].(float64); ok && float64(len(d)) < min {
			return fmt.Errorf("%s: fewer than %v items", name, min)
		}
		if is, ok := s["items"].(map[string]any); ok {
			for i, v := range d {
				if err := validate(is, v, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func regexpMatch(pat, s string) bool { return regexp.MustCompile(pat).MatchString(s) }
