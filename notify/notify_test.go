package notify_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
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
	if err := n.Notify(failedRun()); err != nil {
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
	if err := n.Notify(failedRun()); err != notify.ErrClosed {
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
	_ = n.Notify(failedRun())
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
