//go:build linux

package pipeline

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// leftoverGroups finds what runs that were executing when hooktrigger died
// left behind. Every build carries HOOKTRIGGER_RUN_ID=<run id> in its
// environment, and its descendants inherit it: one pass over /proc returns,
// per run id of ids, the process groups of the live processes carrying it.
// Nothing is recorded per run while it executes, so a run's start costs no
// extra system call; and a process group id the system has since given to
// something else is never touched, since only carriers of the id count.
func leftoverGroups(ids map[string]bool) map[string][]int {
	out := map[string][]int{}
	if len(ids) == 0 {
		return out
	}
	names, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return out
	}
	prefix := []byte(metaPrefix + "RUN_ID=")
	self := os.Getpid()
	for _, p := range names {
		pid := filepath.Base(p)
		state, pgrp, ok := procStat(pid)
		if !ok || state == 'Z' || state == 'X' || pgrp <= 1 || pgrp == syscall.Getpgrp() || pid == itoa(self) {
			continue
		}
		env, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			id, ok := bytes.CutPrefix(kv, prefix)
			if !ok || !ids[string(id)] {
				continue
			}
			run := string(id)
			if !containsInt(out[run], pgrp) {
				out[run] = append(out[run], pgrp)
			}
			break
		}
	}
	return out
}

// stopGroups sends SIGTERM to the process groups, then SIGKILL to what is
// still alive after grace, and returns the last signal sent.
func stopGroups(pgids []int, grace time.Duration) string {
	alive := func() bool {
		for _, g := range pgids {
			if groupAlive(g) {
				return true
			}
		}
		return false
	}
	for _, g := range pgids {
		signalGroup(g, syscall.SIGTERM)
		signalGroup(g, syscall.SIGCONT) // a stopped process acts on SIGTERM only once continued
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !alive() {
			return "SIGTERM"
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, g := range pgids {
		signalGroup(g, syscall.SIGKILL)
	}
	for i := 0; i < 100 && alive(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return "SIGKILL"
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for n >= 10 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	b[i] = byte('0' + n)
	return string(b[i:])
}
