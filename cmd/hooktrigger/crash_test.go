package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
	_ "modernc.org/sqlite"
)

// crashSecret signs the deliveries of the durability tests.
const crashSecret = "crash-test-secret"

// githubConfig writes a config with one GitHub trigger whose script appends
// "DELIVERY RUN" to out with O_APPEND (one short write: atomic), and returns
// the config's path. extra is appended at the top level.
func githubConfig(tb testing.TB, dir, out string, workers int, extra string) string {
	tb.Helper()
	writeFile(tb, filepath.Join(dir, "build.sh"), `#!/bin/sh
printf '%s %s\n' "$HOOKTRIGGER_DELIVERY" "$HOOKTRIGGER_RUN_ID" >> "$OUT"
`)
	cfg := filepath.Join(dir, "hooktrigger.yaml")
	writeFile(tb, cfg, fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
api_token: api-secret
workers: %d
shutdown_grace: 20s
%s
triggers:
  - name: app
    path: /hooks/app
    provider: github
    secret: %s
    events: [push]
    variables:
      - {name: ref, jsonpath: $.ref}
      - {name: sha, jsonpath: $.after}
    run:
      command: [./build.sh]
      dir: .
      env: {OUT: %s}
`, workers, extra, crashSecret, out))
	return cfg
}

// pushBody is a small push payload naming its delivery.
func pushBody(id string) []byte {
	return []byte(`{"ref":"refs/heads/main","after":"` + fmt.Sprintf("%040x", id) + `","repository":{"full_name":"o/r"},"sender":{"login":"u"},"note":"` + id + `"}`)
}

// signedPush builds a signed GitHub push delivery request.
func signedPush(tb testing.TB, url, delivery string) *http.Request {
	tb.Helper()
	body := pushBody(delivery)
	m := hmac.New(sha256.New, []byte(crashSecret))
	m.Write(body)
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(m.Sum(nil)))
	return req
}

// hookAnswer is the decoded answer to one delivery.
type hookAnswer struct {
	Status    int
	Delivery  string `json:"delivery"`
	Duplicate bool   `json:"duplicate"`
	Runs      []struct {
		ID, Trigger, State, Log string
	} `json:"runs"`
	Skipped []struct{ Trigger, Reason string } `json:"skipped"`
}

// send posts one delivery; err is set when no complete answer came back.
func send(tb testing.TB, c *http.Client, url, delivery string) (*hookAnswer, error) {
	resp, err := c.Do(signedPush(tb, url, delivery))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	a := &hookAnswer{Status: resp.StatusCode}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(b, a); err != nil {
			return nil, fmt.Errorf("2xx body not JSON: %v: %s", err, b)
		}
	}
	return a, nil
}

func newClient(conc int) *http.Client {
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true},
	}
}

// waitIdle polls the API until no run is queued or running.
func waitIdle(tb testing.TB, base string, within time.Duration) {
	tb.Helper()
	api := map[string]string{"Authorization": "Bearer api-secret"}
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		live := 0
		for _, st := range []string{"queued", "running"} {
			r := Do(tb, "GET", base+"/api/runs?limit=1&state="+st, nil, api)
			if r.Status != 200 {
				tb.Fatalf("GET runs: %d %s", r.Status, r.Body)
			}
			rs, _ := r.JSON(tb)["runs"].([]any)
			live += len(rs)
		}
		if live == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("runs still queued or running after %s", within)
}

// executions reads the build scripts' output file: run ids per delivery id.
func executions(tb testing.TB, path string) map[string][]string {
	tb.Helper()
	out := map[string][]string{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		delivery, run, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			tb.Fatalf("torn line in the output file: %q", sc.Text())
		}
		out[delivery] = append(out[delivery], run)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// storedState is what the database holds after the test, read directly.
type storedState struct {
	deliveries map[string][]*store.Delivery // by sender id
	runs       map[string][]*store.Run      // by stored delivery id
}

func readStore(tb testing.TB, dbPath string) *storedState {
	tb.Helper()
	db, err := sqlite.Open(dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	return readAll(tb, db)
}

// readAll lists every delivery and run of db.
func readAll(tb testing.TB, db store.Store) *storedState {
	tb.Helper()
	ctx := context.Background()
	st := &storedState{deliveries: map[string][]*store.Delivery{}, runs: map[string][]*store.Run{}}
	for before := ""; ; {
		ds, err := db.Deliveries(ctx, store.DeliveryFilter{Before: before, Limit: 1000})
		if err != nil {
			tb.Fatal(err)
		}
		if len(ds) == 0 {
			break
		}
		for _, d := range ds {
			st.deliveries[d.SenderID] = append(st.deliveries[d.SenderID], d)
		}
		before = ds[len(ds)-1].ID
	}
	for before := ""; ; {
		rs, err := db.Runs(ctx, store.RunFilter{Before: before, Limit: 1000})
		if err != nil {
			tb.Fatal(err)
		}
		if len(rs) == 0 {
			break
		}
		for _, r := range rs {
			st.runs[r.DeliveryID] = append(st.runs[r.DeliveryID], r)
		}
		before = rs[len(rs)-1].ID
	}
	return st
}

// TestCrash_KillDuringLoad sends 2,000 signed deliveries at concurrency 32,
// SIGKILLs the server at a random moment, restarts it and resends what got
// no 2xx, as GitHub redelivers. Every 2xx must be stored with exactly its
// run, and no delivery may be stored or executed twice.
func TestCrash_KillDuringLoad(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		crashTest(t, "", func(dir string) *storedState {
			return readStore(t, filepath.Join(dir, "data", "hooktrigger.db"))
		})
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		dbURL := mustDatabase(t)
		crashTest(t, "database: "+dbURL, func(string) *storedState { return readPostgres(t, dbURL) })
	})
}

// crashTest is TestCrash_KillDuringLoad on the store that extra (config
// lines) selects; read lists what the store holds after the test.
func crashTest(t *testing.T, extra string, read func(dir string) *storedState) {
	const (
		total = 2000
		conc  = 32
	)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	killAfter := int64(200 + rng.IntN(total-500)) // answers seen before the kill
	t.Logf("seed %d: SIGKILL after %d answers", seed, killAfter)

	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	cfg := githubConfig(t, dir, out, 8, extra)
	p := MustServe(t, cfg)
	url := p.URL + "/hooks/app"

	ids := make([]string, total)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%05d-%x", i, rng.Uint32())
	}
	var (
		mu       sync.Mutex
		answers  = map[string]*hookAnswer{} // first 2xx per delivery id
		failed   []string                   // no 2xx: resend after restart
		answered atomic.Int64
		killOnce sync.Once
	)
	client := newClient(conc)
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				id := ids[i]
				a, err := send(t, client, url, id)
				mu.Lock()
				if err == nil && a.Status/100 == 2 {
					answers[id] = a
				} else {
					failed = append(failed, id)
				}
				mu.Unlock()
				if err == nil && answered.Add(1) == killAfter {
					killOnce.Do(p.Kill)
				}
			}
		}()
	}
	wg.Wait()
	killOnce.Do(p.Kill) // in case fewer answers came than planned
	acceptedBeforeKill := len(answers)
	failedBeforeKill := len(failed)
	client.CloseIdleConnections()

	// Restart and redeliver, as the sender would.
	p2 := MustServe(t, cfg)
	url = p2.URL + "/hooks/app"
	resentDup := 0
	client = newClient(conc)
	for round := 0; len(failed) > 0 && round < 5; round++ {
		var again []string
		var rwg sync.WaitGroup
		work := make(chan string)
		for range conc {
			rwg.Add(1)
			go func() {
				defer rwg.Done()
				for id := range work {
					a, err := send(t, client, url, id)
					mu.Lock()
					if err == nil && a.Status/100 == 2 {
						answers[id] = a
						if a.Duplicate {
							resentDup++
						}
					} else {
						again = append(again, id)
						if err == nil {
							t.Logf("resend %s: status %d", id, a.Status)
						} else {
							t.Logf("resend %s: %v", id, err)
						}
					}
					mu.Unlock()
				}
			}()
		}
		for _, id := range failed {
			work <- id
		}
		close(work)
		rwg.Wait()
		failed = again
	}
	if len(failed) > 0 {
		t.Fatalf("%d deliveries never got a 2xx after the restart", len(failed))
	}
	waitIdle(t, p2.URL, 3*time.Minute)
	p2.Stop(t)

	st := read(dir)
	ran := executions(t, out)
	lost, duplicated, interrupted, succeeded := 0, 0, 0, 0
	for _, id := range ids {
		a := answers[id]
		ds := st.deliveries[id]
		switch {
		case len(ds) == 0:
			lost++
			t.Errorf("delivery %s got %d but is not stored", id, a.Status)
			continue
		case len(ds) > 1:
			duplicated++
			t.Errorf("delivery %s is stored %d times", id, len(ds))
		}
		d := ds[0]
		if a.Delivery != d.ID {
			t.Errorf("delivery %s: answer names stored delivery %q, the store holds %q", id, a.Delivery, d.ID)
		}
		runs := st.runs[d.ID]
		if len(runs) != 1 {
			t.Errorf("delivery %s has %d runs, want 1", id, len(runs))
			continue
		}
		r := runs[0]
		if len(a.Runs) != 1 || a.Runs[0].ID != r.ID {
			t.Errorf("delivery %s: answer names runs %v, the store holds %s", id, a.Runs, r.ID)
		}
		lines := ran[id]
		switch {
		case len(lines) > 1:
			duplicated++
			t.Errorf("delivery %s executed %d times: %v", id, len(lines), lines)
		case r.State == store.Succeeded:
			succeeded++
			if len(lines) != 1 || lines[0] != r.ID {
				t.Errorf("run %s of %s succeeded but its script ran %d times (%v)", r.ID, id, len(lines), lines)
			}
		case r.State == store.Interrupted:
			// Executing when the server was killed: its script may or may
			// not have written its line, and it is not run again.
			interrupted++
			if len(lines) == 1 && lines[0] != r.ID {
				t.Errorf("interrupted run %s of %s: the line names run %s", r.ID, id, lines[0])
			}
		default:
			t.Errorf("run %s of %s ended %s (%s)", r.ID, id, r.State, r.Error)
		}
	}
	for id := range ran {
		if _, ok := st.deliveries[id]; !ok {
			t.Errorf("a script ran for delivery %s, which is not stored", id)
		}
	}
	if interrupted > 8 {
		t.Errorf("%d runs interrupted; at most the %d workers can be executing when killed", interrupted, 8)
	}
	t.Logf("accepted before kill %d, no answer before kill %d (resent: %d already stored → duplicate), lost %d, duplicated %d, succeeded %d, interrupted %d",
		acceptedBeforeKill, failedBeforeKill, resentDup, lost, duplicated, succeeded, interrupted)
}

// TestDedupe_FiftyConcurrentCopies sends one delivery id 50 times at once:
// exactly one run starts and the 49 others answer duplicate, naming it.
func TestDedupe_FiftyConcurrentCopies(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	p := MustServe(t, githubConfig(t, dir, out, 4, ""))
	client := newClient(50)
	const copies = 50
	answers := make([]*hookAnswer, copies)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range copies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			a, err := send(t, client, p.URL+"/hooks/app", "same-delivery-id")
			if err != nil {
				t.Error(err)
				return
			}
			answers[i] = a
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var originals []*hookAnswer
	var dups []*hookAnswer
	for _, a := range answers {
		switch {
		case a.Status == http.StatusAccepted && !a.Duplicate:
			originals = append(originals, a)
		case a.Status == http.StatusOK && a.Duplicate:
			dups = append(dups, a)
		default:
			t.Fatalf("unexpected answer %+v", a)
		}
	}
	if len(originals) != 1 || len(dups) != copies-1 {
		t.Fatalf("want 1 accepted and %d duplicates, got %d and %d", copies-1, len(originals), len(dups))
	}
	orig := originals[0]
	if len(orig.Runs) != 1 {
		t.Fatalf("the original answer names %d runs", len(orig.Runs))
	}
	for _, d := range dups {
		if d.Delivery != orig.Delivery || len(d.Runs) != 1 || d.Runs[0].ID != orig.Runs[0].ID {
			t.Fatalf("duplicate answer %+v does not name the original %+v", d, orig)
		}
	}
	WaitRun(t, p.URL, "api-secret", orig.Runs[0].ID)
	waitIdle(t, p.URL, time.Minute)
	ran := executions(t, out)
	if len(ran) != 1 || len(ran["same-delivery-id"]) != 1 || ran["same-delivery-id"][0] != orig.Runs[0].ID {
		t.Fatalf("want one execution of run %s, got %v", orig.Runs[0].ID, ran)
	}
}

// TestStoreUnavailable_503 holds the database's write lock from another
// process, as a backup tool or a second server on the same data_dir would:
// a delivery must get 503 with Retry-After (never a 2xx), /readyz must fail,
// and once the lock is gone the same delivery is accepted as new — nothing
// of the refused attempt was written.
func TestStoreUnavailable_503(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	p := MustServe(t, githubConfig(t, dir, out, 2, ""))
	url := p.URL + "/hooks/app"
	client := newClient(4)
	if r := Do(t, "GET", p.URL+"/readyz", nil, nil); r.Status != 200 {
		t.Fatalf("readyz before the lock: %d %s", r.Status, r.Body)
	}

	locker, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "data", "hooktrigger.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer locker.Close()
	ctx := context.Background()
	conn, err := locker.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var ready *Response
	wg.Add(1)
	go func() {
		defer wg.Done()
		ready = Do(t, "GET", p.URL+"/readyz", nil, nil)
	}()
	resp, err := client.Do(signedPush(t, url, "locked-delivery"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wg.Wait()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("delivery while the store is locked: want 503 with Retry-After, got %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if ready.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz while the store is locked: want 503, got %d %s", ready.Status, ready.Body)
	}

	if _, err := conn.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if r := Do(t, "GET", p.URL+"/readyz", nil, nil); r.Status != 200 {
		t.Fatalf("readyz after the lock: %d %s", r.Status, r.Body)
	}
	a, err := send(t, client, url, "locked-delivery")
	if err != nil {
		t.Fatal(err)
	}
	if a.Status != http.StatusAccepted || a.Duplicate || len(a.Runs) != 1 {
		t.Fatalf("redelivery after the lock: want 202 as a new delivery, got %+v", a)
	}
	WaitRun(t, p.URL, "api-secret", a.Runs[0].ID)
	if ran := executions(t, out); len(ran) != 1 || len(ran["locked-delivery"]) != 1 {
		t.Fatalf("want one execution, got %v", ran)
	}
}

// TestRetention runs the server with tiny retention periods: delivery bodies
// and finished runs (records and run directories) go once they are older,
// the delivery records stay; then max_runs keeps the newest runs only,
// applied at start.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	const keepBodies, keepRuns = 3 * time.Second, 5 * time.Second
	cfg := githubConfig(t, dir, out, 2, "retention: {deliveries: 3s, runs: 5s}")
	p := MustServe(t, cfg)
	api := map[string]string{"Authorization": "Bearer api-secret"}
	client := newClient(4)

	sent := time.Now()
	a, err := send(t, client, p.URL+"/hooks/app", "old-delivery")
	if err != nil || a.Status != http.StatusAccepted {
		t.Fatalf("send: %v %+v", err, a)
	}
	runID := a.Runs[0].ID
	WaitRun(t, p.URL, "api-secret", runID)
	runDir := filepath.Join(dir, "data", "runs", runID[len(runID)-1:], runID)
	if _, err := os.Stat(filepath.Join(runDir, "log")); err != nil {
		t.Fatalf("the run's log: %v", err)
	}
	body := func() string {
		r := Do(t, "GET", p.URL+"/api/deliveries/"+a.Delivery, nil, api)
		if r.Status != 200 {
			t.Fatalf("delivery record: %d %s", r.Status, r.Body)
		}
		b, _ := r.JSON(t)["body"].(string)
		return b
	}
	if b := body(); time.Since(sent) < keepBodies && !strings.Contains(b, "old-delivery") {
		t.Fatalf("body gone before its retention period: %q", b)
	}

	deadline := time.Now().Add(60 * time.Second)
	for body() != "" {
		if time.Now().After(deadline) {
			t.Fatal("the delivery body was not pruned within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if time.Since(sent) < keepBodies {
		t.Fatalf("body pruned after %s, before its retention of %s", time.Since(sent), keepBodies)
	}
	for Do(t, "GET", p.URL+"/api/runs/"+runID, nil, api).Status != http.StatusNotFound {
		if time.Now().After(deadline) {
			t.Fatal("the run was not pruned within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if time.Since(sent) < keepRuns {
		t.Fatalf("run pruned after %s, before its retention of %s", time.Since(sent), keepRuns)
	}
	// The rows go first, then the directories: wait for those too.
	waitUntil(t, "the pruned run's directory to go", gone(runDir))
	p.Stop(t)

	t.Run("MaxRuns", func(t *testing.T) {
		writeFile(t, cfg, strings.Replace(readFile(t, cfg), "retention: {deliveries: 3s, runs: 5s}", "retention: {max_runs: 2}", 1))
		p := MustServe(t, cfg)
		var ids []string
		for i := range 4 {
			a, err := send(t, client, p.URL+"/hooks/app", fmt.Sprintf("counted-%d", i))
			if err != nil || a.Status != http.StatusAccepted {
				t.Fatalf("send: %v %+v", err, a)
			}
			WaitRun(t, p.URL, "api-secret", a.Runs[0].ID)
			ids = append(ids, a.Runs[0].ID)
		}
		p.Stop(t)
		// A directory left by a run whose record is gone (hooktrigger
		// stopped between the two, or another instance pruned it) is
		// swept at start; one that is not shaped like a run's is kept.
		orphan := filepath.Join(dir, "data", "runs", "z", "01aaaaaaaaaaaaaaaaaaaaaaaz")
		stranger := filepath.Join(dir, "data", "runs", "z", "notes")
		for _, d := range []string{orphan, stranger} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(orphan, "log"), "left behind\n")
		p = MustServe(t, cfg) // retention is applied at start
		defer p.Stop(t)
		waitUntil(t, "the orphaned run directory to go", gone(orphan))
		if _, err := os.Stat(stranger); err != nil {
			t.Fatalf("the sweep removed a directory that is not a run's: %v", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for Do(t, "GET", p.URL+"/api/runs/"+ids[1], nil, api).Status != http.StatusNotFound {
			if time.Now().After(deadline) {
				t.Fatal("runs beyond max_runs were not pruned at start")
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := Do(t, "GET", p.URL+"/api/runs", nil, api)
		var list struct {
			Runs []struct {
				ID string `json:"id"`
			} `json:"runs"`
		}
		if err := json.Unmarshal(r.Body, &list); err != nil {
			t.Fatal(err)
		}
		if len(list.Runs) != 2 || list.Runs[0].ID != ids[3] || list.Runs[1].ID != ids[2] {
			t.Fatalf("want the 2 newest runs %v kept, got %s", ids[2:], r.Body)
		}
		for _, id := range ids[:2] {
			waitUntil(t, "the directory of pruned run "+id+" to go", gone(filepath.Join(dir, "data", "runs", id[len(id)-1:], id)))
		}
		for _, id := range ids[2:] {
			if _, err := os.Stat(filepath.Join(dir, "data", "runs", id[len(id)-1:], id, "log")); err != nil {
				t.Errorf("kept run %s lost its log: %v", id, err)
			}
		}
	})
}

func readFile(tb testing.TB, path string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// TestReplay_PrunedBodyRefused: once retention has removed a delivery's
// body, replaying it would run the builds on an empty payload; the API
// refuses with 410 and says why, and no run is created.
func TestReplay_PrunedBodyRefused(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	p := MustServe(t, githubConfig(t, dir, out, 2, "retention: {deliveries: 2s}"))
	api := map[string]string{"Authorization": "Bearer api-secret"}
	a, err := send(t, newClient(1), p.URL+"/hooks/app", "pruned-body")
	if err != nil || a.Status != http.StatusAccepted {
		t.Fatalf("send: %v %+v", err, a)
	}
	WaitRun(t, p.URL, "api-secret", a.Runs[0].ID)

	// Before retention: the replay is accepted.
	if r := Do(t, "POST", p.URL+"/api/deliveries/"+a.Delivery+"/replay", nil, api); r.Status != http.StatusAccepted {
		t.Fatalf("replay with the body kept: %d %s", r.Status, r.Body)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := Do(t, "GET", p.URL+"/api/deliveries/"+a.Delivery, nil, api)
		if b, _ := r.JSON(t)["body"].(string); b == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery body was not pruned within 60s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	runsBefore := Do(t, "GET", p.URL+"/api/runs?limit=100", nil, api).Body
	r := Do(t, "POST", p.URL+"/api/deliveries/"+a.Delivery+"/replay", nil, api)
	if r.Status != http.StatusGone || !strings.Contains(string(r.Body), "retention") {
		t.Fatalf("replay of a pruned body: %d %s, want 410 naming retention", r.Status, r.Body)
	}
	if after := Do(t, "GET", p.URL+"/api/runs?limit=100", nil, api).Body; string(after) != string(runsBefore) {
		t.Fatalf("a refused replay changed the runs:\nbefore %s\nafter  %s", runsBefore, after)
	}
}

// gone reports, when called, whether path no longer exists.
func gone(path string) func() bool {
	return func() bool {
		_, err := os.Stat(path)
		return os.IsNotExist(err)
	}
}
