package generic_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/generic"
)

func mustNew(tb testing.TB, cfg providers.Config) *generic.Provider {
	tb.Helper()
	p, err := generic.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func macOf(h func() hash.Hash, secret, body []byte) []byte {
	m := hmac.New(h, secret)
	m.Write(body)
	return m.Sum(nil)
}

func TestProvider_Verify_Token(t *testing.T) {
	secrets := [][]byte{[]byte("old"), []byte("tok")}
	tests := []struct {
		name    string
		query   url.Values
		header  http.Header
		wantErr bool
	}{
		{name: "Query", query: url.Values{"token": {"tok"}}},
		{name: "Header", header: http.Header{"Token": {"tok"}}},
		{name: "Bearer", header: http.Header{"Authorization": {"Bearer tok"}}},
		{name: "GitlabToken", header: http.Header{"X-Gitlab-Token": {"tok"}}},
		{name: "RotatedSecret", query: url.Values{"token": {"old"}}},
		{name: "QueryWinsOverHeader", query: url.Values{"token": {"bad"}}, header: http.Header{"Token": {"tok"}}, wantErr: true},
		{name: "HeaderWinsOverBearer", header: http.Header{"Token": {"bad"}, "Authorization": {"Bearer tok"}}, wantErr: true},
		{name: "BearerWinsOverGitlab", header: http.Header{"Authorization": {"Bearer bad"}, "X-Gitlab-Token": {"tok"}}, wantErr: true},
		{name: "BasicIsNoToken", header: http.Header{"Authorization": {"Basic dG9rOg=="}, "X-Gitlab-Token": {"tok"}}},
		{name: "BearerPrefixCaseSensitive", header: http.Header{"Authorization": {"bearer tok"}}, wantErr: true},
		{name: "WrongToken", query: url.Values{"token": {"tok2"}}, wantErr: true},
		{name: "PrefixOfToken", query: url.Values{"token": {"to"}}, wantErr: true},
		{name: "Missing", wantErr: true},
	}
	p := mustNew(t, providers.Config{Secrets: secrets})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.header
			if h == nil {
				h = http.Header{}
			}
			err := p.Verify(&providers.Request{Header: h, Query: tt.query, Body: []byte("{}")})
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

func TestProvider_Verify_HMAC(t *testing.T) {
	secret := []byte("hmac secret")
	body := []byte(`{"build":true}`)
	s256 := macOf(sha256.New, secret, body)
	tests := []struct {
		name    string
		cfg     providers.Config
		header  http.Header
		wantErr bool
	}{
		{name: "DefaultsHex", cfg: providers.Config{Auth: "hmac"},
			header: http.Header{"X-Signature": {hex.EncodeToString(s256)}}},
		{name: "UpperHex", cfg: providers.Config{Auth: "hmac"},
			header: http.Header{"X-Signature": {strings.ToUpper(hex.EncodeToString(s256))}}},
		{name: "Prefix", cfg: providers.Config{Auth: "hmac", Prefix: "sha256="},
			header: http.Header{"X-Signature": {"sha256=" + hex.EncodeToString(s256)}}},
		{name: "PrefixMissing", cfg: providers.Config{Auth: "hmac", Prefix: "sha256="},
			header: http.Header{"X-Signature": {hex.EncodeToString(s256)}}, wantErr: true},
		{name: "WrongPrefix", cfg: providers.Config{Auth: "hmac", Prefix: "sha256="},
			header: http.Header{"X-Signature": {"sha1=" + hex.EncodeToString(s256)}}, wantErr: true},
		{name: "SHA1", cfg: providers.Config{Auth: "hmac", Algorithm: "sha1", Header: "X-Hub-Signature", Prefix: "sha1="},
			header: http.Header{"X-Hub-Signature": {"sha1=" + hex.EncodeToString(macOf(sha1.New, secret, body))}}},
		{name: "SHA512Base64", cfg: providers.Config{Auth: "hmac", Algorithm: "sha512", Encoding: "base64", Header: "x-custom-sig"},
			header: http.Header{"X-Custom-Sig": {base64.StdEncoding.EncodeToString(macOf(sha512.New, secret, body))}}},
		{name: "Base64URLUnpadded", cfg: providers.Config{Auth: "hmac", Encoding: "base64"},
			header: http.Header{"X-Signature": {base64.RawURLEncoding.EncodeToString(s256)}}},
		{name: "HexWhenBase64Configured", cfg: providers.Config{Auth: "hmac", Encoding: "base64"},
			header: http.Header{"X-Signature": {hex.EncodeToString(s256)}}, wantErr: true},
		{name: "WrongAlgorithm", cfg: providers.Config{Auth: "hmac", Algorithm: "sha512"},
			header: http.Header{"X-Signature": {hex.EncodeToString(s256)}}, wantErr: true},
		{name: "Truncated", cfg: providers.Config{Auth: "hmac"},
			header: http.Header{"X-Signature": {hex.EncodeToString(s256)[:62]}}, wantErr: true},
		{name: "NonHex", cfg: providers.Config{Auth: "hmac"},
			header: http.Header{"X-Signature": {strings.Repeat("g", 64)}}, wantErr: true},
		{name: "Missing", cfg: providers.Config{Auth: "hmac"}, header: http.Header{}, wantErr: true},
		{name: "WrongSecret", cfg: providers.Config{Auth: "hmac"},
			header: http.Header{"X-Signature": {hex.EncodeToString(macOf(sha256.New, []byte("x"), body))}}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Secrets == nil {
				cfg.Secrets = [][]byte{secret}
			}
			err := mustNew(t, cfg).Verify(&providers.Request{Header: tt.header, Body: body})
			if tt.wantErr {
				if !errors.Is(err, providers.ErrUnauthorized) {
					t.Fatalf("Verify = %v, want ErrUnauthorized", err)
				}
				for _, f := range []string{string(secret), hex.EncodeToString(s256), base64.StdEncoding.EncodeToString(s256)} {
					if strings.Contains(err.Error(), f) {
						t.Fatalf("error %q reveals %q", err, f)
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

func TestProvider_Verify_StandardWebhooks(t *testing.T) {
	key := []byte("standard webhooks key 32 bytes!!")
	secret := []byte("whsec_" + base64.StdEncoding.EncodeToString(key))
	body := []byte("any body, not even JSON")
	now := time.Unix(1_760_000_000, 0)
	p := mustNew(t, providers.Config{Auth: "standard-webhooks", Secrets: [][]byte{secret}, Tolerance: time.Minute})
	h := http.Header{
		"Webhook-Id":        {"msg_9"},
		"Webhook-Timestamp": {strconv.FormatInt(now.Unix(), 10)},
		"Webhook-Signature": {providers.SignStandardWebhook(key, "msg_9", now, body)},
	}
	if err := p.Verify(&providers.Request{Header: h, Body: body, Now: now}); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if err := p.Verify(&providers.Request{Header: h, Body: body, Now: now.Add(2 * time.Minute)}); !errors.Is(err, providers.ErrUnauthorized) {
		t.Fatalf("Verify beyond the 1m tolerance = %v, want ErrUnauthorized", err)
	}
	info, err := p.Inspect(&providers.Request{Header: h, Body: body})
	if err != nil || info.DeliveryID != "msg_9" {
		t.Fatalf("Inspect = %+v, %v; want delivery msg_9", info, err)
	}
}

func TestProvider_Inspect(t *testing.T) {
	tests := []struct {
		name   string
		cfg    providers.Config
		header http.Header
		want   providers.Info
	}{
		{name: "Defaults", cfg: providers.Config{AllowUnsigned: true},
			header: http.Header{"Idempotency-Key": {"k1"}, "X-Request-Id": {"r1"}}, want: providers.Info{DeliveryID: "k1"}},
		{name: "Configured", cfg: providers.Config{AllowUnsigned: true, DeliveryHeader: "x-request-id", EventHeader: "X-Event"},
			header: http.Header{"X-Request-Id": {"r1"}, "X-Event": {"deploy"}}, want: providers.Info{Event: "deploy", DeliveryID: "r1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mustNew(t, tt.cfg).Inspect(&providers.Request{Header: tt.header, Body: []byte("<xml/>")})
			if err != nil {
				t.Fatal(err)
			}
			if *got != tt.want {
				t.Fatalf("Inspect = %+v, want %+v", *got, tt.want)
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
		{name: "UnknownAuth", cfg: providers.Config{Auth: "basic", Secrets: [][]byte{[]byte("x")}}},
		{name: "UnknownAlgorithm", cfg: providers.Config{Auth: "hmac", Algorithm: "md5", Secrets: [][]byte{[]byte("x")}}},
		{name: "UnknownEncoding", cfg: providers.Config{Auth: "hmac", Encoding: "base32", Secrets: [][]byte{[]byte("x")}}},
		{name: "StandardWebhooksBadSecret", cfg: providers.Config{Auth: "standard-webhooks", Secrets: [][]byte{[]byte("whsec_***")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := generic.New(tt.cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
}
