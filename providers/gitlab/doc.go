// Package gitlab verifies and understands GitLab webhook deliveries.
//
// Verification: each configured secret is either a secret token, compared in
// constant time with X-Gitlab-Token, or — when it starts with "whsec_" — a
// signing token (GitLab 19+), checked as Standard Webhooks v1: Webhook-Id,
// Webhook-Timestamp (within Config.Tolerance, default 5m, either way) and
// Webhook-Signature ("v1,<base64>" entries, others ignored), HMAC-SHA256 over
// "id.timestamp.body". Any one configured secret verifying is enough, so
// both kinds may be listed while a hook moves from one to the other.
//
// Understanding: the event comes from X-Gitlab-Event ("Push Hook" → push,
// "Tag Push Hook" → tag_push, "Merge Request Hook" → merge_request,
// "Note Hook" and "Confidential Note Hook" → note, "Issue Hook" and
// "Confidential Issue Hook" → issue, "Pipeline Hook" → pipeline,
// "Job Hook" and the older "Build Hook" → job, "Release Hook" → release,
// "Wiki Page Hook" → wiki_page, "Deployment Hook" → deployment,
// "Member Hook" → member, "Subgroup Hook" → subgroup, "Feature Flag Hook" →
// feature_flag, "Resource Access Token Hook" → resource_access_token,
// "Emoji Hook" → emoji, "Milestone Hook" → milestone, "Project Hook" →
// project, "Vulnerability Hook" → vulnerability). For "System Hook",
// "Service Hook", an unknown or a missing header the payload's event_name
// or object_kind names the event. The delivery id is Webhook-Id, else
// Idempotency-Key; never X-Gitlab-Event-UUID, which chained hooks share.
// GitLab marks no test delivery, so Info.Ping is never set.
//
// Fields, read with gjson straight from the bytes:
//
//	all events     Repo = project.path_with_namespace (else the path of
//	               repository.homepage), Actor = user.username (else user_username)
//	push, tag_push Ref = ref, Branch or Tag from it, SHA = checkout_sha (else after),
//	               Before = before
//	merge_request  PR = object_attributes.iid, SHA = object_attributes.last_commit.id,
//	               Branch = source_branch, Ref = refs/merge-requests/<iid>/head,
//	               Before = object_attributes.oldrev, Action = object_attributes.action
//	note           on a merge request: PR, SHA, Branch and Ref of merge_request as above;
//	               on a commit: SHA = commit.id; Action = object_attributes.action
//	pipeline       SHA = object_attributes.sha, Ref, Branch or Tag from
//	               object_attributes.ref and .tag, Before = before_sha,
//	               PR = merge_request.iid, Action = object_attributes.status
//	job            SHA = sha, Ref, Branch or Tag from ref and tag, Before = before_sha,
//	               Action = build_status
//	release        Tag = tag, Ref = refs/tags/<tag>, SHA = commit.id, Action = action
//	deployment     Action = status, SHA from commit_url
//	issue, wiki_page  Action = object_attributes.action
//	member, subgroup, resource_access_token  Action = event_name
package gitlab
