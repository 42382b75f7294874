package notify_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/notify"
	"github.com/hooktrigger/hooktrigger/store"
)

// FuzzMessage: whatever a delivery or a build put in a run's fields and
// log, the Slack line carries no markup of its own (no <…> link or mention
// but the run's link, one code block for the log) and both bodies are
// valid JSON.
func FuzzMessage(f *testing.F) {
	f.Add("deploy", "main", "alice", "exit <1> & <!channel>", "4f2b1c9d8e7f", "")
	f.Add("a<b", "<https://evil|click>", "<@U123>", "", "", "npm ERR! ```<!here>```")
	f.Add("x", "```", "a", "```boom```", "", "log")
	f.Fuzz(func(t *testing.T, trigger, branch, actor, errText, sha, logTail string) {
		code := 1
		r := &store.Run{ID: "01run", Trigger: trigger, State: store.Failed, ExitCode: &code, Error: errText,
			Meta: map[string]string{"HOOKTRIGGER_BRANCH": branch, "HOOKTRIGGER_ACTOR": actor, "HOOKTRIGGER_SHA": sha}}
		m := notify.NewMessage(r, "")
		m.LogTail = logTail
		text := m.Text()
		if strings.ContainsAny(text, "<>") {
			t.Fatalf("markup in %q", text)
		}
		fences := 0
		if logTail != "" {
			fences = 2
		}
		if n := strings.Count(text, "```"); n != fences {
			t.Fatalf("%d code fences in %q, want %d", n, text, fences)
		}
		for _, format := range []string{notify.FormatJSON, notify.FormatSlack} {
			b, err := notify.Body(format, m)
			if err != nil || !json.Valid(b) {
				t.Fatalf("%s body %q: %v", format, b, err)
			}
		}
	})
}
