package providers_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/providers"
)

func mustAllowList(tb testing.TB, allow, trusted []string) *providers.AllowList {
	tb.Helper()
	a, err := providers.ParseAllowList(allow, trusted)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

func TestParseAllowList(t *testing.T) {
	tests := []struct {
		name    string
		allow   []string
		trusted []string
		wantErr bool
	}{
		{name: "CIDRsAndIPs", allow: []string{"10.0.0.0/8", "192.0.2.7", " 2001:db8::/32 ", "::1"}, trusted: []string{"127.0.0.1"}},
		{name: "Empty"},
		{name: "BadIP", allow: []string{"10.0.0.256"}, wantErr: true},
		{name: "BadCIDR", allow: []string{"10.0.0.0/33"}, wantErr: true},
		{name: "Hostname", trusted: []string{"proxy.example.org"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := providers.ParseAllowList(tt.allow, tt.trusted)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseAllowList = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestAllowList_ClientIP(t *testing.T) {
	a := mustAllowList(t, nil, []string{"10.0.0.0/8", "fd00::/8"})
	tests := []struct {
		name   string
		list   *providers.AllowList
		remote string
		xff    []string
		want   string
	}{
		{name: "SocketAddress", list: a, remote: "203.0.113.9:4711", want: "203.0.113.9"},
		{name: "BareSocketAddress", list: a, remote: "203.0.113.9", want: "203.0.113.9"},
		{name: "IPv6Socket", list: a, remote: "[2001:db8::1]:443", want: "2001:db8::1"},
		{name: "MappedIPv4", list: a, remote: "[::ffff:203.0.113.9]:1", want: "203.0.113.9"},
		{name: "UntrustedPeerXFFIgnored", list: a, remote: "203.0.113.9:1", xff: []string{"198.51.100.1"}, want: "203.0.113.9"},
		{name: "TrustedPeerXFF", list: a, remote: "10.1.1.1:1", xff: []string{"198.51.100.1"}, want: "198.51.100.1"},
		{name: "RightMostUntrusted", list: a, remote: "10.1.1.1:1", xff: []string{"1.1.1.1, 198.51.100.1, 10.2.2.2"}, want: "198.51.100.1"},
		{name: "SeveralHeaders", list: a, remote: "10.1.1.1:1", xff: []string{"1.1.1.1", "198.51.100.1, 10.2.2.2"}, want: "198.51.100.1"},
		{name: "AllTrusted", list: a, remote: "10.1.1.1:1", xff: []string{"10.3.3.3, 10.2.2.2"}, want: "10.3.3.3"},
		{name: "TrustedPeerNoXFF", list: a, remote: "10.1.1.1:1", want: "10.1.1.1"},
		{name: "GarbageHop", list: a, remote: "10.1.1.1:1", xff: []string{"1.1.1.1, nonsense"}, want: ""},
		{name: "IPv6Proxy", list: a, remote: "[fd00::5]:1", xff: []string{"2001:db8::9"}, want: "2001:db8::9"},
		{name: "NilListIgnoresXFF", list: nil, remote: "10.1.1.1:1", xff: []string{"198.51.100.1"}, want: "10.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.xff {
				h.Add("X-Forwarded-For", v)
			}
			if got := tt.list.ClientIP(tt.remote, h); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllowList_Allowed(t *testing.T) {
	a := mustAllowList(t, []string{"192.0.2.0/24", "198.51.100.7", "2001:db8::/32"}, nil)
	tests := []struct {
		name string
		list *providers.AllowList
		ip   string
		want bool
	}{
		{name: "InCIDR", list: a, ip: "192.0.2.200", want: true},
		{name: "BareIP", list: a, ip: "198.51.100.7", want: true},
		{name: "NextToBareIP", list: a, ip: "198.51.100.8", want: false},
		{name: "IPv6", list: a, ip: "2001:db8:1::1", want: true},
		{name: "Outside", list: a, ip: "203.0.113.1", want: false},
		{name: "Empty", list: a, ip: "", want: false},
		{name: "Garbage", list: a, ip: "not-an-ip", want: false},
		{name: "NilAllowsAll", list: nil, ip: "203.0.113.1", want: true},
		{name: "EmptyListAllowsAll", list: mustAllowList(t, nil, nil), ip: "203.0.113.1", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.list.Allowed(tt.ip); got != tt.want {
				t.Fatalf("Allowed(%q) = %v, want %v", tt.ip, got, tt.want)
			}
		})
	}
}

func TestTokenMatches(t *testing.T) {
	secrets := [][]byte{[]byte("alpha"), []byte("beta")}
	tests := []struct {
		name  string
		token string
		want  bool
	}{
		{name: "First", token: "alpha", want: true},
		{name: "Second", token: "beta", want: true},
		{name: "Prefix", token: "alph", want: false},
		{name: "Longer", token: "alphaa", want: false},
		{name: "Empty", token: "", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := providers.TokenMatches(tt.token, secrets); got != tt.want {
				t.Fatalf("TokenMatches(%q) = %v", tt.token, got)
			}
		})
	}
}

func swHeader(id string, ts time.Time, sig string) http.Header {
	return http.Header{
		"Webhook-Id":        {id},
		"Webhook-Timestamp": {strconv.FormatInt(ts.Unix(), 10)},
		"Webhook-Signature": {sig},
	}
}

func TestVerifyStandardWebhook(t *testing.T) {
	key := []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	other := []byte("another key, another key, anoth!")
	body := []byte(`{"test": 2432232314}`)
	now := time.Unix(1_614_265_330, 0)
	good := providers.SignStandardWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", now, body)
	tests := []struct {
		name      string
		keys      [][]byte
		header    http.Header
		now       time.Time
		tolerance time.Duration
		wantErr   bool
	}{
		{name: "Valid", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now},
		{name: "RotatedKeys", keys: [][]byte{other, key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now},
		{name: "WrongKey", keys: [][]byte{other}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now, wantErr: true},
		{name: "OtherID", keys: [][]byte{key}, header: swHeader("msg_other", now, good), now: now, wantErr: true},
		{name: "Stale", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now.Add(5*time.Minute + time.Second), wantErr: true},
		{name: "Future", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now.Add(-5*time.Minute - time.Second), wantErr: true},
		{name: "EdgeOfTolerance", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now.Add(5 * time.Minute)},
		{name: "CustomTolerance", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, good), now: now.Add(time.Hour), tolerance: 2 * time.Hour},
		{name: "V1aIgnored", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, "v1a,"+strings.TrimPrefix(good, "v1,")), now: now, wantErr: true},
		{name: "V1aBesideV1", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, "v1a,AAAA "+good), now: now},
		{name: "BadBase64", keys: [][]byte{key}, header: swHeader("msg_p5jXN8AQM9LWM0D4loKWxJek", now, "v1,!!!"), now: now, wantErr: true},
		{name: "MissingHeaders", keys: [][]byte{key}, header: http.Header{}, now: now, wantErr: true},
		{name: "NonNumericTimestamp", keys: [][]byte{key}, now: now, wantErr: true,
			header: http.Header{"Webhook-Id": {"a"}, "Webhook-Timestamp": {"yesterday"}, "Webhook-Signature": {good}}},
		{name: "HugeTimestamp", keys: [][]byte{key}, now: now, wantErr: true,
			header: http.Header{"Webhook-Id": {"a"}, "Webhook-Timestamp": {"-9223372036854775808"}, "Webhook-Signature": {good}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range []struct {
				name   string
				verify func() error
			}{
				{name: "Func", verify: func() error {
					return providers.VerifyStandardWebhook(tt.keys, tt.header, body, tt.now, tt.tolerance)
				}},
				{name: "Verifier", verify: func() error {
					return providers.NewStandardVerifier(tt.keys, tt.tolerance).Verify(tt.header, body, tt.now)
				}},
			} {
				err := v.verify()
				if tt.wantErr {
					if !errors.Is(err, providers.ErrUnauthorized) {
						t.Fatalf("%s: Verify = %v, want ErrUnauthorized", v.name, err)
					}
					mustNotReveal(t, err, key, []byte("msg_p5jXN8AQM9LWM0D4loKWxJek."+strconv.FormatInt(now.Unix(), 10)+"."+string(body)))
					continue
				}
				if err != nil {
					t.Fatalf("%s: Verify = %v, want nil", v.name, err)
				}
			}
		})
	}
}

// mustNotReveal fails when err's text holds key or the MAC of content under
// key, in hex or base64.
func mustNotReveal(tb testing.TB, err error, key, content []byte) {
	tb.Helper()
	m := hmac.New(sha256.New, key)
	m.Write(content)
	sum := m.Sum(nil)
	for _, f := range []string{string(key), hex.EncodeToString(sum), base64.StdEncoding.EncodeToString(sum), base64.StdEncoding.EncodeToString(key)} {
		if strings.Contains(err.Error(), f) {
			tb.Fatalf("error %q reveals %q", err, f)
		}
	}
}

func TestDecodeStandardSecret(t *testing.T) {
	key := []byte{0, 1, 2, 250, 251}
	tests := []struct {
		name    string
		secret  string
		want    []byte
		wantErr bool
	}{
		{name: "Prefixed", secret: "whsec_" + base64.StdEncoding.EncodeToString(key), want: key},
		{name: "Bare", secret: base64.StdEncoding.EncodeToString(key), want: key},
		{name: "Unpadded", secret: "whsec_" + base64.RawStdEncoding.EncodeToString(key), want: key},
		{name: "NotBase64", secret: "whsec_not base64!", wantErr: true},
		{name: "Empty", secret: "whsec_", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := providers.DecodeStandardSecret(tt.secret)
			if tt.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				if b64 := strings.TrimPrefix(tt.secret, "whsec_"); b64 != "" && strings.Contains(err.Error(), b64) {
					t.Fatalf("error %q reveals the secret", err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("DecodeStandardSecret = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

// TestSignStandardWebhook checks the signature against the example of the
// Standard Webhooks reference libraries.
func TestSignStandardWebhook(t *testing.T) {
	key, err := providers.DecodeStandardSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := providers.SignStandardWebhook(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	const want = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	if got != want {
		t.Fatalf("SignStandardWebhook = %s, want %s", got, want)
	}
}

func FuzzStandardWebhooksRoundTrip(f *testing.F) {
	f.Add([]byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "msg_p5jXN8AQM9LWM0D4loKWxJek", int64(1614265330), []byte(`{"test": 2432232314}`))
	f.Add([]byte{0}, "", int64(0), []byte{})
	f.Add([]byte("k"), "id with spaces and . dots", int64(-1), []byte("\x00\xff"))
	f.Fuzz(func(t *testing.T, key []byte, id string, unix int64, body []byte) {
		if id == "" || strings.ContainsAny(id, "\r\n\x00") || strings.TrimSpace(id) != id {
			return // not a header value net/http would deliver unchanged
		}
		ts := time.Unix(unix, 0)
		sig := providers.SignStandardWebhook(key, id, ts, body)
		h := swHeader(id, ts, sig)
		if err := providers.VerifyStandardWebhook([][]byte{key}, h, body, ts, 0); err != nil {
			t.Fatalf("verify(sign(body)) = %v", err)
		}
		if err := providers.NewStandardVerifier([][]byte{[]byte("x"), key}, 0).Verify(h, body, ts.Add(time.Minute)); err != nil {
			t.Fatalf("rotated verify(sign(body)) = %v", err)
		}
		tampered := append(append([]byte(nil), body...), '!')
		if err := providers.VerifyStandardWebhook([][]byte{key}, h, tampered, ts, 0); !errors.Is(err, providers.ErrUnauthorized) {
			t.Fatalf("verify of a changed body = %v, want ErrUnauthorized", err)
		}
	})
}

func FuzzVerifyStandardWebhook(f *testing.F) {
	f.Add("msg_1", "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", []byte(`{"test": 2432232314}`))
	f.Add("", "", "", []byte{})
	f.Add("a", "-9223372036854775808", "v1, v1,, ,v1 v2,xx", []byte("x"))
	key := []byte("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		h := http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {ts}, "Webhook-Signature": {sig}}
		err := providers.VerifyStandardWebhook([][]byte{key}, h, body, time.Unix(1614265330, 0), 0)
		if err != nil && !errors.Is(err, providers.ErrUnauthorized) {
			t.Fatalf("error %v does not wrap ErrUnauthorized", err)
		}
	})
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.1.1.1:80", "1.1.1.1, 10.2.2.2")
	f.Add("[fd00::1]:1", "garbage,,, ,2001:db8::1")
	f.Add("", "")
	a, err := providers.ParseAllowList([]string{"192.0.2.0/24"}, []string{"10.0.0.0/8", "fd00::/8"})
	if err != nil {
		f.Fatal(err)
	}
	noProxies, err := providers.ParseAllowList(nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		h := http.Header{"X-Forwarded-For": {xff}}
		a.Allowed(a.ClientIP(remote, h))
		// Without trusted proxies the headers never change the answer.
		if got, want := noProxies.ClientIP(remote, h), noProxies.ClientIP(remote, nil); got != want {
			t.Fatalf("X-Forwarded-For changed the client without a trusted proxy: %q vs %q", got, want)
		}
	})
}
