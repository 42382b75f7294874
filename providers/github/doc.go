// Package github verifies and understands GitHub webhook deliveries.
//
// Verification: X-Hub-Signature-256 ("sha256=<hex>", HMAC-SHA256 of the raw
// body) against each configured secret, in constant time. The legacy
// X-Hub-Signature ("sha1=<hex>") is accepted only with Config.AllowSHA1 and
// only when no X-Hub-Signature-256 is sent. Both JSON and form-encoded
// (application/x-www-form-urlencoded, payload=<json>) deliveries are
// supported; the signature is always over the raw body as received.
//
// Understanding: the event is X-GitHub-Event, the action the payload's
// "action", the delivery id X-GitHub-Delivery. Fields are read with gjson
// straight from the bytes:
//
//	all events     Repo = repository.full_name, Actor = sender.login
//	push           Ref = ref, Branch or Tag from it, SHA = after, Before = before,
//	               Actor = pusher.name (else sender.login); a deleted branch has
//	               SHA = 0000000000000000000000000000000000000000
//	pull_request*  PR = number, SHA = pull_request.head.sha,
//	               Branch = pull_request.head.ref, Ref = refs/pull/<PR>/head
//	               (the ref GitHub keeps for the PR's head), Before = before (synchronize)
//	issue_comment, issues
//	               PR = issue.number when the issue is a pull request, Ref =
//	               refs/pull/<PR>/head; no SHA (the payload has none)
//	release        Tag = release.tag_name, Ref = refs/tags/<tag>
//	create, delete Ref, Branch or Tag from ref and ref_type
//	workflow_run, workflow_job, check_suite, check_run
//	               SHA = head_sha, Branch = head_branch, PR = first pull request;
//	               no Ref, as head_branch may name a tag
//	merge_group    SHA = head_sha, Ref = head_ref, Before = base_sha
//	workflow_dispatch  Ref, Branch or Tag from ref
//	status         SHA = sha; commit_comment SHA = comment.commit_id;
//	deployment, deployment_status  SHA = deployment.sha
//	ping           Ping = true, Reply = zen
package github
