package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCheck_RejectsEveryInvalidCTSSelector writes every invalid selector of
// the RFC 9535 compliance suite into one config, as the jsonpath of its own
// variable, and expects `hooktrigger check` to name each one by file:line.
// The valid selectors go into a second config that must pass.
func TestCheck_RejectsEveryInvalidCTSSelector(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corpusDir(t), "jsonpath", "cts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var suite struct {
		Tests []struct {
			Selector string `json:"selector"`
			Invalid  bool   `json:"invalid_selector"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(data, &suite); err != nil {
		t.Fatal(err)
	}
	write := func(name string, invalid bool) (string, map[int]string) {
		var b strings.Builder
		b.WriteString("triggers:\n  - name: cts\n    allow_unsigned: true\n    run: {command: [true]}\n    variables:\n")
		lines := map[int]string{}
		line := 6
		n := 0
		for _, tc := range suite.Tests {
			if tc.Invalid != invalid {
				continue
			}
			fmt.Fprintf(&b, "      - name: v%d\n        jsonpath: %s\n", n, yamlQuote(tc.Selector))
			lines[line+1] = tc.Selector
			line += 2
			n++
		}
		path := filepath.Join(t.TempDir(), name)
		writeFile(t, path, b.String())
		return path, lines
	}

	bad, lines := write("invalid.yaml", true)
	if len(lines) != 247 {
		t.Fatalf("the suite has %d invalid selectors, want 247", len(lines))
	}
	code, _, stderr := runCLI(t, nil, "check", "--config", bad)
	if code != 1 {
		t.Fatalf("check exit %d, want 1", code)
	}
	re := regexp.MustCompile(`(?m)/invalid\.yaml:(\d+): triggers\[0\]\.variables\[\d+\]\.jsonpath: `)
	seen := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		var l int
		fmt.Sscan(m[1], &l)
		seen[m[1]] = true
		if _, ok := lines[l]; !ok {
			t.Errorf("error names line %d, which holds no selector", l)
		}
	}
	for l, sel := range lines {
		if !seen[fmt.Sprint(l)] {
			t.Errorf("invalid selector %q (line %d) was not reported", sel, l)
		}
	}
	t.Logf("check rejected %d of %d invalid selectors with file:line messages", len(seen), len(lines))

	good, glines := write("valid.yaml", false)
	code, _, stderr = runCLI(t, nil, "check", "--config", good)
	if code != 0 {
		t.Fatalf("check of the %d valid selectors: exit %d\n%s", len(glines), code, stderr)
	}
}

// yamlQuote writes s as a YAML double-quoted scalar, escaping everything
// YAML does not allow raw in a file (C0 and C1 controls, DEL, BOM).
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || (r >= 0x7f && r <= 0x9f) || r == 0xfeff || r == 0xfffe || r == 0xffff:
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
