package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions describes one load run: N signed GitHub deliveries sent at
// concurrency C to URL.
type LoadOptions struct {
	URL         string
	URLs        []string // when set, each request picks the next URL (round robin)
	N           int
	C           int
	Body        []byte
	Secret      string
	Event       string
	IDPrefix    string // put before each delivery id, a random UUID as GitHub sends
	Timeout     time.Duration
	ContentType string
}

// LoadResult is what one load run measured.
type LoadResult struct {
	N        int
	Elapsed  time.Duration
	RPS      float64
	P50, P90 time.Duration
	P99, Max time.Duration
	Statuses map[int]int
	Errors   int
}

func (r *LoadResult) String() string {
	keys := make([]int, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	hist := ""
	for _, k := range keys {
		hist += fmt.Sprintf(" %d×%d", k, r.Statuses[k])
	}
	if r.Errors > 0 {
		hist += fmt.Sprintf(" errors×%d", r.Errors)
	}
	return fmt.Sprintf("%d requests in %.2fs: %.0f req/s, p50 %s p90 %s p99 %s max %s, statuses:%s",
		r.N, r.Elapsed.Seconds(), r.RPS, ms(r.P50), ms(r.P90), ms(r.P99), ms(r.Max), hist)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000) }

// Sign returns GitHub's X-Hub-Signature-256 value for body.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Load sends the deliveries and measures them.
func Load(ctx context.Context, o LoadOptions) (*LoadResult, error) {
	if o.C < 1 {
		o.C = 1
	}
	if o.Timeout == 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Event == "" {
		o.Event = "push"
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	urls := o.URLs
	if len(urls) == 0 {
		urls = []string{o.URL}
	}
	reqs, err := newRequests(urls, o)
	if err != nil {
		return nil, err
	}
	lat := make([]time.Duration, o.N)
	var mu sync.Mutex
	statuses := map[int]int{}
	errs := 0
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < o.C; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conns := map[string]*sender{}
			ids := newIDSource()
			defer func() {
				for _, c := range conns {
					c.close()
				}
			}()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.N || ctx.Err() != nil {
					return
				}
				rq := reqs[i%len(reqs)]
				c := conns[rq.addr]
				if c == nil {
					c = &sender{addr: rq.addr, timeout: o.Timeout}
					conns[rq.addr] = c
				}
				t0 := time.Now()
				code, err := c.send(rq, o.IDPrefix+ids.next(), o.Body)
				lat[i] = time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					statuses[code]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return &LoadResult{N: o.N, Elapsed: elapsed, RPS: float64(o.N) / elapsed.Seconds(),
		P50: q(0.50), P90: q(0.90), P99: q(0.99), Max: lat[len(lat)-1], Statuses: statuses, Errors: errs}, nil
}

// request is one target's request, built once: the head up to the
// delivery id header, which is the only part that changes per request.
type request struct {
	addr string // host:port
	head []byte
}

// newRequests builds the request heads for urls.
func newRequests(urls []string, o LoadOptions) ([]request, error) {
	sig := Sign(o.Secret, o.Body)
	reqs := make([]request, len(urls))
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" {
			return nil, fmt.Errorf("load: %s: only http:// URLs are supported", raw)
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), "80")
		}
		head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: GitHub-Hookshot/hookbench\r\n"+
			"Content-Type: %s\r\nContent-Length: %d\r\nX-GitHub-Event: %s\r\nX-Hub-Signature-256: %s\r\nX-GitHub-Delivery: ",
			u.RequestURI(), u.Host, o.ContentType, len(o.Body), o.Event, sig)
		reqs[i] = request{addr: addr, head: []byte(head)}
	}
	return reqs, nil
}

// sender sends requests over one kept-alive HTTP/1.1 connection, with one
// write and no goroutine of its own per request: on a 2-core machine the
// sender shares the CPU with the server it measures, and net/http's
// client, with a reader and a writer goroutine per connection, cost about
// 330 µs of CPU per request there, and this about 180 µs.
type sender struct {
	addr    string
	timeout time.Duration
	conn    net.Conn
	br      *bufio.Reader
	buf     []byte
}

// send posts body with the delivery id and returns the status code. A
// connection that fails is dropped; the next request dials a new one.
func (s *sender) send(rq request, id string, body []byte) (int, error) {
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			return 0, err
		}
		s.conn, s.br = c, bufio.NewReaderSize(c, 4096)
	}
	code, keep, err := s.roundTrip(rq, id, body)
	if err != nil || !keep {
		s.close()
	}
	return code, err
}

func (s *sender) roundTrip(rq request, id string, body []byte) (code int, keep bool, err error) {
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		return 0, false, err
	}
	// Head and body in one write when the body is small; a large body is
	// written from where it is.
	s.buf = append(append(append(s.buf[:0], rq.head...), id...), "\r\n\r\n"...)
	if len(body) <= 64<<10 {
		s.buf = append(s.buf, body...)
		_, err = s.conn.Write(s.buf)
	} else {
		bufs := net.Buffers{s.buf, body}
		_, err = bufs.WriteTo(s.conn)
	}
	if err != nil {
		// A server may answer before it has read the whole body (a 503
		// for a body that does not fit, a 413) and close the connection:
		// the write fails, and the answer is there to read, as it is for
		// GitHub's sender.
		if derr := s.conn.SetReadDeadline(time.Now().Add(time.Second)); derr != nil {
			return 0, false, err
		}
		if resp, rerr := http.ReadResponse(s.br, nil); rerr == nil {
			resp.Body.Close()
			return resp.StatusCode, false, nil
		}
		return 0, false, err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return 0, false, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, !resp.Close && err == nil, err
}

func (s *sender) close() {
	if s.conn != nil {
		s.conn.Close()
		s.conn, s.br = nil, nil
	}
}

// idSource makes delivery ids shaped like GitHub's X-GitHub-Delivery, a
// UUID whose leading digits vary from one delivery to the next. Sequential
// ids would let the store's deduplication index take every insert at one
// end, which real senders never do.
type idSource struct {
	rng *rand.ChaCha8
	buf [36]byte
}

func newIDSource() *idSource {
	var seed [32]byte
	_, _ = crand.Read(seed[:])
	return &idSource{rng: rand.NewChaCha8(seed)}
}

func (s *idSource) next() string {
	var b [16]byte
	_, _ = s.rng.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	hex.Encode(s.buf[0:8], b[0:4])
	s.buf[8] = '-'
	hex.Encode(s.buf[9:13], b[4:6])
	s.buf[13] = '-'
	hex.Encode(s.buf[14:18], b[6:8])
	s.buf[18] = '-'
	hex.Encode(s.buf[19:23], b[8:10])
	s.buf[23] = '-'
	hex.Encode(s.buf[24:36], b[10:16])
	return string(s.buf[:])
}
