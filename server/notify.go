package server

import (
	"context"

	"github.com/hooktrigger/hooktrigger/notify"
	"github.com/hooktrigger/hooktrigger/store"
)

// startNotify creates the notifier of run ends (a trigger's notify list),
// looked up in the config in force when a run ends.
func (s *Server) startNotify() {
	s.notify = &notify.Notifier{
		Lookup: func(name string) []notify.Target {
			t, ok := s.cfg.Load().Triggers.ByName(name)
			if !ok || len(t.Notify) == 0 {
				return nil
			}
			out := make([]notify.Target, len(t.Notify))
			for i, n := range t.Notify {
				out[i] = notify.Target{URL: n.URL, Format: n.Format}
				for _, st := range n.On {
					out[i].On = append(out[i].On, store.State(st))
				}
			}
			return out
		},
		RunURL: func(id string) string {
			if s.cfg.Load().PublicURL == "" {
				return ""
			}
			return s.runURL(id)
		},
		Log: s.log,
	}
	s.notify.Start()
	s.OnRunChange(func(r *store.Run) { _ = s.notify.Notify(r) })
}

// closeNotify sends what is queued, for at most statusCloseGrace.
func (s *Server) closeNotify() {
	ctx, cancel := context.WithTimeout(context.Background(), statusCloseGrace)
	defer cancel()
	s.notify.Close(ctx)
}
