package sqlite_test

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
)

func MustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func newDelivery(path, sender string) (*store.Delivery, []*store.Run) {
	d := &store.Delivery{ID: store.NewID(), Path: path, SenderID: sender, Provider: "github", Event: "push", ReceivedAt: time.Now(), Body: []byte(`{"a":1}`),
		Headers: map[string][]string{"X-Github-Event": {"push"}}, Decisions: []store.Decision{{Trigger: "t", Fired: true}}}
	r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Queued, Vars: map[string]string{"ref": "main"}, CreatedAt: time.Now()}
	d.Decisions[0].RunID = r.ID
	return d, []*store.Run{r}
}

func TestDB_Record(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db := MustOpen(t, path)

	t.Run("StoredAndReadBack", func(t *testing.T) {
		d, runs := newDelivery("/hooks/a", "guid-1")
		rec, err := db.Record(ctx, d, runs)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Duplicate || rec.DeliveryID != d.ID {
			t.Fatalf("got %+v", rec)
		}
		got, err := db.Delivery(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(got.Body) != `{"a":1}` || got.SenderID != "guid-1" || len(got.Decisions) != 1 || got.Decisions[0].RunID != runs[0].ID {
			t.Fatalf("delivery read back wrong: %+v", got)
		}
		r, err := db.Run(ctx, runs[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.State != store.Queued || r.Vars["ref"] != "main" || r.DeliveryID != d.ID {
			t.Fatalf("run read back wrong: %+v", r)
		}
	})

	t.Run("DuplicateReturnsOriginalRuns", func(t *testing.T) {
		d1, runs1 := newDelivery("/hooks/a", "guid-2")
		if _, err := db.Record(ctx, d1, runs1); err != nil {
			t.Fatal(err)
		}
		d2, runs2 := newDelivery("/hooks/a", "guid-2")
		rec, err := db.Record(ctx, d2, runs2)
		if err != nil {
			t.Fatal(err)
		}
		if !rec.Duplicate || rec.DeliveryID != d1.ID || len(rec.Runs) != 1 || rec.Runs[0].ID != runs1[0].ID {
			t.Fatalf("want duplicate of %s, got %+v", d1.ID, rec)
		}
		if _, err := db.Run(ctx, runs2[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("duplicate's run was stored: %v", err)
		}
	})

	t.Run("SameSenderIDOtherPathIsNotDuplicate", func(t *testing.T) {
		d1, r1 := newDelivery("/hooks/x", "guid-3")
		d2, r2 := newDelivery("/hooks/y", "guid-3")
		if rec, err := db.Record(ctx, d1, r1); err != nil || rec.Duplicate {
			t.Fatal(err, rec)
		}
		if rec, err := db.Record(ctx, d2, r2); err != nil || rec.Duplicate {
			t.Fatal(err, rec)
		}
	})

	t.Run("FiftyConcurrentCopiesMakeOneRun", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		originals := map[string]bool{}
		dups := 0
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, runs := newDelivery("/hooks/c", "same-guid")
				rec, err := db.Record(ctx, d, runs)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				originals[rec.DeliveryID] = true
				if rec.Duplicate {
					dups++
				}
			}()
		}
		wg.Wait()
		if len(originals) != 1 || dups != 49 {
			t.Fatalf("want 1 original and 49 duplicates, got %d originals, %d duplicates", len(originals), dups)
		}
		var id string
		for k := range originals {
			id = k
		}
		runs, err := db.Runs(ctx, store.RunFilter{Delivery: id})
		if err != nil || len(runs) != 1 {
			t.Fatalf("want 1 run, got %d (%v)", len(runs), err)
		}
	})
}

func TestDB_UpdateRun(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	d, runs := newDelivery("/hooks/a", "")
	if _, err := db.Record(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	r := runs[0]
	r.State, r.StartedAt = store.Running, time.Now()
	if ok, err := db.UpdateRun(ctx, r, store.Queued); err != nil || !ok {
		t.Fatalf("queued→running: %v %v", ok, err)
	}
	r.State = store.Cancelled
	if ok, err := db.UpdateRun(ctx, r, store.Queued); err != nil || ok {
		t.Fatalf("a conditional update from queued must not apply to a running run: %v %v", ok, err)
	}
	code := 3
	r.State, r.EndedAt, r.ExitCode = store.Failed, time.Now(), &code
	if ok, err := db.UpdateRun(ctx, r, store.Running); err != nil || !ok {
		t.Fatalf("running→failed: %v %v", ok, err)
	}
	got, _ := db.Run(ctx, r.ID)
	if got.State != store.Failed || got.ExitCode == nil || *got.ExitCode != 3 || got.StartedAt.IsZero() || got.EndedAt.IsZero() {
		t.Fatalf("got %+v", got)
	}
}

func TestDB_SurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d, runs := newDelivery("/hooks/a", "g")
	if _, err := db.Record(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	runs[0].State = store.Running
	if _, err := db.UpdateRun(ctx, runs[0]); err != nil {
		t.Fatal(err)
	}
	db.Close()

	db = MustOpen(t, path)
	got, err := db.InterruptRunning(ctx)
	if err != nil || len(got) != 1 || got[0].ID != runs[0].ID {
		t.Fatalf("want the running run interrupted, got %v %v", got, err)
	}
	r, _ := db.Run(ctx, runs[0].ID)
	if r.State != store.Interrupted {
		t.Fatalf("state %s", r.State)
	}
	if _, err := db.Delivery(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
}

func TestDB_Prune(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	var ids []string
	for i := 0; i < 5; i++ {
		d, runs := newDelivery("/hooks/a", "")
		runs[0].State = store.Succeeded
		if _, err := db.Record(ctx, d, runs); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, runs[0].ID)
	}
	pruned, err := db.Prune(ctx, 0, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(pruned) != 3 {
		t.Fatalf("want 3 runs pruned, got %v", pruned)
	}
	left, _ := db.Runs(ctx, store.RunFilter{})
	if len(left) != 2 || left[0].ID != ids[4] || left[1].ID != ids[3] {
		t.Fatalf("want the two newest runs kept, got %v", left)
	}
}

func TestDB_ClosedIsUnavailable(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "h.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	d, runs := newDelivery("/hooks/a", "")
	if _, err := db.Record(context.Background(), d, runs); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("want ErrUnavailable, got %v", err)
	}
}

func BenchmarkRecord(b *testing.B) {
	db := MustOpen(b, filepath.Join(b.TempDir(), "h.db"))
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, runs := newDelivery("/hooks/a", "")
			if _, err := db.Record(ctx, d, runs); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestDB_Full fills a size-capped database with concurrent deliveries: each
// Record either returns nil and everything it wrote reads back, or returns
// ErrUnavailable and nothing of it is stored; Ping then reports the store
// unavailable.
func TestDB_Full(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	pages, err := sqlite.PageCount(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlite.SetMaxPageCount(db, pages+40); err != nil {
		t.Fatal(err)
	}
	type result struct {
		d    *store.Delivery
		runs []*store.Run
		err  error
	}
	results := make([]result, 200)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, runs := newDelivery("/hooks/full", "full-"+strconv.Itoa(i))
			d.Body = bytes.Repeat([]byte{'x'}, 3000)
			_, err := db.Record(ctx, d, runs)
			results[i] = result{d: d, runs: runs, err: err}
		}()
	}
	wg.Wait()
	ok, full := 0, 0
	for _, r := range results {
		got, derr := db.Delivery(ctx, r.d.ID)
		stored, rerr := db.Runs(ctx, store.RunFilter{Delivery: r.d.ID})
		if rerr != nil {
			t.Fatal(rerr)
		}
		switch {
		case r.err == nil:
			ok++
			if derr != nil || len(got.Body) != 3000 || len(stored) != 1 || stored[0].ID != r.runs[0].ID {
				t.Errorf("recorded delivery %s reads back incomplete: %v, %d runs", r.d.ID, derr, len(stored))
			}
		case errors.Is(r.err, store.ErrUnavailable):
			full++
			if !errors.Is(derr, store.ErrNotFound) || len(stored) != 0 {
				t.Errorf("refused delivery %s is half-written: delivery err %v, %d runs", r.d.ID, derr, len(stored))
			}
		default:
			t.Errorf("want nil or ErrUnavailable, got %v", r.err)
		}
	}
	t.Logf("%d recorded, %d refused", ok, full)
	if full == 0 {
		t.Fatalf("600 KB of deliveries fit a 160 KB database: %d recorded", ok)
	}
	// Fill what room the failed batches left, one delivery at a time.
	for i := 0; ; i++ {
		d, runs := newDelivery("/hooks/full", "fill-"+strconv.Itoa(i))
		d.Body = bytes.Repeat([]byte{'x'}, 3000)
		if _, err := db.Record(ctx, d, runs); err != nil {
			break
		}
		if i > 100 {
			t.Fatal("the capped database never filled")
		}
	}
	if err := db.Ping(ctx); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Ping of a full database: want ErrUnavailable, got %v", err)
	}
	if err := sqlite.SetMaxPageCount(db, 1<<30); err != nil {
		t.Fatal(err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping after room was made: %v", err)
	}
}
