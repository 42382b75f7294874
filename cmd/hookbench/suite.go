package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hooktrigger/hooktrigger/store/storetest"
)

// row is one line of the result table.
type row struct {
	Area, Measure, Value, Note string
}

type suite struct {
	bin   string
	tmp   string
	quick bool
	rows  []row
	log   io.Writer
}

func (s *suite) add(area, measure, value, note string) {
	s.rows = append(s.rows, row{area, measure, value, note})
	fmt.Fprintf(s.log, "  %-12s %-55s %-14s %s\n", area, measure, value, note)
}

func suiteCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("suite", flag.ExitOnError)
	bin := fs.String("bin", "bin/hooktrigger", "hooktrigger binary")
	out := fs.String("out", "bench-out", "directory for the results")
	quick := fs.Bool("quick", false, "fewer requests (a smoke run)")
	goBench := fs.Bool("go", true, "also run the Go benchmarks")
	only := fs.String("only", "", "run only these steps (comma-separated: ingest,scale,payload,end-to-end,go benchmarks)")
	fs.Parse(args)
	abs, err := filepath.Abs(*bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("suite: %s: build it first (make build)", abs)
	}
	tmp, err := os.MkdirTemp("", "hookbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	s := &suite{bin: abs, tmp: tmp, quick: *quick, log: os.Stderr}
	start := time.Now()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ingest", s.ingest},
		{"scale", s.scale},
		{"payload", s.payloads},
		{"end-to-end", s.endToEnd},
	}
	if *goBench {
		steps = append(steps, struct {
			name string
			fn   func(context.Context) error
		}{"go benchmarks", s.goBenchmarks})
	}
	for _, st := range steps {
		if *only != "" && !strings.Contains(","+*only+",", ","+st.name+",") {
			continue
		}
		fmt.Fprintf(s.log, "== %s\n", st.name)
		if err := st.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	table := s.table(time.Since(start))
	fmt.Print(table)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "results.md"), []byte(table), 0o644)
}

func (s *suite) n(full, quick int) int {
	if s.quick {
		return quick
	}
	return full
}

func (s *suite) table(took time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s RAM; %s; `make bench` took %s.\n\n", cpuModel(), runtime.NumCPU(), memTotal(), runtime.Version(), took.Round(time.Second))
	b.WriteString("| area | measure | value | note |\n|---|---|---|---|\n")
	for _, r := range s.rows {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", r.Area, r.Measure, r.Value, r.Note)
	}
	return b.String()
}

// ---- processes under test

type proc struct {
	cmd  *exec.Cmd
	url  string
	pid  int
	done chan struct{}
}

var listenRe = regexp.MustCompile(`listening (?:addr=)?(\S+)`)

// startBare starts the baseline handler as its own process, like hooktrigger.
func (s *suite) startBare() (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return s.start(exec.Command(self, "bare"), true)
}

// startFloor starts the durable floor handler (floorCmd) on kind, with its
// data in a directory of its own.
func (s *suite) startFloor(kind string) (*proc, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.tmp, "floor-"+kind)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return s.start(exec.Command(self, "floor", "-store", kind, "-dir", dir), true)
}

// startHooktrigger writes cfg and serves it.
func (s *suite) startHooktrigger(name, cfg string) (*proc, error) {
	dir := filepath.Join(s.tmp, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "hooktrigger.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.bin, "serve", "--config", path)
	cmd.Env = append(os.Environ(), "BENCH_SECRET=bench-secret")
	return s.start(cmd, false)
}

func (s *suite) start(cmd *exec.Cmd, stdout bool) (*proc, error) {
	var r io.ReadCloser
	var err error
	if stdout {
		r, err = cmd.StdoutPipe()
	} else {
		r, err = cmd.StderrPipe()
	}
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if m := listenRe.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
				break
			}
		}
		// The rest is only drained: matching every log line would spend
		// this machine's CPU during the measurement, against hooktrigger.
		_, _ = io.Copy(io.Discard, r)
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	select {
	case a := <-addr:
		p.url = "http://" + a
		return p, nil
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening", cmd.Path)
	case <-time.After(2 * time.Minute):
		p.stop()
		return nil, fmt.Errorf("%s did not listen within 2 minutes", cmd.Path)
	}
}

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// rss returns the current and peak resident set size of the process, in bytes.
func (p *proc) rss() (cur, peak int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			cur = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return cur, peak
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// ---- configs

// tenVariables are the ten variables of the ingest benchmarks.
const tenVariables = `    variables:
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
`

// ingestConfig is a server with n GitHub triggers on distinct paths. Every
// delivery records a run; one worker runs a long sleep, so the rest wait in
// the queue and the measurement is ingest, not process spawning.
func ingestConfig(n int, maxBody string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndata_dir: ./data\nworkers: 1\nmax_body: %s\ntriggers:\n", maxBody)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  - name: t%d\n    provider: github\n    secret: ${BENCH_SECRET}\n    events: [push]\n", i)
		b.WriteString(tenVariables)
		b.WriteString("    run:\n      command: [sleep, '600']\n")
	}
	return b.String()
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

// ---- steps

// warmLoad sends 500 unmeasured deliveries to base's /hooks/t0, then n at
// concurrency c, and returns what the second load measured.
func warmLoad(ctx context.Context, base string, n, c int, body []byte) (*LoadResult, error) {
	_, _ = Load(ctx, LoadOptions{URL: base + "/hooks/t0", N: 500, C: c, Body: body, Secret: "bench-secret", IDPrefix: randomPrefix()})
	return Load(ctx, LoadOptions{URL: base + "/hooks/t0", N: n, C: c, Body: body, Secret: "bench-secret", IDPrefix: randomPrefix()})
}

func (s *suite) ingest(ctx context.Context) error {
	n, c := s.n(20000, 2000), 32
	body := PushPayload(0)
	bare, err := s.startBare()
	if err != nil {
		return err
	}
	rb, err := warmLoad(ctx, bare.url, n, c, body)
	bare.stop()
	if err != nil {
		return err
	}
	ht, err := s.startHooktrigger("ingest", ingestConfig(1, "25MiB"))
	if err != nil {
		return err
	}
	rh, err := warmLoad(ctx, ht.url, n, c, body)
	ht.stop()
	if err != nil {
		return err
	}
	fmt.Fprintf(s.log, "  bare:        %s\n  hooktrigger: %s\n", rb, rh)
	if rh.Statuses[202] != n {
		return fmt.Errorf("hooktrigger answered %v, want %d×202", rh.Statuses, n)
	}
	s.add("ingest", fmt.Sprintf("bare net/http handler, %d × %d B push at c=%d", n, len(body), c), fmt.Sprintf("%.0f req/s", rb.RPS), fmt.Sprintf("p50 %s, p99 %s", ms(rb.P50), ms(rb.P99)))
	s.add("ingest", "hooktrigger: HMAC, 10 variables, SQLite commit (fdatasync), 202", fmt.Sprintf("%.0f req/s", rh.RPS), fmt.Sprintf("p50 %s, p99 %s", ms(rh.P50), ms(rh.P99)))
	s.add("ingest", "ratio hooktrigger / bare (target ≥ 0.5, stretch 0.7)", fmt.Sprintf("%.2f", rh.RPS/rb.RPS), "")

	// What durability alone costs here: the floor handlers read the body
	// and answer 202 after a group commit, and do nothing else.
	for _, f := range []struct{ kind, what string }{
		{"file", "durable floor: append the bodies to one file, one fdatasync per group, 202"},
		{"sqlite", "durable floor: insert the bodies into one SQLite table (WAL, synchronous=FULL), one commit per group, 202"},
	} {
		fl, err := s.startFloor(f.kind)
		if err != nil {
			return err
		}
		rf, err := warmLoad(ctx, fl.url, n, c, body)
		fl.stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.log, "  floor %s: %s\n", f.kind, rf)
		if rf.Statuses[202] != n {
			return fmt.Errorf("floor %s answered %v, want %d×202", f.kind, rf.Statuses, n)
		}
		s.add("ingest", f.what, fmt.Sprintf("%.0f req/s", rf.RPS), fmt.Sprintf("ratio to bare %.2f; hooktrigger / this %.2f", rf.RPS/rb.RPS, rh.RPS/rf.RPS))
	}

	// The same with the PostgreSQL store, when a server is given.
	dsn := os.Getenv("HOOKTRIGGER_BENCH_POSTGRES")
	if dsn == "" {
		dsn = os.Getenv("HOOKTRIGGER_TEST_POSTGRES")
	}
	if dsn == "" {
		s.add("ingest", "hooktrigger with PostgreSQL", "not run", "set HOOKTRIGGER_BENCH_POSTGRES=postgres://…")
		return nil
	}
	dsn, drop := scratchDatabase(ctx, dsn, s.log)
	defer drop()
	cfg := strings.Replace(ingestConfig(1, "25MiB"), "data_dir: ./data\n", "data_dir: ./data\ndatabase: "+dsn+"\n", 1)
	pg, err := s.startHooktrigger("ingest-pg", cfg)
	if err != nil {
		return err
	}
	defer pg.stop()
	rp, err := warmLoad(ctx, pg.url, n, c, body)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.log, "  postgres:    %s\n", rp)
	s.add("ingest", "hooktrigger with PostgreSQL (same machine), same load", fmt.Sprintf("%.0f req/s", rp.RPS), fmt.Sprintf("p50 %s, p99 %s; ratio to bare %.2f", ms(rp.P50), ms(rp.P99), rp.RPS/rb.RPS))
	return nil
}

func (s *suite) scale(ctx context.Context) error {
	n, c := s.n(10000, 1000), 32
	body := PushPayload(0)
	var p99One time.Duration
	for _, k := range []int{1, 100, 10000} {
		ht, err := s.startHooktrigger(fmt.Sprintf("scale-%d", k), ingestConfig(k, "25MiB"))
		if err != nil {
			return err
		}
		time.Sleep(500 * time.Millisecond)
		idle, _ := ht.rss()
		urls := make([]string, 0, min(k, 1000))
		for i := 0; i < cap(urls); i++ {
			urls = append(urls, fmt.Sprintf("%s/hooks/t%d", ht.url, (i*7919)%k))
		}
		_, _ = Load(ctx, LoadOptions{URLs: urls, N: 500, C: c, Body: body, Secret: "bench-secret", IDPrefix: randomPrefix()})
		r, err := Load(ctx, LoadOptions{URLs: urls, N: n, C: c, Body: body, Secret: "bench-secret", IDPrefix: randomPrefix()})
		_, peak := ht.rss()
		ht.stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.log, "  %d triggers: %s\n", k, r)
		if k == 1 {
			p99One = r.P99
			s.add("scale", "idle RSS, 1 trigger (target ≤ 30 MB)", mib(idle), "")
		}
		note := fmt.Sprintf("%.0f req/s; idle RSS %s, peak RSS %s", r.RPS, mib(idle), mib(peak))
		if k > 1 {
			note += fmt.Sprintf("; p99 ratio to 1 trigger %.2f (target ≤ 1.2 at 10,000)", float64(r.P99)/float64(p99One))
		}
		s.add("scale", fmt.Sprintf("%d trigger(s) on distinct paths: ingest p99", k), ms(r.P99), note)
	}
	return nil
}

func (s *suite) payloads(ctx context.Context) error {
	for _, sz := range []struct {
		name string
		size int
		n, c int
	}{
		{"1 KB", 1000, s.n(5000, 500), 32},
		{"100 KB", 100_000, s.n(2000, 200), 16},
		{"5 MB", 5_000_000, s.n(100, 20), 8},
		{"25 MB", 25_000_000, s.n(40, 8), 8},
	} {
		// A data directory per size: the runs each step leaves queued
		// behind its sleeping worker must not weigh on the next step.
		ht, err := s.startHooktrigger("payload-"+strings.ReplaceAll(sz.name, " ", ""), ingestConfig(1, "26MiB"))
		if err != nil {
			return err
		}
		body := PushPayload(sz.size)
		r, err := Load(ctx, LoadOptions{URL: ht.url + "/hooks/t0", N: sz.n, C: sz.c, Body: body, Secret: "bench-secret", IDPrefix: randomPrefix()})
		_, peak := ht.rss()
		ht.stop()
		if err != nil {
			return err
		}
		fmt.Fprintf(s.log, "  %s: %s\n", sz.name, r)
		s.add("payload", fmt.Sprintf("%s bodies, %d at c=%d", sz.name, sz.n, sz.c), fmt.Sprintf("%.1f req/s", r.RPS), fmt.Sprintf("p99 %s, peak RSS %s, statuses %v", ms(r.P99), mib(peak), r.Statuses))
	}
	return nil
}

// trivialScript is the build of the end-to-end step: the issue's "trivial
// script", a shell script that does nothing.
const trivialScript = "#!/bin/sh\nexit 0\n"

func (s *suite) endToEnd(ctx context.Context) error {
	script := filepath.Join(s.tmp, "trivial.sh")
	if err := os.WriteFile(script, []byte(trivialScript), 0o755); err != nil {
		return err
	}
	// The script is the target's measure; /bin/true, whose own cost is
	// smaller, shows hooktrigger's overhead at its largest share.
	if err := s.endToEndOf(ctx, "trivial script", script, true); err != nil {
		return err
	}
	return s.endToEndOf(ctx, "/bin/true", "/bin/true", false)
}

// endToEndOf measures runs of the command argv0 (no arguments) started by
// hooktrigger's deliveries against a bare Go loop spawning it; latency
// adds the trigger-to-start rows.
func (s *suite) endToEndOf(ctx context.Context, label, argv0 string, latency bool) error {
	n, par, rounds := s.n(1000, 200), 16, s.n(5, 1)
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: ./data
workers: %d
triggers:
  - name: e2e
    provider: github
    secret: ${BENCH_SECRET}
%s    run:
      command: [%q]
`, par, tenVariables, argv0)
	ht, err := s.startHooktrigger("e2e-"+strings.Trim(strings.ReplaceAll(label, "/", "-"), "-"), cfg)
	if err != nil {
		return err
	}
	defer ht.stop()

	// Warm up both sides, as the ingest step does: the first deliveries
	// grow an empty database and create the run directories' parents,
	// which a running server has long done.
	warm := s.n(200, 50)
	if _, err := Load(ctx, LoadOptions{URL: ht.url + "/hooks/e2e", N: warm, C: par, Body: PushPayload(0), Secret: "bench-secret", IDPrefix: randomPrefix()}); err != nil {
		return err
	}
	if err := waitEnded(ctx, ht.url, warm); err != nil {
		return err
	}
	spawnBare(argv0, warm, par)

	// Rounds alternate hooktrigger and the bare loop, so that a busy
	// moment of this shared machine weighs on both; the table gives the
	// medians.
	var hookRates, bareRates, ratios []float64
	var hookSelf, hookKids, bareSelf, bareKids, sender []time.Duration
	var first []runRecord // the first round's runs
	for round := 0; round < rounds; round++ {
		before := warm + round*n
		cpu0, l0 := ht.cpu(), selfCPU()
		start := time.Now()
		r, err := Load(ctx, LoadOptions{URL: ht.url + "/hooks/e2e", N: n, C: par, Body: PushPayload(0), Secret: "bench-secret", IDPrefix: randomPrefix()})
		if err != nil {
			return err
		}
		sender = append(sender, (selfCPU().self-l0.self)/time.Duration(n))
		if r.Statuses[202] != n {
			return fmt.Errorf("answers %v, want %d×202", r.Statuses, n)
		}
		// The CPU times are read before listing the runs, which costs the
		// server CPU of its own.
		if err := waitEnded(ctx, ht.url, before+n); err != nil {
			return err
		}
		cpu1 := ht.cpu()
		all, _, err := waitRuns(ctx, ht.url, before+n)
		if err != nil {
			return err
		}
		// This round's runs: those created since it started.
		var last time.Time
		for _, run := range all {
			if !run.CreatedAt.Before(start) {
				if round == 0 {
					first = append(first, run)
				}
				if run.EndedAt.After(last) {
					last = run.EndedAt
				}
			}
		}
		hookRate := float64(n) / last.Sub(start).Seconds()
		hookSelf = append(hookSelf, (cpu1.self-cpu0.self)/time.Duration(n))
		hookKids = append(hookKids, (cpu1.children-cpu0.children)/time.Duration(n))

		// The bare loop: the same command, the same parallelism.
		b0 := selfCPU()
		t0 := time.Now()
		spawnBare(argv0, n, par)
		bareRate := float64(n) / time.Since(t0).Seconds()
		b1 := selfCPU()
		bareSelf = append(bareSelf, (b1.self-b0.self)/time.Duration(n))
		bareKids = append(bareKids, (b1.children-b0.children)/time.Duration(n))
		hookRates, bareRates, ratios = append(hookRates, hookRate), append(bareRates, bareRate), append(ratios, hookRate/bareRate)
		fmt.Fprintf(s.log, "  %s, round %d: hooktrigger %.0f runs/s, bare loop %.0f runs/s, ratio %.2f\n", label, round+1, hookRate, bareRate, hookRate/bareRate)
	}

	// Latency under the burst, from the first round's runs.
	var lat []time.Duration
	for _, run := range first {
		lat = append(lat, run.StartedAt.Sub(run.CreatedAt))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	each := fmt.Sprintf("median of %d rounds, alternating with the bare loop; each from the first request to the last run recorded, after %d warm-up deliveries and spawns", rounds, warm)
	target := ""
	if latency {
		target = " (target ≥ 0.8)"
	}
	s.add("end-to-end", fmt.Sprintf("%s: %d deliveries, workers %d: runs/s", label, n, par), fmt.Sprintf("%.0f runs/s", median(hookRates)), each)
	s.add("end-to-end", fmt.Sprintf("%s: bare Go loop spawning it, %d at once", label, par), fmt.Sprintf("%.0f runs/s", median(bareRates)), fmt.Sprintf("rounds: %s", joinRates(bareRates)))
	s.add("end-to-end", fmt.Sprintf("%s: ratio hooktrigger / bare loop%s", label, target), fmt.Sprintf("%.2f", median(ratios)), fmt.Sprintf("rounds: %s", joinRatios(ratios)))
	s.add("end-to-end", fmt.Sprintf("%s: CPU per run, hooktrigger process / its children", label), fmt.Sprintf("%s / %s", usec(medianD(hookSelf)), usec(medianD(hookKids))),
		fmt.Sprintf("bare loop process / its children: %s / %s (the runs' own cost is the children's; the rest is what each side adds)", usec(medianD(bareSelf)), usec(medianD(bareKids))))
	s.add("end-to-end", fmt.Sprintf("%s: CPU per delivery of the sender (this process, on the same 2 cores)", label), usec(medianD(sender)),
		"taken from hooktrigger's rounds only: the bare loop has no sender")
	if !latency {
		return nil
	}
	s.add("end-to-end", "trigger-to-start latency under that burst (received → running)", "p50 "+ms(lat[len(lat)/2]), "p99 "+ms(lat[min(len(lat)-1, len(lat)*99/100)])+" (runs queue behind 16 workers)")

	// The same with one delivery at a time and idle workers: what a
	// single push waits before its build starts.
	n1 := s.n(200, 50)
	before := warm + rounds*n
	for i := 0; i < n1; i++ {
		r, err := Load(ctx, LoadOptions{URL: ht.url + "/hooks/e2e", N: 1, C: 1, Body: PushPayload(0), Secret: "bench-secret", IDPrefix: randomPrefix()})
		if err != nil {
			return err
		}
		if r.Statuses[202] != 1 {
			return fmt.Errorf("answer %v, want 202", r.Statuses)
		}
		time.Sleep(20 * time.Millisecond)
	}
	runs, _, err := waitRuns(ctx, ht.url, before+n1)
	if err != nil {
		return err
	}
	sort.Slice(runs, func(i, j int) bool { return runs[i].CreatedAt.After(runs[j].CreatedAt) })
	lat = lat[:0]
	for _, run := range runs[:n1] {
		lat = append(lat, run.StartedAt.Sub(run.CreatedAt))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	s.add("end-to-end", fmt.Sprintf("trigger-to-start latency, %d deliveries one at a time", n1), "p50 "+ms(lat[len(lat)/2]), "p99 "+ms(lat[min(len(lat)-1, len(lat)*99/100)]))
	return nil
}

type runRecord struct {
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at"`
}

// endedRuns reads the number of runs that reached a final state from
// /metrics: a cheap poll, where listing thousands of runs every 200 ms would
// take CPU from the server being measured.
func endedRuns(base string) (int, error) {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "hooktrigger_runs_total{") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			v, err := strconv.ParseFloat(line[i+1:], 64)
			if err == nil {
				n += v
			}
		}
	}
	return int(n), sc.Err()
}

// waitEnded polls /metrics until n runs have ended.
// spawnBare runs argv0 n times, par at once, from a bare Go loop: the
// reference of the end-to-end step.
func spawnBare(argv0 string, n, par int) {
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		next <- struct{}{}
	}
	close(next)
	for w := 0; w < par; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				_ = exec.Command(argv0).Run()
			}
		}()
	}
	wg.Wait()
}

func waitEnded(ctx context.Context, base string, n int) error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		ended, err := endedRuns(base)
		if err != nil {
			return err
		}
		if ended >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("runs did not end within 5 minutes")
}

// waitRuns waits until n runs have ended (polling /metrics), then lists
// them through the API; it returns them and the latest end time.
func waitRuns(ctx context.Context, base string, n int) ([]runRecord, time.Time, error) {
	if err := waitEnded(ctx, base, n); err != nil {
		return nil, time.Time{}, err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var all []runRecord
		before := ""
		for len(all) < n+1000 {
			resp, err := http.Get(base + "/api/runs?limit=1000&before=" + before)
			if err != nil {
				return nil, time.Time{}, err
			}
			var page struct {
				Runs []struct {
					ID string `json:"id"`
					runRecord
				} `json:"runs"`
			}
			err = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			if err != nil {
				return nil, time.Time{}, err
			}
			for _, r := range page.Runs {
				all = append(all, r.runRecord)
			}
			if len(page.Runs) < 1000 {
				break
			}
			before = page.Runs[len(page.Runs)-1].ID
		}
		done := 0
		var last time.Time
		for _, r := range all {
			if r.State != "queued" && r.State != "running" {
				done++
				if r.EndedAt.After(last) {
					last = r.EndedAt
				}
			}
		}
		if done >= n {
			return all, last, nil
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, time.Time{}, fmt.Errorf("runs ended but the API did not list them within a minute")
}

// goBenchmarks runs the packages' Go benchmarks and reports them.
func (s *suite) goBenchmarks(ctx context.Context) error {
	type gb struct {
		pkg, pattern string
	}
	bt := "1s"
	if s.quick {
		bt = "200ms"
	}
	for _, b := range []gb{
		{"./extract/", "^(BenchmarkSingular10|BenchmarkRawGJSON10|BenchmarkSingularRatio|BenchmarkIndefinite10Triggers)$"},
		{"./providers/github/", "^(BenchmarkGitHubVerify|BenchmarkGitHubInspect)$"},
		{"./store/sqlite/", "^BenchmarkRecord$"},
	} {
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-bench", b.pattern, "-benchtime", bt, "-benchmem", b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go test %s: %v\n%s", b.pkg, err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(line, "Benchmark") {
				continue
			}
			f := strings.Fields(line)
			if len(f) < 4 {
				continue
			}
			name := strings.TrimSuffix(f[0], fmt.Sprintf("-%d", runtime.NumCPU()))
			var metrics []string
			for i := 2; i+1 < len(f); i += 2 {
				metrics = append(metrics, f[i]+" "+f[i+1])
			}
			s.add("go bench", strings.TrimPrefix(b.pkg, "./")+" "+name, metrics[0], strings.Join(metrics[1:], ", "))
		}
	}
	return nil
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if _, v, ok := strings.Cut(line, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH
}

func memTotal() string {
	data, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
		}
	}
	return "?"
}

// cpuTimes is CPU time used by a process itself and by its reaped children.
type cpuTimes struct{ self, children time.Duration }

// clockTick is the unit of /proc/PID/stat times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpu reads the process's CPU times from /proc.
func (p *proc) cpu() cpuTimes {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	if err != nil {
		return cpuTimes{}
	}
	// Fields after the command name (which may hold spaces) in ")".
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	tick := func(i int) time.Duration { v, _ := strconv.ParseInt(f[i], 10, 64); return time.Duration(v) * clockTick }
	// utime, stime, cutime, cstime are fields 14-17 of stat(5); f[0] is field 3.
	return cpuTimes{self: tick(11) + tick(12), children: tick(13) + tick(14)}
}

// selfCPU reads this process's CPU times.
func selfCPU() cpuTimes {
	var self, kids syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	_ = syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids)
	tv := func(t syscall.Timeval) time.Duration { return time.Duration(t.Nano()) }
	return cpuTimes{self: tv(self.Utime) + tv(self.Stime), children: tv(kids.Utime) + tv(kids.Stime)}
}

func median(v []float64) float64 {
	c := append([]float64(nil), v...)
	sort.Float64s(c)
	return c[len(c)/2]
}

func medianD(v []time.Duration) time.Duration {
	c := append([]time.Duration(nil), v...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[len(c)/2]
}

func usec(d time.Duration) string { return fmt.Sprintf("%d µs", d.Microseconds()) }

func joinRates(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.0f", x))
	}
	return strings.Join(parts, ", ")
}

func joinRatios(v []float64) string {
	var parts []string
	for _, x := range v {
		parts = append(parts, fmt.Sprintf("%.2f", x))
	}
	return strings.Join(parts, ", ")
}

// scratchDatabase creates an empty database on the server of dsn for one
// measurement and returns its URL and what drops it: the runs a run of the
// benchmark leaves queued (its one worker sleeps) would otherwise pile up
// in the given database from one run to the next and slow every later
// start. Without the right to create a database it returns dsn itself.
func scratchDatabase(ctx context.Context, dsn string, log io.Writer) (string, func()) {
	u, drop, err := storetest.CreateDatabase(ctx, dsn, "hookbench_")
	if err != nil {
		fmt.Fprintf(log, "  postgres: cannot create a scratch database (%v); measuring in the given one\n", err)
		return dsn, func() {}
	}
	return u, drop
}
