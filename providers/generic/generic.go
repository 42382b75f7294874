package generic

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/mac"
)

// Auth schemes for Config.Auth.
const (
	AuthToken            = "token"
	AuthHMAC             = "hmac"
	AuthStandardWebhooks = "standard-webhooks"
)

// Defaults for the Config fields left empty.
const (
	DefaultHeader         = "X-Signature"
	DefaultDeliveryHeader = "Idempotency-Key"
)

// Provider verifies deliveries of any sender for one trigger. Safe for
// concurrent use.
type Provider struct {
	auth     string
	unsigned bool

	tokens [][]byte // token

	keys     []*mac.Key // hmac
	header   string
	prefix   string
	encoding string

	standard *providers.StandardVerifier // standard-webhooks

	deliveryHeader string
	eventHeader    string
}

var _ providers.Provider = (*Provider)(nil)

// New returns a generic provider for cfg, checking Auth, Algorithm and
// Encoding and, for standard-webhooks, that every secret is whsec_<base64>.
// With no Secrets, cfg.AllowUnsigned must be set and every delivery is
// accepted unchecked.
func New(cfg providers.Config) (*Provider, error) {
	p := &Provider{
		auth:           strings.ToLower(cfg.Auth),
		header:         http.CanonicalHeaderKey(cfg.Header),
		prefix:         cfg.Prefix,
		encoding:       strings.ToLower(cfg.Encoding),
		deliveryHeader: http.CanonicalHeaderKey(cfg.DeliveryHeader),
		eventHeader:    http.CanonicalHeaderKey(cfg.EventHeader),
	}
	if p.auth == "" {
		p.auth = AuthToken
	}
	if p.header == "" {
		p.header = DefaultHeader
	}
	if p.encoding == "" {
		p.encoding = "hex"
	}
	if p.deliveryHeader == "" {
		p.deliveryHeader = DefaultDeliveryHeader
		if p.auth == AuthStandardWebhooks {
			p.deliveryHeader = providers.HeaderWebhookID
		}
	}
	switch p.auth {
	case AuthToken, AuthHMAC, AuthStandardWebhooks:
	default:
		return nil, fmt.Errorf("generic: auth %q: want token, hmac or standard-webhooks", cfg.Auth)
	}
	if p.auth == AuthHMAC {
		if _, err := mac.HashFunc(cfg.Algorithm); err != nil {
			return nil, fmt.Errorf("generic: algorithm %q: %v", cfg.Algorithm, err)
		}
		if p.encoding != "hex" && p.encoding != "base64" {
			return nil, fmt.Errorf("generic: encoding %q: want hex or base64", cfg.Encoding)
		}
	}
	if len(cfg.Secrets) == 0 {
		if !cfg.AllowUnsigned {
			return nil, fmt.Errorf("generic: %w", providers.ErrNoSecret)
		}
		p.unsigned = true
		return p, nil
	}
	var swKeys [][]byte
	for i, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("generic: secret %d is empty", i)
		}
		switch p.auth {
		case AuthToken:
			p.tokens = append(p.tokens, append([]byte(nil), s...))
		case AuthHMAC:
			p.keys = append(p.keys, mac.MustNew(cfg.Algorithm, s))
		case AuthStandardWebhooks:
			key, err := providers.DecodeStandardSecret(string(s))
			if err != nil {
				return nil, fmt.Errorf("generic: secret %d: %w", i, err)
			}
			swKeys = append(swKeys, key)
		}
	}
	if p.auth == AuthStandardWebhooks {
		p.standard = providers.NewStandardVerifier(swKeys, cfg.Tolerance)
	}
	return p, nil
}

// Name returns "generic".
func (p *Provider) Name() string { return "generic" }

func unauthorized(msg string) error {
	return fmt.Errorf("%w: generic: %s", providers.ErrUnauthorized, msg)
}

var (
	errNoToken       = unauthorized("no token in ?token=, token, Authorization: Bearer or X-Gitlab-Token")
	errTokenMismatch = unauthorized("token does not match")
	errNoSignature   = unauthorized("missing signature header")
	errPrefix        = unauthorized("signature lacks the configured prefix")
	errEncoding      = unauthorized("signature is not in the configured encoding or has the wrong length")
	errMismatch      = unauthorized("signature does not match")
)

// Verify checks the request with the configured scheme. Errors wrap
// providers.ErrUnauthorized and never contain a secret, the expected MAC or
// the token or signature sent.
func (p *Provider) Verify(r *providers.Request) error {
	if p.unsigned {
		return nil
	}
	switch p.auth {
	case AuthHMAC:
		return p.verifyHMAC(r)
	case AuthStandardWebhooks:
		if err := p.standard.Verify(r.Header, r.Body, r.Time()); err != nil {
			return fmt.Errorf("generic: %w", err)
		}
		return nil
	}
	token, ok := Token(r)
	if !ok {
		return errNoToken
	}
	if !providers.TokenMatches(token, p.tokens) {
		return errTokenMismatch
	}
	return nil
}

// Token returns the token a request carries, looked up in Jenkins' Generic
// Webhook Trigger order: query parameter token, header token, header
// Authorization "Bearer <token>" (case-sensitive prefix), header
// X-Gitlab-Token. The first present wins, even when empty.
func Token(r *providers.Request) (string, bool) {
	if vals, ok := r.Query["token"]; ok && len(vals) > 0 {
		return vals[0], true
	}
	if vals, ok := r.Header["Token"]; ok && len(vals) > 0 {
		return vals[0], true
	}
	for _, v := range r.Header["Authorization"] {
		if t, ok := strings.CutPrefix(v, "Bearer "); ok {
			return t, true
		}
	}
	if vals, ok := r.Header["X-Gitlab-Token"]; ok && len(vals) > 0 {
		return vals[0], true
	}
	return "", false
}

func (p *Provider) verifyHMAC(r *providers.Request) error {
	sig := strings.TrimSpace(r.Header.Get(p.header))
	if sig == "" {
		return errNoSignature
	}
	if p.prefix != "" {
		if len(sig) < len(p.prefix) || !strings.EqualFold(sig[:len(p.prefix)], p.prefix) {
			return errPrefix
		}
		sig = sig[len(p.prefix):]
	}
	size := p.keys[0].Size()
	var got [64]byte
	if !decode(got[:size], sig, p.encoding) {
		return errEncoding
	}
	match := false
	for _, k := range p.keys {
		if k.Equal(got[:size], r.Body) {
			match = true
		}
	}
	if !match {
		return errMismatch
	}
	return nil
}

var base64Encodings = []*base64.Encoding{
	base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
}

// decode fills dst exactly from s in the encoding, reporting success.
func decode(dst []byte, s, encoding string) bool {
	var src [2 * 64]byte
	if len(s) > len(src) {
		return false
	}
	in := src[:copy(src[:], s)]
	if encoding == "hex" {
		if len(in) != 2*len(dst) {
			return false
		}
		_, err := hex.Decode(dst, in)
		return err == nil
	}
	var buf [64 + 3]byte
	for _, enc := range base64Encodings {
		if enc.DecodedLen(len(in)) > len(buf) {
			continue
		}
		if n, err := enc.Decode(buf[:], in); err == nil && n == len(dst) {
			copy(dst, buf[:n])
			return true
		}
	}
	return false
}

// EventHeader returns the configured event header, which carries the event
// as is; ok is false when none is configured.
func (p *Provider) EventHeader(event string) (name, value string, ok bool) {
	return p.eventHeader, event, p.eventHeader != ""
}

// Inspect returns the event named by the configured event header and the
// delivery id from the delivery header. It does not read the body and never
// fails.
func (p *Provider) Inspect(r *providers.Request) (*providers.Info, error) {
	info := &providers.Info{DeliveryID: r.Header.Get(p.deliveryHeader)}
	if p.eventHeader != "" {
		info.Event = r.Header.Get(p.eventHeader)
	}
	return info, nil
}

// Sign returns the signature header value the configured hmac scheme expects
// for body, signed with secret: Prefix followed by the MAC in Encoding. It is
// meant for tests and the bench tool.
func Sign(cfg providers.Config, secret, body []byte) (string, error) {
	k, err := mac.New(cfg.Algorithm, secret)
	if err != nil {
		return "", fmt.Errorf("generic: algorithm %q: %v", cfg.Algorithm, err)
	}
	sum := k.Sum(nil, body)
	if strings.EqualFold(cfg.Encoding, "base64") {
		return cfg.Prefix + base64.StdEncoding.EncodeToString(sum), nil
	}
	return cfg.Prefix + hex.EncodeToString(sum), nil
}
