package pipeline_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/pipeline"
)

// newJob returns a job whose run directory and log live in a fresh
// temporary directory.
func newJob(tb testing.TB) *pipeline.Job {
	tb.Helper()
	dir := tb.TempDir()
	return &pipeline.Job{
		RunDir:  filepath.Join(dir, "run"),
		LogPath: filepath.Join(dir, "logs", "run.log"),
	}
}

// mustRead returns the contents of name.
func mustRead(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// readPid reads the pid a script wrote to name.
func readPid(tb testing.TB, name string) int {
	tb.Helper()
	pid, err := strconv.Atoi(strings.TrimSpace(string(mustRead(tb, name))))
	if err != nil {
		tb.Fatalf("pid file %s: %v", name, err)
	}
	return pid
}

// processGone reports whether pid has exited: no /proc entry, or a zombie
// nobody has reaped yet (PID 1 in a container may never do it).
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// waitFile waits up to 5s for name to exist.
func waitFile(tb testing.TB, name string) {
	tb.Helper()
	for range 500 {
		if _, err := os.Stat(name); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("%s did not appear", name)
}

func TestExecute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		cmd        pipeline.Command
		wantOut    pipeline.Outcome
		wantCode   int
		wantSignal string
		wantLog    string // exact log contents, if not ""
		wantErr    bool
	}{
		{
			name:    "Succeeded",
			cmd:     pipeline.Command{Script: "echo hello"},
			wantOut: pipeline.OutcomeSucceeded, wantCode: 0, wantLog: "hello\n",
		},
		{
			name:    "Argv",
			cmd:     pipeline.Command{Argv: []string{"echo", "a b", "$HOME"}},
			wantOut: pipeline.OutcomeSucceeded, wantCode: 0, wantLog: "a b $HOME\n",
		},
		{
			name:    "Failed",
			cmd:     pipeline.Command{Script: "echo no >&2; exit 3"},
			wantOut: pipeline.OutcomeFailed, wantCode: 3, wantLog: "no\n",
		},
		{
			name:    "StdoutStderrInterleaved",
			cmd:     pipeline.Command{Script: "echo 1; echo 2 >&2; echo 3; echo 4 >&2"},
			wantOut: pipeline.OutcomeSucceeded, wantCode: 0, wantLog: "1\n2\n3\n4\n",
		},
		{
			name:    "KilledBySignalOfItsOwn",
			cmd:     pipeline.Command{Script: "kill -SEGV $$"},
			wantOut: pipeline.OutcomeFailed, wantCode: -1, wantSignal: "SIGSEGV",
		},
		{
			name:    "DirDefaultsToRunDir",
			cmd:     pipeline.Command{Script: `[ "$PWD" = "$(dirname "$HOOKTRIGGER_VARS")" ]`},
			wantOut: pipeline.OutcomeSucceeded, wantCode: 0,
		},
		{
			name:    "NotFound",
			cmd:     pipeline.Command{Argv: []string{"no-such-program-hooktrigger"}},
			wantOut: pipeline.OutcomeError, wantCode: -1, wantErr: true,
		},
		{
			name:    "ArgvAndScript",
			cmd:     pipeline.Command{Argv: []string{"true"}, Script: "true"},
			wantOut: pipeline.OutcomeError, wantCode: -1, wantErr: true,
		},
		{
			name:    "Empty",
			cmd:     pipeline.Command{},
			wantOut: pipeline.OutcomeError, wantCode: -1, wantErr: true,
		},
		{
			name:    "BadDir",
			cmd:     pipeline.Command{Argv: []string{"true"}, Dir: "/nonexistent/dir"},
			wantOut: pipeline.OutcomeError, wantCode: -1, wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := newJob(t)
			var pid int
			job.Started = func(p int) { pid = p }
			res := pipeline.Execute(t.Context(), &tt.cmd, job)
			if res.Outcome != tt.wantOut || res.ExitCode != tt.wantCode || res.Signal != tt.wantSignal {
				t.Errorf("got outcome %q code %d signal %q, want %q %d %q (err %v)",
					res.Outcome, res.ExitCode, res.Signal, tt.wantOut, tt.wantCode, tt.wantSignal, res.Err)
			}
			if (res.Err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error: %v", res.Err, tt.wantErr)
			}
			if res.Ended.Before(res.Started) {
				t.Errorf("ended %v before started %v", res.Ended, res.Started)
			}
			if tt.wantOut == pipeline.OutcomeError {
				if pid != 0 {
					t.Errorf("Started called with %d for a command that did not start", pid)
				}
				return
			}
			if pid <= 0 {
				t.Errorf("Started called with pid %d", pid)
			}
			if tt.wantLog != "" {
				if got := string(mustRead(t, job.LogPath)); got != tt.wantLog {
					t.Errorf("log = %q, want %q", got, tt.wantLog)
				}
			}
		})
	}
}

func TestExecute_Timeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		script     string
		timeout    time.Duration
		grace      time.Duration
		wantSignal string
		minElapsed time.Duration // from start to end, at least
		maxElapsed time.Duration // and at most (loose)
		wantLog    string        // contained in the log
	}{
		{
			// The shell and its grandchild both ignore SIGTERM: only the
			// SIGKILL after the grace stops them.
			name:       "GrandchildIgnoresTERM",
			script:     `trap "" TERM; sleep 100 & echo $! > "$PIDFILE"; wait; wait`,
			timeout:    200 * time.Millisecond,
			grace:      700 * time.Millisecond,
			wantSignal: "SIGKILL",
			minElapsed: 900 * time.Millisecond,
			maxElapsed: 5 * time.Second,
		},
		{
			// The build handles SIGTERM and exits: no SIGKILL, no waiting
			// out the grace.
			name:       "ExitsOnTERM",
			script:     `trap 'echo got TERM; exit 0' TERM; sleep 100 & echo $! > "$PIDFILE"; wait`,
			timeout:    200 * time.Millisecond,
			grace:      20 * time.Second,
			wantSignal: "SIGTERM",
			minElapsed: 200 * time.Millisecond,
			maxElapsed: 5 * time.Second,
			wantLog:    "got TERM\n",
		},
		{
			// A stopped process is continued, so SIGTERM ends it without
			// waiting out the grace.
			name:       "StoppedGrandchild",
			script:     `sleep 100 & kill -STOP $!; echo $! > "$PIDFILE"; wait`,
			timeout:    200 * time.Millisecond,
			grace:      20 * time.Second,
			wantSignal: "SIGTERM",
			minElapsed: 200 * time.Millisecond,
			maxElapsed: 5 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := newJob(t)
			pidFile := filepath.Join(t.TempDir(), "pid")
			cmd := &pipeline.Command{
				Script:    tt.script,
				Env:       map[string]string{"PIDFILE": pidFile},
				Timeout:   tt.timeout,
				KillGrace: tt.grace,
			}
			res := pipeline.Execute(t.Context(), cmd, job)
			if res.Outcome != pipeline.OutcomeTimedOut || res.Signal != tt.wantSignal {
				t.Fatalf("got %q signal %q, want timed_out %s (err %v)", res.Outcome, res.Signal, tt.wantSignal, res.Err)
			}
			if el := res.Ended.Sub(res.Started); el < tt.minElapsed || el > tt.maxElapsed {
				t.Errorf("took %v, want between %v and %v", el, tt.minElapsed, tt.maxElapsed)
			}
			if gc := readPid(t, pidFile); !processGone(gc) {
				t.Errorf("grandchild %d still alive after Execute returned", gc)
			}
			log := string(mustRead(t, job.LogPath))
			if !strings.Contains(log, tt.wantLog) || !strings.Contains(log, "[hooktrigger: timed out") {
				t.Errorf("log = %q, want %q and a timeout note", log, tt.wantLog)
			}
		})
	}
}

func TestExecute_Cancel(t *testing.T) {
	t.Parallel()
	t.Run("ErrCancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancelCause(t.Context())
		defer cancel(nil)
		job := newJob(t)
		job.Started = func(int) { go cancel(pipeline.ErrCancelled) }
		res := pipeline.Execute(ctx, &pipeline.Command{Script: "sleep 100"}, job)
		if res.Outcome != pipeline.OutcomeCancelled || !errors.Is(res.Err, pipeline.ErrCancelled) || res.Signal != "SIGTERM" {
			t.Errorf("got %q err %v signal %q, want cancelled, ErrCancelled, SIGTERM", res.Outcome, res.Err, res.Signal)
		}
	})
	t.Run("OtherContextEnd", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		res := pipeline.Execute(ctx, &pipeline.Command{Script: "sleep 100"}, newJob(t))
		if res.Outcome != pipeline.OutcomeCancelled || !errors.Is(res.Err, context.DeadlineExceeded) || res.Signal != "SIGTERM" {
			t.Errorf("got %q err %v signal %q, want cancelled, DeadlineExceeded, SIGTERM", res.Outcome, res.Err, res.Signal)
		}
	})
	t.Run("BeforeStart", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(pipeline.ErrCancelled)
		job := newJob(t)
		job.Started = func(int) { t.Error("started a cancelled job") }
		res := pipeline.Execute(ctx, &pipeline.Command{Script: "true"}, job)
		if res.Outcome != pipeline.OutcomeCancelled || res.ExitCode != -1 || !errors.Is(res.Err, pipeline.ErrCancelled) {
			t.Errorf("got %q code %d err %v, want cancelled -1 ErrCancelled", res.Outcome, res.ExitCode, res.Err)
		}
	})
}

// A build's leftovers die with it: a background process still running when
// the script exits is stopped, and the run keeps the script's outcome.
func TestExecute_Leftovers(t *testing.T) {
	t.Parallel()
	job := newJob(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := &pipeline.Command{
		Script:    `sleep 100 & echo $! > "$PIDFILE"; echo done`,
		Env:       map[string]string{"PIDFILE": pidFile},
		KillGrace: time.Second,
	}
	res := pipeline.Execute(t.Context(), cmd, job)
	if res.Outcome != pipeline.OutcomeSucceeded || res.ExitCode != 0 || res.Signal != "" {
		t.Fatalf("got %q code %d signal %q, want succeeded 0 \"\"", res.Outcome, res.ExitCode, res.Signal)
	}
	if pid := readPid(t, pidFile); !processGone(pid) {
		t.Errorf("background process %d outlived its run", pid)
	}
	if log := string(mustRead(t, job.LogPath)); !strings.HasPrefix(log, "done\n[hooktrigger: stopped processes left") {
		t.Errorf("log = %q", log)
	}
}

func TestExecute_LogCap(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	tests := []struct {
		name          string
		script        string
		maxLog        int64
		timeout       time.Duration
		wantOutcome   pipeline.Outcome
		wantTruncated bool
		wantSize      int64 // exact log size before the marker; -1 = any
	}{
		{
			name:          "5MBInto1MiB",
			script:        `head -c 5000000 /dev/zero | tr '\0' x`,
			maxLog:        mib,
			wantOutcome:   pipeline.OutcomeSucceeded,
			wantTruncated: true,
			wantSize:      mib,
		},
		{
			// Writes forever: past the cap it must still be drained, or
			// it would block instead of being timed out.
			name:          "EndlessWriter",
			script:        `yes`,
			maxLog:        64 << 10,
			timeout:       500 * time.Millisecond,
			wantOutcome:   pipeline.OutcomeTimedOut,
			wantTruncated: true,
			wantSize:      64 << 10,
		},
		{
			name:          "UnderCap",
			script:        `head -c 1000 /dev/zero`,
			maxLog:        1000,
			wantOutcome:   pipeline.OutcomeSucceeded,
			wantTruncated: false,
			wantSize:      1000,
		},
		{
			name:          "NoCap",
			script:        `head -c 12000000 /dev/zero`,
			maxLog:        -1,
			wantOutcome:   pipeline.OutcomeSucceeded,
			wantTruncated: false,
			wantSize:      12000000,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := newJob(t)
			cmd := &pipeline.Command{Script: tt.script, MaxLog: tt.maxLog, Timeout: tt.timeout, KillGrace: time.Second}
			start := time.Now()
			res := pipeline.Execute(t.Context(), cmd, job)
			if res.Outcome != tt.wantOutcome || res.Truncated != tt.wantTruncated {
				t.Fatalf("got %q truncated %v, want %q %v (err %v)", res.Outcome, res.Truncated, tt.wantOutcome, tt.wantTruncated, res.Err)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v", el)
			}
			log := mustRead(t, job.LogPath)
			marker := "\n[hooktrigger: log truncated at " + strconv.FormatInt(tt.maxLog, 10) + " bytes]\n"
			body, hasMarker := bytes.CutSuffix(log, []byte(marker))
			if tt.wantOutcome == pipeline.OutcomeTimedOut {
				body = log[:min(len(log), int(tt.wantSize))]
				hasMarker = bytes.Contains(log, []byte(marker))
			}
			if hasMarker != tt.wantTruncated {
				t.Errorf("marker present %v, want %v; log ends %q", hasMarker, tt.wantTruncated, log[max(0, len(log)-120):])
			}
			if int64(len(body)) != tt.wantSize {
				t.Errorf("log holds %d bytes of output, want %d", len(body), tt.wantSize)
			}
			if c := bytes.Count(log, []byte("log truncated")); c > 1 {
				t.Errorf("%d truncation markers", c)
			}
		})
	}
}

// The log is written as output comes, so it can be followed during a run.
func TestExecute_LogReadableDuringRun(t *testing.T) {
	t.Parallel()
	job := newJob(t)
	goFile := filepath.Join(t.TempDir(), "go")
	cmd := &pipeline.Command{
		Script:  `echo first; while [ ! -e "$GOFILE" ]; do sleep 0.01; done; echo second`,
		Env:     map[string]string{"GOFILE": goFile},
		Timeout: 10 * time.Second,
	}
	done := make(chan *pipeline.Result)
	go func() { done <- pipeline.Execute(t.Context(), cmd, job) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, _ := os.ReadFile(job.LogPath)
		if string(b) == "first\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log during run = %q, want %q", b, "first\n")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := os.WriteFile(goFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.Outcome != pipeline.OutcomeSucceeded {
		t.Fatalf("outcome %q (err %v)", res.Outcome, res.Err)
	}
	if got := string(mustRead(t, job.LogPath)); got != "first\nsecond\n" {
		t.Errorf("log = %q", got)
	}
}

// A process that leaves the group (setsid) keeps the log pipe open; Execute
// stops waiting for the log shortly after the group is gone.
func TestExecute_EscapedProcessHoldingLog(t *testing.T) {
	t.Parallel()
	job := newJob(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := &pipeline.Command{
		Script: `setsid sh -c 'echo $$ > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 30' &
while [ ! -e "$PIDFILE" ]; do sleep 0.01; done; echo out`,
		Env: map[string]string{"PIDFILE": pidFile},
	}
	start := time.Now()
	res := pipeline.Execute(t.Context(), cmd, job)
	if pid := readPid(t, pidFile); pid > 0 {
		syscall.Kill(pid, syscall.SIGKILL) // the escaped process is ours to end
	}
	if res.Outcome != pipeline.OutcomeSucceeded {
		t.Errorf("outcome %q (err %v)", res.Outcome, res.Err)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Execute took %v with an escaped process holding the log", el)
	}
	if log := string(mustRead(t, job.LogPath)); log != "out\n" {
		t.Errorf("log = %q", log)
	}
}

// TestHelperExecute is not a test: TestExecute_ParentDies runs the test
// binary as a stand-in hooktrigger that executes a build and gets killed.
func TestHelperExecute(t *testing.T) {
	pidFile := os.Getenv("HELPER_PIDFILE")
	if pidFile == "" {
		t.Skip("helper process only")
	}
	job := newJob(t)
	cmd := &pipeline.Command{Script: `echo $$ > "$PIDFILE.tmp"; mv "$PIDFILE.tmp" "$PIDFILE"; exec sleep 30`,
		Env: map[string]string{"PIDFILE": pidFile}}
	pipeline.Execute(t.Context(), cmd, job)
}

// A build does not outlive hooktrigger: when the process running Execute
// dies, the kernel kills the build (Pdeathsig).
func TestExecute_ParentDies(t *testing.T) {
	t.Parallel()
	pidFile := filepath.Join(t.TempDir(), "pid")
	helper := exec.Command(os.Args[0], "-test.run=^TestHelperExecute$")
	helper.Env = append(os.Environ(), "HELPER_PIDFILE="+pidFile)
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	waitFile(t, pidFile)
	child := readPid(t, pidFile)
	helper.Process.Kill()
	helper.Wait()
	for range 200 {
		if processGone(child) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	syscall.Kill(child, syscall.SIGKILL)
	t.Errorf("build %d outlived the process that ran it", child)
}

// BenchmarkExecuteTrue measures Execute of /bin/true, files and log
// included; compare with BenchmarkBareExecTrue for the overhead.
func BenchmarkExecuteTrue(b *testing.B) {
	job := newJob(b)
	job.Vars = map[string]string{"ref": "refs/heads/main", "sha": "0123456789abcdef0123456789abcdef01234567"}
	job.Meta = map[string]string{"RUN_ID": "1", "TRIGGER": "bench"}
	payload := []byte(`{"ref":"refs/heads/main"}`)
	cmd := &pipeline.Command{Argv: []string{"/bin/true"}}
	for b.Loop() {
		job.Payload = payload // Execute drops it once written
		if res := pipeline.Execute(b.Context(), cmd, job); res.Outcome != pipeline.OutcomeSucceeded {
			b.Fatalf("outcome %q (err %v)", res.Outcome, res.Err)
		}
	}
}

// BenchmarkBareExecTrue is the floor: os/exec starting /bin/true.
func BenchmarkBareExecTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command("/bin/true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// parallelWorkers is the number of Executes at once in the parallel
// benchmarks, as with "workers: 16".
const parallelWorkers = 16

// BenchmarkExecuteTrueParallel is BenchmarkExecuteTrue with 16 at once.
func BenchmarkExecuteTrueParallel(b *testing.B) {
	b.SetParallelism((parallelWorkers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cmd := &pipeline.Command{Argv: []string{"/bin/true"}}
	b.RunParallel(func(pb *testing.PB) {
		job := newJob(b)
		job.Vars = map[string]string{"ref": "refs/heads/main"}
		for pb.Next() {
			if res := pipeline.Execute(b.Context(), cmd, job); res.Outcome != pipeline.OutcomeSucceeded {
				b.Errorf("outcome %q (err %v)", res.Outcome, res.Err)
				return
			}
		}
	})
}

// BenchmarkBareExecTrueParallel is BenchmarkBareExecTrue with 16 at once.
func BenchmarkBareExecTrueParallel(b *testing.B) {
	b.SetParallelism((parallelWorkers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := exec.Command("/bin/true").Run(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
