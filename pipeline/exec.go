package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command is how to start one build: the trigger's run block, compiled.
// Exactly one of Argv and Script is set.
type Command struct {
	Argv       []string          // run.command, executed directly (no shell)
	Script     string            // run.script, run by /bin/sh -c; payload values reach it only via env and files
	Dir        string            // working directory; "" = the run directory, relative = below it
	Env        map[string]string // run.env, literal values
	InheritEnv []string          // names taken from the parent; nil = PATH HOME LANG TZ TMPDIR, ["all"] = everything
	Timeout    time.Duration     // 0 = none
	KillGrace  time.Duration     // SIGTERM to the process group, SIGKILL after this; 0 = DefaultKillGrace
	MaxLog     int64             // log cap in bytes; 0 = DefaultMaxLog, < 0 = no cap
	Mask       []string          // names of environment variables whose values the log shows as MaskText
	Preamble   func(*Job) []byte // optional; its result starts the log, before the child's output
}

// Job is one execution of a Command.
type Job struct {
	RunDir  string            // per-run directory, created by Execute if missing; holds the payload and variable files
	LogPath string            // the build's stdout and stderr, interleaved; replaced by a new file
	Vars    map[string]string // the delivery's variables
	Meta    map[string]string // HOOKTRIGGER_* entries (RUN_ID, TRIGGER, EVENT …), with or without the prefix
	Payload []byte            // raw body, written to $RunDir/payload; Execute sets it to nil once written (and given to Preamble)
	Started func(pid int)     // optional; called right after the child started
	Attempt int               // 0 for a run's first execution; HOOKTRIGGER_ATTEMPT is Attempt+1
	// Again says an earlier execution of the same job has run (run.retry):
	// the payload and variable files are in place and kept, the log is
	// appended to without the preamble, and when the run directory is the
	// working directory everything else in it is removed first, so each
	// attempt starts from the same directory.
	Again bool
}

// Outcome is how an execution ended.
type Outcome string

// The outcomes of Execute.
const (
	OutcomeSucceeded Outcome = "succeeded" // exit status 0
	OutcomeFailed    Outcome = "failed"    // non-zero exit status, or killed by a signal of its own
	OutcomeTimedOut  Outcome = "timed_out" // Command.Timeout passed; the group was stopped
	OutcomeCancelled Outcome = "cancelled" // the context ended; the group was stopped
	OutcomeError     Outcome = "error"     // could not start
)

// Result is what Execute reports.
type Result struct {
	Outcome   Outcome
	ExitCode  int      // -1 if killed by a signal or not started
	Signal    string   // when timed out or cancelled, the last signal sent to the group ("SIGTERM" or "SIGKILL"); else the signal that killed it, if one did
	Err       error    // why it could not start; context.Cause when cancelled; else a failure to write the log, if any
	FileOnly  []string // variables passed only through the files (too large for the environment)
	Truncated bool     // the log reached Command.MaxLog
	Started   time.Time
	Ended     time.Time
}

// ErrCancelled is the cause to cancel an execution's context with
// (context.WithCancelCause) when a user or a policy cancels a run.
var ErrCancelled = errors.New("pipeline: cancelled")

// DefaultKillGrace is the time between SIGTERM and SIGKILL when
// Command.KillGrace is 0.
const DefaultKillGrace = 10 * time.Second

// File names Execute writes in Job.RunDir.
const (
	PayloadFile      = "payload"       // the raw body
	VarsFile         = "vars.json"     // JSON object of all variables
	ChangedFilesFile = "changed_files" // the files the delivery changed, one per line (see EnvChangedFiles)
)

// logDrainWait bounds how long Execute waits for the log pipe to reach its
// end once the process group is gone; only a process that left the group
// (setsid) can hold it open longer.
const logDrainWait = 2 * time.Second

// Execute runs cmd for job and waits for it. It writes the payload and
// variable files into job.RunDir, starts the command in a process group of
// its own with the environment of BuildEnv, and captures its output into
// job.LogPath.
//
// When cmd.Timeout passes (OutcomeTimedOut) or ctx ends (OutcomeCancelled,
// Err = context.Cause(ctx)), the whole group gets SIGTERM and, if any of it
// is still alive after cmd.KillGrace, SIGKILL. A group that outlives its
// leader after a normal exit is stopped the same way. Execute returns once
// the group is gone or has been sent SIGKILL. It never returns nil and is
// safe for concurrent use.
func Execute(ctx context.Context, cmd *Command, job *Job) *Result {
	res := &Result{ExitCode: -1, Started: time.Now()}
	fail := func(err error) *Result {
		res.Outcome, res.Err, res.Ended = OutcomeError, err, time.Now()
		return res
	}
	switch {
	case cmd == nil || job == nil:
		return fail(errors.New("pipeline: nil command or job"))
	case len(cmd.Argv) > 0 && cmd.Script != "":
		return fail(errors.New("pipeline: command has both argv and script"))
	case len(cmd.Argv) == 0 && cmd.Script == "":
		return fail(errors.New("pipeline: command has neither argv nor script"))
	case len(cmd.Argv) > 0 && cmd.Argv[0] == "":
		return fail(errors.New("pipeline: empty program name"))
	case job.RunDir == "" || job.LogPath == "":
		return fail(errors.New("pipeline: job needs a run directory and a log path"))
	}
	if ctx.Err() != nil {
		res.Outcome, res.Err, res.Ended = OutcomeCancelled, context.Cause(ctx), time.Now()
		return res
	}

	payloadFile := filepath.Join(job.RunDir, PayloadFile)
	varsFile := filepath.Join(job.RunDir, VarsFile)
	env, fileOnly, missing := buildEnv(cmd, job, varsFile, payloadFile)
	res.FileOnly = fileOnly
	fresh := false
	if job.Again {
		if cmd.Dir == "" {
			if err := clearRunDir(job.RunDir, job.LogPath); err != nil {
				return fail(err)
			}
		}
	} else {
		var err error
		if fresh, err = writeJobFiles(job, payloadFile, varsFile, missing); err != nil {
			return fail(err)
		}
	}

	dir := cmd.Dir
	if dir == "" {
		dir = job.RunDir
	} else if !filepath.IsAbs(dir) {
		dir = filepath.Join(job.RunDir, dir)
	}
	argv := commandArgv(cmd)
	path, err := lookPath(argv[0], env)
	if err != nil {
		return fail(err)
	}

	logFresh := fresh && filepath.Dir(job.LogPath) == filepath.Clean(job.RunDir)
	if !logFresh {
		if err := os.MkdirAll(filepath.Dir(job.LogPath), 0o700); err != nil {
			return fail(fmt.Errorf("pipeline: log directory: %w", err))
		}
	}
	var logf fdFile
	if job.Again {
		logf, err = appendFile(job.LogPath)
	} else {
		logf, err = createFile(job.LogPath, logFresh)
	}
	if err != nil {
		return fail(err)
	}
	defer logf.Close()
	values, short := maskValues(cmd.Mask, env)
	lc := &logCapture{f: logf, max: cmd.MaxLog, mask: newMasker(values)}
	if lc.max == 0 {
		lc.max = DefaultMaxLog
	}
	if len(short) > 0 && !job.Again {
		lc.note("not masked, shorter than %d bytes: %s", MinMaskLen, strings.Join(short, " "))
	}
	if cmd.Preamble != nil && !job.Again {
		lc.write(cmd.Preamble(job))
	}
	// The body is in its file now: a build that runs for an hour must not
	// keep a 25 MB body in memory with it.
	job.Payload = nil
	if len(fileOnly) > 0 {
		lc.note("variables passed by file only (too large for the environment; see $%s and $%s): %s",
			EnvVars, EnvVarsDir, strings.Join(fileOnly, " "))
	}

	// One pipe for stdout and stderr keeps their order; the parent closes
	// its write end so the read end ends when the last writer is gone. The
	// read end waits in the network poller; the write end is the child's,
	// blocking, and the parent never touches it but to close it.
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return fail(fmt.Errorf("pipeline: pipe: %w", err))
	}
	if err := syscall.SetNonblock(p[0], true); err != nil {
		syscall.Close(p[0])
		syscall.Close(p[1])
		return fail(fmt.Errorf("pipeline: pipe: %w", err))
	}
	pr, pw := os.NewFile(uintptr(p[0]), "|0"), p[1]
	pidfd := -1
	attr := &syscall.ProcAttr{
		Dir:   dir,
		Env:   env,
		Files: []uintptr{devNull(), uintptr(pw), uintptr(pw)},
		Sys:   groupAttr(&pidfd),
	}
	// Pdeathsig fires when the thread that forked the child exits, not the
	// process. Go ends a thread only when a goroutine locked to it returns
	// without unlocking, which no code of hooktrigger does; the start runs
	// on a locked thread so that it is not one about to end that way.
	type started struct {
		pid int
		err error
	}
	startc := make(chan started, 1)
	exited := make(chan exit, 1)
	go func() {
		runtime.LockOSThread()
		pid, err := syscall.ForkExec(path, argv, attr)
		runtime.UnlockOSThread()
		startc <- started{pid, err}
		if err != nil {
			return
		}
		waitExited(pidfd)
		exited <- reap(pid) // at once: the child has exited
	}()
	st := <-startc
	syscall.Close(pw)
	if st.err != nil {
		pr.Close()
		err := &fs.PathError{Op: "fork/exec", Path: path, Err: st.err}
		lc.end() // the preamble's end the masker held back
		lc.note("could not start %s: %v", argv[0], err)
		return fail(fmt.Errorf("pipeline: start %s: %w", argv[0], err))
	}
	res.Started = time.Now()
	var timeout <-chan time.Time
	if cmd.Timeout > 0 {
		t := time.NewTimer(cmd.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	pgid := st.pid
	drained := make(chan struct{})
	go func() {
		lc.drain(pr)
		close(drained)
	}()
	if job.Started != nil {
		job.Started(pgid)
	}

	var (
		end        exit
		leaderDone bool
		stopped    Outcome // why hooktrigger stopped the group, if it did
	)
	select {
	case end = <-exited:
		leaderDone = true
	case <-ctx.Done():
		stopped = OutcomeCancelled
	case <-timeout:
		stopped = OutcomeTimedOut
	}

	// Stop the group when asked to, or when the leader left processes
	// behind: a build does not outlive its run.
	var sent syscall.Signal
	leftovers := leaderDone && groupAlive(pgid)
	if !leaderDone || leftovers {
		grace := cmd.KillGrace
		if grace <= 0 {
			grace = DefaultKillGrace
		}
		sent = stopGroup(pgid, grace, exited, &end, leaderDone)
	}
	res.Ended = time.Now()

	select {
	case <-drained:
	case <-time.After(logDrainWait):
		pr.Close()
		<-drained
	}
	pr.Close()

	ws := end.status
	if end.err == nil {
		if ws.Exited() {
			res.ExitCode = ws.ExitStatus()
		}
		if ws.Signaled() {
			res.Signal = signalName(ws.Signal())
		}
	}
	switch {
	case stopped != "":
		res.Outcome = stopped
		if sent != 0 {
			res.Signal = signalName(sent)
		}
		if stopped == OutcomeCancelled {
			res.Err = context.Cause(ctx)
			lc.note("cancelled: %v; sent %s to the process group", res.Err, res.Signal)
		} else {
			lc.note("timed out after %s; sent %s to the process group", cmd.Timeout, res.Signal)
		}
	case end.err != nil:
		res.Outcome, res.Err = OutcomeError, fmt.Errorf("pipeline: wait: %w", end.err)
	case ws.Exited() && ws.ExitStatus() == 0:
		res.Outcome = OutcomeSucceeded
	default:
		res.Outcome = OutcomeFailed
	}
	if leftovers {
		lc.note("stopped processes left in the process group after exit (%s)", signalName(sent))
	}
	res.Truncated = lc.truncated
	if lc.err != nil && res.Err == nil {
		res.Err = fmt.Errorf("pipeline: write log: %w", lc.err)
	}
	return res
}

// stopGroup sends SIGTERM to the process group, waits up to grace for its
// leader to exit (reading exited into *waitErr) and every other member to
// go, and sends SIGKILL if they have not. It returns the last signal sent
// and returns only once the leader has been reaped.
func stopGroup(pgid int, grace time.Duration, exited <-chan exit, end *exit, leaderDone bool) syscall.Signal {
	sent := syscall.SIGTERM
	signalGroup(pgid, sent)
	signalGroup(pgid, syscall.SIGCONT) // a stopped process acts on SIGTERM only once continued
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	poll := time.Millisecond
	for !leaderDone || groupAlive(pgid) {
		pt := time.NewTimer(poll)
		select {
		case *end = <-exited:
			leaderDone = true
		case <-pt.C:
			poll = min(2*poll, 50*time.Millisecond)
		case <-deadline.C:
			pt.Stop()
			sent = syscall.SIGKILL
			signalGroup(pgid, sent)
			if !leaderDone {
				*end = <-exited
			}
			// SIGKILL takes effect as the kernel gets to it; give the
			// members a moment so callers see the group gone.
			for i := 0; i < 100 && groupAlive(pgid); i++ {
				time.Sleep(10 * time.Millisecond)
			}
			return sent
		}
		pt.Stop()
	}
	return sent
}

// devNull is the builds' standard input: /dev/null, opened once rather
// than by every start. When it cannot be opened, builds start with their
// standard input closed.
var devNull = sync.OnceValue(func() uintptr {
	fd, err := syscall.Open(os.DevNull, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return ^uintptr(0) // -1: closed in the child
	}
	return uintptr(fd)
})

// exit is how a build's leader process ended.
type exit struct {
	status syscall.WaitStatus
	err    error // the wait itself failed
}

// reap waits for the process pid and collects its status.
func reap(pid int) exit {
	for {
		var ws syscall.WaitStatus
		_, err := syscall.Wait4(pid, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		return exit{status: ws, err: err}
	}
}

// writeJobFiles creates the run directory and writes the payload, the
// JSON variables file and, in VarsDir, a file for each variable named in
// missing, all readable by the owner only.
//
// It reports whether it created the run directory itself: then the
// directory is known to be empty, and no stale file needs removing (each
// removal is a system call, and a run's start is on the hot path).
func writeJobFiles(job *Job, payloadFile, varsFile string, missing []string) (fresh bool, err error) {
	switch err := os.Mkdir(job.RunDir, 0o700); {
	case err == nil:
		fresh = true
	case errors.Is(err, fs.ErrExist):
	default:
		if err := os.MkdirAll(job.RunDir, 0o700); err != nil {
			return false, fmt.Errorf("pipeline: run directory: %w", err)
		}
	}
	if err := writeFile(payloadFile, job.Payload, fresh); err != nil {
		return fresh, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	vars := job.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	if err := enc.Encode(vars); err != nil {
		return fresh, fmt.Errorf("pipeline: encode variables: %w", err)
	}
	if err := writeFile(varsFile, buf.Bytes(), fresh); err != nil {
		return fresh, err
	}
	if list, ok := changedFiles(job.Meta); ok {
		if err := writeFile(filepath.Join(job.RunDir, ChangedFilesFile), []byte(list+"\n"), fresh); err != nil {
			return fresh, err
		}
	}
	// A run directory used before may hold files of another delivery.
	dir := VarsDir(varsFile)
	if !fresh {
		if err := os.RemoveAll(dir); err != nil {
			return fresh, fmt.Errorf("pipeline: variables directory: %w", err)
		}
	}
	if len(missing) == 0 {
		return fresh, nil
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fresh, fmt.Errorf("pipeline: variables directory: %w", err)
	}
	for _, k := range missing {
		if err := writeFile(filepath.Join(dir, k), []byte(job.Vars[k]), true); err != nil {
			return fresh, err
		}
	}
	return fresh, nil
}

// changedFiles returns the list of changed files that meta carries, under
// EnvChangedFiles with or without its prefix.
func changedFiles(meta map[string]string) (string, bool) {
	if v, ok := meta[EnvChangedFiles]; ok {
		return v, true
	}
	v, ok := meta[strings.TrimPrefix(EnvChangedFiles, metaPrefix)]
	return v, ok
}

// writeFile writes data to a new file name with mode 0600.
//
// inNewDir says the file's directory was just created (see createFile).
func writeFile(name string, data []byte, inNewDir bool) error {
	f, err := createFile(name, inNewDir)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pipeline: write %s: %w", name, err)
	}
	return nil
}

// createFile replaces name by a new empty file of mode 0600. Removing
// the old file rather than truncating it means a reused run directory
// neither keeps a wider mode nor follows a planted symlink, and spares
// ext4 the flush it forces when a file is truncated and rewritten.
//
// inNewDir says the file's directory was just created: there is nothing to
// remove first.
func createFile(name string, inNewDir bool) (fdFile, error) {
	if !inNewDir {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return -1, fmt.Errorf("pipeline: %w", err)
		}
	}
	return openFile(name, syscall.O_EXCL)
}

// appendFile opens name for appending, creating it if missing.
func appendFile(name string) (fdFile, error) {
	return openFile(name, syscall.O_APPEND)
}

// openFile opens name for writing with mode 0600, creating it, with flags
// added.
func openFile(name string, flags int) (fdFile, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_CLOEXEC|flags, 0o600)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return -1, fmt.Errorf("pipeline: %w", &fs.PathError{Op: "open", Path: name, Err: err})
		}
		return fdFile(fd), nil
	}
}

// noteLog adds a line of hooktrigger's own (see logCapture.note) to the
// log at path, between two executions.
func noteLog(path, format string, args ...any) error {
	f, err := appendFile(path)
	if err != nil {
		return err
	}
	lc := &logCapture{f: f}
	lc.note(format, args...)
	if cerr := f.Close(); lc.err == nil {
		lc.err = cerr
	}
	return lc.err
}

// clearRunDir removes from dir everything but the run's own files (the
// payload, the variables, their directory and the log at logPath).
func clearRunDir(dir, logPath string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("pipeline: run directory: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		if name == PayloadFile || name == VarsFile || name == ChangedFilesFile || p == VarsDir(filepath.Join(dir, VarsFile)) || p == filepath.Clean(logPath) {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("pipeline: run directory: %w", err)
		}
	}
	return nil
}

// fdFile is a file written with plain system calls. An *os.File would try
// to add a regular file to the network poller, which the kernel refuses,
// and that attempt costs four system calls on every open; run files are
// opened three times per run.
type fdFile int

func (f fdFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := syscall.Write(int(f), p[n:])
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return n, err
		case m == 0:
			return n, io.ErrShortWrite
		}
		n += m
	}
	return n, nil
}

func (f fdFile) Close() error { return syscall.Close(int(f)) }

// lookPath finds name in the PATH of the child's environment env (not
// hooktrigger's own). A name with a slash is used as given, relative to
// the working directory; relative PATH entries are skipped.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	var path string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, d := range filepath.SplitList(path) {
		if !filepath.IsAbs(d) {
			continue
		}
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("pipeline: %q not found in the build's PATH: %w", name, exec.ErrNotFound)
}
