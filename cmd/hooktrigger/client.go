package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/server"
)

// apiClient calls the API of a running server, found and authorised as the
// config file says (listen, tls, api_token) unless --server names it.
type apiClient struct {
	base, token string
}

func newAPIClient(cfgPath, serverURL string) (*apiClient, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, &exitError{1, err}
	}
	c := &apiClient{base: strings.TrimRight(serverURL, "/")}
	if cfg.APIToken != "" {
		c.token = cfg.APIToken.Reveal()
	}
	if c.base == "" {
		host, port, err := net.SplitHostPort(cfg.Listen)
		if err != nil || port == "0" {
			return nil, &exitError{2, fmt.Errorf("listen %q names no port to reach: give --server URL", cfg.Listen)}
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1" // listening on every address: this machine's is one
		}
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		c.base = scheme + "://" + net.JoinHostPort(host, port)
	}
	return c, nil
}

// do sends a request to the API; a body is sent as JSON.
func (c *apiClient) do(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("is the server running at %s? %w", c.base, err)
	}
	return resp, nil
}

// call sends a request and reads the answer, which must have one of the
// statuses want.
func (c *apiClient) call(ctx context.Context, method, path string, body []byte, want ...int) ([]byte, error) {
	resp, err := c.do(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(want, resp.StatusCode) {
		return nil, &exitError{1, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(out))}
	}
	return out, nil
}

func replay(ctx context.Context, cfgPath, serverURL, id string, stdout io.Writer) error {
	c, err := newAPIClient(cfgPath, serverURL)
	if err != nil {
		return err
	}
	body, err := c.call(ctx, http.MethodPost, "/api/deliveries/"+url.PathEscape(id)+"/replay", nil, http.StatusAccepted)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	_, err = stdout.Write(body)
	return err
}

func newReplay(cfgPath *string, stdout io.Writer) *cobra.Command {
	var serverURL string
	cmd := &cobra.Command{
		Use:   "replay DELIVERY-ID",
		Short: "re-run a stored delivery through the running server",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return replay(cmd.Context(), *cfgPath, serverURL, args[0], stdout)
		},
	}
	cmd.Flags().StringVar(&serverURL, "server", "", "URL of the running server (default: from listen and tls in the config)")
	return cmd
}

// runAnswer is the part of a hook's answer that `run` reads.
type runAnswer struct {
	Runs []struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"runs"`
	Skipped []struct {
		Trigger string `json:"trigger"`
		Reason  string `json:"reason"`
	} `json:"skipped"`
}

func newRun(cfgPath *string, stdout, stderr io.Writer) *cobra.Command {
	var (
		serverURL, payload, event string
		headers, queries          []string
		follow                    bool
	)
	cmd := &cobra.Command{
		Use:   "run TRIGGER",
		Short: "start a trigger's build through the running server: a delivery written by hand",
		Long: `run sends the running server a delivery for one trigger (POST /api/triggers/{name}/run):
the payload, headers, query and event given, authorised by the config's api_token. The trigger
reads, filters and records it as a delivery to its path. It prints the answer; with --follow
it prints each run's log as it is written instead. Exit status 0: a run started (and with
--follow, every run succeeded); 1: no run started, or one did not succeed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := server.RunRequest{Event: event}
			if payload != "" {
				var b []byte
				var err error
				if payload == "-" {
					b, err = io.ReadAll(os.Stdin)
				} else {
					b, err = os.ReadFile(payload)
				}
				if err != nil {
					return &exitError{2, fmt.Errorf("run: %v", err)}
				}
				s := string(b)
				req.Payload = &s
			}
			h, err := parseHeaders(headers)
			if err != nil {
				return &exitError{2, fmt.Errorf("run: %w", err)}
			}
			req.Headers = strSlices(h)
			req.Query = strSlices(parseQuery(queries))
			body, _ := json.Marshal(req)
			c, err := newAPIClient(*cfgPath, serverURL)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			out, err := c.call(ctx, http.MethodPost, "/api/triggers/"+url.PathEscape(args[0])+"/run", body, http.StatusOK, http.StatusAccepted)
			if err != nil {
				return fmt.Errorf("run: %w", err)
			}
			var a runAnswer
			if err := json.Unmarshal(out, &a); err != nil {
				return fmt.Errorf("run: the answer is not the expected JSON: %w", err)
			}
			if !follow {
				if _, err := stdout.Write(out); err != nil {
					return err
				}
			}
			if len(a.Runs) == 0 {
				why := "no run"
				if len(a.Skipped) > 0 {
					why = a.Skipped[0].Reason
				}
				return &exitError{1, fmt.Errorf("run: not started: %s", why)}
			}
			if !follow {
				return nil
			}
			failed := 0
			for _, r := range a.Runs {
				fmt.Fprintf(stderr, "run %s of %s:\n", r.ID, args[0])
				state, err := c.followRun(ctx, r.ID, stdout)
				if err != nil {
					return fmt.Errorf("run: %w", err)
				}
				fmt.Fprintf(stderr, "run %s %s\n", r.ID, state)
				if state != "succeeded" {
					failed++
				}
			}
			if failed > 0 {
				return &exitError{1, fmt.Errorf("run: %d of %d runs did not succeed", failed, len(a.Runs))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&serverURL, "server", "", "URL of the running server (default: from listen and tls in the config)")
	f.StringVar(&payload, "payload", "", "file holding the body, - for standard input (default {})")
	f.StringVar(&event, "event", "", "event to send, e.g. push or pull_request.opened (written into the provider's event header)")
	f.StringArrayVar(&headers, "header", nil, "request header 'Name: value' (repeatable)")
	f.StringArrayVar(&queries, "query", nil, "query parameter k=v (repeatable)")
	f.BoolVar(&follow, "follow", false, "print each run's log until it ends; exit 1 unless all succeeded")
	return cmd
}

// followRun copies run id's log to w until the run ends and returns its
// final state.
func (c *apiClient) followRun(ctx context.Context, id string, w io.Writer) (string, error) {
	resp, err := c.do(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(id)+"/log?follow=1", nil)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return "", fmt.Errorf("log of run %s: %s: %s", id, resp.Status, bytes.TrimSpace(b))
	}
	_, err = io.Copy(w, bufio.NewReader(resp.Body))
	resp.Body.Close()
	if err != nil {
		return "", fmt.Errorf("log of run %s: %w", id, err)
	}
	b, err := c.call(ctx, http.MethodGet, "/api/runs/"+url.PathEscape(id), nil, http.StatusOK)
	if err != nil {
		return "", err
	}
	var run struct {
		State string `json:"state"`
	}
	if err := json.Unmarshal(b, &run); err != nil || run.State == "" {
		return "", errors.New("run " + id + ": the answer names no state")
	}
	return run.State, nil
}

// strSlices is m as RunRequest takes headers and queries (nil when empty).
func strSlices[M ~map[string][]string](m M) map[string]server.StrSlice {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]server.StrSlice, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// parseHeaders reads 'Name: value' flags.
func parseHeaders(flags []string) (http.Header, error) {
	h := http.Header{}
	for _, kv := range flags {
		k, v, ok := strings.Cut(kv, ":")
		if !ok {
			return nil, fmt.Errorf("--header %q: want 'Name: value'", kv)
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	return h, nil
}

// parseQuery reads k=v flags.
func parseQuery(flags []string) url.Values {
	q := url.Values{}
	for _, kv := range flags {
		k, v, _ := strings.Cut(kv, "=")
		q.Add(k, v)
	}
	return q
}
