package github

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	gh "github.com/google/go-github/v82/github"
	"github.com/tidwall/gjson"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/mac"
	"github.com/hooktrigger/hooktrigger/providers/internal/payload"
)

// Provider verifies and understands GitHub deliveries for one trigger. Safe
// for concurrent use.
type Provider struct {
	sha256Keys []*mac.Key
	sha1Keys   []*mac.Key // nil unless AllowSHA1
	unsigned   bool
}

var _ providers.Provider = (*Provider)(nil)

// New returns a GitHub provider. Secrets are the webhook secrets as entered
// on GitHub; any one verifying is enough. With no Secrets, cfg.AllowUnsigned
// must be set and every delivery is accepted unchecked.
func New(cfg providers.Config) (*Provider, error) {
	p := &Provider{}
	if len(cfg.Secrets) == 0 {
		if !cfg.AllowUnsigned {
			return nil, fmt.Errorf("github: %w", providers.ErrNoSecret)
		}
		p.unsigned = true
		return p, nil
	}
	for i, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("github: secret %d is empty", i)
		}
		p.sha256Keys = append(p.sha256Keys, mac.MustNew("sha256", s))
		if cfg.AllowSHA1 {
			p.sha1Keys = append(p.sha1Keys, mac.MustNew("sha1", s))
		}
	}
	return p, nil
}

// Name returns "github".
func (p *Provider) Name() string { return "github" }

// EventHeader returns X-GitHub-Event, which carries the event name as is.
func (p *Provider) EventHeader(event string) (name, value string, ok bool) {
	return gh.EventTypeHeader, event, true
}

// Sign returns the X-Hub-Signature-256 value GitHub would send for body:
// "sha256=<hex>".
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func unauthorized(msg string) error {
	return fmt.Errorf("%w: github: %s", providers.ErrUnauthorized, msg)
}

var (
	errMissing    = unauthorized("missing " + gh.SHA256SignatureHeader + " header")
	errSHA1Denied = unauthorized("only " + gh.SHA1SignatureHeader + " (sha1) sent and allow_sha1 is off")
	errPrefix256  = unauthorized(gh.SHA256SignatureHeader + " does not start with sha256=")
	errPrefix1    = unauthorized(gh.SHA1SignatureHeader + " does not start with sha1=")
	errEncoding   = unauthorized("signature is not hex of the right length")
	errMismatch   = unauthorized("signature does not match")
)

// Verify checks the request's signature over its raw body. Errors wrap
// providers.ErrUnauthorized and never contain a secret, the expected MAC or
// the signature sent.
func (p *Provider) Verify(r *providers.Request) error {
	if p.unsigned {
		return nil
	}
	if sig := r.Header.Get(gh.SHA256SignatureHeader); sig != "" {
		return check(sig, "sha256=", errPrefix256, p.sha256Keys, r.Body)
	}
	if sig := r.Header.Get(gh.SHA1SignatureHeader); sig != "" {
		if p.sha1Keys == nil {
			return errSHA1Denied
		}
		return check(sig, "sha1=", errPrefix1, p.sha1Keys, r.Body)
	}
	return errMissing
}

func check(sig, prefix string, errPrefix error, keys []*mac.Key, body []byte) error {
	hexSig, ok := strings.CutPrefix(sig, prefix)
	if !ok {
		return errPrefix
	}
	size := keys[0].Size()
	var src [2 * 64]byte
	var got [64]byte
	if len(hexSig) != 2*size {
		return errEncoding
	}
	if _, err := hex.Decode(got[:size], src[:copy(src[:], hexSig)]); err != nil {
		return errEncoding
	}
	match := false
	for _, k := range keys {
		if k.Equal(got[:size], body) {
			match = true
		}
	}
	if !match {
		return errMismatch
	}
	return nil
}

func malformed(msg string) error {
	return fmt.Errorf("%w: github: %s", providers.ErrMalformed, msg)
}

var (
	errNoEvent   = malformed("missing " + gh.EventTypeHeader + " header")
	errNotJSON   = malformed("body is not a JSON object")
	errNoPayload = malformed("form-encoded delivery without a payload field")
)

// Inspect names the event and delivery and reads the normalised fields (see
// the package documentation). Errors wrap providers.ErrMalformed.
func (p *Provider) Inspect(r *providers.Request) (*providers.Info, error) {
	event := r.Header.Get(gh.EventTypeHeader)
	if event == "" {
		return nil, errNoEvent
	}
	info := &providers.Info{
		Event:      event,
		DeliveryID: r.Header.Get(gh.DeliveryIDHeader),
	}
	body := r.Body
	if isForm(r.Header.Get("Content-Type"), body) {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, malformed("form-encoded body does not parse")
		}
		js := form.Get("payload")
		if js == "" {
			return nil, errNoPayload
		}
		body = []byte(js)
		info.Payload = js
	}
	if !payload.Object(r, body) {
		return nil, errNotJSON
	}
	fill(info, payload.Doc(body))
	return info, nil
}

// isForm reports whether a delivery is form-encoded: by its Content-Type, or,
// when none is given, by a body starting with "payload=".
func isForm(contentType string, body []byte) bool {
	if contentType == "" {
		return len(body) >= 8 && string(body[:8]) == "payload="
	}
	mt, _, _ := strings.Cut(contentType, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded")
}

// fields are the top-level members of a payload that Inspect reads, found in
// one pass over the document.
type fields struct {
	action, ref, refType, before, after, number, zen, sha, branch gjson.Result
	repository, sender, pusher                                    gjson.Result
	pullRequest, issue, release, comment, deployment              gjson.Result
	workflowRun, workflowJob, checkRun, checkSuite, mergeGroup    gjson.Result
}

func (f *fields) scan(doc gjson.Result) {
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "action":
			f.action = v
		case "ref":
			f.ref = v
		case "ref_type":
			f.refType = v
		case "before":
			f.before = v
		case "after":
			f.after = v
		case "number":
			f.number = v
		case "zen":
			f.zen = v
		case "sha":
			f.sha = v
		case "branch":
			f.branch = v
		case "repository":
			f.repository = v
		case "sender":
			f.sender = v
		case "pusher":
			f.pusher = v
		case "pull_request":
			f.pullRequest = v
		case "issue":
			f.issue = v
		case "release":
			f.release = v
		case "comment":
			f.comment = v
		case "deployment":
			f.deployment = v
		case "workflow_run":
			f.workflowRun = v
		case "workflow_job":
			f.workflowJob = v
		case "check_run":
			f.checkRun = v
		case "check_suite":
			f.checkSuite = v
		case "merge_group":
			f.mergeGroup = v
		}
		return true
	})
}

func fill(info *providers.Info, doc gjson.Result) {
	var f fields
	f.scan(doc)
	info.Action = payload.Str(f.action)
	info.Repo = payload.Str(f.repository.Get("full_name"))
	info.Actor = payload.Str(f.sender.Get("login"))

	switch info.Event {
	case "ping":
		info.Ping = true
		info.Reply = payload.Str(f.zen)
	case "push":
		setRef(info, payload.Str(f.ref))
		info.SHA = payload.Str(f.after)
		info.Before = payload.Str(f.before)
		if name := payload.Str(f.pusher.Get("name")); name != "" {
			info.Actor = name
		}
	case "pull_request", "pull_request_review", "pull_request_review_comment", "pull_request_review_thread":
		info.PR = payload.Num(f.number)
		if info.PR == "" {
			info.PR = payload.Num(f.pullRequest.Get("number"))
		}
		if info.PR != "" {
			info.Ref = "refs/pull/" + info.PR + "/head"
		}
		info.SHA = payload.Str(f.pullRequest.Get("head.sha"))
		info.Branch = payload.Str(f.pullRequest.Get("head.ref"))
		info.Before = payload.Str(f.before)
	case "issue_comment", "issues":
		if f.issue.Get("pull_request").IsObject() {
			info.PR = payload.Num(f.issue.Get("number"))
			if info.PR != "" {
				info.Ref = "refs/pull/" + info.PR + "/head"
			}
		}
	case "release":
		info.Tag = payload.Str(f.release.Get("tag_name"))
		if info.Tag != "" {
			info.Ref = "refs/tags/" + info.Tag
		}
	case "create", "delete":
		name := payload.Str(f.ref)
		switch payload.Str(f.refType) {
		case "branch":
			info.Branch, info.Ref = name, "refs/heads/"+name
		case "tag":
			info.Tag, info.Ref = name, "refs/tags/"+name
		}
	case "workflow_run":
		headOf(info, f.workflowRun)
	case "workflow_job":
		headOf(info, f.workflowJob)
	case "check_suite":
		headOf(info, f.checkSuite)
		info.Before = payload.Str(f.checkSuite.Get("before"))
	case "check_run":
		headOf(info, f.checkRun)
		if info.Branch == "" {
			info.Branch = payload.Str(f.checkRun.Get("check_suite.head_branch"))
		}
	case "merge_group":
		info.SHA = payload.Str(f.mergeGroup.Get("head_sha"))
		setRef(info, payload.Str(f.mergeGroup.Get("head_ref")))
		info.Before = payload.Str(f.mergeGroup.Get("base_sha"))
	case "workflow_dispatch":
		setRef(info, payload.Str(f.ref))
	case "repository_dispatch":
		info.Branch = payload.Str(f.branch)
	case "status":
		info.SHA = payload.Str(f.sha)
	case "commit_comment":
		info.SHA = payload.Str(f.comment.Get("commit_id"))
	case "deployment", "deployment_status":
		info.SHA = payload.Str(f.deployment.Get("sha"))
	}
}

// setRef sets Ref and the Branch or Tag it names.
func setRef(info *providers.Info, ref string) {
	info.Ref = ref
	info.Branch, info.Tag = payload.SplitRef(ref)
}

// headOf reads the head_sha, head_branch and first pull request of a
// workflow run, workflow job, check suite or check run.
func headOf(info *providers.Info, obj gjson.Result) {
	info.SHA = payload.Str(obj.Get("head_sha"))
	info.Branch = payload.Str(obj.Get("head_branch"))
	info.PR = payload.Num(obj.Get("pull_requests.0.number"))
}
