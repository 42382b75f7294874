package server_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/server"
)

const testToken = "t0ken-for-ui"

// MustServer starts a real server on loopback with the given config text
// (data_dir is set to a temporary directory) and returns it with its URL.
func MustServer(tb testing.TB, cfgText string) (*server.Server, string) {
	tb.Helper()
	s := MustNewServer(tb, cfgText)
	if err := s.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	go s.Serve()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s, "http://" + s.Addr()
}

const uiConfig = `listen: 127.0.0.1:0
data_dir: ./data
api_token: ` + testToken + `
triggers:
  - name: build
    path: /hooks/app
    provider: generic
    secret: hook-secret
    variables:
      - name: ref
        jsonpath: $.ref
    filter:
      text: $ref
      regexp: ^refs/heads/main$
    run:
      script: echo hi
  - name: release
    path: /hooks/app
    provider: github
    secret: gh-secret
    branches: [release/*]
    paths: ['charts/**', '!**/*.md']
    run:
      script: echo release
`

// client does not follow redirects, so tests see them.
var client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type uiReply struct {
	status int
	header http.Header
	body   string
}

func send(tb testing.TB, method, u string, body string, header map[string]string, cookies ...*http.Cookie) uiReply {
	tb.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return uiReply{resp.StatusCode, resp.Header, string(b)}
}

var formHeader = map[string]string{"Content-Type": "application/x-www-form-urlencoded"}

// signIn posts the token and returns the session cookie and the CSRF token
// of the session (read from a page, as a browser would).
func signIn(tb testing.TB, base string) (*http.Cookie, string) {
	tb.Helper()
	r := send(tb, "POST", base+"/ui/login", "token="+url.QueryEscape(testToken)+"&next=%2Fui%2Ftriggers", formHeader)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/triggers" {
		tb.Fatalf("sign in: %d %v", r.status, r.header)
	}
	resp := http.Response{Header: r.header}
	cookies := resp.Cookies()
	if len(cookies) != 1 {
		tb.Fatalf("sign in set %d cookies", len(cookies))
	}
	page := send(tb, "GET", base+"/ui/", "", nil, cookies[0])
	m := regexp.MustCompile(`<meta name="csrf-token" content="([0-9a-f]{64})">`).FindStringSubmatch(page.body)
	if page.status != http.StatusOK || m == nil {
		tb.Fatalf("dashboard after sign in: %d, no CSRF token in:\n%s", page.status, page.body)
	}
	return cookies[0], m[1]
}

func TestUI_Access(t *testing.T) {
	_, base := MustServer(t, uiConfig)

	t.Run("PagesRedirectToSignIn", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/ui/triggers", "/ui/runs/nope", "/ui/deliveries/nope", "/ui/nowhere"} {
			r := send(t, "GET", base+path, "", nil)
			if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/login?next="+url.QueryEscape(path) {
				t.Errorf("GET %s: %d Location %q", path, r.status, r.header.Get("Location"))
			}
		}
	})
	t.Run("APIAnswers401WithoutSession", func(t *testing.T) {
		for _, path := range []string{"/api/runs", "/api/triggers", "/api/deliveries"} {
			if r := send(t, "GET", base+path, "", nil); r.status != http.StatusUnauthorized {
				t.Errorf("GET %s: %d", path, r.status)
			}
		}
	})
	t.Run("BearerStillWorks", func(t *testing.T) {
		r := send(t, "GET", base+"/api/triggers", "", map[string]string{"Authorization": "Bearer " + testToken})
		if r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("WrongTokenRefused", func(t *testing.T) {
		r := send(t, "POST", base+"/ui/login", "token=guess", formHeader)
		if r.status != http.StatusUnauthorized || r.header.Get("Set-Cookie") != "" || !strings.Contains(r.body, "not right") {
			t.Fatalf("%d cookie %q", r.status, r.header.Get("Set-Cookie"))
		}
	})
	t.Run("CookieFlags", func(t *testing.T) {
		r := send(t, "POST", base+"/ui/login", "token="+testToken, formHeader)
		sc := r.header.Get("Set-Cookie")
		for _, want := range []string{"hooktrigger_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
			if !strings.Contains(sc, want) {
				t.Errorf("Set-Cookie %q lacks %s", sc, want)
			}
		}
		if strings.Contains(sc, "Secure") {
			t.Errorf("Secure set on a plain HTTP answer (the browser would drop it): %q", sc)
		}
	})
	t.Run("NextStaysInUI", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/api/runs", "/ui/\\evil"} {
			r := send(t, "POST", base+"/ui/login", "token="+testToken+"&next="+url.QueryEscape(next), formHeader)
			if loc := r.header.Get("Location"); loc != "/ui/" {
				t.Errorf("next=%q redirected to %q", next, loc)
			}
		}
	})

	cookie, csrf := signIn(t, base)
	t.Run("SessionReadsAPI", func(t *testing.T) {
		if r := send(t, "GET", base+"/api/triggers", "", nil, cookie); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.body)
		}
	})
	t.Run("TamperedCookieRefused", func(t *testing.T) {
		payload64, mac64, _ := strings.Cut(strings.TrimPrefix(cookie.Value, "v1."), ".")
		payload, _ := base64.RawURLEncoding.DecodeString(payload64)
		// One character of the signature changed (ToUpper would leave a
		// signature that starts with capitals or digits as it was).
		flipped := "A" + mac64[1:]
		if mac64[0] == 'A' {
			flipped = "B" + mac64[1:]
		}
		later := bytes.Clone(payload)
		binary.BigEndian.PutUint64(later[32:], uint64(time.Now().Add(48*time.Hour).Unix()))
		expired := bytes.Clone(payload)
		binary.BigEndian.PutUint64(expired[32:], uint64(time.Now().Add(-time.Second).Unix()))
		for name, v := range map[string]string{
			"no signature":         "v1." + payload64,
			"empty signature":      "v1." + payload64 + ".",
			"no version":           payload64 + "." + mac64,
			"flipped signature":    "v1." + payload64 + "." + flipped,
			"expiry moved":         "v1." + base64.RawURLEncoding.EncodeToString(later) + "." + mac64,
			"other token's key":    signedCookie("another-token", payload),
			"expired, well signed": signedCookie(testToken, expired),
		} {
			c := &http.Cookie{Name: cookie.Name, Value: v}
			if r := send(t, "GET", base+"/ui/", "", nil, c); r.status != http.StatusSeeOther {
				t.Errorf("%s: %d", name, r.status)
			}
			if r := send(t, "GET", base+"/api/runs", "", nil, c); r.status != http.StatusUnauthorized {
				t.Errorf("%s, on the API: %d", name, r.status)
			}
		}
		// The control: the same payload signed as the server signs opens
		// the UI, so the refusals above are about what was changed.
		if r := send(t, "GET", base+"/ui/", "", nil, &http.Cookie{Name: cookie.Name, Value: signedCookie(testToken, payload)}); r.status != http.StatusOK {
			t.Errorf("a correctly signed cookie: %d", r.status)
		}
	})
	t.Run("StateChangesNeedCSRF", func(t *testing.T) {
		cases := []struct {
			name   string
			method string
			path   string
			body   string
			header map[string]string
			want   int
		}{
			{name: "CancelNoToken", method: "POST", path: "/ui/runs/nope/cancel", body: "", header: formHeader, want: http.StatusForbidden},
			{name: "CancelWrongToken", method: "POST", path: "/ui/runs/nope/cancel", body: "csrf=" + strings.Repeat("a", 64), header: formHeader, want: http.StatusForbidden},
			{name: "CancelGoodToken", method: "POST", path: "/ui/runs/nope/cancel", body: "csrf=" + csrf, header: formHeader, want: http.StatusNotFound},
			{name: "ReplayNoToken", method: "POST", path: "/ui/deliveries/nope/replay", header: formHeader, want: http.StatusForbidden},
			{name: "ReplayGoodToken", method: "POST", path: "/ui/deliveries/nope/replay", body: "csrf=" + csrf, header: formHeader, want: http.StatusNotFound},
			{name: "APINoToken", method: "POST", path: "/api/runs/nope/cancel", want: http.StatusUnauthorized},
			{name: "APIGoodToken", method: "POST", path: "/api/runs/nope/cancel", header: map[string]string{"X-CSRF-Token": csrf}, want: http.StatusNotFound},
			{name: "LogoutNoToken", method: "POST", path: "/ui/logout", header: formHeader, want: http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if r := send(t, tc.method, base+tc.path, tc.body, tc.header, cookie); r.status != tc.want {
					t.Fatalf("want %d, got %d %s", tc.want, r.status, r.body)
				}
			})
		}
	})
	t.Run("SecurityHeadersAndNoInlineScript", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/ui/triggers", "/ui/login"} {
			var cookies []*http.Cookie
			if path != "/ui/login" { // signed in, the sign-in page redirects
				cookies = append(cookies, cookie)
			}
			r := send(t, "GET", base+path, "", nil, cookies...)
			csp := r.header.Get("Content-Security-Policy")
			if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
				t.Errorf("%s: CSP %q", path, csp)
			}
			if r.header.Get("X-Frame-Options") != "DENY" || r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s: headers %v", path, r.header)
			}
			if m := regexp.MustCompile(`<script(?:\s+[^>]*)?>`).FindAllString(r.body, -1); len(m) != 1 || !strings.Contains(m[0], `src="/ui/static/app.js"`) {
				t.Errorf("%s: scripts %q", path, m)
			}
			if regexp.MustCompile(`(?i)\son[a-z]+=|style=|https?://`).MatchString(r.body) {
				t.Errorf("%s: inline handler, inline style or external URL in the page", path)
			}
		}
	})
	t.Run("SignOutEndsSession", func(t *testing.T) {
		r := send(t, "POST", base+"/ui/logout", "csrf="+csrf, formHeader, cookie)
		if r.status != http.StatusSeeOther {
			t.Fatalf("logout: %d", r.status)
		}
		if r := send(t, "GET", base+"/ui/", "", nil, cookie); r.status != http.StatusSeeOther {
			t.Fatalf("the old cookie still opens the UI: %d", r.status)
		}
	})
}

// signedCookie is a session cookie value for payload (nonce and expiry)
// signed as the server signs it with api_token token.
func signedCookie(token string, payload []byte) string {
	k := hmac.New(sha256.New, []byte(token))
	k.Write([]byte("hooktrigger UI session key v1"))
	m := hmac.New(sha256.New, k.Sum(nil))
	m.Write([]byte("session\x00"))
	m.Write(payload)
	return "v1." + base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestUI_SessionOutlivesRestart: a session is the cookie's, not the
// process's, so it opens the UI after a restart; signing out is recorded
// in the store and holds after a restart too; a new api_token ends every
// session.
func TestUI_SessionOutlivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "hooktrigger.yaml")
	writeConfig := func(token string) {
		text := strings.Replace(uiConfig, "api_token: "+testToken, "api_token: "+token, 1)
		if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := func() (*server.Server, string) {
		cfg, err := config.Load(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		s, err := server.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		go s.Serve()
		return s, "http://" + s.Addr()
	}
	stop := func(s *server.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Close(ctx)
	}
	writeConfig(testToken)

	s1, base := start()
	cookie, csrf := signIn(t, base)
	stop(s1)

	s2, base := start()
	page := send(t, "GET", base+"/ui/", "", nil, cookie)
	if page.status != http.StatusOK || !strings.Contains(page.body, csrf) {
		t.Fatalf("after a restart the session's cookie got %d (its CSRF token on the page: %v)", page.status, strings.Contains(page.body, csrf))
	}
	if r := send(t, "POST", base+"/ui/logout", "csrf="+csrf, formHeader, cookie); r.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	stop(s2)

	s3, base := start()
	defer stop(s3)
	if r := send(t, "GET", base+"/ui/", "", nil, cookie); r.status != http.StatusSeeOther {
		t.Fatalf("a signed-out session opened the UI after a restart: %d", r.status)
	}
	fresh, _ := signIn(t, base)
	writeConfig("a-new-token")
	if err := s3.Reload(cfgPath, false); err != nil {
		t.Fatal(err)
	}
	if r := send(t, "GET", base+"/ui/", "", nil, fresh); r.status != http.StatusSeeOther {
		t.Fatalf("a session signed under the old api_token opened the UI: %d", r.status)
	}
}

func TestUI_NoToken(t *testing.T) {
	s, base := MustServer(t, strings.Replace(uiConfig, "api_token: "+testToken+"\n", "", 1))
	t.Run("LoopbackAdmittedWithSession", func(t *testing.T) {
		r := send(t, "GET", base+"/ui/", "", nil)
		if r.status != http.StatusOK || !strings.Contains(r.header.Get("Set-Cookie"), "HttpOnly") {
			t.Fatalf("%d %v", r.status, r.header)
		}
		if r := send(t, "GET", base+"/ui/login", "", nil); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in page without a token: %d", r.status)
		}
	})
	t.Run("OtherHostsRefused", func(t *testing.T) {
		for _, path := range []string{"/ui/", "/ui/triggers", "/api/triggers"} {
			req := httptest.NewRequest("GET", path, nil)
			req.RemoteAddr = "192.0.2.7:4711"
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != http.StatusForbidden && w.Code != http.StatusUnauthorized {
				t.Errorf("%s from another host: %d", path, w.Code)
			}
		}
	})
}

func TestAPI_Extract(t *testing.T) {
	s, base := MustServer(t, uiConfig)
	auth := map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": "application/json"}
	hook := send(t, "POST", base+"/hooks/app?token=hook-secret", `{"ref":"refs/heads/main","n":[1,2]}`, map[string]string{"Content-Type": "application/json"})
	var hr map[string]any
	if err := json.Unmarshal([]byte(hook.body), &hr); err != nil || hook.status != http.StatusAccepted {
		t.Fatalf("hook: %d %s", hook.status, hook.body)
	}
	stored := hr["delivery"].(string)
	_ = s
	cases := []struct {
		name    string
		req     string
		status  int
		has     []string // substrings of the answer
		matched *bool
	}{
		{name: "JSONPath", req: `{"payload":"{\"a\":{\"b\":[1,2]}}","jsonpath":"$.a.b[*]"}`, status: 200, has: []string{`"value_0":"1"`, `"value_1":"2"`, `"nodes":[1,2]`}},
		{name: "GJSON", req: `{"payload":"{\"a\":{\"b\":\"x\"}}","gjson":"a.b"}`, status: 200, has: []string{`"value":"x"`}},
		{name: "XPath", req: `{"payload":"<p><v>1.2</v></p>","headers":{"Content-Type":"application/xml"},"xpath":"/p/v"}`, status: 200, has: []string{`"value":"1.2"`}},
		{name: "StoredDelivery", req: `{"delivery":"` + stored + `","jsonpath":"$.n"}`, status: 200, has: []string{`"value_0":"1"`}},
		{name: "TriggerMatches", req: `{"delivery":"` + stored + `","trigger":"build"}`, status: 200, has: []string{`"ref":"refs/heads/main"`}, matched: ptr(true)},
		{name: "TriggerSkips", req: `{"payload":"{\"ref\":\"refs/heads/dev\"}","trigger":"build"}`, status: 200, has: []string{`does not match`}, matched: ptr(false)},
		{name: "InvalidExpression", req: `{"payload":"{}","jsonpath":"$[?"}`, status: 400, has: []string{"invalid expression"}},
		{name: "MalformedBody", req: `{"payload":"{\"a\":","jsonpath":"$.a"}`, status: 400, has: []string{"malformed"}},
		{name: "UnknownTrigger", req: `{"payload":"{}","trigger":"nope"}`, status: 404, has: []string{"unknown trigger"}},
		{name: "UnknownDelivery", req: `{"delivery":"nope","jsonpath":"$"}`, status: 404},
		{name: "TwoExpressions", req: `{"payload":"{}","jsonpath":"$","gjson":"a"}`, status: 400},
		{name: "ExpressionAndTrigger", req: `{"payload":"{}","jsonpath":"$","trigger":"build"}`, status: 400},
		{name: "Nothing", req: `{"payload":"{}"}`, status: 400},
		{name: "PayloadAndDelivery", req: `{"payload":"{}","delivery":"` + stored + `","jsonpath":"$"}`, status: 400},
		{name: "NoPayload", req: `{"jsonpath":"$"}`, status: 400},
		{name: "UnknownField", req: `{"payload":"{}","jsonpth":"$"}`, status: 400, has: []string{"jsonpth"}},
		{name: "NotJSON", req: `payload=x`, status: 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := send(t, "POST", base+"/api/extract", tc.req, auth)
			if r.status != tc.status {
				t.Fatalf("want %d, got %d %s", tc.status, r.status, r.body)
			}
			compact := new(bytes.Buffer)
			_ = json.Compact(compact, []byte(r.body))
			for _, want := range tc.has {
				if !strings.Contains(compact.String(), want) {
					t.Errorf("answer lacks %s: %s", want, compact)
				}
			}
			if tc.matched != nil {
				var res struct {
					Filter *struct{ Matched bool } `json:"filter"`
				}
				_ = json.Unmarshal([]byte(r.body), &res)
				if res.Filter == nil || res.Filter.Matched != *tc.matched {
					t.Errorf("want matched=%v: %s", *tc.matched, r.body)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestAPI_Triggers(t *testing.T) {
	_, base := MustServer(t, uiConfig)
	r := send(t, "GET", base+"/api/triggers", "", map[string]string{"Authorization": "Bearer " + testToken})
	var got struct {
		Triggers []struct {
			Name, Path, Provider     string
			Methods, Branches, Paths []string
			Filters                  []struct{ Kind, Text, Expression string }
			Variables                []struct{ Name, Source, Expression string }
		}
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if len(got.Triggers) != 2 {
		t.Fatalf("triggers: %+v", got)
	}
	b, rel := got.Triggers[0], got.Triggers[1]
	if b.Name != "build" || b.Path != "/hooks/app" || b.Provider != "generic" || len(b.Filters) != 1 || b.Filters[0].Kind != "regexp" ||
		b.Filters[0].Expression != "^refs/heads/main$" || len(b.Variables) != 1 || b.Variables[0].Source != "jsonpath" || b.Variables[0].Expression != "$.ref" {
		t.Errorf("build: %+v", b)
	}
	if rel.Name != "release" || rel.Provider != "github" || len(rel.Branches) != 1 || rel.Branches[0] != "release/*" ||
		strings.Join(rel.Paths, " ") != "charts/** !**/*.md" || strings.Join(rel.Methods, " ") != "POST PUT" {
		t.Errorf("release: %+v", rel)
	}
	cookie, _ := signIn(t, base)
	page := send(t, "GET", base+"/ui/triggers", "", nil, cookie)
	if !strings.Contains(page.body, "<dt>Paths</dt><dd><code>charts/**, !**/*.md</code></dd>") || !strings.Contains(page.body, "<dt>Path</dt><dd>POST, PUT <code>/hooks/app</code></dd>") {
		t.Errorf("the triggers page does not show the paths:\n%s", page.body)
	}
}
