// Package server is hooktrigger's HTTP side: the webhook endpoints, the JSON
// API, health and metrics. It owns the limits (body size, timeouts) and is
// the one place where errors become status codes.
package server

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hooktrigger/hooktrigger/changes"
	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/notify"
	"github.com/hooktrigger/hooktrigger/pipeline"
	"github.com/hooktrigger/hooktrigger/status"
	"github.com/hooktrigger/hooktrigger/store"
	"github.com/hooktrigger/hooktrigger/store/postgres"
	"github.com/hooktrigger/hooktrigger/store/sqlite"
)

// Server is one running hooktrigger instance. Build it with New, start it
// with Open, stop it with Close.
type Server struct {
	cfg       atomic.Pointer[config.Config]
	store     store.Store
	sched     *pipeline.Scheduler
	log       *slog.Logger
	http      *http.Server
	ln        net.Listener
	started   time.Time
	stopPrune chan struct{}
	closeOnce sync.Once
	waiters   runWaiters // answers waiting for their runs (run.wait): wait.go
	Version   string

	obsMu     sync.Mutex
	observers []func(*store.Run)

	// web UI (ui.go)
	uiOnce sync.Once
	uiSt   *uiState

	status *status.Reporter // commit statuses (status.go)
	notify *notify.Notifier // run ends told to endpoints (notify.go)
	// changes lists the files of pull requests for paths filters
	// (evaluate.go).
	changes changes.Lister
	prFiles filesCache // pull request files by head commit (evaluate.go)

	ops opsState // metrics, limits, certificates, reload: limits.go
}

// New opens the store named by cfg and prepares the scheduler. Nothing
// listens or runs until Open.
func New(cfg *config.Config, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Server{log: log, started: time.Now(), stopPrune: make(chan struct{})}
	s.cfg.Store(cfg)
	s.warnConfig(cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data_dir: %w", err)
	}
	host, _ := os.Hostname()
	instance := fmt.Sprintf("%s:%d", host, os.Getpid())
	if cfg.Database != "" {
		// Several instances share the database: the name must not come
		// back after a restart (a container's pid is always 1).
		instance += "/" + store.NewID()[16:]
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		db, err := postgres.Open(ctx, cfg.Database, postgres.Options{Instance: instance})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("server: database: %w", err)
		}
		s.store = db
	} else {
		db, err := sqlite.Open(filepath.Join(cfg.DataDir, "hooktrigger.db"))
		if err != nil {
			return nil, err
		}
		s.store = db
	}
	s.sched = pipeline.NewScheduler(s.store, s.lookupSpec, filepath.Join(cfg.DataDir, "runs"), cfg.Workers, log)
	s.sched.Instance = instance
	s.sched.OnChange = s.runChanged
	s.OnRunChange(s.waiters.ended)
	s.startStatus()    // commit statuses (status.go)
	s.startNotify()    // notify lists (notify.go)
	s.initOps(s.store) // metrics, store commit hook: limits.go
	return s, nil
}

// Config returns the config in force.
func (s *Server) Config() *config.Config { return s.cfg.Load() }

// SetConfig swaps in a new compiled config. Requests in flight finish under
// the config they started with.
func (s *Server) SetConfig(c *config.Config) { s.cfg.Store(c) }

// Store returns the server's store.
func (s *Server) Store() store.Store { return s.store }

func (s *Server) lookupSpec(name string) (*pipeline.Spec, bool) {
	t, ok := s.cfg.Load().Triggers.ByName(name)
	if !ok || t.Spec == nil {
		return nil, false
	}
	return t.Spec, true
}

// OnRunChange registers f to be called after every recorded state change of
// a run (metrics, commit status, the live UI). f must not block.
func (s *Server) OnRunChange(f func(*store.Run)) {
	s.obsMu.Lock()
	defer s.obsMu.Unlock()
	s.observers = append(s.observers, f)
}

func (s *Server) runChanged(r *store.Run) {
	s.obsMu.Lock()
	obs := s.observers
	s.obsMu.Unlock()
	for _, f := range obs {
		f(r)
	}
}

// Scheduler returns the server's run scheduler.
func (s *Server) Scheduler() *pipeline.Scheduler { return s.sched }

// Open recovers the runs of a previous process, starts the scheduler and
// listens on the configured address (synchronously, so Addr is known when it
// returns). Serve with Serve.
func (s *Server) Open(ctx context.Context) error {
	cfg := s.cfg.Load()
	if err := s.sched.Start(ctx); err != nil {
		return fmt.Errorf("server: recover runs: %w", err)
	}
	// After Start, which ends the runs a crash left running.
	s.resendStatuses(ctx)
	wctx, stop := context.WithCancel(context.Background())
	go func() { <-s.stopPrune; stop() }()
	sh, shared := s.store.(store.Shared)
	// Notifications owed by earlier processes (notify.go).
	go s.adoptNotifications(wctx, shared)
	if shared {
		// Claim runs recorded by other instances.
		go s.sched.Watch(wctx, sh, 2*time.Second)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("server: listen: %w", err)
	}
	s.ln = ln
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: cmp.Or(cfg.ReadHeaderTimeout, config.DefaultReadHeaderTimeout),
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if cfg.TLSCert != "" {
		s.http.TLSConfig, err = s.tlsConfig(cfg) // reloads changed cert files: certs.go
		if err != nil {
			ln.Close()
			return err
		}
		s.ln = tls.NewListener(ln, s.http.TLSConfig)
	}
	go s.pruneLoop()
	s.log.Info("listening", "addr", ln.Addr().String(), "triggers", len(cfg.Triggers.All()), "data_dir", cfg.DataDir)
	return nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve answers requests until Close. It returns nil after a clean Close.
func (s *Server) Serve() error {
	err := s.http.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting requests, lets requests in flight finish, gives
// running builds the configured grace and closes the store.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stopPrune)
		if s.http != nil {
			err = s.http.Shutdown(ctx)
		}
		s.sched.Shutdown(s.cfg.Load().ShutdownGrace)
		// After the scheduler's last states, before the store (notes);
		// both at once, so a stop waits for the grace once.
		var wg sync.WaitGroup
		wg.Go(s.closeNotify)
		s.closeStatus()
		wg.Wait()
		err = errors.Join(err, s.store.Close())
	})
	return err
}

// sweepEvery is how many prunes pass between two sweeps of the run
// directories (see pipeline.Scheduler.SweepRunDirs): daily with the
// default hourly prune, and also once at start.
const sweepEvery = 24

func (s *Server) pruneLoop() {
	for i := 0; ; i++ {
		cfg := s.cfg.Load()
		ids, err := s.store.Prune(context.Background(), cfg.KeepDeliveries, cfg.KeepRuns, cfg.MaxRuns)
		if err != nil {
			s.log.Warn("prune failed", "err", err)
		}
		for _, id := range ids {
			os.RemoveAll(s.sched.RunDir(id))
		}
		if i%sweepEvery == 0 {
			n, err := s.sched.SweepRunDirs(context.Background())
			if err != nil {
				s.log.Warn("sweep of run directories failed", "err", err)
			}
			if n > 0 {
				s.log.Info("removed the directories of runs no longer stored", "count", n)
			}
		}
		select {
		case <-s.stopPrune:
			return
		case <-time.After(pruneInterval(cfg)):
		}
	}
}
