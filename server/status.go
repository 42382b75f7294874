package server

import (
	"context"
	"time"

	"github.com/hooktrigger/hooktrigger/status"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// statusCloseGrace bounds how long Close waits for queued commit statuses.
const statusCloseGrace = 5 * time.Second

// startStatus creates the commit-status reporter. It is created even when
// no trigger has a status block yet: a reloaded config may add one, and an
// idle reporter costs one sleeping goroutine. The trigger's status block is
// looked up in the config in force when a state is reported.
func (s *Server) startStatus() {
	s.status = &status.Reporter{
		Lookup: func(name string) (string, *trigger.StatusSpec) {
			t, ok := s.cfg.Load().Triggers.ByName(name)
			if !ok || t.Status == nil {
				return "", nil
			}
			return t.ProviderName, t.Status
		},
		Notes: s.store,
		Reported: func(id string, state store.State) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.store.SetStatusReported(ctx, id, state); err != nil {
				s.log.Warn("cannot record that the commit status was reported; the next start sends it again", "run", id, "err", err)
			}
		},
		RunURL: func(id string) string {
			if s.cfg.Load().PublicURL == "" {
				return "" // no absolute link to give
			}
			return s.runURL(id)
		},
		Log: s.log,
	}
	s.status.Start()
	s.OnRunChange(func(r *store.Run) { _ = s.status.Report(r) })
}

// statusResendWindow is how far back a start looks for runs whose final
// commit status a stop or a crash left unsent.
const statusResendWindow = 24 * time.Hour

// resendStatuses queues the final commit statuses that a previous stop or
// crash left unsent (within statusResendWindow), so that a required check
// does not stay pending. A run that ended during a stop is among them.
func (s *Server) resendStatuses(ctx context.Context) {
	var names []string
	for _, t := range s.cfg.Load().Triggers.All() {
		if t.Status != nil {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	runs, err := s.store.StatusUnreported(ctx, names, time.Now().Add(-statusResendWindow))
	if err != nil {
		s.log.Warn("cannot list the commit statuses left unsent", "err", err)
		return
	}
	for _, r := range runs {
		_ = s.status.Report(r)
	}
	if len(runs) > 0 {
		s.log.Info("commit statuses left unsent by the previous stop are sent again", "runs", len(runs))
	}
}

// statusQueued reports freshly recorded runs as queued (the scheduler only
// announces the changes that follow). Copies: Enqueue changes the runs.
func (s *Server) statusQueued(runs []*store.Run) {
	for _, r := range runs {
		cp := *r
		_ = s.status.Report(&cp)
	}
}

// closeStatus sends what is queued, for at most statusCloseGrace.
func (s *Server) closeStatus() {
	ctx, cancel := context.WithTimeout(context.Background(), statusCloseGrace)
	defer cancel()
	s.status.Close(ctx)
}

// StatusReporter returns the commit-status reporter (for its counters:
// Failures, Dropped, Sent, Pending).
func (s *Server) StatusReporter() *status.Reporter { return s.status }
