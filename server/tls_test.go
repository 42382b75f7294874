package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial and returns it.
func writeCert(tb testing.TB, certPath, keyPath string, serial int64) *x509.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial),
		Subject:               pkix.Name{CommonName: "hooktrigger test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		tb.Fatal(err)
	}
	// Written beside and renamed into place, as certificate managers do.
	for _, f := range []struct {
		path, typ string
		der       []byte
	}{{keyPath, "EC PRIVATE KEY", kder}, {certPath, "CERTIFICATE", der}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), 0o600); err != nil {
			tb.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			tb.Fatal(err)
		}
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certPath, keyPath, 1)
	s := MustStart(t, `listen: 127.0.0.1:0
data_dir: ./data
tls: {cert: `+certPath+`, key: `+keyPath+`}
triggers:
  - name: app
    secret: tok
    run: {command: [/bin/sh, -c, 'exit 0']}
`)
	client := func(root *x509.Certificate, h2 bool) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(root)
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2, DisableKeepAlives: true}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	get := func(c *http.Client) (*http.Response, error) {
		resp, err := c.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for _, tc := range []struct {
		name  string
		h2    bool
		major int
	}{
		{name: "HTTP2", h2: true, major: 2},
		{name: "HTTP1", h2: false, major: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := get(client(first, tc.h2))
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 200 || resp.ProtoMajor != tc.major {
				t.Fatalf("status %d proto %s, want HTTP/%d", resp.StatusCode, resp.Proto, tc.major)
			}
		})
	}
	t.Run("WebhookOverHTTP2", func(t *testing.T) {
		req, _ := http.NewRequest("POST", s.URL+"/hooks/app", nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := client(first, true).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 202 || resp.ProtoMajor != 2 {
			t.Fatalf("%d over %s", resp.StatusCode, resp.Proto)
		}
	})
	var second *x509.Certificate
	t.Run("CertificateReloaded", func(t *testing.T) {
		second = writeCert(t, certPath, keyPath, 2)
		resp, err := get(client(second, true))
		if err != nil {
			t.Fatalf("new certificate not served: %v", err)
		}
		if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 2 {
			t.Fatalf("serial %d, want 2", got)
		}
		if _, err := get(client(first, true)); err == nil {
			t.Fatal("the old certificate is still served")
		}
	})
	t.Run("BrokenPairKeepsServing", func(t *testing.T) {
		if err := os.WriteFile(certPath, []byte("not a certificate"), 0o600); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			resp, err := get(client(second, true))
			if err != nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
				t.Fatalf("handshake %d after a broken write: %v", i, err)
			}
		}
		if n := strings.Count(s.Logs.String(), "tls certificate reload failed"); n != 1 {
			t.Fatalf("the failed reload is logged %d times, want once", n)
		}
	})
}
