package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleEnv holds a value for every ${NAME} the examples use. A name
// missing here fails the test, so an example cannot quietly need more.
var exampleEnv = map[string]string{
	"HOOKTRIGGER_API_TOKEN":  "example-api-token",
	"GITHUB_WEBHOOK_SECRET":  "example-github-secret",
	"GITLAB_SIGNING_TOKEN":   "whsec_ZXhhbXBsZS1naXRsYWItc2lnbmluZy10b2tlbg==",
	"DEPLOY_HMAC_SECRET":     "example-deploy-secret",
	"BILLING_WEBHOOK_SECRET": "whsec_ZXhhbXBsZS1iaWxsaW5nLXNlY3JldA==",
	"JENKINS_GWT_TOKEN":      "example-gwt-token",
	"GITHUB_TOKEN":           "example-github-api-token",
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// TestExamples runs `hooktrigger check` on every examples/*/hooktrigger.yaml.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/hooktrigger.yaml")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[filepath.Base(filepath.Dir(f))] = true
	}
	for _, want := range []string{"quickstart", "github", "gitlab", "generic"} {
		if !seen[want] {
			t.Errorf("examples/%s/hooktrigger.yaml is missing", want)
		}
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f))
		t.Run(name, func(t *testing.T) {
			var env, names []string
			for _, m := range envRef.FindAllStringSubmatch(stripComments(string(mustRead(t, f))), -1) {
				v, ok := exampleEnv[m[1]]
				if !ok {
					t.Fatalf("%s uses ${%s}; add a value to exampleEnv", f, m[1])
				}
				env = append(env, m[1]+"="+v)
				names = append(names, m[1])
			}
			code, stdout, stderr := runCLI(t, env, "check", "--config", f)
			if code != 0 {
				t.Fatalf("check: exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stdout, "ok  ") {
				t.Fatalf("check printed no trigger: %q", stdout)
			}
			if len(names) == 0 {
				return
			}
			// The secrets come from the environment: empty, the file is refused.
			clear := make([]string, 0, len(names))
			for _, n := range names {
				clear = append(clear, n+"=")
			}
			code, _, stderr = runCLI(t, clear, "check", "--config", f)
			if code != 1 || !(strings.Contains(stderr, ".secret: is empty") || strings.Contains(stderr, ".token: resolves to an empty token")) {
				t.Fatalf("check with %v empty: exit %d, want 1 with an empty secret\n%s", names, code, stderr)
			}
		})
	}
}

// stripComments drops YAML comments (a # at a line's start or after a blank),
// so ${NAME} in an example's explanations is not taken for a reference.
func stripComments(yaml string) string {
	lines := strings.Split(yaml, "\n")
	for i, l := range lines {
		for j := 0; j < len(l); j++ {
			if l[j] == '#' && (j == 0 || l[j-1] == ' ' || l[j-1] == '\t') {
				lines[i] = l[:j]
				break
			}
		}
	}
	return strings.Join(lines, "\n")
}

// TestExamples_Monorepo: the monorepo example builds a service for the
// pushes that change its files or lib/, not for documentation, as its
// comments say (decided by `hooktrigger extract`, which runs nothing).
func TestExamples_Monorepo(t *testing.T) {
	env := []string{"GITHUB_WEBHOOK_SECRET=s", "GITHUB_TOKEN=t", "HOOKTRIGGER_API_TOKEN=a"}
	payload := filepath.Join(t.TempDir(), "push.json")
	for _, tc := range []struct {
		name, files string
		api, web    bool
	}{
		{"API", `"services/api/handler.go"`, true, false},
		{"Shared", `"lib/log/log.go"`, true, true},
		{"Docs", `"services/web/README.md","docs/intro.md"`, false, false},
	} {
		writeFile(t, payload, `{"ref":"refs/heads/topic","after":"4f2b1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b","commits":[{"added":[],"modified":[`+tc.files+`],"removed":[]}]}`)
		for trig, want := range map[string]bool{"api": tc.api, "web": tc.web} {
			code, stdout, stderr := runCLI(t, env, "extract", "--config", "../../examples/monorepo/hooktrigger.yaml", "--trigger", trig,
				"--event", "push", "--payload", payload)
			if code != 0 {
				t.Fatalf("%s/%s: exit %d: %s", tc.name, trig, code, stderr)
			}
			var out struct {
				Variables    map[string]string
				Filter       struct{ Matched bool }
				ChangedFiles []string `json:"changed_files"`
			}
			if err := json.Unmarshal([]byte(stdout), &out); err != nil {
				t.Fatalf("%s/%s: %v: %s", tc.name, trig, err, stdout)
			}
			if out.Filter.Matched != want || want && out.Variables["branch"] != "topic" {
				t.Errorf("%s: trigger %s fires=%v with %v, want fires=%v and branch topic", tc.name, trig, out.Filter.Matched, out.Variables, want)
			}
			if files := `"` + strings.Join(out.ChangedFiles, `","`) + `"`; want && files != tc.files {
				t.Errorf("%s: trigger %s shows changed files %s, want %s", tc.name, trig, files, tc.files)
			}
		}
	}
}
