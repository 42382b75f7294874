package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/postgres"
	"github.com/hooktrigger/hooktrigger/store/storetest"
)

// mustDatabase is storetest.PostgresDatabase: an empty database, or a skip.
var mustDatabase = storetest.PostgresDatabase

// pgInstance writes the config of one instance (its own data_dir, the
// shared database) in dir/name and returns its path. The triggers:
//   - app (parallel): appends "DELIVERY RUN" to out;
//   - serial (queue group "one"): takes a mkdir lock, notes an overlap in
//     out if the lock is held, holds it 50ms;
//   - slow: sleeps 60s;
//   - retry (retry_interrupted): sleeps 60s the first time, then succeeds;
//   - latest (cancel-previous group "deploy"): sleeps 60s;
//   - solo (skip-if-running group "solo"): sleeps 60s.
func pgInstance(tb testing.TB, dir, name, dbURL, out string) string {
	tb.Helper()
	idir := filepath.Join(dir, name)
	if err := os.MkdirAll(idir, 0o755); err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, filepath.Join(dir, "build.sh"), `#!/bin/sh
printf '%s %s\n' "$HOOKTRIGGER_DELIVERY" "$HOOKTRIGGER_RUN_ID" >> "$OUT"
`)
	writeFile(tb, filepath.Join(dir, "serial.sh"), `#!/bin/sh
if ! mkdir "$LOCK" 2>/dev/null; then printf 'OVERLAP %s\n' "$HOOKTRIGGER_RUN_ID" >> "$OUT"; fi
printf '%s %s\n' "$HOOKTRIGGER_DELIVERY" "$HOOKTRIGGER_RUN_ID" >> "$OUT"
sleep 0.05
rmdir "$LOCK"
`)
	writeFile(tb, filepath.Join(dir, "retry.sh"), `#!/bin/sh
if [ -e "$MARK" ]; then echo attempt two; printf 'retried %s\n' "$HOOKTRIGGER_RUN_ID" >> "$OUT"; exit 0; fi
touch "$MARK"
echo attempt one
sleep 60
`)
	cfg := filepath.Join(idir, "hooktrigger.yaml")
	writeFile(tb, cfg, fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
database: %[1]s
api_token: api-secret
workers: 4
shutdown_grace: 1s
triggers:
  - name: app
    path: /hooks/app
    provider: github
    secret: %[2]s
    run:
      command: [%[6]s/build.sh]
      env: {OUT: %[3]s}
  - name: serial
    path: /hooks/serial
    provider: github
    secret: %[2]s
    run:
      command: [%[6]s/serial.sh]
      env: {OUT: %[3]s, LOCK: %[4]s}
      concurrency: {group: one, policy: queue}
  - name: slow
    path: /hooks/slow
    provider: github
    secret: %[2]s
    run:
      command: [sleep, "60"]
  - name: retry
    path: /hooks/retry
    provider: github
    secret: %[2]s
    run:
      command: [%[6]s/retry.sh]
      env: {OUT: %[3]s, MARK: %[5]s}
      retry_interrupted: true
  - name: latest
    path: /hooks/latest
    provider: github
    secret: %[2]s
    run:
      command: [sleep, "60"]
      kill_grace: 2s
      concurrency: {group: deploy, policy: cancel-previous}
  - name: calm
    path: /hooks/calm
    provider: github
    secret: %[2]s
    run:
      command: [%[6]s/build.sh]
      env: {OUT: %[3]s}
      concurrency: {group: calm, policy: queue}
      quiet_period: 2s
  - name: talk
    path: /hooks/talk
    provider: github
    secret: %[2]s
    run:
      script: 'for i in 1 2 3 4 5; do echo "line $i"; sleep 0.3; done; head -c 300000 /dev/zero | tr "\\0" x; echo; echo done'
  - name: solo
    path: /hooks/solo
    provider: github
    secret: %[2]s
    run:
      command: [sleep, "60"]
      kill_grace: 2s
      concurrency: {group: solo, policy: skip-if-running}
  - name: flaky
    path: /hooks/flaky
    provider: github
    secret: %[2]s
    run:
      script: 'echo "attempt $HOOKTRIGGER_ATTEMPT"; [ "$HOOKTRIGGER_ATTEMPT" -ge 2 ]'
      retry: {max: 2, delay: 1s}
`, dbURL, crashSecret, out, filepath.Join(dir, "serial.lock"), filepath.Join(dir, "retry.mark"), dir))
	return cfg
}

// readPostgres lists every delivery and run of the database.
func readPostgres(tb testing.TB, dbURL string) *storedState {
	tb.Helper()
	db, err := postgres.Open(context.Background(), dbURL, postgres.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	return readAll(tb, db)
}

// startTwoInstances starts instances a and b (pgInstance) on a new
// database, dbURL; out is the file their builds append to.
func startTwoInstances(t *testing.T) (a, b *Proc, dbURL, out string) {
	t.Helper()
	dbURL = mustDatabase(t)
	dir := t.TempDir()
	out = filepath.Join(dir, "executed.txt")
	a = MustServe(t, pgInstance(t, dir, "a", dbURL, out))
	b = MustServe(t, pgInstance(t, dir, "b", dbURL, out))
	return a, b, dbURL, out
}

// TestPostgres_TwoInstances runs two real servers on one database and
// spreads 1,000 deliveries over both: every run executes exactly once, on
// one of them, and the runs of a queue group never overlap, although both
// instances hold them.
func TestPostgres_TwoInstances(t *testing.T) {
	a, b, dbURL, out := startTwoInstances(t)

	const total, serial, conc = 1000, 40, 32
	type job struct{ url, id string }
	var jobs []job
	for i := range total {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		jobs = append(jobs, job{base + "/hooks/app", fmt.Sprintf("app-%04d", i)})
	}
	for i := range serial {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		jobs = append(jobs, job{base + "/hooks/serial", fmt.Sprintf("serial-%02d", i)})
	}
	client := newClient(conc)
	var next atomic.Int64
	var mu sync.Mutex
	answers := map[string]*hookAnswer{}
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(jobs) {
					return
				}
				a, err := send(t, client, jobs[i].url, jobs[i].id)
				if err != nil || a.Status != http.StatusAccepted {
					t.Errorf("%s: %v %+v", jobs[i].id, err, a)
					continue
				}
				mu.Lock()
				answers[jobs[i].id] = a
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	waitIdle(t, a.URL, 3*time.Minute)

	st := readPostgres(t, dbURL)
	ran := executions(t, out)
	perInstance := map[string]int{}
	for _, j := range jobs {
		ds := st.deliveries[j.id]
		if len(ds) != 1 {
			t.Errorf("delivery %s stored %d times", j.id, len(ds))
			continue
		}
		runs := st.runs[ds[0].ID]
		if len(runs) != 1 || runs[0].ID != answers[j.id].Runs[0].ID {
			t.Errorf("delivery %s: %d runs stored, answer named %v", j.id, len(runs), answers[j.id].Runs)
			continue
		}
		r := runs[0]
		if r.State != store.Succeeded {
			t.Errorf("run %s of %s: %s (%s)", r.ID, j.id, r.State, r.Error)
		}
		if lines := ran[j.id]; len(lines) != 1 || lines[0] != r.ID {
			t.Errorf("delivery %s executed %d times: %v", j.id, len(lines), lines)
		}
		perInstance[r.Instance]++
	}
	if overlaps := ran["OVERLAP"]; len(overlaps) > 0 {
		t.Errorf("runs of queue group \"one\" overlapped %d times: %v", len(overlaps), overlaps)
	}
	if len(perInstance) != 2 {
		t.Errorf("want runs executed by both instances, got %v", perInstance)
	}
	t.Logf("runs per instance: %v", perInstance)
}

// TestPostgres_KillInstanceMidRun SIGKILLs the instance executing a run:
// the other one marks the run interrupted once the heartbeat is stale, and
// runs it again when its trigger says retry_interrupted.
func TestPostgres_KillInstanceMidRun(t *testing.T) {
	dbURL := mustDatabase(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	// Only a runs at first, so both runs start there; b comes up while
	// they execute.
	a := MustServe(t, pgInstance(t, dir, "a", dbURL, out))
	client := newClient(2)
	api := map[string]string{"Authorization": "Bearer api-secret"}

	var runIDs []string
	for _, path := range []string{"/hooks/slow", "/hooks/retry"} {
		ans, err := send(t, client, a.URL+path, "kill-"+path[len("/hooks/"):])
		if err != nil || ans.Status != http.StatusAccepted {
			t.Fatalf("%s: %v %+v", path, err, ans)
		}
		runIDs = append(runIDs, ans.Runs[0].ID)
	}
	getRun := func(id string) map[string]any {
		r := Do(t, "GET", a.URL+"/api/runs/"+id, nil, api)
		if r.Status != 200 {
			t.Fatalf("GET run: %d %s", r.Status, r.Body)
		}
		return r.JSON(t)
	}
	waitFor := func(what string, within time.Duration, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %s", what, within)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitFor("both runs running", 30*time.Second, func() bool {
		for _, id := range runIDs {
			if getRun(id)["state"] != "running" {
				return false
			}
		}
		return true
	})
	inst0 := fmt.Sprint(getRun(runIDs[0])["instance"])
	if !strings.Contains(inst0, fmt.Sprintf(":%d/", a.cmd.Process.Pid)) || getRun(runIDs[1])["instance"] != inst0 {
		t.Fatalf("want both runs on instance a (pid %d), got %s and %v", a.cmd.Process.Pid, inst0, getRun(runIDs[1])["instance"])
	}
	survivor := MustServe(t, pgInstance(t, dir, "b", dbURL, out))
	a.Kill()

	get := func(id string) map[string]any {
		r := Do(t, "GET", survivor.URL+"/api/runs/"+id, nil, api)
		return r.JSON(t)
	}
	waitFor("the slow run marked interrupted by the survivor", 60*time.Second, func() bool {
		return get(runIDs[0])["state"] == "interrupted"
	})
	if slow := get(runIDs[0]); !strings.Contains(fmt.Sprint(slow["error"]), inst0) {
		t.Errorf("the interrupted run's error does not name the dead instance %v: %v", inst0, slow["error"])
	}
	waitFor("the retry run executed again by the survivor", 60*time.Second, func() bool {
		return get(runIDs[1])["state"] == "succeeded"
	})
	retried := get(runIDs[1])
	if retried["instance"] == inst0 || retried["attempt"] != float64(1) {
		t.Errorf("want the retried run on the survivor at attempt 1, got %v", retried)
	}
	if ran := executions(t, out); len(ran["retried"]) != 1 || ran["retried"][0] != runIDs[1] {
		t.Errorf("want one retried execution of %s, got %v", runIDs[1], ran)
	}
	// Instance a, started again, still has the first attempt's log file;
	// it must serve the log of the attempt that ran last, from the store.
	a = MustServe(t, pgInstance(t, dir, "a", dbURL, out))
	for _, inst := range []*Proc{a, survivor} {
		if log := Do(t, "GET", inst.URL+"/api/runs/"+runIDs[1]+"/log", nil, api); string(log.Body) != "attempt two\n" {
			t.Errorf("log of the retried run through %s: %d %q, want the second attempt's", inst.URL, log.Status, log.Body)
		}
	}
}

// pgPair starts instance a alone, sends it a delivery on path so that its
// run starts there, then starts instance b and waits for that run to run
// on a.
type pgPair struct {
	a, b   *Proc
	first  *hookAnswer
	client *http.Client
	dbURL  string
}

var pgAPI = map[string]string{"Authorization": "Bearer api-secret"}

func startPGPair(t *testing.T, path, delivery string) *pgPair {
	t.Helper()
	dbURL := mustDatabase(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	p := &pgPair{client: newClient(2), dbURL: dbURL}
	p.a = MustServe(t, pgInstance(t, dir, "a", dbURL, out))
	var err error
	p.first, err = send(t, p.client, p.a.URL+path, delivery)
	if err != nil || p.first.Status != http.StatusAccepted {
		t.Fatalf("first delivery: %v %+v", err, p.first)
	}
	p.b = MustServe(t, pgInstance(t, dir, "b", dbURL, out))
	running := p.waitState(t, p.b, p.first.Runs[0].ID, "running")
	if !p.on(p.a, running) {
		t.Fatalf("want the first run on instance a (pid %d), got %v", p.a.cmd.Process.Pid, running["instance"])
	}
	return p
}

// on reports whether run executes (or executed) on instance i.
func (p *pgPair) on(i *Proc, run map[string]any) bool {
	return strings.Contains(fmt.Sprint(run["instance"]), fmt.Sprintf(":%d/", i.cmd.Process.Pid))
}

// waitState waits up to 30s for run id to reach state, read through i.
func (p *pgPair) waitState(t *testing.T, i *Proc, id, state string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := Do(t, "GET", i.URL+"/api/runs/"+id, nil, pgAPI)
		if r.Status != 200 {
			t.Fatalf("GET run %s: %d %s", id, r.Status, r.Body)
		}
		run := r.JSON(t)
		if run["state"] == state {
			return run
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: want %s within 30s, got %v", id, state, run)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestPostgres_CancelAcrossInstances: a cancel-previous run recorded on
// one instance stops the run of its group executing on another, and the
// API of one instance cancels a run executing on the other.
func TestPostgres_CancelAcrossInstances(t *testing.T) {
	p := startPGPair(t, "/hooks/latest", "deploy-1")
	first := p.first.Runs[0].ID

	// The newer delivery arrives at b: a's run of the group is stopped.
	second, err := send(t, p.client, p.b.URL+"/hooks/latest", "deploy-2")
	if err != nil || second.Status != http.StatusAccepted {
		t.Fatalf("second delivery: %v %+v", err, second)
	}
	stopped := p.waitState(t, p.b, first, "cancelled")
	if want := "cancelled by newer run " + second.Runs[0].ID; !strings.Contains(fmt.Sprint(stopped["error"]), want) {
		t.Errorf("the cancelled run's error %v does not say %q", stopped["error"], want)
	}
	if stopped["signal"] != "SIGTERM" {
		t.Errorf("want the first run stopped with SIGTERM, got %v", stopped["signal"])
	}
	// The newer run then starts, on either instance; cancel it through the
	// API of the instance that does not execute it.
	newer := p.waitState(t, p.a, second.Runs[0].ID, "running")
	other := p.a
	if p.on(p.a, newer) {
		other = p.b
	}
	r := Do(t, "POST", other.URL+"/api/runs/"+second.Runs[0].ID+"/cancel", nil, pgAPI)
	if r.Status != http.StatusAccepted {
		t.Fatalf("cancel through the other instance: %d %s", r.Status, r.Body)
	}
	ended := p.waitState(t, other, second.Runs[0].ID, "cancelled")
	if !strings.Contains(fmt.Sprint(ended["error"]), "cancelled through the API") {
		t.Errorf("the run cancelled through the API says %v", ended["error"])
	}
	// A run that is not running anywhere is not cancelled again.
	if r := Do(t, "POST", other.URL+"/api/runs/"+first+"/cancel", nil, pgAPI); r.Status == http.StatusAccepted {
		t.Errorf("cancel of an ended run: %d %s", r.Status, r.Body)
	}
}

// TestPostgres_SkipIfRunningAcrossInstances: a skip-if-running delivery to
// one instance is skipped while its group runs on another.
func TestPostgres_SkipIfRunningAcrossInstances(t *testing.T) {
	p := startPGPair(t, "/hooks/solo", "solo-1")
	second, err := send(t, p.client, p.b.URL+"/hooks/solo", "solo-2")
	if err != nil || second.Status != http.StatusAccepted {
		t.Fatalf("second delivery: %v %+v", err, second)
	}
	skipped := p.waitState(t, p.b, second.Runs[0].ID, "skipped")
	if got := skipped["error"]; !strings.Contains(fmt.Sprint(got), "already queued or running") {
		t.Errorf("the skipped run says %v", got)
	}
	p.waitState(t, p.b, p.first.Runs[0].ID, "running") // undisturbed
	// The instance that recorded the run and the one that may have adopted
	// it can both see the group busy; the skip is counted once.
	time.Sleep(time.Second)
	if n := skippedCount(t, p.a) + skippedCount(t, p.b); n != 1 {
		t.Errorf("skipped runs counted by the two instances: %v, want 1", n)
	}
}

// skippedCount reads the skipped runs of trigger solo from i's metrics.
func skippedCount(t *testing.T, i *Proc) float64 {
	t.Helper()
	r := Do(t, "GET", i.URL+"/metrics", nil, nil)
	m := regexp.MustCompile(`(?m)^hooktrigger_runs_total\{state="skipped",trigger="solo"\} (\S+)$`).FindStringSubmatch(string(r.Body))
	if m == nil {
		return 0
	}
	var n float64
	fmt.Sscan(m[1], &n)
	return n
}

// TestPostgres_SkipIfRunningAdopted: a skip-if-running run that no
// instance enqueued itself (its instance recorded it and died before
// scheduling it) is adopted from the database by another; when its group is
// running, it is skipped there too, never left waiting for the group.
func TestPostgres_SkipIfRunningAdopted(t *testing.T) {
	p := startPGPair(t, "/hooks/solo", "solo-adopted-1")
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, p.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	orphan := store.NewID()
	if _, err := conn.Exec(ctx, `INSERT INTO runs (id, delivery_id, trigger, state, grp, vars, meta, created_at)
		SELECT $1, delivery_id, trigger, 'queued', grp, vars, meta, now() FROM runs WHERE id = $2`, orphan, p.first.Runs[0].ID); err != nil {
		t.Fatal(err)
	}
	skipped := p.waitState(t, p.b, orphan, "skipped")
	if got := fmt.Sprint(skipped["error"]); !strings.Contains(got, "already queued or running") {
		t.Errorf("the adopted run says %q", got)
	}
	p.waitState(t, p.b, p.first.Runs[0].ID, "running") // undisturbed
}

// TestPostgres_RetryLogAcrossInstances: a run retried with run.retry on
// one instance records its attempt in the shared database, and the other
// instance serves the log of both attempts.
func TestPostgres_RetryLogAcrossInstances(t *testing.T) {
	a, b, _, _ := startTwoInstances(t)
	ans, err := send(t, newClient(2), a.URL+"/hooks/flaky", "flaky-1")
	if err != nil || ans.Status != http.StatusAccepted || len(ans.Runs) != 1 {
		t.Fatalf("delivery: %v %+v", err, ans)
	}
	id := ans.Runs[0].ID
	run := WaitRun(t, b.URL, "api-secret", id)
	if run["state"] != "succeeded" || run["attempt"] != float64(1) {
		t.Fatalf("the run, read through the other instance: %v", run)
	}
	for _, p := range []*Proc{a, b} {
		log := string(Do(t, "GET", p.URL+"/api/runs/"+id+"/log", nil, pgAPI).Body)
		if !strings.Contains(log, "attempt 1\n[hooktrigger: attempt 1 failed with exit status 1; attempt 2 of 3 in 1s]\nattempt 2\n") {
			t.Errorf("the log through %s lacks an attempt:\n%s", p.URL, log)
		}
	}
}

// TestPostgres_ReadOnly503 turns the database read-only (as a failover to a
// standby would) under a running server: deliveries get 503 with
// Retry-After and /readyz fails; once writable again, the same delivery is
// accepted as new — nothing of the refused attempt was written.
func TestPostgres_ReadOnly503(t *testing.T) {
	dbURL := mustDatabase(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "executed.txt")
	p := MustServe(t, pgInstance(t, dir, "a", dbURL, out))
	client := newClient(2)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, os.Getenv("HOOKTRIGGER_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	name := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
	readOnly := func(on bool) {
		t.Helper()
		if _, err := admin.Exec(ctx, fmt.Sprintf(`ALTER DATABASE %s SET default_transaction_read_only = %t`, name, on)); err != nil {
			t.Fatal(err)
		}
		// Sessions open before keep their setting: end them, the pool reconnects.
		if _, err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, name); err != nil {
			t.Fatal(err)
		}
	}
	readOnly(true)
	var resp *http.Response
	for range 3 { // the first request may meet a connection that was just ended
		if resp, err = client.Do(signedPush(t, p.URL+"/hooks/app", "read-only-delivery")); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			break
		}
		if resp.StatusCode/100 == 2 {
			t.Fatalf("a read-only database answered %d", resp.StatusCode)
		}
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("want 503 with Retry-After, got %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if r := Do(t, "GET", p.URL+"/readyz", nil, nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("readyz on a read-only database: %d %s", r.Status, r.Body)
	}
	readOnly(false)
	var a *hookAnswer
	for range 3 {
		if a, err = send(t, client, p.URL+"/hooks/app", "read-only-delivery"); err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusServiceUnavailable {
			break
		}
	}
	if a.Status != http.StatusAccepted || a.Duplicate {
		t.Fatalf("redelivery once writable: want 202 as a new delivery, got %+v", a)
	}
	WaitRun(t, p.URL, "api-secret", a.Runs[0].ID)
	if r := Do(t, "GET", p.URL+"/readyz", nil, nil); r.Status != 200 {
		t.Fatalf("readyz once writable: %d %s", r.Status, r.Body)
	}
}

func mustParse(tb testing.TB, s string) *url.URL {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestPostgres_UISessionAcrossInstances: behind a load balancer a browser
// meets any instance. A session signed in on one opens the UI of the other,
// and signing out on the other ends it on the first.
func TestPostgres_UISessionAcrossInstances(t *testing.T) {
	a, b, _, _ := startTwoInstances(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(base string, c *http.Cookie) (int, string) {
		req, _ := http.NewRequest("GET", base+"/ui/", nil)
		req.AddCookie(c)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	resp, err := noFollow.PostForm(a.URL+"/ui/login", url.Values{"token": {"api-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign in on a: %d, %d cookies", resp.StatusCode, len(resp.Cookies()))
	}
	cookie := resp.Cookies()[0]
	status, page := get(b.URL, cookie)
	m := regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]{64})">`).FindStringSubmatch(page)
	if status != http.StatusOK || m == nil {
		t.Fatalf("the session signed in on a, on b: %d", status)
	}
	req, _ := http.NewRequest("POST", b.URL+"/ui/logout", strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookie)
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on b: %d", resp.StatusCode)
	}
	if status, _ := get(a.URL, cookie); status != http.StatusSeeOther {
		t.Fatalf("signed out on b, the session still opens a's UI: %d", status)
	}
}

// TestPostgres_LogAcrossInstances: the log of a run executing on one
// instance streams from the other while it runs (?follow=1), and reads the
// same there once it ended, pieces over 256 KiB included.
func TestPostgres_LogAcrossInstances(t *testing.T) {
	p := startPGPair(t, "/hooks/talk", "talk-1")
	id := p.first.Runs[0].ID
	followed := Do(t, "GET", p.b.URL+"/api/runs/"+id+"/log?follow=1", nil, pgAPI)
	if followed.Status != http.StatusOK {
		t.Fatalf("follow on b: %d %s", followed.Status, followed.Body)
	}
	want := "line 1\nline 2\nline 3\nline 4\nline 5\n" + strings.Repeat("x", 300000) + "\ndone\n"
	if !strings.HasSuffix(string(followed.Body), want) {
		t.Fatalf("b streamed %d bytes ending %q; want them to end with the build's %d bytes of output", len(followed.Body), tail(string(followed.Body), 40), len(want))
	}
	fromA := Do(t, "GET", p.a.URL+"/api/runs/"+id+"/log", nil, pgAPI)
	fromB := Do(t, "GET", p.b.URL+"/api/runs/"+id+"/log", nil, pgAPI)
	if fromA.Status != 200 || fromB.Status != 200 || string(fromA.Body) != string(fromB.Body) || string(fromB.Body) != string(followed.Body) {
		t.Fatalf("after the end: a %d (%d bytes), b %d (%d bytes), followed %d bytes; want the same log everywhere",
			fromA.Status, len(fromA.Body), fromB.Status, len(fromB.Body), len(followed.Body))
	}
}

// TestPostgres_QuietPeriodAcrossInstances: a burst of one group spread
// over two instances collapses to its latest delivery, which runs once;
// the others are recorded as superseded, on whichever instance they came.
func TestPostgres_QuietPeriodAcrossInstances(t *testing.T) {
	a, b, _, out := startTwoInstances(t)
	c := newClient(2)
	var runs []string
	for i, inst := range []*Proc{a, b, a} {
		ans, err := send(t, c, inst.URL+"/hooks/calm", fmt.Sprintf("calm-%d", i+1))
		if err != nil || ans.Status != http.StatusAccepted || len(ans.Runs) != 1 {
			t.Fatalf("delivery %d: %v %+v", i+1, err, ans)
		}
		runs = append(runs, ans.Runs[0].ID)
		time.Sleep(300 * time.Millisecond)
	}
	p := &pgPair{a: a, b: b}
	p.waitState(t, b, runs[2], "succeeded")
	// Each earlier run is superseded by a later one of the burst (run 1
	// by run 2 or 3, as on one instance).
	for i, id := range runs[:2] {
		r := Do(t, "GET", a.URL+"/api/runs/"+id, nil, pgAPI).JSON(t)
		by := strings.TrimSuffix(strings.TrimPrefix(fmt.Sprint(r["error"]), "superseded by run "), " within the quiet period")
		if r["state"] != "superseded" || !slices.Contains(runs[i+1:], by) {
			t.Errorf("run %d of the burst: state %v (%v), want superseded by one of %v", i+1, r["state"], r["error"], runs[i+1:])
		}
	}
	ran := executions(t, out)
	if len(ran) != 1 || len(ran["calm-3"]) != 1 {
		t.Errorf("want only the last delivery's run executed, once; got %v", ran)
	}
}

// TestPostgres_NotifyAdopted: the notification an instance owed when it was
// SIGKILLed is sent by another instance sharing the database, once the
// dead instance's heartbeat is stale, with the same Webhook-Id.
func TestPostgres_NotifyAdopted(t *testing.T) {
	db := mustDatabase(t)
	sink := newRefusingSink(t)
	a := MustServe(t, failingDeploy(t, sink, "database: "+db+"\n"))
	b := MustServe(t, failingDeploy(t, sink, "database: "+db+"\n"))
	run, ranOn := failDeploy(t, a)
	sink.wait(t, 1, 15*time.Second)
	// Either instance may have run it: the one that did owes the
	// notification. Its name is host:pid/suffix.
	if strings.Contains(ranOn, fmt.Sprintf(":%d/", b.cmd.Process.Pid)) {
		a, b = b, a
	} else if !strings.Contains(ranOn, fmt.Sprintf(":%d/", a.cmd.Process.Pid)) {
		t.Fatalf("the run ran on %q, neither instance", ranOn)
	}
	defer b.Stop(t)
	a.Kill()
	sink.accept()
	// Stale after 10s, taken at B's next look (every 10s).
	posts := sink.wait(t, 2, 40*time.Second)
	id := "msg_" + run + "_0"
	if posts[len(posts)-1] != run+" "+id+" 204" {
		t.Errorf("posts %q: want the last one the owed notification, sent by the other instance with id %s", posts, id)
	}
	if !strings.Contains(b.Logs(), "notifications left unsent by an instance that stopped are sent again") {
		t.Errorf("instance B does not say it sent owed notifications:\n%s", b.Logs())
	}
}
