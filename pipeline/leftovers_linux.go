//go:build linux

package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// PgidFile is the entry in a run directory that holds the process group id
// of the build while it runs: a symbolic link whose target is the number
// (one system call to make, where a file takes four). The scheduler removes
// it when the build has ended; after a crash of hooktrigger it tells Start
// which group to stop.
const PgidFile = "pgid"

// recordPgid makes the PgidFile link name point at pgid.
func recordPgid(name string, pgid int) error {
	err := os.Symlink(strconv.Itoa(pgid), name)
	if errors.Is(err, fs.ErrExist) {
		if err = os.Remove(name); err == nil {
			err = os.Symlink(strconv.Itoa(pgid), name)
		}
	}
	if err != nil {
		return fmt.Errorf("pipeline: %w", err)
	}
	return nil
}

// stopLeftovers stops what a run that was executing when hooktrigger died
// left behind: the members of the process group recorded in dir's PgidFile.
// The group is signalled only if one of its live members carries
// HOOKTRIGGER_RUN_ID=runID in its environment, so a process group id the
// system has since given to something else is never touched. It sends
// SIGTERM, then SIGKILL to what is still alive after grace, and returns the
// last signal sent ("" when there was nothing to stop).
func stopLeftovers(dir, runID string, grace time.Duration) string {
	target, err := os.Readlink(filepath.Join(dir, PgidFile))
	if err != nil {
		return ""
	}
	defer os.Remove(filepath.Join(dir, PgidFile))
	pgid, err := strconv.Atoi(target)
	if err != nil || pgid <= 1 || !groupOfRun(pgid, runID) {
		return ""
	}
	signalGroup(pgid, syscall.SIGTERM)
	signalGroup(pgid, syscall.SIGCONT)
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		if !groupAlive(pgid) {
			return "SIGTERM"
		}
		time.Sleep(20 * time.Millisecond)
	}
	signalGroup(pgid, syscall.SIGKILL)
	for i := 0; i < 100 && groupAlive(pgid); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	return "SIGKILL"
}

// groupOfRun reports whether a live member of process group pgid has
// HOOKTRIGGER_RUN_ID=runID in its environment.
func groupOfRun(pgid int, runID string) bool {
	names, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return false
	}
	want := []byte(metaPrefix + "RUN_ID=" + runID)
	for _, p := range names {
		state, pgrp, ok := procStat(filepath.Base(p))
		if !ok || pgrp != pgid || state == 'Z' || state == 'X' {
			continue
		}
		env, err := os.ReadFile(filepath.Join(p, "environ"))
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				return true
			}
		}
	}
	return false
}
