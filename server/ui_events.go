package server

// Live updates for the UI, as Server-Sent Events: /ui/events tells pages
// that a delivery was recorded or a run changed state; /ui/runs/{id}/log
// streams a run's log as it is written.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

// liveEvent is one notification to the pages. It carries ids and states
// only, never payload data: pages fetch what they show.
type liveEvent struct {
	Kind     string `json:"kind"` // "delivery" or "run"
	ID       string `json:"id"`
	State    string `json:"state,omitempty"`
	Trigger  string `json:"trigger,omitempty"`
	Delivery string `json:"delivery,omitempty"`
}

// broker fans events out to the connected pages. A slow page loses events
// rather than slowing the server: it refreshes on the next one anyway.
type broker struct {
	mu   sync.Mutex
	subs map[chan liveEvent]struct{}
}

func newBroker() *broker { return &broker{subs: map[chan liveEvent]struct{}{}} }

func (b *broker) subscribe() chan liveEvent {
	c := make(chan liveEvent, 64)
	b.mu.Lock()
	b.subs[c] = struct{}{}
	b.mu.Unlock()
	return c
}

func (b *broker) unsubscribe(c chan liveEvent) {
	b.mu.Lock()
	delete(b.subs, c)
	b.mu.Unlock()
}

func (b *broker) publish(e liveEvent) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.subs {
		select {
		case c <- e:
		default:
		}
	}
}

// sseStart writes the headers of an event stream and lifts the write
// deadline for it.
func sseStart(w http.ResponseWriter) (http.Flusher, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return nil, false
	}
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return f, true
}

// writeSSE writes one event; data may hold several lines.
func writeSSE(w io.Writer, event, id, data string) error {
	var b strings.Builder
	if id != "" {
		b.WriteString("id: " + id + "\n")
	}
	b.WriteString("event: " + event + "\n")
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: " + line + "\n")
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// liveEvents streams liveEvent notifications to a page.
func (s *Server) liveEvents(w http.ResponseWriter, r *http.Request, _ *session) {
	events := s.ui().events
	c := events.subscribe()
	defer events.unsubscribe(c)
	flusher, ok := sseStart(w)
	if !ok {
		return
	}
	_, _ = io.WriteString(w, "retry: 2000\n\n")
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			if _, err := io.WriteString(w, ": keepalive\n\n"); err != nil {
				return
			}
		case e := <-c:
			data, _ := json.Marshal(e)
			if writeSSE(w, "change", "", string(data)) != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// runLogEvents streams a run's log as "log" events of whole lines, each
// event's id being the byte offset after it, so that a reconnecting
// EventSource (Last-Event-ID) resumes where it left off. When the run has
// ended and the log is read to its end, an "end" event carries the run's
// final state, exit code and error.
func (s *Server) runLogEvents(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	run, err := s.store.Run(r.Context(), id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.Error(w, "no such run", http.StatusNotFound)
			return
		}
		s.log.Error("store error", "err", err)
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	offset, _ := strconv.ParseInt(r.Header.Get("Last-Event-ID"), 10, 64)
	if offset < 0 {
		offset = 0
	}
	flusher, ok := sseStart(w)
	if !ok {
		return
	}
	lr := s.newLogReader(run)
	defer lr.close()
	var pending []byte
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		final := run.State.Final()
		for {
			data, _, err := lr.at(r.Context(), offset+int64(len(pending)))
			if err != nil {
				_ = writeSSE(w, "failure", "", fmt.Sprintf("%q", "store unavailable"))
				return
			}
			if len(data) == 0 {
				break
			}
			pending = append(pending, data...)
		}
		// Send whole lines; the rest waits for its newline unless the run
		// has ended.
		cut := bytes.LastIndexByte(pending, '\n') + 1
		if final {
			cut = len(pending)
		}
		if cut > 0 {
			chunk := pending[:cut]
			offset += int64(cut)
			pending = append(pending[:0], pending[cut:]...)
			text := strings.TrimSuffix(string(bytes.ToValidUTF8(chunk, []byte("\uFFFD"))), "\n")
			text = strings.ReplaceAll(text, "\r", "")
			if writeSSE(w, "log", strconv.FormatInt(offset, 10), text) != nil {
				return
			}
			flusher.Flush()
		}
		if final {
			end := map[string]any{"state": run.State, "error": run.Error, "ended_at": fmtTime(run.EndedAt)}
			if run.ExitCode != nil {
				end["exit_code"] = *run.ExitCode
			}
			data, _ := json.Marshal(end)
			_ = writeSSE(w, "end", "", string(data))
			flusher.Flush()
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if run, err = s.store.Run(r.Context(), id); err != nil {
			_ = writeSSE(w, "failure", "", fmt.Sprintf("%q", "store unavailable"))
			return
		}
	}
}
