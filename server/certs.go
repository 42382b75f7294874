package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/hooktrigger/hooktrigger/config"
)

// certCache holds the TLS certificate of the listener and reloads it when
// the cert or key file changes (mtime or size) or the config names other
// files. A change that does not load (a half-written pair) is logged once
// and the previous certificate keeps serving.
type certCache struct {
	mu     sync.Mutex
	cert   *tls.Certificate
	stamp  string // files and their mtimes/sizes the cert was loaded from
	failed string // stamp of the last failed load, logged once
}

func fileStamp(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return path + ":missing"
	}
	return fmt.Sprintf("%s:%d:%d", path, fi.ModTime().UnixNano(), fi.Size())
}

// tlsConfig is the listener's TLS config: TLS 1.2 or later, HTTP/2 and
// HTTP/1.1, the certificate read per handshake through the cache.
func (s *Server) tlsConfig(cfg *config.Config) (*tls.Config, error) {
	if _, err := s.certificate(cfg); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		NextProtos: []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.certificate(s.cfg.Load())
		},
	}, nil
}

// certificate returns the cached certificate, reloading it first when its
// files changed.
func (s *Server) certificate(cfg *config.Config) (*tls.Certificate, error) {
	c := &s.ops.certs
	stamp := fileStamp(cfg.TLSCert) + "|" + fileStamp(cfg.TLSKey)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && (stamp == c.stamp || stamp == c.failed) {
		return c.cert, nil
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	if err != nil {
		err = fmt.Errorf("server: tls: %w", err)
		if c.cert == nil {
			return nil, err
		}
		c.failed = stamp
		s.log.Error("tls certificate reload failed; the previous certificate keeps serving", "err", err)
		return c.cert, nil
	}
	if c.cert != nil {
		s.log.Info("tls certificate reloaded", "cert", cfg.TLSCert, "not_after", notAfter(&cert))
	}
	c.cert, c.stamp, c.failed = &cert, stamp, ""
	return c.cert, nil
}

func notAfter(c *tls.Certificate) time.Time {
	if c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	return time.Time{}
}
