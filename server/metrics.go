package server

import (
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hooktrigger/hooktrigger/store"
)

// Delivery results, the result label of hooktrigger_deliveries_total.
const (
	resultAccepted     = "accepted"
	resultSkipped      = "skipped"
	resultDuplicate    = "duplicate"
	resultUnauthorized = "unauthorized"
	resultBadRequest   = "bad_request"
	resultTooLarge     = "too_large"
	resultRateLimited  = "rate_limited"
	resultUnavailable  = "unavailable"
	resultNotFound     = "not_found"
)

// metrics is one server's Prometheus registry and the instruments in it. A
// registry per Server (not the global one) lets several servers live in
// one process, as tests do. Labels hold trigger names, provider names,
// results and states only: never a path, a header or a secret.
type metrics struct {
	reg        *prometheus.Registry
	deliveries *prometheus.CounterVec
	reqDur     *prometheus.HistogramVec
	runs       *prometheus.CounterVec
	runDur     *prometheus.HistogramVec
	commit     prometheus.Histogram
	reloads    *prometheus.CounterVec
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hooktrigger_deliveries_total",
		Help: "Webhook deliveries by trigger, provider and result (accepted, skipped, duplicate, unauthorized, bad_request, too_large, rate_limited, unavailable, not_found). A delivery on a path several triggers share counts once per trigger.",
	}, []string{"trigger", "provider", "result"})
	m.reqDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hooktrigger_request_duration_seconds",
		Help:    "Time from request to the end of the answer, by handler (hook, api, ui, health, metrics).",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"handler"})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hooktrigger_runs_total",
		Help: "Runs that reached a final state, by trigger and state.",
	}, []string{"trigger", "state"})
	m.runDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hooktrigger_run_duration_seconds",
		Help:    "Time from a run's start to its end, by trigger.",
		Buckets: []float64{.1, .5, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200},
	}, []string{"trigger"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hooktrigger_store_commit_seconds",
		Help:    "Duration of one store commit (a group of writes made durable together).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hooktrigger_config_reloads_total",
		Help: "Config reloads by result: success, or failure (the old config kept serving).",
	}, []string{"result"})
	for _, r := range []string{"success", "failure"} {
		m.reloads.WithLabelValues(r)
	}
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hooktrigger_runs_queued",
		Help: "Runs waiting on this instance.",
	}, func() float64 { q, _ := s.sched.Stats(); return float64(q) })
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hooktrigger_runs_running",
		Help: "Runs executing on this instance.",
	}, func() float64 { _, r := s.sched.Stats(); return float64(r) })
	m.reg.MustRegister(m.deliveries, m.reqDur, m.runs, m.runDur, m.commit, m.reloads, queued, running,
		&buildInfo{s: s},
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(resultCounters("hooktrigger_commit_statuses_total", "Commit statuses by result: sent (the API took it), failed (given up: refused, out of attempts, or a final state dropped from a full queue).",
		map[string]func() uint64{"sent": s.status.Sent, "failed": s.status.Failures})...)
	m.reg.MustRegister(resultCounters("hooktrigger_notifications_total", "Notifications of a notify list by result: sent (a 2xx), failed (given up: refused, out of attempts, cut by a stop), dropped (the queue was full).",
		map[string]func() uint64{"sent": s.notify.Sent, "failed": s.notify.Failed, "dropped": s.notify.Dropped})...)
	m.reg.MustRegister(resultCounters("hooktrigger_changed_files_lookups_total", "Lookups of a pull or merge request's files in the provider's API, for paths: listed (whole), cut (3,000 files or more: the trigger fires), failed (no list: the trigger fires).",
		map[string]func() uint64{"listed": s.changes.Listed, "cut": s.changes.Cut, "failed": s.changes.Failed})...)
	return m
}

// resultCounters are one counter per result label, each read from a
// function at scrape time.
func resultCounters(name, help string, results map[string]func() uint64) []prometheus.Collector {
	var cs []prometheus.Collector
	for result, f := range results {
		cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: name, Help: help, ConstLabels: prometheus.Labels{"result": result},
		}, func() float64 { return float64(f()) }))
	}
	return cs
}

// buildInfo reads Server.Version at scrape time: it is set after New.
type buildInfo struct{ s *Server }

var buildInfoDesc = prometheus.NewDesc("hooktrigger_build_info",
	"Always 1; the labels name the version and the Go version of the binary.", []string{"version", "goversion"}, nil)

func (b *buildInfo) Describe(ch chan<- *prometheus.Desc) { ch <- buildInfoDesc }

func (b *buildInfo) Collect(ch chan<- prometheus.Metric) {
	v := b.s.Version
	if v == "" {
		v = "dev"
	}
	ch <- prometheus.MustNewConstMetric(buildInfoDesc, prometheus.GaugeValue, 1, v, runtime.Version())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// runChanged counts a run that reached a final state.
func (m *metrics) runChanged(r *store.Run) {
	if !r.State.Final() {
		return
	}
	m.runs.WithLabelValues(r.Trigger, string(r.State)).Inc()
	if !r.StartedAt.IsZero() && r.EndedAt.After(r.StartedAt) {
		m.runDur.WithLabelValues(r.Trigger).Observe(r.EndedAt.Sub(r.StartedAt).Seconds())
	}
}

func (m *metrics) commitDone(_ int, d time.Duration) { m.commit.Observe(d.Seconds()) }

// handlerLabel names the part of the HTTP interface a path belongs to.
func handlerLabel(path string) string {
	switch {
	case strings.HasPrefix(path, "/api/"):
		return "api"
	case path == "/ui" || strings.HasPrefix(path, "/ui/"):
		return "ui"
	case path == "/healthz" || path == "/readyz":
		return "health"
	case path == "/metrics":
		return "metrics"
	}
	return "hook"
}

// resultOf maps a hook answer's status to a delivery result, for triggers
// the handler did not mark itself.
func resultOf(status int) string {
	switch {
	case status == http.StatusAccepted:
		return resultAccepted
	case status < 300:
		return resultSkipped
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return resultUnauthorized
	case status == http.StatusNotFound:
		return resultNotFound
	case status == http.StatusRequestEntityTooLarge:
		return resultTooLarge
	case status == http.StatusTooManyRequests:
		return resultRateLimited
	case status >= 500:
		return resultUnavailable
	}
	return resultBadRequest
}
