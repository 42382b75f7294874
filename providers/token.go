package providers

import (
	"crypto/sha256"
	"crypto/subtle"
)

// TokenMatches reports whether token equals any of secrets. The comparison
// takes the same time whatever the token, its length or which secret it
// matches: both sides are hashed first and every secret is tried.
func TokenMatches(token string, secrets [][]byte) bool {
	got := sha256.Sum256([]byte(token))
	match := 0
	for _, s := range secrets {
		want := sha256.Sum256(s)
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	return match == 1
}
