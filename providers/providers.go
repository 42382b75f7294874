package providers

import (
	"errors"
	"net/http"
	"net/url"
	"time"
)

// Errors returned by providers. Callers test them with [errors.Is]; the
// server maps ErrUnauthorized to 401 and ErrMalformed to 400.
var (
	// ErrUnauthorized means a signature or token is missing or does not verify.
	// Errors wrapping it never contain a secret or an expected MAC.
	ErrUnauthorized = errors.New("providers: unauthorized")
	// ErrMalformed means the delivery cannot be parsed as far as the provider needs.
	ErrMalformed = errors.New("providers: malformed delivery")
)

// Request is what a provider sees of one HTTP delivery.
//
// Header is expected in canonical form, as net/http delivers it. Body is the raw
// bytes as received; providers never modify it nor keep it after returning.
type Request struct {
	Header     http.Header
	Query      url.Values
	Body       []byte
	RemoteAddr string    // client IP as decided by the server (after trusted proxies)
	Now        time.Time // for timestamp tolerance; zero means time.Now()

	// ObjectBody, when set, reports whether Body is one JSON object from a
	// validation the caller makes anyway (known is false when it cannot
	// tell); a provider that accepts only JSON objects then skips its own
	// pass over the body when the answer is yes.
	ObjectBody func() (object, known bool)
}

// Time returns r.Now, or the current time when r.Now is zero.
func (r *Request) Time() time.Time {
	if r.Now.IsZero() {
		return time.Now()
	}
	return r.Now
}

// Info is what a provider understood of a delivery: the event and the
// normalised fields that become HOOKTRIGGER_* variables. A field the event does
// not carry is "".
type Info struct {
	Event      string // "push", "pull_request", "tag_push", "merge_request", "note", "pipeline", "ping", …
	Action     string // payload action, e.g. "opened" ("" if none)
	DeliveryID string // for deduplication; "" if the sender gives none

	Repo   string // "owner/name" (GitHub full_name, GitLab path_with_namespace)
	Ref    string // full ref: refs/heads/…, refs/tags/…, refs/pull/N/head, refs/merge-requests/N/head
	Branch string // branch name without refs/heads/
	Tag    string // tag name without refs/tags/
	SHA    string // the commit to build
	Before string // the previous commit of a push, if any
	Actor  string // login of whoever caused the event
	PR     string // pull request number or merge request iid, decimal

	Ping  bool   // a connectivity check: the server answers 200 with Reply and runs nothing
	Reply string // body for the ping answer, e.g. GitHub's zen

	// Payload is the JSON document of the delivery when it is not the raw
	// body, as for GitHub's form-encoded deliveries (the payload= field);
	// "" when the body itself is the document. Extract variables from it
	// when it is set. (A string keeps Info comparable.)
	Payload string
}

// EventAction returns "event.action", such as "pull_request.opened", or just
// the event when there is no action.
func (i *Info) EventAction() string {
	if i.Action == "" {
		return i.Event
	}
	return i.Event + "." + i.Action
}

// Provider verifies and understands the deliveries of one sender type,
// configured for one trigger. Implementations are safe for concurrent use.
type Provider interface {
	// Name returns the provider's name: "github", "gitlab" or "generic".
	Name() string
	// Verify returns nil when the request is authentic, or an error wrapping
	// ErrUnauthorized. It reads only r.Header, r.Query, r.Body and r.Now.
	Verify(r *Request) error
	// Inspect names the event and delivery and normalises the common fields.
	// It does not verify; call Verify first. Errors wrap ErrMalformed.
	Inspect(r *Request) (*Info, error)
}

// EventHeaderer is implemented by the providers that read a delivery's
// event from a header. EventHeader names the header and the value a sender
// sends for event (a name such as push, without an action); ok is false when
// the provider reads no event header.
type EventHeaderer interface {
	EventHeader(event string) (name, value string, ok bool)
}

// Config is the provider part of a trigger's configuration.
//
// Secrets are already resolved (no ${ENV} or file: left). Every provider's New
// rejects a Config with no Secrets unless AllowUnsigned is set; AllowUnsigned
// has no effect when Secrets are given, so a sender can never skip a
// configured check by leaving its signature out.
type Config struct {
	Secrets       [][]byte // any one verifying is enough (rotation)
	AllowUnsigned bool     // with no Secrets: accept every delivery unchecked
	AllowSHA1     bool     // github: accept X-Hub-Signature (sha1) when no X-Hub-Signature-256 is sent

	// generic only:
	Auth           string        // "token" (default) | "hmac" | "standard-webhooks"
	Header         string        // hmac: header carrying the signature (default X-Signature)
	Algorithm      string        // hmac: sha1 | sha256 (default) | sha512
	Encoding       string        // hmac: hex (default) | base64
	Prefix         string        // hmac: required before the signature, e.g. "sha256="
	DeliveryHeader string        // generic: header holding the delivery id (default Webhook-Id for standard-webhooks, else Idempotency-Key)
	EventHeader    string        // generic: header naming the event (optional)
	Tolerance      time.Duration // standard webhooks timestamp tolerance (default 5m)
}

// DefaultTolerance is the Standard Webhooks timestamp tolerance when
// Config.Tolerance is zero.
const DefaultTolerance = 5 * time.Minute

// ErrNoSecret is returned by the providers' New when a Config has no Secrets
// and does not say AllowUnsigned.
var ErrNoSecret = errors.New("providers: no secret configured (set allow_unsigned to accept unsigned deliveries)")
