package server

import (
	"context"
	"io"
	"os"

	"github.com/hooktrigger/hooktrigger/store"
)

// logReadChunk bounds what one read of a log returns.
const logReadChunk = 64 << 10

// logReader reads a run's log: from this instance's file when the run
// executes or executed here, else from the store when it keeps the logs of
// every instance (store.Logs: PostgreSQL).
type logReader struct {
	s      *Server
	id     string
	f      *os.File
	buf    []byte
	remote bool // the run's latest attempt executes or executed elsewhere
}

// newLogReader reads the log of run. When the store keeps the logs and
// another instance took the run's latest attempt, the store has it, even if
// a file of an earlier attempt is here.
func (s *Server) newLogReader(run *store.Run) *logReader {
	_, logs := s.store.(store.Logs)
	remote := logs && run.Instance != "" && run.Instance != s.sched.Instance
	return &logReader{s: s, id: run.ID, remote: remote}
}

// at returns up to logReadChunk bytes of the log from offset on; none when
// there are none (yet). found is false when this instance has no file of
// the log and the store keeps no logs.
func (lr *logReader) at(ctx context.Context, offset int64) (data []byte, found bool, err error) {
	if lr.f == nil && !lr.remote {
		lr.f, _ = os.Open(lr.s.sched.LogPath(lr.id))
	}
	if lr.f != nil {
		if lr.buf == nil {
			lr.buf = make([]byte, logReadChunk)
		}
		n, err := lr.f.ReadAt(lr.buf, offset)
		if err == io.EOF {
			err = nil
		}
		return lr.buf[:n], true, err
	}
	ls, ok := lr.s.store.(store.Logs)
	if !ok {
		return nil, false, nil
	}
	data, err = ls.ReadLog(ctx, lr.id, offset, logReadChunk)
	return data, true, err
}

func (lr *logReader) close() {
	if lr.f != nil {
		lr.f.Close()
	}
}
