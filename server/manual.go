package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// RunRequest is the body of POST /api/triggers/{name}/run: a delivery
// written by hand. It goes through the trigger as one sent to its path
// would (the provider reads the headers, the variables are extracted, the
// filters decide, it is recorded and its run queued), except that the API's
// token stands for the sender's signature and no other trigger sees it.
type RunRequest struct {
	Payload *string             `json:"payload,omitempty"` // the body; default {}
	Headers map[string]StrSlice `json:"headers,omitempty"` // as the sender would send them (X-GitHub-Event …)
	Query   map[string]StrSlice `json:"query,omitempty"`
	// Event (push, pull_request) is written into the header the trigger's
	// provider reads the event from, over any given in Headers. With an
	// action (pull_request.opened) the payload must say that action too:
	// GitHub and GitLab send it in the payload.
	Event string `json:"event,omitempty"`
}

// manualHeader marks a delivery written by hand among the headers it is
// recorded with (the delivery page shows them).
const manualHeader = "X-Hooktrigger-Run-By"

// runTrigger serves POST /api/triggers/{name}/run.
func (s *Server) runTrigger(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	t, ok := cfg.Triggers.ByName(r.PathValue("name"))
	if !ok {
		writeError(w, http.StatusNotFound, "no trigger named "+r.PathValue("name"))
		return
	}
	received := time.Now()
	var req RunRequest
	if !s.decodeRequest(w, r, "run", &req) {
		return
	}
	body := []byte("{}")
	if req.Payload != nil {
		body = []byte(*req.Payload)
	}
	if int64(len(body)) > cfg.MaxBody {
		writeError(w, http.StatusRequestEntityTooLarge, "payload larger than max_body")
		return
	}
	h, q := headerAndQuery(req.Headers, req.Query)
	if h.Get("Content-Type") == "" {
		h.Set("Content-Type", "application/json")
	}
	event, action, _ := strings.Cut(req.Event, ".")
	if event != "" {
		eh, ok := t.Provider.(providers.EventHeaderer)
		name, value, known := "", "", false
		if ok {
			name, value, known = eh.EventHeader(event)
		}
		if !known {
			writeError(w, http.StatusBadRequest, "trigger "+t.Name+" reads its event from no header (a generic trigger names one with event_header), so it takes no event: leave event out")
			return
		}
		h.Set(name, value)
	}
	// The stored delivery says where it came from.
	h.Set(manualHeader, "api")
	preq := &providers.Request{Header: h, Query: q, Body: body, RemoteAddr: remoteIP(r), Now: received}
	if action != "" {
		if info, err := t.Provider.Inspect(preq); err == nil && info.Action != action {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("event %s: this payload reads as %s; write the action where the sender does (GitHub and GitLab: in the payload)", req.Event, info.EventAction()))
			return
		}
	}
	s.rlog(r).Info("delivery written by hand through the API", "trigger", t.Name)
	s.deliver(w, r, t.Path, preq, []*trigger.Trigger{t}, nil, received)
}
