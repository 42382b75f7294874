package config_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/trigger"
)

const providerKeys = `triggers:
  - name: hmac
    provider: generic
    secret: hmac-secret
    auth:
      type: hmac
      header: X-Sig
      algorithm: sha512
      encoding: base64
      prefix: "sig="
    delivery_header: X-Delivery
    event_header: X-Event
    run: {command: [/bin/true]}
  - name: sw
    provider: generic
    secret: whsec_` + "c3RhbmRhcmQtd2ViaG9va3Mta2V5" + `
    auth: {type: standard-webhooks, tolerance: 1m}
    run: {command: [/bin/true]}
  - name: gl
    provider: gitlab
    secret: whsec_` + "c3RhbmRhcmQtd2ViaG9va3Mta2V5" + `
    auth: {tolerance: 10m}
    run: {command: [/bin/true]}
  - name: gh
    provider: github
    secret: gh-secret
    allow_sha1: true
    allow_ips: [10.0.0.0/8]
    run: {command: [/bin/true]}
trusted_proxies: [127.0.0.1/32]
`

func mac(h func() hash.Hash, key string, msg []byte) []byte {
	m := hmac.New(h, []byte(key))
	m.Write(msg)
	return m.Sum(nil)
}

func swHeader(key []byte, id string, ts time.Time, body []byte) http.Header {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.%s", id, ts.Unix(), body)
	return http.Header{
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"Webhook-Signature": {"v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))},
	}
}

func mustTrigger(tb testing.TB, c *config.Config, name string) *trigger.Trigger {
	tb.Helper()
	t, ok := c.Triggers.ByName(name)
	if !ok {
		tb.Fatalf("no trigger %q", name)
	}
	return t
}

// TestLoad_ProviderKeys proves that the provider keys of a trigger reach
// its provider: each request below verifies only if the key was applied.
func TestLoad_ProviderKeys(t *testing.T) {
	c, err := config.LoadBytes("providers.yaml", []byte(providerKeys))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"a":1}`)
	now := time.Now()
	swKey := []byte("standard-webhooks-key")

	for _, tc := range []struct {
		name    string
		trigger string
		header  http.Header
		ok      bool
	}{
		{name: "HMAC/HeaderAlgorithmEncodingPrefix", trigger: "hmac", ok: true,
			header: http.Header{"X-Sig": {"sig=" + base64.StdEncoding.EncodeToString(mac(sha512.New, "hmac-secret", body))}}},
		{name: "HMAC/OtherAlgorithm", trigger: "hmac",
			header: http.Header{"X-Sig": {"sig=" + base64.StdEncoding.EncodeToString(mac(sha256.New, "hmac-secret", body))}}},
		{name: "HMAC/NoPrefix", trigger: "hmac",
			header: http.Header{"X-Sig": {base64.StdEncoding.EncodeToString(mac(sha512.New, "hmac-secret", body))}}},
		{name: "HMAC/DefaultHeader", trigger: "hmac",
			header: http.Header{"X-Signature": {"sig=" + base64.StdEncoding.EncodeToString(mac(sha512.New, "hmac-secret", body))}}},
		{name: "StandardWebhooks/WithinTolerance", trigger: "sw", ok: true, header: swHeader(swKey, "msg_1", now.Add(-30*time.Second), body)},
		{name: "StandardWebhooks/BeyondTolerance", trigger: "sw", header: swHeader(swKey, "msg_1", now.Add(-90*time.Second), body)},
		{name: "GitLab/ToleranceRaised", trigger: "gl", ok: true, header: swHeader(swKey, "msg_1", now.Add(-8*time.Minute), body)},
		{name: "GitLab/BeyondRaisedTolerance", trigger: "gl", header: swHeader(swKey, "msg_1", now.Add(-11*time.Minute), body)},
		{name: "GitHub/AllowSHA1", trigger: "gh", ok: true,
			header: http.Header{"X-Hub-Signature": {fmt.Sprintf("sha1=%x", mac(sha1.New, "gh-secret", body))}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := mustTrigger(t, c, tc.trigger)
			err := tr.Provider.Verify(&providers.Request{Header: tc.header, Body: body, Now: now})
			if tc.ok && err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, providers.ErrUnauthorized) {
				t.Fatalf("Verify = %v, want ErrUnauthorized", err)
			}
		})
	}

	t.Run("Generic/DeliveryAndEventHeaders", func(t *testing.T) {
		info, err := mustTrigger(t, c, "hmac").Provider.Inspect(&providers.Request{
			Header: http.Header{"X-Delivery": {"d-1"}, "X-Event": {"deploy"}, "Idempotency-Key": {"other"}}, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		if info.DeliveryID != "d-1" || info.Event != "deploy" {
			t.Fatalf("Inspect = delivery %q event %q, want d-1 deploy", info.DeliveryID, info.Event)
		}
	})

	t.Run("AllowIPs/TrustedProxies", func(t *testing.T) {
		al := mustTrigger(t, c, "gh").AllowList
		if al == nil {
			t.Fatal("allow_ips did not make an allow list")
		}
		for _, tc := range []struct {
			name string
			xff  string
			ok   bool
		}{
			{name: "Loopback", ok: false},
			{name: "ForwardedAllowed", xff: "10.1.2.3", ok: true},
			{name: "ForwardedOther", xff: "192.0.2.1", ok: false},
		} {
			ip := al.ClientIP("127.0.0.1:40000", http.Header{"X-Forwarded-For": {tc.xff}})
			if got := al.Allowed(ip); got != tc.ok {
				t.Errorf("%s: client %q allowed = %v, want %v", tc.name, ip, got, tc.ok)
			}
		}
	})
}

func TestLoad_ProviderKeyErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want string
	}{
		{name: "AuthOnGitHub", yaml: "    provider: github\n    auth: {type: hmac}\n", want: "triggers[0].auth: applies to provider generic only"},
		{name: "AuthTypeOnGitLab", yaml: "    provider: gitlab\n    auth: {type: hmac, tolerance: 1m}\n", want: "triggers[0].auth: applies to provider generic only"},
		{name: "DeliveryHeaderOnGitHub", yaml: "    provider: github\n    delivery_header: X-Id\n", want: "triggers[0].delivery_header: applies to provider generic only"},
		{name: "EventHeaderOnGitLab", yaml: "    provider: gitlab\n    event_header: X-E\n", want: "triggers[0].event_header: applies to provider generic only"},
		{name: "AllowSHA1OnGeneric", yaml: "    allow_sha1: true\n", want: "triggers[0].allow_sha1: applies to provider github only"},
		{name: "UnknownAuthType", yaml: "    auth: {type: basic}\n", want: "triggers[0].auth.type: must be token, hmac or standard-webhooks"},
		{name: "UnknownAlgorithm", yaml: "    auth: {type: hmac, algorithm: md5}\n", want: "triggers[0].auth.algorithm:"},
		{name: "UnknownEncoding", yaml: "    auth: {type: hmac, encoding: base32}\n", want: "triggers[0].auth.encoding:"},
		{name: "BadAllowIP", yaml: "    allow_ips: [10.0.0.0/33]\n", want: "triggers[0].allow_ips:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := "triggers:\n  - name: a\n    secret: s\n" + tc.yaml + "    run: {command: [/bin/true]}\n"
			_, err := config.LoadBytes("bad.yaml", []byte(y))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("BadTrustedProxy", func(t *testing.T) {
		_, err := config.LoadBytes("bad.yaml", []byte("trusted_proxies: [nope]\ntriggers:\n  - name: a\n    secret: s\n    run: {command: [/bin/true]}\n"))
		if err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
			t.Fatalf("error %v, want one naming trusted_proxies", err)
		}
	})
}

// TestSecretFile_NotAStream: a secret file must be a small regular file; a
// FIFO, a device or a huge file is refused at load instead of hanging it.
func TestSecretFile_NotAStream(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{name: "FIFO", path: fifo, want: "not a regular file"},
		{name: "Device", path: "/dev/zero", want: "not a regular file"},
		{name: "Huge", path: big, want: "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.LoadBytes(filepath.Join(dir, "h.yaml"), []byte("triggers:\n  - name: a\n    secret: file:"+tc.path+"\n    run: {command: [true]}\n"))
			if err == nil || !strings.Contains(err.Error(), "h.yaml:3: triggers[0].secret: cannot read secret file") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v", err)
			}
		})
	}
}
