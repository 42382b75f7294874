package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
)

func (s *Server) apiRoutes(mux *http.ServeMux) {
	mux.Handle("GET /api/runs", s.auth(s.listRuns))
	mux.Handle("GET /api/runs/{id}", s.auth(s.getRun))
	mux.Handle("GET /api/runs/{id}/log", s.auth(s.runLog))
	mux.Handle("POST /api/runs/{id}/cancel", s.auth(s.cancelRun))
	mux.Handle("GET /api/deliveries", s.auth(s.listDeliveries))
	mux.Handle("GET /api/deliveries/{id}", s.auth(s.getDelivery))
	mux.Handle("POST /api/deliveries/{id}/replay", s.auth(s.replayDelivery))
	// Go's profiler, for "what bounds it" questions, behind the API's auth.
	mux.Handle("GET /api/debug/pprof/heap", s.auth(pprof.Handler("heap").ServeHTTP))
	mux.Handle("GET /api/debug/pprof/profile", s.auth(pprof.Profile))
	mux.Handle("/api/", s.auth(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint")
	}))
}

// auth admits a request carrying `Authorization: Bearer <api_token>`. With
// no api_token configured, only loopback clients are admitted.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.sessionAuthorized(r) { // ui.go: a signed-in browser (CSRF-checked)
			h(w, r)
			return
		}
		token := s.cfg.Load().APIToken
		if token == "" {
			if isLoopback(remoteIP(r)) {
				h(w, r)
				return
			}
			writeError(w, http.StatusUnauthorized, "set api_token to use the API from other hosts")
			return
		}
		given, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hooktrigger"`)
			writeError(w, http.StatusUnauthorized, "unauthorized")
			return
		}
		h(w, r)
	})
}

func isLoopback(ip string) bool {
	return ip == "127.0.0.1" || ip == "::1" || strings.HasPrefix(ip, "127.")
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	s.log.Error("store error", "err", err)
	w.Header().Set("Retry-After", "5")
	writeError(w, http.StatusServiceUnavailable, "store unavailable")
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	runs, err := s.store.Runs(r.Context(), store.RunFilter{Trigger: q.Get("trigger"), State: store.State(q.Get("state")), Delivery: q.Get("delivery"), Before: q.Get("before"), Limit: limit})
	if err != nil {
		s.storeError(w, err)
		return
	}
	if runs == nil {
		runs = []*store.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": runs})
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request) {
	run, err := s.store.Run(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// runLog serves a run's log; with ?follow=1 it streams until the run ends.
func (s *Server) runLog(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := s.store.Run(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	lr := s.newLogReader(run)
	defer lr.close()
	follow := r.URL.Query().Get("follow") == "1"
	data, found, err := lr.at(r.Context(), 0)
	switch {
	case err != nil:
		s.storeError(w, err)
		return
	case !found && !follow && !(run.State == store.Queued || run.State.Final()):
		writeError(w, http.StatusNotFound, "no log")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var offset int64
	// drain writes the log from offset to its current end.
	drain := func() bool {
		for len(data) > 0 {
			if _, err := w.Write(data); err != nil {
				return false
			}
			offset += int64(len(data))
			if data, _, err = lr.at(r.Context(), offset); err != nil {
				return false
			}
		}
		return true
	}
	if !follow {
		drain()
		return
	}
	flusher, _ := w.(http.Flusher)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{})
	w.WriteHeader(http.StatusOK)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		// run was read before this drain: once it is final, the drain
		// has the whole log (an instance stores all of it before the end).
		if !drain() || run.State.Final() {
			return
		}
		if flusher != nil {
			flusher.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-s.stopPrune: // the server is closing: end the stream so Close need not wait for the run
			return
		case <-tick.C:
		}
		if run, err = s.store.Run(r.Context(), id); err != nil {
			return
		}
		if data, _, err = lr.at(r.Context(), offset); err != nil {
			return
		}
	}
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ok, err := s.sched.Cancel(r.Context(), id, "cancelled through the API")
	if err != nil {
		s.storeError(w, err)
		return
	}
	if !ok {
		writeError(w, http.StatusConflict, "the run is not queued or running")
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, "cancelled": true})
}

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	ds, err := s.store.Deliveries(r.Context(), store.DeliveryFilter{Path: q.Get("path"), Event: q.Get("event"), Before: q.Get("before"), Limit: limit})
	if err != nil {
		s.storeError(w, err)
		return
	}
	if ds == nil {
		ds = []*store.Delivery{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": ds})
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) {
	d, err := s.store.Delivery(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	runs, err := s.store.Runs(r.Context(), store.RunFilter{Delivery: d.ID, Limit: 1000})
	if err != nil {
		s.storeError(w, err)
		return
	}
	if runs == nil {
		runs = []*store.Run{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"delivery": d, "body": string(d.Body), "runs": runs})
}

// replayDelivery starts the delivery's runs again, with the variables they
// had, as new runs.
func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) {
	runs, err := s.Replay(r.Context(), r.PathValue("id"))
	if err != nil {
		switch {
		case errors.Is(err, errNothingToReplay):
			writeError(w, http.StatusConflict, err.Error())
			return
		case errors.Is(err, errBodyPruned):
			writeError(w, http.StatusGone, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	reply := hookReply{Delivery: r.PathValue("id"), Runs: []runRef{}}
	for _, run := range runs {
		reply.Runs = append(reply.Runs, runRef{ID: run.ID, Trigger: run.Trigger, URL: s.runURL(run.ID)})
	}
	writeJSON(w, http.StatusAccepted, reply)
}

var (
	errNothingToReplay = errors.New("the delivery started no run; nothing to replay")
	// errBodyPruned refuses a replay whose builds would read an empty
	// payload in place of the one they were triggered with.
	errBodyPruned = errors.New("the delivery's body was removed by retention (retention.deliveries); it cannot be replayed")
)

// Replay records and schedules new runs copying the runs of a stored
// delivery. The copies belong to a new delivery record that points at the
// same body.
func (s *Server) Replay(ctx context.Context, id string) ([]*store.Run, error) {
	d, err := s.store.Delivery(ctx, id)
	if err != nil {
		return nil, err
	}
	old, err := s.store.Runs(ctx, store.RunFilter{Delivery: id, Limit: 1000})
	if err != nil {
		return nil, err
	}
	if len(old) == 0 {
		return nil, errNothingToReplay
	}
	if len(d.Body) == 0 && d.BodySize > 0 {
		return nil, errBodyPruned
	}
	nd := *d
	nd.ID = store.NewID()
	nd.SenderID = ""
	nd.ReceivedAt = time.Now()
	nd.Decisions = nil
	var runs []*store.Run
	for i := len(old) - 1; i >= 0; i-- {
		o := old[i]
		run := &store.Run{ID: store.NewID(), DeliveryID: nd.ID, Trigger: o.Trigger, State: store.Queued, Group: o.Group, Vars: o.Vars, CreatedAt: nd.ReceivedAt}
		run.Meta = map[string]string{}
		for k, v := range o.Meta {
			run.Meta[k] = v
		}
		run.Meta["HOOKTRIGGER_RUN_ID"] = run.ID
		run.Meta["HOOKTRIGGER_REPLAY_OF"] = o.ID
		nd.Decisions = append(nd.Decisions, store.Decision{Trigger: o.Trigger, Fired: true, Reason: "replay of delivery " + id, RunID: run.ID, Vars: o.Vars})
		runs = append(runs, run)
	}
	if _, err := s.store.Record(ctx, &nd, runs); err != nil {
		return nil, err
	}
	s.statusQueued(runs)       // commit status: pending (status.go)
	s.sched.Enqueue(runs, nil) // the body is read from the store when a run starts
	s.deliveryRecorded(&nd)    // ui.go: live dashboard
	return runs, nil
}
