package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// Handler returns the server's full HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", s.ops.m.handler())
	s.apiRoutes(mux)
	mux.HandleFunc(GWTPath, s.gwtInvoke)
	s.apiUIRoutes(mux) // api_ui.go
	s.uiRoutes(mux)    // ui.go: the web UI under /ui/
	mux.HandleFunc("/", s.hook)
	return s.instrument(mux) // request id, metrics, access log: logging.go
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness: store unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "store unavailable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "triggers": len(s.cfg.Load().Triggers.All())})
}

type runRef struct {
	ID      string `json:"id"`
	Trigger string `json:"trigger"`
	URL     string `json:"url"`
	State   string `json:"state,omitempty"`
	*waitedRun
}

type skipRef struct {
	Trigger string            `json:"trigger"`
	Reason  string            `json:"reason"`
	Vars    map[string]string `json:"variables,omitempty"`
}

type hookReply struct {
	Delivery  string         `json:"delivery"`
	Duplicate bool           `json:"duplicate,omitempty"`
	Runs      []runRef       `json:"runs"`
	Skipped   []skipRef      `json:"skipped,omitempty"`
	Variables map[string]any `json:"variables,omitempty"`
}

// takes returns the triggers that take requests made with method (the
// slice itself when all do: the usual case costs nothing).
func takes(triggers []*trigger.Trigger, method string) []*trigger.Trigger {
	refuses := func(t *trigger.Trigger) bool { return !t.Takes(method) }
	if !slices.ContainsFunc(triggers, refuses) {
		return triggers
	}
	return slices.DeleteFunc(slices.Clone(triggers), refuses)
}

// allowed returns the methods that some of triggers take, for an Allow
// header.
func allowed(triggers []*trigger.Trigger) []string {
	var out []string
	for _, t := range triggers {
		for _, m := range t.Taken() {
			if !slices.Contains(out, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// hook receives a webhook on a trigger path.
func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	cfg := s.cfg.Load()
	triggers := cfg.Triggers.ForPath(r.URL.Path)
	s.hookTriggers(r, triggers) // ops: metrics by trigger
	if len(triggers) == 0 {
		writeError(w, http.StatusNotFound, "no trigger listens on "+r.URL.Path)
		return
	}
	onPath := triggers
	if triggers = takes(triggers, r.Method); len(triggers) == 0 {
		w.Header().Set("Allow", strings.Join(allowed(onPath), ", "))
		writeError(w, http.StatusMethodNotAllowed, "no trigger on "+r.URL.Path+" takes "+r.Method)
		return
	}
	received := time.Now()
	if !s.admitBody(w, r, cfg) { // ops: max_inflight_bytes → 503 (limits.go)
		return
	}
	body, err := readBody(w, r, cfg.MaxBody)
	if err != nil {
		if errors.Is(err, errBusy) { // ops
			s.busy(w, r, -1, inflightLimit(cfg))
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body larger than max_body ("+strconv.FormatInt(cfg.MaxBody, 10)+" bytes)")
			return
		}
		writeError(w, http.StatusBadRequest, "cannot read the body")
		return
	}
	preq := &providers.Request{Header: r.Header, Query: r.URL.Query(), Body: body, RemoteAddr: remoteIP(r), Now: received}

	// Who may start something: each trigger verifies on its own.
	var authorized []*trigger.Trigger
	var refused []skipRef
	denied := 0
	for _, t := range triggers {
		if t.AllowList != nil {
			ip := t.AllowList.ClientIP(r.RemoteAddr, r.Header)
			if !t.AllowList.Allowed(ip) {
				denied++
				s.markResult(r, t.Name, resultUnauthorized) // ops
				refused = append(refused, skipRef{Trigger: t.Name, Reason: "client address not in allow_ips"})
				continue
			}
		}
		if err := t.Provider.Verify(preq); err != nil {
			s.markResult(r, t.Name, resultUnauthorized) // ops
			refused = append(refused, skipRef{Trigger: t.Name, Reason: "signature or token did not verify"})
			continue
		}
		authorized = append(authorized, t)
	}
	if len(authorized) == 0 {
		if denied == len(triggers) {
			writeError(w, http.StatusForbidden, "forbidden")
			return
		}
		s.rlog(r).Info("delivery refused: unauthorized", "path", r.URL.Path, "remote", preq.RemoteAddr)
		writeError(w, http.StatusUnauthorized, "unauthorized")
		return
	}
	// ops: rate_limit per trigger → 429 (limits.go).
	if authorized, refused = s.applyRateLimits(w, r, authorized, refused); authorized == nil {
		return
	}
	s.deliver(w, r, r.URL.Path, preq, authorized, refused, received)
}

// deliver reads, decides, records and answers a delivery to path that the
// triggers of authorized may start (refused: those that may not, and
// why).
func (s *Server) deliver(w http.ResponseWriter, r *http.Request, path string, preq *providers.Request, authorized []*trigger.Trigger, refused []skipRef, received time.Time) {
	// What it is.
	ins := newInspector(preq)
	first, err := ins.info(authorized[0])
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if first.Ping {
		writeJSON(w, http.StatusOK, map[string]any{"ping": true, "zen": first.Reply, "triggers": len(authorized)})
		return
	}

	// What it starts.
	ev, err := s.evaluate(r.Context(), path, preq, ins, authorized, received)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	del, runs := ev.del, ev.runs
	s.hookDelivery(r, del) // ops: metrics, logs
	reply := hookReply{Delivery: del.ID, Runs: []runRef{}}
	for _, d := range ev.decisions {
		t := d.Trigger
		if !d.Fire {
			sk := skipRef{Trigger: t.Name, Reason: d.Reason}
			if t.Verbose {
				sk.Vars = d.Vars
			}
			reply.Skipped = append(reply.Skipped, sk)
			continue
		}
		if t.Verbose {
			if reply.Variables == nil {
				reply.Variables = map[string]any{}
			}
			reply.Variables[t.Name] = d.Vars
		}
	}
	for _, rf := range refused {
		del.Decisions = append(del.Decisions, store.Decision{Trigger: rf.Trigger, Reason: rf.Reason})
	}

	// Runs whose trigger makes the answer wait for them: registered before
	// they can start, so that no end is missed.
	var waitIDs []string
	var waitChans []chan *store.Run
	var wait time.Duration
	for _, d := range ev.decisions {
		if run := ev.runOf[d.Trigger.Name]; run != nil && d.Fire && d.Trigger.Spec != nil && d.Trigger.Spec.Wait > 0 {
			waitIDs, waitChans = append(waitIDs, run.ID), append(waitChans, s.waiters.register(run.ID))
			wait = max(wait, d.Trigger.Spec.Wait)
		}
	}

	// Durably recorded before any 2xx.
	rec, err := s.commit(r.Context(), ev)
	if err != nil || rec.Duplicate {
		s.waiters.forget(waitIDs)
	}
	if err != nil {
		s.rlog(r).Error("cannot record delivery", "delivery", del.ID, "path", path, "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "store unavailable; retry later")
		return
	}
	if rec.Duplicate {
		s.hookDuplicate(r, rec.DeliveryID) // ops
		s.rlog(r).Info("delivery duplicate", "delivery", rec.DeliveryID, "sender_delivery", del.SenderID, "path", del.Path)
		dup := hookReply{Delivery: rec.DeliveryID, Duplicate: true, Runs: []runRef{}}
		for _, run := range rec.Runs {
			dup.Runs = append(dup.Runs, runRef{ID: run.ID, Trigger: run.Trigger, URL: s.runURL(run.ID), State: string(run.State)})
		}
		writeJSON(w, http.StatusOK, dup)
		return
	}
	for _, run := range runs {
		reply.Runs = append(reply.Runs, runRef{ID: run.ID, Trigger: run.Trigger, URL: s.runURL(run.ID)})
	}
	reply.Skipped = append(reply.Skipped, refused...)
	status := http.StatusOK
	if len(runs) > 0 {
		status = http.StatusAccepted
	}
	s.rlog(r).Info("delivery accepted", "delivery", del.ID, "sender_delivery", del.SenderID, "path", del.Path, "event", first.EventAction(), "runs", len(runs))
	if len(waitIDs) > 0 && s.answerWaited(r, &reply, waitIDs, waitChans, wait) {
		status = http.StatusOK // every waited-for run ended
	}
	writeJSON(w, status, reply)
}

// answerWaited waits up to d for the runs of ids (see awaitRuns) and puts
// their state, exit code, error and log into reply. It reports whether
// all of them ended.
func (s *Server) answerWaited(r *http.Request, reply *hookReply, ids []string, chans []chan *store.Run, d time.Duration) bool {
	got := s.awaitRuns(r.Context(), ids, chans, d)
	all := true
	for i := range reply.Runs {
		ref := &reply.Runs[i]
		if !slices.Contains(ids, ref.ID) {
			continue // its trigger does not wait
		}
		run := got[ref.ID]
		if run == nil || !run.State.Final() {
			all = false
			if run != nil {
				ref.State = string(run.State)
			}
			continue
		}
		ref.State = string(run.State)
		wr := &waitedRun{ExitCode: run.ExitCode, Error: run.Error}
		wr.Log, wr.LogTruncated = s.waitedLog(r.Context(), run)
		ref.waitedRun = wr
	}
	return all
}

// meta builds the HOOKTRIGGER_* entries of a run's environment.
func meta(run *store.Run, t *trigger.Trigger, i *providers.Info, d *store.Delivery) map[string]string {
	delivery := i.DeliveryID
	if delivery == "" {
		delivery = d.ID
	}
	m := map[string]string{
		"HOOKTRIGGER_RUN_ID":   run.ID,
		"HOOKTRIGGER_TRIGGER":  t.Name,
		"HOOKTRIGGER_EVENT":    i.Event,
		"HOOKTRIGGER_ACTION":   i.Action,
		"HOOKTRIGGER_DELIVERY": delivery,
		"HOOKTRIGGER_PROVIDER": t.ProviderName,
		"HOOKTRIGGER_REPO":     i.Repo,
		"HOOKTRIGGER_REF":      i.Ref,
		"HOOKTRIGGER_BRANCH":   i.Branch,
		"HOOKTRIGGER_TAG":      i.Tag,
		"HOOKTRIGGER_SHA":      i.SHA,
		"HOOKTRIGGER_BEFORE":   i.Before,
		"HOOKTRIGGER_ACTOR":    i.Actor,
		"HOOKTRIGGER_PR":       i.PR,
	}
	return m
}

func (s *Server) runURL(id string) string {
	return s.cfg.Load().PublicURL + "/ui/runs/" + id
}

// readBody reads at most limit bytes; over it, the MaxBytesError comes back
// and the rest is not read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	rd := http.MaxBytesReader(w, r.Body, limit)
	if r.ContentLength > 0 {
		// The length is known: read exactly that much, then make sure
		// nothing follows.
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		var one [1]byte
		if n, err := rd.Read(one[:]); n > 0 || (err != nil && err != io.EOF) {
			if err == nil {
				err = errors.New("body longer than Content-Length")
			}
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(rd)
}

// remoteIP is the socket peer's address without the port.
func remoteIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}

// sensitive reports whether a header may carry a credential.
func sensitive(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "secret", "signature", "authorization", "cookie", "auth", "key", "password"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// redactHeaders copies h with credential-bearing values replaced.
func redactHeaders(h http.Header) map[string][]string {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if sensitive(k) {
			out[k] = []string{"[redacted]"}
			continue
		}
		out[k] = v
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
