package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/server"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

// Run is the whole command line: it parses args, runs the command and
// returns the process exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(ctx, stdout, stderr)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "hooktrigger:", err)
	return 1
}

func newRoot(ctx context.Context, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "hooktrigger",
		Short:         "hooktrigger turns repository webhooks into build runs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cfgPath string
	root.PersistentFlags().StringVar(&cfgPath, "config", "./hooktrigger.yaml", "config file")

	root.AddCommand(&cobra.Command{
		Use:   "serve",
		Short: "run the server",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return serve(cmd.Context(), cfgPath, stderr)
		},
	})
	root.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "validate the config file; exit 1 with file:line messages",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return &exitError{1, err}
			}
			for _, t := range cfg.Triggers.All() {
				fmt.Fprintln(stdout, summary(t, len(t.Variables)))
			}
			for _, w := range cfg.Warnings {
				fmt.Fprintln(stderr, "warning: "+w.Error())
			}
			return nil
		},
	})
	root.AddCommand(newExtract(&cfgPath, stdout))
	root.AddCommand(newReplay(&cfgPath, stdout))      // client.go
	root.AddCommand(newRun(&cfgPath, stdout, stderr)) // client.go
	root.AddCommand(newSchema(stdout))                // schema.go
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(stdout, "hooktrigger", versionString())
		},
	})
	return root
}

func versionString() string {
	v := version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
		v += " " + bi.GoVersion
	}
	return v
}

func summary(t *trigger.Trigger, nvars int) string {
	ev := "all events"
	if len(t.Events) > 0 {
		ev = "events " + strings.Join(t.Events, ",")
	}
	method := "POST"
	if len(t.Methods) > 0 {
		method = strings.Join(t.Methods, ",")
	}
	return fmt.Sprintf("ok  %s  %s %s  provider %s  %s  %d variable(s)", t.Name, method, t.Path, t.ProviderName, ev, nvars)
}

func newLogger(format, level string, w io.Writer) *slog.Logger {
	lv := slog.LevelInfo
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, cfgPath string, stderr io.Writer) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return &exitError{1, err}
	}
	log := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	srv, err := server.New(cfg, log)
	if err != nil {
		return err
	}
	srv.Version = version
	if err := srv.Open(ctx); err != nil {
		srv.Close(context.Background())
		return err
	}
	// Parsing a large config leaves a large transient heap behind; give it
	// back to the OS once instead of carrying it as idle RSS.
	debug.FreeOSMemory()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = srv.Reload(cfgPath, true) // logged and counted by the server
		}
	}()
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go func() {
		if err := srv.WatchConfig(wctx, cfgPath); err != nil {
			log.Warn("config file not watched; reload with SIGHUP", "err", err)
		}
	}()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve() }()
	select {
	case err := <-errc:
		srv.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return srv.Close(sctx)
}

func newExtract(cfgPath *string, stdout io.Writer) *cobra.Command {
	var (
		trig, payload, event       string
		headers, queries           []string
		jsonpath, gjsonExpr, xpath string
	)
	cmd := &cobra.Command{
		Use:   "extract",
		Short: "print the variables and the filter verdict of a payload as JSON; run nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if payload == "" {
				return &exitError{2, errors.New("extract: --payload FILE is required")}
			}
			body, err := os.ReadFile(payload)
			if err != nil {
				return &exitError{2, fmt.Errorf("extract: %v", err)}
			}
			h, err := parseHeaders(headers)
			if err != nil {
				return &exitError{2, fmt.Errorf("extract: %w", err)}
			}
			if h.Get("Content-Type") == "" {
				h.Set("Content-Type", "application/json")
			}
			q := parseQuery(queries)
			var cfg *config.Config
			if trig != "" && jsonpath == "" && gjsonExpr == "" && xpath == "" {
				if cfg, err = config.Load(*cfgPath); err != nil {
					return &exitError{1, err}
				}
			}
			// The same evaluation as the UI's playground (POST /api/extract).
			out, err := server.Extract(cfg, body, h, q, event, jsonpath, gjsonExpr, xpath, trig)
			if err != nil {
				if errors.Is(err, server.ErrUnknownTrigger) {
					return &exitError{2, fmt.Errorf("extract: no trigger %q in %s", trig, *cfgPath)}
				}
				return &exitError{2, fmt.Errorf("extract: %w", err)}
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&trig, "trigger", "", "trigger name in the config")
	f.StringVar(&payload, "payload", "", "file holding the request body")
	f.StringVar(&event, "event", "", "event name to assume (e.g. push, pull_request.opened)")
	f.StringArrayVar(&headers, "header", nil, "request header 'Name: value' (repeatable)")
	f.StringArrayVar(&queries, "query", nil, "query parameter k=v (repeatable)")
	f.StringVar(&jsonpath, "jsonpath", "", "evaluate one JSONPath (RFC 9535) expression")
	f.StringVar(&gjsonExpr, "gjson", "", "evaluate one gjson expression")
	f.StringVar(&xpath, "xpath", "", "evaluate one XPath 1.0 expression")
	return cmd
}
