package trigger_test

import (
	"bufio"
	"bytes"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// celFixtures are the deliveries the CEL examples of the docs are described
// against.
var celFixtures = map[string]struct {
	info   *providers.Info
	header http.Header
	query  url.Values
	body   string
}{
	"push": {
		info:   &providers.Info{Event: "push", Ref: "refs/heads/main", Branch: "main", Actor: "alice"},
		header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/json"}},
		query:  url.Values{"env": {"prod"}},
		body: `{"ref":"refs/heads/main","before":"4f2b1c9e04a1b7c3d5e6f7a8b9c0d1e2f3a4b5c6","after":"9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b",
			"repository":{"full_name":"acme/app","private":false},"pusher":{"name":"alice"},
			"head_commit":{"message":"fix: the parser"},
			"commits":[{"modified":["README.md"],"added":[],"removed":[]},{"modified":["src/parse.go"],"added":[],"removed":[]}]}`,
	},
	// A push that deletes the branch old, as GitHub sends it.
	"deletion": {
		info:   &providers.Info{Event: "push", Ref: "refs/heads/old", Branch: "old", Actor: "alice", SHA: "0000000000000000000000000000000000000000"},
		header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/json"}},
		query:  url.Values{},
		body: `{"ref":"refs/heads/old","before":"4f2b1c9e04a1b7c3d5e6f7a8b9c0d1e2f3a4b5c6","after":"0000000000000000000000000000000000000000",
			"created":false,"deleted":true,"repository":{"full_name":"acme/app","private":false},"pusher":{"name":"alice"},
			"head_commit":null,"commits":[]}`,
	},
	"pull_request": {
		info:   &providers.Info{Event: "pull_request", Action: "opened", Branch: "feature/x", Actor: "bob", PR: "7"},
		header: http.Header{"X-Github-Event": {"pull_request"}, "Content-Type": {"application/json"}},
		query:  url.Values{},
		body: `{"action":"opened","number":7,"repository":{"full_name":"acme/app","private":false},
			"pull_request":{"draft":false,"user":{"login":"bob"},"author_association":"MEMBER","base":{"ref":"main"},"head":{"ref":"feature/x"},"labels":[{"name":"ci"}]}}`,
	},
}

type celExample struct {
	file, expr string
	line       int
	trueFor    []string
}

// docCELExamples returns every ```cel block of the README and the docs.
func docCELExamples(t *testing.T) []celExample {
	t.Helper()
	files, err := filepath.Glob("../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../README.md")
	var out []celExample
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		n := 0
		var cur *celExample
		for sc.Scan() {
			n++
			line := sc.Text()
			switch {
			case cur == nil && strings.HasPrefix(line, "```cel"):
				cur = &celExample{file: filepath.Base(f), line: n, trueFor: strings.Fields(strings.TrimPrefix(line, "```cel"))}
			case cur != nil && strings.HasPrefix(line, "```"):
				out = append(out, *cur)
				cur = nil
			case cur != nil:
				cur.expr += line + "\n"
			}
		}
		if cur != nil {
			t.Fatalf("%s:%d: unterminated cel block", f, cur.line)
		}
	}
	return out
}

func TestDocs_CELExamples(t *testing.T) {
	examples := docCELExamples(t)
	if len(examples) < 5 {
		t.Fatalf("found only %d CEL examples in docs/", len(examples))
	}
	for _, ex := range examples {
		name := ex.file + ":" + strings.TrimSpace(strings.SplitN(ex.expr, "\n", 2)[0])
		t.Run(name, func(t *testing.T) {
			if len(ex.trueFor) == 0 {
				t.Fatalf("line %d: the block names no fixture it is true for (```cel push …)", ex.line)
			}
			for _, fx := range ex.trueFor {
				if _, ok := celFixtures[fx]; !ok {
					t.Fatalf("line %d: unknown fixture %q", ex.line, fx)
				}
			}
			f, err := trigger.CompileCEL(ex.expr)
			if err != nil {
				t.Fatalf("line %d: %v", ex.line, err)
			}
			for fname, fx := range celFixtures {
				tr := &trigger.Trigger{
					Name:      "doc",
					Variables: []*extract.Variable{mustVar(t, extract.Spec{Name: "ref", JSONPath: "$.ref", RegexpFilter: "^refs/heads/"})},
					Filters:   []trigger.Filter{f},
				}
				body := []byte(fx.body)
				d := tr.Decide(&providers.Request{Header: fx.header, Query: fx.query, Body: body}, fx.info, extract.NewInput(body, fx.header, fx.query))
				if want := slices.Contains(ex.trueFor, fname); d.Fire != want {
					t.Errorf("line %d: on %s it gives %v (%s), the docs say %v", ex.line, fname, d.Fire, d.Reason, want)
				}
			}
		})
	}
}
