package main

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The secrets of TestProviders_EndToEnd. They reach the server through the
// environment (${NAME} in the config) and must never show up in its answers
// or its log.
const (
	ghOldSecret  = "gh-old-secret-7d41c2"
	ghSecret     = "gh-current-secret-93af10"
	glToken      = "gl-secret-token-51be77"
	hmacSecret   = "acme-hmac-secret-0c9e3d"
	providersAPI = "providers-api-token"
)

var (
	// whsec_ + base64 of 24 random-looking bytes, as GitLab and Standard Webhooks issue them.
	glSigningKey = []byte("gitlab-signing-key-bytes")
	glSigning    = "whsec_" + base64.StdEncoding.EncodeToString(glSigningKey)
	swKey        = []byte("standard-webhooks-key-24")
	swSecret     = "whsec_" + base64.StdEncoding.EncodeToString(swKey)
)

// corpusDir finds the shared webhook corpus: $HOOKTRIGGER_CORPUS, else the
// first shared/corpus walking up from the test's directory.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	if dir := os.Getenv("HOOKTRIGGER_CORPUS"); dir != "" {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
		tb.Skipf("HOOKTRIGGER_CORPUS=%s is not a directory; skipping the corpus tests", dir)
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Skipf("no working directory (%v); skipping the corpus tests", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		c := filepath.Join(dir, "shared", "corpus")
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			return c
		}
		if filepath.Dir(dir) == dir {
			break
		}
	}
	tb.Skip("no shared/corpus above " + wd + " and HOOKTRIGGER_CORPUS unset; skipping the corpus tests")
	return ""
}

func mustRead(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// hubSig is what GitHub sends in X-Hub-Signature-256 (or, with sha1, X-Hub-Signature).
func hubSig(secret string, body []byte, sha1sum bool) string {
	if sha1sum {
		m := hmac.New(sha1.New, []byte(secret))
		m.Write(body)
		return "sha1=" + hex.EncodeToString(m.Sum(nil))
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// swSig is a Standard Webhooks v1 signature entry: "v1,<base64 HMAC-SHA256 of id.ts.body>".
func swSig(key []byte, id string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, ts)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

var deliverySeq atomic.Int64

func newDeliveryID(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), deliverySeq.Add(1))
}

// ghHeaders are the headers of a signed GitHub JSON delivery.
func ghHeaders(event, secret string, body []byte) map[string]string {
	return map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      event,
		"X-GitHub-Delivery":   newDeliveryID("gh"),
		"X-Hub-Signature-256": hubSig(secret, body, false),
		"User-Agent":          "GitHub-Hookshot/test",
	}
}

// swHeaders are the Standard Webhooks headers for body signed at ts.
func swHeaders(key []byte, ts time.Time, body []byte) map[string]string {
	id := newDeliveryID("msg")
	return map[string]string{
		"Content-Type":      "application/json",
		"Webhook-Id":        id,
		"Webhook-Timestamp": strconv.FormatInt(ts.Unix(), 10),
		"Webhook-Signature": swSig(key, id, ts.Unix(), body),
	}
}

// gitlabEvents maps each GitLab corpus file to the X-Gitlab-Event header GitLab sends with it.
var gitlabEvents = map[string]string{
	"build.json":                         "Build Hook",
	"deployment.json":                    "Deployment Hook",
	"feature_flag.json":                  "Feature Flag Hook",
	"group_merge_request.json":           "System Hook",
	"issue.json":                         "Issue Hook",
	"job.json":                           "Job Hook",
	"member.json":                        "Member Hook",
	"merge_request.json":                 "Merge Request Hook",
	"note_commit.json":                   "Note Hook",
	"note_issue.json":                    "Note Hook",
	"note_merge_request.json":            "Note Hook",
	"note_snippet.json":                  "Confidential Note Hook",
	"pipeline.json":                      "Pipeline Hook",
	"push.json":                          "Push Hook",
	"release.json":                       "Release Hook",
	"resource_access_token_group.json":   "Resource Access Token Hook",
	"resource_access_token_project.json": "Resource Access Token Hook",
	"service_merge_request.json":         "Service Hook",
	"subgroup.json":                      "Subgroup Hook",
	"tag_push.json":                      "Tag Push Hook",
	"wiki_page.json":                     "Wiki Page Hook",
}

// metaKeys are the normalised HOOKTRIGGER_* fields every test row pins.
var metaKeys = []string{"EVENT", "ACTION", "REPO", "REF", "BRANCH", "TAG", "SHA", "BEFORE", "ACTOR", "PR"}

const zeroSHA = "0000000000000000000000000000000000000000"

// fields is the expected value of each metaKeys entry; a missing key means "".
type fields map[string]string

const providersConfig = `listen: 127.0.0.1:0
data_dir: ./data
workers: 8
api_token: ` + providersAPI + `
log_level: debug
trusted_proxies: [127.0.0.1/32]
triggers:
  - name: gh
    provider: github
    secret:                      # rotation: either key verifies
      - ${HT_GH_OLD}
      - ${HT_GH_SECRET}
    variables:
      - name: ref
        jsonpath: $.ref
      - name: repo
        gjson: repository.full_name
    run:
      command: [/bin/sh, -c, 'echo "ref=$ref repo=$repo sha=$HOOKTRIGGER_SHA branch=$HOOKTRIGGER_BRANCH"']
  - name: gh-sha1
    provider: github
    secret: ${HT_GH_SECRET}
    allow_sha1: true
    run: {command: [/bin/true]}
  - name: gh-ips
    provider: github
    secret: ${HT_GH_SECRET}
    allow_ips: [10.0.0.0/8]
    run: {command: [/bin/true]}
  - name: gl
    provider: gitlab
    secret: ${HT_GL_TOKEN}
    run: {command: [/bin/true]}
  - name: gl-signed
    provider: gitlab
    secret: ${HT_GL_SIGNING}
    run: {command: [/bin/true]}
  - name: hmac
    provider: generic
    secret: ${HT_HMAC_SECRET}
    auth:
      type: hmac
      header: X-Acme-Signature
      algorithm: sha256
      encoding: hex
      prefix: "sha256="
    delivery_header: X-Acme-Delivery
    event_header: X-Acme-Event
    variables:
      - name: build
        jsonpath: $.build
    run: {command: [/bin/true]}
  - name: sw
    provider: generic
    secret: ${HT_SW_SECRET}
    auth:
      type: standard-webhooks
      tolerance: 2m
    event_header: X-Acme-Event
    run: {command: [/bin/true]}
`

// TestProviders_EndToEnd sends every corpus payload, signed the way each
// sender signs, to the real binary and checks what it accepted, refused and
// recorded.
func TestProviders_EndToEnd(t *testing.T) {
	corpus := corpusDir(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfgPath, providersConfig)
	p := MustServe(t, cfgPath,
		"HT_GH_OLD="+ghOldSecret, "HT_GH_SECRET="+ghSecret, "HT_GL_TOKEN="+glToken,
		"HT_GL_SIGNING="+glSigning, "HT_HMAC_SECRET="+hmacSecret, "HT_SW_SECRET="+swSecret)
	api := map[string]string{"Authorization": "Bearer " + providersAPI}

	getRun := func(t *testing.T, id string) map[string]any {
		t.Helper()
		r := Do(t, "GET", p.URL+"/api/runs/"+id, nil, api)
		if r.Status != http.StatusOK {
			t.Fatalf("GET run %s: %d %s", id, r.Status, r.Body)
		}
		return r.JSON(t)
	}
	countRuns := func(t *testing.T) int {
		t.Helper()
		r := Do(t, "GET", p.URL+"/api/runs?limit=1000", nil, api)
		if r.Status != http.StatusOK {
			t.Fatalf("list runs: %d %s", r.Status, r.Body)
		}
		rs, _ := r.JSON(t)["runs"].([]any)
		return len(rs)
	}
	// accepted posts and returns the one run id of a 202.
	accepted := func(t *testing.T, path string, body []byte, h map[string]string) string {
		t.Helper()
		r := Do(t, "POST", p.URL+path, body, h)
		if r.Status != http.StatusAccepted {
			t.Fatalf("POST %s: want 202, got %d %s", path, r.Status, r.Body)
		}
		runs, _ := r.JSON(t)["runs"].([]any)
		if len(runs) != 1 {
			t.Fatalf("POST %s: want one run, got %s", path, r.Body)
		}
		return runs[0].(map[string]any)["id"].(string)
	}
	checkMeta := func(t *testing.T, runID string, want fields) {
		t.Helper()
		meta, _ := getRun(t, runID)["meta"].(map[string]any)
		for _, k := range metaKeys {
			got, _ := meta["HOOKTRIGGER_"+k].(string)
			if got != want[k] {
				t.Errorf("HOOKTRIGGER_%s = %q, want %q", k, got, want[k])
			}
		}
	}

	// ghRuns holds the run of each GitHub corpus file, by "event/file".
	ghRuns := map[string]string{}
	t.Run("GitHubCorpus", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(corpus, "github", "*", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 273 {
			t.Fatalf("the GitHub corpus has %d payloads, want 273", len(files))
		}
		events := map[string]bool{}
		for _, f := range files {
			event := filepath.Base(filepath.Dir(f))
			events[event] = true
			name := event + "/" + filepath.Base(f)
			body := mustRead(t, f)
			r := Do(t, "POST", p.URL+"/hooks/gh", body, ghHeaders(event, ghSecret, body))
			if event == "ping" {
				if r.Status != http.StatusOK || r.JSON(t)["ping"] != true {
					t.Errorf("%s: want 200 ping, got %d %s", name, r.Status, r.Body)
				}
				continue
			}
			if r.Status != http.StatusAccepted {
				t.Errorf("%s: want 202, got %d %s", name, r.Status, r.Body)
				continue
			}
			runs, _ := r.JSON(t)["runs"].([]any)
			if len(runs) != 1 {
				t.Errorf("%s: want one run, got %s", name, r.Body)
				continue
			}
			ghRuns[name] = runs[0].(map[string]any)["id"].(string)
		}
		if len(events) != 60 {
			t.Errorf("the GitHub corpus has %d events, want 60", len(events))
		}
		// Every run names the event it came from.
		for name, id := range ghRuns {
			meta, _ := getRun(t, id)["meta"].(map[string]any)
			if want := strings.Split(name, "/")[0]; meta["HOOKTRIGGER_EVENT"] != want {
				t.Errorf("%s: HOOKTRIGGER_EVENT = %v, want %s", name, meta["HOOKTRIGGER_EVENT"], want)
			}
		}
	})

	t.Run("GitHubFields", func(t *testing.T) {
		if len(ghRuns) == 0 {
			t.Skip("GitHubCorpus did not run")
		}
		for _, tc := range []struct {
			name string
			file string
			want fields
		}{
			{name: "Push", file: "push/with-new-branch.payload.json", want: fields{
				"EVENT": "push", "REPO": "Codertocat/Hello-World", "REF": "refs/heads/master", "BRANCH": "master",
				"SHA": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "BEFORE": zeroSHA, "ACTOR": "Codertocat"}},
			{name: "TagPush", file: "push/payload.json", want: fields{
				"EVENT": "push", "REPO": "Codertocat/Hello-World", "REF": "refs/tags/simple-tag", "TAG": "simple-tag",
				"SHA": zeroSHA, "BEFORE": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "ACTOR": "Codertocat"}},
			{name: "PullRequest", file: "pull_request/opened.payload.json", want: fields{
				"EVENT": "pull_request", "ACTION": "opened", "REPO": "Codertocat/Hello-World", "REF": "refs/pull/2/head",
				"BRANCH": "changes", "SHA": "ec26c3e57ca3a959ca5aad62de7213c562f8c821", "ACTOR": "Codertocat", "PR": "2"}},
			{name: "Release", file: "release/published.payload.json", want: fields{
				"EVENT": "release", "ACTION": "published", "REPO": "Codertocat/Hello-World", "REF": "refs/tags/0.0.1",
				"TAG": "0.0.1", "ACTOR": "Codertocat"}},
			{name: "IssueComment", file: "issue_comment/created.payload.json", want: fields{
				"EVENT": "issue_comment", "ACTION": "created", "REPO": "Codertocat/Hello-World", "ACTOR": "Codertocat"}},
			{name: "WorkflowRun", file: "workflow_run/completed.with-pull-requests.payload.json", want: fields{
				"EVENT": "workflow_run", "ACTION": "completed", "REPO": "octo-org/octo-repo", "BRANCH": "master",
				"SHA": "3484a3fb816e0859fd6e1cea078d76385ff50625", "ACTOR": "Codertocat", "PR": "2"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				id, ok := ghRuns[tc.file]
				if !ok {
					t.Fatalf("no run for %s", tc.file)
				}
				checkMeta(t, id, tc.want)
			})
		}
	})

	// Variants of corpus payloads for cases the corpus lacks.
	edit := func(t *testing.T, file string, change func(m map[string]any)) []byte {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(mustRead(t, filepath.Join(corpus, "github", file)), &m); err != nil {
			t.Fatal(err)
		}
		change(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	t.Run("GitHubBranchDelete", func(t *testing.T) {
		body := edit(t, "push/with-new-branch.payload.json", func(m map[string]any) {
			m["ref"], m["before"], m["after"], m["deleted"], m["created"] = "refs/heads/feature/x", "6113728f27ae82c7b1a177c8d03f9e96e0adf246", zeroSHA, true, false
		})
		id := accepted(t, "/hooks/gh", body, ghHeaders("push", ghSecret, body))
		checkMeta(t, id, fields{"EVENT": "push", "REPO": "Codertocat/Hello-World", "REF": "refs/heads/feature/x", "BRANCH": "feature/x",
			"SHA": zeroSHA, "BEFORE": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "ACTOR": "Codertocat"})
	})
	t.Run("GitHubCommentOnPullRequest", func(t *testing.T) {
		body := edit(t, "issue_comment/created.payload.json", func(m map[string]any) {
			m["issue"].(map[string]any)["pull_request"] = map[string]any{"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"}
		})
		id := accepted(t, "/hooks/gh", body, ghHeaders("issue_comment", ghSecret, body))
		checkMeta(t, id, fields{"EVENT": "issue_comment", "ACTION": "created", "REPO": "Codertocat/Hello-World",
			"REF": "refs/pull/1/head", "ACTOR": "Codertocat", "PR": "1"})
	})

	t.Run("GitHubPing", func(t *testing.T) {
		before := countRuns(t)
		body := mustRead(t, filepath.Join(corpus, "github", "ping", "payload.json"))
		r := Do(t, "POST", p.URL+"/hooks/gh", body, ghHeaders("ping", ghSecret, body))
		if r.Status != http.StatusOK {
			t.Fatalf("want 200, got %d %s", r.Status, r.Body)
		}
		m := r.JSON(t)
		if m["zen"] != "Anything added dilutes everything else." || m["runs"] != nil {
			t.Fatalf("ping reply: %s", r.Body)
		}
		if after := countRuns(t); after != before {
			t.Fatalf("a ping started runs: %d → %d", before, after)
		}
	})

	t.Run("GitHubFormEncoded", func(t *testing.T) {
		js := mustRead(t, filepath.Join(corpus, "github", "push", "with-new-branch.payload.json"))
		body := []byte("payload=" + url.QueryEscape(string(js)))
		h := ghHeaders("push", ghSecret, body)
		h["Content-Type"] = "application/x-www-form-urlencoded"
		id := accepted(t, "/hooks/gh", body, h)
		checkMeta(t, id, fields{"EVENT": "push", "REPO": "Codertocat/Hello-World", "REF": "refs/heads/master", "BRANCH": "master",
			"SHA": "6113728f27ae82c7b1a177c8d03f9e96e0adf246", "BEFORE": zeroSHA, "ACTOR": "Codertocat"})
		run := WaitRun(t, p.URL, providersAPI, id)
		if run["state"] != "succeeded" {
			t.Fatalf("run: %v", run)
		}
		vars, _ := run["vars"].(map[string]any)
		if vars["ref"] != "refs/heads/master" || vars["repo"] != "Codertocat/Hello-World" {
			t.Fatalf("variables from the payload field: %v", vars)
		}
		log := Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, api)
		want := "ref=refs/heads/master repo=Codertocat/Hello-World sha=6113728f27ae82c7b1a177c8d03f9e96e0adf246 branch=master"
		if !strings.Contains(string(log.Body), want) {
			t.Fatalf("the build saw %q, want %q", log.Body, want)
		}
	})

	glRuns := map[string]map[string]string{} // mode → file → run id
	t.Run("GitLabCorpus", func(t *testing.T) {
		files, err := filepath.Glob(filepath.Join(corpus, "gitlab", "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) != 21 {
			t.Fatalf("the GitLab corpus has %d payloads, want 21", len(files))
		}
		for _, tc := range []struct {
			name    string
			path    string
			headers func(body []byte) map[string]string
		}{
			{name: "SecretToken", path: "/hooks/gl", headers: func([]byte) map[string]string {
				return map[string]string{"Content-Type": "application/json", "X-Gitlab-Token": glToken, "X-Gitlab-Event-UUID": "shared-uuid"}
			}},
			{name: "SigningToken", path: "/hooks/gl-signed", headers: func(body []byte) map[string]string {
				h := swHeaders(glSigningKey, time.Now(), body)
				h["X-Gitlab-Event-UUID"] = "shared-uuid"
				return h
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				glRuns[tc.name] = map[string]string{}
				for _, f := range files {
					name := filepath.Base(f)
					event, ok := gitlabEvents[name]
					if !ok {
						t.Errorf("%s: no X-Gitlab-Event known for this file", name)
						continue
					}
					body := mustRead(t, f)
					h := tc.headers(body)
					h["X-Gitlab-Event"] = event
					r := Do(t, "POST", p.URL+tc.path, body, h)
					if r.Status != http.StatusAccepted {
						t.Errorf("%s: want 202, got %d %s", name, r.Status, r.Body)
						continue
					}
					runs, _ := r.JSON(t)["runs"].([]any)
					if len(runs) != 1 {
						t.Errorf("%s: want one run, got %s", name, r.Body)
						continue
					}
					glRuns[tc.name][name] = runs[0].(map[string]any)["id"].(string)
				}
				// X-Gitlab-Event-UUID is the same on every delivery above, yet
				// none was taken for a redelivery.
				if len(glRuns[tc.name]) != len(files) {
					t.Errorf("%d of %d deliveries made a run", len(glRuns[tc.name]), len(files))
				}
			})
		}
	})

	t.Run("GitLabFields", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			file string
			want fields
		}{
			{name: "Push", file: "push.json", want: fields{
				"EVENT": "push", "REPO": "mike/diaspora", "REF": "refs/heads/master", "BRANCH": "master",
				"SHA": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "BEFORE": "95790bf891e76fee5e1747ab589903a6a1f80f22", "ACTOR": "jsmith"}},
			{name: "TagPush", file: "tag_push.json", want: fields{
				"EVENT": "tag_push", "REPO": "jsmith/example", "REF": "refs/tags/v1.0.0", "TAG": "v1.0.0",
				"SHA": "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", "BEFORE": zeroSHA, "ACTOR": "jsmith"}},
			{name: "MergeRequest", file: "merge_request.json", want: fields{
				"EVENT": "merge_request", "ACTION": "open", "REPO": "gitlabhq/gitlab-test", "REF": "refs/merge-requests/1/head",
				"BRANCH": "ms-viewport", "SHA": "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "ACTOR": "user1", "PR": "1"}},
			{name: "NoteOnMergeRequest", file: "note_merge_request.json", want: fields{
				"EVENT": "note", "ACTION": "create", "REPO": "gitlab-org/gitlab-test", "REF": "refs/merge-requests/1/head",
				"BRANCH": "master", "SHA": "562e173be03b8ff2efb05345d12df18815438a4b", "ACTOR": "root", "PR": "1"}},
			{name: "Pipeline", file: "pipeline.json", want: fields{
				"EVENT": "pipeline", "ACTION": "success", "REPO": "gitlab-org/gitlab-test", "REF": "refs/heads/master",
				"BRANCH": "master", "SHA": "bcbb5ec396a2c0f828686f14fac9b80b780504f2", "BEFORE": "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
				"ACTOR": "user1", "PR": "1"}},
		} {
			for _, mode := range []string{"SecretToken", "SigningToken"} {
				t.Run(tc.name+"/"+mode, func(t *testing.T) {
					id, ok := glRuns[mode][tc.file]
					if !ok {
						t.Fatalf("no run for %s", tc.file)
					}
					checkMeta(t, id, tc.want)
				})
			}
		}
	})

	t.Run("Generic", func(t *testing.T) {
		body := []byte(`{"build":"nightly-42"}`)
		mac := hubSig(hmacSecret, body, false)
		for _, tc := range []struct {
			name string
			sig  string
		}{
			{name: "LowerHex", sig: mac},
			{name: "UpperHexAndPrefix", sig: "SHA256=" + strings.ToUpper(strings.TrimPrefix(mac, "sha256="))},
		} {
			t.Run("HMAC/"+tc.name, func(t *testing.T) {
				id := accepted(t, "/hooks/hmac", body, map[string]string{
					"Content-Type": "application/json", "X-Acme-Signature": tc.sig,
					"X-Acme-Event": "nightly", "X-Acme-Delivery": newDeliveryID("acme"),
				})
				run := getRun(t, id)
				meta, _ := run["meta"].(map[string]any)
				vars, _ := run["vars"].(map[string]any)
				if meta["HOOKTRIGGER_EVENT"] != "nightly" || meta["HOOKTRIGGER_PROVIDER"] != "generic" || vars["build"] != "nightly-42" {
					t.Fatalf("run: meta %v vars %v", meta, vars)
				}
			})
		}
		t.Run("StandardWebhooks", func(t *testing.T) {
			h := swHeaders(swKey, time.Now().Add(-90*time.Second), body) // within the 2m tolerance
			h["X-Acme-Event"] = "invoice.paid"
			id := accepted(t, "/hooks/sw", body, h)
			meta, _ := getRun(t, id)["meta"].(map[string]any)
			if meta["HOOKTRIGGER_EVENT"] != "invoice.paid" || meta["HOOKTRIGGER_DELIVERY"] != h["Webhook-Id"] {
				t.Fatalf("meta: %v", meta)
			}
		})
	})

	// Everything the server must never reveal.
	var leaks []string
	t.Run("Unauthorized", func(t *testing.T) {
		before := countRuns(t)
		body := mustRead(t, filepath.Join(corpus, "github", "push", "with-new-branch.payload.json"))
		good := hubSig(ghSecret, body, false)
		changed := append([]byte(nil), body...)
		changed[len(changed)/2] ^= 0x01
		wrong := hubSig("not-the-secret", body, false)
		swBody := []byte(`{"object_kind":"push"}`)
		now := time.Now()
		leaks = append(leaks, ghSecret, ghOldSecret, glToken, glSigning, swSecret, hmacSecret,
			strings.TrimPrefix(good, "sha256="), strings.TrimPrefix(hubSig(ghSecret, changed, false), "sha256="),
			strings.TrimPrefix(hubSig(ghSecret, body, true), "sha1="),
			strings.TrimPrefix(hubSig(hmacSecret, body, false), "sha256="))
		with := func(h map[string]string, kv ...string) map[string]string {
			out := map[string]string{}
			for k, v := range h {
				out[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					delete(out, kv[i])
					continue
				}
				out[kv[i]] = kv[i+1]
			}
			return out
		}
		gh := ghHeaders("push", ghSecret, body)
		stale := swHeaders(glSigningKey, now.Add(-10*time.Minute), swBody)
		future := swHeaders(glSigningKey, now.Add(10*time.Minute), swBody)
		leaks = append(leaks, strings.TrimPrefix(stale["Webhook-Signature"], "v1,"), strings.TrimPrefix(future["Webhook-Signature"], "v1,"))
		for _, tc := range []struct {
			name   string
			path   string
			body   []byte
			header map[string]string
		}{
			{name: "GitHub/WrongSecret", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", wrong)},
			{name: "GitHub/BodyChangedByOneByte", path: "/hooks/gh", body: changed, header: gh},
			{name: "GitHub/TruncatedSignature", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", good[:len(good)-2])},
			{name: "GitHub/NonHexSignature", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", good[:len(good)-1]+"z")},
			{name: "GitHub/WrongPrefix", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", "sha512="+strings.TrimPrefix(good, "sha256="))},
			{name: "GitHub/MissingHeader", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", "")},
			{name: "GitHub/SHA1NotAllowed", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", "", "X-Hub-Signature", hubSig(ghSecret, body, true))},
			{name: "GitHub/UnlistedKey", path: "/hooks/gh", body: body, header: with(gh, "X-Hub-Signature-256", hubSig("gh-retired-secret", body, false))},
			{name: "GitLab/WrongToken", path: "/hooks/gl", body: swBody, header: map[string]string{"X-Gitlab-Token": glToken + "x", "X-Gitlab-Event": "Push Hook"}},
			{name: "GitLab/MissingToken", path: "/hooks/gl", body: swBody, header: map[string]string{"X-Gitlab-Event": "Push Hook"}},
			{name: "GitLab/TokenWhereSigningTokenIsSet", path: "/hooks/gl-signed", body: swBody, header: map[string]string{"X-Gitlab-Token": glSigning, "X-Gitlab-Event": "Push Hook"}},
			{name: "GitLab/StaleTimestamp", path: "/hooks/gl-signed", body: swBody, header: stale},
			{name: "GitLab/FutureTimestamp", path: "/hooks/gl-signed", body: swBody, header: future},
			{name: "GitLab/UnknownVersionOnly", path: "/hooks/gl-signed", body: swBody, header: func() map[string]string {
				h := swHeaders(glSigningKey, now, swBody)
				h["Webhook-Signature"] = "v1a," + strings.TrimPrefix(h["Webhook-Signature"], "v1,")
				return h
			}()},
			{name: "StandardWebhooks/StaleTimestamp", path: "/hooks/sw", body: swBody, header: swHeaders(swKey, now.Add(-3*time.Minute), swBody)},
			{name: "Generic/HMACWrongPrefix", path: "/hooks/hmac", body: body, header: map[string]string{"X-Acme-Signature": strings.TrimPrefix(hubSig(hmacSecret, body, false), "sha256=")}},
			{name: "Generic/HMACMissing", path: "/hooks/hmac", body: body, header: nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := Do(t, "POST", p.URL+tc.path, tc.body, tc.header)
				if r.Status != http.StatusUnauthorized {
					t.Fatalf("want 401, got %d %s", r.Status, r.Body)
				}
				for _, l := range leaks {
					if strings.Contains(strings.ToLower(string(r.Body)), strings.ToLower(l)) {
						t.Errorf("the answer reveals a secret or an expected MAC: %s", r.Body)
					}
				}
			})
		}
		if after := countRuns(t); after != before {
			t.Fatalf("refused deliveries started runs: %d → %d", before, after)
		}
	})

	t.Run("AllowSHA1", func(t *testing.T) {
		body := []byte(`{"ref":"refs/heads/main","after":"` + strings.Repeat("a", 40) + `","repository":{"full_name":"o/r"}}`)
		h := ghHeaders("push", ghSecret, body)
		delete(h, "X-Hub-Signature-256")
		h["X-Hub-Signature"] = hubSig(ghSecret, body, true)
		accepted(t, "/hooks/gh-sha1", body, h)
	})

	t.Run("Redelivery", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			path    string
			headers func(body []byte) map[string]string
		}{
			{name: "XGitHubDelivery", path: "/hooks/gh", headers: func(body []byte) map[string]string { return ghHeaders("push", ghSecret, body) }},
			{name: "WebhookId", path: "/hooks/gl-signed", headers: func(body []byte) map[string]string {
				h := swHeaders(glSigningKey, time.Now(), body)
				h["X-Gitlab-Event"] = "Push Hook"
				return h
			}},
			{name: "IdempotencyKey", path: "/hooks/gl", headers: func([]byte) map[string]string {
				return map[string]string{"X-Gitlab-Token": glToken, "X-Gitlab-Event": "Push Hook", "Idempotency-Key": newDeliveryID("idem")}
			}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				body := mustRead(t, filepath.Join(corpus, "gitlab", "push.json"))
				if tc.path == "/hooks/gh" {
					body = mustRead(t, filepath.Join(corpus, "github", "push", "with-new-branch.payload.json"))
				}
				h := tc.headers(body)
				first := Do(t, "POST", p.URL+tc.path, body, h)
				if first.Status != http.StatusAccepted {
					t.Fatalf("first: want 202, got %d %s", first.Status, first.Body)
				}
				before := countRuns(t)
				second := Do(t, "POST", p.URL+tc.path, body, h)
				if second.Status != http.StatusOK {
					t.Fatalf("second: want 200, got %d %s", second.Status, second.Body)
				}
				a, b := first.JSON(t), second.JSON(t)
				if b["duplicate"] != true || b["delivery"] != a["delivery"] {
					t.Fatalf("second answer: %s (first %s)", second.Body, first.Body)
				}
				if ids(a["runs"]) == "" || ids(a["runs"]) != ids(b["runs"]) {
					t.Fatalf("the redelivery names runs %s, the original %s", ids(b["runs"]), ids(a["runs"]))
				}
				if after := countRuns(t); after != before {
					t.Fatalf("the redelivery started runs: %d → %d", before, after)
				}
			})
		}
	})

	t.Run("KeyRotation", func(t *testing.T) {
		body := mustRead(t, filepath.Join(corpus, "github", "push", "with-new-branch.payload.json"))
		for _, tc := range []struct {
			name   string
			secret string
		}{
			{name: "FirstKey", secret: ghOldSecret},
			{name: "SecondKey", secret: ghSecret},
		} {
			t.Run(tc.name, func(t *testing.T) {
				accepted(t, "/hooks/gh", body, ghHeaders("push", tc.secret, body))
			})
		}
	})

	t.Run("AllowIPs", func(t *testing.T) {
		body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`)
		for _, tc := range []struct {
			name   string
			xff    string
			status int
		}{
			{name: "LoopbackRefused", status: http.StatusForbidden},
			{name: "ForwardedFromAllowed", xff: "10.1.2.3", status: http.StatusAccepted},
			{name: "ForwardedFromOther", xff: "192.168.1.7", status: http.StatusForbidden},
			{name: "SpoofedLeftHop", xff: "10.1.2.3, 192.168.1.7", status: http.StatusForbidden},
		} {
			t.Run(tc.name, func(t *testing.T) {
				h := ghHeaders("push", ghSecret, body)
				if tc.xff != "" {
					h["X-Forwarded-For"] = tc.xff
				}
				if r := Do(t, "POST", p.URL+"/hooks/gh-ips", body, h); r.Status != tc.status {
					t.Fatalf("want %d, got %d %s", tc.status, r.Status, r.Body)
				}
			})
		}
	})

	t.Run("LogsRevealNoSecret", func(t *testing.T) {
		if len(leaks) == 0 {
			t.Skip("Unauthorized did not run")
		}
		logs := strings.ToLower(p.Logs())
		if !strings.Contains(logs, "unauthorized") {
			t.Fatalf("the log does not mention the refused deliveries; is it captured?\n%s", tail(p.Logs(), 2000))
		}
		for _, l := range leaks {
			if strings.Contains(logs, strings.ToLower(l)) {
				t.Errorf("the log contains a secret or an expected MAC (%d chars)", len(l))
			}
		}
	})
}

// TestProviders_UntrustedForwardedFor: without trusted_proxies the socket
// address counts and X-Forwarded-For is ignored.
func TestProviders_UntrustedForwardedFor(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfgPath, `listen: 127.0.0.1:0
data_dir: ./data
triggers:
  - name: gh-ips
    provider: github
    secret: ${HT_GH_SECRET}
    allow_ips: [10.0.0.0/8]
    run: {command: [/bin/true]}
`)
	p := MustServe(t, cfgPath, "HT_GH_SECRET="+ghSecret)
	body := []byte(`{"ref":"refs/heads/main","repository":{"full_name":"o/r"}}`)
	h := ghHeaders("push", ghSecret, body)
	h["X-Forwarded-For"] = "10.1.2.3"
	if r := Do(t, "POST", p.URL+"/hooks/gh-ips", body, h); r.Status != http.StatusForbidden {
		t.Fatalf("want 403, got %d %s", r.Status, r.Body)
	}
}

// ids lists the run ids of a reply's "runs", sorted and joined.
func ids(runs any) string {
	list, _ := runs.([]any)
	var out []string
	for _, r := range list {
		if m, ok := r.(map[string]any); ok {
			out = append(out, fmt.Sprint(m["id"]))
		}
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
