// Package providers verifies and understands webhook deliveries.
//
// A [Provider] is configured for one trigger. For every HTTP delivery the server
// builds a [Request] from the headers, query and raw body it received, then calls
// [Provider.Verify] (is the sender who it claims to be?) and [Provider.Inspect]
// (which event is it, which delivery, which repository, ref and commit?).
//
// The senders live in subpackages: github, gitlab and generic. This package holds
// what they share: the interface, the [Info] they fill, the error vocabulary
// ([ErrUnauthorized], [ErrMalformed]), constant-time token comparison, Standard
// Webhooks signing and verification, and the per-trigger IP [AllowList].
//
// Everything here is a library: no globals, no logging, no I/O beyond the
// request it is given. Errors never contain secrets, expected MACs or the
// signatures a client sent.
package providers
