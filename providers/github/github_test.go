package github_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"testing"

	gh "github.com/google/go-github/v82/github"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/github"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

// testVector is GitHub's documented signature example.
type testVector struct {
	Secret           string `json:"secret"`
	Payload          string `json:"payload"`
	SignatureHex     string `json:"signature_hex"`
	XHubSignature256 string `json:"x_hub_signature_256"`
}

func mustTestVector(tb testing.TB) testVector {
	tb.Helper()
	var v testVector
	if err := json.Unmarshal(providertest.MustRead(tb, "signatures/github-x-hub-signature-256.json"), &v); err != nil {
		tb.Fatal(err)
	}
	return v
}

// vector returns GitHub's documented example from the corpus or, without a
// corpus, one computed here with crypto/hmac, so the failure cases run anyway.
func vector(tb testing.TB) testVector {
	tb.Helper()
	for _, b := range providertest.Seeds(tb, "signatures/github-x-hub-signature-256.json") {
		var v testVector
		if err := json.Unmarshal(b, &v); err != nil {
			tb.Fatal(err)
		}
		return v
	}
	v := testVector{Secret: "local secret", Payload: "local payload"}
	m := hmac.New(sha256.New, []byte(v.Secret))
	m.Write([]byte(v.Payload))
	v.SignatureHex = hex.EncodeToString(m.Sum(nil))
	v.XHubSignature256 = "sha256=" + v.SignatureHex
	return v
}

func mustNew(tb testing.TB, cfg providers.Config) *github.Provider {
	tb.Helper()
	p, err := github.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func sha1Sign(secret, body []byte) string {
	m := hmac.New(sha1.New, secret)
	m.Write(body)
	return "sha1=" + hex.EncodeToString(m.Sum(nil))
}

func TestSign_DocumentedVector(t *testing.T) {
	v := mustTestVector(t)
	if got := github.Sign([]byte(v.Secret), []byte(v.Payload)); got != v.XHubSignature256 {
		t.Fatalf("Sign = %s, want %s", got, v.XHubSignature256)
	}
}

func TestProvider_Verify(t *testing.T) {
	v := vector(t)
	secret, body := []byte(v.Secret), []byte(v.Payload)
	good := v.XHubSignature256
	tests := []struct {
		name    string
		cfg     providers.Config
		header  http.Header
		body    []byte
		wantErr bool
	}{
		{name: "DocumentedVector", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {good}}, body: body},
		{name: "RotatedSecret", cfg: providers.Config{Secrets: [][]byte{[]byte("new secret"), secret}},
			header: http.Header{"X-Hub-Signature-256": {good}}, body: body},
		{name: "UppercaseHex", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.ToUpper(v.SignatureHex)}}, body: body},
		{name: "WrongSecret", cfg: providers.Config{Secrets: [][]byte{[]byte("It's a Secret to Nobody")}},
			header: http.Header{"X-Hub-Signature-256": {good}}, body: body, wantErr: true},
		{name: "BodyChangedOneByte", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {good}}, body: []byte("Hello, World?"), wantErr: true},
		{name: "EmptyBody", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {good}}, body: nil, wantErr: true},
		{name: "TruncatedSignature", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {good[:len(good)-2]}}, body: body, wantErr: true},
		{name: "LongerSignature", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {good + "00"}}, body: body, wantErr: true},
		{name: "NonHexSignature", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("zz", 32)}}, body: body, wantErr: true},
		{name: "WrongPrefix", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {"sha1=" + v.SignatureHex}}, body: body, wantErr: true},
		{name: "NoPrefix", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature-256": {v.SignatureHex}}, body: body, wantErr: true},
		{name: "MissingHeader", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{}, body: body, wantErr: true},
		{name: "SHA1NotAllowed", cfg: providers.Config{Secrets: [][]byte{secret}},
			header: http.Header{"X-Hub-Signature": {sha1Sign(secret, body)}}, body: body, wantErr: true},
		{name: "SHA1Allowed", cfg: providers.Config{Secrets: [][]byte{secret}, AllowSHA1: true},
			header: http.Header{"X-Hub-Signature": {sha1Sign(secret, body)}}, body: body},
		{name: "SHA1AllowedWrongSecret", cfg: providers.Config{Secrets: [][]byte{[]byte("x")}, AllowSHA1: true},
			header: http.Header{"X-Hub-Signature": {sha1Sign(secret, body)}}, body: body, wantErr: true},
		{name: "SHA256WinsOverSHA1", cfg: providers.Config{Secrets: [][]byte{secret}, AllowSHA1: true},
			header: http.Header{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("00", 32)}, "X-Hub-Signature": {sha1Sign(secret, body)}},
			body:   body, wantErr: true},
		{name: "UnsignedAllowed", cfg: providers.Config{AllowUnsigned: true},
			header: http.Header{}, body: body},
		{name: "UnsignedIgnoredWithSecret", cfg: providers.Config{Secrets: [][]byte{secret}, AllowUnsigned: true},
			header: http.Header{}, body: body, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.cfg)
			err := p.Verify(&providers.Request{Header: tt.header, Body: tt.body})
			if tt.wantErr {
				if !errors.Is(err, providers.ErrUnauthorized) {
					t.Fatalf("Verify = %v, want ErrUnauthorized", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
		})
	}
}

func TestNew(t *testing.T) {
	t.Run("NoSecret", func(t *testing.T) {
		if _, err := github.New(providers.Config{}); !errors.Is(err, providers.ErrNoSecret) {
			t.Fatalf("New = %v, want ErrNoSecret", err)
		}
	})
	t.Run("EmptySecret", func(t *testing.T) {
		if _, err := github.New(providers.Config{Secrets: [][]byte{{}}}); err == nil {
			t.Fatal("New accepted an empty secret")
		}
	})
}

// TestProvider_Verify_ErrorsRevealNoSecret proves that no failure message
// contains the secret or the MAC the request should have carried, in hex
// (either case) or base64.
func TestProvider_Verify_ErrorsRevealNoSecret(t *testing.T) {
	secret := []byte("s3cr3t-do-not-leak")
	body := []byte(`{"zen":"Keep it logically awesome."}`)
	m256 := hmac.New(sha256.New, secret)
	m256.Write(body)
	m1 := hmac.New(sha1.New, secret)
	m1.Write(body)
	var forbidden []string
	for _, mac := range [][]byte{m256.Sum(nil), m1.Sum(nil)} {
		forbidden = append(forbidden, hex.EncodeToString(mac), strings.ToUpper(hex.EncodeToString(mac)),
			base64.StdEncoding.EncodeToString(mac), base64.RawURLEncoding.EncodeToString(mac))
	}
	forbidden = append(forbidden, string(secret))

	// Providers do not log; prove it stays so by capturing slog's default.
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() { slog.SetDefault(old) })

	headers := []http.Header{
		{},
		{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("ab", 32)}},
		{"X-Hub-Signature-256": {"sha256=" + strings.Repeat("ab", 31)}},
		{"X-Hub-Signature-256": {"sha256=xyz"}},
		{"X-Hub-Signature-256": {"sha512=" + strings.Repeat("ab", 64)}},
		{"X-Hub-Signature": {"sha1=" + strings.Repeat("ab", 20)}},
		{"X-Hub-Signature-256": {github.Sign(secret, []byte("other body"))}},
	}
	for _, allowSHA1 := range []bool{false, true} {
		p := mustNew(t, providers.Config{Secrets: [][]byte{secret}, AllowSHA1: allowSHA1})
		for _, h := range headers {
			err := p.Verify(&providers.Request{Header: h, Body: body})
			if err == nil {
				t.Fatalf("Verify(%v) = nil, want an error", h)
			}
			for _, f := range forbidden {
				if strings.Contains(err.Error(), f) {
					t.Fatalf("error %q reveals %q", err, f)
				}
			}
		}
	}
	for _, f := range forbidden {
		if strings.Contains(logs.String(), f) {
			t.Fatalf("log output reveals %q:\n%s", f, logs.String())
		}
	}
}

// corpusPayloads returns every GitHub payload with its event (its folder).
func corpusPayloads(tb testing.TB) map[string]string {
	tb.Helper()
	files := providertest.Glob(tb, "github/*/*.json")
	if len(files) == 0 {
		tb.Skip("no GitHub payloads in the corpus")
	}
	out := make(map[string]string, len(files))
	for _, f := range files {
		out[f] = path.Base(path.Dir(f))
	}
	return out
}

func signedRequest(secret []byte, event, delivery string, body []byte) *providers.Request {
	return &providers.Request{
		Header: http.Header{
			"Content-Type":        {"application/json"},
			"X-Github-Event":      {event},
			"X-Github-Delivery":   {delivery},
			"X-Hub-Signature-256": {github.Sign(secret, body)},
		},
		Body: body,
	}
}

func TestProvider_Corpus(t *testing.T) {
	secret := []byte("corpus secret")
	p := mustNew(t, providers.Config{Secrets: [][]byte{secret}})
	payloads := corpusPayloads(t)
	for file, event := range payloads {
		t.Run(file, func(t *testing.T) {
			body := providertest.MustRead(t, file)
			r := signedRequest(secret, event, "d-"+file, body)
			if err := p.Verify(r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			info, err := p.Inspect(r)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if info.Event != event {
				t.Errorf("Event = %q, want %q", info.Event, event)
			}
			if info.DeliveryID != "d-"+file {
				t.Errorf("DeliveryID = %q", info.DeliveryID)
			}
			if info.Ping != (event == "ping") {
				t.Errorf("Ping = %v", info.Ping)
			}
			// The action and repository agree with go-github's full decode.
			ev, err := gh.ParseWebHook(event, body)
			if err != nil {
				return // an event go-github does not know
			}
			if a, ok := ev.(interface{ GetAction() string }); ok && a.GetAction() != info.Action {
				t.Errorf("Action = %q, go-github says %q", info.Action, a.GetAction())
			}
			if r, ok := ev.(interface{ GetRepo() *gh.Repository }); ok && r.GetRepo().GetFullName() != info.Repo {
				t.Errorf("Repo = %q, go-github says %q", info.Repo, r.GetRepo().GetFullName())
			}
			if s, ok := ev.(interface{ GetSender() *gh.User }); ok && info.Event != "push" && s.GetSender().GetLogin() != info.Actor {
				t.Errorf("Actor = %q, go-github says %q", info.Actor, s.GetSender().GetLogin())
			}
		})
	}
}

const (
	zeros       = "0000000000000000000000000000000000000000"
	helloSHA    = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
	prHeadSHA   = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	workflowSHA = "3484a3fb816e0859fd6e1cea078d76385ff50625"
)

// patch replaces old (which must occur) by new in a corpus payload, to make
// variants the corpus lacks.
func patch(old, new string) func(testing.TB, []byte) []byte {
	return func(tb testing.TB, b []byte) []byte {
		tb.Helper()
		if !bytes.Contains(b, []byte(old)) {
			tb.Fatalf("payload lacks %q", old)
		}
		return bytes.Replace(b, []byte(old), []byte(new), 1)
	}
}

func TestProvider_Inspect(t *testing.T) {
	tests := []struct {
		name   string
		event  string
		file   string
		change func(testing.TB, []byte) []byte // optional edit of the payload
		want   providers.Info
	}{
		{name: "PushNewBranch", event: "push", file: "github/push/with-new-branch.payload.json",
			want: providers.Info{Event: "push", Repo: "Codertocat/Hello-World", Ref: "refs/heads/master", Branch: "master",
				SHA: helloSHA, Before: zeros, Actor: "Codertocat"}},
		{name: "TagDelete", event: "push", file: "github/push/payload.json",
			want: providers.Info{Event: "push", Repo: "Codertocat/Hello-World", Ref: "refs/tags/simple-tag", Tag: "simple-tag",
				SHA: zeros, Before: helloSHA, Actor: "Codertocat"}},
		{name: "BranchDelete", event: "push", file: "github/push/payload.json",
			change: patch(`"ref": "refs/tags/simple-tag"`, `"ref": "refs/heads/feature/x"`),
			want: providers.Info{Event: "push", Repo: "Codertocat/Hello-World", Ref: "refs/heads/feature/x", Branch: "feature/x",
				SHA: zeros, Before: helloSHA, Actor: "Codertocat"}},
		{name: "PullRequestSynchronize", event: "pull_request", file: "github/pull_request/synchronize.payload.json",
			want: providers.Info{Event: "pull_request", Action: "synchronize", Repo: "Codertocat/Hello-World",
				Ref: "refs/pull/2/head", Branch: "changes", SHA: prHeadSHA, Before: "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
				Actor: "Codertocat", PR: "2"}},
		{name: "PullRequestOpened", event: "pull_request", file: "github/pull_request/opened.payload.json",
			want: providers.Info{Event: "pull_request", Action: "opened", Repo: "Codertocat/Hello-World",
				Ref: "refs/pull/2/head", Branch: "changes", SHA: prHeadSHA, Actor: "Codertocat", PR: "2"}},
		{name: "Release", event: "release", file: "github/release/published.payload.json",
			want: providers.Info{Event: "release", Action: "published", Repo: "Codertocat/Hello-World",
				Ref: "refs/tags/0.0.1", Tag: "0.0.1", Actor: "Codertocat"}},
		{name: "IssueComment", event: "issue_comment", file: "github/issue_comment/created.payload.json",
			want: providers.Info{Event: "issue_comment", Action: "created", Repo: "Codertocat/Hello-World", Actor: "Codertocat"}},
		{name: "IssueCommentOnPullRequest", event: "issue_comment", file: "github/issue_comment/created.payload.json",
			change: patch(`"issue": {`, `"issue": {"pull_request": {"url": "https://api.github.com/repos/Codertocat/Hello-World/pulls/1"},`),
			want: providers.Info{Event: "issue_comment", Action: "created", Repo: "Codertocat/Hello-World",
				Ref: "refs/pull/1/head", Actor: "Codertocat", PR: "1"}},
		{name: "WorkflowRun", event: "workflow_run", file: "github/workflow_run/completed.with-pull-requests.payload.json",
			want: providers.Info{Event: "workflow_run", Action: "completed", Repo: "octo-org/octo-repo",
				Branch: "master", SHA: workflowSHA, Actor: "Codertocat", PR: "2"}},
		{name: "CheckSuite", event: "check_suite", file: "github/check_suite/completed.payload.json",
			want: providers.Info{Event: "check_suite", Action: "completed", Repo: "Codertocat/Hello-World",
				Branch: "changes", SHA: prHeadSHA, Before: helloSHA, Actor: "Codertocat", PR: "2"}},
		{name: "CreateTag", event: "create", file: "github/create/payload.json",
			want: providers.Info{Event: "create", Repo: "Codertocat/Hello-World", Ref: "refs/tags/simple-tag", Tag: "simple-tag", Actor: "Codertocat"}},
		{name: "Ping", event: "ping", file: "github/ping/payload.json",
			want: providers.Info{Event: "ping", Repo: "Octocoders/Hello-World", Actor: "Codertocat",
				Ping: true, Reply: "Anything added dilutes everything else."}},
	}
	secret := []byte("s")
	p := mustNew(t, providers.Config{Secrets: [][]byte{secret}})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := providertest.MustRead(t, tt.file)
			if tt.change != nil {
				body = tt.change(t, body)
			}
			r := signedRequest(secret, tt.event, "72d3162e-cc78-11e3-81ab-4c9367dc0958", body)
			if err := p.Verify(r); err != nil {
				t.Fatalf("Verify: %v", err)
			}
			got, err := p.Inspect(r)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			tt.want.DeliveryID = "72d3162e-cc78-11e3-81ab-4c9367dc0958"
			if *got != tt.want {
				t.Errorf("Inspect =\n%+v\nwant\n%+v", *got, tt.want)
			}
		})
	}
}

func TestProvider_Inspect_FormEncoded(t *testing.T) {
	secret := []byte("form secret")
	p := mustNew(t, providers.Config{Secrets: [][]byte{secret}})
	js := providertest.MustRead(t, "github/push/with-new-branch.payload.json")
	body := []byte(url.Values{"payload": {string(js)}}.Encode())
	for _, ct := range []string{"application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=utf-8", ""} {
		t.Run("ContentType="+ct, func(t *testing.T) {
			r := signedRequest(secret, "push", "d1", body)
			if ct == "" {
				r.Header.Del("Content-Type")
			} else {
				r.Header.Set("Content-Type", ct)
			}
			if err := p.Verify(r); err != nil {
				t.Fatalf("Verify (signature over the raw form body): %v", err)
			}
			info, err := p.Inspect(r)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if info.Branch != "master" || info.SHA != helloSHA || info.Repo != "Codertocat/Hello-World" {
				t.Errorf("Inspect = %+v", info)
			}
			if info.Payload != string(js) {
				t.Error("Payload is not the payload field's JSON")
			}
		})
	}
	t.Run("SignatureOverJSONFails", func(t *testing.T) {
		r := signedRequest(secret, "push", "d1", body)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("X-Hub-Signature-256", github.Sign(secret, js))
		if err := p.Verify(r); !errors.Is(err, providers.ErrUnauthorized) {
			t.Fatalf("Verify = %v, want ErrUnauthorized", err)
		}
	})
}

func TestProvider_Inspect_Malformed(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	tests := []struct {
		name   string
		header http.Header
		body   string
	}{
		{name: "NoEvent", header: http.Header{}, body: `{}`},
		{name: "NotJSON", header: http.Header{"X-Github-Event": {"push"}}, body: `not json`},
		{name: "TruncatedJSON", header: http.Header{"X-Github-Event": {"push"}}, body: `{"ref": "refs/heads/main"`},
		{name: "JSONArray", header: http.Header{"X-Github-Event": {"push"}}, body: `[1,2]`},
		{name: "EmptyBody", header: http.Header{"X-Github-Event": {"push"}}, body: ``},
		{name: "FormWithoutPayload", header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/x-www-form-urlencoded"}}, body: `a=1`},
		{name: "FormBadEscape", header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/x-www-form-urlencoded"}}, body: `payload=%zz`},
		{name: "FormPayloadNotJSON", header: http.Header{"X-Github-Event": {"push"}, "Content-Type": {"application/x-www-form-urlencoded"}}, body: `payload=nope`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := p.Inspect(&providers.Request{Header: tt.header, Body: []byte(tt.body)})
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Inspect = %v, want ErrMalformed", err)
			}
		})
	}
}

// TestProvider_Inspect_DoesNotAliasBody proves Info's strings survive the
// caller reusing the body buffer.
func TestProvider_Inspect_DoesNotAliasBody(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	body := providertest.MustRead(t, "github/pull_request/synchronize.payload.json")
	r := &providers.Request{Header: http.Header{"X-Github-Event": {"pull_request"}}, Body: body}
	info, err := p.Inspect(r)
	if err != nil {
		t.Fatal(err)
	}
	want := *info
	for i := range body {
		body[i] = 'x'
	}
	if *info != want {
		t.Fatalf("Info changed with the body: %+v", *info)
	}
}

func TestInfo_EventAction(t *testing.T) {
	tests := []struct {
		name string
		info providers.Info
		want string
	}{
		{name: "WithAction", info: providers.Info{Event: "pull_request", Action: "opened"}, want: "pull_request.opened"},
		{name: "WithoutAction", info: providers.Info{Event: "push"}, want: "push"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.info.EventAction(); got != tt.want {
				t.Fatalf("EventAction = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestProvider_Concurrent shares one provider between goroutines, as the
// server does; run with -race.
func TestProvider_Concurrent(t *testing.T) {
	secrets := [][]byte{[]byte("one"), []byte("two")}
	p := mustNew(t, providers.Config{Secrets: secrets})
	done := make(chan error)
	for g := 0; g < 8; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				body := []byte(`{"ref":"refs/heads/b` + strconv.Itoa(g) + `","after":"x"}`)
				secret := secrets[(g+i)%2]
				r := signedRequest(secret, "push", "d", body)
				if err := p.Verify(r); err != nil {
					done <- err
					return
				}
				r.Header.Set("X-Hub-Signature-256", github.Sign([]byte("three"), body))
				if err := p.Verify(r); err == nil {
					done <- errors.New("wrong secret accepted")
					return
				}
				info, err := p.Inspect(r)
				if err != nil || info.Branch != "b"+strconv.Itoa(g) {
					done <- fmt.Errorf("Inspect = %+v, %v", info, err)
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
