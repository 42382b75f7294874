// Package status reports the state of runs back to GitHub and GitLab as
// commit statuses, so a developer sees the build on the commit and on the
// pull or merge request.
//
// Reporting never blocks or fails a build. Report only copies what it needs
// into a bounded in-memory queue; a dispatcher goroutine sends the queued
// statuses (a few at once), retries 5xx answers, network errors and rate
// limits with exponential backoff (honouring Retry-After and the rate-limit
// reset headers), and records a final failure on the run as its status note.
// Only the latest state of a run matters: a newer state replaces one that is
// still waiting, and a state that waits for a retry is dropped when a newer
// one arrives.
//
// State mapping. GitHub: queued and running → pending; succeeded → success;
// failed and timed_out → failure; cancelled, interrupted, skipped and
// superseded → error (GitHub has no neutral final state for commit statuses,
// and a pending status was already posted when the run was queued: leaving
// it pending would block a required check forever, and success would pass
// it without a build; the description says which of the four it was).
// GitLab: queued → pending; running → running; succeeded → success; failed,
// timed_out and interrupted → failed; cancelled, skipped and superseded →
// canceled.
package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// Keys of a run's Meta that the reporter reads.
const (
	MetaProvider = "HOOKTRIGGER_PROVIDER"
	MetaRepo     = "HOOKTRIGGER_REPO"
	MetaSHA      = "HOOKTRIGGER_SHA"
	// MetaState is the extra variable a description template can use: the
	// run's hooktrigger state (queued, running, succeeded, …).
	MetaState = "HOOKTRIGGER_STATE"
)

// Defaults of a Reporter's tuning fields.
const (
	DefaultQueueSize   = 1000
	DefaultWorkers     = 4
	DefaultMaxAttempts = 6
	DefaultBackoff     = time.Second
	DefaultMaxWait     = time.Hour
	DefaultTimeout     = 30 * time.Second
)

// DefaultDescription is the description template used when a trigger's
// status block has none.
const DefaultDescription = "hooktrigger: $" + MetaState

// LookupFunc returns the provider and status block of the trigger named
// name in the config in force, or a nil spec when the trigger reports no
// status (or no longer exists).
type LookupFunc func(name string) (provider string, spec *trigger.StatusSpec)

// NoteSetter records why a run's commit status was not reported.
// store.Store implements it.
type NoteSetter interface {
	SetStatusNote(ctx context.Context, runID, note string) error
}

// Status is one commit status to post.
type Status struct {
	Provider    string      // "github" or "gitlab"
	BaseURL     string      // "" for github.com / gitlab.com
	Token       string      // API token
	Repo        string      // GitHub owner/name, GitLab path_with_namespace
	SHA         string      // the commit
	State       store.State // hooktrigger's state; each provider maps it
	Context     string      // the status's name
	Description string
	TargetURL   string
}

// Reporter queues run states and posts them as commit statuses. Set the
// fields, then call Start; Report and Close are safe for concurrent use.
type Reporter struct {
	Lookup    LookupFunc
	Notes     NoteSetter                            // nil: notes are only logged
	Reported  func(runID string, state store.State) // optional; after the API accepted a final state, from a worker goroutine
	RunURL    func(id string) string                // target_url of a run; nil or "": none
	Log       *slog.Logger
	HTTP      *http.Client                   // nil: a client with DefaultTimeout
	OnResult  func(provider string, ok bool) // after each API request; called from several goroutines, must not block
	QueueSize int                            // distinct runs waiting at most; 0: DefaultQueueSize
	Workers   int                            // requests in flight at most; 0: DefaultWorkers
	Attempts  int                            // tries per state; 0: DefaultMaxAttempts
	Backoff   time.Duration                  // first retry delay, doubled each time; 0: DefaultBackoff
	MaxWait   time.Duration                  // longest wait for a rate-limit reset; 0: DefaultMaxWait

	mu       sync.Mutex
	entries  map[string]*entry // by run id
	seq      uint64
	inflight int
	closing  bool
	wake     chan struct{}
	done     chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	clients  map[string]sender
	gaveUp   map[string]bool // runs whose status failed for good: later states are not sent
	failures atomic.Uint64
	dropped  atomic.Uint64
	sent     atomic.Uint64
	start    sync.Once
}

// entry is the latest state of one run waiting to be sent.
type entry struct {
	st        Status
	runID     string
	seq       uint64 // order of arrival of the run
	gen       uint64 // bumped when a newer state replaces st
	attempt   int
	notBefore time.Time
	busy      bool // a worker is sending it
}

// sender posts one status to one provider with one credential.
type sender interface {
	send(ctx context.Context, st *Status) error
}

// Error is a failed attempt to post a status.
type Error struct {
	Provider   string
	Code       int           // HTTP status; 0 when no answer came
	Retry      bool          // worth trying again
	RetryAfter time.Duration // the API's own wait, when it said one
	Err        error
}

func (e *Error) Error() string {
	if e.Code != 0 {
		return fmt.Sprintf("status: %s answered %d: %v", e.Provider, e.Code, e.Err)
	}
	return fmt.Sprintf("status: %s: %v", e.Provider, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrClosed is returned by Report after Close.
var ErrClosed = errors.New("status: reporter closed")

// Start starts the dispatcher. Report before Start queues; nothing is sent.
func (r *Reporter) Start() {
	r.start.Do(func() {
		r.init()
		go r.dispatch()
	})
}

func (r *Reporter) init() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.entries != nil {
		return
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.HTTP == nil {
		r.HTTP = &http.Client{Timeout: DefaultTimeout}
	}
	if r.QueueSize <= 0 {
		r.QueueSize = DefaultQueueSize
	}
	if r.Workers <= 0 {
		r.Workers = DefaultWorkers
	}
	if r.Attempts <= 0 {
		r.Attempts = DefaultMaxAttempts
	}
	if r.Backoff <= 0 {
		r.Backoff = DefaultBackoff
	}
	if r.MaxWait <= 0 {
		r.MaxWait = DefaultMaxWait
	}
	r.entries = map[string]*entry{}
	r.clients = map[string]sender{}
	r.gaveUp = map[string]bool{}
	r.wake = make(chan struct{}, 1)
	r.done = make(chan struct{})
	r.ctx, r.cancel = context.WithCancel(context.Background())
}

// Failures counts statuses that could not be posted: final API errors,
// retries exhausted, and final states dropped from a full queue.
func (r *Reporter) Failures() uint64 { return r.failures.Load() }

// Dropped counts states dropped from a full queue (intermediate ones first).
func (r *Reporter) Dropped() uint64 { return r.dropped.Load() }

// Sent counts statuses the APIs accepted.
func (r *Reporter) Sent() uint64 { return r.sent.Load() }

// Pending returns how many runs have a state waiting to be sent.
func (r *Reporter) Pending() int {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// Report queues run's current state. It never blocks on the network: it
// copies what it needs and returns. A run whose trigger has no status
// block is ignored; a run without a repository or commit gets a note that
// says why nothing is reported.
func (r *Reporter) Report(run *store.Run) error {
	r.init()
	if run == nil || r.Lookup == nil {
		return nil
	}
	provider, spec := r.Lookup(run.Trigger)
	if spec == nil {
		return nil
	}
	if p := run.Meta[MetaProvider]; p != "" {
		provider = p
	}
	repo, sha := run.Meta[MetaRepo], run.Meta[MetaSHA]
	if strings.Trim(sha, "0") == "" {
		sha = "" // a deleted branch's push: the all-zero sha names no commit
	}
	if repo == "" || sha == "" {
		// Noted once when queued and once when final, not on every change.
		if run.State == store.Queued || run.State.Final() {
			what := "commit sha"
			if repo == "" {
				what = "repository"
			}
			if sha == "" && repo == "" {
				what = "repository nor commit sha"
			}
			r.note(run.ID, fmt.Sprintf("commit status not reported: the %s event carries no %s", eventName(run), what))
		}
		return nil
	}
	vars := make(map[string]string, len(run.Vars)+len(run.Meta)+1)
	for k, v := range run.Meta {
		vars[k] = v
	}
	for k, v := range run.Vars {
		vars[k] = v
	}
	vars[MetaState] = string(run.State)
	tmpl := spec.Description
	if tmpl == "" {
		tmpl = DefaultDescription
	}
	st := Status{
		Provider: provider, BaseURL: spec.BaseURL, Token: spec.Token, Repo: repo, SHA: sha,
		State: run.State, Context: spec.Context, Description: extract.Render(tmpl, vars),
	}
	if r.RunURL != nil {
		st.TargetURL = r.RunURL(run.ID)
	}
	return r.enqueue(run.ID, st)
}

func eventName(run *store.Run) string {
	if e := run.Meta["HOOKTRIGGER_EVENT"]; e != "" {
		return e
	}
	return "delivered"
}

func (r *Reporter) enqueue(runID string, st Status) error {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		return ErrClosed
	}
	if e, ok := r.entries[runID]; ok {
		if e.st.State.Final() && !st.State.Final() {
			r.mu.Unlock() // a late intermediate state never overrides the end
			return nil
		}
		e.st, e.gen, e.attempt, e.notBefore = st, e.gen+1, 0, time.Time{}
		r.mu.Unlock()
		r.poke()
		return nil
	}
	var lost *entry
	if len(r.entries) >= r.QueueSize {
		victim := r.oldest(func(e *entry) bool { return !e.busy && !e.st.State.Final() })
		if victim == nil && st.State.Final() {
			victim = r.oldest(func(e *entry) bool { return !e.busy })
		}
		if victim == nil { // only finals (or busy ones) wait: drop the newcomer
			r.mu.Unlock()
			r.dropped.Add(1)
			if st.State.Final() {
				r.failures.Add(1)
				r.note(runID, "commit status "+string(st.State)+" not reported: the status queue is full")
			}
			return nil
		}
		delete(r.entries, victim.runID)
		lost = victim
	}
	r.seq++
	r.entries[runID] = &entry{st: st, runID: runID, seq: r.seq}
	r.mu.Unlock()
	if lost != nil {
		r.dropped.Add(1)
		if lost.st.State.Final() {
			r.failures.Add(1)
			r.note(lost.runID, "commit status "+string(lost.st.State)+" not reported: the status queue is full")
		}
	}
	r.poke()
	return nil
}

// oldest returns the earliest queued entry that ok accepts. r.mu is held.
func (r *Reporter) oldest(ok func(*entry) bool) *entry {
	var best *entry
	for _, e := range r.entries {
		if ok(e) && (best == nil || e.seq < best.seq) {
			best = e
		}
	}
	return best
}

func (r *Reporter) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dispatch hands ready entries to workers until Close.
func (r *Reporter) dispatch() {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ctxDone := r.ctx.Done()
	for {
		r.mu.Lock()
		now := time.Now()
		var next time.Time
		for r.inflight < r.Workers {
			e := r.oldest(func(e *entry) bool { return !e.busy && !e.notBefore.After(now) })
			if e == nil {
				break
			}
			if r.gaveUp[e.runID] { // an earlier state of this run failed for good
				delete(r.entries, e.runID)
				if e.st.State.Final() {
					delete(r.gaveUp, e.runID)
				}
				continue
			}
			e.busy = true
			r.inflight++
			go r.work(e, e.gen, e.st, e.attempt)
		}
		for _, e := range r.entries {
			if !e.busy && e.notBefore.After(now) && (next.IsZero() || e.notBefore.Before(next)) {
				next = e.notBefore
			}
		}
		stop := r.closing && (len(r.entries) == 0 || r.ctx.Err() != nil) && r.inflight == 0
		r.mu.Unlock()
		if stop {
			return
		}
		wait := time.Hour
		if !next.IsZero() {
			wait = time.Until(next)
		}
		timer.Reset(wait)
		select {
		case <-r.wake:
		case <-timer.C:
		case <-ctxDone:
			// Close's deadline passed: stop waiting for retries.
			ctxDone = nil
			r.mu.Lock()
			for id, e := range r.entries {
				if !e.busy {
					delete(r.entries, id)
				}
			}
			r.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// work sends one state and files the outcome.
func (r *Reporter) work(e *entry, gen uint64, st Status, attempt int) {
	err := r.send(&st)
	ok := err == nil
	if r.OnResult != nil {
		r.OnResult(st.Provider, ok)
	}
	if ok && st.State.Final() && r.Reported != nil {
		// Before the worker counts as done: Close waits for it, so a
		// stop does not lose the record and send the state again.
		r.Reported(e.runID, st.State)
	}
	var note string
	r.mu.Lock()
	r.inflight--
	e.busy = false
	if ok {
		r.sent.Add(1)
	}
	newer := e.gen != gen // a newer state arrived while this one was sent
	switch {
	case ok:
		if !newer {
			delete(r.entries, e.runID)
		}
		if st.State.Final() {
			delete(r.gaveUp, e.runID)
		}
	default:
		wait, again, retry := r.retryAfter(err, attempt)
		if newer && retry {
			break // moot: the newer state goes next
		}
		if again && r.ctx.Err() == nil {
			e.attempt = attempt + 1
			e.notBefore = time.Now().Add(wait)
			r.Log.Debug("commit status will be retried", "run", e.runID, "state", st.State, "in", wait, "err", err)
			break
		}
		if !newer {
			delete(r.entries, e.runID)
		}
		r.failures.Add(1)
		switch {
		case st.State.Final():
			delete(r.gaveUp, e.runID)
		case !retry && len(r.gaveUp) < 10*r.QueueSize:
			// A bad token or a missing repository does not heal within a
			// run: later states of this run are not sent.
			r.gaveUp[e.runID] = true
		}
		note = fmt.Sprintf("commit status %s not reported to %s: %v", st.State, st.Provider, err)
		if r.ctx.Err() != nil {
			// Stopped before the API answered: no note, so that the next
			// start sends it (the store lists the runs without one).
			note = ""
			r.Log.Warn("commit status not reported before the stop; it is sent at the next start", "run", e.runID, "state", st.State, "provider", st.Provider)
		} else if retry {
			note = fmt.Sprintf("commit status %s not reported to %s after %d attempts: %v", st.State, st.Provider, attempt+1, err)
		}
	}
	r.mu.Unlock()
	if note != "" {
		r.Log.Warn("commit status not reported", "run", e.runID, "state", st.State, "provider", st.Provider, "err", err)
		r.note(e.runID, note)
	}
	r.poke()
}

// send posts st with the client for its provider, base URL and token.
func (r *Reporter) send(st *Status) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{Provider: st.Provider, Err: fmt.Errorf("panic: %v", p)}
		}
	}()
	c, err := r.client(st)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.ctx, DefaultTimeout)
	defer cancel()
	return c.send(ctx, st)
}

func (r *Reporter) client(st *Status) (sender, error) {
	key := st.Provider + "\x00" + st.BaseURL + "\x00" + st.Token
	r.mu.Lock()
	defer r.mu.Unlock()
	if c, ok := r.clients[key]; ok {
		return c, nil
	}
	var c sender
	var err error
	switch st.Provider {
	case "github":
		c, err = newGitHub(r.HTTP, st.BaseURL, st.Token)
	case "gitlab":
		c, err = newGitLab(r.HTTP, st.BaseURL, st.Token)
	default:
		err = fmt.Errorf("provider %q has no commit statuses", st.Provider)
	}
	if err != nil {
		return nil, &Error{Provider: st.Provider, Err: err}
	}
	r.clients[key] = c
	return c, nil
}

// retryAfter says whether err is of a retryable kind, whether another
// attempt is due, and after how long.
func (r *Reporter) retryAfter(err error, attempt int) (wait time.Duration, again, retryable bool) {
	var se *Error
	if !errors.As(err, &se) || !se.Retry {
		return 0, false, false
	}
	if attempt+1 >= r.Attempts {
		return 0, false, true
	}
	wait = r.Backoff << attempt
	if se.RetryAfter > 0 {
		wait = se.RetryAfter
	}
	if wait > r.MaxWait {
		return 0, false, true
	}
	return wait, true, true
}

// note records why a status was not reported. The reporter never fails a
// build, so a note that cannot be written is only logged.
func (r *Reporter) note(runID, note string) {
	if r.Notes == nil {
		r.Log.Info("commit status note", "run", runID, "note", note)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Notes.SetStatusNote(ctx, runID, truncate(note, 1000)); err != nil {
		r.Log.Warn("cannot record the commit status note", "run", runID, "err", err)
	}
}

// Close stops accepting states and sends what is queued until ctx is done;
// then it abandons the rest (in-flight requests are cancelled). It returns
// how many runs' states were abandoned.
func (r *Reporter) Close(ctx context.Context) int {
	r.init()
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.start.Do(func() { go r.dispatch() }) // never started: drain anyway
	r.poke()
	n := 0
	select {
	case <-r.done:
	case <-ctx.Done():
		r.mu.Lock()
		n = len(r.entries)
		r.mu.Unlock()
		r.cancel()
		<-r.done
	}
	r.cancel()
	if n > 0 {
		r.Log.Warn("commit statuses abandoned at shutdown", "runs", n)
	}
	return n
}

// truncate shortens s to at most n runes, ending with "…" when cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	rs := []rune(s)
	if len(rs) <= n {
		return s
	}
	return strings.TrimSpace(string(rs[:n-1])) + "…"
}
