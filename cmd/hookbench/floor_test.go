package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startFloorHandler runs floorCmd in this process and returns its URL.
func startFloorHandler(t *testing.T, kind, dir string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	// floorCmd prints "listening ADDR" on stdout: read it from a pipe.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	done := make(chan error, 1)
	go func() { done <- floorCmd(ctx, []string{"-store", kind, "-dir", dir}) }()
	line, err := bufio.NewReader(r).ReadString('\n')
	os.Stdout = stdout
	w.Close()
	r.Close()
	if err != nil {
		cancel()
		t.Fatalf("floor %s did not print its address: %v", kind, err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("floor %s: %v", kind, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("floor %s did not stop", kind)
		}
	})
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening "))
}

// The floor handlers answer 202 only for bodies that are in their store.
func TestFloor_StoresEveryAcceptedBody(t *testing.T) {
	for _, kind := range []string{"file", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			url := startFloorHandler(t, kind, dir)
			var wg sync.WaitGroup
			bodies := make([]string, 20)
			for i := range bodies {
				bodies[i] = fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i*100))
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := http.Post(url+"/hooks/t0", "application/json", strings.NewReader(bodies[i]))
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					if resp.StatusCode != http.StatusAccepted {
						t.Errorf("body %d: status %d, want 202", i, resp.StatusCode)
					}
				}()
			}
			wg.Wait()
			var stored []byte
			switch kind {
			case "file":
				b, err := os.ReadFile(filepath.Join(dir, "bodies"))
				if err != nil {
					t.Fatal(err)
				}
				stored = b
			case "sqlite":
				db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "floor.db")+"?_pragma=query_only(1)")
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				rows, err := db.Query(`SELECT body FROM deliveries`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				n := 0
				for rows.Next() {
					var b []byte
					if err := rows.Scan(&b); err != nil {
						t.Fatal(err)
					}
					stored = append(append(stored, b...), '\n')
					n++
				}
				if n != len(bodies) {
					t.Errorf("%d rows, want %d", n, len(bodies))
				}
			}
			for i, b := range bodies {
				if !bytes.Contains(stored, []byte(b)) {
					t.Errorf("body %d answered 202 but is not stored", i)
				}
			}
		})
	}
}
