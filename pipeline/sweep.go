package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/hooktrigger/hooktrigger/store"
)

// SweepRunDirs removes the run directories whose run the store no longer
// has: left behind when hooktrigger stopped between pruning a run's record
// and removing its directory, or when another instance sharing the
// database pruned the run. Only entries shaped like run directories are
// looked at; a store that cannot answer leaves everything in place. It
// returns how many directories it removed.
func (s *Scheduler) SweepRunDirs(ctx context.Context) (int, error) {
	buckets, err := os.ReadDir(s.dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, b := range buckets {
		if !b.IsDir() || len(b.Name()) != 1 {
			continue
		}
		entries, err := os.ReadDir(filepath.Join(s.dir, b.Name()))
		if err != nil {
			return removed, err
		}
		for _, e := range entries {
			id := e.Name()
			if !e.IsDir() || !store.ValidID(id) || id[len(id)-1:] != b.Name() {
				continue
			}
			_, err := s.store.Run(ctx, id)
			switch {
			case err == nil:
				continue
			case !errors.Is(err, store.ErrNotFound):
				return removed, err // the rest waits for the next sweep
			}
			if err := os.RemoveAll(s.RunDir(id)); err != nil {
				return removed, err
			}
			removed++
		}
	}
	return removed, nil
}
