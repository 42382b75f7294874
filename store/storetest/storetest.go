// Package storetest is the conformance suite every store.Store passes: the
// same tests run against sqlite and postgres, so both keep one contract.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// NewDelivery returns a delivery on path with sender id sender and one
// queued run.
func NewDelivery(path, sender string) (*store.Delivery, []*store.Run) {
	now := time.Now()
	d := &store.Delivery{ID: store.NewID(), Path: path, SenderID: sender, Provider: "github", Event: "push", ReceivedAt: now, Body: []byte(`{"a":1}`),
		Headers: map[string][]string{"X-Github-Event": {"push"}}, Decisions: []store.Decision{{Trigger: "t", Fired: true}}}
	r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Queued, Vars: map[string]string{"ref": "main"}, CreatedAt: now}
	d.Decisions[0].RunID = r.ID
	return d, []*store.Run{r}
}

// MustRecord records d and runs, failing tb on error.
func MustRecord(tb testing.TB, s store.Store, d *store.Delivery, runs []*store.Run) *store.Recorded {
	tb.Helper()
	rec, err := s.Record(context.Background(), d, runs)
	if err != nil {
		tb.Fatal(err)
	}
	return rec
}

// Run runs the suite; open returns a new, empty store each call (closing it
// is open's business, through t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	ctx := context.Background()

	t.Run("Record", func(t *testing.T) {
		s := open(t)
		t.Run("StoredAndReadBack", func(t *testing.T) {
			d, runs := NewDelivery("/hooks/a", "guid-1")
			code := 0
			runs = append(runs, &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "u", State: store.Succeeded, Group: "g",
				CreatedAt: d.ReceivedAt, StartedAt: d.ReceivedAt, EndedAt: d.ReceivedAt.Add(time.Second), ExitCode: &code, Meta: map[string]string{"HOOKTRIGGER_REF": "refs/heads/main"}})
			rec := MustRecord(t, s, d, runs)
			if rec.Duplicate || rec.DeliveryID != d.ID || len(rec.Runs) != 2 {
				t.Fatalf("got %+v", rec)
			}
			got, err := s.Delivery(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Body) != `{"a":1}` || got.SenderID != "guid-1" || got.Path != "/hooks/a" || got.Event != "push" || got.BodySize != 7 ||
				len(got.Decisions) != 1 || got.Decisions[0].RunID != runs[0].ID || got.Headers["X-Github-Event"][0] != "push" ||
				got.ReceivedAt.Sub(d.ReceivedAt).Abs() > time.Millisecond {
				t.Fatalf("delivery read back wrong: %+v", got)
			}
			r, err := s.Run(ctx, runs[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != store.Queued || r.Vars["ref"] != "main" || r.DeliveryID != d.ID || r.Trigger != "t" || !r.StartedAt.IsZero() || r.ExitCode != nil {
				t.Fatalf("run read back wrong: %+v", r)
			}
			r, err = s.Run(ctx, runs[1].ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != store.Succeeded || r.Group != "g" || r.ExitCode == nil || *r.ExitCode != 0 || r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond) != time.Second ||
				r.Meta["HOOKTRIGGER_REF"] != "refs/heads/main" {
				t.Fatalf("run read back wrong: %+v", r)
			}
		})
		t.Run("NotFound", func(t *testing.T) {
			if _, err := s.Delivery(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Delivery: want ErrNotFound, got %v", err)
			}
			if _, err := s.Run(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Run: want ErrNotFound, got %v", err)
			}
		})
		t.Run("DuplicateReturnsOriginalRuns", func(t *testing.T) {
			d1, runs1 := NewDelivery("/hooks/a", "guid-2")
			MustRecord(t, s, d1, runs1)
			d2, runs2 := NewDelivery("/hooks/a", "guid-2")
			rec := MustRecord(t, s, d2, runs2)
			if !rec.Duplicate || rec.DeliveryID != d1.ID || len(rec.Runs) != 1 || rec.Runs[0].ID != runs1[0].ID {
				t.Fatalf("want duplicate of %s, got %+v", d1.ID, rec)
			}
			if _, err := s.Run(ctx, runs2[0].ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("duplicate's run was stored: %v", err)
			}
			if _, err := s.Delivery(ctx, d2.ID); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("duplicate delivery was stored: %v", err)
			}
		})
		t.Run("NoSenderIDNeverDuplicate", func(t *testing.T) {
			for range 2 {
				d, runs := NewDelivery("/hooks/a", "")
				if rec := MustRecord(t, s, d, runs); rec.Duplicate {
					t.Fatalf("a delivery without sender id was taken for a duplicate: %+v", rec)
				}
			}
		})
		t.Run("SameSenderIDOtherPathIsNotDuplicate", func(t *testing.T) {
			d1, r1 := NewDelivery("/hooks/x", "guid-3")
			d2, r2 := NewDelivery("/hooks/y", "guid-3")
			if rec := MustRecord(t, s, d1, r1); rec.Duplicate {
				t.Fatal(rec)
			}
			if rec := MustRecord(t, s, d2, r2); rec.Duplicate {
				t.Fatal(rec)
			}
		})
		t.Run("FiftyConcurrentCopiesMakeOneRun", func(t *testing.T) {
			var wg sync.WaitGroup
			var mu sync.Mutex
			originals := map[string]bool{}
			dups := 0
			for range 50 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d, runs := NewDelivery("/hooks/c", "same-guid")
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
						if len(rec.Runs) != 1 {
							t.Errorf("duplicate names %d runs", len(rec.Runs))
						}
					}
				}()
			}
			wg.Wait()
			if len(originals) != 1 || dups != 49 {
				t.Fatalf("want 1 original and 49 duplicates, got %d originals, %d duplicates", len(originals), dups)
			}
			for id := range originals {
				runs, err := s.Runs(ctx, store.RunFilter{Delivery: id})
				if err != nil || len(runs) != 1 {
					t.Fatalf("want 1 run, got %d (%v)", len(runs), err)
				}
			}
		})
	})

	t.Run("Listing", func(t *testing.T) {
		s := open(t)
		var ids []string
		for i := range 5 {
			d, runs := NewDelivery(fmt.Sprintf("/hooks/%d", i%2), "")
			if i == 4 {
				d.Event = "pull_request"
				runs[0].State = store.Failed
			}
			MustRecord(t, s, d, runs)
			ids = append(ids, d.ID)
		}
		ds, err := s.Deliveries(ctx, store.DeliveryFilter{Limit: 2})
		if err != nil || len(ds) != 2 || ds[0].ID != ids[4] || ds[1].ID != ids[3] || ds[0].Body != nil {
			t.Fatalf("newest first, limited, no bodies: %v %v", ds, err)
		}
		ds, err = s.Deliveries(ctx, store.DeliveryFilter{Before: ids[3]})
		if err != nil || len(ds) != 3 || ds[0].ID != ids[2] {
			t.Fatalf("paging: %v %v", ds, err)
		}
		ds, _ = s.Deliveries(ctx, store.DeliveryFilter{Path: "/hooks/0"})
		if len(ds) != 3 {
			t.Fatalf("by path: %d", len(ds))
		}
		ds, _ = s.Deliveries(ctx, store.DeliveryFilter{Event: "pull_request"})
		if len(ds) != 1 || ds[0].ID != ids[4] {
			t.Fatalf("by event: %v", ds)
		}
		rs, _ := s.Runs(ctx, store.RunFilter{State: store.Failed})
		if len(rs) != 1 || rs[0].DeliveryID != ids[4] {
			t.Fatalf("runs by state: %v", rs)
		}
		rs, _ = s.Runs(ctx, store.RunFilter{Trigger: "t", Limit: 3})
		if len(rs) != 3 || rs[0].DeliveryID != ids[4] {
			t.Fatalf("runs by trigger: %v", rs)
		}
		q, err := s.QueuedRuns(ctx)
		if err != nil || len(q) != 4 || q[0].DeliveryID != ids[0] || q[3].DeliveryID != ids[3] {
			t.Fatalf("queued runs oldest first: %v %v", q, err)
		}
	})

	t.Run("UpdateRun", func(t *testing.T) {
		s := open(t)
		d, runs := NewDelivery("/hooks/a", "")
		MustRecord(t, s, d, runs)
		r := runs[0]
		r.State, r.StartedAt, r.Instance = store.Running, time.Now(), "here"
		if ok, err := s.UpdateRun(ctx, r, store.Queued); err != nil || !ok {
			t.Fatalf("queued→running: %v %v", ok, err)
		}
		r.State = store.Cancelled
		if ok, err := s.UpdateRun(ctx, r, store.Queued); err != nil || ok {
			t.Fatalf("a conditional update from queued must not apply to a running run: %v %v", ok, err)
		}
		code := 3
		r.State, r.EndedAt, r.ExitCode, r.Error, r.Signal, r.Attempt = store.Failed, time.Now(), &code, "exit status 3", "", 1
		if ok, err := s.UpdateRun(ctx, r, store.Running, store.Queued); err != nil || !ok {
			t.Fatalf("running→failed: %v %v", ok, err)
		}
		got, _ := s.Run(ctx, r.ID)
		if got.State != store.Failed || got.ExitCode == nil || *got.ExitCode != 3 || got.StartedAt.IsZero() || got.EndedAt.IsZero() ||
			got.Instance != "here" || got.Error != "exit status 3" || got.Attempt != 1 {
			t.Fatalf("got %+v", got)
		}
		if ok, err := s.UpdateRun(ctx, &store.Run{ID: "nope", State: store.Failed}); err != nil || ok {
			t.Fatalf("update of an unknown run: %v %v", ok, err)
		}
	})

	t.Run("InterruptRunning", func(t *testing.T) {
		s := open(t)
		d, runs := NewDelivery("/hooks/a", "")
		d2, runs2 := NewDelivery("/hooks/a", "")
		MustRecord(t, s, d, runs)
		MustRecord(t, s, d2, runs2)
		runs[0].State, runs[0].StartedAt, runs[0].Instance = store.Running, time.Now(), "a-dead-instance"
		if _, err := s.UpdateRun(ctx, runs[0]); err != nil {
			t.Fatal(err)
		}
		got, err := s.InterruptRunning(ctx)
		if err != nil || len(got) != 1 || got[0].ID != runs[0].ID || got[0].State != store.Interrupted {
			t.Fatalf("want the running run interrupted, got %v %v", got, err)
		}
		r, _ := s.Run(ctx, runs[0].ID)
		if r.State != store.Interrupted || r.EndedAt.IsZero() {
			t.Fatalf("stored %+v", r)
		}
		if r, _ := s.Run(ctx, runs2[0].ID); r.State != store.Queued {
			t.Fatalf("a queued run was touched: %s", r.State)
		}
	})

	t.Run("Prune", func(t *testing.T) {
		s := open(t)
		var ids []string
		var dels []string
		for i := range 6 {
			d, runs := NewDelivery("/hooks/a", "")
			runs[0].State = store.Succeeded
			if i == 0 {
				runs[0].State = store.Queued // live runs are never pruned
			}
			if i < 3 {
				d.ReceivedAt = d.ReceivedAt.Add(-time.Hour)
				runs[0].CreatedAt = runs[0].CreatedAt.Add(-time.Hour)
			}
			MustRecord(t, s, d, runs)
			ids = append(ids, runs[0].ID)
			dels = append(dels, d.ID)
		}
		pruned, err := s.Prune(ctx, 30*time.Minute, 30*time.Minute, 0)
		if err != nil || len(pruned) != 2 {
			t.Fatalf("want the 2 old finished runs pruned, got %v %v", pruned, err)
		}
		for i, id := range dels {
			d, err := s.Delivery(ctx, id)
			if err != nil {
				t.Fatalf("delivery records stay: %v", err)
			}
			if old := i < 3; old != (d.Body == nil) || d.BodySize != 7 {
				t.Fatalf("delivery %d: body %q, size %d", i, d.Body, d.BodySize)
			}
		}
		if _, err := s.Run(ctx, ids[0]); err != nil {
			t.Fatalf("the old queued run was pruned: %v", err)
		}
		pruned, err = s.Prune(ctx, 0, 0, 2)
		if err != nil || len(pruned) != 1 || pruned[0] != ids[3] {
			t.Fatalf("max 2 runs: want %s pruned, got %v %v", ids[3], pruned, err)
		}
		left, _ := s.Runs(ctx, store.RunFilter{})
		if len(left) != 3 || left[0].ID != ids[5] || left[1].ID != ids[4] || left[2].ID != ids[0] {
			t.Fatalf("want the two newest and the queued run kept, got %v", left)
		}
	})

	// A large body comes back byte for byte, once, through a redelivery,
	// and a prune takes it like any other (the SQLite store keeps bodies
	// over 1 MiB in pieces).
	t.Run("LargeBody", func(t *testing.T) {
		s := open(t)
		body := make([]byte, 3<<20+12345)
		_, _ = rand.NewChaCha8([32]byte{1}).Read(body)
		d, runs := NewDelivery("/hooks/big", "guid-big")
		d.Body = body
		d.ReceivedAt = d.ReceivedAt.Add(-time.Hour)
		MustRecord(t, s, d, runs)
		again, runs2 := NewDelivery("/hooks/big", "guid-big")
		again.Body = body
		if rec := MustRecord(t, s, again, runs2); !rec.Duplicate {
			t.Fatalf("redelivery not taken for a duplicate: %+v", rec)
		}
		got, err := s.Delivery(ctx, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body, body) || got.BodySize != len(body) {
			t.Fatalf("body read back: %d bytes (size %d), equal %v; want %d", len(got.Body), got.BodySize, bytes.Equal(got.Body, body), len(body))
		}
		list, err := s.Deliveries(ctx, store.DeliveryFilter{Path: "/hooks/big"})
		if err != nil || len(list) != 1 || list[0].BodySize != len(body) {
			t.Fatalf("listing: %v %v", list, err)
		}
		if _, err := s.Prune(ctx, 30*time.Minute, 0, 0); err != nil {
			t.Fatal(err)
		}
		got, err = s.Delivery(ctx, d.ID)
		if err != nil || got.Body != nil || got.BodySize != len(body) {
			t.Fatalf("after the prune: %v, body %d bytes, size %d", err, len(got.Body), got.BodySize)
		}
	})

	t.Run("StatusUnreported", func(t *testing.T) {
		s := open(t)
		now := time.Now()
		d, runs := NewDelivery("/hooks/a", "status-1")
		run := func(trigger string, state store.State) *store.Run {
			r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: trigger, State: state, CreatedAt: now}
			if state.Final() {
				r.StartedAt, r.EndedAt = now, now
			}
			return r
		}
		ended, noted, live, other, old := run("t", store.Succeeded), run("t", store.Failed), run("t", store.Running), run("u", store.Succeeded), run("t", store.Failed)
		old.EndedAt = now.Add(-48 * time.Hour)
		MustRecord(t, s, d, append(runs[:0], ended, noted, live, other, old))
		if err := s.SetStatusNote(ctx, noted.ID, "commit status not reported: bad token"); err != nil {
			t.Fatal(err)
		}
		since := now.Add(-time.Hour)
		if got := runIDs(t)(s.StatusUnreported(ctx, []string{"t"}, since)); len(got) != 1 || got[0] != ended.ID {
			t.Fatalf("want only %s (ended, unreported, no note, recent, trigger t), got %v", ended.ID, got)
		}
		if got := runIDs(t)(s.StatusUnreported(ctx, nil, since)); len(got) != 0 {
			t.Fatalf("no triggers: got %v", got)
		}
		if err := s.SetStatusReported(ctx, ended.ID, store.Succeeded); err != nil {
			t.Fatal(err)
		}
		if got := runIDs(t)(s.StatusUnreported(ctx, []string{"t", "u"}, since)); len(got) != 1 || got[0] != other.ID {
			t.Fatalf("after reporting %s: want only %s, got %v", ended.ID, other.ID, got)
		}
	})

	t.Run("NotifyPending", func(t *testing.T) {
		s := open(t)
		now := time.Now()
		d, runs := NewDelivery("/hooks/a", "notify-1")
		run := func(state store.State) *store.Run {
			r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: state, CreatedAt: now}
			if state.Final() {
				r.StartedAt, r.EndedAt = now, now
			}
			return r
		}
		owed, mine, settled, requeued := run(store.Failed), run(store.TimedOut), run(store.Failed), run(store.Queued)
		MustRecord(t, s, d, append(runs[:0], owed, mine, settled, requeued))
		for id, owner := range map[string]string{owed.ID: "old-process", mine.ID: "me", settled.ID: "old-process", requeued.ID: "old-process"} {
			if err := s.SetNotifyPending(ctx, id, owner); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.SetNotifyPending(ctx, settled.ID, ""); err != nil {
			t.Fatal(err)
		}
		took, err := s.TakeNotifyPending(ctx, "me")
		if err != nil {
			t.Fatal(err)
		}
		if len(took) != 1 || took[0].ID != owed.ID || took[0].State != store.Failed || took[0].Trigger != "t" {
			t.Fatalf("want only %s (owed by another owner, ended), got %v", owed.ID, took)
		}
		// Taken once: now owed by "me", and the re-queued run's debt is gone.
		if took, err := s.TakeNotifyPending(ctx, "me"); err != nil || len(took) != 0 {
			t.Fatalf("a second take: %v %v", took, err)
		}
		got := runIDs(t)(s.TakeNotifyPending(ctx, "next"))
		want := []string{owed.ID, mine.ID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("another owner takes %v, want %v (not the settled run, not the re-queued one)", got, want)
		}
	})

	t.Run("NotifyPendingWithEnd", func(t *testing.T) {
		// The update that records a run's end can mark its notifications
		// owed in the same commit; an update without the mark keeps it.
		s := open(t)
		now := time.Now()
		d, runs := NewDelivery("/hooks/a", "notify-2")
		ends := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Running, CreatedAt: now, StartedAt: now}
		kept := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Failed, CreatedAt: now, StartedAt: now, EndedAt: now}
		plain := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Running, CreatedAt: now, StartedAt: now}
		MustRecord(t, s, d, append(runs[:0], ends, kept, plain))
		ends.State, ends.EndedAt, ends.NotifyPending = store.Failed, now, "old-process"
		if ok, err := s.UpdateRun(ctx, ends, store.Running); err != nil || !ok {
			t.Fatalf("UpdateRun: %v %v", ok, err)
		}
		if err := s.SetNotifyPending(ctx, kept.ID, "old-process"); err != nil {
			t.Fatal(err)
		}
		kept.Error = "a later update"
		if _, err := s.UpdateRun(ctx, kept); err != nil {
			t.Fatal(err)
		}
		// A mark on an update that does not end the run is not written.
		plain.NotifyPending = "old-process"
		if _, err := s.UpdateRun(ctx, plain, store.Running); err != nil {
			t.Fatal(err)
		}
		plain.State, plain.EndedAt, plain.NotifyPending = store.Succeeded, now, ""
		if _, err := s.UpdateRun(ctx, plain, store.Running); err != nil {
			t.Fatal(err)
		}
		got := runIDs(t)(s.TakeNotifyPending(ctx, "me"))
		want := []string{ends.ID, kept.ID}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("owed runs %v, want %v (ended with the mark, and kept through an update without it; not the run ended without it)", got, want)
		}
	})

	t.Run("RevokedSessions", func(t *testing.T) {
		s := open(t)
		now := time.Now()
		for _, id := range []string{"live", "live"} { // twice: revoking is idempotent
			if err := s.RevokeSession(ctx, id, now.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeSession(ctx, "expired", now.Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]bool{"live": true, "expired": true, "never": false} {
			if got, err := s.SessionRevoked(ctx, id); err != nil || got != want {
				t.Fatalf("SessionRevoked(%q) = %v, %v; want %v", id, got, err, want)
			}
		}
		// Prune forgets a revocation once the session has expired anyway,
		// also when it has no runs to prune.
		if _, err := s.Prune(ctx, 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]bool{"live": true, "expired": false} {
			if got, err := s.SessionRevoked(ctx, id); err != nil || got != want {
				t.Fatalf("after Prune, SessionRevoked(%q) = %v, %v; want %v", id, got, err, want)
			}
		}
	})

	t.Run("Ping", func(t *testing.T) {
		if err := open(t).Ping(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("ClosedIsUnavailable", func(t *testing.T) {
		s := open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		d, runs := NewDelivery("/hooks/a", "")
		if _, err := s.Record(ctx, d, runs); !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("want ErrUnavailable, got %v", err)
		}
	})

	if sh, ok := open(t).(store.Shared); ok {
		_ = sh
		t.Run("Claim", func(t *testing.T) { runClaim(t, open(t).(store.Shared)) })
	}
}

func runClaim(t *testing.T, s store.Shared) {
	ctx := context.Background()
	rec := func(group string) *store.Run {
		d, runs := NewDelivery("/hooks/a", "")
		runs[0].Group = group
		MustRecord(t, s, d, runs)
		runs[0].Instance = "me"
		return runs[0]
	}
	t.Run("Once", func(t *testing.T) {
		r := rec("")
		if ok, err := s.Claim(ctx, r, 0); err != nil || !ok || r.State != store.Running {
			t.Fatalf("first claim: %v %v", ok, err)
		}
		if ok, err := s.Claim(ctx, r, 0); err != nil || ok {
			t.Fatalf("second claim of a running run: %v %v", ok, err)
		}
		got, _ := s.Run(ctx, r.ID)
		if got.State != store.Running || got.Instance != "me" || got.StartedAt.IsZero() {
			t.Fatalf("claimed run stored as %+v", got)
		}
	})
	t.Run("GroupLimit", func(t *testing.T) {
		r1, r2, r3 := rec("g"), rec("g"), rec("other")
		if _, err := s.Claim(ctx, r2, 1); !errors.Is(err, store.ErrGroupBusy) {
			t.Fatalf("an older run of the group waits: want ErrGroupBusy, got %v", err)
		}
		if ok, err := s.Claim(ctx, r1, 1); err != nil || !ok {
			t.Fatalf("claim r1: %v %v", ok, err)
		}
		if _, err := s.Claim(ctx, r2, 1); !errors.Is(err, store.ErrGroupBusy) {
			t.Fatalf("group at its limit: want ErrGroupBusy, got %v", err)
		}
		if ok, err := s.Claim(ctx, r3, 1); err != nil || !ok {
			t.Fatalf("another group is free: %v %v", ok, err)
		}
		if ok, err := s.Claim(ctx, r2, 2); err != nil || !ok {
			t.Fatalf("limit 2: %v %v", ok, err)
		}
		r1.State, r1.EndedAt = store.Succeeded, time.Now()
		if _, err := s.UpdateRun(ctx, r1, store.Running); err != nil {
			t.Fatal(err)
		}
		r4 := rec("g")
		if _, err := s.Claim(ctx, r4, 1); !errors.Is(err, store.ErrGroupBusy) {
			t.Fatalf("r2 still runs: want ErrGroupBusy, got %v", err)
		}
	})
}

// runIDs returns a function giving the ids of a store's answer in their
// order, failing t when the answer is an error.
func runIDs(t *testing.T) func(rs []*store.Run, err error) []string {
	return func(rs []*store.Run, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
}
