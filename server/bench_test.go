package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/server"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
)

const benchConfig = `listen: 127.0.0.1:0
data_dir: ./data
workers: 1
shutdown_grace: 1s
triggers:
  - name: t0
    provider: github
    secret: bench-secret
    events: [push]
    variables:
      - {name: ref, jsonpath: $.ref, regexp_filter: '^refs/heads/'}
      - {name: after, jsonpath: $.after}
      - {name: before, jsonpath: $.before}
      - {name: repo, jsonpath: $.repository.full_name}
      - {name: owner, jsonpath: $.repository.owner.login}
      - {name: pusher, jsonpath: $.pusher.name}
      - {name: head, jsonpath: $.head_commit.id}
      - {name: message, jsonpath: $.head_commit.message}
      - {name: sender, jsonpath: $.sender.login}
      - {name: compare, jsonpath: $.compare}
    run:
      command: [sleep, '600']
`

// BenchmarkHook measures one delivery through the handler (verify, extract,
// decide, durable record, 202) without the network, with parallel senders.
func BenchmarkHook(b *testing.B) {
	srv := MustNewServer(b, benchConfig)
	defer srv.Close(context.Background())
	defer b.StopTimer() // Close waits for the sleeping run: not part of the measure
	h := srv.Handler()
	var commits, ops, commitNanos atomic.Int64
	if db, ok := srv.Store().(*sqlite.DB); ok {
		db.CommitHook = func(n int, d time.Duration) { commits.Add(1); ops.Add(int64(n)); commitNanos.Add(int64(d)) }
	}
	defer func() {
		if c := commits.Load(); c > 0 {
			b.ReportMetric(float64(ops.Load())/float64(c), "writes/commit")
			b.ReportMetric(float64(commitNanos.Load())/float64(c)/1e6, "ms/commit")
		}
	}()
	body := []byte(fmt.Sprintf(`{"ref":"refs/heads/main","before":"%040d","after":"%040d","compare":"https://example.org/c","repository":{"full_name":"acme/app","owner":{"login":"acme"}},"pusher":{"name":"octocat"},"sender":{"login":"octocat"},"head_commit":{"id":"%040d","message":"hello"},"padding":"%s"}`, 1, 2, 3, bytes.Repeat([]byte("x"), 8000)))
	m := hmac.New(sha256.New, []byte("bench-secret"))
	m.Write(body)
	sig := "sha256=" + hex.EncodeToString(m.Sum(nil))
	var n atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodPost, "/hooks/t0", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", strconv.FormatInt(n.Add(1), 10))
			req.Header.Set("X-Hub-Signature-256", sig)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusAccepted {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
}

// MustNewServer builds a server (not listening) on the config text, in a temp
// data dir, with logs discarded.
func MustNewServer(tb testing.TB, configText string) *server.Server {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "hooktrigger.yaml")
	if err := os.WriteFile(path, []byte(configText), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}
