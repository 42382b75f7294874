package server

// The UI's pages. Each handler builds a small view model; the templates in
// web/templates only format it. Nothing from a payload reaches a page but
// through html/template's contextual escaping.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

const (
	uiPageSize      = 25
	uiMaxPayload    = 1 << 20 // bytes of a payload shown on its page
	uiRateWindow    = 50      // runs counted for a trigger's success rate
	uiPlaygroundMax = 50      // stored deliveries offered in the playground
)

var uiStates = []store.State{store.Queued, store.Running, store.Succeeded, store.Failed, store.TimedOut,
	store.Cancelled, store.Skipped, store.Superseded, store.Interrupted}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

type triggerState struct {
	Name    string
	Path    string
	LastRun *store.Run
}

type dashboardView struct {
	Trigger, State, Event string
	Triggers              []string
	States                []store.State
	Deliveries            []*store.Delivery
	Runs                  []*store.Run
	LastRuns              []triggerState
	OlderDeliveries       string
	OlderRuns             string
	Filtered              bool
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, sess *session) {
	q := r.URL.Query()
	cfg := s.cfg.Load()
	v := dashboardView{Trigger: q.Get("trigger"), State: q.Get("state"), Event: q.Get("event"), States: uiStates}
	v.Filtered = v.Trigger != "" || v.State != "" || v.Event != ""
	for _, t := range cfg.Triggers.All() {
		v.Triggers = append(v.Triggers, t.Name)
	}
	df := store.DeliveryFilter{Event: v.Event, Before: q.Get("dbefore"), Limit: uiPageSize}
	if v.Trigger != "" {
		if t, ok := cfg.Triggers.ByName(v.Trigger); ok {
			df.Path = t.Path
		}
	}
	ctx := r.Context()
	var err error
	if v.Deliveries, err = s.store.Deliveries(ctx, df); err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	rf := store.RunFilter{Trigger: v.Trigger, State: store.State(v.State), Before: q.Get("rbefore"), Limit: uiPageSize}
	if v.Runs, err = s.store.Runs(ctx, rf); err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	if v.Event != "" { // runs have no event column: keep those of matching deliveries
		var keep []*store.Run
		for _, run := range v.Runs {
			ev := run.Meta["HOOKTRIGGER_EVENT"]
			if ev == v.Event || ev+"."+run.Meta["HOOKTRIGGER_ACTION"] == v.Event {
				keep = append(keep, run)
			}
		}
		v.Runs = keep
	}
	for _, t := range cfg.Triggers.All() {
		ts := triggerState{Name: t.Name, Path: t.Path}
		last, err := s.store.Runs(ctx, store.RunFilter{Trigger: t.Name, Limit: 1})
		if err != nil {
			s.uiStoreError(w, r, sess, err)
			return
		}
		if len(last) > 0 {
			ts.LastRun = last[0]
		}
		v.LastRuns = append(v.LastRuns, ts)
	}
	base := url.Values{}
	for k, val := range map[string]string{"trigger": v.Trigger, "state": v.State, "event": v.Event} {
		if val != "" {
			base.Set(k, val)
		}
	}
	if len(v.Deliveries) == uiPageSize {
		p := cloneValues(base)
		p.Set("dbefore", v.Deliveries[len(v.Deliveries)-1].ID)
		p.Set("rbefore", q.Get("rbefore"))
		v.OlderDeliveries = "/ui/?" + p.Encode()
	}
	if len(v.Runs) == uiPageSize {
		p := cloneValues(base)
		p.Set("rbefore", v.Runs[len(v.Runs)-1].ID)
		p.Set("dbefore", q.Get("dbefore"))
		v.OlderRuns = "/ui/?" + p.Encode()
	}
	p := s.pageFor(sess, "Dashboard", "dashboard", v)
	p.Refresh = true
	s.render(w, http.StatusOK, "dashboard", p)
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

type header struct {
	Name   string
	Values []string
}

type decisionView struct {
	store.Decision
	Vars []kv
}

type kv struct{ Key, Value string }

func sortedKV(m map[string]string) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

type deliveryView struct {
	D         *store.Delivery
	Headers   []header
	Payload   string
	Truncated bool
	Decisions []decisionView
	Runs      []*store.Run
	CanReplay bool
}

func (s *Server) deliveryPage(w http.ResponseWriter, r *http.Request, sess *session) {
	d, err := s.store.Delivery(r.Context(), r.PathValue("id"))
	if err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	runs, err := s.store.Runs(r.Context(), store.RunFilter{Delivery: d.ID, Limit: 1000})
	if err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	v := deliveryView{D: d, Runs: runs, CanReplay: len(runs) > 0}
	// Headers were redacted when recorded; redact again in case a record
	// predates a rule.
	for name, vals := range d.Headers {
		if sensitive(name) {
			vals = []string{"[redacted]"}
		}
		v.Headers = append(v.Headers, header{name, vals})
	}
	sort.Slice(v.Headers, func(i, j int) bool { return v.Headers[i].Name < v.Headers[j].Name })
	v.Payload, v.Truncated = prettyPayload(d.Body)
	for _, dec := range d.Decisions {
		v.Decisions = append(v.Decisions, decisionView{Decision: dec, Vars: sortedKV(dec.Vars)})
	}
	p := s.pageFor(sess, "Delivery "+d.ID, "dashboard", v)
	p.Refresh = true
	s.render(w, http.StatusOK, "delivery", p)
}

// prettyPayload indents a JSON body; any other body is shown as it is.
func prettyPayload(body []byte) (string, bool) {
	truncated := false
	if len(body) > uiMaxPayload {
		return string(bytes.ToValidUTF8(body[:uiMaxPayload], []byte("\uFFFD"))), true
	}
	var buf bytes.Buffer
	if json.Valid(body) && json.Indent(&buf, body, "", "  ") == nil {
		return buf.String(), truncated
	}
	return string(bytes.ToValidUTF8(body, []byte("\uFFFD"))), truncated
}

func (s *Server) uiReplay(w http.ResponseWriter, r *http.Request, sess *session) {
	runs, err := s.Replay(r.Context(), r.PathValue("id"))
	if err != nil {
		switch {
		case errors.Is(err, errNothingToReplay):
			s.uiError(w, r, sess, http.StatusConflict, "This delivery started no run, so there is nothing to replay.")
			return
		case errors.Is(err, errBodyPruned):
			s.uiError(w, r, sess, http.StatusGone, "This delivery's body was removed by retention (retention.deliveries), so it cannot be replayed.")
			return
		}
		s.uiStoreError(w, r, sess, err)
		return
	}
	s.log.Info("delivery replayed from the UI", "delivery", r.PathValue("id"), "runs", len(runs))
	if len(runs) == 1 {
		http.Redirect(w, r, "/ui/runs/"+runs[0].ID, http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/ui/deliveries/"+runs[0].DeliveryID, http.StatusSeeOther)
}

type runView struct {
	Run      *store.Run
	ExitCode string
	Duration string
	Vars     []kv
	Meta     []kv
	Live     bool
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request, sess *session) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	v := runView{Run: run, Vars: sortedKV(run.Vars), Meta: sortedKV(run.Meta), Live: !run.State.Final()}
	if run.ExitCode != nil {
		v.ExitCode = fmt.Sprint(*run.ExitCode)
	}
	v.Duration = runDuration(run)
	p := s.pageFor(sess, "Run "+run.ID, "dashboard", v)
	p.Refresh = true
	s.render(w, http.StatusOK, "run", p)
}

// runDuration is how long run ran, or has been running; "" if it never
// started.
func runDuration(run *store.Run) string {
	if run.StartedAt.IsZero() {
		return ""
	}
	end := run.EndedAt
	if end.IsZero() {
		end = time.Now()
	}
	d := end.Sub(run.StartedAt)
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// builtRef is what a run built, in short: its branch or tag and the first
// seven digits of its commit ("main 4f2b1c9"), as far as the event said.
func builtRef(run *store.Run) string {
	var parts []string
	if b := run.Meta["HOOKTRIGGER_BRANCH"]; b != "" {
		parts = append(parts, b)
	} else if t := run.Meta["HOOKTRIGGER_TAG"]; t != "" {
		parts = append(parts, t)
	}
	if sha := run.Meta["HOOKTRIGGER_SHA"]; len(sha) >= 7 && strings.Trim(sha, "0") != "" {
		parts = append(parts, sha[:7])
	}
	return strings.Join(parts, " ")
}

func (s *Server) uiCancel(w http.ResponseWriter, r *http.Request, sess *session) {
	id := r.PathValue("id")
	ok, err := s.sched.Cancel(r.Context(), id, "cancelled from the web UI")
	if err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	if !ok {
		s.uiError(w, r, sess, http.StatusConflict, "The run is not queued or running any more.")
		return
	}
	http.Redirect(w, r, "/ui/runs/"+id, http.StatusSeeOther)
}

type triggerView struct {
	triggerInfo
	Rate string
}

type triggersView struct {
	Triggers   []triggerView
	Deliveries []*store.Delivery
}

func (s *Server) triggersPage(w http.ResponseWriter, r *http.Request, sess *session) {
	var v triggersView
	infos, err := s.triggerInfos(r)
	if err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	for _, ti := range infos {
		tv := triggerView{triggerInfo: ti, Rate: "no finished runs"}
		if ti.Finished > 0 {
			tv.Rate = fmt.Sprintf("%d%% of the last %d finished runs succeeded", ti.Succeeded*100/ti.Finished, ti.Finished)
		}
		v.Triggers = append(v.Triggers, tv)
	}
	if v.Deliveries, err = s.store.Deliveries(r.Context(), store.DeliveryFilter{Limit: uiPlaygroundMax}); err != nil {
		s.uiStoreError(w, r, sess, err)
		return
	}
	s.render(w, http.StatusOK, "triggers", s.pageFor(sess, "Triggers", "triggers", v))
}

// filterInfo describes one compiled filter for people.
func filterInfo(f trigger.Filter) filterDesc {
	switch f := f.(type) {
	case *trigger.RegexpFilter:
		return filterDesc{Kind: "regexp", Text: f.Text, Expression: f.Expr}
	case *trigger.CELFilter:
		return filterDesc{Kind: "cel", Expression: f.Expr}
	}
	return filterDesc{Kind: fmt.Sprintf("%T", f)}
}
