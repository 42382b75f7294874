package trigger_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// commitsBody is a push whose commits changed the given files, each commit
// written as added|modified|removed lists separated by ";".
func commitsBody(extra string, commits ...string) string {
	var cs []string
	for _, c := range commits {
		lists := strings.Split(c, ";")
		for len(lists) < 3 {
			lists = append(lists, "")
		}
		q := func(s string) string {
			if s == "" {
				return "[]"
			}
			return `["` + strings.ReplaceAll(s, ",", `","`) + `"]`
		}
		cs = append(cs, fmt.Sprintf(`{"id":"c","added":%s,"modified":%s,"removed":%s}`, q(lists[0]), q(lists[1]), q(lists[2])))
	}
	return `{"ref":"refs/heads/main","commits":[` + strings.Join(cs, ",") + `]` + extra + `}`
}

func TestChangedFiles(t *testing.T) {
	many := make([]string, 3000)
	for i := range many {
		many[i] = fmt.Sprintf("gen/f%d.go", i)
	}
	for _, tc := range []struct {
		name  string
		body  string
		files []string
		known bool
	}{
		{"OneCommit", commitsBody("", "a.go;b/c.go;d.md"), []string{"a.go", "b/c.go", "d.md"}, true},
		{"UnionInOrderWithoutRepeats", commitsBody("", ";x.go", "y.go;x.go", ";;x.go"), []string{"x.go", "y.go"}, true},
		{"EmptyCommit", commitsBody("", ""), nil, true},
		{"NoCommits", `{"ref":"refs/heads/main","commits":[]}`, nil, false},
		{"NoCommitsKey", `{"action":"opened","pull_request":{"number":1}}`, nil, false},
		{"CommitsNotAList", `{"commits":{"added":["a"]}}`, nil, false},
		{"CommitWithoutLists", `{"commits":[{"id":"c","message":"m"}]}`, nil, false},
		{"ListMayBeCut", `{"commits":[{"added":["` + strings.Join(many, `","`) + `"],"modified":[],"removed":[]}]}`, nil, false},
		{"GitLabLeftCommitsOut", commitsBody(`,"total_commits_count":21`, "a.go"), nil, false},
		{"GitLabAllCommits", commitsBody(`,"total_commits_count":1`, "a.go"), []string{"a.go"}, true},
		{"GiteaLeftCommitsOut", commitsBody(`,"total_commits":6`, "a.go"), nil, false},
		{"NotJSON", `commits: [a.go]`, nil, false},
		{"TruncatedJSON", commitsBody("", "a.go")[:30], nil, false},
		{"NonStringEntriesIgnored", `{"commits":[{"added":[1,null,"a.go",""],"modified":[],"removed":[]}]}`, []string{"a.go"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := extract.NewInput([]byte(tc.body), http.Header{"Content-Type": {"application/json"}}, nil)
			files, known := trigger.ChangedFiles(in)
			if known != tc.known || !slices.Equal(files, tc.files) {
				t.Errorf("got %q known=%v, want %q known=%v", files, known, tc.files, tc.known)
			}
		})
	}

	// GitHub's form-encoded deliveries carry the document in payload=.
	form := "payload=" + url.QueryEscape(commitsBody("", ";src/x.go"))
	in := extract.NewInput([]byte(form), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, nil)
	if files, known := trigger.ChangedFiles(in); !known || !slices.Equal(files, []string{"src/x.go"}) {
		t.Errorf("form delivery: got %q known=%v", files, known)
	}
}

func TestTrigger_Paths(t *testing.T) {
	push := &providers.Info{Event: "push", Ref: "refs/heads/main", Branch: "main"}
	pr := &providers.Info{Event: "pull_request", Action: "opened", Branch: "feature"}
	for _, tc := range []struct {
		name   string
		paths  []string
		info   *providers.Info
		body   string
		reason string // "" when it fires
	}{
		{"OneFileMatches", []string{"services/api/**"}, push, commitsBody("", "README.md;services/api/main.go"), ""},
		{"NoFileMatches", []string{"services/api/**"}, push, commitsBody("", "README.md;services/web/x.ts"), `none of the 2 changed files matches paths [services/api/**]`},
		{"DoubleStarIncludesTheDirectory", []string{"docs/**"}, push, commitsBody("", "docs"), ""},
		{"SingleStarOneSegment", []string{"*.go"}, push, commitsBody("", "cmd/main.go"), "none of the 1 changed files"},
		{"AnyDepth", []string{"**/*.go"}, push, commitsBody("", "cmd/main.go"), ""},
		{"RemovedFilesCount", []string{"api/**"}, push, commitsBody("", ";;api/old.go"), ""},
		{"LaterCommitCounts", []string{"api/**"}, push, commitsBody("", "a.md", ";api/x.go"), ""},
		{"ExcludeOnlyFiresOnAnyOther", []string{"!docs/**", "!**/*.md"}, push, commitsBody("", "docs/a.md;src/x.go"), ""},
		{"ExcludeOnlyAllExcluded", []string{"!docs/**", "!**/*.md"}, push, commitsBody("", "docs/a.txt;README.md"), "none of the 2 changed files"},
		{"IncludeMinusExclude", []string{"api/**", "!api/**/*_test.go"}, push, commitsBody("", ";api/x_test.go"), "none of the 1 changed files"},
		{"EmptyCommitSkipped", []string{"**"}, push, commitsBody("", ""), "the push changed no files"},
		{"UnknownFires", []string{"api/**"}, push, `{"ref":"refs/heads/main","commits":[]}`, ""},
		{"PullRequestFires", []string{"api/**"}, pr, `{"action":"opened","number":1}`, ""},
		{"GitLabTruncatedFires", []string{"api/**"}, push, commitsBody(`,"total_commits_count":40`, "README.md"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := &trigger.Trigger{Name: "t", Paths: mustGlobs(t, tc.paths...)}
			d := decide(t, tr, tc.info, []byte(tc.body))
			if tc.reason == "" {
				if !d.Fire {
					t.Fatalf("did not fire: %s", d.Reason)
				}
				return
			}
			if d.Fire || !strings.Contains(d.Reason, tc.reason) {
				t.Fatalf("fire=%v reason %q, want a skip with %q", d.Fire, d.Reason, tc.reason)
			}
		})
	}
}

func FuzzChangedFiles(f *testing.F) {
	f.Add(commitsBody("", "a.go;b.go;c.go"))
	f.Add(commitsBody(`,"total_commits_count":3`, "a", ";b"))
	f.Add(`{"commits":[{"added":[1,"x"],"modified":null,"removed":[]}]}`)
	f.Add(`{"commits":"x"}`)
	f.Fuzz(func(t *testing.T, body string) {
		in := extract.NewInput([]byte(body), http.Header{"Content-Type": {"application/json"}}, nil)
		files, known := trigger.ChangedFiles(in)
		if !known && files != nil {
			t.Fatalf("unknown, yet files %q", files)
		}
		if known && !json.Valid([]byte(body)) {
			t.Fatalf("files known from a body that is not JSON: %q", body)
		}
		seen := map[string]bool{}
		for _, f := range files {
			if f == "" || seen[f] {
				t.Fatalf("file %q: empty or repeated", f)
			}
			seen[f] = true
		}
	})
}
