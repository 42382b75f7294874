package server

import (
	"context"
	"errors"
	"os"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/notify"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// startNotify creates the notifier of run ends (a trigger's notify list),
// looked up in the config in force when a run ends.
func (s *Server) startNotify() {
	s.notify = &notify.Notifier{
		Lookup: func(name string) []trigger.NotifySpec {
			if t, ok := s.cfg.Load().Triggers.ByName(name); ok {
				return t.Notify
			}
			return nil
		},
		RunURL: func(id string) string {
			if s.cfg.Load().PublicURL == "" {
				return ""
			}
			return s.runURL(id)
		},
		LogTail: func(id string, lines int) string { return logTail(s.sched.LogPath(id), lines) },
		Pending: func(id string, owed bool) {
			owner := ""
			if owed {
				owner = s.sched.Instance
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := s.store.SetNotifyPending(ctx, id, owner); err != nil {
				s.log.Warn("cannot record the notifications of a run as owed or sent", "run", id, "owed", owed, "err", err)
			}
		},
		Log: s.log,
	}
	s.notify.Start()
	s.sched.OwesNotify = s.notify.Owes
	s.OnRunChange(func(r *store.Run) { _, _ = s.notify.Notify(r) })
}

// resendNotifications sends the notifications that an earlier process (or,
// with a shared database, an instance that died) owed: a crash or a stop
// whose grace ran out left them unsent. Those no target asks for any more
// (the config changed) are settled unsent. When the queue is full it waits
// for room, so it runs in a goroutine of its own.
func (s *Server) resendNotifications(ctx context.Context) {
	runs, err := s.store.TakeNotifyPending(ctx, s.sched.Instance)
	if err != nil {
		s.log.Warn("cannot list the notifications left unsent", "err", err)
		return
	}
	if len(runs) > 0 {
		s.log.Info("notifications left unsent by an instance that stopped are sent again", "runs", len(runs))
	}
	for _, r := range runs {
		n, err := s.notify.Notify(r)
		for errors.Is(err, notify.ErrQueueFull) {
			select {
			case <-ctx.Done():
				return // still owed: the next start sends them
			case <-time.After(time.Second):
			}
			n, err = s.notify.Notify(r)
		}
		switch {
		case errors.Is(err, notify.ErrClosed):
			return
		case err == nil && n == 0:
			err = s.store.SetNotifyPending(ctx, r.ID, "")
		}
		if err != nil {
			s.log.Warn("cannot send the notifications left unsent", "run", r.ID, "err", err)
		}
	}
}

// logTailBytes bounds what a notification reads of a log's end.
const logTailBytes = 8 << 10

// logTail returns the last lines of the log file at path, at most
// logTailBytes of them; "" when this instance has no such file (the run
// executed elsewhere).
func logTail(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(fi.Size()-logTailBytes, 0)
	buf := make([]byte, fi.Size()-off)
	n, _ := f.ReadAt(buf, off)
	text := strings.TrimRight(string(buf[:n]), "\n")
	if off > 0 { // the first line read is cut: drop it
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			text = text[i+1:]
		}
	}
	all := strings.Split(text, "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// closeNotify sends what is queued, for at most statusCloseGrace.
func (s *Server) closeNotify() {
	ctx, cancel := context.WithTimeout(context.Background(), statusCloseGrace)
	defer cancel()
	s.notify.Close(ctx)
}

// adoptInterval is how often an instance sharing the database takes the
// notifications owed by instances that died.
const adoptInterval = 10 * time.Second

// adoptNotifications sends, while ctx lasts, the notifications owed by
// earlier processes at once, and with a shared database those owed by
// instances that die later, every adoptInterval (see resendNotifications).
func (s *Server) adoptNotifications(ctx context.Context, shared bool) {
	s.resendNotifications(ctx)
	if !shared {
		return
	}
	t := time.NewTicker(adoptInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.resendNotifications(ctx)
		}
	}
}
