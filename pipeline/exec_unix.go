//go:build linux

package pipeline

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// groupAttr puts the child in a process group of its own, so that one
// signal reaches the build and everything it started, and has the kernel
// SIGKILL the child if hooktrigger dies. Pdeathsig reaches the child only:
// its descendants outlive a crash of hooktrigger, with their log pipe closed
// (their next write gets SIGPIPE).
//
// pidfd, when not nil, receives a pidfd of the child (see waitExited).
func groupAttr(pidfd *int) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL, PidFD: pidfd}
}

// waitExited returns once the process of pidfd has exited, without
// reaping it, and closes pidfd. It waits in the network poller (a pidfd
// becomes readable when its process exits) rather than in a blocking
// waitid: a thread held in a system call for the life of every build costs
// the runtime a thread hand-off and a wake-up of its monitor each time.
// When the pidfd cannot be polled it returns at once, and the caller's
// blocking wait does the waiting.
func waitExited(pidfd int) {
	if pidfd < 0 {
		return
	}
	if err := syscall.SetNonblock(pidfd, true); err != nil {
		syscall.Close(pidfd)
		return
	}
	f := os.NewFile(uintptr(pidfd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool {
		var info [16]uint64 // siginfo_t: 128 bytes, aligned for its fields
		_, _, e := syscall.Syscall6(syscall.SYS_WAITID, pPidfd, fd, uintptr(unsafe.Pointer(&info)),
			syscall.WEXITED|syscall.WNOHANG|wNowait, 0, 0)
		if e != 0 {
			return true // let the caller's wait report it
		}
		// With WNOHANG, si_pid stays zero while the process runs.
		return *(*int32)(unsafe.Add(unsafe.Pointer(&info), siPidOffset)) != 0
	})
}

const (
	pPidfd  = 3         // P_PIDFD
	wNowait = 0x1000000 // WNOWAIT
	// siPidOffset is where siginfo_t holds si_pid: after three ints
	// (si_signo, si_errno, si_code), at the start of a union aligned like
	// a pointer.
	siPidOffset = (12 + wordSize - 1) &^ (wordSize - 1)
	wordSize    = unsafe.Sizeof(uintptr(0))
)

// signalGroup sends sig to every process of the group pgid.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// groupAlive reports whether the process group pgid has a member that is
// not a zombie. kill(2) also finds zombies, which linger when PID 1 does
// not reap orphans (containers), so a hit is confirmed through /proc.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); err == syscall.ESRCH {
		return false
	}
	return liveGroupMember(pgid)
}

// liveGroupMember scans /proc for a process of group pgid that is not a
// zombie. When /proc cannot be read it answers true.
func liveGroupMember(pgid int) bool {
	d, err := os.Open("/proc")
	if err != nil {
		return true
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return true
	}
	for _, n := range names {
		if n[0] < '0' || n[0] > '9' {
			continue
		}
		state, pgrp, ok := procStat(n)
		if ok && pgrp == pgid && state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}

// procStat reads the state and process group of /proc/<pid>/stat.
func procStat(pid string) (state byte, pgrp int, ok bool) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0, 0, false
	}
	f := bytes.Fields(b[i+2:])
	if len(f) < 3 || len(f[0]) != 1 {
		return 0, 0, false
	}
	pg, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, false
	}
	return f[0][0], pg, true
}

// signalNames spells the signals a build can die of the way users know them.
var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP: "SIGHUP", syscall.SIGINT: "SIGINT", syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL: "SIGILL", syscall.SIGTRAP: "SIGTRAP", syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS: "SIGBUS", syscall.SIGFPE: "SIGFPE", syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1", syscall.SIGSEGV: "SIGSEGV", syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE", syscall.SIGALRM: "SIGALRM", syscall.SIGTERM: "SIGTERM",
	syscall.SIGSTKFLT: "SIGSTKFLT", syscall.SIGCHLD: "SIGCHLD", syscall.SIGCONT: "SIGCONT",
	syscall.SIGSTOP: "SIGSTOP", syscall.SIGTSTP: "SIGTSTP", syscall.SIGTTIN: "SIGTTIN",
	syscall.SIGTTOU: "SIGTTOU", syscall.SIGURG: "SIGURG", syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ", syscall.SIGVTALRM: "SIGVTALRM", syscall.SIGPROF: "SIGPROF",
	syscall.SIGWINCH: "SIGWINCH", syscall.SIGIO: "SIGIO", syscall.SIGPWR: "SIGPWR",
	syscall.SIGSYS: "SIGSYS",
}

// signalName returns "SIGTERM" for syscall.SIGTERM, "SIG34" for unnamed ones.
func signalName(s syscall.Signal) string {
	if n, ok := signalNames[s]; ok {
		return n
	}
	return "SIG" + strconv.Itoa(int(s))
}
