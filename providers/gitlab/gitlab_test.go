package gitlab_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/gitlab"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

func mustNew(tb testing.TB, cfg providers.Config) *gitlab.Provider {
	tb.Helper()
	p, err := gitlab.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// corpusEvents maps each GitLab corpus file to the X-Gitlab-Event header
// GitLab sends with it and the event name Inspect must give.
var corpusEvents = []struct {
	file   string
	header string
	event  string
}{
	{file: "build.json", header: "Build Hook", event: "job"},
	{file: "deployment.json", header: "Deployment Hook", event: "deployment"},
	{file: "feature_flag.json", header: "Feature Flag Hook", event: "feature_flag"},
	{file: "group_merge_request.json", header: "System Hook", event: "merge_request"},
	{file: "issue.json", header: "Issue Hook", event: "issue"},
	{file: "job.json", header: "Job Hook", event: "job"},
	{file: "member.json", header: "Member Hook", event: "member"},
	{file: "merge_request.json", header: "Merge Request Hook", event: "merge_request"},
	{file: "note_commit.json", header: "Note Hook", event: "note"},
	{file: "note_issue.json", header: "Note Hook", event: "note"},
	{file: "note_merge_request.json", header: "Note Hook", event: "note"},
	{file: "note_snippet.json", header: "Confidential Note Hook", event: "note"},
	{file: "pipeline.json", header: "Pipeline Hook", event: "pipeline"},
	{file: "push.json", header: "Push Hook", event: "push"},
	{file: "release.json", header: "Release Hook", event: "release"},
	{file: "resource_access_token_group.json", header: "Resource Access Token Hook", event: "resource_access_token"},
	{file: "resource_access_token_project.json", header: "Resource Access Token Hook", event: "resource_access_token"},
	{file: "service_merge_request.json", header: "Service Hook", event: "merge_request"},
	{file: "subgroup.json", header: "Subgroup Hook", event: "subgroup"},
	{file: "tag_push.json", header: "Tag Push Hook", event: "tag_push"},
	{file: "wiki_page.json", header: "Wiki Page Hook", event: "wiki_page"},
}

func TestProvider_Corpus(t *testing.T) {
	if n := len(providertest.Glob(t, "gitlab/*.json")); n != len(corpusEvents) {
		t.Fatalf("corpus has %d GitLab payloads, the test knows %d", n, len(corpusEvents))
	}
	key := []byte("0123456789abcdef0123456789abcdef")
	signing := "whsec_" + base64.StdEncoding.EncodeToString(key)
	now := time.Unix(1_700_000_000, 0)
	for _, c := range corpusEvents {
		t.Run(c.file, func(t *testing.T) {
			body := providertest.MustRead(t, "gitlab/"+c.file)
			t.Run("Token", func(t *testing.T) {
				p := mustNew(t, providers.Config{Secrets: [][]byte{[]byte("tok")}})
				r := &providers.Request{Header: http.Header{
					"X-Gitlab-Event":      {c.header},
					"X-Gitlab-Token":      {"tok"},
					"X-Gitlab-Event-Uuid": {"shared-by-chained-hooks"},
					"Idempotency-Key":     {"idem-1"},
				}, Body: body}
				check(t, p, r, c.event, "idem-1")
			})
			t.Run("SigningToken", func(t *testing.T) {
				p := mustNew(t, providers.Config{Secrets: [][]byte{[]byte(signing)}})
				r := &providers.Request{Header: http.Header{
					"X-Gitlab-Event":    {c.header},
					"Webhook-Id":        {"msg_1"},
					"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
					"Webhook-Signature": {providers.SignStandardWebhook(key, "msg_1", now, body)},
				}, Body: body, Now: now}
				check(t, p, r, c.event, "msg_1")
			})
			// The typed decode of client-go agrees that the header fits the payload.
			if _, err := gl.ParseHook(gl.EventType(c.header), body); err != nil {
				t.Errorf("client-go cannot parse %s as %q: %v", c.file, c.header, err)
			}
		})
	}
}

func check(t *testing.T, p *gitlab.Provider, r *providers.Request, event, delivery string) {
	t.Helper()
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
	if info.DeliveryID != delivery {
		t.Errorf("DeliveryID = %q, want %q", info.DeliveryID, delivery)
	}
	if info.Ping {
		t.Error("Ping set for a GitLab event")
	}
}

func TestProvider_Inspect(t *testing.T) {
	tests := []struct {
		name   string
		file   string
		header string
		want   providers.Info
	}{
		{name: "Push", file: "push.json", header: "Push Hook",
			want: providers.Info{Event: "push", Repo: "mike/diaspora", Ref: "refs/heads/master", Branch: "master",
				SHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", Actor: "jsmith"}},
		{name: "TagPush", file: "tag_push.json", header: "Tag Push Hook",
			want: providers.Info{Event: "tag_push", Repo: "jsmith/example", Ref: "refs/tags/v1.0.0", Tag: "v1.0.0",
				SHA: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", Before: "0000000000000000000000000000000000000000", Actor: "jsmith"}},
		{name: "MergeRequest", file: "merge_request.json", header: "Merge Request Hook",
			want: providers.Info{Event: "merge_request", Action: "open", Repo: "gitlabhq/gitlab-test",
				Ref: "refs/merge-requests/1/head", Branch: "ms-viewport", SHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
				Actor: "user1", PR: "1"}},
		{name: "NoteOnMergeRequest", file: "note_merge_request.json", header: "Note Hook",
			want: providers.Info{Event: "note", Action: "create", Repo: "gitlab-org/gitlab-test",
				Ref: "refs/merge-requests/1/head", Branch: "master", SHA: "562e173be03b8ff2efb05345d12df18815438a4b",
				Actor: "root", PR: "1"}},
		{name: "NoteOnCommit", file: "note_commit.json", header: "Note Hook",
			want: providers.Info{Event: "note", Action: "create", Repo: "gitlabhq/gitlab-test",
				SHA: "cfe32cf61b73a0d5e9f13e774abde7ff789b1660", Actor: "user1"}},
		{name: "Pipeline", file: "pipeline.json", header: "Pipeline Hook",
			want: providers.Info{Event: "pipeline", Action: "success", Repo: "gitlab-org/gitlab-test",
				Ref: "refs/heads/master", Branch: "master", SHA: "bcbb5ec396a2c0f828686f14fac9b80b780504f2",
				Before: "bcbb5ec396a2c0f828686f14fac9b80b780504f2", Actor: "user1", PR: "1"}},
		{name: "Job", file: "job.json", header: "Job Hook",
			want: providers.Info{Event: "job", Action: "success", Repo: "jsmithy2/release-tools-fake",
				Ref: "refs/heads/main", Branch: "main", SHA: "95d49d1efbd941908580e79d65e4b5ecaf4a8305",
				Before: "0000000000000000000000000000000000000000", Actor: "jsmithy2"}},
		{name: "Release", file: "release.json", header: "Release Hook",
			want: providers.Info{Event: "release", Action: "create", Repo: "exm-namespace/example-project",
				Ref: "refs/tags/1.0.0", Tag: "1.0.0", SHA: "2626dbdb936782b5c54816b1c6d45b1279303c6d"}},
		{name: "Member", file: "member.json", header: "Member Hook",
			want: providers.Info{Event: "member", Action: "user_add_to_group"}},
		{name: "PushWithoutHeader", file: "push.json", header: "",
			want: providers.Info{Event: "push", Repo: "mike/diaspora", Ref: "refs/heads/master", Branch: "master",
				SHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", Actor: "jsmith"}},
		{name: "SystemHookPush", file: "push.json", header: "System Hook",
			want: providers.Info{Event: "push", Repo: "mike/diaspora", Ref: "refs/heads/master", Branch: "master",
				SHA: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", Before: "95790bf891e76fee5e1747ab589903a6a1f80f22", Actor: "jsmith"}},
	}
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Webhook-Id": {"msg_2"}}
			if tt.header != "" {
				h.Set("X-Gitlab-Event", tt.header)
			}
			got, err := p.Inspect(&providers.Request{Header: h, Body: providertest.MustRead(t, "gitlab/"+tt.file)})
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			tt.want.DeliveryID = "msg_2"
			if *got != tt.want {
				t.Errorf("Inspect =\n%+v\nwant\n%+v", *got, tt.want)
			}
		})
	}
}

func TestProvider_Inspect_DeliveryID(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	body := []byte(`{"object_kind":"push"}`)
	tests := []struct {
		name   string
		header http.Header
		want   string
	}{
		{name: "WebhookID", header: http.Header{"Webhook-Id": {"a"}, "Idempotency-Key": {"b"}}, want: "a"},
		{name: "IdempotencyKey", header: http.Header{"Idempotency-Key": {"b"}}, want: "b"},
		{name: "NeverEventUUID", header: http.Header{"X-Gitlab-Event-Uuid": {"c"}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := p.Inspect(&providers.Request{Header: tt.header, Body: body})
			if err != nil {
				t.Fatal(err)
			}
			if info.DeliveryID != tt.want {
				t.Fatalf("DeliveryID = %q, want %q", info.DeliveryID, tt.want)
			}
		})
	}
}

func TestProvider_Inspect_Malformed(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	tests := []struct {
		name   string
		header http.Header
		body   string
	}{
		{name: "NotJSON", header: http.Header{"X-Gitlab-Event": {"Push Hook"}}, body: `<xml/>`},
		{name: "Empty", header: http.Header{"X-Gitlab-Event": {"Push Hook"}}, body: ``},
		{name: "NoEventAnywhere", header: http.Header{}, body: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := p.Inspect(&providers.Request{Header: tt.header, Body: []byte(tt.body)}); !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("Inspect = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestProvider_Verify(t *testing.T) {
	body := []byte(`{"object_kind":"push"}`)
	key1 := []byte("key-one-key-one-key-one-key-one!")
	key2 := []byte("key-two-key-two-key-two-key-two!")
	whsec := func(k []byte) []byte { return []byte("whsec_" + base64.StdEncoding.EncodeToString(k)) }
	now := time.Unix(1_750_000_000, 0)
	signed := func(key []byte, ts time.Time, sig func(string) string) http.Header {
		s := providers.SignStandardWebhook(key, "msg_x", ts, body)
		if sig != nil {
			s = sig(s)
		}
		return http.Header{
			"Webhook-Id":        {"msg_x"},
			"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
			"Webhook-Signature": {s},
		}
	}
	tests := []struct {
		name    string
		secrets [][]byte
		header  http.Header
		wantErr bool
	}{
		{name: "Token", secrets: [][]byte{[]byte("tok")}, header: http.Header{"X-Gitlab-Token": {"tok"}}},
		{name: "TokenRotated", secrets: [][]byte{[]byte("new"), []byte("tok")}, header: http.Header{"X-Gitlab-Token": {"tok"}}},
		{name: "WrongToken", secrets: [][]byte{[]byte("tok")}, header: http.Header{"X-Gitlab-Token": {"tok2"}}, wantErr: true},
		{name: "EmptyToken", secrets: [][]byte{[]byte("tok")}, header: http.Header{"X-Gitlab-Token": {""}}, wantErr: true},
		{name: "MissingToken", secrets: [][]byte{[]byte("tok")}, header: http.Header{}, wantErr: true},
		{name: "SigningToken", secrets: [][]byte{whsec(key1)}, header: signed(key1, now, nil)},
		{name: "SigningTokenRotated", secrets: [][]byte{whsec(key2), whsec(key1)}, header: signed(key1, now, nil)},
		{name: "SigningTokenWrongKey", secrets: [][]byte{whsec(key2)}, header: signed(key1, now, nil), wantErr: true},
		{name: "StaleTimestamp", secrets: [][]byte{whsec(key1)}, header: signed(key1, now.Add(-6*time.Minute), nil), wantErr: true},
		{name: "FutureTimestamp", secrets: [][]byte{whsec(key1)}, header: signed(key1, now.Add(6*time.Minute), nil), wantErr: true},
		{name: "WithinTolerance", secrets: [][]byte{whsec(key1)}, header: signed(key1, now.Add(-4*time.Minute), nil)},
		{name: "UnknownVersionIgnored", secrets: [][]byte{whsec(key1)}, wantErr: true,
			header: signed(key1, now, func(s string) string { return "v1a," + strings.TrimPrefix(s, "v1,") })},
		{name: "UnknownVersionBesideValid", secrets: [][]byte{whsec(key1)},
			header: signed(key1, now, func(s string) string { return "v1a,AAAA v2,BBBB " + s })},
		{name: "SeveralSignatures", secrets: [][]byte{whsec(key1)},
			header: signed(key1, now, func(s string) string { return providers.SignStandardWebhook(key2, "msg_x", now, body) + " " + s })},
		{name: "SigningTokenNotAsToken", secrets: [][]byte{whsec(key1)},
			header: http.Header{"X-Gitlab-Token": {string(whsec(key1))}}, wantErr: true},
		{name: "TokenOrSigningToken", secrets: [][]byte{[]byte("tok"), whsec(key1)}, header: http.Header{"X-Gitlab-Token": {"tok"}}},
		{name: "BadSignatureGoodToken", secrets: [][]byte{[]byte("tok"), whsec(key1)},
			header: func() http.Header {
				h := signed(key2, now, nil)
				h.Set("X-Gitlab-Token", "tok")
				return h
			}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, providers.Config{Secrets: tt.secrets})
			err := p.Verify(&providers.Request{Header: tt.header, Body: body, Now: now})
			if tt.wantErr {
				if !errors.Is(err, providers.ErrUnauthorized) {
					t.Fatalf("Verify = %v, want ErrUnauthorized", err)
				}
				for _, s := range tt.secrets {
					if strings.Contains(err.Error(), string(s)) {
						t.Fatalf("error %q reveals a secret", err)
					}
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
	tests := []struct {
		name string
		cfg  providers.Config
	}{
		{name: "NoSecret", cfg: providers.Config{}},
		{name: "BadSigningToken", cfg: providers.Config{Secrets: [][]byte{[]byte("whsec_!!!")}}},
		{name: "EmptySecret", cfg: providers.Config{Secrets: [][]byte{{}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gitlab.New(tt.cfg)
			if err == nil {
				t.Fatal("New accepted the config")
			}
			if strings.Contains(err.Error(), "!!!") {
				t.Fatalf("error %q reveals the secret", err)
			}
		})
	}
}

// TestEventHeader: the header EventHeader writes for an event reads back as
// that event, for each event GitLab names in its header and for one it
// does not.
func TestEventHeader(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	for _, c := range []struct{ event, header string }{
		{"push", "Push Hook"},
		{"tag_push", "Tag Push Hook"},
		{"merge_request", "Merge Request Hook"},
		{"note", "Note Hook"},
		{"issue", "Issue Hook"},
		{"job", "Job Hook"},
		{"resource_access_token", "Resource Access Token Hook"},
		{"wiki_page", "Wiki Page Hook"},
		{"brand_new", "Brand New Hook"},
	} {
		name, value, ok := p.EventHeader(c.event)
		if !ok || name != "X-Gitlab-Event" || value != c.header {
			t.Errorf("EventHeader(%q) = %q, %q, %v; want X-Gitlab-Event, %q", c.event, name, value, ok, c.header)
			continue
		}
		info, err := p.Inspect(&providers.Request{Header: http.Header{name: {value}}, Body: []byte(`{}`)})
		if err != nil || info.Event != c.event {
			t.Errorf("%s: %q reads back as %+v, %v", c.event, value, info, err)
		}
	}
}
