package generic_test

import (
	"errors"
	"net/http"
	"net/url"
	"testing"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/generic"
)

func FuzzGenericHMACRoundTrip(f *testing.F) {
	f.Add([]byte("secret"), []byte(`{"a":1}`), uint8(1), false, "sha256=")
	f.Add([]byte{0}, []byte{}, uint8(0), true, "")
	f.Add([]byte("k"), []byte("<xml/>"), uint8(2), true, "HMAC ")
	algorithms := []string{"sha1", "sha256", "sha512"}
	f.Fuzz(func(t *testing.T, secret, body []byte, alg uint8, b64 bool, prefix string) {
		if len(secret) == 0 || len(prefix) > 16 {
			return
		}
		for _, c := range []byte(prefix) {
			if c < 0x21 || c > 0x7e { // header values lose surrounding space; keep the prefix printable
				return
			}
		}
		cfg := providers.Config{Auth: "hmac", Algorithm: algorithms[int(alg)%len(algorithms)], Prefix: prefix, Header: "X-Sig"}
		if b64 {
			cfg.Encoding = "base64"
		}
		sig, err := generic.Sign(cfg, secret, body)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Secrets = [][]byte{[]byte("other"), secret}
		p, err := generic.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		r := &providers.Request{Header: http.Header{"X-Sig": {sig}}, Body: body}
		if err := p.Verify(r); err != nil {
			t.Fatalf("verify(sign(body)) = %v", err)
		}
		r.Body = append(append([]byte(nil), body...), 0)
		if err := p.Verify(r); !errors.Is(err, providers.ErrUnauthorized) {
			t.Fatalf("verify of a changed body = %v, want ErrUnauthorized", err)
		}
	})
}

func FuzzGenericVerify(f *testing.F) {
	f.Add("tok", "Bearer tok", "abc", []byte("x"))
	f.Add("", "", "", []byte{})
	f.Add("a", "Bearer ", "sha256=ZZ", []byte("x"))
	token, _ := generic.New(providers.Config{Secrets: [][]byte{[]byte("tok")}})
	hm, _ := generic.New(providers.Config{Auth: "hmac", Prefix: "sha256=", Encoding: "base64", Secrets: [][]byte{[]byte("tok")}})
	sw, _ := generic.New(providers.Config{Auth: "standard-webhooks", Secrets: [][]byte{[]byte("whsec_dG9rdG9r")}})
	f.Fuzz(func(t *testing.T, query, auth, sig string, body []byte) {
		r := &providers.Request{
			Query:  url.Values{"token": {query}},
			Header: http.Header{"Authorization": {auth}, "X-Signature": {sig}, "Webhook-Signature": {sig}, "Webhook-Id": {query}, "Webhook-Timestamp": {auth}},
			Body:   body,
		}
		for _, p := range []*generic.Provider{token, hm, sw} {
			if err := p.Verify(r); err != nil && !errors.Is(err, providers.ErrUnauthorized) {
				t.Fatalf("error %v does not wrap ErrUnauthorized", err)
			}
		}
		if token.Verify(r) == nil && query != "tok" {
			t.Fatalf("token provider accepted ?token=%q", query)
		}
	})
}
