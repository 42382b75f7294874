// Package generic verifies deliveries from any HTTP sender.
//
// Config.Auth chooses the scheme:
//
//   - "token" (the default): the token is taken from the first of these that
//     is present — query parameter token, header token, header
//     "Authorization: Bearer <token>", header X-Gitlab-Token — the lookup order
//     of Jenkins' Generic Webhook Trigger, and compared in constant time with
//     each secret.
//   - "hmac": an HMAC of the raw body in Config.Header (default X-Signature)
//     with Config.Algorithm (sha1, sha256 — the default — or sha512) and
//     Config.Encoding (hex — the default, either case — or base64, standard or
//     URL alphabet, padded or not), after Config.Prefix (such as "sha256=",
//     matched case-insensitively) which must then be present. Signatures are
//     decoded and compared as bytes in constant time.
//   - "standard-webhooks": Standard Webhooks v1 with "whsec_<base64>" secrets
//     (see providers.VerifyStandardWebhook) and Config.Tolerance.
//
// Inspect does not read the body, which may be any format. The event is the
// value of Config.EventHeader ("" when unset). The delivery id is the value of
// Config.DeliveryHeader; by default Webhook-Id for standard-webhooks and
// Idempotency-Key otherwise (X-Request-Id is not used by default: proxies
// make those up per request, so they do not identify a redelivery).
package generic
