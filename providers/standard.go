package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hooktrigger/hooktrigger/providers/internal/mac"
)

// Standard Webhooks (https://www.standardwebhooks.com) header names, in
// canonical form.
const (
	HeaderWebhookID        = "Webhook-Id"
	HeaderWebhookTimestamp = "Webhook-Timestamp"
	HeaderWebhookSignature = "Webhook-Signature"
)

// standardSecretPrefix marks a Standard Webhooks secret.
const standardSecretPrefix = "whsec_"

// IsStandardSecret reports whether s is written as a Standard Webhooks secret,
// "whsec_<base64>".
func IsStandardSecret(s []byte) bool {
	return len(s) >= len(standardSecretPrefix) && string(s[:len(standardSecretPrefix)]) == standardSecretPrefix
}

// DecodeStandardSecret turns "whsec_<base64>" into the key bytes. Without the
// prefix the whole string must be base64. The error never contains s.
func DecodeStandardSecret(s string) ([]byte, error) {
	b64 := strings.TrimPrefix(s, standardSecretPrefix)
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		key, err = base64.RawStdEncoding.DecodeString(b64)
	}
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("providers: signing secret is not whsec_ followed by base64")
	}
	return key, nil
}

// SignStandardWebhook returns the Webhook-Signature value "v1,<base64>" for
// body sent with the given message id and timestamp, signed with the raw key
// (see DecodeStandardSecret).
func SignStandardWebhook(secret []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyStandardWebhook checks a Standard Webhooks v1 delivery: the
// Webhook-Id, Webhook-Timestamp and Webhook-Signature headers, a timestamp
// no further than tolerance from now in either direction (DefaultTolerance
// when tolerance is 0), and an HMAC-SHA256 over "id.timestamp.body" keyed with
// any of secrets (raw key bytes). Webhook-Signature holds space-separated
// "version,base64" entries; entries of versions other than v1 are ignored.
// Errors wrap ErrUnauthorized.
func VerifyStandardWebhook(secrets [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	v := standardVerifier{keys: secrets, tolerance: tolerance}
	return v.verify(h, body, now)
}

// StandardVerifier verifies Standard Webhooks deliveries with a fixed key set.
// It reuses HMAC states across calls. Safe for concurrent use.
type StandardVerifier struct {
	v standardVerifier
}

// NewStandardVerifier returns a verifier for the raw keys (see
// DecodeStandardSecret) and tolerance (DefaultTolerance when 0).
func NewStandardVerifier(keys [][]byte, tolerance time.Duration) *StandardVerifier {
	pooled := make([]*mac.Key, len(keys))
	for i, k := range keys {
		pooled[i] = mac.MustNew("sha256", k)
	}
	return &StandardVerifier{v: standardVerifier{keys: keys, pooled: pooled, tolerance: tolerance}}
}

// Verify is VerifyStandardWebhook with the verifier's keys and tolerance.
func (s *StandardVerifier) Verify(h http.Header, body []byte, now time.Time) error {
	return s.v.verify(h, body, now)
}

type standardVerifier struct {
	keys      [][]byte
	pooled    []*mac.Key // nil, or one per key
	tolerance time.Duration
}

// sum appends the MAC of prefix+body under key i to dst.
func (v *standardVerifier) sum(dst []byte, i int, prefix, body []byte) []byte {
	if v.pooled != nil {
		return v.pooled[i].Sum(dst, prefix, body)
	}
	m := hmac.New(sha256.New, v.keys[i])
	m.Write(prefix)
	m.Write(body)
	return m.Sum(dst)
}

func unauthorized(msg string) error { return fmt.Errorf("%w: %s", ErrUnauthorized, msg) }

var (
	errSWMissing   = unauthorized("missing webhook-id, webhook-timestamp or webhook-signature header")
	errSWTimestamp = unauthorized("webhook-timestamp is not a Unix time in seconds")
	errSWStale     = unauthorized("webhook-timestamp outside the tolerance")
	errSWNoMatch   = unauthorized("no webhook-signature v1 entry matches")
)

func (v *standardVerifier) verify(h http.Header, body []byte, now time.Time) error {
	id := h.Get(HeaderWebhookID)
	tsText := h.Get(HeaderWebhookTimestamp)
	sigs := h.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return errSWMissing
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return errSWTimestamp
	}
	tol := v.tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	// Compare in seconds so that absurd timestamps cannot overflow a Duration.
	diff := now.Unix() - ts
	if diff < 0 {
		diff = -diff
	}
	if diff < 0 || diff > int64(tol/time.Second) {
		return errSWStale
	}

	// The signed content is "id.timestamp.body"; build the prefix on the stack.
	var prefixBuf [160]byte
	prefix := append(prefixBuf[:0], id...)
	prefix = append(prefix, '.')
	prefix = append(prefix, tsText...)
	prefix = append(prefix, '.')

	var macs [8][sha256.Size]byte
	nmacs := 0
	var dec [sha256.Size + 3]byte
	var src [64]byte
	ok := 0
	for sigs != "" {
		var entry string
		entry, sigs, _ = strings.Cut(sigs, " ")
		version, b64, found := strings.Cut(entry, ",")
		if !found || version != "v1" || len(b64) > len(src) || base64.StdEncoding.DecodedLen(len(b64)) > len(dec) {
			continue
		}
		n, err := base64.StdEncoding.Decode(dec[:], src[:copy(src[:], b64)])
		if err != nil || n != sha256.Size {
			continue
		}
		// Compute each key's MAC once, lazily, and compare with every entry.
		for i := range v.keys {
			var want []byte
			if i < len(macs) {
				if i >= nmacs {
					v.sum(macs[i][:0], i, prefix, body)
					nmacs = i + 1
				}
				want = macs[i][:]
			} else {
				var tmp [sha256.Size]byte
				want = v.sum(tmp[:0], i, prefix, body)
			}
			if hmac.Equal(dec[:n], want) {
				ok = 1
			}
		}
	}
	if ok == 1 {
		return nil
	}
	return errSWNoMatch
}
