// Package changes asks GitHub's or GitLab's REST API which files a pull
// request or a merge request changes. Their webhook payloads do not say,
// and a trigger's paths filter needs it.
package changes

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-github/v82/github"
	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/hooktrigger/hooktrigger/internal/ghapi"
)

// MaxFiles is the most files a list holds: GitHub lists at most 3,000 files
// of a pull request, so a list this long may be cut short.
const MaxFiles = 3000

// perPage is the largest page both APIs serve.
const perPage = 100

// Lister lists the files of pull and merge requests. Its clients are made
// once per API and token. It is safe for concurrent use.
type Lister struct {
	HTTP *http.Client // nil: a client with a 10s timeout

	mu     sync.Mutex
	github map[string]*github.Client
	gitlab map[string]*gitlab.Client

	listed, cut, failed atomic.Uint64
}

// Listed counts the lists read whole, Cut those that may be cut short
// (MaxFiles or more), Failed the lookups that gave no list.
func (l *Lister) Listed() uint64 { return l.listed.Load() }

// Cut: see Listed.
func (l *Lister) Cut() uint64 { return l.cut.Load() }

// Failed: see Listed.
func (l *Lister) Failed() uint64 { return l.failed.Load() }

// Files returns the files that pull request (GitHub) or merge request
// (GitLab) number of repo changes, with both names of a renamed file.
// complete is false when the list may be cut short (MaxFiles or more).
// baseURL is "" for github.com and gitlab.com. Errors never hold the token.
func (l *Lister) Files(ctx context.Context, provider, baseURL, token, repo string, number int) (files []string, complete bool, err error) {
	files, complete, err = l.files(ctx, provider, baseURL, token, repo, number)
	switch {
	case err != nil:
		l.failed.Add(1)
	case complete:
		l.listed.Add(1)
	default:
		l.cut.Add(1)
	}
	return files, complete, err
}

func (l *Lister) files(ctx context.Context, provider, baseURL, token, repo string, number int) ([]string, bool, error) {
	switch provider {
	case "github":
		c, err := l.githubClient(baseURL, token)
		if err != nil {
			return nil, false, err
		}
		return githubFiles(ctx, c, repo, number)
	case "gitlab":
		c, err := l.gitlabClient(baseURL, token)
		if err != nil {
			return nil, false, err
		}
		return gitlabFiles(ctx, c, repo, number)
	}
	return nil, false, fmt.Errorf("changes: provider %q has no API", provider)
}

func (l *Lister) httpClient() *http.Client {
	if l.HTTP != nil {
		return l.HTTP
	}
	return &http.Client{Timeout: 10 * time.Second}
}

func (l *Lister) githubClient(baseURL, token string) (*github.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := baseURL + "\x00" + token
	if c, ok := l.github[key]; ok {
		return c, nil
	}
	c, err := ghapi.Client(l.httpClient(), baseURL, token)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	if l.github == nil {
		l.github = map[string]*github.Client{}
	}
	l.github[key] = c
	return c, nil
}

func (l *Lister) gitlabClient(baseURL, token string) (*gitlab.Client, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := baseURL + "\x00" + token
	if c, ok := l.gitlab[key]; ok {
		return c, nil
	}
	// The delivery waits for the answer: no retries behind its back.
	opts := []gitlab.ClientOptionFunc{gitlab.WithHTTPClient(l.httpClient()), gitlab.WithoutRetries()}
	if baseURL != "" {
		opts = append(opts, gitlab.WithBaseURL(strings.TrimRight(baseURL, "/")+"/")) // /api/v4/ added unless present
	}
	c, err := gitlab.NewClient(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("changes: base_url %q: %w", baseURL, err)
	}
	if l.gitlab == nil {
		l.gitlab = map[string]*gitlab.Client{}
	}
	l.gitlab[key] = c
	return c, nil
}

// page is one page of a list: the files' names (both of a rename), how many
// files it held, and the next page (0: none).
type page struct {
	names [][2]string
	count int
	next  int
}

// collect reads pages from 1 on until there is no next one or MaxFiles
// files were listed, and returns the names once each, in order of
// appearance; complete is false when the list reached MaxFiles.
func collect(fetch func(n int) (page, error)) (files []string, complete bool, err error) {
	seen := map[string]bool{}
	listed := 0
	for n := 1; n != 0 && listed < MaxFiles; {
		p, err := fetch(n)
		if err != nil {
			return nil, false, err
		}
		for _, pair := range p.names {
			for _, s := range pair {
				if s != "" && !seen[s] {
					seen[s] = true
					files = append(files, s)
				}
			}
		}
		listed += p.count
		n = p.next
	}
	return files, listed < MaxFiles, nil
}

func githubFiles(ctx context.Context, c *github.Client, repo string, number int) ([]string, bool, error) {
	owner, name, ok := strings.Cut(repo, "/")
	if !ok || owner == "" || name == "" {
		return nil, false, fmt.Errorf("changes: repository %q is not owner/name", repo)
	}
	return collect(func(n int) (page, error) {
		files, resp, err := c.PullRequests.ListFiles(ctx, owner, name, number, &github.ListOptions{PerPage: perPage, Page: n})
		if err != nil {
			var r *http.Response
			if resp != nil {
				r = resp.Response
			}
			return page{}, apiError("github", r, err)
		}
		p := page{count: len(files), next: resp.NextPage}
		for _, f := range files {
			p.names = append(p.names, [2]string{f.GetFilename(), f.GetPreviousFilename()})
		}
		return p, nil
	})
}

func gitlabFiles(ctx context.Context, c *gitlab.Client, repo string, number int) ([]string, bool, error) {
	return collect(func(n int) (page, error) {
		opt := &gitlab.ListMergeRequestDiffsOptions{ListOptions: gitlab.ListOptions{PerPage: perPage, Page: int64(n)}}
		diffs, resp, err := c.MergeRequests.ListMergeRequestDiffs(repo, int64(number), opt, gitlab.WithContext(ctx))
		if err != nil {
			var r *http.Response
			if resp != nil {
				r = resp.Response
			}
			return page{}, apiError("gitlab", r, err)
		}
		p := page{count: len(diffs), next: int(resp.NextPage)}
		for _, d := range diffs {
			p.names = append(p.names, [2]string{d.NewPath, d.OldPath})
		}
		return p, nil
	})
}

// apiError says what the API answered, without the request's URL
// parameters or the client library's wording of the token.
func apiError(provider string, resp *http.Response, err error) error {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("changes: %s API: no answer in time", provider)
	}
	if resp != nil {
		return fmt.Errorf("changes: %s API answered %s", provider, resp.Status)
	}
	return fmt.Errorf("changes: %s API: cannot connect", provider)
}
