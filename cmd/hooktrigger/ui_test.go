package main

// Browser tests of the web UI: the real binary, real HTTP on loopback and
// Debian's Chromium driven through chromedp. They skip when no Chromium is
// installed, unless HOOKTRIGGER_TEST_CHROMIUM is set (as .ci/run does), in
// which case they must run. Each takes a screenshot; with
// HOOKTRIGGER_UPDATE_SCREENSHOTS=1 (make screenshots) they are saved under
// docs/screenshots for the README.

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	uiToken    = "ui-test-token"
	uiGHSecret = "gh-test-secret"
)

// chromiumPath finds the browser, or skips the test when there is none and
// HOOKTRIGGER_TEST_CHROMIUM is unset.
func chromiumPath(tb testing.TB) string {
	tb.Helper()
	want := os.Getenv("HOOKTRIGGER_TEST_CHROMIUM")
	if want != "" {
		if st, err := os.Stat(want); err == nil && !st.IsDir() {
			return want
		}
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if want != "" {
		tb.Fatalf("HOOKTRIGGER_TEST_CHROMIUM=%q is set but no Chromium is installed there or on PATH (apt-get install chromium)", want)
	}
	tb.Skip("no Chromium found (apt-get install chromium, or set HOOKTRIGGER_TEST_CHROMIUM=/usr/bin/chromium to make these tests must-run)")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab context.
func newBrowser(tb testing.TB) context.Context {
	tb.Helper()
	path := chromiumPath(tb)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancel(); cancelAlloc() })
	// The first action starts the browser, bound to ctx's life (not to a
	// shorter deadline, which would close it).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		tb.Fatalf("start Chromium %s: %v", path, err)
	}
	return ctx
}

// browse runs actions on the tab with a generous deadline.
func browse(tb testing.TB, tab context.Context, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tab, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("browser: %v", err)
	}
}

// eval evaluates a JavaScript expression on the tab.
func eval[T any](tb testing.TB, tab context.Context, expr string) T {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitFor polls a JavaScript predicate until it holds. Errors while a page
// navigates count as "not yet".
func waitFor(tb testing.TB, tab context.Context, what, predicate string) {
	tb.Helper()
	deadline := time.Now().Add(45 * time.Second)
	expr := "(function(){try{return !!(" + predicate + ")}catch(e){return false}})()"
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tab, 10*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(tab, 10*time.Second)
	defer cancel()
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : '')`))
	tb.Fatalf("waiting for %s: not within 45s (last error %v)\npage:\n%s", what, lastErr, body)
}

// screenshot captures the whole page once it is laid out, and saves it as
// docs/screenshots/name when HOOKTRIGGER_UPDATE_SCREENSHOTS=1.
func screenshot(tb testing.TB, tab context.Context, name string) {
	tb.Helper()
	waitFor(tb, tab, "a laid-out page to screenshot", `document.readyState === 'complete' && document.documentElement.clientWidth > 0`)
	ctx, cancel := context.WithTimeout(tab, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	if len(png) == 0 {
		tb.Fatal("screenshot: empty image")
	}
	if os.Getenv("HOOKTRIGGER_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// githubPush sends a signed GitHub push and returns the decoded reply.
func githubPush(tb testing.TB, url string, body []byte, delivery string, extra map[string]string) map[string]any {
	tb.Helper()
	mac := hmac.New(sha256.New, []byte(uiGHSecret))
	mac.Write(body)
	h := map[string]string{
		"Content-Type":        "application/json",
		"X-GitHub-Event":      "push",
		"X-GitHub-Delivery":   delivery,
		"X-Hub-Signature-256": "sha256=" + hex.EncodeToString(mac.Sum(nil)),
	}
	for k, v := range extra {
		h[k] = v
	}
	r := Do(tb, "POST", url, body, h)
	if r.Status != http.StatusAccepted && r.Status != http.StatusOK {
		tb.Fatalf("push: %d %s", r.Status, r.Body)
	}
	return r.JSON(tb)
}

func firstRun(tb testing.TB, reply map[string]any) string {
	tb.Helper()
	runs, _ := reply["runs"].([]any)
	if len(runs) == 0 {
		tb.Fatalf("the push started no run: %v", reply)
	}
	return runs[0].(map[string]any)["id"].(string)
}

func uiPushBody(ref, message, url string) []byte {
	b, _ := json.Marshal(map[string]any{
		"ref": ref, "before": strings.Repeat("0", 40), "after": strings.Repeat("a", 40),
		"repository":  map[string]any{"full_name": "acme/app", "html_url": url},
		"pusher":      map[string]any{"name": "alice"},
		"head_commit": map[string]any{"id": strings.Repeat("a", 40), "message": message, "url": url},
	})
	return b
}

// uiConfig writes a config with two triggers on one path (one only for
// release branches) and a slow trigger; the build waits for the file gate.
func uiConfig(tb testing.TB) (cfgPath, gate string) {
	tb.Helper()
	dir := tb.TempDir()
	gate = filepath.Join(dir, "gate")
	cfgPath = filepath.Join(dir, "hooktrigger.yaml")
	writeFile(tb, cfgPath, `listen: 127.0.0.1:0
data_dir: ./data
api_token: `+uiToken+`
workers: 4
triggers:
  - name: build
    path: /hooks/app
    provider: github
    secret: `+uiGHSecret+`
    events: [push]
    variables:
      - name: ref
        jsonpath: $.ref
      - name: message
        jsonpath: $.head_commit.message
      - name: url
        jsonpath: $.head_commit.url
    run:
      script: 'echo "line1 building $ref"; while [ ! -f "$GATE" ]; do sleep 0.1; done; echo line2; echo line3 done'
      env: {GATE: `+gate+`}
  - name: release
    path: /hooks/app
    provider: github
    secret: `+uiGHSecret+`
    branches: [release/*]
    run:
      script: echo release
  - name: slow
    path: /hooks/slow
    provider: github
    secret: `+uiGHSecret+`
    run:
      script: 'echo started; sleep 300; echo never'
`)
	return cfgPath, gate
}

func TestUI_Browser(t *testing.T) {
	tab := newBrowser(t)
	cfgPath, gate := uiConfig(t)
	p := MustServe(t, cfgPath)
	api := map[string]string{"Authorization": "Bearer " + uiToken}

	t.Run("SignIn", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/"))
		loc := eval[string](t, tab, `location.pathname + location.search`)
		if !strings.HasPrefix(loc, "/ui/login?next=") {
			t.Fatalf("without a session /ui/ should lead to the sign-in page, got %s", loc)
		}
		browse(t, tab, chromedp.SendKeys(chromedp.CSS("#token"), "wrong-token\r"))
		waitFor(t, tab, "the refusal", `document.getElementById('login-error') !== null`)
		browse(t, tab, chromedp.SendKeys(chromedp.CSS("#token"), uiToken+"\r")) // keyboard only
		waitFor(t, tab, "the dashboard", `location.pathname === '/ui/' && document.getElementById('deliveries') !== null`)
		if cookies := eval[string](t, tab, `document.cookie`); strings.Contains(cookies, "hooktrigger_session") {
			t.Fatalf("the session cookie is readable from JavaScript: %q", cookies)
		}
	})

	var deliveryID, runID string
	t.Run("PushShowsUpLive", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/"))
		waitFor(t, tab, "the live connection", `document.getElementById('live-status').textContent.indexOf('live') >= 0`)
		eval[bool](t, tab, `window.__sameDocument = true`)
		reply := githubPush(t, p.URL+"/hooks/app", uiPushBody("refs/heads/main", "Fix the frobnicator", "https://example.com/acme/app/commit/aaa"), "gh-delivery-1", nil)
		deliveryID, runID = reply["delivery"].(string), firstRun(t, reply)
		waitFor(t, tab, "the new delivery row", fmt.Sprintf(`document.getElementById('d-%s') !== null && document.getElementById('r-%s') !== null`, deliveryID, runID))
		if !eval[bool](t, tab, `window.__sameDocument === true`) {
			t.Fatal("the page was reloaded; the row should arrive without reload")
		}
		if ref := eval[string](t, tab, fmt.Sprintf(`document.querySelector('#r-%s .ref').textContent`, runID)); ref != "main aaaaaaa" {
			t.Errorf("the run's row names what it builds as %q, want the branch and the short commit", ref)
		}
		screenshot(t, tab, "dashboard-live.png")
	})

	t.Run("RunLogStreamsLive", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/runs/"+runID))
		waitFor(t, tab, "line1 in the log", `document.getElementById('log').textContent.indexOf('line1 building refs/heads/main') >= 0`)
		// The build is blocked on the gate: line1 arrived while it runs.
		if txt := eval[string](t, tab, `document.getElementById('log').textContent`); strings.Contains(txt, "line2") {
			t.Fatalf("line2 printed before the gate opened: %q", txt)
		}
		if got := Do(t, "GET", p.URL+"/api/runs/"+runID, nil, api).JSON(t)["state"]; got != "running" {
			t.Fatalf("the run should still be running while the log shows line1, is %v", got)
		}
		screenshot(t, tab, "run-live-log.png")
		writeFile(t, gate, "open")
		waitFor(t, tab, "the rest of the log and the end", `document.getElementById('log').textContent.indexOf('line3 done') >= 0 && document.getElementById('run-state').textContent === 'succeeded'`)
		if txt := eval[string](t, tab, `document.getElementById('log').textContent`); strings.Count(txt, "line1") != 1 || strings.Index(txt, "line1") > strings.Index(txt, "line2") {
			t.Fatalf("log lines duplicated or out of order: %q", txt)
		}
		if eval[bool](t, tab, `document.getElementById('cancel') !== null`) {
			t.Fatal("Cancel is still offered after the run ended")
		}
	})

	t.Run("DeliveryShowsVariablesAndSkipReason", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/deliveries/"+deliveryID))
		vars := eval[string](t, tab, `document.querySelector('details.vars[data-trigger="build"]').textContent`)
		for _, want := range []string{"ref", "refs/heads/main", "message", "Fix the frobnicator"} {
			if !strings.Contains(vars, want) {
				t.Errorf("variables of build lack %q: %q", want, vars)
			}
		}
		reason := eval[string](t, tab, `document.querySelector('#decisions tr[data-trigger="release"] .reason').textContent`)
		if !strings.Contains(reason, `"main"`) || !strings.Contains(reason, "release/*") {
			t.Errorf("skip reason of release: %q", reason)
		}
		headers := eval[string](t, tab, `document.getElementById('headers').textContent`)
		if strings.Contains(headers, "sha256=") || !strings.Contains(headers, "[redacted]") {
			t.Errorf("the signature header is not redacted: %q", headers)
		}
		screenshot(t, tab, "delivery.png")
	})

	t.Run("ReplayStartsNewRun", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/deliveries/"+deliveryID), chromedp.Click(chromedp.CSS("#replay")))
		waitFor(t, tab, "the new run's page", fmt.Sprintf(`location.pathname.indexOf('/ui/runs/') === 0 && location.pathname !== '/ui/runs/%s' && document.getElementById('log') !== null`, runID))
		newID := strings.TrimPrefix(eval[string](t, tab, `location.pathname`), "/ui/runs/")
		got := WaitRun(t, p.URL, uiToken, newID)
		meta, _ := got["meta"].(map[string]any)
		if got["state"] != "succeeded" || got["delivery"] == deliveryID || meta["HOOKTRIGGER_REPLAY_OF"] != runID || got["trigger"] != "build" {
			t.Fatalf("replayed run: %v", got)
		}
		waitFor(t, tab, "the replayed run's log", `document.getElementById('log').textContent.indexOf('line3 done') >= 0`)
		screenshot(t, tab, "replay.png")
	})

	t.Run("CancelStopsRunningBuild", func(t *testing.T) {
		reply := githubPush(t, p.URL+"/hooks/slow", uiPushBody("refs/heads/main", "slow one", ""), "gh-delivery-slow", nil)
		slowID := firstRun(t, reply)
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/runs/"+slowID))
		waitFor(t, tab, "the build to start", `document.getElementById('log').textContent.indexOf('started') >= 0`)
		// The form posts and the server redirects back to the run's page.
		// The old page may show "cancelled" first (its log stream ends),
		// so wait for the new document, or the screenshot may land
		// mid-navigation.
		eval[bool](t, tab, `(window.__beforeCancel = true)`)
		browse(t, tab, chromedp.Click(chromedp.CSS("#cancel")))
		waitFor(t, tab, "the run page after Cancel", `!window.__beforeCancel && document.readyState === 'complete' && document.getElementById('run-state') && document.getElementById('run-state').textContent === 'cancelled'`)
		got := WaitRun(t, p.URL, uiToken, slowID)
		if got["state"] != "cancelled" {
			t.Fatalf("run after Cancel: %v", got)
		}
		if started, _ := time.Parse(time.RFC3339Nano, got["started_at"].(string)); started.IsZero() {
			t.Fatalf("the cancelled run never started: %v", got)
		}
		screenshot(t, tab, "run-cancelled.png")
	})

	t.Run("PlaygroundEvaluatesStoredPayload", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/triggers"))
		eval[bool](t, tab, fmt.Sprintf(`(function(){var s=document.getElementById('pg-delivery'); s.value=%q; s.dispatchEvent(new Event('change')); return true})()`, deliveryID))
		browse(t, tab,
			chromedp.SendKeys(chromedp.CSS("#pg-expr"), "$.head_commit.message"),
			chromedp.Click(chromedp.CSS("#pg-run")))
		waitFor(t, tab, "the playground result", `document.getElementById('pg-result').textContent.indexOf('Fix the frobnicator') >= 0`)
		var res map[string]any
		if err := json.Unmarshal([]byte(eval[string](t, tab, `document.getElementById('pg-result').textContent`)), &res); err != nil {
			t.Fatal(err)
		}
		if vars, _ := res["variables"].(map[string]any); vars["value"] != "Fix the frobnicator" {
			t.Fatalf("playground variables: %v", res)
		}
		screenshot(t, tab, "playground.png")

		eval[bool](t, tab, `(function(){var k=document.getElementById('pg-kind'); k.value='trigger'; k.dispatchEvent(new Event('change')); document.getElementById('pg-trigger').value='release'; return true})()`)
		browse(t, tab, chromedp.Click(chromedp.CSS("#pg-run")))
		waitFor(t, tab, "the trigger verdict", `document.getElementById('pg-verdict').textContent.indexOf('Not matched') === 0`)
		if v := eval[string](t, tab, `document.getElementById('pg-verdict').textContent`); !strings.Contains(v, "release/*") {
			t.Fatalf("verdict of release on a main push: %q", v)
		}
	})

	t.Run("PlaygroundRunsTrigger", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/triggers"))
		eval[bool](t, tab, fmt.Sprintf(`(function(){var s=document.getElementById('pg-delivery'); s.value=%q; s.dispatchEvent(new Event('change')); var k=document.getElementById('pg-kind'); k.value='trigger'; k.dispatchEvent(new Event('change')); document.getElementById('pg-trigger').value='build'; return true})()`, deliveryID))
		waitFor(t, tab, "the stored payload in the form", `document.getElementById('pg-payload').value.indexOf('Fix the frobnicator') >= 0`)
		eval[bool](t, tab, `(function(){document.getElementById('pg-headers').value=''; document.getElementById('pg-event').value='push'; return true})()`)
		browse(t, tab, chromedp.Click(chromedp.CSS("#pg-start")))
		waitFor(t, tab, "the started run", `document.querySelector('#pg-verdict a') !== null`)
		href := eval[string](t, tab, `document.querySelector('#pg-verdict a').getAttribute('href')`)
		id, ok := strings.CutPrefix(href, "/ui/runs/")
		if !ok {
			t.Fatalf("the verdict links to %q", href)
		}
		r := Do(t, "GET", p.URL+"/api/runs/"+id, nil, map[string]string{"Authorization": "Bearer " + uiToken}).JSON(t)
		meta, _ := r["meta"].(map[string]any)
		if vars, _ := r["vars"].(map[string]any); r["trigger"] != "build" || vars["message"] != "Fix the frobnicator" || meta["HOOKTRIGGER_EVENT"] != "push" {
			t.Fatalf("the run started from the playground: %v", r)
		}
	})

	t.Run("PayloadRendersInert", func(t *testing.T) {
		const (
			script = `<script>window.__xss = "script"</script>`
			img    = `"><img src=x onerror="window.__xss='img'">`
			jsURL  = `javascript:window.__xss='url'`
		)
		reply := githubPush(t, p.URL+"/hooks/app", uiPushBody("refs/heads/main", script+img+"'><svg onload=window.__xss='svg'>", jsURL),
			"gh-delivery-xss", map[string]string{"X-Evil": img})
		id, xssRun := reply["delivery"].(string), firstRun(t, reply)
		checks := []struct {
			name, path string
		}{
			{name: "Delivery", path: "/ui/deliveries/" + id},
			{name: "Run", path: "/ui/runs/" + xssRun},
			{name: "Dashboard", path: "/ui/"},
		}
		for _, c := range checks {
			t.Run(c.name, func(t *testing.T) {
				browse(t, tab, chromedp.Navigate(p.URL+c.path))
				if c.name == "Delivery" {
					waitFor(t, tab, "the payload shown as text", `document.body.textContent.indexOf('<img src=x onerror=') >= 0 && document.body.textContent.indexOf('<script>window.__xss') >= 0`)
					screenshot(t, tab, "xss-inert.png")
				}
				assertInert(t, tab)
			})
		}
		t.Run("Playground", func(t *testing.T) {
			browse(t, tab, chromedp.Navigate(p.URL+"/ui/triggers"))
			eval[bool](t, tab, fmt.Sprintf(`(function(){document.getElementById('pg-delivery').value=%q; var k=document.getElementById('pg-kind'); k.value='trigger'; k.dispatchEvent(new Event('change')); document.getElementById('pg-trigger').value='build'; return true})()`, id))
			browse(t, tab, chromedp.Click(chromedp.CSS("#pg-run")))
			waitFor(t, tab, "the verdict", `document.getElementById('pg-result').textContent.indexOf('onerror') >= 0`)
			assertInert(t, tab)
		})
		writeFile(t, gate, "open")
		WaitRun(t, p.URL, uiToken, xssRun)
	})

	t.Run("PhoneLayout", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/"))
		waitFor(t, tab, "every run ended", `document.querySelectorAll('#runs .state-running, #runs .state-queued').length === 0`)
		screenshot(t, tab, "dashboard.png") // desktop, with a few deliveries, for the README
		browse(t, tab, chromedp.EmulateViewport(390, 844), chromedp.Navigate(p.URL+"/ui/"))
		if w := eval[float64](t, tab, `document.documentElement.scrollWidth`); w > 400 {
			t.Errorf("the dashboard is %vpx wide on a 390px phone: it scrolls sideways", w)
		}
		screenshot(t, tab, "dashboard-phone.png")
		browse(t, tab, chromedp.EmulateViewport(1280, 900))
	})

	t.Run("SignOut", func(t *testing.T) {
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/"), chromedp.Click(chromedp.CSS(`form[action="/ui/logout"] button`)))
		waitFor(t, tab, "the sign-in page", `location.pathname === '/ui/login'`)
		browse(t, tab, chromedp.Navigate(p.URL+"/ui/triggers"))
		if loc := eval[string](t, tab, `location.pathname`); loc != "/ui/login" {
			t.Fatalf("after signing out /ui/triggers shows %s", loc)
		}
	})
}

// assertInert checks the DOM: nothing injected ran or became an element.
func assertInert(tb testing.TB, tab context.Context) {
	tb.Helper()
	probe := eval[map[string]any](tb, tab, `({
		flag: typeof window.__xss === 'undefined' ? null : String(window.__xss),
		imgs: document.querySelectorAll('img, svg, iframe, object, embed').length,
		handlers: Array.from(document.querySelectorAll('*')).filter(function (e) {
			return Array.from(e.attributes).some(function (a) { return a.name.indexOf('on') === 0; });
		}).length,
		scripts: Array.from(document.scripts).map(function (s) { return s.getAttribute('src') || 'inline'; }),
		jsLinks: Array.from(document.querySelectorAll('[href],[src],[action],[formaction]')).filter(function (e) {
			return ['href','src','action','formaction'].some(function (n) {
				var v = e.getAttribute(n); return v && v.replace(/\s/g, '').toLowerCase().indexOf('javascript:') === 0;
			});
		}).length
	})`)
	want := map[string]any{"flag": nil, "imgs": float64(0), "handlers": float64(0), "scripts": []any{"/ui/static/app.js"}, "jsLinks": float64(0)}
	if !reflect.DeepEqual(probe, want) {
		tb.Fatalf("the page is not inert:\n got %v\nwant %v", probe, want)
	}
}

// TestExtractAPI_MatchesCLI checks that the playground's API answers what
// `hooktrigger extract` prints for the same payload.
func TestExtractAPI_MatchesCLI(t *testing.T) {
	cfgPath, _ := uiConfig(t)
	p := MustServe(t, cfgPath)
	payloadFile := filepath.Join(t.TempDir(), "push.json")
	body := uiPushBody("refs/heads/release/1.2", "Ship it", "https://example.com/c/1")
	writeFile(t, payloadFile, string(body))
	cases := []struct {
		name string
		args []string
		req  map[string]any
	}{
		{name: "JSONPath", args: []string{"--jsonpath", "$.head_commit.message"}, req: map[string]any{"jsonpath": "$.head_commit.message"}},
		{name: "JSONPathMany", args: []string{"--jsonpath", "$..name"}, req: map[string]any{"jsonpath": "$..name"}},
		{name: "GJSON", args: []string{"--gjson", "repository.full_name"}, req: map[string]any{"gjson": "repository.full_name"}},
		{name: "TriggerMatched", args: []string{"--trigger", "release", "--header", "X-GitHub-Event: push"}, req: map[string]any{"trigger": "release", "headers": map[string]any{"X-GitHub-Event": "push"}}},
		{name: "TriggerSkipped", args: []string{"--trigger", "build", "--event", "pull_request.opened"}, req: map[string]any{"trigger": "build", "event": "pull_request.opened"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, nil, append([]string{"extract", "--config", cfgPath, "--payload", payloadFile}, tc.args...)...)
			if code != 0 {
				t.Fatalf("extract exited %d: %s", code, stderr)
			}
			tc.req["payload"] = string(body)
			reqBody, _ := json.Marshal(tc.req)
			r := Do(t, "POST", p.URL+"/api/extract", reqBody, map[string]string{"Authorization": "Bearer " + uiToken, "Content-Type": "application/json"})
			if r.Status != http.StatusOK {
				t.Fatalf("POST /api/extract: %d %s", r.Status, r.Body)
			}
			var cli, api map[string]any
			if err := json.Unmarshal([]byte(stdout), &cli); err != nil {
				t.Fatal(err)
			}
			api = r.JSON(t)
			if !reflect.DeepEqual(cli, api) {
				t.Fatalf("CLI and API differ:\n cli %v\n api %v", cli, api)
			}
			if len(cli["variables"].(map[string]any)) == 0 && cli["filter"] == nil {
				t.Fatalf("nothing extracted, the comparison proves little: %v", cli)
			}
		})
	}
}
