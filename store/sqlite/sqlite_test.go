package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
	"github.com/hooktrigger/hooktrigger/store/storetest"
	msqlite "modernc.org/sqlite"
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

func TestDB_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	})
}

var newDelivery = storetest.NewDelivery

// The store commits with fdatasync, as SQLite's own Linux builds do; the
// driver's default is fsync, which also journals the timestamps.
func TestOpen_CommitsWithFdatasync(t *testing.T) {
	if _, err := msqlite.Fdatasync(false); errors.Is(err, msqlite.ErrFdatasyncUnavailable) {
		t.Skip("fdatasync is not available on this platform")
	}
	MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	if !msqlite.FdatasyncEnabled() {
		t.Fatal("after Open, SQLite still commits with fsync")
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

// TestDB_DeliveryBodiesAreDistinct guards what the store's reading of bodies
// relies on: the driver hands over a new slice for every blob, so a body
// taken without copying is not overwritten by the next row's.
func TestDB_DeliveryBodiesAreDistinct(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	want := map[string][]byte{}
	for i := range 3 {
		d, runs := newDelivery("/hooks/a", "g"+strconv.Itoa(i))
		d.Body = bytes.Repeat([]byte{byte('a' + i)}, 100_000+i)
		want[d.ID] = bytes.Clone(d.Body)
		if _, err := db.Record(ctx, d, runs); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := sqlite.DeliveriesWithBodies(db)
	if err != nil || len(ds) != len(want) {
		t.Fatalf("got %d deliveries, %v", len(ds), err)
	}
	for _, d := range ds {
		if !bytes.Equal(d.Body, want[d.ID]) {
			t.Errorf("delivery %s: body of %d bytes starting %q, want %d bytes of %q", d.ID, len(d.Body), d.Body[:min(len(d.Body), 1)], len(want[d.ID]), want[d.ID][:1])
		}
	}
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

// BenchmarkRecord records deliveries from parallel goroutines, as concurrent
// webhook requests do: each Record waits for its group commit.
func BenchmarkRecord(b *testing.B) {
	db := MustOpen(b, filepath.Join(b.TempDir(), "h.db"))
	var commits, records atomic.Int64
	db.CommitHook = func(n int, _ time.Duration) { commits.Add(1); records.Add(int64(n)) }
	ctx := context.Background()
	b.SetParallelism(16) // 16 × GOMAXPROCS goroutines (32 on 2 cores): many share each commit
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, runs := newDelivery("/hooks/a", store.NewID())
			if _, err := db.Record(ctx, d, runs); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if c := commits.Load(); c > 0 {
		b.ReportMetric(float64(records.Load())/float64(c), "records/commit")
	}
}

// A write submitted with SubmitUpdateRun is committed, in the same
// transaction or an earlier one, by the time a write submitted after it
// returns: the scheduler relies on it to record a run's end without
// waiting, before the next run's start.
func TestDB_SubmitUpdateRunCommitsInOrder(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, filepath.Join(t.TempDir(), "h.db"))
	for i := range 50 {
		_, first := newDelivery("/hooks/a", "a"+strconv.Itoa(i))
		d, second := newDelivery("/hooks/a", "b"+strconv.Itoa(i))
		first[0].DeliveryID = d.ID
		runs := []*store.Run{first[0], second[0]}
		if _, err := db.Record(ctx, d, runs); err != nil {
			t.Fatal(err)
		}
		ended := *first[0]
		ended.State, ended.StartedAt, ended.EndedAt = store.Succeeded, time.Now(), time.Now()
		wait := db.SubmitUpdateRun(&ended, store.Queued)
		ended.State = store.Failed // taken at submission: this must not be written
		started := *second[0]
		started.State, started.StartedAt = store.Running, time.Now()
		if ok, err := db.UpdateRun(ctx, &started, store.Queued); !ok || err != nil {
			t.Fatalf("claim of the next run: %v %v", ok, err)
		}
		got, err := db.Run(ctx, first[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.Succeeded {
			t.Fatalf("round %d: after the later write returned, the submitted one reads %q, want succeeded", i, got.State)
		}
		if ok, err := wait(); !ok || err != nil {
			t.Fatalf("submitted write: %v %v", ok, err)
		}
	}
	// A submitted write whose condition does not hold changes nothing.
	_, runs := newDelivery("/hooks/a", "c")
	d, _ := newDelivery("/hooks/a", "c")
	runs[0].DeliveryID = d.ID
	if _, err := db.Record(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	runs[0].State = store.Succeeded
	if ok, err := db.SubmitUpdateRun(runs[0], store.Running)(); ok || err != nil {
		t.Fatalf("conditional write of a queued run from running: %v %v, want false nil", ok, err)
	}
}

// A database made before migration 2 (with the runs_state index) is
// upgraded at open, keeps its runs, and finds its live runs again.
func TestDB_MigratesLiveRunsIndex(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	d, runs := newDelivery("/hooks/a", "old")
	if _, err := db.Record(ctx, d, runs); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Put the file back in its version-1 shape.
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP INDEX runs_live`, `CREATE INDEX runs_state ON runs (state)`, `DELETE FROM schema_migrations WHERE version = 2`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db = MustOpen(t, path)
	queued, err := db.QueuedRuns(ctx)
	if err != nil || len(queued) != 1 || queued[0].ID != runs[0].ID {
		t.Fatalf("queued runs after the upgrade: %v %v", queued, err)
	}
	listed, err := db.Runs(ctx, store.RunFilter{State: store.Queued})
	if err != nil || len(listed) != 1 {
		t.Fatalf("runs listed by state after the upgrade: %v %v", listed, err)
	}
	raw, err = sql.Open("sqlite", "file:"+path+"?_pragma=query_only(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN ('runs_state', 'runs_live')`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("want runs_live alone, found %d of the two indexes (%v)", n, err)
	}
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'runs_live'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("runs_live missing after the upgrade: %d %v", n, err)
	}
}

// A body over 1 MiB is stored in pieces of 1 MiB, so that SQLite never
// copies it whole; one of 1 MiB stays in its column. Both come back after
// a reopen, and a missing piece is an error, not a short body.
func TestDB_LargeBodiesInPieces(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "h.db")
	db := MustOpen(t, path)
	big, _ := newDelivery("/hooks/a", "big")
	big.Body = bytes.Repeat([]byte("0123456789abcdef"), (5<<20)/32) // 2.5 MiB
	edge, _ := newDelivery("/hooks/a", "edge")
	edge.Body = bytes.Repeat([]byte{'x'}, sqlite.BodyChunk)
	for _, d := range []*store.Delivery{big, edge} {
		if _, err := db.Record(ctx, d, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		d      *store.Delivery
		null   bool
		pieces int
	}{{big, true, 3}, {edge, false, 0}} {
		null, pieces, err := sqlite.BodyPieces(db, c.d.ID)
		if err != nil || null != c.null || pieces != c.pieces {
			t.Fatalf("%s: body NULL %v, %d pieces (%v); want %v, %d", c.d.SenderID, null, pieces, err, c.null, c.pieces)
		}
	}
	db.Close()

	db = MustOpen(t, path)
	for _, d := range []*store.Delivery{big, edge} {
		got, err := db.Delivery(ctx, d.ID)
		if err != nil {
			t.Fatalf("%s after reopen: %v", d.SenderID, err)
		}
		if !bytes.Equal(got.Body, d.Body) {
			t.Fatalf("%s after reopen: %d bytes, want %d", d.SenderID, len(got.Body), len(d.Body))
		}
	}
	if err := sqlite.DropPiece(db, big.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Delivery(ctx, big.ID); err == nil || !strings.Contains(err.Error(), "pieces") {
		t.Fatalf("a missing piece: error %v, want one about the pieces", err)
	}
}
