package server_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

const metricsConfig = `listen: 127.0.0.1:0
data_dir: ./data
max_body: 1KiB
api_token: api-token-for-metrics
triggers:
  - name: build
    provider: generic
    secret: build-token
    delivery_header: X-Delivery
    variables:
      - {name: ref, jsonpath: $.ref}
    filter: {text: $ref, regexp: '^main$'}
    run: {command: [/bin/sh, -c, 'exit 0']}
  - name: broken
    provider: generic
    secret: broken-token
    run: {command: [/bin/sh, -c, 'exit 3']}
  - name: gh
    provider: github
    secret: gh-secret
    run: {command: [/bin/sh, -c, 'exit 0']}
`

func TestMetrics_Scenario(t *testing.T) {
	s := MustStart(t, metricsConfig)
	post := func(path string, body string, h map[string]string) *reply {
		return do(t, "POST", s.URL+path, []byte(body), h)
	}
	tok := func(token string, more ...string) map[string]string {
		h := map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"}
		for i := 0; i+1 < len(more); i += 2 {
			h[more[i]] = more[i+1]
		}
		return h
	}
	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte("gh-secret"))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	var runIDs []string
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		header map[string]string
		want   int
	}{
		{name: "Accepted1", path: "/hooks/build", body: `{"ref":"main"}`, header: tok("build-token", "X-Delivery", "d1"), want: 202},
		{name: "Accepted2", path: "/hooks/build", body: `{"ref":"main"}`, header: tok("build-token", "X-Delivery", "d2"), want: 202},
		{name: "Accepted3", path: "/hooks/build", body: `{"ref":"main"}`, header: tok("build-token", "X-Delivery", "d3"), want: 202},
		{name: "Duplicate", path: "/hooks/build", body: `{"ref":"main"}`, header: tok("build-token", "X-Delivery", "d1"), want: 200},
		{name: "Skipped", path: "/hooks/build", body: `{"ref":"dev"}`, header: tok("build-token", "X-Delivery", "d4"), want: 200},
		{name: "Unauthorized", path: "/hooks/build", body: `{"ref":"main"}`, header: tok("wrong"), want: 401},
		{name: "BadRequest", path: "/hooks/build", body: `{"ref":`, header: tok("build-token"), want: 400},
		{name: "TooLarge", path: "/hooks/build", body: `{"ref":"` + strings.Repeat("x", 2048) + `"}`, header: tok("build-token"), want: 413},
		{name: "NotFound", path: "/hooks/none", body: `{}`, header: tok("build-token"), want: 404},
		{name: "Failing", path: "/hooks/broken", body: `{}`, header: tok("broken-token"), want: 202},
		{name: "GitHubUnauthorized", path: "/hooks/gh", body: `{"zen":"x"}`, header: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": sign("other")}, want: 401},
	} {
		r := post(tc.path, tc.body, tc.header)
		if r.Status != tc.want {
			t.Fatalf("%s: want %d, got %d %s", tc.name, tc.want, r.Status, r.Body)
		}
		if r.Status == 202 {
			var rep struct {
				Runs []struct{ ID string } `json:"runs"`
			}
			if err := json.Unmarshal(r.Body, &rep); err != nil || len(rep.Runs) != 1 {
				t.Fatalf("%s: reply %s", tc.name, r.Body)
			}
			runIDs = append(runIDs, rep.Runs[0].ID)
		}
	}
	// All four runs end.
	waitFor(t, "4 runs to end", func() bool {
		f := scrape(t, s.URL)
		ok, _ := value(f, "hooktrigger_runs_total", map[string]string{"trigger": "build", "state": "succeeded"})
		bad, _ := value(f, "hooktrigger_runs_total", map[string]string{"trigger": "broken", "state": "failed"})
		return ok == 3 && bad == 1
	})
	fams := scrape(t, s.URL)

	t.Run("Deliveries", func(t *testing.T) {
		for _, row := range []struct {
			trigger, provider, result string
			want                      float64
		}{
			{trigger: "build", provider: "generic", result: "accepted", want: 3},
			{trigger: "build", provider: "generic", result: "duplicate", want: 1},
			{trigger: "build", provider: "generic", result: "skipped", want: 1},
			{trigger: "build", provider: "generic", result: "unauthorized", want: 1},
			{trigger: "build", provider: "generic", result: "bad_request", want: 1},
			{trigger: "build", provider: "generic", result: "too_large", want: 1},
			{trigger: "", provider: "", result: "not_found", want: 1},
			{trigger: "broken", provider: "generic", result: "accepted", want: 1},
			{trigger: "gh", provider: "github", result: "unauthorized", want: 1},
		} {
			got, _ := value(fams, "hooktrigger_deliveries_total", map[string]string{"trigger": row.trigger, "provider": row.provider, "result": row.result})
			if got != row.want {
				t.Errorf("deliveries{%s,%s,%s} = %v, want %v", row.trigger, row.provider, row.result, got, row.want)
			}
		}
		total := 0.0
		for _, m := range fams["hooktrigger_deliveries_total"].GetMetric() {
			total += m.GetCounter().GetValue()
		}
		if total != 11 {
			t.Errorf("deliveries total = %v, want 11 (one per request, one trigger per path)", total)
		}
	})
	t.Run("Runs", func(t *testing.T) {
		for _, row := range []struct {
			name   string
			labels map[string]string
			want   float64
		}{
			{name: "hooktrigger_runs_total", labels: map[string]string{"trigger": "build", "state": "succeeded"}, want: 3},
			{name: "hooktrigger_runs_total", labels: map[string]string{"trigger": "broken", "state": "failed"}, want: 1},
			{name: "hooktrigger_run_duration_seconds", labels: map[string]string{"trigger": "build"}, want: 3},
			{name: "hooktrigger_run_duration_seconds", labels: map[string]string{"trigger": "broken"}, want: 1},
			{name: "hooktrigger_runs_queued", want: 0},
			{name: "hooktrigger_runs_running", want: 0},
		} {
			got, ok := value(fams, row.name, row.labels)
			if !ok || got != row.want {
				t.Errorf("%s%v = %v (present %v), want %v", row.name, row.labels, got, ok, row.want)
			}
		}
		if _, ok := value(fams, "hooktrigger_runs_total", map[string]string{"state": "running"}); ok {
			t.Error("runs_total counts a non-final state")
		}
	})
	t.Run("RequestsCommitsBuildInfo", func(t *testing.T) {
		hooks, _ := value(fams, "hooktrigger_request_duration_seconds", map[string]string{"handler": "hook"})
		if hooks != 11 {
			t.Errorf("request_duration{hook} count = %v, want 11", hooks)
		}
		if n, ok := value(fams, "hooktrigger_store_commit_seconds", nil); !ok || n < 5 {
			t.Errorf("store_commit_seconds count = %v, want ≥5 (deliveries and run states were committed)", n)
		}
		if v, ok := value(fams, "hooktrigger_build_info", nil); !ok || v != 1 {
			t.Errorf("build_info = %v %v", v, ok)
		}
		bi := fams["hooktrigger_build_info"].GetMetric()[0]
		labels := map[string]string{}
		for _, l := range bi.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["version"] == "" || !strings.HasPrefix(labels["goversion"], "go") {
			t.Errorf("build_info labels %v", labels)
		}
		if _, ok := value(fams, "hooktrigger_config_reloads_total", map[string]string{"result": "failure"}); !ok {
			t.Error("config_reloads_total{result=failure} is not exported at 0")
		}
	})
	t.Run("NoSecretsOrPaths", func(t *testing.T) {
		raw := do(t, "GET", s.URL+"/metrics", nil, nil).Body
		for _, secret := range []string{"build-token", "broken-token", "gh-secret", "api-token-for-metrics", "/hooks/none"} {
			if bytes.Contains(raw, []byte(secret)) {
				t.Errorf("/metrics shows %q", secret)
			}
		}
	})
	_ = runIDs
}

func TestRequestID(t *testing.T) {
	s := MustStart(t, metricsConfig)
	generated := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for _, tc := range []struct {
		name   string
		in     string
		honour bool
	}{
		{name: "Honoured", in: "req-123.abc:XYZ", honour: true},
		{name: "Longest", in: strings.Repeat("a", 128), honour: true},
		{name: "TooLong", in: strings.Repeat("a", 129)},
		{name: "Space", in: "a b"},
		{name: "Missing", in: ""},
		{name: "Quote", in: `a"b`, honour: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"Authorization": "Bearer build-token", "X-Delivery": "rid-" + tc.name}
			if tc.in != "" {
				h["X-Request-Id"] = tc.in
			}
			r := do(t, "POST", s.URL+"/hooks/build", []byte(`{"ref":"main"}`), h)
			got := r.Header.Get("X-Request-Id")
			if tc.honour && got != tc.in {
				t.Fatalf("X-Request-Id %q not echoed, got %q", tc.in, got)
			}
			if !tc.honour && !generated.MatchString(got) {
				t.Fatalf("want a generated id for %q, got %q", tc.in, got)
			}
			var rep struct{ Delivery string }
			_ = json.Unmarshal(r.Body, &rep)
			// The log line about the delivery carries both ids.
			waitFor(t, "the delivery's log line", func() bool {
				for _, line := range strings.Split(s.Logs.String(), "\n") {
					var m map[string]any
					if json.Unmarshal([]byte(line), &m) != nil {
						continue
					}
					if m["msg"] == "delivery accepted" && m["request_id"] == got && m["delivery"] == rep.Delivery {
						return true
					}
				}
				return false
			})
			// At debug level, so does the access line.
			waitFor(t, "the request's debug access line", func() bool {
				for _, line := range strings.Split(s.Logs.String(), "\n") {
					var m map[string]any
					if json.Unmarshal([]byte(line), &m) != nil {
						continue
					}
					if m["msg"] == "http request" && m["request_id"] == got && m["delivery"] == rep.Delivery && m["status"] == float64(202) {
						return true
					}
				}
				return false
			})
		})
	}
	t.Run("OnEveryAnswer", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics", "/api/runs", "/hooks/none"} {
			r := do(t, "GET", s.URL+path, nil, nil)
			if !generated.MatchString(r.Header.Get("X-Request-Id")) {
				t.Errorf("%s: X-Request-Id %q", path, r.Header.Get("X-Request-Id"))
			}
		}
	})
}

func TestHealth(t *testing.T) {
	s := MustStart(t, metricsConfig)
	for _, tc := range []struct {
		name, path, want string
	}{
		{name: "Alive", path: "/healthz", want: `"status":"ok"`},
		{name: "Ready", path: "/readyz", want: `"triggers":3`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := do(t, "GET", s.URL+tc.path, nil, nil)
			if r.Status != http.StatusOK || !strings.Contains(string(r.Body), tc.want) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
		})
	}
}
