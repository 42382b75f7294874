package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/hooktrigger/hooktrigger/config"
)

// reloadDebounce is how long the config file must stay quiet before a
// change is loaded: editors and ConfigMap updates touch it several times.
const reloadDebounce = 100 * time.Millisecond

// Reload reads the config file at path, compiles it completely and swaps it
// in atomically. An invalid file is refused: the error is logged and
// counted and returned, and the old config keeps serving. Unless force is
// set, a file whose bytes did not change since the last load is ignored
// (force re-reads file: secrets too; SIGHUP forces). Settings that need a
// restart (listen, data_dir, database, workers, log_format, log_level,
// read_header_timeout, turning TLS on or off) keep their old values, with
// a warning. Requests in flight finish under the config they started with.
func (s *Server) Reload(path string, force bool) error {
	s.ops.reloadMu.Lock()
	defer s.ops.reloadMu.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		return s.reloadFailed(err)
	}
	if !force && sha256.Sum256(data) == s.cfg.Load().Digest {
		return nil
	}
	next, err := config.LoadBytes(path, data)
	if err != nil {
		return s.reloadFailed(err)
	}
	old := s.cfg.Load()
	for _, k := range keepRestartOnly(old, next) {
		s.log.Warn("config reload: "+k+" changes only at a restart; keeping the old value", "key", k)
	}
	s.warnConfig(next)
	s.cfg.Store(next)
	s.ops.m.reloads.WithLabelValues("success").Inc()
	s.log.Info("config reloaded", "file", path, "triggers", len(next.Triggers.All()))
	if len(next.Triggers.All()) > 1000 {
		go debug.FreeOSMemory() // the old config and the parse are garbage now
	}
	return nil
}

func (s *Server) reloadFailed(err error) error {
	s.ops.m.reloads.WithLabelValues("failure").Inc()
	s.log.Error("config reload refused; the old config keeps serving", "err", err)
	return err
}

// keepRestartOnly copies into next the settings a running server cannot
// change and names those that differed.
func keepRestartOnly(old, next *config.Config) []string {
	var changed []string
	keep := func(key string, differs bool, restore func()) {
		if differs {
			changed = append(changed, key)
			restore()
		}
	}
	keep("listen", old.Listen != next.Listen, func() { next.Listen = old.Listen })
	keep("data_dir", old.DataDir != next.DataDir, func() { next.DataDir = old.DataDir })
	keep("database", old.Database != next.Database, func() { next.Database = old.Database })
	keep("workers", old.Workers != next.Workers, func() { next.Workers = old.Workers })
	keep("log_format", old.LogFormat != next.LogFormat, func() { next.LogFormat = old.LogFormat })
	keep("log_level", old.LogLevel != next.LogLevel, func() { next.LogLevel = old.LogLevel })
	keep("read_header_timeout", old.ReadHeaderTimeout != next.ReadHeaderTimeout, func() { next.ReadHeaderTimeout = old.ReadHeaderTimeout })
	keep("tls", (old.TLSCert == "") != (next.TLSCert == ""), func() { next.TLSCert, next.TLSKey = old.TLSCert, old.TLSKey })
	return changed
}

// WatchConfig reloads the config file at path whenever it changes, until
// ctx ends. It watches the file's directory, not the file, so that editors
// that write a new file and rename it over the old one, and Kubernetes
// ConfigMap volumes that swap a ..data symlink, are both seen; when path is
// a symlink, the directory of its target is watched too.
func (s *Server) WatchConfig(ctx context.Context, path string) error {
	path, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(path)); err != nil {
		return err
	}
	target := ""
	follow := func() {
		t, err := filepath.EvalSymlinks(path)
		if err != nil || t == path || filepath.Dir(t) == filepath.Dir(path) {
			t = ""
		}
		if t == target {
			return
		}
		if target != "" {
			_ = w.Remove(filepath.Dir(target))
		}
		if t != "" {
			if err := w.Add(filepath.Dir(t)); err != nil {
				t = ""
			}
		}
		target = t
	}
	follow()
	// A change made between the first load and the watch is caught here.
	_ = s.Reload(path, false)
	relevant := func(name string) bool {
		base := filepath.Base(name)
		return base == filepath.Base(path) || strings.HasPrefix(base, "..") ||
			(target != "" && filepath.Dir(name) == filepath.Dir(target))
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("server: config watcher closed")
			}
			if relevant(ev.Name) {
				timer.Reset(reloadDebounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("server: config watcher closed")
			}
			s.log.Warn("config watcher", "err", err)
		case <-timer.C:
			_ = s.Reload(path, false)
			follow()
		}
	}
}

// warnConfig logs what the config may do but probably should not.
func (s *Server) warnConfig(cfg *config.Config) {
	for _, w := range cfg.Warnings {
		s.log.Warn("config: "+w.Msg, "file", w.File, "line", w.Line, "field", w.Field)
	}
}
