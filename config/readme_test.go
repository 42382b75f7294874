package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/hooktrigger/hooktrigger/config"
)

// TestReadmeConfigReference: the README's config reference parses as a
// config file: valid YAML, every key one the loader knows, every value of
// its type. (It is not compiled: its secrets and paths are placeholders.)
func TestReadmeConfigReference(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "## Config reference")
	if i < 0 {
		t.Fatal("README has no Config reference section")
	}
	start := strings.Index(s[i:], "```yaml\n")
	if start < 0 {
		t.Fatal("the Config reference has no yaml block")
	}
	block := s[i+start+len("```yaml\n"):]
	block = block[:strings.Index(block, "```")]
	f, _, err := config.Parse("README.md", []byte(block))
	if err != nil {
		t.Fatalf("the README's config reference does not parse:\n%v", err)
	}
	if len(f.Triggers) == 0 || f.Triggers[0].Run == nil || len(f.Triggers[0].Paths) == 0 {
		t.Fatalf("parsed, but lost its trigger: %+v", f.Triggers)
	}
}

// TestDocsYAMLBlocks: every yaml block of the README and docs/ is valid
// YAML (most are fragments of a config file, so only the syntax is
// checked).
func TestDocsYAMLBlocks(t *testing.T) {
	files, _ := filepath.Glob("../docs/*.md")
	n := 0
	for _, name := range append(files, "../README.md") {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		rest := string(b)
		for {
			i := strings.Index(rest, "```yaml\n")
			if i < 0 {
				break
			}
			rest = rest[i+len("```yaml\n"):]
			end := strings.Index(rest, "```")
			var v any
			if err := yaml.Unmarshal([]byte(rest[:end]), &v); err != nil {
				t.Errorf("%s: a yaml block does not parse: %v\n%s", name, err, rest[:end])
			}
			rest = rest[end+3:]
			n++
		}
	}
	if n < 10 {
		t.Fatalf("found %d yaml blocks; the docs have more", n)
	}
}
