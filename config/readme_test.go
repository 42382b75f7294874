package config_test

import (
	"os"
	"strings"
	"testing"

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
