package main

import (
	"encoding/json"
	"fmt"
	"strings"
)

// PushPayload returns a GitHub push payload of about size bytes (0: about
// 8.8 KB, a typical push of three commits). The shape follows GitHub's push
// event, so the ten benchmark variables all resolve.
func PushPayload(size int) []byte {
	user := map[string]any{"name": "Octo Cat", "email": "octocat@example.org", "username": "octocat"}
	owner := map[string]any{"login": "acme", "id": 1, "type": "Organization", "site_admin": false,
		"url": "https://api.example.org/users/acme", "html_url": "https://example.org/acme"}
	repo := map[string]any{"id": 123456, "name": "app", "full_name": "acme/app", "private": false, "owner": owner,
		"html_url": "https://example.org/acme/app", "description": "The app", "fork": false,
		"url": "https://example.org/acme/app", "default_branch": "main", "master_branch": "main",
		"size": 1024, "stargazers_count": 10, "watchers_count": 10, "language": "Go", "has_issues": true,
		"topics": []string{"ci", "webhooks"}, "visibility": "public", "forks": 1, "open_issues": 3}
	for _, k := range []string{"forks_url", "keys_url", "collaborators_url", "teams_url", "hooks_url", "issue_events_url",
		"events_url", "assignees_url", "branches_url", "tags_url", "blobs_url", "git_tags_url", "git_refs_url", "trees_url",
		"statuses_url", "languages_url", "stargazers_url", "contributors_url", "subscribers_url", "subscription_url",
		"commits_url", "git_commits_url", "comments_url", "issue_comment_url", "contents_url", "compare_url", "merges_url",
		"archive_url", "downloads_url", "issues_url", "pulls_url", "milestones_url", "notifications_url", "labels_url",
		"releases_url", "deployments_url"} {
		repo[k] = "https://api.example.org/repos/acme/app/" + strings.TrimSuffix(k, "_url") + "{/id}"
	}
	commit := func(i int, msg string) map[string]any {
		id := fmt.Sprintf("%040x", 0xabc0000+i)
		return map[string]any{"id": id, "tree_id": fmt.Sprintf("%040x", 0xdef0000+i), "distinct": true,
			"message": msg, "timestamp": "2026-11-27T10:00:00Z", "url": "https://example.org/acme/app/commit/" + id,
			"author": user, "committer": user,
			"added": []string{"docs/new.md"}, "removed": []string{}, "modified": []string{"main.go", "README.md", "internal/x/y.go"}}
	}
	commits := []any{commit(1, "Fix the thing"), commit(2, "Add the other thing"), commit(3, "Update docs")}
	p := map[string]any{
		"ref": "refs/heads/main", "before": fmt.Sprintf("%040x", 0x1111), "after": fmt.Sprintf("%040x", 0xabc0003),
		"created": false, "deleted": false, "forced": false, "base_ref": nil,
		"compare":     "https://example.org/acme/app/compare/0000000000000000000000000000000000001111...0000000000000000000000000000000000abc0003",
		"commits":     commits,
		"head_commit": commit(3, "Update docs"),
		"repository":  repo,
		"pusher":      map[string]any{"name": "octocat", "email": "octocat@example.org"},
		"sender":      map[string]any{"login": "octocat", "id": 583231, "type": "User", "site_admin": false, "url": "https://api.example.org/users/octocat"},
	}
	body, _ := json.Marshal(p)
	target := size
	if target == 0 {
		target = 8800
	}
	if pad := target - len(body) - len(`,"padding":""`); pad > 0 {
		p["padding"] = strings.Repeat("x", pad)
		body, _ = json.Marshal(p)
	}
	return body
}
