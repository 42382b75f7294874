package status_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/internal/fakeapi"
	"github.com/hooktrigger/hooktrigger/status"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

const (
	token = "t0ken-s3cret"
	sha   = "0123456789abcdef0123456789abcdef01234567"
)

// notes records status notes as a store would.
type notes struct {
	mu sync.Mutex
	m  map[string][]string
}

func (n *notes) SetStatusNote(_ context.Context, runID, note string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.m == nil {
		n.m = map[string][]string{}
	}
	n.m[runID] = append(n.m[runID], note)
	return nil
}

func (n *notes) of(id string) []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.m[id]...)
}

// redirect sends requests for the public API hosts to a fake, so the
// default (empty base_url) endpoints are exercised.
type redirect struct {
	host string
	to   *url.URL
}

func (rd redirect) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != rd.host {
		return nil, fmt.Errorf("request to %s, want %s", req.URL.Host, rd.host)
	}
	req = req.Clone(req.Context())
	req.URL.Scheme, req.URL.Host = rd.to.Scheme, rd.to.Host
	return http.DefaultTransport.RoundTrip(req)
}

type setup struct {
	provider string
	spec     *trigger.StatusSpec
	http     *http.Client
}

// newReporter builds a started reporter for one trigger "app" and closes it
// at the end of the test.
func newReporter(tb testing.TB, su setup, n *notes, tune func(*status.Reporter)) *status.Reporter {
	tb.Helper()
	r := &status.Reporter{
		Lookup: func(name string) (string, *trigger.StatusSpec) {
			if name != "app" {
				return "", nil
			}
			return su.provider, su.spec
		},
		Notes:   n,
		RunURL:  func(id string) string { return "https://ci.example.org/ui/runs/" + id },
		HTTP:    su.http,
		Backoff: 20 * time.Millisecond,
	}
	if tune != nil {
		tune(r)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r.Close(ctx)
	})
	return r
}

func newRun(provider, repo, sha string) *store.Run {
	id := store.NewID()
	return &store.Run{ID: id, Trigger: "app", State: store.Queued, Vars: map[string]string{"target": "prod"},
		Meta: map[string]string{"HOOKTRIGGER_RUN_ID": id, "HOOKTRIGGER_PROVIDER": provider, "HOOKTRIGGER_REPO": repo,
			"HOOKTRIGGER_SHA": sha, "HOOKTRIGGER_EVENT": "push", "HOOKTRIGGER_TRIGGER": "app"}}
}

func report(tb testing.TB, r *status.Reporter, run *store.Run, s store.State) {
	tb.Helper()
	cp := *run
	cp.State = s
	if err := r.Report(&cp); err != nil {
		tb.Fatal(err)
	}
}

func TestReporter_FollowsRun(t *testing.T) {
	type step struct {
		state store.State
		want  string
	}
	ghSteps := []step{{store.Queued, "pending"}, {store.Running, "pending"}, {store.Succeeded, "success"}}
	ghFail := []step{{store.Queued, "pending"}, {store.Running, "pending"}, {store.Failed, "failure"}}
	glSteps := []step{{store.Queued, "pending"}, {store.Running, "running"}, {store.Succeeded, "success"}}
	glFail := []step{{store.Queued, "pending"}, {store.Running, "running"}, {store.TimedOut, "failed"}}
	for _, tc := range []struct {
		name     string
		provider string
		repo     string
		fake     func(t *testing.T) *fakeapi.Server
		setup    func(f *fakeapi.Server) setup
		steps    []step
		wantPath string
	}{
		{
			name: "GitHubDotCom", provider: "github", repo: "octo/app", steps: ghSteps,
			fake: func(t *testing.T) *fakeapi.Server { return fakeapi.NewGitHub(t, token, false) },
			setup: func(f *fakeapi.Server) setup {
				u, _ := url.Parse(f.URL)
				return setup{spec: &trigger.StatusSpec{Context: "hooktrigger/app", Token: token},
					http: &http.Client{Transport: redirect{host: "api.github.com", to: u}}}
			},
			wantPath: "/repos/octo/app/statuses/" + sha,
		},
		{
			name: "GitHubEnterprise", provider: "github", repo: "octo/app", steps: ghFail,
			fake: func(t *testing.T) *fakeapi.Server { return fakeapi.NewGitHub(t, token, true) },
			setup: func(f *fakeapi.Server) setup {
				return setup{spec: &trigger.StatusSpec{Context: "ci/app", Token: token, BaseURL: f.URL + "/"}}
			},
			wantPath: "/api/v3/repos/octo/app/statuses/" + sha,
		},
		{
			name: "Gitea", provider: "github", repo: "octo/app", steps: ghSteps,
			fake: func(t *testing.T) *fakeapi.Server { return fakeapi.NewGitea(t, token) },
			setup: func(f *fakeapi.Server) setup {
				return setup{spec: &trigger.StatusSpec{Context: "ci/app", Token: token, BaseURL: f.URL + "/api/v1"}}
			},
			wantPath: "/api/v1/repos/octo/app/statuses/" + sha,
		},
		{
			name: "GitLabDotCom", provider: "gitlab", repo: "group/sub.group/app", steps: glSteps,
			fake: func(t *testing.T) *fakeapi.Server { return fakeapi.NewGitLab(t, token) },
			setup: func(f *fakeapi.Server) setup {
				u, _ := url.Parse(f.URL)
				return setup{spec: &trigger.StatusSpec{Context: "hooktrigger/app", Token: token},
					http: &http.Client{Transport: redirect{host: "gitlab.com", to: u}}}
			},
			wantPath: "/api/v4/projects/group%2Fsub%2Egroup%2Fapp/statuses/" + sha,
		},
		{
			name: "GitLabSelfManaged", provider: "gitlab", repo: "group/app", steps: glFail,
			fake: func(t *testing.T) *fakeapi.Server { return fakeapi.NewGitLab(t, token) },
			setup: func(f *fakeapi.Server) setup {
				return setup{spec: &trigger.StatusSpec{Context: "ci/app", Token: token, BaseURL: f.URL}}
			},
			wantPath: "/api/v4/projects/group%2Fapp/statuses/" + sha,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.fake(t)
			su := tc.setup(f)
			su.provider = tc.provider
			n := &notes{}
			r := newReporter(t, su, n, nil)
			r.Start()
			run := newRun(tc.provider, tc.repo, sha)
			for i, st := range tc.steps {
				report(t, r, run, st.state)
				calls := f.WaitFor(t, 20*time.Second, fmt.Sprintf("call %d", i+1), func(c []fakeapi.Call) bool { return len(c) > i })
				c := calls[i]
				if c.Code != 201 || c.Path != tc.wantPath || c.Repo != tc.repo || c.SHA != sha || c.State != st.want ||
					c.Context != su.spec.Context || c.TargetURL != "https://ci.example.org/ui/runs/"+run.ID ||
					c.Description != "hooktrigger: "+string(st.state) {
					t.Fatalf("after %s, call %d = %+v; want state %s on %s", st.state, i, c, st.want, tc.wantPath)
				}
			}
			waitUntil(t, "all sent", func() bool { return r.Sent() == uint64(len(tc.steps)) })
			if got := len(f.Calls()); got != len(tc.steps) || r.Sent() != uint64(len(tc.steps)) || r.Failures() != 0 {
				t.Fatalf("calls %d sent %d failures %d, want %d each and no failure", got, r.Sent(), r.Failures(), len(tc.steps))
			}
			if len(n.of(run.ID)) != 0 {
				t.Fatalf("unexpected notes: %v", n.of(run.ID))
			}
		})
	}
}

func TestStateMapping(t *testing.T) {
	for _, tc := range []struct {
		state  store.State
		github string
		gitlab string
	}{
		{state: store.Queued, github: "pending", gitlab: "pending"},
		{state: store.Running, github: "pending", gitlab: "running"},
		{state: store.Succeeded, github: "success", gitlab: "success"},
		{state: store.Failed, github: "failure", gitlab: "failed"},
		{state: store.TimedOut, github: "failure", gitlab: "failed"},
		{state: store.Interrupted, github: "error", gitlab: "failed"},
		{state: store.Cancelled, github: "error", gitlab: "canceled"},
		{state: store.Skipped, github: "error", gitlab: "canceled"},
		{state: store.Superseded, github: "error", gitlab: "canceled"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			if got := status.GitHubState(tc.state); got != tc.github {
				t.Errorf("github: %s, want %s", got, tc.github)
			}
			if got := string(status.GitLabState(tc.state)); got != tc.gitlab {
				t.Errorf("gitlab: %s, want %s", got, tc.gitlab)
			}
		})
	}
}

func TestReporter_Retries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider string
		faults   []fakeapi.Fault
		minGap   time.Duration // the wait the API asked for, between the first and last call
	}{
		{name: "GitHub502", provider: "github", faults: []fakeapi.Fault{{Code: 502, Body: "<html>Bad Gateway</html>", Header: map[string]string{"Content-Type": "text/html"}}}},
		{name: "GitLab502", provider: "gitlab", faults: []fakeapi.Fault{{Code: 502, Body: "<html>Bad Gateway</html>"}}},
		{name: "GitHubTwo503", provider: "github", faults: []fakeapi.Fault{{Code: 503}, {Code: 503}}},
		{name: "GitHub429RetryAfter", provider: "github", minGap: time.Second,
			faults: []fakeapi.Fault{{Code: 429, Header: map[string]string{"Retry-After": "1"}}}},
		{name: "GitHubSecondaryRateLimit", provider: "github", minGap: time.Second,
			faults: []fakeapi.Fault{{Code: 403, Header: map[string]string{"Retry-After": "1", "Content-Type": "application/json"},
				Body: `{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`}}},
		{name: "GitHubPrimaryRateLimit", provider: "github", minGap: time.Second,
			faults: []fakeapi.Fault{{Code: 403, Header: map[string]string{"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0",
				"X-RateLimit-Reset": fmt.Sprint(time.Now().Add(1500 * time.Millisecond).Unix()), "Content-Type": "application/json"},
				Body: `{"message":"API rate limit exceeded for user ID 1."}`}}},
		{name: "GitLab429RateLimitReset", provider: "gitlab", minGap: time.Second,
			faults: []fakeapi.Fault{{Code: 429, Header: map[string]string{"RateLimit-Remaining": "0",
				"RateLimit-Reset": fmt.Sprint(time.Now().Add(1500 * time.Millisecond).Unix())}, Body: `{"message":"Retry later"}`}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f *fakeapi.Server
			if tc.provider == "github" {
				f = fakeapi.NewGitHub(t, token, true)
			} else {
				f = fakeapi.NewGitLab(t, token)
			}
			f.Fail(tc.faults...)
			n := &notes{}
			r := newReporter(t, setup{provider: tc.provider, spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, n, nil)
			r.Start()
			run := newRun(tc.provider, "octo/app", sha)
			report(t, r, run, store.Succeeded)
			want := len(tc.faults) + 1
			calls := f.WaitFor(t, 30*time.Second, "the retry", func(c []fakeapi.Call) bool { return len(c) >= want })
			time.Sleep(100 * time.Millisecond) // nothing more may come
			calls = f.Calls()
			if len(calls) != want || calls[want-1].Code != 201 || calls[want-1].State != "success" {
				t.Fatalf("calls: %+v", calls)
			}
			if gap := calls[want-1].At.Sub(calls[0].At); gap < tc.minGap {
				t.Fatalf("retried after %s, the API asked for %s", gap, tc.minGap)
			}
			waitUntil(t, "sent", func() bool { return r.Sent() == 1 })
			if r.Sent() != 1 || r.Failures() != 0 || len(n.of(run.ID)) != 0 {
				t.Fatalf("sent %d failures %d notes %v", r.Sent(), r.Failures(), n.of(run.ID))
			}
		})
	}
}

func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitNote(tb testing.TB, n *notes, id string) []string {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if got := n.of(id); len(got) > 0 {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("no status note for run %s", id)
	return nil
}

func TestReporter_FinalFailure(t *testing.T) {
	t.Run("Unauthorized", func(t *testing.T) {
		for _, provider := range []string{"github", "gitlab"} {
			t.Run(provider, func(t *testing.T) {
				var f *fakeapi.Server
				if provider == "github" {
					f = fakeapi.NewGitHub(t, "the-real-token", true)
				} else {
					f = fakeapi.NewGitLab(t, "the-real-token")
				}
				n := &notes{}
				var results []bool
				var mu sync.Mutex
				r := newReporter(t, setup{provider: provider, spec: &trigger.StatusSpec{Context: "c", Token: "wrong-token", BaseURL: f.URL}}, n,
					func(r *status.Reporter) {
						r.OnResult = func(p string, ok bool) { mu.Lock(); results = append(results, ok); mu.Unlock() }
					})
				r.Start()
				run := newRun(provider, "octo/app", sha)
				report(t, r, run, store.Queued)
				got := waitNote(t, n, run.ID)
				report(t, r, run, store.Running)
				report(t, r, run, store.Failed)
				time.Sleep(300 * time.Millisecond) // time for any storm to show
				if calls := f.Calls(); len(calls) != 1 || calls[0].Code != 401 {
					t.Fatalf("want exactly one 401 request, got %+v", calls)
				}
				if !strings.Contains(got[0], "401") || !strings.Contains(got[0], provider) || strings.Contains(got[0], "wrong-token") {
					t.Fatalf("note %q should name the provider and the 401, never the token", got[0])
				}
				mu.Lock()
				defer mu.Unlock()
				if r.Failures() != 1 || len(results) != 1 || results[0] {
					t.Fatalf("failures %d results %v", r.Failures(), results)
				}
			})
		}
	})

	t.Run("NotFound", func(t *testing.T) {
		f := fakeapi.NewGitHub(t, token, true)
		n := &notes{}
		r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL + "/wrong"}}, n, nil)
		r.Start()
		run := newRun("github", "octo/app", sha)
		report(t, r, run, store.Succeeded)
		got := waitNote(t, n, run.ID)
		if len(f.Calls()) != 1 || !strings.Contains(got[0], "404") {
			t.Fatalf("calls %+v note %q", f.Calls(), got)
		}
	})

	t.Run("Unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := "http://" + ln.Addr().String()
		ln.Close()
		n := &notes{}
		r := newReporter(t, setup{provider: "gitlab", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: closed}}, n,
			func(r *status.Reporter) { r.Attempts = 3 })
		r.Start()
		run := newRun("gitlab", "octo/app", sha)
		report(t, r, run, store.Succeeded)
		got := waitNote(t, n, run.ID)
		if !strings.Contains(got[0], "after 3 attempts") || r.Failures() != 1 {
			t.Fatalf("note %q failures %d", got[0], r.Failures())
		}
	})

	t.Run("NotOwnerName", func(t *testing.T) {
		n := &notes{}
		r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: "http://127.0.0.1:1"}}, n, nil)
		r.Start()
		run := newRun("github", "just-a-name", sha)
		report(t, r, run, store.Succeeded)
		if got := waitNote(t, n, run.ID); !strings.Contains(got[0], "not owner/name") {
			t.Fatalf("note %q", got[0])
		}
	})
}

func TestReporter_NoCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		repo string
		sha  string
		want string
	}{
		{name: "NoSHA", repo: "octo/app", want: "carries no commit sha"},
		{name: "NoRepo", sha: sha, want: "carries no repository"},
		{name: "DeletedBranch", repo: "octo/app", sha: strings.Repeat("0", 40), want: "carries no commit sha"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fakeapi.NewGitHub(t, token, true)
			n := &notes{}
			r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, n, nil)
			r.Start()
			run := newRun("github", tc.repo, tc.sha)
			run.Meta["HOOKTRIGGER_EVENT"] = "issue_comment"
			report(t, r, run, store.Queued)
			report(t, r, run, store.Running)
			report(t, r, run, store.Succeeded)
			got := n.of(run.ID)
			if len(got) != 2 || !strings.Contains(got[0], tc.want) || !strings.Contains(got[0], "issue_comment") {
				t.Fatalf("notes %q, want two (queued and final) saying %q", got, tc.want)
			}
			if r.Pending() != 0 || len(f.Calls()) != 0 {
				t.Fatalf("something was sent: %+v", f.Calls())
			}
		})
	}
}

func TestReporter_NoStatusBlock(t *testing.T) {
	n := &notes{}
	r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token}}, n, nil)
	run := newRun("github", "octo/app", sha)
	run.Trigger = "other" // the lookup knows no status block for it
	report(t, r, run, store.Succeeded)
	if r.Pending() != 0 || len(n.of(run.ID)) != 0 {
		t.Fatalf("a trigger without status block was reported: pending %d notes %v", r.Pending(), n.of(run.ID))
	}
}

func TestReporter_Coalesces(t *testing.T) {
	f := fakeapi.NewGitHub(t, token, true)
	r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, &notes{}, nil)
	run := newRun("github", "octo/app", sha)
	report(t, r, run, store.Queued)
	report(t, r, run, store.Running)
	report(t, r, run, store.Failed)
	report(t, r, run, store.Running) // late and out of order: must not replace the end
	if r.Pending() != 1 {
		t.Fatalf("pending %d, want the one run", r.Pending())
	}
	r.Start()
	f.WaitFor(t, 20*time.Second, "the final state", func(c []fakeapi.Call) bool { return len(c) == 1 })
	time.Sleep(200 * time.Millisecond)
	if got := f.States(sha); len(got) != 1 || got[0] != "failure" {
		t.Fatalf("states %v, want only the latest (failure)", got)
	}
}

func TestReporter_BoundedQueue(t *testing.T) {
	f := fakeapi.NewGitHub(t, token, true)
	n := &notes{}
	r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, n,
		func(r *status.Reporter) { r.QueueSize = 2 })
	shas := map[string]string{}
	mk := func(name string) *store.Run {
		s := strings.Repeat(name, 40)
		run := newRun("github", "octo/app", s)
		shas[name] = s
		return run
	}
	a, b, c, d, e := mk("a"), mk("b"), mk("c"), mk("d"), mk("e")
	report(t, r, a, store.Queued)
	report(t, r, b, store.Succeeded)
	report(t, r, c, store.Queued)    // full: a (oldest intermediate) goes
	report(t, r, d, store.Succeeded) // full: c (intermediate) goes
	report(t, r, e, store.Succeeded) // only finals wait: b (oldest) goes, noted
	if r.Pending() != 2 || r.Dropped() != 3 || r.Failures() != 1 {
		t.Fatalf("pending %d dropped %d failures %d", r.Pending(), r.Dropped(), r.Failures())
	}
	if got := n.of(b.ID); len(got) != 1 || !strings.Contains(got[0], "queue is full") {
		t.Fatalf("dropped final state not noted: %v", got)
	}
	if len(n.of(a.ID))+len(n.of(c.ID)) != 0 {
		t.Fatal("a dropped intermediate state was noted as a failure")
	}
	r.Start()
	f.WaitFor(t, 20*time.Second, "two statuses", func(c []fakeapi.Call) bool { return len(c) == 2 })
	for name, want := range map[string]int{"a": 0, "b": 0, "c": 0, "d": 1, "e": 1} {
		if got := len(f.States(shas[name])); got != want {
			t.Errorf("run %s: %d statuses, want %d", name, got, want)
		}
	}
}

func TestReporter_Description(t *testing.T) {
	f := fakeapi.NewGitHub(t, token, true)
	long := strings.Repeat("é", 200)
	r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL,
		Description: "deploy $target: $HOOKTRIGGER_STATE $long"}}, &notes{}, nil)
	r.Start()
	run := newRun("github", "octo/app", sha)
	run.Vars["long"] = long
	report(t, r, run, store.Running)
	calls := f.WaitFor(t, 20*time.Second, "a status", func(c []fakeapi.Call) bool { return len(c) == 1 })
	d := calls[0].Description
	if calls[0].Code != 201 || !strings.HasPrefix(d, "deploy prod: running éé") || len([]rune(d)) != 140 || !strings.HasSuffix(d, "…") {
		t.Fatalf("description %q (%d runes), code %d", d, len([]rune(d)), calls[0].Code)
	}
}

func TestReporter_GitLabSameStateIsSuccess(t *testing.T) {
	f := fakeapi.NewGitLab(t, token)
	su := setup{provider: "gitlab", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}
	run := newRun("gitlab", "g/app", sha)
	for i := range 2 { // the second reporter repeats a state GitLab already has
		n := &notes{}
		r := newReporter(t, su, n, nil)
		r.Start()
		report(t, r, run, store.Running)
		f.WaitFor(t, 20*time.Second, "a status", func(c []fakeapi.Call) bool { return len(c) == i+1 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r.Close(ctx)
		cancel()
		if r.Sent() != 1 || r.Failures() != 0 || len(n.of(run.ID)) != 0 {
			t.Fatalf("reporter %d: sent %d failures %d notes %v", i, r.Sent(), r.Failures(), n.of(run.ID))
		}
	}
	if calls := f.Calls(); calls[1].Code != 400 {
		t.Fatalf("the fake should have refused the repeat: %+v", calls)
	}
}

func TestReporter_Close(t *testing.T) {
	t.Run("DrainsQueue", func(t *testing.T) {
		f := fakeapi.NewGitHub(t, token, true)
		r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, &notes{}, nil)
		r.Start()
		for range 20 {
			report(t, r, newRun("github", "octo/app", sha), store.Succeeded)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if left := r.Close(ctx); left != 0 || len(f.Calls()) != 20 {
			t.Fatalf("left %d, calls %d", left, len(f.Calls()))
		}
		if err := r.Report(newRun("github", "octo/app", sha)); !errors.Is(err, status.ErrClosed) {
			t.Fatalf("Report after Close: %v", err)
		}
	})

	t.Run("DeadlineAbandonsRetries", func(t *testing.T) {
		f := fakeapi.NewGitHub(t, token, true)
		f.Fail(fakeapi.Fault{Code: 503, Header: map[string]string{"Retry-After": "600"}})
		n := &notes{}
		r := newReporter(t, setup{provider: "github", spec: &trigger.StatusSpec{Context: "c", Token: token, BaseURL: f.URL}}, n, nil)
		r.Start()
		report(t, r, newRun("github", "octo/app", sha), store.Succeeded)
		f.WaitFor(t, 20*time.Second, "the 503", func(c []fakeapi.Call) bool { return len(c) == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		done := make(chan int)
		go func() { done <- r.Close(ctx) }()
		select {
		case left := <-done:
			if left != 1 {
				t.Fatalf("left %d, want the one waiting for its retry", left)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Close did not honour its deadline")
		}
	})
}
