package pipeline

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// claimBackoff is how long a run whose group is busy on another instance
// waits before it is claimed again (a wake-up from the store comes sooner).
const claimBackoff = 500 * time.Millisecond

// sharedState is the scheduler's bookkeeping for a store shared by several
// instances.
type sharedState struct {
	mu      sync.Mutex
	waiting map[string]bool // runs out of the queue until their backoff ends
}

// claim takes it's run for this instance: through store.Shared.Claim when
// the store is shared (each run on one instance, groups held across
// instances), else by a conditional update from queued. It reports false
// when the run must not start now: taken elsewhere, cancelled, or its group
// busy on another instance (then it is queued again after a backoff).
func (s *Scheduler) claim(it *item) (bool, error) {
	r := it.run
	r.StartedAt, r.Instance = time.Now(), s.Instance
	sh, ok := s.store.(store.Shared)
	if !ok {
		r.State = store.Running
		return s.store.UpdateRun(context.Background(), r, store.Queued)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if q := it.spec.QuietPeriod; q > 0 && r.Group != "" {
		// A newer run of the burst may have reached another instance.
		newer, err := sh.NewerInQuietPeriod(ctx, r, q)
		if err != nil {
			return false, err
		}
		if newer != "" {
			r.State, r.StartedAt, r.Instance = store.Superseded, time.Time{}, ""
			r.EndedAt, r.Error = time.Now(), "superseded by run "+newer+" within the quiet period"
			s.owe(r)
			// Only if still queued: another instance may hold this run too.
			if ok, err := s.store.UpdateRun(ctx, r, store.Queued); err != nil || ok {
				s.ended(r, err)
			}
			return false, nil
		}
	}
	claimed, err := sh.Claim(ctx, r, groupLimit(it.spec))
	if errors.Is(err, store.ErrGroupBusy) && it.spec.Policy == PolicySkipIfRunning {
		// Enqueue skips such a run when it sees the group busy; a run
		// adopted from the store that no instance enqueued (its instance
		// died first) meets the busy group only here, and never waits.
		r.State, r.StartedAt, r.Instance = store.Skipped, time.Time{}, ""
		r.EndedAt, r.Error = time.Now(), skipReason(r.Group)
		s.owe(r)
		if ok, err := s.store.UpdateRun(ctx, r, store.Queued); err != nil || ok {
			s.ended(r, err)
		}
		return false, nil
	}
	if errors.Is(err, store.ErrGroupBusy) {
		r.State, r.StartedAt = store.Queued, time.Time{}
		s.requeueLater(it)
		return false, nil
	}
	return claimed, err
}

// groupLimit is how many runs of a group may run at once across instances
// (0: no limit).
func groupLimit(spec *Spec) int {
	if spec.Policy == PolicyParallel {
		return spec.Max
	}
	return 1
}

func (s *Scheduler) sharedBook() *sharedState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shared == nil {
		s.shared = &sharedState{waiting: map[string]bool{}}
	}
	return s.shared
}

// requeueLater puts it back in the queue, in run id order, once the backoff
// has passed and its worker has let go of it.
func (s *Scheduler) requeueLater(it *item) {
	st := s.sharedBook()
	st.mu.Lock()
	st.waiting[it.run.ID] = true
	st.mu.Unlock()
	time.AfterFunc(claimBackoff, func() {
		s.mu.Lock()
		if _, busy := s.running[it.run.ID]; busy && !s.stopping {
			s.mu.Unlock()
			s.requeueLater(it)
			return
		}
		if !s.stopping {
			it.cancel = nil
			i, _ := slices.BinarySearchFunc(s.queue, it.run.ID, func(q *item, id string) int {
				switch {
				case q.run.ID < id:
					return -1
				case q.run.ID > id:
					return 1
				}
				return 0
			})
			s.queue = slices.Insert(s.queue, i, it)
		}
		s.mu.Unlock()
		st.mu.Lock()
		delete(st.waiting, it.run.ID)
		st.mu.Unlock()
		s.dispatch()
	})
}

// Watch makes the scheduler one of several instances sharing st: it adopts
// the queued runs that other instances recorded (when st wakes it, and
// every poll), and marks interrupted — or queues again, with
// retry_interrupted — the runs of instances that died. It returns when ctx
// ends.
func (s *Scheduler) Watch(ctx context.Context, st store.Shared, poll time.Duration) {
	t := time.NewTicker(poll)
	defer t.Stop()
	go s.obeyCancels(ctx, st)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.recoverOrphans(ctx, st)
			s.pendingCancels(ctx, st)
		case <-st.Wake():
		}
		if runs, err := st.QueuedRuns(ctx); err != nil {
			if ctx.Err() == nil {
				s.log.Warn("cannot list queued runs", "err", err)
			}
		} else {
			s.adopt(runs)
		}
		// Coalesce a burst of wake-ups into one listing.
		select {
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// obeyCancels stops the runs of this instance that another instance (or
// this one) asked to stop: cancel-previous and the API's cancel reach a
// run wherever it executes. It returns when ctx ends.
func (s *Scheduler) obeyCancels(ctx context.Context, st store.Shared) {
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-st.Cancels():
			s.obey(req)
		}
	}
}

// pendingCancels obeys the stored requests for this instance's runs, which
// catches those whose notification was missed.
func (s *Scheduler) pendingCancels(ctx context.Context, st store.Shared) {
	reqs, err := st.PendingCancels(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot read cancel requests", "err", err)
		}
		return
	}
	for _, req := range reqs {
		s.obey(req)
	}
}

// obey stops req's run if it executes here.
func (s *Scheduler) obey(req store.CancelRequest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if it, ok := s.running[req.Run]; ok && it.claimed.Load() && !it.ended.Load() {
		it.stop(req.Reason)
	}
}

// cancelElsewhere asks the other instances to stop the runs of group they
// execute, for a cancel-previous run recorded here. Best effort: a request
// that cannot be sent is logged, and the new run still waits for the
// group's running runs to end.
func (s *Scheduler) cancelElsewhere(sh store.Shared, group, reason string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := sh.CancelGroup(ctx, group, reason); err != nil {
		s.log.Warn("cannot ask other instances to cancel the group's runs", "group", group, "err", err)
	}
}

// recoverOrphans marks the runs of dead instances interrupted and queues
// again those whose trigger says retry_interrupted.
func (s *Scheduler) recoverOrphans(ctx context.Context, st store.Shared) {
	runs, err := st.Orphans(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("cannot look for the runs of stopped instances", "err", err)
		}
		return
	}
	for _, r := range runs {
		s.log.Warn("run interrupted: the instance executing it stopped", "run", r.ID, "trigger", r.Trigger, "instance", r.Instance)
		s.changed(r)
		if spec, ok := s.lookup(r.Trigger); ok && spec.RetryInterrupted {
			r.State = store.Queued
			r.Attempt++
			r.StartedAt, r.EndedAt = time.Time{}, time.Time{}
			r.Error = "re-queued after interruption"
			if ok, err := s.store.UpdateRun(ctx, r, store.Interrupted); err != nil {
				s.log.Error("cannot queue an interrupted run again", "run", r.ID, "err", err)
			} else if ok {
				s.changed(r)
			}
		}
	}
}

// adopt queues the runs this scheduler does not know yet. They were
// recorded (and their concurrency policy applied) by another instance, so
// they join the queue as they are; claiming decides who runs them. Runs of
// triggers this instance does not have are left to the others.
func (s *Scheduler) adopt(runs []*store.Run) {
	st := s.sharedBook()
	st.mu.Lock()
	waiting := make(map[string]bool, len(st.waiting))
	for id := range st.waiting {
		waiting[id] = true
	}
	st.mu.Unlock()
	s.mu.Lock()
	if s.stopping {
		s.mu.Unlock()
		return
	}
	known := make(map[string]bool, len(s.queue))
	for _, it := range s.queue {
		known[it.run.ID] = true
	}
	added := 0
	for _, r := range runs {
		if known[r.ID] || waiting[r.ID] || s.running[r.ID] != nil {
			continue
		}
		spec, ok := s.lookup(r.Trigger)
		if !ok {
			continue
		}
		it := &item{run: r, spec: spec}
		if spec.QuietPeriod > 0 && r.Group != "" {
			// The instance that recorded the run waits out its quiet
			// period; so does every other.
			it.notBefore = r.CreatedAt.Add(spec.QuietPeriod)
		}
		s.queue = append(s.queue, it)
		added++
	}
	if added > 0 {
		slices.SortStableFunc(s.queue, func(a, b *item) int {
			switch {
			case a.run.ID < b.run.ID:
				return -1
			case a.run.ID > b.run.ID:
				return 1
			}
			return 0
		})
	}
	s.mu.Unlock()
	if added > 0 {
		s.dispatch()
	}
}
