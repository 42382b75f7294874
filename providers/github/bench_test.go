package github_test

import (
	"net/http"
	"testing"

	gh "github.com/google/go-github/v82/github"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

const benchPayload = "github/push/with-new-branch.payload.json"

func BenchmarkGitHubVerify(b *testing.B) {
	body := providertest.MustRead(b, benchPayload)
	secret := []byte("bench secret")
	p := mustNew(b, providers.Config{Secrets: [][]byte{secret}})
	r := signedRequest(secret, "push", "d", body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Verify(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGitHubInspect(b *testing.B) {
	body := providertest.MustRead(b, benchPayload)
	p := mustNew(b, providers.Config{AllowUnsigned: true})
	r := &providers.Request{Header: http.Header{
		"X-Github-Event":    {"push"},
		"X-Github-Delivery": {"72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		"Content-Type":      {"application/json"},
	}, Body: body}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		info, err := p.Inspect(r)
		if err != nil || info.SHA == "" {
			b.Fatal(info, err)
		}
	}
}

// BenchmarkGitHubParseWebHook is go-github's full typed decode of the same
// payload, for comparison with Inspect.
func BenchmarkGitHubParseWebHook(b *testing.B) {
	body := providertest.MustRead(b, benchPayload)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gh.ParseWebHook("push", body); err != nil {
			b.Fatal(err)
		}
	}
}
