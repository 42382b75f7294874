package server

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// waitLogMax bounds the log a waited-for run carries in the HTTP answer.
const waitLogMax = 1 << 20

// waitPoll is how often a waiting answer reads the runs from the store too:
// a run executing on another instance ends without this one hearing of it.
const waitPoll = 500 * time.Millisecond

// runWaiters are the answers waiting for runs to end (run.wait).
type runWaiters struct {
	n  atomic.Int32 // entries in m: the run observer skips the lock when 0
	mu sync.Mutex
	m  map[string]chan *store.Run
}

// register returns a channel that receives run id once it has ended.
func (w *runWaiters) register(id string) chan *store.Run {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]chan *store.Run{}
	}
	ch := make(chan *store.Run, 1)
	w.m[id] = ch
	w.n.Add(1)
	return ch
}

// forget removes the entries of ids still there.
func (w *runWaiters) forget(ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if _, ok := w.m[id]; ok {
			delete(w.m, id)
			w.n.Add(-1)
		}
	}
}

// ended hands r to its waiter when it reached a final state (its record
// may still be on its way to the store).
func (w *runWaiters) ended(r *store.Run) {
	if w.n.Load() == 0 || !r.State.Final() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch, ok := w.m[r.ID]; ok {
		cp := *r
		ch <- &cp
		delete(w.m, r.ID)
		w.n.Add(-1)
	}
}

// waitedRun is a run in the answer of a delivery whose trigger waits.
type waitedRun struct {
	ExitCode     *int   `json:"exit_code,omitempty"`
	Error        string `json:"error,omitempty"`
	Log          string `json:"log"`
	LogTruncated bool   `json:"log_truncated,omitempty"`
}

// awaitRuns waits until every run of ids has ended, or for at most d, or
// until ctx ends, and returns the runs: as they ended, or as stored then.
// chans are the runs' channels from register.
func (s *Server) awaitRuns(ctx context.Context, ids []string, chans []chan *store.Run, d time.Duration) map[string]*store.Run {
	defer s.waiters.forget(ids)
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	// Only a shared store's runs may end on another instance, unheard of
	// here; an embedded store's are all reported by this scheduler.
	var pollC <-chan time.Time
	if _, shared := s.store.(store.Shared); shared {
		poll := time.NewTicker(waitPoll)
		defer poll.Stop()
		pollC = poll.C
	}
	got := map[string]*store.Run{}
	for i := 0; i < len(ids); {
		if _, done := got[ids[i]]; done {
			i++
			continue
		}
		select {
		case r := <-chans[i]:
			got[ids[i]] = r
		case <-pollC: // ended on another instance?
			if r, err := s.store.Run(ctx, ids[i]); err == nil && r.State.Final() {
				got[ids[i]] = r
			}
		case <-timeout.C:
			return s.readRuns(ids, got)
		case <-ctx.Done():
			return s.readRuns(ids, got)
		}
	}
	return got
}

// readRuns completes got with the current record of the runs of ids it
// lacks.
func (s *Server) readRuns(ids []string, got map[string]*store.Run) map[string]*store.Run {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range ids {
		if got[id] == nil {
			if r, err := s.store.Run(ctx, id); err == nil {
				got[id] = r
			}
		}
	}
	return got
}

// waitedLog reads up to waitLogMax bytes of run's log.
func (s *Server) waitedLog(ctx context.Context, run *store.Run) (string, bool) {
	lr := s.newLogReader(run)
	defer lr.close()
	var out []byte
	for len(out) < waitLogMax {
		data, _, err := lr.at(ctx, int64(len(out)))
		if err != nil || len(data) == 0 {
			return string(out), false
		}
		out = append(out, data[:min(len(data), waitLogMax-len(out))]...)
	}
	more, _, _ := lr.at(ctx, int64(len(out)))
	return string(out), len(more) > 0
}
