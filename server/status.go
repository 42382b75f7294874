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
