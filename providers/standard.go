package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
// any of secrets (raw key bytes, see DecodeStandardSecret). Webhook-Signature
// holds space-separated "version,base64" entries; entries of versions other
// than v1 are ignored, and at most 8 v1 entries are considered. Errors wrap
// ErrUnauthorized. A StandardVerifier does the same without allocating.
func VerifyStandardWebhook(secrets [][]byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	return NewStandardVerifier(secrets, tolerance).Verify(h, body, now)
}

// StandardVerifier verifies Standard Webhooks deliveries with a fixed key set,
// reusing HMAC states across calls. Safe for concurrent use.
type StandardVerifier struct {
	keys      []*mac.Key
	tolerance time.Duration
}

// NewStandardVerifier returns a verifier for the raw keys (see
// DecodeStandardSecret) and tolerance (DefaultTolerance when 0).
func NewStandardVerifier(keys [][]byte, tolerance time.Duration) *StandardVerifier {
	v := &StandardVerifier{tolerance: tolerance}
	for _, k := range keys {
		v.keys = append(v.keys, mac.MustNew("sha256", k))
	}
	return v
}

func unauthorized(msg string) error { return fmt.Errorf("%w: %s", ErrUnauthorized, msg) }

var (
	errSWMissing   = unauthorized("missing webhook-id, webhook-timestamp or webhook-signature header")
	errSWTimestamp = unauthorized("webhook-timestamp is not a Unix time in seconds")
	errSWStale     = unauthorized("webhook-timestamp outside the tolerance")
	errSWNoMatch   = unauthorized("no webhook-signature v1 entry matches")
)

// maxCandidates bounds the v1 signatures read from one header.
const maxCandidates = 8

// scratch is per-call working memory, pooled because buffers handed to a hash
// or to base64's decoder escape and a stack array would cost an allocation.
type scratch struct {
	prefix  []byte                               // "id.timestamp."
	decoded [maxCandidates][sha256.Size + 3]byte // v1 signatures, decoded
}

var scratches = sync.Pool{New: func() any { return &scratch{prefix: make([]byte, 0, 128)} }}

// Verify is VerifyStandardWebhook with the verifier's keys and tolerance.
func (v *StandardVerifier) Verify(h http.Header, body []byte, now time.Time) error {
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

	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	var candArr [maxCandidates][]byte
	cands := candArr[:0]
	var src [64]byte
	for sigs != "" && len(cands) < maxCandidates {
		var entry string
		entry, sigs, _ = strings.Cut(sigs, " ")
		version, b64, found := strings.Cut(entry, ",")
		if !found || version != "v1" || len(b64) > len(src) ||
			base64.StdEncoding.DecodedLen(len(b64)) > len(sc.decoded[0]) {
			continue
		}
		dst := sc.decoded[len(cands)][:]
		n, err := base64.StdEncoding.Decode(dst, src[:copy(src[:], b64)])
		if err != nil || n != sha256.Size {
			continue
		}
		cands = append(cands, dst[:n])
	}
	if len(cands) == 0 {
		return errSWNoMatch
	}

	prefix := append(sc.prefix[:0], id...)
	prefix = append(prefix, '.')
	prefix = append(prefix, tsText...)
	prefix = append(prefix, '.')
	ok := false
	for _, k := range v.keys {
		if k.EqualAny(cands, prefix, body) {
			ok = true
		}
	}
	if cap(prefix) <= 1024 { // do not keep a huge id's buffer in the pool
		sc.prefix = prefix
	}
	if ok {
		return nil
	}
	return errSWNoMatch
}
