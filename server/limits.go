package server

import (
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/postgres"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// opsState is the operational side of a Server: metrics, the bytes of
// bodies held at once, the certificate cache and the reload state.
type opsState struct {
	m        *metrics
	inflight atomic.Int64
	// uncollected is the bytes of large bodies that were dropped and wait
	// for a collection before they are released (releaseCollected);
	// collecting says a goroutine runs those collections.
	uncollected atomic.Int64
	collecting  atomic.Bool
	certs       certCache

	reloadMu sync.Mutex
}

// initOps wires metrics into the store, the scheduler's run changes and the
// server. Called once from New.
func (s *Server) initOps(st store.Store) {
	s.ops.m = newMetrics(s)
	switch db := st.(type) {
	case *sqlite.DB:
		db.CommitHook = s.ops.m.commitDone
	case *postgres.DB:
		db.CommitHook = s.ops.m.commitDone
	}
	s.OnRunChange(s.ops.m.runChanged)
}

// largeBody is the size from which a body's bytes are released against
// max_inflight_bytes only after a garbage collection (releaseCollected).
const largeBody = 4 << 20

// releaseCollected releases n bytes of bodies against max_inflight_bytes
// once a garbage collection has run after the bodies were dropped. The
// collector paces itself on the live heap: with a few bodies of tens of MB
// in flight it let the heap grow to twice their size, and a body whose
// request had ended still took memory while the next one was read. A body
// is a pointer-free block, so the collection costs little, and webhook
// bodies are rarely this large.
func (o *opsState) releaseCollected(n int64) {
	o.uncollected.Add(n)
	if o.collecting.CompareAndSwap(false, true) {
		go o.collect()
	}
}

// collect runs collections until no released bytes wait for one. Bytes
// released after a collection started wait for the next: their bodies may
// have been dropped after it marked them live.
func (o *opsState) collect() {
	for {
		n := o.uncollected.Swap(0)
		runtime.GC()
		o.inflight.Add(-n)
		o.collecting.Store(false)
		if o.uncollected.Load() == 0 || !o.collecting.CompareAndSwap(false, true) {
			return
		}
	}
}

// busyRetryAfter is the Retry-After of a 503 for max_inflight_bytes.
const busyRetryAfter = "2"

// errBusy is returned while reading a body of unknown length once
// max_inflight_bytes is reached.
var errBusy = errors.New("server: max_inflight_bytes reached")

func inflightLimit(cfg *config.Config) int64 {
	if cfg.MaxInflightBytes > 0 {
		return cfg.MaxInflightBytes
	}
	return config.DefaultInflightFactor * cfg.MaxBody
}

// reserve adds n bytes to the bytes held if that stays within limit. When
// they do not fit while dropped bodies wait for their collection, it
// waits for that (milliseconds, at most collectWait): those bytes are about
// to be released, and a sender told 503 may not send again.
func (o *opsState) reserve(n, limit int64) bool {
	var deadline time.Time
	for {
		if o.tryReserve(n, limit) {
			return true
		}
		if !o.collecting.Load() && o.uncollected.Load() == 0 {
			// Released since the try, or nothing to wait for.
			return o.tryReserve(n, limit)
		}
		if deadline.IsZero() {
			deadline = time.Now().Add(collectWait)
		} else if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
}

// collectWait bounds how long reserve waits for a collection.
const collectWait = 2 * time.Second

func (o *opsState) tryReserve(n, limit int64) bool {
	for {
		cur := o.inflight.Load()
		if cur+n > limit {
			return false
		}
		if o.inflight.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// admitBody reserves the request body's bytes against max_inflight_bytes
// before anything reads it: the Content-Length when known, else bytes as
// they arrive. It answers 503 with Retry-After and returns false when the
// bytes do not fit. The reservation ends with the request (instrument).
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request, cfg *config.Config) bool {
	if r.ContentLength > cfg.MaxBody {
		return true // 413 from readBody, nothing read
	}
	n := s.noteOf(r)
	limit := inflightLimit(cfg)
	if r.ContentLength >= 0 {
		if !s.ops.reserve(r.ContentLength, limit) {
			s.busy(w, r, r.ContentLength, limit)
			return false
		}
		n.mu.Lock()
		n.held += r.ContentLength
		n.mu.Unlock()
		return true
	}
	r.Body = &meteredBody{rc: r.Body, s: s, n: n, limit: limit}
	return true
}

// busy answers 503 for a body that does not fit in max_inflight_bytes.
func (s *Server) busy(w http.ResponseWriter, r *http.Request, need, limit int64) {
	s.rlog(r).Warn("delivery refused: max_inflight_bytes reached", "path", r.URL.Path, "body_bytes", need, "max_inflight_bytes", limit)
	w.Header().Set("Retry-After", busyRetryAfter)
	if r.ProtoMajor == 1 {
		// The unread body would have to be drained to reuse the connection.
		// (Over HTTP/2 this header would send GOAWAY to every stream.)
		w.Header().Set("Connection", "close")
	}
	writeError(w, http.StatusServiceUnavailable, "too many request bodies in flight; retry later")
}

// meteredBody reserves bytes of a body of unknown length as they are read.
type meteredBody struct {
	rc    io.ReadCloser
	s     *Server
	n     *note
	limit int64
}

func (b *meteredBody) Read(p []byte) (int, error) {
	k, err := b.rc.Read(p)
	if k > 0 {
		if !b.s.ops.reserve(int64(k), b.limit) {
			return 0, errBusy
		}
		b.n.mu.Lock()
		b.n.held += int64(k)
		b.n.mu.Unlock()
	}
	return k, err
}

func (b *meteredBody) Close() error { return b.rc.Close() }

// applyRateLimits takes one token from the rate_limit of every authorized
// trigger. Triggers over their rate are skipped with reason "rate limited";
// when all are, it answers 429 with Retry-After (the wait until the first
// token) and returns nil. The rate counts authenticated deliveries only, so
// a stranger without the secret cannot use up a trigger's rate.
func (s *Server) applyRateLimits(w http.ResponseWriter, r *http.Request, authorized []*trigger.Trigger, refused []skipRef) ([]*trigger.Trigger, []skipRef) {
	now := time.Now()
	var ok []*trigger.Trigger
	var wait time.Duration
	for _, t := range authorized {
		if t.RateLimit == nil {
			ok = append(ok, t)
			continue
		}
		res := t.RateLimit.ReserveN(now, 1)
		d := res.DelayFrom(now)
		if res.OK() && d == 0 {
			ok = append(ok, t)
			continue
		}
		res.CancelAt(now)
		if !res.OK() {
			d = time.Second
		}
		if wait == 0 || d < wait {
			wait = d
		}
		s.markResult(r, t.Name, resultRateLimited)
		refused = append(refused, skipRef{Trigger: t.Name, Reason: "rate limited (rate_limit)"})
	}
	if len(ok) > 0 {
		return ok, refused
	}
	secs := int64(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	s.rlog(r).Warn("delivery refused: rate limited", "path", r.URL.Path, "retry_after", secs)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	writeError(w, http.StatusTooManyRequests, "rate limited; retry after "+strconv.FormatInt(secs, 10)+"s")
	return nil, refused
}
