package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// maxRequestID is the longest incoming X-Request-Id honoured.
const maxRequestID = 128

// requestID returns the incoming X-Request-Id when it is sane (1 to 128
// printable ASCII characters, no space), else a new random id.
func requestID(in string) string {
	if len(in) > 0 && len(in) <= maxRequestID {
		ok := true
		for i := 0; i < len(in); i++ {
			if in[i] <= ' ' || in[i] > '~' {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// note is what one request tells the instrumentation around it: its id and
// logger, the triggers it was for, what each made of it, and the bytes it
// holds against max_inflight_bytes.
type note struct {
	id  string
	log *slog.Logger

	mu        sync.Mutex
	triggers  []*trigger.Trigger
	results   map[string]string
	delivery  *store.Delivery
	duplicate string // the original delivery of a duplicate
	held      int64  // bytes reserved against max_inflight_bytes
}

type noteKey struct{}

// noteOf returns the request's note; requests that did not pass through
// instrument get a throwaway one, so handlers never check for nil.
func (s *Server) noteOf(r *http.Request) *note {
	if n, ok := r.Context().Value(noteKey{}).(*note); ok {
		return n
	}
	return &note{log: s.log}
}

// rlog is the logger for lines about request r: it carries request_id.
func (s *Server) rlog(r *http.Request) *slog.Logger { return s.noteOf(r).log }

// hookTriggers records the triggers a webhook request is for.
func (s *Server) hookTriggers(r *http.Request, ts []*trigger.Trigger) {
	n := s.noteOf(r)
	n.mu.Lock()
	n.triggers = ts
	n.mu.Unlock()
}

// markResult records what trigger name made of the delivery.
func (s *Server) markResult(r *http.Request, name, result string) {
	n := s.noteOf(r)
	n.mu.Lock()
	if n.results == nil {
		n.results = map[string]string{}
	}
	n.results[name] = result
	n.mu.Unlock()
}

// hookDelivery records the delivery a request became.
func (s *Server) hookDelivery(r *http.Request, d *store.Delivery) {
	n := s.noteOf(r)
	n.mu.Lock()
	n.delivery = d
	n.mu.Unlock()
}

// hookDuplicate records that the delivery was seen before as id.
func (s *Server) hookDuplicate(r *http.Request, id string) {
	n := s.noteOf(r)
	n.mu.Lock()
	n.duplicate = id
	n.mu.Unlock()
}

// statusWriter remembers the status and size of an answer.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Flush passes through, for streamed logs.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument wraps the whole handler: request id (honoured or generated,
// echoed in X-Request-Id), a request-scoped logger, the request duration
// histogram, delivery counts, and the release of body bytes held against
// max_inflight_bytes. It logs one debug line per request: method, path (never
// the query, which may hold a token), status, size, duration.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := requestID(r.Header.Get("X-Request-Id"))
		w.Header().Set("X-Request-Id", id)
		n := &note{id: id, log: s.log.With("request_id", id)}
		r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			switch {
			case n.held >= largeBody:
				s.ops.releaseCollected(n.held)
			case n.held > 0:
				s.ops.inflight.Add(-n.held)
			}
			n.held = 0
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			h := handlerLabel(r.URL.Path)
			took := time.Since(start)
			s.ops.m.reqDur.WithLabelValues(h).Observe(took.Seconds())
			delivery := ""
			if h == "hook" {
				delivery = s.countDelivery(n, status)
			}
			if !n.log.Enabled(r.Context(), slog.LevelDebug) {
				return // the access line is a debug line: spare building it
			}
			attrs := []any{"method", r.Method, "path", r.URL.Path, "status", status, "bytes", sw.bytes, "duration", took.Round(time.Microsecond)}
			if delivery != "" {
				attrs = append(attrs, "delivery", delivery)
			}
			n.log.Debug("http request", attrs...)
		}()
		next.ServeHTTP(sw, r)
	})
}

// countDelivery adds one to hooktrigger_deliveries_total per trigger the
// request was for, and returns the delivery id, if any. n.mu is held.
func (s *Server) countDelivery(n *note, status int) string {
	dm := s.ops.m.deliveries
	if len(n.triggers) == 0 {
		if status == http.StatusNotFound {
			dm.WithLabelValues("", "", resultNotFound).Inc()
		}
		return ""
	}
	fired := map[string]bool{}
	if n.delivery != nil && status < 300 {
		for _, d := range n.delivery.Decisions {
			fired[d.Trigger] = d.Fired
		}
	}
	for _, t := range n.triggers {
		res, ok := n.results[t.Name]
		switch {
		case ok:
		case n.duplicate != "" && status < 300:
			res = resultDuplicate
		case status < 300 && fired[t.Name]:
			res = resultAccepted
		case status < 300:
			res = resultSkipped
		default:
			res = resultOf(status)
		}
		dm.WithLabelValues(t.Name, t.ProviderName, res).Inc()
	}
	switch {
	case n.duplicate != "":
		return n.duplicate
	case n.delivery != nil && status < 300:
		return n.delivery.ID
	}
	return ""
}
