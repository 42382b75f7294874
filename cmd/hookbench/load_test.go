package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// recorder is a webhook receiver that checks each delivery as GitHub's
// receivers do and records its id.
type recorder struct {
	secret string
	body   []byte
	close  bool // answer with Connection: close

	mu  sync.Mutex
	ids map[string]int
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case !bytes.Equal(body, rc.body):
		http.Error(w, "body changed on the way", http.StatusBadRequest)
		return
	case r.Header.Get("X-Hub-Signature-256") != Sign(rc.secret, body):
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	case r.Header.Get("X-GitHub-Event") != "push" || r.Header.Get("Content-Type") != "application/json":
		http.Error(w, "missing headers", http.StatusBadRequest)
		return
	}
	rc.mu.Lock()
	rc.ids[r.URL.Path+" "+r.Header.Get("X-GitHub-Delivery")]++
	rc.mu.Unlock()
	if rc.close {
		w.Header().Set("Connection", "close")
	}
	w.WriteHeader(http.StatusAccepted)
	io.WriteString(w, `{"status":"accepted"}`)
}

// Every request arrives signed, whole and with its own delivery id, over
// kept-alive connections or ones the server closes after each answer, and
// across several URLs.
func TestLoad_SendsEveryDeliveryOnce(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		close bool
	}{
		{"keep-alive", 0, false},
		{"server closes", 0, true},
		{"large body", 300_000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := PushPayload(tc.size)
			rc := &recorder{secret: "s3cret", body: body, close: tc.close, ids: map[string]int{}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			const n = 300
			res, err := Load(context.Background(), LoadOptions{
				URLs: []string{srv.URL + "/hooks/a", srv.URL + "/hooks/b?x=1"}, N: n, C: 8,
				Body: body, Secret: "s3cret", IDPrefix: "id-",
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Statuses[http.StatusAccepted] != n || res.Errors != 0 {
				t.Fatalf("statuses %v, errors %d; want %d×202", res.Statuses, res.Errors, n)
			}
			if len(rc.ids) != n {
				t.Fatalf("%d distinct deliveries arrived, want %d", len(rc.ids), n)
			}
			for k, c := range rc.ids {
				path := strings.Fields(k)[0]
				if c != 1 || (path != "/hooks/a" && path != "/hooks/b") {
					t.Fatalf("delivery %q arrived %d times", k, c)
				}
			}
		})
	}
}

// A refused connection is an error of the request, not a hang.
func TestLoad_CountsErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	res, err := Load(context.Background(), LoadOptions{URL: url + "/hooks/a", N: 5, C: 2, Body: []byte("{}"), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 5 {
		t.Fatalf("errors %d, want 5 (statuses %v)", res.Errors, res.Statuses)
	}
}

// An answer sent before the body is read (503 for a body over the
// server's limit) is counted as that answer, not as a failed request.
func TestLoad_ReadsEarlyAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "2")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	res, err := Load(context.Background(), LoadOptions{URL: srv.URL + "/hooks/a", N: 6, C: 2, Body: PushPayload(8 << 20), Secret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Statuses[http.StatusServiceUnavailable] != 6 || res.Errors != 0 {
		t.Fatalf("statuses %v, errors %d; want 6×503", res.Statuses, res.Errors)
	}
}

// Delivery ids are UUIDs like GitHub's, in no order.
func TestIDSource_UUIDs(t *testing.T) {
	ids := newIDSource()
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	seen := map[string]bool{}
	ascending := 0
	prev := ""
	for i := 0; i < 1000; i++ {
		id := ids.next()
		if !uuid.MatchString(id) || seen[id] {
			t.Fatalf("id %d: %q (seen before: %v)", i, id, seen[id])
		}
		seen[id] = true
		if id > prev {
			ascending++
		}
		prev = id
	}
	if ascending > 600 || ascending < 400 {
		t.Fatalf("%d of 1000 ids sort after the one before: not in random order", ascending)
	}
}
