package github_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	gh "github.com/google/go-github/v82/github"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/github"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

func FuzzGitHubSignRoundTrip(f *testing.F) {
	f.Add([]byte("It's a Secret to Everybody"), []byte("Hello, World!"))
	f.Add([]byte{0}, []byte{})
	f.Add([]byte(strings.Repeat("k", 200)), []byte(`{"zen":"x"}`))
	f.Fuzz(func(t *testing.T, secret, body []byte) {
		if len(secret) == 0 {
			return // New refuses empty secrets
		}
		sig := github.Sign(secret, body)
		p, err := github.New(providers.Config{Secrets: [][]byte{[]byte("other"), secret}})
		if err != nil {
			t.Fatal(err)
		}
		r := &providers.Request{Header: http.Header{"X-Hub-Signature-256": {sig}}, Body: body}
		if err := p.Verify(r); err != nil {
			t.Fatalf("verify(sign(body)) = %v", err)
		}
		// go-github, verifying the same way, agrees.
		if err := gh.ValidateSignature(sig, body, secret); err != nil {
			t.Fatalf("go-github rejects Sign's output: %v", err)
		}
		r.Body = append(append([]byte(nil), body...), ' ')
		if err := p.Verify(r); !errors.Is(err, providers.ErrUnauthorized) {
			t.Fatalf("verify of a changed body = %v, want ErrUnauthorized", err)
		}
	})
}

func FuzzGitHubVerify(f *testing.F) {
	f.Add("sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "", []byte("Hello, World!"))
	f.Add("", "sha1=0000000000000000000000000000000000000000", []byte{})
	f.Add("sha256=", "sha1=", []byte("x"))
	f.Add("sha256=zz", "sha512=00", []byte("x"))
	secret := []byte("It's a Secret to Everybody")
	strict, _ := github.New(providers.Config{Secrets: [][]byte{secret}})
	lax, _ := github.New(providers.Config{Secrets: [][]byte{secret}, AllowSHA1: true})
	f.Fuzz(func(t *testing.T, sig256, sig1 string, body []byte) {
		h := http.Header{}
		if sig256 != "" {
			h.Set("X-Hub-Signature-256", sig256)
		}
		if sig1 != "" {
			h.Set("X-Hub-Signature", sig1)
		}
		for _, p := range []*github.Provider{strict, lax} {
			err := p.Verify(&providers.Request{Header: h, Body: body})
			if err == nil {
				// Only a true signature verifies, and sha1 only when allowed.
				switch {
				case sig256 != "":
					if !strings.EqualFold(sig256, github.Sign(secret, body)) {
						t.Fatalf("accepted %q, which is not the MAC", sig256)
					}
				case p == strict:
					t.Fatal("accepted sha1 without allow_sha1")
				case !strings.EqualFold(sig1, sha1Sign(secret, body)):
					t.Fatalf("accepted %q, which is not the sha1 MAC", sig1)
				}
				continue
			}
			if !errors.Is(err, providers.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
		}
	})
}

func FuzzGitHubInspect(f *testing.F) {
	for file, body := range providertest.Seeds(f, "github/*/*.json") {
		event := file[len("github/"):strings.LastIndexByte(file, '/')]
		f.Add(event, "application/json", body)
	}
	f.Add("push", "application/x-www-form-urlencoded", []byte("payload=%7B%22ref%22%3A%22refs%2Fheads%2Fmain%22%7D"))
	f.Add("push", "", []byte(`{"ref":"refs/tags/v1","after":1}`))
	f.Add("pull_request", "", []byte(`{"number":"12","pull_request":[]}`))
	f.Add("", "", []byte(`{}`))
	p, _ := github.New(providers.Config{AllowUnsigned: true})
	f.Fuzz(func(t *testing.T, event, contentType string, body []byte) {
		h := http.Header{"X-Github-Event": {event}, "Content-Type": {contentType}}
		info, err := p.Inspect(&providers.Request{Header: h, Body: body})
		if err != nil {
			if !errors.Is(err, providers.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if info.Event != event {
			t.Fatalf("Event = %q, want %q", info.Event, event)
		}
		if info.Branch != "" && info.Tag != "" {
			t.Fatalf("both Branch %q and Tag %q", info.Branch, info.Tag)
		}
		if info.Ping != (event == "ping") {
			t.Fatalf("Ping = %v for %q", info.Ping, event)
		}
		for _, c := range info.PR {
			if c < '0' || c > '9' {
				t.Fatalf("PR %q is not a number", info.PR)
			}
		}
	})
}
