package changes_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/changes"
	"github.com/hooktrigger/hooktrigger/internal/fakeapi"
)

func manyFiles(n int) []fakeapi.File {
	out := make([]fakeapi.File, n)
	for i := range out {
		out[i] = fakeapi.File{Name: fmt.Sprintf("src/f%04d.go", i)}
	}
	return out
}

func TestFiles(t *testing.T) {
	ctx := context.Background()
	var l changes.Lister
	for _, tc := range []struct {
		name string
		api  *fakeapi.Server
		repo string
	}{
		// GitHub through its Enterprise Server URLs: github.com's API host
		// is fixed in the client.
		{"GitHub", fakeapi.NewGitHub(t, "gh-token", true), "acme/app"},
		{"GitLab", fakeapi.NewGitLab(t, "gl-token"), "group/sub/app"},
		{"Gitea", fakeapi.NewGitea(t, "gt-token"), "acme/app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.api.URL + tc.api.Prefix // GitHub Enterprise: /api/v3 is added when missing
			provider := tc.api.Provider
			files := append(manyFiles(249), fakeapi.File{Name: "docs/new.md", Previous: "docs/old.md"})
			tc.api.SetFiles(tc.repo, 7, files...)
			got, complete, err := l.Files(ctx, provider, base, tc.api.Token, tc.repo, 7)
			if err != nil || !complete {
				t.Fatalf("Files: complete=%v err=%v", complete, err)
			}
			if len(got) != 251 || got[0] != "src/f0000.go" || !slices.Contains(got, "docs/new.md") || !slices.Contains(got, "docs/old.md") {
				t.Errorf("got %d files, want 249 plus both names of the rename: %v…", len(got), got[:3])
			}
			if pages := len(tc.api.Calls()); pages != 3 {
				t.Errorf("%d requests, want 3 pages of 100", pages)
			}

			tc.api.SetFiles(tc.repo, 8, manyFiles(changes.MaxFiles)...)
			if got, complete, err := l.Files(ctx, provider, base, tc.api.Token, tc.repo, 8); err != nil || complete || len(got) != changes.MaxFiles {
				t.Errorf("a list of MaxFiles: %d files, complete=%v, err=%v; want it marked as maybe cut", len(got), complete, err)
			}

			_, _, err = l.Files(ctx, provider, base, "wrong-token", tc.repo, 7)
			if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong-token") {
				t.Errorf("a wrong token: %v, want a 401 error without the token", err)
			}
			if _, _, err := l.Files(ctx, provider, base, tc.api.Token, tc.repo, 9); err == nil || !strings.Contains(err.Error(), "404") {
				t.Errorf("an unknown request: %v, want a 404 error", err)
			}
		})
	}
	if l.Listed() != 3 || l.Cut() != 3 || l.Failed() != 6 {
		t.Errorf("counts listed %d, cut %d, failed %d; want 3, 3 and 6", l.Listed(), l.Cut(), l.Failed())
	}
}
