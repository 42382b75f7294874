package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

func TestDB_SetStatusNote(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	d, runs := newDelivery("/hooks/a", "")
	if _, err := db.Record(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	r := runs[0]

	t.Run("SurvivesSchedulerWrites", func(t *testing.T) {
		if err := db.SetStatusNote(ctx, r.ID, "github answered 401"); err != nil {
			t.Fatal(err)
		}
		// The scheduler's copy of the run has no note; its state writes must
		// not erase the one the reporter wrote.
		r.State, r.StartedAt = store.Running, time.Now()
		if ok, err := db.UpdateRun(ctx, r, store.Queued); err != nil || !ok {
			t.Fatalf("queued→running: %v %v", ok, err)
		}
		got, err := db.Run(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.StatusNote != "github answered 401" || got.State != store.Running {
			t.Fatalf("got state %s note %q", got.State, got.StatusNote)
		}
	})

	t.Run("LeavesStateAlone", func(t *testing.T) {
		if err := db.SetStatusNote(ctx, r.ID, "second note"); err != nil {
			t.Fatal(err)
		}
		got, _ := db.Run(ctx, r.ID)
		if got.StatusNote != "second note" || got.State != store.Running || got.StartedAt.IsZero() {
			t.Fatalf("got %+v", got)
		}
	})

	t.Run("UnknownRun", func(t *testing.T) {
		if err := db.SetStatusNote(ctx, "nope", "x"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("want ErrNotFound, got %v", err)
		}
	})
}
