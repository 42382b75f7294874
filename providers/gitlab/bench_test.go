package gitlab_test

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

func BenchmarkGitLabVerifySigningToken(b *testing.B) {
	body := providertest.MustRead(b, "gitlab/merge_request.json")
	key := []byte("0123456789abcdef0123456789abcdef")
	p := mustNew(b, providers.Config{Secrets: [][]byte{[]byte("whsec_" + base64.StdEncoding.EncodeToString(key))}})
	now := time.Unix(1_700_000_000, 0)
	r := &providers.Request{Header: http.Header{
		"Webhook-Id":        {"msg_1"},
		"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"Webhook-Signature": {providers.SignStandardWebhook(key, "msg_1", now, body)},
	}, Body: body, Now: now}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGitLabInspect(b *testing.B) {
	body := providertest.MustRead(b, "gitlab/merge_request.json")
	p := mustNew(b, providers.Config{AllowUnsigned: true})
	r := &providers.Request{Header: http.Header{"X-Gitlab-Event": {"Merge Request Hook"}, "Webhook-Id": {"msg_1"}}, Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if info, err := p.Inspect(r); err != nil || info.PR == "" {
			b.Fatal(info, err)
		}
	}
}
