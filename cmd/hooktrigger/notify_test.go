package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
)

// notifySecret signs the JSON notifications of TestServe_Notify; notifyKey
// is its key.
const notifySecret = "whsec_bm90aWZ5LXRlc3Qta2V5LTAxMjM0NTY3ODk="

var notifyKey, _ = providers.DecodeStandardSecret(notifySecret)

// received is one request a notify endpoint got.
type received struct {
	path string
	body map[string]any
}

// TestServe_Notify: a trigger's notify list is told how its runs ended, in
// Slack's shape or as JSON, for the states it names; a failed post is tried
// again; an endpoint's URL, which may hold a token, stays out of the log.
func TestServe_Notify(t *testing.T) {
	var (
		mu       sync.Mutex
		got      []received
		refusals = map[string]int{}
		jsonIDs  []string
	)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s with Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		if r.URL.Path == "/gone" {
			http.NotFound(w, r)
			return
		}
		// The JSON endpoint is down for its first request.
		if r.URL.Path == "/json" && refusals[r.URL.Path] == 0 {
			jsonIDs = append(jsonIDs, r.Header.Get("Webhook-Id"))
			refusals[r.URL.Path]++
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/json" {
			// Signed as Standard Webhooks do, with one id for every try.
			if err := providers.VerifyStandardWebhook([][]byte{notifyKey}, r.Header, b, time.Now(), time.Minute); err != nil {
				t.Errorf("the JSON post does not verify: %v", err)
			}
			jsonIDs = append(jsonIDs, r.Header.Get("Webhook-Id"))
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("%s: not JSON: %s", r.URL.Path, b)
		}
		got = append(got, received{r.URL.Path, m})
	}))
	defer sink.Close()

	cfg := filepath.Join(t.TempDir(), "hooktrigger.yaml")
	writeFile(t, cfg, fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
public_url: https://ci.example.org
triggers:
  - name: deploy
    provider: github
    secret: gh
    run:
      script: 'echo one; echo "two <b>"; echo three; exit 2'
    notify:
      - {url: '%[1]s/slack?token=room-token', format: slack, log_lines: 2}
      - {url: '%[1]s/json', on: [failed, succeeded], secret: '%[2]s'}
      - {url: '%[1]s/gone?token=never-logged'}
  - name: fine
    provider: github
    secret: gh
    run:
      command: ['true']
    notify:
      - {url: '%[1]s/slack?token=room-token', format: slack}
`, sink.URL, notifySecret))
	p := MustServe(t, cfg)
	push := func(trigger, delivery string) string {
		body := []byte(`{"ref":"refs/heads/main","after":"4f2b1c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b","repository":{"full_name":"acme/app"},"sender":{"login":"alice"}}`)
		mac := hmacHex("gh", body)
		r := Do(t, "POST", p.URL+"/hooks/"+trigger, body, map[string]string{
			"Content-Type": "application/json", "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": "sha256=" + mac,
		})
		if r.Status != http.StatusAccepted {
			t.Fatalf("push to %s: %d %s", trigger, r.Status, r.Body)
		}
		return r.JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	}
	fine := push("fine", "d-fine")
	WaitRun(t, p.URL, "api-secret", fine)
	deploy := push("deploy", "d-deploy")
	WaitRun(t, p.URL, "api-secret", deploy)

	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 2 notifications within 15s, got %d: %+v", n, got)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // room for one that should not come
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 {
		t.Fatalf("want 2 notifications (the fine run's success is not asked for), got %d: %+v", len(got), got)
	}
	for _, g := range got {
		switch g.path {
		case "/slack":
			want := fmt.Sprintf("hooktrigger: run <https://ci.example.org/ui/runs/%[1]s|%[1]s> of *deploy* failed (exit status 2)", deploy)
			text, _ := g.body["text"].(string)
			if !strings.HasPrefix(text, want) || !strings.Contains(text, "— acme/app main 4f2b1c9 by alice") ||
				!strings.HasSuffix(text, "\n```\ntwo &lt;b&gt;\nthree\n```") {
				t.Errorf("slack text: %q, want it to start %q, name the push and end with the log's last 2 lines", text, want)
			}
		case "/json":
			b := g.body
			if b["run_id"] != deploy || b["trigger"] != "deploy" || b["state"] != "failed" || b["exit_code"] != float64(2) ||
				b["repo"] != "acme/app" || b["branch"] != "main" || b["actor"] != "alice" || b["attempts"] != float64(1) ||
				b["url"] != "https://ci.example.org/ui/runs/"+deploy || b["delivery"] == nil || b["log_tail"] != nil {
				t.Errorf("json body: %v", b)
			}
			if refusals["/json"] != 1 {
				t.Errorf("the JSON endpoint refused %d times, want once before it took it", refusals["/json"])
			}
			if len(jsonIDs) != 2 || jsonIDs[0] == "" || jsonIDs[0] != jsonIDs[1] {
				t.Errorf("Webhook-Id of the two tries: %q, want one id", jsonIDs)
			}
		default:
			t.Errorf("unexpected notification to %s: %v", g.path, g.body)
		}
	}
	waitLog(t, p, "notification not delivered")
	if logs := p.Logs(); strings.Contains(logs, "never-logged") || strings.Contains(logs, "room-token") {
		t.Errorf("an endpoint's token is in the log:\n%s", logs)
	}
	metrics := string(Do(t, "GET", p.URL+"/metrics", nil, nil).Body)
	for _, want := range []string{`hooktrigger_notifications_total{result="sent"} 2`, `hooktrigger_notifications_total{result="failed"} 1`, `hooktrigger_notifications_total{result="dropped"} 0`} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// waitLog waits up to 15s for the process to log text.
func waitLog(t *testing.T, p *Proc, text string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(p.Logs(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the log never said %q:\n%s", text, p.Logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// refusingSink is a notify endpoint that answers 503 until accept is
// called, then 204, and records each post as "RUN WEBHOOK-ID STATUS".
type refusingSink struct {
	*httptest.Server
	mu        sync.Mutex
	accepting bool
	posts     []string
}

func newRefusingSink(t *testing.T) *refusingSink {
	s := &refusingSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if err := providers.VerifyStandardWebhook([][]byte{notifyKey}, r.Header, b, time.Now(), time.Minute); err != nil {
			t.Errorf("the post does not verify: %v", err)
		}
		var m struct {
			RunID string `json:"run_id"`
		}
		_ = json.Unmarshal(b, &m)
		s.mu.Lock()
		defer s.mu.Unlock()
		status := http.StatusServiceUnavailable
		if s.accepting {
			status = http.StatusNoContent
		}
		s.posts = append(s.posts, fmt.Sprintf("%s %s %d", m.RunID, r.Header.Get("Webhook-Id"), status))
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *refusingSink) accept() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accepting = true
}

func (s *refusingSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.posts)
}

// wait waits up to within for n posts and returns them.
func (s *refusingSink) wait(t *testing.T, n int, within time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(within)
	for len(s.got()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("want %d posts within %s, got %v", n, within, s.got())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s.got()
}

// failingDeploy is a config whose trigger deploy fails and notifies sink;
// top adds settings (such as database:).
func failingDeploy(t *testing.T, sink *refusingSink, top string) string {
	cfg := filepath.Join(t.TempDir(), "hooktrigger.yaml")
	writeFile(t, cfg, fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
%striggers:
  - name: deploy
    secret: tok
    run:
      command: ['false']
    notify:
      - {url: '%s/hook', secret: '%s'}
`, top, sink.URL, notifySecret))
	return cfg
}

// failDeploy delivers to p's deploy trigger, waits for the run to end and
// returns its id and the instance that ran it.
func failDeploy(t *testing.T, p *Proc) (run, instance string) {
	t.Helper()
	r := Do(t, "POST", p.URL+"/hooks/deploy", []byte(`{}`), map[string]string{"Authorization": "Bearer tok", "Content-Type": "application/json"})
	if r.Status != http.StatusAccepted {
		t.Fatalf("delivery: %d %s", r.Status, r.Body)
	}
	run = r.JSON(t)["runs"].([]any)[0].(map[string]any)["id"].(string)
	instance, _ = WaitRun(t, p.URL, "api-secret", run)["instance"].(string)
	return run, instance
}

// TestServe_NotifyAfterCrash: a notification owed when the server is
// SIGKILLed (its endpoint was refusing it) is sent by the next start, with
// the same Webhook-Id; a notification sent once is not sent again by the
// start after that.
func TestServe_NotifyAfterCrash(t *testing.T) {
	sink := newRefusingSink(t)
	cfg := failingDeploy(t, sink, "")
	p := MustServe(t, cfg)
	run, _ := failDeploy(t, p)
	sink.wait(t, 1, 15*time.Second) // refused; the next try is a second away
	p.Kill()

	sink.accept()
	p = MustServe(t, cfg)
	posts := sink.wait(t, 2, 15*time.Second)
	id := "msg_" + run + "_0"
	if want := []string{run + " " + id + " 503", run + " " + id + " 204"}; !slices.Equal(posts, want) {
		t.Errorf("posts %q, want %q: refused, then sent again by the next start with the same id", posts, want)
	}
	if !strings.Contains(p.Logs(), "notifications left unsent by an instance that stopped are sent again") {
		t.Errorf("the restart does not say it sent owed notifications:\n%s", p.Logs())
	}
	// Once sent, it is settled: the next start sends nothing.
	time.Sleep(200 * time.Millisecond)
	p.Stop(t)
	p = MustServe(t, cfg)
	time.Sleep(500 * time.Millisecond)
	if got := sink.got(); len(got) != 2 {
		t.Errorf("a start after the notification was sent posted again: %v", got)
	}
	p.Stop(t)
}
