package server

import (
	"context"
	"os"
	"strings"

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
		Log:     s.log,
	}
	s.notify.Start()
	s.OnRunChange(func(r *store.Run) { _ = s.notify.Notify(r) })
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
