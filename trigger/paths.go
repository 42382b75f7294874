package trigger

import (
	"fmt"
	"slices"

	"github.com/tidwall/gjson"

	"github.com/hooktrigger/hooktrigger/extract"
)

// fileListCap is the length from which a commit's list of added, modified
// or removed files may have been cut short by the sender: GitHub caps these
// lists, so a list this long does not say which files changed.
const fileListCap = 3000

// ChangedFiles returns the files a push changed, read from the `commits`
// list of GitHub's, Gitea's and GitLab's push payloads: the union of each
// commit's added, modified and removed files, in order of appearance.
//
// known is false when the delivery does not say: the body is not JSON or
// has no commits (pull and merge request events, a push that only creates
// or moves a branch), a commit lacks a file list or has one that may be cut
// short, or the sender left commits out (GitLab's total_commits_count,
// Gitea's total_commits).
func ChangedFiles(in *extract.Input) (files []string, known bool) {
	body, ok := in.JSON()
	if !ok {
		return nil, false
	}
	commits := gjson.Get(body, "commits")
	if !commits.IsArray() {
		return nil, false
	}
	n, complete := 0, true
	seen := map[string]bool{}
	commits.ForEach(func(_, c gjson.Result) bool {
		n++
		for _, key := range [...]string{"added", "modified", "removed"} {
			list := c.Get(key)
			if !list.IsArray() {
				complete = false
				return false
			}
			count := 0
			list.ForEach(func(_, f gjson.Result) bool {
				count++
				if f.Type == gjson.String && f.Str != "" && !seen[f.Str] {
					seen[f.Str] = true
					files = append(files, f.Str)
				}
				return true
			})
			if count >= fileListCap {
				complete = false
				return false
			}
		}
		return true
	})
	if !complete || n == 0 {
		return nil, false
	}
	for _, total := range [...]string{"total_commits_count", "total_commits"} {
		if t := gjson.Get(body, total); t.Type == gjson.Number && t.Int() > int64(n) {
			return nil, false
		}
	}
	return files, true
}

// Files is what is known of the files a delivery changed.
type Files struct {
	List  []string
	Known bool // false: the list may lack some
}

// PayloadFiles is ChangedFiles as Files.
func PayloadFiles(in *extract.Input) Files {
	list, known := ChangedFiles(in)
	return Files{List: list, Known: known}
}

// matchPaths applies the paths filter to the changed files f: it holds
// when one of them matches the globs, and when which files changed is not
// known (a build too many rather than a build silently missing). It
// returns the files when known.
func (t *Trigger) matchPaths(f Files) (ok bool, why string, files []string) {
	if !f.Known {
		return true, "", nil
	}
	files = f.List
	if slices.ContainsFunc(files, t.Paths.Match) {
		return true, "", files
	}
	if len(files) == 0 {
		return false, fmt.Sprintf("the push changed no files (paths %v)", t.Paths.patterns), nil
	}
	return false, fmt.Sprintf("none of the %d changed files matches paths %v", len(files), t.Paths.patterns), nil
}
