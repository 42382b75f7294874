// Package fakeapi serves the commit-status endpoints of the GitHub and
// GitLab REST APIs for tests: it checks what the real APIs check (method,
// path, credentials, JSON body, allowed states), answers as they document
// (201 with the created status), records every call and can be told to
// fail the next requests with given status codes. It also lists the files
// of pull requests (GitHub) and the diffs of merge requests (GitLab), in
// pages as the APIs do.
package fakeapi

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Call is one request the fake received.
type Call struct {
	Path        string // escaped path, as sent
	Repo        string // owner/name (GitHub) or decoded project path (GitLab)
	SHA         string
	State       string
	Context     string // GitHub context, GitLab name
	Description string
	TargetURL   string
	Code        int // what the fake answered
	At          time.Time
}

// Fault is a canned answer for one upcoming request.
type Fault struct {
	Code   int
	Header map[string]string
	Body   string
}

// Server is a fake GitHub or GitLab API.
type Server struct {
	*httptest.Server
	Provider string // "github" or "gitlab"
	Prefix   string // "" (api.github.com), "/api/v3" (GHES) or "/api/v4" (GitLab)
	Token    string

	mu     sync.Mutex
	calls  []Call
	faults []Fault
	last   map[string]string // GitLab: sha+name → state, to refuse a same-state transition
	files  map[string][]File // "repo#number" → the request's files
	notify chan struct{}
}

// NewGitHub starts a fake GitHub API. With enterprise, it serves under
// /api/v3 as GitHub Enterprise Server does.
func NewGitHub(tb testing.TB, token string, enterprise bool) *Server {
	s := &Server{Provider: "github", Token: token}
	if enterprise {
		s.Prefix = "/api/v3"
	}
	return s.start(tb)
}

// NewGitea starts a fake Gitea API: GitHub's endpoints for commit statuses
// and pull request files, served under /api/v1 as Gitea does.
func NewGitea(tb testing.TB, token string) *Server {
	s := &Server{Provider: "github", Prefix: "/api/v1", Token: token}
	return s.start(tb)
}

// NewGitLab starts a fake GitLab API (served under /api/v4).
func NewGitLab(tb testing.TB, token string) *Server {
	s := &Server{Provider: "gitlab", Prefix: "/api/v4", Token: token, last: map[string]string{}}
	return s.start(tb)
}

func (s *Server) start(tb testing.TB) *Server {
	tb.Helper()
	s.notify = make(chan struct{}, 1)
	if s.Provider == "github" {
		s.Server = httptest.NewServer(http.HandlerFunc(s.github))
	} else {
		s.Server = httptest.NewServer(http.HandlerFunc(s.gitlab))
	}
	tb.Cleanup(s.Close)
	return s
}

// File is one file of a pull or merge request.
type File struct {
	Name     string
	Previous string // the old name of a renamed file
}

// SetFiles sets the files that pull or merge request number of repo
// changes.
func (s *Server) SetFiles(repo string, number int, files ...File) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.files == nil {
		s.files = map[string][]File{}
	}
	s.files[fmt.Sprintf("%s#%d", repo, number)] = files
}

// page answers one page of the files of repo#number as the APIs do: per_page
// (at most 100) and page from the query, the link to the next page in a
// Link header (and GitLab's X-Next-Page).
func (s *Server) page(w http.ResponseWriter, r *http.Request, c Call, number string, item func(File) any) {
	s.mu.Lock()
	files, ok := s.files[c.Repo+"#"+number]
	s.mu.Unlock()
	if !ok {
		c.Code = 404
		s.record(c)
		answer(w, 404, map[string]string{"message": "Not Found"})
		return
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	per = min(per, 100)
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	from, to := min((page-1)*per, len(files)), min(page*per, len(files))
	if to < len(files) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, s.URL, r.URL.Path, q.Encode()))
		w.Header().Set("X-Next-Page", strconv.Itoa(page+1))
	}
	out := []any{}
	for _, f := range files[from:to] {
		out = append(out, item(f))
	}
	c.Code = 200
	s.record(c)
	answer(w, 200, out)
}

// Fail makes the next len(faults) requests (that pass the path check) get
// these answers instead of being processed.
func (s *Server) Fail(faults ...Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, faults...)
}

// Calls returns the requests received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// States returns the states of the accepted (2xx) calls for sha, in order.
func (s *Server) States(sha string) []string {
	var out []string
	for _, c := range s.Calls() {
		if c.SHA == sha && c.Code/100 == 2 {
			out = append(out, c.State)
		}
	}
	return out
}

// WaitFor polls until cond holds on the calls so far, or fails tb after
// timeout.
func (s *Server) WaitFor(tb testing.TB, timeout time.Duration, what string, cond func([]Call) bool) []Call {
	tb.Helper()
	deadline := time.After(timeout)
	for {
		calls := s.Calls()
		if cond(calls) {
			return calls
		}
		select {
		case <-s.notify:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			tb.Fatalf("fake %s API: %s did not happen within %s; calls: %+v", s.Provider, what, timeout, calls)
			return nil
		}
	}
}

func (s *Server) record(c Call) {
	c.At = time.Now()
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// fault pops the next canned answer, if any.
func (s *Server) fault(w http.ResponseWriter) (int, bool) {
	s.mu.Lock()
	if len(s.faults) == 0 {
		s.mu.Unlock()
		return 0, false
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	s.mu.Unlock()
	for k, v := range f.Header {
		w.Header().Set(k, v)
	}
	body := f.Body
	if body == "" {
		body = fmt.Sprintf(`{"message":%q}`, http.StatusText(f.Code))
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(f.Code)
	io.WriteString(w, body)
	return f.Code, true
}

func answer(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

var (
	githubPath  = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/statuses/([0-9a-fA-F]{7,64})$`)
	githubFiles = regexp.MustCompile(`^/repos/([^/]+)/([^/]+)/pulls/([0-9]+)/files$`)
)

// github serves POST /repos/{owner}/{repo}/statuses/{sha} and GET
// /repos/{owner}/{repo}/pulls/{number}/files.
func (s *Server) github(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, s.Prefix)
	if m := githubFiles.FindStringSubmatch(rest); ok && m != nil && r.Method == http.MethodGet {
		c := Call{Path: path, Repo: m[1] + "/" + m[2]}
		if auth := r.Header.Get("Authorization"); auth != "Bearer "+s.Token && auth != "token "+s.Token {
			c.Code = 401
			s.record(c)
			answer(w, 401, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
			return
		}
		if code, ok := s.fault(w); ok {
			c.Code = code
			s.record(c)
			return
		}
		s.page(w, r, c, m[3], func(f File) any {
			status := "modified"
			if f.Previous != "" {
				status = "renamed"
			}
			return map[string]any{"sha": "bbcd538c8e72b8c175046e27cc8f907076331401", "filename": f.Name, "status": status,
				"additions": 1, "deletions": 1, "changes": 2, "previous_filename": nullable(f.Previous)}
		})
		return
	}
	m := githubPath.FindStringSubmatch(rest)
	if !ok || m == nil || r.Method != http.MethodPost {
		s.record(Call{Path: path, Code: 404})
		answer(w, 404, map[string]string{"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})
		return
	}
	c := Call{Path: path, Repo: m[1] + "/" + m[2], SHA: m[3]}
	auth := r.Header.Get("Authorization")
	if auth != "Bearer "+s.Token && auth != "token "+s.Token {
		c.Code = 401
		s.record(c)
		answer(w, 401, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"})
		return
	}
	var body struct {
		State       *string `json:"state"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
		Context     *string `json:"context"`
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || json.NewDecoder(r.Body).Decode(&body) != nil {
		c.Code = 400
		s.record(c)
		answer(w, 400, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	if code, ok := s.fault(w); ok {
		c.Code = code
		s.record(c)
		return
	}
	c.State, c.Context, c.Description, c.TargetURL = deref(body.State), deref(body.Context), deref(body.Description), deref(body.TargetURL)
	invalid := ""
	switch {
	case !slices.Contains([]string{"pending", "success", "error", "failure"}, c.State):
		invalid = "state"
	case len([]rune(c.Description)) > 140:
		invalid = "description"
	case c.TargetURL != "" && !absURL(c.TargetURL):
		invalid = "target_url"
	}
	if invalid != "" {
		c.Code = 422
		s.record(c)
		answer(w, 422, map[string]any{"message": "Validation Failed", "errors": []map[string]string{{"resource": "Status", "field": invalid, "code": "invalid"}}})
		return
	}
	if c.Context == "" {
		c.Context = "default"
	}
	c.Code = 201
	s.record(c)
	now := time.Now().UTC().Format(time.RFC3339)
	answer(w, 201, map[string]any{
		"url": "https://api.github.com/repos/" + c.Repo + "/statuses/" + c.SHA, "id": len(s.Calls()), "node_id": "SC_kwDOAAAB",
		"state": c.State, "description": c.Description, "target_url": nullable(c.TargetURL), "context": c.Context,
		"created_at": now, "updated_at": now, "creator": map[string]any{"login": "hooktrigger-bot", "id": 1, "type": "User"},
	})
}

var (
	gitlabPath  = regexp.MustCompile(`^/projects/([^/]+)/statuses/([0-9a-fA-F]{7,64})$`)
	gitlabDiffs = regexp.MustCompile(`^/projects/([^/]+)/merge_requests/([0-9]+)/diffs$`)
)

// gitlab serves POST /api/v4/projects/{id}/statuses/{sha} and GET
// /api/v4/projects/{id}/merge_requests/{iid}/diffs; the id is a number or
// the URL-encoded path with namespace.
func (s *Server) gitlab(w http.ResponseWriter, r *http.Request) {
	path := r.URL.EscapedPath()
	rest, ok := strings.CutPrefix(path, s.Prefix)
	if m := gitlabDiffs.FindStringSubmatch(rest); ok && m != nil && r.Method == http.MethodGet {
		project, err := url.PathUnescape(m[1])
		c := Call{Path: path, Repo: project}
		switch {
		case err != nil:
			c.Code = 404
			s.record(c)
			answer(w, 404, map[string]string{"message": "404 Project Not Found"})
		case r.Header.Get("PRIVATE-TOKEN") != s.Token && r.Header.Get("Authorization") != "Bearer "+s.Token:
			c.Code = 401
			s.record(c)
			answer(w, 401, map[string]string{"message": "401 Unauthorized"})
		default:
			if code, ok := s.fault(w); ok {
				c.Code = code
				s.record(c)
				return
			}
			s.page(w, r, c, m[2], func(f File) any {
				old := cmp.Or(f.Previous, f.Name)
				return map[string]any{"old_path": old, "new_path": f.Name, "a_mode": "100644", "b_mode": "100644",
					"diff": "@@ -1 +1 @@\n-a\n+b\n", "new_file": false, "renamed_file": f.Previous != "", "deleted_file": false}
			})
		}
		return
	}
	m := gitlabPath.FindStringSubmatch(rest)
	if !ok || m == nil || r.Method != http.MethodPost {
		s.record(Call{Path: path, Code: 404})
		answer(w, 404, map[string]string{"error": "404 Not Found"})
		return
	}
	project, err := url.PathUnescape(m[1])
	if err != nil {
		s.record(Call{Path: path, Code: 404})
		answer(w, 404, map[string]string{"message": "404 Project Not Found"})
		return
	}
	c := Call{Path: path, Repo: project, SHA: m[2]}
	if r.Header.Get("PRIVATE-TOKEN") != s.Token && r.Header.Get("Authorization") != "Bearer "+s.Token {
		c.Code = 401
		s.record(c)
		answer(w, 401, map[string]string{"message": "401 Unauthorized"})
		return
	}
	var body struct {
		State       string  `json:"state"`
		Name        *string `json:"name"`
		Context     *string `json:"context"`
		TargetURL   *string `json:"target_url"`
		Description *string `json:"description"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		c.Code = 400
		s.record(c)
		answer(w, 400, map[string]string{"error": "body is not valid JSON"})
		return
	}
	if code, ok := s.fault(w); ok {
		c.Code = code
		s.record(c)
		return
	}
	c.State, c.Description, c.TargetURL = body.State, deref(body.Description), deref(body.TargetURL)
	c.Context = deref(body.Name)
	if c.Context == "" {
		c.Context = deref(body.Context)
	}
	if c.Context == "" {
		c.Context = "default"
	}
	if !slices.Contains([]string{"pending", "running", "success", "failed", "canceled"}, c.State) {
		c.Code = 400
		s.record(c)
		answer(w, 400, map[string]string{"error": "state does not have a valid value"})
		return
	}
	key := c.SHA + "\x00" + c.Context
	s.mu.Lock()
	prev := s.last[key]
	if prev != c.State {
		s.last[key] = c.State
	}
	s.mu.Unlock()
	if prev == c.State {
		c.Code = 400
		s.record(c)
		answer(w, 400, map[string]string{"message": fmt.Sprintf("Cannot transition status via :%s from :%s", c.State, prev)})
		return
	}
	c.Code = 201
	s.record(c)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	answer(w, 201, map[string]any{
		"id": len(s.Calls()), "sha": c.SHA, "ref": nil, "status": c.State, "name": c.Context,
		"target_url": nullable(c.TargetURL), "description": nullable(c.Description), "created_at": now,
		"started_at": nil, "finished_at": nil, "allow_failure": false, "coverage": nil,
		"author": map[string]any{"id": 1, "username": "hooktrigger-bot", "name": "hooktrigger", "state": "active"},
	})
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func absURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
