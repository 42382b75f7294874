package config_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
)

func TestSecret_Redacted(t *testing.T) {
	s := config.Secret("hunter2-value")
	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("x", "token", s, "group", slog.GroupValue(slog.Any("inner", s)))
	}
	js, _ := json.Marshal(map[string]any{"s": s})
	for _, out := range []string{logs.String(), fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v %q", s, s, s, s, s), string(js), fmt.Errorf("e: %v", s).Error()} {
		if strings.Contains(out, "hunter2") {
			t.Errorf("secret shown: %s", out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("no [redacted] marker: %s", out)
		}
	}
	if s.Reveal() != "hunter2-value" {
		t.Fatal("Reveal lost the value")
	}
}

func TestParseRate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		per  time.Duration
		n    float64
		fail bool
	}{
		{in: "10/s", per: time.Second, n: 10},
		{in: " 100 / m ", per: time.Minute, n: 100},
		{in: "0.5/hour", per: time.Hour, n: 0.5},
		{in: "5/min", per: time.Minute, n: 5},
		{in: "10", fail: true},
		{in: "0/s", fail: true},
		{in: "-1/s", fail: true},
		{in: "10/d", fail: true},
		{in: "x/s", fail: true},
		{in: "", fail: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			per, n, err := config.ParseRate(tc.in)
			if tc.fail {
				if err == nil {
					t.Fatalf("want an error, got %v %v", per, n)
				}
				return
			}
			if err != nil || per != tc.per || n != tc.n {
				t.Fatalf("got %v %v %v", per, n, err)
			}
		})
	}
}

func TestLoad_Ops(t *testing.T) {
	const trig = "triggers:\n  - name: a\n    allow_unsigned: true\n    run: {command: [/bin/true]}\n"
	for _, tc := range []struct {
		name     string
		yaml     string
		err      string
		inflight int64
		header   time.Duration
	}{
		{name: "Defaults", yaml: "max_body: 1MiB\n" + trig, inflight: 4 << 20, header: 10 * time.Second},
		{name: "Given", yaml: "max_body: 1MiB\nmax_inflight_bytes: 3MiB\nread_header_timeout: 2s\n" + trig, inflight: 3 << 20, header: 2 * time.Second},
		{name: "InflightBelowMaxBody", yaml: "max_body: 2MiB\nmax_inflight_bytes: 1MiB\n" + trig, err: "c.yaml:2: max_inflight_bytes: must be at least max_body"},
		{name: "BadRate", yaml: trig + "    rate_limit: {rate: 10/d}\n", err: "c.yaml:5: triggers[0].rate_limit.rate: invalid rate \"10/d\""},
		{name: "NegativeBurst", yaml: trig + "    rate_limit: {rate: 10/s, burst: -1}\n", err: "triggers[0].rate_limit.burst: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.LoadBytes("c.yaml", []byte(tc.yaml))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.MaxInflightBytes != tc.inflight || c.ReadHeaderTimeout != tc.header {
				t.Fatalf("max_inflight_bytes %d read_header_timeout %v", c.MaxInflightBytes, c.ReadHeaderTimeout)
			}
		})
	}
	t.Run("RateLimitCompiled", func(t *testing.T) {
		c, err := config.LoadBytes("c.yaml", []byte(trig+"    rate_limit: {rate: 2/s}\n"))
		if err != nil {
			t.Fatal(err)
		}
		tr, _ := c.Triggers.ByName("a")
		if tr.RateLimit == nil || tr.RateLimit.Burst() != 2 || float64(tr.RateLimit.Limit()) != 2 {
			t.Fatalf("limiter %+v", tr.RateLimit)
		}
	})
}
