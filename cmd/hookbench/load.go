package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
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
	IDPrefix    string
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
	sig := Sign(o.Secret, o.Body)
	tr := &http.Transport{
		MaxIdleConns:        o.C * 2,
		MaxIdleConnsPerHost: o.C * 2,
		MaxConnsPerHost:     o.C * 2,
		IdleConnTimeout:     time.Minute,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: o.Timeout}
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
			for {
				i := int(next.Add(1)) - 1
				if i >= o.N || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, urls[i%len(urls)], bytes.NewReader(o.Body))
				req.Header.Set("Content-Type", o.ContentType)
				req.Header.Set("X-GitHub-Event", o.Event)
				req.Header.Set("X-GitHub-Delivery", o.IDPrefix+strconv.Itoa(i))
				req.Header.Set("X-Hub-Signature-256", sig)
				req.Header.Set("User-Agent", "GitHub-Hookshot/hookbench")
				t0 := time.Now()
				resp, err := client.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					statuses[resp.StatusCode]++
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
