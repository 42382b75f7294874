package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
)

// TestQueuedRunsDoNotPinBodies sends 40 deliveries of 2 MB whose runs all
// wait behind one busy worker, then checks the live heap: the queued runs
// keep their variables, not the bodies those variables were cut from.
func TestQueuedRunsDoNotPinBodies(t *testing.T) {
	srv := MustNewServer(t, benchConfig)
	if err := srv.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close(context.Background())
	h := srv.Handler()
	const n, size = 40, 2 << 20
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","after":"%040d","repository":{"full_name":"acme/app"},"padding":"%s"}`, 7, bytes.Repeat([]byte("x"), size)))
	m := hmac.New(sha256.New, []byte("bench-secret"))
	m.Write(body)
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	for i := 0; i < n; i++ {
		// A fresh copy per request, as the network would give.
		req := httptest.NewRequest(http.MethodPost, "/hooks/t0", bytes.NewReader(bytes.Clone(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", "push")
		req.Header.Set("X-GitHub-Delivery", "pin-"+strconv.Itoa(i))
		req.Header.Set("X-Hub-Signature-256", sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusAccepted {
			t.Fatalf("delivery %d: %d %s", i, w.Code, w.Body)
		}
	}
	if queued, _ := srv.Scheduler().Stats(); queued < n-2 {
		t.Fatalf("want the runs waiting behind the busy worker, %d queued", queued)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("live heap with %d queued runs of %d MB deliveries: %.1f MiB", n, size>>20, float64(ms.HeapAlloc)/(1<<20))
	if limit := uint64(n * size / 4); ms.HeapAlloc > limit {
		t.Fatalf("live heap %d MiB: the queued runs pin their bodies (%d × %d MiB sent)", ms.HeapAlloc>>20, n, size>>20)
	}
}
