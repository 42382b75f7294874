package pipeline_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
)

// eventScript appends "start RUN" when it begins and "end RUN" when it is
// about to exit to the file $EV, sleeping in between. On SIGTERM it
// writes "term RUN", lingers a little (so a successor starting early
// would show) and ends with "end RUN".
// eventScript's trap kills its sleep itself, with SIGKILL: a SIGTERM that
// reaches the sleep between the shell's fork and its exec is lost (the
// shell's handler is still installed there). On a loaded machine the child
// may not have run at all before the trap, so a second SIGTERM from the
// trap is lost the same way, and the run would wait out its kill grace
// (seen in CI: the sleep outlived its shell, ppid 1).
const eventScript = `
id=$HOOKTRIGGER_RUN_ID
trap 'kill -KILL $! 2>/dev/null; echo "term $id" >> "$EV"; sleep 0.3; echo "end $id" >> "$EV"; exit 143' TERM
echo "start $id" >> "$EV"
sleep "$NAP" &
wait $!
echo "end $id" >> "$EV"
`

// harness is a scheduler over a real SQLite store in a temporary
// directory, with the runs' state changes collected.
type harness struct {
	t     testing.TB
	dir   string
	db    *sqlite.DB
	sched *pipeline.Scheduler
	specs map[string]*pipeline.Spec

	mu      sync.Mutex
	changes map[string][]store.State // state sequence per run
	ended   chan struct{}            // a run reached a final state
}

func newHarness(tb testing.TB, workers int, specs map[string]*pipeline.Spec) *harness {
	tb.Helper()
	dir := tb.TempDir()
	db, err := sqlite.Open(filepath.Join(dir, "h.db"))
	if err != nil {
		tb.Fatal(err)
	}
	h := &harness{t: tb, dir: dir, db: db, specs: specs, changes: map[string][]store.State{}, ended: make(chan struct{}, 1)}
	h.sched = h.newScheduler(workers)
	tb.Cleanup(func() {
		h.sched.Shutdown(0)
		db.Close()
	})
	return h
}

func (h *harness) newScheduler(workers int) *pipeline.Scheduler {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := pipeline.NewScheduler(h.db, func(name string) (*pipeline.Spec, bool) {
		sp, ok := h.specs[name]
		return sp, ok
	}, filepath.Join(h.dir, "runs"), workers, log)
	s.OnChange = func(r *store.Run) {
		h.mu.Lock()
		h.changes[r.ID] = append(h.changes[r.ID], r.State)
		h.mu.Unlock()
		if r.State.Final() {
			select {
			case h.ended <- struct{}{}:
			default:
			}
		}
	}
	return s
}

// statesOf returns the state changes reported for run id.
func (h *harness) statesOf(id string) []store.State {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]store.State(nil), h.changes[id]...)
}

// record commits one delivery with one queued run of trigger in group.
func (h *harness) record(trigger, group string) *store.Run {
	h.t.Helper()
	now := time.Now()
	d := &store.Delivery{ID: store.NewID(), Path: "/hooks/" + trigger, ReceivedAt: now, Body: []byte(`{"ref":"main"}`)}
	r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: trigger, State: store.Queued, Group: group,
		CreatedAt: now, Vars: map[string]string{"ref": "main"}}
	r.Meta = map[string]string{"HOOKTRIGGER_RUN_ID": r.ID, "HOOKTRIGGER_TRIGGER": trigger}
	d.Decisions = []store.Decision{{Trigger: trigger, Fired: true, RunID: r.ID}}
	if _, err := h.db.Record(context.Background(), d, []*store.Run{r}); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// enqueue records a run and hands it to the scheduler; it returns the id.
func (h *harness) enqueue(trigger, group string) string {
	h.t.Helper()
	r := h.record(trigger, group)
	id := r.ID
	h.sched.Enqueue([]*store.Run{r}, []byte(`{"ref":"main"}`))
	return id
}

// run reads a run from the store.
func (h *harness) run(id string) *store.Run {
	h.t.Helper()
	r, err := h.db.Run(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// wait waits up to 60s until every run of ids is final, and returns them.
func (h *harness) wait(ids ...string) []*store.Run {
	h.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		var out []*store.Run
		for _, id := range ids {
			if r := h.run(id); r.State.Final() {
				out = append(out, r)
			}
		}
		if len(out) == len(ids) {
			return out
		}
		select {
		case <-h.ended:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			h.t.Fatalf("runs did not end within 60s: %d of %d ended", len(out), len(ids))
		}
	}
}

// waitState waits up to 30s for run id to reach state.
func (h *harness) waitState(id string, state store.State) {
	h.t.Helper()
	for range 3000 {
		if h.run(id).State == state {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("run %s did not reach %s (is %s)", id, state, h.run(id).State)
}

// scriptSpec is a spec running eventScript with a nap of nap seconds.
func scriptSpec(evFile, nap string, policy pipeline.Policy, max int) *pipeline.Spec {
	return &pipeline.Spec{
		Command: &pipeline.Command{Script: eventScript, Env: map[string]string{"EV": evFile, "NAP": nap}},
		Policy:  policy, Max: max, GroupTemplate: "g",
	}
}

// event is one line of an event file.
type event struct {
	kind, run string
}

func readEvents(tb testing.TB, name string) []event {
	tb.Helper()
	f, err := os.Open(name)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []event
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, r, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			tb.Fatalf("bad event line %q", sc.Text())
		}
		out = append(out, event{k, r})
	}
	return out
}

// maxOverlap replays start/end events and returns the largest number of
// runs between their start and their end at once.
func maxOverlap(tb testing.TB, evs []event) int {
	tb.Helper()
	live := map[string]bool{}
	most := 0
	for _, e := range evs {
		switch e.kind {
		case "start":
			if live[e.run] {
				tb.Fatalf("run %s started twice", e.run)
			}
			live[e.run] = true
			most = max(most, len(live))
		case "end":
			if !live[e.run] {
				tb.Fatalf("run %s ended without starting", e.run)
			}
			delete(live, e.run)
		}
	}
	return most
}

func startOrder(evs []event) []string {
	var out []string
	for _, e := range evs {
		if e.kind == "start" {
			out = append(out, e.run)
		}
	}
	return out
}

func TestScheduler_Policies(t *testing.T) {
	for _, tc := range []struct {
		name        string
		workers     int
		policy      pipeline.Policy
		max         int
		group       func(i int) string
		runs        int
		wantOverlap int  // the most runs executing at once
		fifo        bool // runs start in the order they were queued
	}{
		{name: "QueueIsFIFOAndNeverOverlaps", workers: 4, policy: pipeline.PolicyQueue, group: func(int) string { return "app-main" }, runs: 5, wantOverlap: 1, fifo: true},
		{name: "ParallelMax2", workers: 4, policy: pipeline.PolicyParallel, max: 2, group: func(int) string { return "app-main" }, runs: 6, wantOverlap: 2, fifo: true},
		{name: "WorkersBoundAcrossGroups", workers: 2, policy: pipeline.PolicyQueue, group: func(i int) string { return "g" + strconv.Itoa(i) }, runs: 6, wantOverlap: 2},
		{name: "WorkersBoundWithoutGroups", workers: 2, policy: pipeline.PolicyParallel, group: func(int) string { return "" }, runs: 6, wantOverlap: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := filepath.Join(t.TempDir(), "events")
			h := newHarness(t, tc.workers, map[string]*pipeline.Spec{"t": scriptSpec(ev, "0.3", tc.policy, tc.max)})
			var ids []string
			for i := range tc.runs {
				ids = append(ids, h.enqueue("t", tc.group(i)))
			}
			runs := h.wait(ids...)
			for _, r := range runs {
				if r.State != store.Succeeded || r.StartedAt.IsZero() || r.EndedAt.Before(r.StartedAt) {
					t.Fatalf("run %s: state %s started %v ended %v (%s)", r.ID, r.State, r.StartedAt, r.EndedAt, r.Error)
				}
			}
			evs := readEvents(t, ev)
			if len(evs) != 2*tc.runs {
				t.Fatalf("want %d events, got %v", 2*tc.runs, evs)
			}
			if got := maxOverlap(t, evs); got != tc.wantOverlap {
				t.Fatalf("at most %d runs at once, want %d: %v", got, tc.wantOverlap, evs)
			}
			if tc.fifo {
				// Runs admitted together start in a racy order among
				// themselves, so a run may start up to wantOverlap-1
				// places from its place in the queue, never further.
				got := startOrder(evs)
				pos := map[string]int{}
				for i, id := range got {
					pos[id] = i
				}
				for i, id := range ids {
					if d := pos[id] - i; d >= tc.wantOverlap || -d >= tc.wantOverlap {
						t.Fatalf("start order %v, queued %v: run %d started at place %d", got, ids, i, pos[id])
					}
				}
			}
			// The recorded times agree with the processes' own account.
			if tc.wantOverlap == 1 {
				for i := 1; i < len(runs); i++ {
					if runs[i].StartedAt.Before(runs[i-1].EndedAt) {
						t.Fatalf("run %d started at %v, before run %d ended at %v", i, runs[i].StartedAt, i-1, runs[i-1].EndedAt)
					}
				}
			}
		})
	}
}

func TestScheduler_CancelPrevious(t *testing.T) {
	ev := filepath.Join(t.TempDir(), "events")
	h := newHarness(t, 4, map[string]*pipeline.Spec{"t": scriptSpec(ev, "30", pipeline.PolicyCancelPrevious, 0)})
	first := h.enqueue("t", "app-main")
	h.waitState(first, store.Running)
	waitEvent(t, ev, "start "+first)
	other := h.enqueue("t", "app-dev") // another group is left alone
	h.waitState(other, store.Running)
	second := h.enqueue("t", "app-main") // cancels first, waits for it to end …
	third := h.enqueue("t", "app-main")  // … and is cancelled by this one while queued
	waitEvent(t, ev, "start "+third)
	for _, id := range []string{third, other} {
		if ok, err := h.sched.Cancel(context.Background(), id, "test"); !ok || err != nil {
			t.Fatalf("cancel %s: %v %v", id, ok, err)
		}
	}
	runs := h.wait(first, second, third, other)

	for _, c := range []struct {
		id   string
		want store.State
	}{{first, store.Cancelled}, {second, store.Cancelled}, {third, store.Cancelled}, {other, store.Cancelled}} {
		r := h.run(c.id)
		if r.State != c.want {
			t.Errorf("run %s: state %s, want %s (%s)", c.id, r.State, c.want, r.Error)
		}
	}
	if r := runs[0]; r.Signal != "SIGTERM" || !strings.Contains(r.Error, "cancelled by newer run "+second) {
		t.Errorf("first run: signal %q error %q", r.Signal, r.Error)
	}
	if r := runs[1]; !r.StartedAt.IsZero() || !strings.Contains(r.Error, third) {
		t.Errorf("second run started or names the wrong canceller: %+v", r)
	}
	evs := readEvents(t, ev)
	var order []string
	for _, e := range evs {
		if e.run != other {
			order = append(order, e.kind+" "+e.run)
		}
	}
	want := []string{"start " + first, "term " + first, "end " + first, "start " + third, "term " + third, "end " + third}
	if strings.Join(order, "|") != strings.Join(want, "|") {
		t.Fatalf("events\n got %v\nwant %v", order, want)
	}
	if runs[2].StartedAt.Before(runs[0].EndedAt) {
		t.Fatalf("the new run started at %v, before the cancelled one ended at %v", runs[2].StartedAt, runs[0].EndedAt)
	}
}

// waitEvent waits up to 30s for a line in the event file.
func waitEvent(tb testing.TB, name, line string) {
	tb.Helper()
	for range 3000 {
		b, _ := os.ReadFile(name)
		for _, l := range strings.Split(string(b), "\n") {
			if l == line {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	b, _ := os.ReadFile(name)
	tb.Fatalf("no line %q in the events:\n%s", line, b)
}

func TestScheduler_SkipIfRunning(t *testing.T) {
	ev := filepath.Join(t.TempDir(), "events")
	h := newHarness(t, 4, map[string]*pipeline.Spec{"t": scriptSpec(ev, "1", pipeline.PolicySkipIfRunning, 0)})
	first := h.enqueue("t", "app-main")
	waitEvent(t, ev, "start "+first)
	skipped := h.enqueue("t", "app-main")
	otherGroup := h.enqueue("t", "app-dev")
	if r := h.wait(skipped)[0]; r.State != store.Skipped || !r.StartedAt.IsZero() || !strings.Contains(r.Error, "app-main") {
		t.Fatalf("second run of the group: %+v", r)
	}
	h.wait(first, otherGroup)
	after := h.enqueue("t", "app-main") // the group is idle again
	runs := h.wait(first, otherGroup, after)
	for _, r := range runs {
		if r.State != store.Succeeded {
			t.Fatalf("run %s: %s (%s)", r.ID, r.State, r.Error)
		}
	}
	for _, e := range readEvents(t, ev) {
		if e.run == skipped {
			t.Fatalf("the skipped run executed: %v", e)
		}
	}
	if got := h.statesOf(skipped); len(got) != 1 || got[0] != store.Skipped {
		t.Fatalf("state changes of the skipped run: %v", got)
	}
}

func TestScheduler_QuietPeriod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		policy pipeline.Policy
	}{
		{name: "Queue", policy: pipeline.PolicyQueue},
		{name: "SkipIfRunning", policy: pipeline.PolicySkipIfRunning},
		{name: "CancelPrevious", policy: pipeline.PolicyCancelPrevious},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := filepath.Join(t.TempDir(), "events")
			spec := scriptSpec(ev, "0", tc.policy, 0)
			spec.QuietPeriod = 2 * time.Second
			h := newHarness(t, 4, map[string]*pipeline.Spec{"t": spec})
			var burst []string
			for range 5 {
				burst = append(burst, h.enqueue("t", "app-main"))
			}
			runs := h.wait(burst...)
			last := runs[len(runs)-1]
			if last.State != store.Succeeded {
				t.Fatalf("latest delivery of the burst: %s (%s)", last.State, last.Error)
			}
			for _, r := range runs[:4] {
				if r.State != store.Superseded || !r.StartedAt.IsZero() || !strings.Contains(r.Error, "superseded by run ") {
					t.Fatalf("run %s of the burst: %s started %v (%s)", r.ID, r.State, r.StartedAt, r.Error)
				}
			}
			if got := startOrder(readEvents(t, ev)); len(got) != 1 || got[0] != last.ID {
				t.Fatalf("executed %v, want only %s", got, last.ID)
			}
			// The run waited out the quiet period after the last delivery.
			if gap := last.StartedAt.Sub(last.CreatedAt); gap < spec.QuietPeriod {
				t.Fatalf("the run started %v after it was queued, inside the quiet period", gap)
			}
		})
	}
}

func TestScheduler_Cancel(t *testing.T) {
	ev := filepath.Join(t.TempDir(), "events")
	h := newHarness(t, 4, map[string]*pipeline.Spec{"t": scriptSpec(ev, "30", pipeline.PolicyQueue, 0)})
	running := h.enqueue("t", "g")
	queued := h.enqueue("t", "g")
	waitEvent(t, ev, "start "+running)
	for _, c := range []struct {
		name string
		id   string
		ok   bool
	}{
		{name: "Queued", id: queued, ok: true},
		{name: "Running", id: running, ok: true},
		{name: "Unknown", id: store.NewID(), ok: false},
	} {
		ok, err := h.sched.Cancel(context.Background(), c.id, "by test")
		if c.name == "Unknown" {
			if ok || err == nil {
				t.Errorf("%s: cancel of an unknown run: %v %v", c.name, ok, err)
			}
			continue
		}
		if ok != c.ok || err != nil {
			t.Errorf("%s: %v %v", c.name, ok, err)
		}
	}
	runs := h.wait(running, queued)
	if r := runs[0]; r.State != store.Cancelled || r.Signal != "SIGTERM" || !strings.Contains(r.Error, "by test") {
		b, _ := os.ReadFile(ev)
		t.Fatalf("running run: %+v\n%s", r, b)
	}
	if r := runs[1]; r.State != store.Cancelled || !r.StartedAt.IsZero() {
		t.Fatalf("queued run: %+v", r)
	}
	if ok, err := h.sched.Cancel(context.Background(), running, "again"); ok || err != nil {
		t.Fatalf("cancelling an ended run: %v %v", ok, err)
	}
	if got := startOrder(readEvents(t, ev)); len(got) != 1 {
		t.Fatalf("started %v", got)
	}
}

func TestScheduler_Shutdown(t *testing.T) {
	for _, tc := range []struct {
		name      string
		nap       string
		retry     bool
		wantState store.State
	}{
		{name: "BuildEndsWithinGrace", nap: "0.2", wantState: store.Succeeded},
		{name: "BuildStoppedAfterGrace", nap: "30", wantState: store.Interrupted},
		{name: "RetryInterruptedQueuesItAgain", nap: "30", retry: true, wantState: store.Queued},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := filepath.Join(t.TempDir(), "events")
			spec := scriptSpec(ev, tc.nap, pipeline.PolicyQueue, 0)
			spec.RetryInterrupted = tc.retry
			h := newHarness(t, 4, map[string]*pipeline.Spec{"t": spec})
			id := h.enqueue("t", "g")
			waiting := h.enqueue("t", "g")
			waitEvent(t, ev, "start "+id)
			h.sched.Shutdown(time.Second)
			r := h.run(id)
			if r.State != tc.wantState {
				t.Fatalf("state %s, want %s (%s)", r.State, tc.wantState, r.Error)
			}
			if tc.wantState == store.Interrupted && r.Signal != "SIGTERM" {
				t.Fatalf("signal %q", r.Signal)
			}
			if tc.retry {
				if r.Attempt != 1 {
					t.Fatalf("attempt %d", r.Attempt)
				}
				if got := h.statesOf(id); len(got) < 2 || got[len(got)-2] != store.Interrupted {
					t.Fatalf("state changes %v: interrupted was not recorded", got)
				}
			}
			// The queued run was not started and stays queued for the next start.
			if w := h.run(waiting); w.State != store.Queued {
				t.Fatalf("queued run: %s", w.State)
			}
		})
	}
}

// startGroup starts a process group of its own that ignores SIGTERM, with
// env added to its environment, reaped in the background.
func startGroup(tb testing.TB, env ...string) *exec.Cmd {
	tb.Helper()
	c := exec.Command("/bin/sh", "-c", "trap '' TERM; sleep 60 & wait")
	c.Env = append(os.Environ(), env...)
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	tb.Cleanup(func() {
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		<-done
	})
	return c
}

// groupGone reports whether process group pgid has no live member.
func groupGone(pgid int) bool {
	names, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+2:]))
		if len(f) > 2 && f[2] == strconv.Itoa(pgid) && f[0] != "Z" && f[0] != "X" {
			return false
		}
	}
	return true
}

func TestScheduler_Start(t *testing.T) {
	for _, tc := range []struct {
		name        string
		retry       bool
		wantState   store.State
		wantAttempt int
	}{
		{name: "RunningBecomesInterrupted", wantState: store.Interrupted},
		{name: "RetryInterruptedRunsItAgain", retry: true, wantState: store.Succeeded, wantAttempt: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := filepath.Join(t.TempDir(), "events")
			spec := scriptSpec(ev, "0", pipeline.PolicyQueue, 0)
			spec.RetryInterrupted = tc.retry
			spec.Command.KillGrace = 200 * time.Millisecond
			h := newHarness(t, 4, map[string]*pipeline.Spec{"t": spec})
			ctx := context.Background()

			// What a crashed process left: a run recorded running whose
			// build's descendants still live, a second run recorded running
			// beside an unrelated process group that carries another run id,
			// and a queued run.
			crashed := h.record("t", "g")
			foreign := h.record("t", "g2")
			queued := h.record("t", "g")
			leftover := startGroup(t, "HOOKTRIGGER_RUN_ID="+crashed.ID)
			unrelated := startGroup(t, "HOOKTRIGGER_RUN_ID=someone-else")
			for _, c := range []struct {
				r   *store.Run
				pid int
			}{{crashed, leftover.Process.Pid}, {foreign, unrelated.Process.Pid}} {
				c.r.State, c.r.StartedAt = store.Running, time.Now()
				if _, err := h.db.UpdateRun(ctx, c.r); err != nil {
					t.Fatal(err)
				}
			}

			if err := h.sched.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if !groupGone(leftover.Process.Pid) {
				t.Fatal("the crashed run's process group survived Start")
			}
			if groupGone(unrelated.Process.Pid) {
				t.Fatal("Start killed a process group that does not carry the run's id")
			}
			runs := h.wait(crashed.ID, queued.ID)
			if r := runs[0]; r.State != tc.wantState || r.Attempt != tc.wantAttempt {
				t.Fatalf("crashed run: %s attempt %d (%s)", r.State, r.Attempt, r.Error)
			}
			if r := runs[1]; r.State != store.Succeeded {
				t.Fatalf("queued run: %s (%s)", r.State, r.Error)
			}
			if got := h.statesOf(crashed.ID); got[0] != store.Interrupted {
				t.Fatalf("state changes of the crashed run: %v", got)
			}
			want := []string{queued.ID}
			if tc.retry { // the older run goes first: FIFO in its group
				want = []string{crashed.ID, queued.ID}
			}
			var got []string
			for _, id := range startOrder(readEvents(t, ev)) {
				if id != foreign.ID {
					got = append(got, id)
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("started %v in group g, want %v", got, want)
			}
		})
	}
}

// benchWorkers is the instance's workers in the throughput benchmark, and
// the parallelism of the bare loop it is compared with.
const benchWorkers = 16

// spawnTrue16 runs /bin/true n times, benchWorkers at once, with nothing
// but os/exec, and returns the runs per second.
func spawnTrue16(tb testing.TB, n int) float64 {
	var next sync.WaitGroup
	jobs := make(chan struct{}, n)
	for range n {
		jobs <- struct{}{}
	}
	close(jobs)
	begun := time.Now()
	for range benchWorkers {
		next.Add(1)
		go func() {
			defer next.Done()
			for range jobs {
				if err := exec.Command("/bin/true").Run(); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	next.Wait()
	return float64(n) / time.Since(begun).Seconds()
}

// BenchmarkBareTrue16 is the floor: a Go loop spawning /bin/true,
// benchWorkers at once.
func BenchmarkBareTrue16(b *testing.B) {
	b.ReportMetric(spawnTrue16(b, b.N), "runs/s")
}

// BenchmarkSchedulerTrue16 runs /bin/true through the scheduler with
// workers: 16 over a real SQLite store: each run is recorded queued (before
// the clock starts), enqueued, recorded running, executed with its run
// directory, payload and log, and recorded ended. 16 feeders each enqueue
// a run and wait for its end, so the workers stay busy and the queue
// short. It reports runs/s, the same figure for a bare loop spawning
// /bin/true 16 at once (bare-runs/s, measured with the clock stopped), their
// ratio, and the latency from Enqueue to the child started (p50/p99).
func BenchmarkSchedulerTrue16(b *testing.B) {
	spec := &pipeline.Spec{Command: &pipeline.Command{Argv: []string{"/bin/true"}}, Policy: pipeline.PolicyParallel}
	h := newHarness(b, benchWorkers, map[string]*pipeline.Spec{"t": spec})
	var mu sync.Mutex
	done := map[string]chan *store.Run{}
	h.sched.OnChange = func(r *store.Run) {
		if !r.State.Final() {
			return
		}
		mu.Lock()
		c := done[r.ID]
		mu.Unlock()
		c <- r
	}

	// Record the runs beforehand, 500 per delivery.
	runs := make(chan *store.Run, b.N)
	for i := 0; i < b.N; i += 500 {
		d := &store.Delivery{ID: store.NewID(), Path: "/hooks/t", ReceivedAt: time.Now(), Body: []byte(`{"ref":"refs/heads/main"}`)}
		var batch []*store.Run
		for j := i; j < min(b.N, i+500); j++ {
			r := &store.Run{ID: store.NewID(), DeliveryID: d.ID, Trigger: "t", State: store.Queued, CreatedAt: time.Now(),
				Vars: map[string]string{"ref": "main", "sha": "0123456789abcdef0123456789abcdef01234567"}}
			r.Meta = map[string]string{"HOOKTRIGGER_RUN_ID": r.ID, "HOOKTRIGGER_TRIGGER": "t"}
			batch = append(batch, r)
			done[r.ID] = make(chan *store.Run, 1)
			runs <- r
		}
		if _, err := h.db.Record(context.Background(), d, batch); err != nil {
			b.Fatal(err)
		}
	}
	close(runs)
	latencies := make([]time.Duration, 0, b.N)
	var latMu sync.Mutex

	b.ResetTimer()
	begun := time.Now()
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range runs {
				mu.Lock()
				c := done[r.ID]
				mu.Unlock()
				t0 := time.Now()
				h.sched.Enqueue([]*store.Run{r}, []byte(`{"ref":"refs/heads/main"}`))
				end := <-c
				if end.State != store.Succeeded {
					b.Errorf("run %s: %s (%s)", end.ID, end.State, end.Error)
					return
				}
				latMu.Lock()
				latencies = append(latencies, end.StartedAt.Sub(t0))
				latMu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(begun)
	b.StopTimer()

	rate := float64(b.N) / elapsed.Seconds()
	bare := spawnTrue16(b, b.N)
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		if len(latencies) == 0 {
			return 0
		}
		return float64(latencies[min(len(latencies)-1, int(p*float64(len(latencies))))].Microseconds()) / 1000
	}
	b.ReportMetric(rate, "runs/s")
	b.ReportMetric(bare, "bare-runs/s")
	b.ReportMetric(rate/bare, "ratio")
	b.ReportMetric(pct(0.50), "p50-start-ms")
	b.ReportMetric(pct(0.99), "p99-start-ms")
}

// TestScheduler_RetryWorkerAccounting: a retry gives its worker back for
// its delay and waits for one after it; cancelled while waiting, it leaves
// the count of taken workers as it was, so later runs still start.
func TestScheduler_RetryWorkerAccounting(t *testing.T) {
	ev := filepath.Join(t.TempDir(), "events")
	flaky := &pipeline.Spec{
		Command: &pipeline.Command{Script: `echo "start $HOOKTRIGGER_RUN_ID" >> "$EV"; exit 1`, Env: map[string]string{"EV": ev}},
		Policy:  pipeline.PolicyParallel,
		Retry:   pipeline.Retry{Max: 3, Delay: 100 * time.Millisecond, Failed: true},
	}
	h := newHarness(t, 1, map[string]*pipeline.Spec{"flaky": flaky, "slow": scriptSpec(ev, "1", pipeline.PolicyParallel, 0)})
	a := h.enqueue("flaky", "")
	waitEvent(t, ev, "start "+a)
	slow := h.enqueue("slow", "") // takes the worker during a's delay
	waitEvent(t, ev, "start "+slow)
	time.Sleep(300 * time.Millisecond) // a's delay is over: it waits for the worker
	if q, r := h.sched.Stats(); r != 1 || q != 0 {
		t.Fatalf("queued %d, running %d; want slow alone on the worker", q, r)
	}
	if ok, err := h.sched.Cancel(context.Background(), a, "test"); err != nil || !ok {
		t.Fatalf("cancel a waiting for its worker: %v %v", ok, err)
	}
	if r := h.wait(a)[0]; r.State != store.Cancelled || r.Attempt != 1 {
		t.Fatalf("a: %s attempt %d (%s)", r.State, r.Attempt, r.Error)
	}
	h.wait(slow)
	after := h.enqueue("slow", "")
	if r := h.wait(after)[0]; r.State != store.Succeeded {
		t.Fatalf("a run after the cancelled retry: %s (%s)", r.State, r.Error)
	}
	if q, r := h.sched.Stats(); q != 0 || r != 0 {
		t.Fatalf("at rest: queued %d, running %d", q, r)
	}
}

// The update that records a run's end marks its notifications owed when
// OwesNotify says it has some, so that a crash before the sender takes
// them loses nothing.
func TestScheduler_EndMarksNotificationsOwed(t *testing.T) {
	h := newHarness(t, 2, map[string]*pipeline.Spec{
		"ok":  {Command: &pipeline.Command{Argv: []string{"/bin/true"}}},
		"bad": {Command: &pipeline.Command{Argv: []string{"/bin/false"}}},
	})
	h.sched.Instance = "instance-1"
	h.sched.OwesNotify = func(r *store.Run) bool { return r.State == store.Failed }
	ok, bad := h.enqueue("ok", ""), h.enqueue("bad", "")
	h.wait(ok, bad)
	took, err := h.db.TakeNotifyPending(context.Background(), "instance-2")
	if err != nil {
		t.Fatal(err)
	}
	if len(took) != 1 || took[0].ID != bad {
		t.Fatalf("owed after the ends: %v, want only the failed run %s", took, bad)
	}
}
