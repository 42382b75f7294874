package gitlab

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/tidwall/gjson"
	gl "gitlab.com/gitlab-org/api/client-go"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/payload"
)

// Header names GitLab sends, in canonical form.
const (
	HeaderToken          = "X-Gitlab-Token"
	HeaderEvent          = "X-Gitlab-Event"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Provider verifies and understands GitLab deliveries for one trigger. Safe
// for concurrent use.
type Provider struct {
	tokens   [][]byte                    // secret tokens for X-Gitlab-Token
	signing  *providers.StandardVerifier // signing tokens, nil if none
	unsigned bool
}

var _ providers.Provider = (*Provider)(nil)

// New returns a GitLab provider. Each secret is a secret token, or a signing
// token when it starts with "whsec_". With no Secrets, cfg.AllowUnsigned
// must be set and every delivery is accepted unchecked.
func New(cfg providers.Config) (*Provider, error) {
	p := &Provider{}
	if len(cfg.Secrets) == 0 {
		if !cfg.AllowUnsigned {
			return nil, fmt.Errorf("gitlab: %w", providers.ErrNoSecret)
		}
		p.unsigned = true
		return p, nil
	}
	var keys [][]byte
	for i, s := range cfg.Secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("gitlab: secret %d is empty", i)
		}
		if providers.IsStandardSecret(s) {
			key, err := providers.DecodeStandardSecret(string(s))
			if err != nil {
				return nil, fmt.Errorf("gitlab: secret %d: %w", i, err)
			}
			keys = append(keys, key)
			continue
		}
		p.tokens = append(p.tokens, append([]byte(nil), s...))
	}
	if len(keys) > 0 {
		p.signing = providers.NewStandardVerifier(keys, cfg.Tolerance)
	}
	return p, nil
}

// Name returns "gitlab".
func (p *Provider) Name() string { return "gitlab" }

func unauthorized(msg string) error {
	return fmt.Errorf("%w: gitlab: %s", providers.ErrUnauthorized, msg)
}

var (
	errMissing       = unauthorized("missing " + HeaderToken + " or webhook-signature header")
	errTokenMismatch = unauthorized(HeaderToken + " does not match")
)

// Verify checks the secret token or the signing-token signature. Errors wrap
// providers.ErrUnauthorized and never contain a secret or an expected MAC.
func (p *Provider) Verify(r *providers.Request) error {
	if p.unsigned {
		return nil
	}
	var failure error
	if p.signing != nil && r.Header.Get(providers.HeaderWebhookSignature) != "" {
		err := p.signing.Verify(r.Header, r.Body, r.Time())
		if err == nil {
			return nil
		}
		failure = fmt.Errorf("gitlab: %w", err)
	}
	if len(p.tokens) > 0 {
		if vals, ok := r.Header[HeaderToken]; ok && len(vals) > 0 {
			if providers.TokenMatches(vals[0], p.tokens) {
				return nil
			}
			failure = errTokenMismatch
		}
	}
	if failure != nil {
		return failure
	}
	return errMissing
}

func malformed(msg string) error {
	return fmt.Errorf("%w: gitlab: %s", providers.ErrMalformed, msg)
}

var errNotJSON = malformed("body is not a JSON object")

// headerEvents maps X-Gitlab-Event values to event names. "" means: ask
// the payload.
var headerEvents = map[gl.EventType]string{
	gl.EventTypePush:                "push",
	gl.EventTypeTagPush:             "tag_push",
	gl.EventTypeMergeRequest:        "merge_request",
	gl.EventTypeNote:                "note",
	gl.EventConfidentialNote:        "note",
	gl.EventTypeIssue:               "issue",
	gl.EventConfidentialIssue:       "issue",
	gl.EventTypePipeline:            "pipeline",
	gl.EventTypeJob:                 "job",
	gl.EventTypeBuild:               "job",
	gl.EventTypeRelease:             "release",
	gl.EventTypeWikiPage:            "wiki_page",
	gl.EventTypeDeployment:          "deployment",
	gl.EventTypeMember:              "member",
	gl.EventTypeSubGroup:            "subgroup",
	gl.EventTypeFeatureFlag:         "feature_flag",
	gl.EventTypeResourceAccessToken: "resource_access_token",
	gl.EventTypeEmoji:               "emoji",
	gl.EventTypeMilestone:           "milestone",
	gl.EventTypeProject:             "project",
	gl.EventTypeVulnerability:       "vulnerability",
	gl.EventTypeSystemHook:          "",
	gl.EventTypeServiceHook:         "",
}

// kindEvents renames the payload's object_kind where it differs from the
// name the header gives.
var kindEvents = map[string]string{
	"build":        "job",
	"access_token": "resource_access_token",
}

// Inspect names the event and delivery and reads the normalised fields (see
// the package documentation). Errors wrap providers.ErrMalformed.
func (p *Provider) Inspect(r *providers.Request) (*providers.Info, error) {
	if !payload.Object(r, r.Body) {
		return nil, errNotJSON
	}
	info := &providers.Info{DeliveryID: r.Header.Get(providers.HeaderWebhookID)}
	if info.DeliveryID == "" {
		info.DeliveryID = r.Header.Get(HeaderIdempotencyKey)
	}
	var f fields
	f.scan(payload.Doc(r.Body))

	header := r.Header.Get(HeaderEvent)
	event, known := headerEvents[gl.EventType(header)]
	if event == "" {
		// System and service hooks, unknown or missing headers: the payload says.
		event = payload.First(f.eventName, f.objectKind)
		if renamed, ok := kindEvents[event]; ok {
			event = renamed
		}
		if event == "" && !known && header != "" {
			event = snake(strings.TrimSuffix(header, " Hook"))
		}
	}
	if event == "" {
		return nil, malformed("no X-Gitlab-Event header and no object_kind or event_name in the payload")
	}
	info.Event = event
	fill(info, &f)
	return info, nil
}

// EventHeader returns X-Gitlab-Event and the value GitLab sends for event:
// "Merge Request Hook" for merge_request. A name GitLab does not send is
// written the same way, and Inspect reads it back.
func (p *Provider) EventHeader(event string) (name, value string, ok bool) {
	if h, ok := eventHeaders[event]; ok {
		return HeaderEvent, string(h), true
	}
	words := strings.Split(event, "_")
	for i, w := range words {
		if w != "" {
			words[i] = strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return HeaderEvent, strings.Join(words, " ") + " Hook", true
}

// eventHeaders is headerEvents the other way, with the header GitLab sends
// today where two give one event.
var eventHeaders = func() map[string]gl.EventType {
	m := map[string]gl.EventType{}
	for h, e := range headerEvents {
		switch h {
		case gl.EventConfidentialNote, gl.EventConfidentialIssue, gl.EventTypeBuild:
			continue
		}
		if e != "" {
			m[e] = h
		}
	}
	return m
}()

// snake turns "Foo Bar" into "foo_bar".
func snake(s string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), " ", "_")
}

// fields are the top-level members of a payload that Inspect reads, found in
// one pass over the document.
type fields struct {
	objectKind, eventName, ref, before, after, checkoutSHA, userUsername gjson.Result
	tag, sha, beforeSHA, buildStatus, status, action, commitURL          gjson.Result
	project, repository, user, objectAttributes, mergeRequest, commit    gjson.Result
}

func (f *fields) scan(doc gjson.Result) {
	doc.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "object_kind":
			f.objectKind = v
		case "event_name":
			f.eventName = v
		case "ref":
			f.ref = v
		case "before":
			f.before = v
		case "after":
			f.after = v
		case "checkout_sha":
			f.checkoutSHA = v
		case "user_username":
			f.userUsername = v
		case "tag":
			f.tag = v
		case "sha":
			f.sha = v
		case "before_sha":
			f.beforeSHA = v
		case "build_status":
			f.buildStatus = v
		case "status":
			f.status = v
		case "action":
			f.action = v
		case "commit_url":
			f.commitURL = v
		case "project":
			f.project = v
		case "repository":
			f.repository = v
		case "user":
			f.user = v
		case "object_attributes":
			f.objectAttributes = v
		case "merge_request":
			f.mergeRequest = v
		case "commit":
			f.commit = v
		}
		return true
	})
}

func fill(info *providers.Info, f *fields) {
	info.Repo = payload.Str(f.project.Get("path_with_namespace"))
	if info.Repo == "" {
		info.Repo = repoFromURL(payload.Str(f.repository.Get("homepage")))
	}
	info.Actor = payload.Str(f.user.Get("username"))
	oa := f.objectAttributes

	switch info.Event {
	case "push", "tag_push":
		setRef(info, payload.Str(f.ref))
		info.SHA = payload.First(f.checkoutSHA, f.after)
		info.Before = payload.Str(f.before)
		info.Actor = payload.First(f.userUsername, f.user.Get("username"))
	case "merge_request":
		info.Action = payload.Str(oa.Get("action"))
		mergeRequest(info, oa)
		info.Before = payload.Str(oa.Get("oldrev"))
	case "note":
		info.Action = payload.Str(oa.Get("action"))
		switch payload.Str(oa.Get("noteable_type")) {
		case "MergeRequest":
			mergeRequest(info, f.mergeRequest)
		case "Commit":
			info.SHA = payload.First(f.commit.Get("id"), oa.Get("commit_id"))
		}
	case "pipeline":
		info.Action = payload.Str(oa.Get("status"))
		info.SHA = payload.Str(oa.Get("sha"))
		info.Before = payload.Str(oa.Get("before_sha"))
		setNamedRef(info, payload.Str(oa.Get("ref")), oa.Get("tag").Bool())
		info.PR = payload.Num(f.mergeRequest.Get("iid"))
	case "job":
		info.Action = payload.Str(f.buildStatus)
		info.SHA = payload.Str(f.sha)
		info.Before = payload.Str(f.beforeSHA)
		setNamedRef(info, payload.Str(f.ref), f.tag.Bool())
	case "release":
		info.Action = payload.Str(f.action)
		info.Tag = payload.Str(f.tag)
		if info.Tag != "" {
			info.Ref = "refs/tags/" + info.Tag
		}
		info.SHA = payload.Str(f.commit.Get("id"))
	case "deployment":
		info.Action = payload.Str(f.status)
		info.SHA = shaFromCommitURL(payload.Str(f.commitURL))
	case "member", "subgroup", "resource_access_token":
		info.Action = payload.First(oa.Get("action"), f.eventName)
	default:
		info.Action = payload.Str(oa.Get("action"))
	}
}

// mergeRequest fills PR, SHA, Branch and Ref from a merge request object
// (object_attributes of a merge request event, or merge_request of a note).
func mergeRequest(info *providers.Info, mr gjson.Result) {
	info.PR = payload.Num(mr.Get("iid"))
	info.SHA = payload.Str(mr.Get("last_commit.id"))
	info.Branch = payload.Str(mr.Get("source_branch"))
	if info.PR != "" {
		info.Ref = "refs/merge-requests/" + info.PR + "/head"
	}
}

func setRef(info *providers.Info, ref string) {
	info.Ref = ref
	info.Branch, info.Tag = payload.SplitRef(ref)
}

// setNamedRef sets Ref, Branch or Tag from a short ref name as pipelines and
// jobs give it; a full ref ("refs/merge-requests/1/head") is kept as is.
func setNamedRef(info *providers.Info, name string, tag bool) {
	switch {
	case name == "":
	case strings.HasPrefix(name, "refs/"):
		setRef(info, name)
	case tag:
		info.Ref, info.Tag = "refs/tags/"+name, name
	default:
		info.Ref, info.Branch = "refs/heads/"+name, name
	}
}

// repoFromURL returns "group/project" from a project's web URL.
func repoFromURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(strings.Trim(u.Path, "/"), ".git")
}

// shaFromCommitURL returns the commit id ending a ".../-/commit/<sha>" URL.
func shaFromCommitURL(s string) string {
	i := strings.LastIndex(s, "/commit/")
	if i < 0 {
		return ""
	}
	sha := s[i+len("/commit/"):]
	if len(sha) != 40 && len(sha) != 64 {
		return ""
	}
	for _, c := range []byte(sha) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return ""
		}
	}
	return sha
}
