package status

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	gitlab "gitlab.com/gitlab-org/api/client-go"

	"github.com/hooktrigger/hooktrigger/store"
)

// GitLab's limit on a commit status description.
const gitlabDescriptionMax = 255

// gitlabSender posts commit statuses with one token to gitlab.com or to one
// self-managed GitLab.
type gitlabSender struct{ c *gitlab.Client }

func newGitLab(hc *http.Client, baseURL, token string) (*gitlabSender, error) {
	// The reporter retries by itself; the client's own retries would hide
	// the answers it decides on.
	opts := []gitlab.ClientOptionFunc{gitlab.WithHTTPClient(hc), gitlab.WithoutRetries()}
	if baseURL != "" {
		opts = append(opts, gitlab.WithBaseURL(strings.TrimRight(baseURL, "/")+"/")) // /api/v4/ added unless present
	}
	c, err := gitlab.NewClient(token, opts...)
	if err != nil {
		return nil, fmt.Errorf("base_url %q: %w", baseURL, err)
	}
	return &gitlabSender{c: c}, nil
}

// GitLabState maps a run state to a GitLab commit status state.
func GitLabState(s store.State) gitlab.BuildStateValue {
	switch s {
	case store.Queued:
		return gitlab.Pending
	case store.Running:
		return gitlab.Running
	case store.Succeeded:
		return gitlab.Success
	case store.Failed, store.TimedOut, store.Interrupted:
		return gitlab.Failed
	default: // cancelled, skipped, superseded
		return gitlab.Canceled
	}
}

func (g *gitlabSender) send(ctx context.Context, st *Status) error {
	opt := &gitlab.SetCommitStatusOptions{
		State:       GitLabState(st.State),
		Name:        gitlab.Ptr(st.Context),
		Description: gitlab.Ptr(truncate(st.Description, gitlabDescriptionMax)),
	}
	if st.TargetURL != "" {
		opt.TargetURL = gitlab.Ptr(st.TargetURL)
	}
	_, resp, err := g.c.Commits.SetCommitStatus(st.Repo, st.SHA, opt, gitlab.WithContext(ctx))
	if err == nil {
		return nil
	}
	e := &Error{Provider: "gitlab", Err: err}
	if resp != nil && resp.Response != nil {
		e.Code = resp.StatusCode
		var er *gitlab.ErrorResponse
		msg := ""
		if errors.As(err, &er) {
			msg = er.Message
		}
		// Posting the state the status already has (a retry whose first
		// attempt did arrive) is refused with "Cannot transition status";
		// the commit shows what we wanted.
		if e.Code == http.StatusBadRequest && strings.Contains(msg, "Cannot transition status") {
			return nil
		}
		e.Err = errors.New(apiMessage(msg, e.Code))
		e.Retry, e.RetryAfter = retryable(resp.Response)
		return e
	}
	e.Retry = ctx.Err() == nil || errors.Is(err, context.DeadlineExceeded)
	return e
}
