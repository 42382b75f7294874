package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// logShipInterval is how often a running build's new log output is copied
// into a store.Logs; the last part goes when the build ends.
const logShipInterval = time.Second

// logShipChunk bounds one stored piece of a log.
const logShipChunk = 256 << 10

// logShipper copies a run's log file into a store.Logs while the run
// executes, so that other instances can show it.
type logShipper struct {
	st   store.Logs
	id   string
	path string
	log  *slog.Logger

	f    *os.File
	buf  []byte
	off  int64 // bytes of the file stored so far
	stop chan struct{}
	done chan struct{}
}

// shipLog starts copying run r's log file at path into st. fresh says the
// run has never executed before, so nothing of it is stored yet.
func shipLog(st store.Logs, r *store.Run, path string, fresh bool, log *slog.Logger) *logShipper {
	ls := &logShipper{st: st, id: r.ID, path: path, log: log, stop: make(chan struct{}), done: make(chan struct{})}
	go ls.loop(fresh)
	return ls
}

func (ls *logShipper) loop(fresh bool) {
	defer close(ls.done)
	if !fresh {
		// A new attempt writes its log anew.
		if err := ls.st.ResetLog(context.Background(), ls.id); err != nil {
			ls.log.Warn("cannot clear the stored log of the previous attempt", "run", ls.id, "err", err)
		}
	}
	t := time.NewTicker(logShipInterval)
	defer t.Stop()
	for {
		select {
		case <-ls.stop:
			ls.ship()
			if ls.f != nil {
				ls.f.Close()
			}
			return
		case <-t.C:
			ls.ship()
		}
	}
}

// ship stores what the file gained since the last call. What cannot be
// stored now is tried again next time.
func (ls *logShipper) ship() {
	if ls.f == nil {
		f, err := os.Open(ls.path)
		if err != nil {
			return // not created yet
		}
		ls.f = f
	}
	if ls.buf == nil {
		ls.buf = make([]byte, logShipChunk)
	}
	for {
		n, err := ls.f.ReadAt(ls.buf, ls.off)
		if n > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			aerr := ls.st.AppendLog(ctx, ls.id, ls.off, ls.buf[:n])
			cancel()
			if aerr != nil {
				ls.log.Warn("cannot store a piece of the run's log", "run", ls.id, "offset", ls.off, "err", aerr)
				return
			}
			ls.off += int64(n)
		}
		if err == io.EOF || n < len(ls.buf) {
			return
		}
		if err != nil {
			ls.log.Warn("cannot read the run's log", "run", ls.id, "err", err)
			return
		}
	}
}

// finish stores the rest of the log and returns once it is stored (or
// could not be).
func (ls *logShipper) finish() {
	close(ls.stop)
	<-ls.done
}
