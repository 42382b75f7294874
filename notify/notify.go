// Package notify tells HTTP endpoints how runs ended: a chat room's incoming
// webhook (Slack, and the services that take Slack's {"text": …} body, such
// as Mattermost) or any service that takes JSON.
//
// Sending never blocks a run: Notify queues, a few senders post, and a
// refused or failed post is tried again with a growing delay. A sender
// records a run's notifications as owed (Notifier.Pending) before its first
// post and as settled after its last, so that those a crash, or a stop
// whose grace ran out, left unsent can be sent at the next start. Endpoint
// URLs often carry a token (Slack's do), so logs name only their host.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// Formats of a notification's body.
const (
	FormatJSON  = "json"  // the run's end as a JSON object (see Message)
	FormatSlack = "slack" // {"text": "…"}: one line for people
)

// DefaultOn are the states notified when a target names none.
var DefaultOn = []store.State{store.Failed, store.TimedOut}

// wants reports whether target t is told of a run that ended in s.
func wants(t *trigger.NotifySpec, s store.State) bool {
	on := t.On
	if len(on) == 0 {
		on = DefaultOn
	}
	for _, x := range on {
		if x == s {
			return true
		}
	}
	return false
}

// Message is the JSON body of a notification in FormatJSON.
type Message struct {
	RunID    string      `json:"run_id"`
	Trigger  string      `json:"trigger"`
	State    store.State `json:"state"`
	ExitCode *int        `json:"exit_code"`
	Signal   string      `json:"signal,omitempty"`
	Error    string      `json:"error,omitempty"`
	Attempts int         `json:"attempts"`
	Started  *time.Time  `json:"started_at"`
	Ended    time.Time   `json:"ended_at"`
	Seconds  float64     `json:"duration_seconds"`
	URL      string      `json:"url,omitempty"`
	Delivery string      `json:"delivery"`
	Event    string      `json:"event,omitempty"`
	Action   string      `json:"action,omitempty"`
	Repo     string      `json:"repo,omitempty"`
	Branch   string      `json:"branch,omitempty"`
	Tag      string      `json:"tag,omitempty"`
	SHA      string      `json:"sha,omitempty"`
	Actor    string      `json:"actor,omitempty"`
	PR       string      `json:"pr,omitempty"`
	LogTail  string      `json:"log_tail,omitempty"` // the log's last lines, when the target asks for them
}

// NewMessage describes the end of run r; url links to it ("" for none).
func NewMessage(r *store.Run, url string) Message {
	m := Message{
		RunID: r.ID, Trigger: r.Trigger, State: r.State, ExitCode: r.ExitCode, Signal: r.Signal,
		Error: r.Error, Attempts: r.Attempt + 1, Ended: r.EndedAt, URL: url, Delivery: r.DeliveryID,
		Event: r.Meta["HOOKTRIGGER_EVENT"], Action: r.Meta["HOOKTRIGGER_ACTION"], Repo: r.Meta["HOOKTRIGGER_REPO"],
		Branch: r.Meta["HOOKTRIGGER_BRANCH"], Tag: r.Meta["HOOKTRIGGER_TAG"], SHA: r.Meta["HOOKTRIGGER_SHA"],
		Actor: r.Meta["HOOKTRIGGER_ACTOR"], PR: r.Meta["HOOKTRIGGER_PR"],
	}
	if !r.StartedAt.IsZero() {
		started := r.StartedAt
		m.Started = &started
		if !r.EndedAt.IsZero() {
			m.Seconds = r.EndedAt.Sub(r.StartedAt).Round(time.Millisecond).Seconds()
		}
	}
	return m
}

// Text is the message in one line for people, in Slack's markup.
func (m Message) Text() string {
	var b strings.Builder
	b.WriteString("hooktrigger: run ")
	if m.URL != "" {
		fmt.Fprintf(&b, "<%s|%s>", slackEscape(m.URL), m.RunID)
	} else {
		b.WriteString(m.RunID)
	}
	fmt.Fprintf(&b, " of *%s* %s", slackEscape(m.Trigger), strings.ReplaceAll(string(m.State), "_", " "))
	var why []string
	if m.ExitCode != nil && *m.ExitCode != 0 {
		why = append(why, fmt.Sprintf("exit status %d", *m.ExitCode))
	}
	if m.Signal != "" {
		why = append(why, m.Signal)
	}
	if m.Attempts > 1 {
		why = append(why, fmt.Sprintf("%d attempts", m.Attempts))
	}
	if len(why) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(why, ", "))
	}
	if m.Started != nil && m.Seconds > 0 {
		fmt.Fprintf(&b, " after %s", time.Duration(m.Seconds*float64(time.Second)).Round(time.Second/10))
	}
	var what []string
	for _, s := range []string{m.Repo, m.Branch, m.Tag} {
		if s != "" {
			what = append(what, s)
		}
	}
	if m.PR != "" {
		what = append(what, "#"+m.PR)
	}
	if len(m.SHA) >= 7 {
		what = append(what, m.SHA[:7])
	}
	if len(what) > 0 {
		b.WriteString(" — " + slackEscape(strings.Join(what, " ")))
	}
	if m.Actor != "" {
		b.WriteString(" by " + slackEscape(m.Actor))
	}
	if m.Error != "" && m.State != store.Succeeded {
		e := m.Error
		if len(e) > 300 {
			e = e[:300] + "…"
		}
		b.WriteString(": " + slackEscape(e))
	}
	if m.LogTail != "" {
		b.WriteString("\n```\n" + slackEscape(m.LogTail) + "\n```")
	}
	return b.String()
}

// slackEscape escapes the three characters Slack's markup reserves, and
// turns a code fence into quotes so that no text opens or ends a block.
func slackEscape(s string) string {
	return slackReplacer.Replace(s)
}

var slackReplacer = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "```", "'''")

// Body is what a post in format (FormatJSON or FormatSlack) carries for m.
func Body(format string, m Message) ([]byte, error) {
	if format == FormatSlack {
		return json.Marshal(map[string]string{"text": m.Text()})
	}
	return json.Marshal(m)
}

// Defaults of a Notifier.
const (
	DefaultAttempts = 5
	DefaultBackoff  = time.Second
	DefaultQueue    = 1000
	senders         = 2
)

// Notifier posts the ends of runs to their trigger's targets. Set the
// fields, then Start; Close at shutdown.
type Notifier struct {
	// Lookup returns the targets of a trigger (nil: none), from the config
	// in force.
	Lookup func(trigger string) []trigger.NotifySpec
	// RunURL returns an absolute link to a run, or "".
	RunURL func(id string) string
	// LogTail returns the last lines of a run's log ("" when it has none
	// here); nil: notifications carry no log.
	LogTail func(id string, lines int) string
	// Pending, when set, is told that the notifications of a run are owed
	// (true), before the first of them is posted, and settled (false) once
	// each was taken, refused for good or out of attempts: not when a stop
	// cut one short. It is called by the senders, never by Notify.
	Pending func(run string, owed bool)
	Client  *http.Client // nil: one with a 10s timeout
	Log     *slog.Logger

	Attempts int           // posts per notification at most; 0: DefaultAttempts
	Backoff  time.Duration // wait after the first failed post, doubling; 0: DefaultBackoff
	Queue    int           // notifications waiting at most; 0: DefaultQueue

	sent, failed, dropped atomic.Uint64

	mu      sync.Mutex
	closing bool
	queue   chan job
	stop    context.Context // ends the waits between tries once Close's grace is over
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// job is the posts of one run's end.
type job struct {
	run   string
	owed  bool // the record of the run's end already marks the posts owed
	posts []post
}

type post struct {
	t    *trigger.NotifySpec
	body []byte
	run  string
	id   string // Webhook-Id: the same for every try, so a receiver can drop repeats
}

// Errors of Notify.
var (
	ErrClosed    = errors.New("notify: closed")
	ErrQueueFull = errors.New("notify: too many notifications waiting")
)

// Start starts the senders.
func (n *Notifier) Start() {
	if n.Client == nil {
		n.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if n.Log == nil {
		n.Log = slog.New(slog.DiscardHandler)
	}
	if n.Attempts <= 0 {
		n.Attempts = DefaultAttempts
	}
	if n.Backoff <= 0 {
		n.Backoff = DefaultBackoff
	}
	if n.Queue <= 0 {
		n.Queue = DefaultQueue
	}
	n.queue = make(chan job, n.Queue)
	n.stop, n.cancel = context.WithCancel(context.Background())
	for range senders {
		n.wg.Add(1)
		go n.send()
	}
}

// Owes reports whether a run that ended as r has notifications to send:
// some target of its trigger asks for its state.
func (n *Notifier) Owes(r *store.Run) bool {
	if r == nil || !r.State.Final() || n.Lookup == nil {
		return false
	}
	targets := n.Lookup(r.Trigger)
	for i := range targets {
		if wants(&targets[i], r.State) {
			return true
		}
	}
	return false
}

// Notify queues the notifications of run r, if it has ended in a state
// one of its trigger's targets asks for, and returns how many it queued.
// It never blocks: when the queue is full the notifications are dropped
// with a warning, and the error is ErrQueueFull.
func (n *Notifier) Notify(r *store.Run) (int, error) {
	if r == nil || !r.State.Final() || n.Lookup == nil {
		return 0, nil
	}
	targets := n.Lookup(r.Trigger)
	if len(targets) == 0 {
		return 0, nil
	}
	var link string
	if n.RunURL != nil {
		link = n.RunURL(r.ID)
	}
	m := NewMessage(r, link)
	// The bodies are made before the lock: a log tail is a file read.
	var posts []post
	for i := range targets {
		t := &targets[i]
		if !wants(t, r.State) {
			continue
		}
		m := m
		if t.LogLines > 0 && n.LogTail != nil {
			m.LogTail = n.LogTail(r.ID, t.LogLines)
		}
		body, err := Body(t.Format, m)
		if err != nil {
			return 0, err
		}
		posts = append(posts, post{t: t, body: body, run: r.ID, id: "msg_" + r.ID + "_" + strconv.Itoa(i)})
	}
	if len(posts) == 0 {
		return 0, nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing {
		return 0, ErrClosed
	}
	select {
	case n.queue <- job{run: r.ID, owed: r.NotifyPending != "", posts: posts}:
		return len(posts), nil
	default:
		n.dropped.Add(uint64(len(posts)))
		n.Log.Warn("notifications dropped: too many waiting", "run", r.ID, "count", len(posts))
		return 0, ErrQueueFull
	}
}

func (n *Notifier) send() {
	defer n.wg.Done()
	for j := range n.queue {
		n.handle(j)
	}
}

// handle posts the notifications of one run's end, at once, between the
// records that they are owed and settled.
func (n *Notifier) handle(j job) {
	if n.Pending != nil && !j.owed {
		n.Pending(j.run, true)
	}
	var wg sync.WaitGroup
	var cut atomic.Bool
	for _, p := range j.posts {
		wg.Go(func() {
			if !n.deliver(p) {
				cut.Store(true)
			}
		})
	}
	wg.Wait()
	if n.Pending != nil && !cut.Load() {
		n.Pending(j.run, false)
	}
}

// deliver posts p until the endpoint takes it, it refuses it for good, or
// the attempts run out (settled is true), or Close's grace ends (false).
func (n *Notifier) deliver(p post) (settled bool) {
	wait := n.Backoff
	for attempt := 1; ; attempt++ {
		again, err := n.try(p)
		if err == nil {
			n.sent.Add(1)
			return true
		}
		if n.stop.Err() != nil {
			break
		}
		if !again || attempt >= n.Attempts {
			n.failed.Add(1)
			n.Log.Warn("notification not delivered", "run", p.run, "to", Host(p.t.URL), "attempts", attempt, "err", err)
			return true
		}
		select {
		case <-time.After(wait):
			wait *= 2
			continue
		case <-n.stop.Done():
		}
		break
	}
	n.failed.Add(1)
	n.Log.Warn("notification not delivered before the stop; it is sent again at the next start", "run", p.run, "to", Host(p.t.URL))
	return false
}

// try posts p once. again says whether another try may succeed.
func (n *Notifier) try(p post) (again bool, err error) {
	req, err := http.NewRequestWithContext(n.stop, http.MethodPost, p.t.URL, bytes.NewReader(p.body))
	if err != nil {
		return false, errors.New("bad URL")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hooktrigger")
	if p.t.Key != nil {
		now := time.Now()
		req.Header.Set(providers.HeaderWebhookID, p.id)
		req.Header.Set(providers.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(providers.HeaderWebhookSignature, providers.SignStandardWebhook(p.t.Key, p.id, now, p.body))
	}
	resp, err := n.Client.Do(req)
	if err != nil {
		// The error text holds the URL, token and all: name the host only.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return true, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode/100 == 2:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode/100 == 5:
		return true, fmt.Errorf("answered %s", resp.Status)
	default:
		return false, fmt.Errorf("answered %s", resp.Status)
	}
}

// Close stops taking notifications and waits, until ctx ends, for the
// queued ones to be sent. What remains is not posted, but still recorded
// as owed (Pending) so that the next start sends it.
func (n *Notifier) Close(ctx context.Context) {
	n.mu.Lock()
	if n.closing || n.queue == nil {
		n.mu.Unlock()
		return
	}
	n.closing = true
	close(n.queue)
	n.mu.Unlock()
	done := make(chan struct{})
	go func() { n.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		n.cancel()
		<-done
	}
	n.cancel()
}

// Sent counts notifications an endpoint took (a 2xx answer).
func (n *Notifier) Sent() uint64 { return n.sent.Load() }

// Failed counts notifications given up: refused, out of attempts, or cut
// by the stop.
func (n *Notifier) Failed() uint64 { return n.failed.Load() }

// Dropped counts notifications left out because the queue was full.
func (n *Notifier) Dropped() uint64 { return n.dropped.Load() }

// Host is what logs say of an endpoint: its host, never its path or query,
// which may hold a token.
func Host(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}
