package notify_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/notify"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

func failedRun() *store.Run {
	code := 1
	now := time.Now()
	return &store.Run{ID: "01run", Trigger: "deploy", State: store.Failed, ExitCode: &code, StartedAt: now.Add(-90 * time.Second), EndedAt: now}
}

// TestNotifier_ErrorNamesHostOnly: a post that cannot connect is tried
// again, then given up with a warning that names the endpoint's host and
// not the rest of its URL, which may hold a token.
func TestNotifier_ErrorNamesHostOnly(t *testing.T) {
	var logs bytes.Buffer
	n := &notify.Notifier{
		Lookup: func(string) []trigger.NotifySpec {
			return []trigger.NotifySpec{{URL: "http://127.0.0.1:1/hook?token=s3cr3t"}}
		},
		Log:      slog.New(slog.NewTextHandler(&logs, nil)),
		Attempts: 3,
		Backoff:  10 * time.Millisecond,
	}
	n.Start()
	if _, err := n.Notify(failedRun()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.Close(ctx)
	out := logs.String()
	if !strings.Contains(out, "notification not delivered") || !strings.Contains(out, "to=127.0.0.1:1") || !strings.Contains(out, "attempts=3") {
		t.Errorf("want a warning naming the host after 3 attempts, got:\n%s", out)
	}
	if strings.Contains(out, "s3cr3t") || strings.Contains(out, "/hook") {
		t.Errorf("the log holds the URL's path or token:\n%s", out)
	}
	if _, err := n.Notify(failedRun()); err != notify.ErrClosed {
		t.Errorf("Notify after Close: %v, want ErrClosed", err)
	}
}

// TestNotifier_CloseGrace: Close waits for a post in flight only until its
// context ends.
func TestNotifier_CloseGrace(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer hang.Close()
	defer close(release)
	n := &notify.Notifier{Lookup: func(string) []trigger.NotifySpec { return []trigger.NotifySpec{{URL: hang.URL}} }}
	n.Start()
	_, _ = n.Notify(failedRun())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	n.Close(ctx)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close took %s with a 200ms grace", took)
	}
}

// TestMessage_Text: the Slack line names the run, its end and the push,
// with Slack's reserved characters escaped.
func TestMessage_Text(t *testing.T) {
	r := failedRun()
	r.Trigger = "a<b>&c"
	r.Attempt = 2
	r.Meta = map[string]string{"HOOKTRIGGER_REPO": "acme/app", "HOOKTRIGGER_BRANCH": "main", "HOOKTRIGGER_SHA": "4f2b1c9d8e7f", "HOOKTRIGGER_ACTOR": "alice"}
	r.Error = "exit <1>"
	got := notify.NewMessage(r, "https://ci.example.org/ui/runs/01run").Text()
	want := "hooktrigger: run <https://ci.example.org/ui/runs/01run|01run> of *a&lt;b&gt;&amp;c* failed (exit status 1, 3 attempts) after 1m30s — acme/app main 4f2b1c9 by alice: exit &lt;1&gt;"
	if got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// TestNotifier_Pending: a run's notifications are recorded as owed before
// they are posted and as settled once each was taken or refused for good;
// those that Close's grace cut short, posting or still queued, stay owed.
func TestNotifier_Pending(t *testing.T) {
	release := make(chan struct{})
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/gone":
			http.NotFound(w, r)
		}
	}))
	defer sink.Close()
	defer close(release)
	var mu sync.Mutex
	events := map[string][]bool{}
	n := &notify.Notifier{
		Lookup: func(name string) []trigger.NotifySpec {
			switch name {
			case "ok":
				return []trigger.NotifySpec{{URL: sink.URL + "/ok"}, {URL: sink.URL + "/gone"}}
			case "hang":
				return []trigger.NotifySpec{{URL: sink.URL + "/ok"}, {URL: sink.URL + "/hang"}}
			}
			return nil
		},
		Pending: func(run string, owed bool) {
			mu.Lock()
			defer mu.Unlock()
			events[run] = append(events[run], owed)
		},
		Backoff: 10 * time.Millisecond,
	}
	n.Start()
	run := func(id, trig string, state store.State) *store.Run {
		r := failedRun()
		r.ID, r.Trigger, r.State = id, trig, state
		return r
	}
	if q, err := n.Notify(run("settled", "ok", store.Failed)); q != 2 || err != nil {
		t.Fatalf("Notify: %d %v, want 2 posts queued", q, err)
	}
	if q, _ := n.Notify(run("unwanted", "ok", store.Succeeded)); q != 0 {
		t.Errorf("a state no target asks for queued %d posts", q)
	}
	// A run whose recorded end already marks them owed: only the
	// settlement is written.
	premarked := run("premarked", "ok", store.Failed)
	premarked.NotifyPending = "me"
	if q, err := n.Notify(premarked); q != 2 || err != nil {
		t.Fatalf("Notify: %d %v, want 2 posts queued", q, err)
	}
	for _, c := range []struct {
		r    *store.Run
		owes bool
	}{
		{run("a", "ok", store.Failed), true},
		{run("b", "ok", store.Succeeded), false}, // no target asks for it
		{run("c", "ok", store.Running), false},   // not ended
		{run("d", "none", store.Failed), false},  // no targets
	} {
		if got := n.Owes(c.r); got != c.owes {
			t.Errorf("Owes(%s %s) = %v, want %v", c.r.Trigger, c.r.State, got, c.owes)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		done := len(events["settled"]) == 2 && len(events["premarked"]) == 1
		mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Two runs hang both senders; the third waits in the queue.
	for _, id := range []string{"cut1", "cut2", "queued"} {
		if q, _ := n.Notify(run(id, "hang", store.Failed)); q != 2 {
			t.Fatalf("%s: %d posts queued", id, q)
		}
	}
	time.Sleep(100 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n.Close(ctx)
	mu.Lock()
	defer mu.Unlock()
	want := map[string][]bool{"settled": {true, false}, "premarked": {false}, "cut1": {true}, "cut2": {true}, "queued": {true}}
	if fmt.Sprint(events) != fmt.Sprint(want) {
		t.Errorf("Pending calls %v, want %v", events, want)
	}
}

// TestNotifier_QueueFull: with both senders busy and the queue full, Notify
// drops the run's notifications and says so, so that a caller resending
// owed ones can wait for room rather than settle them unsent.
func TestNotifier_QueueFull(t *testing.T) {
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	n := &notify.Notifier{Lookup: func(string) []trigger.NotifySpec { return []trigger.NotifySpec{{URL: hang.URL}} }, Queue: 1}
	n.Start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		n.Close(ctx)
	}()
	var errs []error
	for i := range 4 {
		r := failedRun()
		r.ID = fmt.Sprintf("run%d", i)
		_, err := n.Notify(r)
		errs = append(errs, err)
		time.Sleep(50 * time.Millisecond) // a sender takes the job
	}
	if errs[0] != nil || errs[1] != nil || errs[2] != nil || errs[3] != notify.ErrQueueFull || n.Dropped() != 1 {
		t.Errorf("Notify errors %v, dropped %d: want two posting, one queued, the fourth ErrQueueFull", errs, n.Dropped())
	}
}
