package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	s := MustStart(t, `listen: 127.0.0.1:0
data_dir: ./data
triggers:
  - name: limited
    path: /hooks/shared
    secret: tok
    rate_limit: {rate: 1/m, burst: 2}
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: free
    path: /hooks/free
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: limited-too
    path: /hooks/pair
    secret: tok
    rate_limit: {rate: 1/h, burst: 1}
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: unlimited-partner
    path: /hooks/pair
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
	good := map[string]string{"Authorization": "Bearer tok"}
	t.Run("StrangersDoNotSpendTheRate", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			if r := do(t, "POST", s.URL+"/hooks/shared", []byte(`{}`), map[string]string{"Authorization": "Bearer nope"}); r.Status != 401 {
				t.Fatalf("want 401, got %d", r.Status)
			}
		}
	})
	t.Run("BurstThen429", func(t *testing.T) {
		for i := 0; i < 2; i++ {
			if r := do(t, "POST", s.URL+"/hooks/shared", []byte(`{}`), good); r.Status != 202 {
				t.Fatalf("delivery %d within the burst: want 202, got %d %s", i, r.Status, r.Body)
			}
		}
		r := do(t, "POST", s.URL+"/hooks/shared", []byte(`{}`), good)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("over the burst: want 429, got %d %s", r.Status, r.Body)
		}
		ra, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || ra < 1 || ra > 60 {
			t.Fatalf("Retry-After %q: want 1..60 seconds for 1/m", r.Header.Get("Retry-After"))
		}
		if r := do(t, "POST", s.URL+"/hooks/free", []byte(`{}`), good); r.Status != 202 {
			t.Fatalf("another trigger is not limited: %d", r.Status)
		}
	})
	t.Run("SharedPathPartnerStillFires", func(t *testing.T) {
		if r := do(t, "POST", s.URL+"/hooks/pair", []byte(`{}`), good); r.Status != 202 || strings.Contains(string(r.Body), "rate limited") {
			t.Fatalf("first: %d %s", r.Status, r.Body)
		}
		r := do(t, "POST", s.URL+"/hooks/pair", []byte(`{}`), good)
		var rep struct {
			Runs    []struct{ Trigger string }
			Skipped []struct{ Trigger, Reason string }
		}
		if err := json.Unmarshal(r.Body, &rep); err != nil {
			t.Fatal(err)
		}
		if r.Status != 202 || len(rep.Runs) != 1 || rep.Runs[0].Trigger != "unlimited-partner" ||
			len(rep.Skipped) != 1 || rep.Skipped[0].Trigger != "limited-too" || !strings.Contains(rep.Skipped[0].Reason, "rate limited") {
			t.Fatalf("second: %d %s", r.Status, r.Body)
		}
	})
	t.Run("Counted", func(t *testing.T) {
		f := scrape(t, s.URL)
		for _, row := range []struct {
			trigger string
			want    float64
		}{
			{trigger: "limited", want: 1},
			{trigger: "limited-too", want: 1},
		} {
			if got, _ := value(f, "hooktrigger_deliveries_total", map[string]string{"trigger": row.trigger, "result": "rate_limited"}); got != row.want {
				t.Errorf("%s rate_limited = %v, want %v", row.trigger, got, row.want)
			}
		}
	})
}

func TestSlowloris(t *testing.T) {
	s := MustStart(t, `listen: 127.0.0.1:0
data_dir: ./data
read_header_timeout: 1s
triggers:
  - name: app
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
	// Timed from before the dial: the server's clock for the connection
	// starts at its accept, which the dial precedes.
	start := time.Now()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	head := "POST /hooks/app HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer tok\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
	sent := make(chan int, 1)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for i := 0; i < len(head); i++ {
			if _, err := conn.Write([]byte{head[i]}); err != nil {
				return
			}
			n++
			time.Sleep(100 * time.Millisecond)
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	rest, err := io.ReadAll(bufio.NewReader(conn))
	cut := time.Since(start)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the trickling connection open for 30s")
	}
	// net/http closes the connection, at most with a 400 or 408 of its own;
	// the handler never sees the request.
	if len(rest) > 0 && !strings.HasPrefix(string(rest), "HTTP/1.1 400") && !strings.HasPrefix(string(rest), "HTTP/1.1 408") {
		t.Fatalf("the server answered the trickled request: %q", rest)
	}
	conn.Close()
	n := <-sent
	if n >= len(head) {
		t.Fatalf("all %d header bytes were sent before the cut (%v)", n, cut)
	}
	t.Logf("cut off after %v, %d of %d header bytes sent", cut, n, len(head))
	if cut < time.Second {
		t.Fatalf("cut after %v, before read_header_timeout (1s)", cut)
	}
	if r := do(t, "POST", s.URL+"/hooks/app", []byte(`{}`), map[string]string{"Authorization": "Bearer tok"}); r.Status != 202 {
		t.Fatalf("a prompt client after the slow one: %d %s", r.Status, r.Body)
	}
}

// startBig serves one trigger, /hooks/big, with the limits given.
func startBig(t *testing.T, limits string) *testServer {
	return MustStart(t, "listen: 127.0.0.1:0\ndata_dir: ./data\n"+limits+`triggers:
  - name: big
    path: /hooks/big
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
}

// Releasing a large body starts a collection at once: with a few bodies of
// tens of MB in flight, the collector's own pace lets the heap grow to
// twice their size before it looks again. A small body does not.
func TestLargeBodyStartsCollection(t *testing.T) {
	s := startBig(t, "max_body: 16MiB\n")
	good := map[string]string{"Authorization": "Bearer tok"}
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // only explicit collections
	numGC := func() uint32 {
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.NumGC
	}
	before := numGC()
	if r := do(t, "POST", s.URL+"/hooks/big", []byte(`{"small":true}`), good); r.Status != 202 {
		t.Fatalf("small body: %d %s", r.Status, r.Body)
	}
	time.Sleep(300 * time.Millisecond)
	if n := numGC(); n != before {
		t.Fatalf("a small body started %d collections", n-before)
	}
	big := []byte(`{"blob":"` + strings.Repeat("x", 5<<20) + `"}`)
	if r := do(t, "POST", s.URL+"/hooks/big", big, good); r.Status != 202 {
		t.Fatalf("large body: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for numGC() == before {
		if time.Now().After(deadline) {
			t.Fatal("no collection after a 5 MB body was released")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A large body's bytes are released after the collection that frees it; a
// sender of one large body after another, with room for only one, waits
// those milliseconds instead of getting 503.
func TestLargeBodiesBackToBack(t *testing.T) {
	s := startBig(t, "max_body: 6MiB\nmax_inflight_bytes: 6MiB\n")
	good := map[string]string{"Authorization": "Bearer tok"}
	for i := 0; i < 6; i++ {
		big := []byte(`{"n":` + strconv.Itoa(i) + `,"blob":"` + strings.Repeat("x", 5<<20) + `"}`)
		if r := do(t, "POST", s.URL+"/hooks/big", big, good); r.Status != 202 {
			t.Fatalf("body %d: %d %s", i, r.Status, r.Body)
		}
	}
}
