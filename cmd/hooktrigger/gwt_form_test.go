package main

import (
	"encoding/json"
	"path/filepath"
	"testing"
)

// TestGWT_RequestVariablesReadFormFields: GWT's genericRequestVariables are
// servlet parameters, so a form post's fields count as well as the query.
func TestGWT_RequestVariablesReadFormFields(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gwt.yaml")
	writeFile(t, cfg, `triggers:
  - token: gwt-token
    causeString: form job
    genericRequestVariables:
      - key: ref
      - key: env
    regexpFilterText: $ref
    regexpFilterExpression: '^main$'
    run: {command: [true]}
`)
	payload := filepath.Join(dir, "form.txt")
	writeFile(t, payload, "ref=main&other=1")
	code, stdout, stderr := runCLI(t, nil, "extract", "--config", cfg, "--trigger", "form-job",
		"--payload", payload, "--header", "Content-Type: application/x-www-form-urlencoded", "--query", "env=prod")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var out struct {
		Variables map[string]string `json:"variables"`
		Filter    struct {
			Matched bool `json:"matched"`
		} `json:"filter"`
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatal(err, stdout)
	}
	if out.Variables["ref"] != "main" || out.Variables["env"] != "prod" || !out.Filter.Matched {
		t.Fatalf("want ref=main from the form and env=prod from the query, matched; got %s", stdout)
	}
}
