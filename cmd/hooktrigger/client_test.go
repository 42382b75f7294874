package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLI_RunAndReplay: `hooktrigger run` starts a trigger's build through
// the running server and, with --follow, prints its log and exits with its
// success; `hooktrigger replay` runs a stored delivery again.
func TestCLI_RunAndReplay(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(t, cfg, `listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
triggers:
  - name: deploy
    provider: github
    secret: gh
    events: [push]
    branches: [main]
    variables:
      - {name: target, query: env, default: staging}
    run:
      script: 'echo "deploying $HOOKTRIGGER_BRANCH to $target"'
  - name: broken
    secret: tok
    run:
      script: 'echo trying; exit 3'
`)
	p := MustServe(t, cfg)
	payload := filepath.Join(dir, "push.json")
	writeFile(t, payload, `{"ref":"refs/heads/main","after":"4f2b1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b","repository":{"full_name":"acme/app"}}`)

	code, stdout, stderr := runCLI(t, nil, "run", "--config", cfg, "--server", p.URL, "--payload", payload, "--event", "push", "--query", "env=prod", "--follow", "deploy")
	if code != 0 || !strings.Contains(stdout, "deploying main to prod\n") || !strings.Contains(stderr, " succeeded\n") {
		t.Fatalf("run --follow deploy: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}

	code, stdout, _ = runCLI(t, nil, "run", "--config", cfg, "--server", p.URL, "--payload", payload, "--event", "push", "deploy")
	var a struct {
		Delivery string `json:"delivery"`
		Runs     []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(stdout), &a); code != 0 || err != nil || len(a.Runs) != 1 {
		t.Fatalf("run deploy: exit %d, stdout %s (%v)", code, stdout, err)
	}
	WaitRun(t, p.URL, "api-secret", a.Runs[0].ID)

	feature := filepath.Join(dir, "feature.json")
	writeFile(t, feature, `{"ref":"refs/heads/feature","repository":{"full_name":"acme/app"}}`)
	if code, _, stderr := runCLI(t, nil, "run", "--config", cfg, "--server", p.URL, "--payload", feature, "--event", "push", "deploy"); code != 1 || !strings.Contains(stderr, `not started: branch "feature" does not match`) {
		t.Errorf("run on a branch the trigger does not build: exit %d, stderr %s", code, stderr)
	}
	if code, stdout, stderr := runCLI(t, nil, "run", "--config", cfg, "--server", p.URL, "--follow", "broken"); code != 1 || !strings.Contains(stdout, "trying\n") || !strings.Contains(stderr, "1 of 1 runs did not succeed") {
		t.Errorf("run --follow of a failing build: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	if code, _, stderr := runCLI(t, nil, "run", "--config", cfg, "deploy"); code != 2 || !strings.Contains(stderr, "give --server URL") {
		t.Errorf("run without a reachable listen address: exit %d, stderr %s", code, stderr)
	}

	code, stdout, stderr = runCLI(t, nil, "replay", "--config", cfg, "--server", p.URL, a.Delivery)
	var again struct {
		Runs []struct {
			ID string `json:"id"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(stdout), &again); code != 0 || err != nil || len(again.Runs) != 1 || again.Runs[0].ID == a.Runs[0].ID {
		t.Fatalf("replay: exit %d, stdout %s, stderr %s (%v)", code, stdout, stderr, err)
	}
	if run := WaitRun(t, p.URL, "api-secret", again.Runs[0].ID); run["state"] != "succeeded" {
		t.Errorf("the replayed run: %v", run)
	}
	if code, _, stderr := runCLI(t, nil, "replay", "--config", cfg, "--server", p.URL, "no-such-delivery"); code != 1 || !strings.Contains(stderr, "404") {
		t.Errorf("replay of an unknown delivery: exit %d, stderr %s", code, stderr)
	}
}
