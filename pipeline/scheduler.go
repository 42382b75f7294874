package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// errShutdown is the cancel cause of runs stopped because hooktrigger stops.
var errShutdown = errors.New("pipeline: hooktrigger is shutting down")

// Scheduler starts queued runs on a bounded pool of workers, obeying each
// trigger's concurrency policy, and records every state change in the store.
// It is safe for concurrent use.
type Scheduler struct {
	store   store.Store
	lookup  func(trigger string) (*Spec, bool)
	dir     string
	workers int
	log     *slog.Logger

	// OnChange, when set before Start, is called after every recorded
	// state change of a run (metrics, commit status, live UI).
	OnChange func(r *store.Run)
	// OwesNotify, when set before Start, says whether a run that ends as
	// r has notifications to send. The update recording such an end marks
	// them owed by this instance in the same commit (store.Run's
	// NotifyPending), so that no crash between the end and the sender can
	// lose them.
	OwesNotify func(r *store.Run) bool
	// Instance names this process in run records.
	Instance string

	mu       sync.Mutex
	queue    []*item          // waiting runs, oldest first
	running  map[string]*item // by run id
	inGroup  map[string]int   // running runs per group
	nRunning int              // workers taken
	// resume holds the runs waiting for a worker again after a retry's
	// delay; a worker that frees up goes to them before the queue.
	resume  []chan struct{}
	buckets sync.Map // parents of run directories known to exist
	// bodyBytes is what the bodies held by queued items weigh.
	bodyBytes int64
	stopping  bool
	timer     *time.Timer
	wg        sync.WaitGroup
	kick      chan struct{}
	shared    *sharedState // several instances on one store: claim.go
}

type item struct {
	run       *store.Run
	spec      *Spec
	body      []byte // the delivery's body while it fits QueuedBodyBudget and QueuedBodyMax, else nil
	notBefore time.Time
	cancel    context.CancelCauseFunc
	claimed   atomic.Bool // recorded as running on this instance
	ended     atomic.Bool // the command has returned; the run is no longer live
	// idle is set while the run has given its worker back (a retry's
	// delay, or after failing to get it again); only its own goroutine
	// touches it.
	idle bool
}

// stop cancels a started item's run, saying why.
func (it *item) stop(reason string) { it.cancel(fmt.Errorf("%w: %s", ErrCancelled, reason)) }

// NewScheduler returns a scheduler writing run directories and logs under
// dir. lookup gives the current spec of a trigger (it follows config
// reloads).
func NewScheduler(st store.Store, lookup func(trigger string) (*Spec, bool), dir string, workers int, log *slog.Logger) *Scheduler {
	if workers < 1 {
		workers = 1
	}
	if log == nil {
		log = slog.Default()
	}
	return &Scheduler{store: st, lookup: lookup, dir: dir, workers: workers, log: log,
		running: map[string]*item{}, inGroup: map[string]int{}, kick: make(chan struct{}, 1)}
}

// mkBucket makes the parent of run directories, once per process.
func (s *Scheduler) mkBucket(dir string) error {
	if _, ok := s.buckets.Load(dir); ok {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	s.buckets.Store(dir, true)
	return nil
}

// RunDir is the directory of one run: its log, payload and variables file.
// Run directories are spread over 32 parents by the last (random) character
// of the id; more parents would cost a mkdir on most runs of a young data
// directory, for no gain (a directory of many entries is indexed).
func (s *Scheduler) RunDir(id string) string { return filepath.Join(s.dir, id[len(id)-1:], id) }

// LogPath is the path of a run's log file.
func (s *Scheduler) LogPath(id string) string { return filepath.Join(s.RunDir(id), "log") }

// Start recovers from a previous process: runs left running are marked
// interrupted (and queued again when their trigger says retry_interrupted),
// and queued runs are scheduled.
func (s *Scheduler) Start(ctx context.Context) error {
	interrupted, err := s.store.InterruptRunning(ctx)
	if err != nil {
		return err
	}
	// A crash leaves a build's descendants running (Pdeathsig reaches its
	// main process only); stop them before anything new starts.
	ids := map[string]bool{}
	for _, r := range interrupted {
		ids[r.ID] = true
	}
	groups := leftoverGroups(ids)
	var wg sync.WaitGroup
	for _, r := range interrupted {
		pgids := groups[r.ID]
		if len(pgids) == 0 {
			continue
		}
		grace := DefaultKillGrace
		spec, ok := s.lookup(r.Trigger)
		if ok && spec.Command != nil && spec.Command.KillGrace > 0 {
			grace = spec.Command.KillGrace
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig := stopGroups(pgids, grace)
			s.log.Warn("stopped processes a crashed run left behind", "run", r.ID, "signal", sig)
		}()
	}
	wg.Wait()
	for _, r := range interrupted {
		s.log.Warn("run interrupted by a previous stop", "run", r.ID, "trigger", r.Trigger)
		s.changed(r)
		if spec, ok := s.lookup(r.Trigger); ok && spec.RetryInterrupted {
			if err := s.requeue(ctx, r); err != nil {
				return err
			}
		}
	}
	queued, err := s.store.QueuedRuns(ctx)
	if err != nil {
		return err
	}
	s.Enqueue(queued, nil)
	return nil
}

// Enqueue schedules runs that were just recorded as queued. body is the
// delivery's raw body (nil: read from the store when the run starts).
//
// Per run, in this order: a quiet period supersedes the runs of the same
// trigger and group still waiting out theirs; skip-if-running records the
// run as skipped when its group still has a run queued or running;
// cancel-previous cancels the queued and running runs of the group (the new
// run starts once they have ended).
func (s *Scheduler) Enqueue(runs []*store.Run, body []byte) {
	now := time.Now()
	var final []*store.Run
	sh, shared := s.store.(store.Shared)
	busyElsewhere := s.busyElsewhere(sh, runs)
	s.mu.Lock()
	inQueue := s.queuedLookup(shared, len(runs))
	for _, r := range runs {
		spec, ok := s.lookup(r.Trigger)
		if !ok {
			r.State, r.EndedAt, r.Error = store.Failed, now, "trigger is no longer configured"
			final = append(final, r)
			continue
		}
		it := &item{run: r, spec: spec}
		// With a shared store this instance may have adopted the run from
		// the store (Watch) before the request that recorded it got here;
		// the policy still applies, to the other runs of the group.
		cur, inRunning := s.running[r.ID]
		started := inRunning && cur.claimed.Load()
		adopted := inRunning || inQueue(r.ID)
		if r.Group != "" {
			if spec.QuietPeriod > 0 && !adopted {
				final = append(final, s.supersede(r, now)...)
				it.notBefore = now.Add(spec.QuietPeriod)
			}
			switch spec.Policy {
			case PolicySkipIfRunning:
				if !started && (s.groupBusy(r.Group, r.ID) || busyElsewhere[r.ID]) {
					r.State, r.EndedAt, r.Error = store.Skipped, now, skipReason(r.Group)
					final = append(final, r)
					continue
				}
			case PolicyCancelPrevious:
				reason := "cancelled by newer run " + r.ID
				final = append(final, s.cancelGroup(r.Group, reason, r.ID)...)
				if shared {
					go s.cancelElsewhere(sh, r.Group, reason)
				}
			}
		}
		if adopted {
			continue
		}
		if body != nil && len(body) <= QueuedBodyMax && s.bodyBytes+int64(len(body)) <= QueuedBodyBudget {
			it.body = body
			s.bodyBytes += int64(len(body))
		}
		s.queue = append(s.queue, it)
	}
	s.mu.Unlock()
	for _, r := range final {
		s.finish(r, store.Queued)
	}
	s.dispatch()
}

// skipReason is the error of a run that skip-if-running skipped.
func skipReason(group string) string {
	return "a run of group " + group + " is already queued or running"
}

// busyElsewhere asks sh, a shared store or nil, which skip-if-running runs of runs
// have an older run of their group queued or running on any instance. A
// store that cannot answer leaves the decision to what this instance knows.
func (s *Scheduler) busyElsewhere(sh store.Shared, runs []*store.Run) map[string]bool {
	if sh == nil {
		return nil
	}
	var busy map[string]bool
	for _, r := range runs {
		if r.Group == "" {
			continue
		}
		if spec, ok := s.lookup(r.Trigger); !ok || spec.Policy != PolicySkipIfRunning {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		b, err := sh.GroupBusy(ctx, r.Group, r.ID)
		cancel()
		if err != nil {
			s.log.Warn("cannot ask the other instances about the group; deciding on this one's runs", "group", r.Group, "err", err)
			continue
		}
		if b {
			if busy == nil {
				busy = map[string]bool{}
			}
			busy[r.ID] = true
		}
	}
	return busy
}

// QueuedBodyBudget bounds the delivery bodies that queued runs keep in
// memory, and QueuedBodyMax the size of one kept body. Within them a run
// starts without reading its body back from the store; beyond them (a long
// backlog, large bodies) runs are queued without their body, which is read
// from the store when they start.
const (
	QueuedBodyBudget = 16 << 20
	QueuedBodyMax    = 256 << 10
)

// dropBody forgets the body of an item leaving the queue unstarted. s.mu held.
func (s *Scheduler) dropBody(it *item) {
	s.bodyBytes -= int64(len(it.body))
	it.body = nil
}

// groupBusy reports whether group has a run other than self queued or
// running. s.mu held.
func (s *Scheduler) groupBusy(group, self string) bool {
	n := s.inGroup[group]
	if _, ok := s.running[self]; ok {
		n-- // self, adopted and being claimed
	}
	if n > 0 {
		return true
	}
	for _, it := range s.queue {
		if it.run.Group == group && it.run.ID != self {
			return true
		}
	}
	return false
}

// queuedLookup returns what tells whether a run waits in the queue, for
// Enqueue to find the runs this instance adopted from a shared store
// before their Enqueue (only a shared store's runs are adopted: without
// one it answers false). A few runs, as a delivery brings, are looked for
// by a scan; many, as a start brings, through a set made once, or the
// start would be quadratic (minutes for 200,000 runs), while a set made
// for each delivery would cost the whole queue each time. s.mu held.
func (s *Scheduler) queuedLookup(shared bool, runs int) func(id string) bool {
	switch {
	case !shared:
		return func(string) bool { return false }
	case runs <= 8:
		return func(id string) bool {
			for _, it := range s.queue {
				if it.run.ID == id {
					return true
				}
			}
			return false
		}
	}
	set := make(map[string]bool, len(s.queue))
	for _, it := range s.queue {
		set[it.run.ID] = true
	}
	return func(id string) bool { return set[id] }
}

// cancelGroup takes the queued runs of group out of the queue (returning
// them, to be recorded as cancelled) and cancels its running runs. s.mu held.
func (s *Scheduler) cancelGroup(group, reason, self string) []*store.Run {
	var out []*store.Run
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.run.Group == group && it.run.ID != self {
			it.run.State, it.run.EndedAt, it.run.Error = store.Cancelled, time.Now(), reason
			out = append(out, it.run)
			s.dropBody(it)
			continue
		}
		kept = append(kept, it)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	for _, it := range s.running {
		if it.run.Group == group && it.run.ID != self && it.cancel != nil {
			it.stop(reason)
		}
	}
	return out
}

// supersede takes the waiting runs of r's trigger and group still inside
// their quiet period out of the queue; r replaces them. s.mu held.
func (s *Scheduler) supersede(r *store.Run, now time.Time) []*store.Run {
	var out []*store.Run
	kept := s.queue[:0]
	for _, it := range s.queue {
		if it.run.Group == r.Group && it.run.Trigger == r.Trigger && it.notBefore.After(now) {
			it.run.State, it.run.EndedAt, it.run.Error = store.Superseded, now, "superseded by run "+r.ID+" within the quiet period"
			out = append(out, it.run)
			s.dropBody(it)
			continue
		}
		kept = append(kept, it)
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	return out
}

// admits reports whether the group policy lets it start now. s.mu held.
func (s *Scheduler) admits(it *item) bool {
	g := it.run.Group
	if g == "" {
		return true
	}
	n := s.inGroup[g]
	switch it.spec.Policy {
	case PolicyParallel:
		return it.spec.Max == 0 || n < it.spec.Max
	default: // queue, cancel-previous, skip-if-running: one at a time
		return n == 0
	}
}

// dispatch starts every queued run that a worker and its group admit, in
// queue order.
func (s *Scheduler) dispatch() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping || s.nRunning >= s.workers {
		return
	}
	now := time.Now()
	var next time.Time
	kept := s.queue[:0]
	blocked := map[string]bool{} // groups whose older run waits: keep FIFO
	for _, it := range s.queue {
		g := it.run.Group
		switch {
		case s.nRunning >= s.workers, g != "" && blocked[g]:
			kept = append(kept, it)
		case it.notBefore.After(now):
			if next.IsZero() || it.notBefore.Before(next) {
				next = it.notBefore
			}
			if g != "" {
				blocked[g] = true // younger runs of the group wait behind it
			}
			kept = append(kept, it)
		case !s.admits(it):
			if g != "" {
				blocked[g] = true
			}
			kept = append(kept, it)
		default:
			s.start(it)
		}
	}
	clear(s.queue[len(kept):])
	s.queue = kept
	if !next.IsZero() {
		if s.timer != nil {
			s.timer.Stop()
		}
		s.timer = time.AfterFunc(time.Until(next), s.dispatch)
	}
}

// start launches it on a worker. s.mu held.
func (s *Scheduler) start(it *item) {
	s.bodyBytes -= int64(len(it.body)) // it leaves the queue; execute takes the body
	ctx, cancel := context.WithCancelCause(context.Background())
	it.cancel = cancel
	s.running[it.run.ID] = it
	s.nRunning++
	if it.run.Group != "" {
		s.inGroup[it.run.Group]++
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		recorded := s.execute(ctx, it)
		cancel(nil)
		s.mu.Lock()
		delete(s.running, it.run.ID)
		if !it.idle {
			s.releaseWorker()
		}
		if it.run.Group != "" {
			if s.inGroup[it.run.Group]--; s.inGroup[it.run.Group] == 0 {
				delete(s.inGroup, it.run.Group)
			}
		}
		s.mu.Unlock()
		// The next run claimed by this dispatch commits with the end
		// of this one or after it (see finishOrdered).
		s.dispatch()
		recorded()
	}()
}

// releaseWorker gives a worker back: to a run waiting to resume after a
// retry's delay if there is one, else to the queue. s.mu held.
func (s *Scheduler) releaseWorker() {
	if len(s.resume) > 0 && !s.stopping { // stopping: no new attempt starts
		next := s.resume[0]
		s.resume = s.resume[1:]
		close(next) // the worker passes to it: nRunning stays
		return
	}
	s.nRunning--
}

// idleFor gives it's worker back for d (a retry's delay), keeping its
// place in its group, then takes a worker again, before the queue's runs.
// It reports false when ctx ended first; it.idle then says whether the run
// still holds no worker.
func (s *Scheduler) idleFor(ctx context.Context, it *item, d time.Duration) bool {
	s.mu.Lock()
	s.releaseWorker()
	it.idle = true
	s.mu.Unlock()
	s.dispatch()
	t := time.NewTimer(d)
	select {
	case <-t.C:
	case <-ctx.Done():
		t.Stop()
		return false
	}
	s.mu.Lock()
	if s.nRunning < s.workers && !s.stopping {
		s.nRunning++
		it.idle = false
		s.mu.Unlock()
		return true
	}
	wake := make(chan struct{})
	s.resume = append(s.resume, wake)
	s.mu.Unlock()
	select {
	case <-wake:
		it.idle = false
		return true
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, w := range s.resume {
			if w == wake {
				s.resume = append(s.resume[:i], s.resume[i+1:]...)
				return false
			}
		}
		// The worker was handed over as ctx ended: it is this run's.
		it.idle = false
		return false
	}
}

// execute runs it and submits the record of its end. It returns what waits
// for that record to be committed.
func (s *Scheduler) execute(ctx context.Context, it *item) (recorded func()) {
	done := func() {}
	r := it.run
	ok, err := s.claim(it) // see claim.go
	if err != nil {
		s.log.Error("cannot record run start", "run", r.ID, "err", err)
		return done
	}
	if !ok { // cancelled through the API before it started, or taken elsewhere
		return done
	}
	it.claimed.Store(true)
	s.changed(r)
	body := it.body
	if body == nil {
		if d, err := s.store.Delivery(context.Background(), r.DeliveryID); err == nil {
			body = d.Body
		}
	}
	dir := s.RunDir(r.ID)
	// Only the parent: Execute creates the run directory itself, and
	// knowing it is new saves the removal of stale files.
	if err := s.mkBucket(filepath.Dir(dir)); err != nil {
		r.State, r.EndedAt, r.Error = store.Failed, time.Now(), "cannot create the run directory: "+err.Error()
		s.finish(r, store.Running)
		return done
	}
	meta := r.Meta
	if meta[metaPrefix+"RUN_ID"] != r.ID {
		// The run id in the environment is what lets Start tell the
		// leftovers of this run from unrelated processes; make sure it
		// is there.
		meta = make(map[string]string, len(r.Meta)+1)
		for k, v := range r.Meta {
			meta[k] = v
		}
		meta[metaPrefix+"RUN_ID"] = r.ID
	}
	job := &Job{RunDir: dir, LogPath: s.LogPath(r.ID), Vars: r.Vars, Meta: meta, Payload: body, Attempt: r.Attempt}
	var ship *logShipper
	if ls, ok := s.store.(store.Logs); ok {
		ship = shipLog(ls, r, job.LogPath, r.Attempt == 0, s.log)
	}
	res := Execute(ctx, it.spec.Command, job)
	for s.again(ctx, it, job, &res) {
	}
	if ship != nil {
		// The whole log is stored before the run's end is: whoever sees
		// the run ended reads all of it, on any instance.
		ship.finish()
	}
	it.ended.Store(true)
	r.StartedAt, r.EndedAt = res.Started, res.Ended
	if r.StartedAt.IsZero() {
		r.StartedAt = time.Now()
	}
	if r.EndedAt.IsZero() {
		r.EndedAt = time.Now()
	}
	if res.ExitCode >= 0 && res.Outcome != OutcomeError {
		code := res.ExitCode
		r.ExitCode = &code
	}
	r.Signal = res.Signal
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	switch res.Outcome {
	case OutcomeSucceeded:
		r.State = store.Succeeded
	case OutcomeTimedOut:
		r.State = store.TimedOut
		r.Error = fmt.Sprintf("timed out after %s", it.spec.Command.Timeout)
	case OutcomeCancelled:
		r.State = store.Cancelled
		cause := context.Cause(ctx)
		if errors.Is(cause, errShutdown) {
			r.State = store.Interrupted
		}
		if cause != nil {
			r.Error = cause.Error()
		}
	default:
		r.State = store.Failed
	}
	if r.State == store.Interrupted && it.spec.RetryInterrupted {
		s.finish(r, store.Running)
		// Stopped by a shutdown: queued again for the next start, as
		// after a crash.
		if err := s.requeue(context.Background(), r); err != nil {
			s.log.Error("cannot queue an interrupted run again", "run", r.ID, "err", err)
		}
		return done
	}
	return s.finishOrdered(r, store.Running)
}

// again decides whether the attempt of it's run that ended as res is
// followed by another (run.retry). If so it says why in the log, records
// the new attempt, waits out the delay and executes it, and res becomes
// its result; it reports false once res is the run's last result.
func (s *Scheduler) again(ctx context.Context, it *item, job *Job, resp **Result) bool {
	rt, r, res := it.spec.Retry, it.run, *resp
	failed := res.Outcome == OutcomeFailed || res.Outcome == OutcomeError
	if r.Attempt >= rt.Max || !(failed && rt.Failed || res.Outcome == OutcomeTimedOut && rt.TimedOut) {
		return false
	}
	why := attemptEnd(res, it.spec.Command.Timeout)
	next := fmt.Sprintf("attempt %d of %d", r.Attempt+2, rt.Max+1)
	if rt.Delay > 0 {
		next += " in " + rt.Delay.String()
	}
	if err := noteLog(job.LogPath, "attempt %d %s; %s", r.Attempt+1, why, next); err != nil {
		s.log.Warn("cannot write to the run's log", "run", r.ID, "err", err)
	}
	r.Attempt++
	r.Error = fmt.Sprintf("attempt %d %s; retrying", r.Attempt, why)
	if _, err := s.store.UpdateRun(context.Background(), r, store.Running); err != nil {
		s.log.Error("cannot record the next attempt", "run", r.ID, "err", err)
	}
	s.log.Info("run attempt ended; trying again", "run", r.ID, "trigger", r.Trigger, "attempt", r.Attempt, "reason", why)
	s.changed(r)
	if rt.Delay > 0 && !s.idleFor(ctx, it, rt.Delay) {
		*resp = &Result{Outcome: OutcomeCancelled, ExitCode: -1, Err: context.Cause(ctx), Started: res.Started, Ended: time.Now()}
		return false
	}
	started := res.Started
	job.Again, job.Attempt = true, r.Attempt
	r.Error = ""
	res = Execute(ctx, it.spec.Command, job)
	if !started.IsZero() {
		res.Started = started // the run started with its first attempt
	}
	*resp = res
	return true
}

// attemptEnd says how an attempt ended, for the log and the run's error.
func attemptEnd(res *Result, timeout time.Duration) string {
	switch {
	case res.Outcome == OutcomeTimedOut:
		return fmt.Sprintf("timed out after %s", timeout)
	case res.Outcome == OutcomeError && res.Err != nil:
		return "could not start: " + res.Err.Error()
	case res.Signal != "":
		return "was killed by " + res.Signal
	default:
		return fmt.Sprintf("failed with exit status %d", res.ExitCode)
	}
}

// requeue records an interrupted run as queued again, as its next attempt.
func (s *Scheduler) requeue(ctx context.Context, r *store.Run) error {
	r.State = store.Queued
	r.Attempt++
	r.StartedAt, r.EndedAt = time.Time{}, time.Time{}
	r.ExitCode, r.Signal = nil, ""
	r.Error = "queued again after an interruption"
	ok, err := s.store.UpdateRun(ctx, r, store.Interrupted)
	if err != nil {
		return err
	}
	if ok {
		s.changed(r)
	}
	return nil
}

// finish records a final state reached from state from.
func (s *Scheduler) finish(r *store.Run, from store.State) {
	s.owe(r)
	ok, err := s.store.UpdateRun(context.Background(), r, from)
	if err == nil && !ok {
		return // no longer in from: whoever moved it reports that
	}
	s.ended(r, err)
}

// finishOrdered submits the record of r's final state and returns what
// waits for its commit. With a store.Ordered store the worker is free
// before that commit: the next run's claim, submitted after, commits in the
// same transaction or a later one, so a crash can never show the next run
// started and this one still running. Other stores write it at once (a
// shared store's claim counts the group's running runs).
func (s *Scheduler) finishOrdered(r *store.Run, from store.State) (recorded func()) {
	o, ok := s.store.(store.Ordered)
	if !ok {
		s.finish(r, from)
		return func() {}
	}
	s.owe(r)
	wait := o.SubmitUpdateRun(r, from)
	return func() {
		_, err := wait()
		s.ended(r, err)
	}
}

// owe marks the notifications of r's end as owed by this instance, for the
// update that records the end (see OwesNotify).
func (s *Scheduler) owe(r *store.Run) {
	r.NotifyPending = "" // not an earlier end's (an interrupted run queued again)
	if r.State.Final() && s.OwesNotify != nil && s.OwesNotify(r) {
		r.NotifyPending = s.Instance
	}
}

// ended logs the end of r once recorded (err says the record failed) and
// reports the change.
func (s *Scheduler) ended(r *store.Run, err error) {
	if err != nil {
		s.log.Error("cannot record run end", "run", r.ID, "state", r.State, "err", err)
		return
	}
	attrs := []any{"run", r.ID, "trigger", r.Trigger, "state", r.State}
	if r.ExitCode != nil {
		attrs = append(attrs, "exit_code", *r.ExitCode)
	}
	if r.Error != "" {
		attrs = append(attrs, "error", r.Error)
	}
	s.log.Info("run ended", attrs...)
	s.changed(r)
}

func (s *Scheduler) changed(r *store.Run) {
	if s.OnChange != nil {
		cp := *r
		s.OnChange(&cp)
	}
}

// Cancel stops a queued or running run. It reports false when the run is
// not live (already ended, or unknown).
func (s *Scheduler) Cancel(ctx context.Context, id, reason string) (bool, error) {
	sh, shared := s.store.(store.Shared)
	s.mu.Lock()
	// With a shared store, a run this instance is still trying to claim may
	// execute on another one: it is stopped through the store below.
	if it, ok := s.running[id]; ok && (!shared || it.claimed.Load()) {
		if it.ended.Load() { // its end is being recorded: nothing left to stop
			s.mu.Unlock()
			return false, nil
		}
		it.stop(reason)
		s.mu.Unlock()
		return true, nil
	}
	var found *item
	for i, it := range s.queue {
		if it.run.ID == id {
			found = it
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.dropBody(it)
			break
		}
	}
	s.mu.Unlock()
	r := (*store.Run)(nil)
	if found != nil && !shared {
		r = found.run
	} else {
		// A shared store's queued copy may be stale: another instance
		// may have claimed the run since.
		var err error
		if r, err = s.store.Run(ctx, id); err != nil {
			return false, err
		}
		if shared && r.State == store.Running && r.Instance != s.Instance {
			return sh.CancelRun(ctx, id, reason) // the instance executing it stops it
		}
		if r.State != store.Queued {
			return false, nil
		}
	}
	r.State, r.EndedAt, r.Error = store.Cancelled, time.Now(), reason
	s.owe(r)
	ok, err := s.store.UpdateRun(ctx, r, store.Queued)
	if ok {
		s.changed(r)
	}
	return ok, err
}

// Stats reports how many runs wait and how many execute.
func (s *Scheduler) Stats() (queued, running int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), s.nRunning
}

// Shutdown stops starting runs, waits up to grace for running ones, then
// stops them and records them as interrupted. Queued runs stay queued in the
// store and start at the next start.
func (s *Scheduler) Shutdown(grace time.Duration) {
	s.mu.Lock()
	s.stopping = true
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	s.mu.Lock()
	for _, it := range s.running {
		it.cancel(errShutdown)
	}
	s.mu.Unlock()
	<-done
}
