package status

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v82/github"

	"github.com/hooktrigger/hooktrigger/internal/ghapi"
	"github.com/hooktrigger/hooktrigger/store"
)

// GitHub's limit on a commit status description.
const githubDescriptionMax = 140

// githubSender posts commit statuses with one token to github.com, to one
// GitHub Enterprise Server or to one Gitea (see ghapi.Client).
type githubSender struct{ c *github.Client }

func newGitHub(hc *http.Client, baseURL, token string) (*githubSender, error) {
	c, err := ghapi.Client(hc, baseURL, token)
	if err != nil {
		return nil, err
	}
	return &githubSender{c: c}, nil
}

// GitHubState maps a run state to a GitHub commit status state.
func GitHubState(s store.State) string {
	switch s {
	case store.Queued, store.Running:
		return "pending"
	case store.Succeeded:
		return "success"
	case store.Failed, store.TimedOut:
		return "failure"
	default: // cancelled, interrupted, skipped, superseded
		return "error"
	}
}

func (g *githubSender) send(ctx context.Context, st *Status) error {
	owner, name, ok := strings.Cut(st.Repo, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return &Error{Provider: "github", Err: fmt.Errorf("repository %q is not owner/name", st.Repo)}
	}
	rs := github.RepoStatus{
		State:       github.Ptr(GitHubState(st.State)),
		Context:     github.Ptr(st.Context),
		Description: github.Ptr(truncate(st.Description, githubDescriptionMax)),
	}
	if st.TargetURL != "" {
		rs.TargetURL = github.Ptr(st.TargetURL)
	}
	_, resp, err := g.c.Repositories.CreateStatus(ctx, owner, name, st.SHA, rs)
	if err == nil {
		return nil
	}
	return githubError(resp, err)
}

// githubError classifies an error of go-github: rate limits and 5xx are
// retried (after the reset or Retry-After the API gave), other 4xx are not.
func githubError(resp *github.Response, err error) error {
	e := &Error{Provider: "github", Err: err}
	if resp != nil && resp.Response != nil {
		e.Code = resp.StatusCode
	}
	var rl *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	var er *github.ErrorResponse
	switch {
	case errors.As(err, &rl):
		e.Retry = true
		e.RetryAfter = max(time.Until(rl.Rate.Reset.Time)+time.Second, time.Second)
		e.Err = fmt.Errorf("rate limit exhausted until %s", rl.Rate.Reset.Time.UTC().Format(time.RFC3339))
		if rl.Response != nil {
			e.Code = rl.Response.StatusCode
		}
	case errors.As(err, &abuse):
		e.Retry = true
		e.RetryAfter = time.Minute
		if abuse.RetryAfter != nil && *abuse.RetryAfter > 0 {
			e.RetryAfter = *abuse.RetryAfter
		}
		e.Err = fmt.Errorf("secondary rate limit: %s", abuse.Message)
		if abuse.Response != nil {
			e.Code = abuse.Response.StatusCode
		}
	case errors.As(err, &er) && er.Response != nil:
		e.Code = er.Response.StatusCode
		e.Err = errors.New(apiMessage(er.Message, e.Code))
		e.Retry, e.RetryAfter = retryable(er.Response)
	case e.Code != 0:
		e.Retry, e.RetryAfter = retryable(resp.Response)
	default:
		e.Retry = true // no answer: network error or timeout
	}
	return e
}

// apiMessage is the API's message, or the status text when it gave none.
func apiMessage(msg string, code int) string {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return http.StatusText(code)
	}
	return truncate(msg, 200)
}

// retryable decides from an HTTP answer: 5xx, 408 and 429 are retried, and
// so is a 403 that says the rate limit is exhausted. The wait is the
// answer's Retry-After (seconds or a date), else its rate-limit reset
// (X-RateLimit-Reset on GitHub, RateLimit-Reset on GitLab: unix seconds).
func retryable(resp *http.Response) (bool, time.Duration) {
	code := resp.StatusCode
	limited := resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("RateLimit-Remaining") == "0"
	if code < 500 && code != http.StatusTooManyRequests && code != http.StatusRequestTimeout && !(code == http.StatusForbidden && limited) {
		return false, 0
	}
	if d, ok := retryAfterHeader(resp.Header.Get("Retry-After")); ok {
		return true, d
	}
	if limited || code == http.StatusTooManyRequests {
		for _, h := range []string{"X-RateLimit-Reset", "RateLimit-Reset"} {
			if d, ok := resetHeader(resp.Header.Get(h)); ok {
				return true, d
			}
		}
	}
	return true, 0
}

func retryAfterHeader(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		return max(time.Duration(secs)*time.Second, 0), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

func resetHeader(v string) (time.Duration, bool) {
	var unix int64
	if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d", &unix); err != nil || unix <= 0 {
		return 0, false
	}
	return max(time.Until(time.Unix(unix, 0))+time.Second, time.Second), true
}
