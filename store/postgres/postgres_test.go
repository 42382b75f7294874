package postgres_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/postgres"
	"github.com/hooktrigger/hooktrigger/store/storetest"
)

// MustDatabase is storetest.PostgresDatabase: an empty database, or a skip.
var MustDatabase = storetest.PostgresDatabase

// MustOpen opens a store on dbURL, closed when tb ends.
func MustOpen(tb testing.TB, dbURL string, opts postgres.Options) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), dbURL, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestDB_Conformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return MustOpen(t, MustDatabase(t), postgres.Options{Instance: "test-" + store.NewID()})
	})
}

// TestDB_RunLogs: stored pieces read back from any offset, across piece
// boundaries and within max; a reset forgets them; pruning the run drops
// them with it.
func TestDB_RunLogs(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, MustDatabase(t), postgres.Options{})
	d, runs := storetest.NewDelivery("/hooks/a", "g")
	storetest.MustRecord(t, db, d, runs)
	id := runs[0].ID
	for _, p := range []struct {
		off  int64
		data string
	}{{0, "hello "}, {6, "wide "}, {11, "world"}} {
		if err := db.AppendLog(ctx, id, p.off, []byte(p.data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		off  int64
		max  int
		want string
	}{{0, 100, "hello wide world"}, {3, 6, "lo wid"}, {6, 5, "wide "}, {10, 100, " world"}, {16, 10, ""}, {40, 10, ""}} {
		got, err := db.ReadLog(ctx, id, c.off, c.max)
		if err != nil || string(got) != c.want {
			t.Errorf("ReadLog(%d, %d) = %q, %v; want %q", c.off, c.max, got, err, c.want)
		}
	}
	if err := db.ResetLog(ctx, id); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ReadLog(ctx, id, 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("after ResetLog: %q, %v", got, err)
	}
	_ = db.AppendLog(ctx, id, 0, []byte("again"))
	runs[0].State = store.Succeeded
	if _, err := db.UpdateRun(ctx, runs[0]); err != nil {
		t.Fatal(err)
	}
	if pruned, err := db.Prune(ctx, 0, 0, 1); err != nil || len(pruned) != 0 {
		// max 1 run: this one is the newest and stays
		t.Fatalf("prune: %v %v", pruned, err)
	}
	d2, runs2 := storetest.NewDelivery("/hooks/a", "g2")
	runs2[0].State = store.Succeeded
	storetest.MustRecord(t, db, d2, runs2)
	if pruned, err := db.Prune(ctx, 0, 0, 1); err != nil || len(pruned) != 1 || pruned[0] != id {
		t.Fatalf("prune: want %s pruned, got %v %v", id, pruned, err)
	}
	if got, err := db.ReadLog(ctx, id, 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("the pruned run's log is still stored: %q, %v", got, err)
	}
}

// TestDB_MigrateConcurrently opens eight stores on one new database at
// once: the advisory lock lets one migrate and the others wait.
func TestDB_MigrateConcurrently(t *testing.T) {
	u := MustDatabase(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(context.Background(), u, postgres.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			db.Close()
		}()
	}
	wg.Wait()
}

// TestDB_TwoInstances shares one database between two stores, as two
// instances do.
func TestDB_TwoInstances(t *testing.T) {
	ctx := context.Background()
	u := MustDatabase(t)
	opts := postgres.Options{Heartbeat: 100 * time.Millisecond, StaleAfter: time.Second}
	a := MustOpen(t, u, withInstance(opts, "a"))
	b := MustOpen(t, u, withInstance(opts, "b"))

	t.Run("DedupeAcrossInstances", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		originals := map[string]bool{}
		dups := 0
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := a
				if i%2 == 1 {
					s = b
				}
				d, runs := storetest.NewDelivery("/hooks/x", "shared-guid")
				rec, err := s.Record(ctx, d, runs)
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
		if len(originals) != 1 || dups != 39 {
			t.Fatalf("want 1 original and 39 duplicates, got %d and %d", len(originals), dups)
		}
	})

	t.Run("EachRunClaimedOnce", func(t *testing.T) {
		var ids []string
		for range 100 {
			d, runs := storetest.NewDelivery("/hooks/y", "")
			storetest.MustRecord(t, a, d, runs)
			ids = append(ids, runs[0].ID)
		}
		var mu sync.Mutex
		claims := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, inst := a, "a"
				if w%2 == 1 {
					s, inst = b, "b"
				}
				for _, id := range ids {
					r := &store.Run{ID: id, Instance: inst}
					ok, err := s.Claim(ctx, r, 0)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						claims[id]++
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			if claims[id] != 1 {
				t.Errorf("run %s claimed %d times", id, claims[id])
			}
		}
	})

	t.Run("DeadInstanceRunsInterrupted", func(t *testing.T) {
		c, err := postgres.Open(ctx, u, withInstance(opts, "c"))
		if err != nil {
			t.Fatal(err)
		}
		d, runs := storetest.NewDelivery("/hooks/z", "")
		storetest.MustRecord(t, c, d, runs)
		r := runs[0]
		r.Instance = "c"
		if ok, err := c.Claim(ctx, r, 0); err != nil || !ok {
			t.Fatalf("claim: %v %v", ok, err)
		}
		if got, err := a.Orphans(ctx); err != nil || len(got) != 0 {
			t.Fatalf("a live instance's run was taken for an orphan: %v %v", got, err)
		}
		c.Close() // stops its heartbeat, like a crash would (and removes its row)
		got, err := a.Orphans(ctx)
		if err != nil || len(got) != 1 || got[0].ID != r.ID || got[0].State != store.Interrupted {
			t.Fatalf("want run %s interrupted, got %v %v", r.ID, got, err)
		}
	})

	t.Run("WakeOnRecord", func(t *testing.T) {
		drain(b.Wake())
		d, runs := storetest.NewDelivery("/hooks/w", "")
		storetest.MustRecord(t, a, d, runs)
		select {
		case <-b.Wake():
		case <-time.After(10 * time.Second):
			t.Fatal("b was not woken by a's new run within 10s")
		}
	})
}

func withInstance(o postgres.Options, name string) postgres.Options {
	o.Instance = name
	return o
}

func drain(c <-chan struct{}) {
	for {
		select {
		case <-c:
		default:
			return
		}
	}
}

// BenchmarkRecord records deliveries from parallel goroutines, as concurrent
// webhook requests do: each Record waits for its group commit.
func BenchmarkRecord(b *testing.B) {
	db := MustOpen(b, MustDatabase(b), postgres.Options{})
	var commits, records atomic.Int64
	db.CommitHook = func(n int, _ time.Duration) { commits.Add(1); records.Add(int64(n)) }
	ctx := context.Background()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, runs := storetest.NewDelivery("/hooks/a", store.NewID())
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

// TestOpen_BadURLKeepsPasswordSecret needs no server: errors about the URL
// or the connection never contain the password.
func TestOpen_BadURLKeepsPasswordSecret(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
	}{
		{name: "BadPort", url: "postgres://user:hunter2-secret@127.0.0.1:notaport/db"},
		{name: "BadEscape", url: "postgres://user:hunter2-secret%zz@127.0.0.1/db"},
		{name: "NobodyListens", url: "postgres://user:hunter2-secret@127.0.0.1:1/db?connect_timeout=2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := postgres.Open(context.Background(), tc.url, postgres.Options{})
			if err == nil {
				db.Close()
				t.Fatal("want an error")
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error reveals the password: %v", err)
			}
			t.Log(err)
		})
	}
}
