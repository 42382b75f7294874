// Package mac keeps keyed HMAC states ready for reuse, so verifying a delivery
// does not allocate a new hash for every secret on every request.
package mac

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"strings"
	"sync"
)

// Key is one secret with a pool of HMAC states keyed with it. Safe for
// concurrent use.
type Key struct {
	pool sync.Pool
	size int
}

// New returns a Key for secret with the named algorithm: "sha1", "sha256" or
// "sha512" (case-insensitive).
func New(algorithm string, secret []byte) (*Key, error) {
	h, err := HashFunc(algorithm)
	if err != nil {
		return nil, err
	}
	secret = append([]byte(nil), secret...) // own copy: the caller may reuse its slice
	k := &Key{size: h().Size()}
	k.pool.New = func() any { return &state{h: hmac.New(h, secret)} }
	return k, nil
}

// MustNew is New for algorithms known to be valid.
func MustNew(algorithm string, secret []byte) *Key {
	k, err := New(algorithm, secret)
	if err != nil {
		panic(err)
	}
	return k
}

// HashFunc returns the hash constructor named by algorithm.
func HashFunc(algorithm string) (func() hash.Hash, error) {
	switch strings.ToLower(algorithm) {
	case "sha1":
		return sha1.New, nil
	case "sha256", "":
		return sha256.New, nil
	case "sha512":
		return sha512.New, nil
	}
	return nil, errors.New("unknown algorithm (want sha1, sha256 or sha512)")
}

// state is one keyed HMAC with a scratch buffer for its sum, so that
// comparing does not allocate (a buffer passed to hash.Hash.Sum escapes).
type state struct {
	h   hash.Hash
	buf [sha512.Size]byte
}

// Size is the length of the MAC in bytes.
func (k *Key) Size() int { return k.size }

// Sum appends the HMAC of the concatenated parts to dst and returns it.
func (k *Key) Sum(dst []byte, parts ...[]byte) []byte {
	st := k.pool.Get().(*state)
	st.h.Reset()
	for _, p := range parts {
		st.h.Write(p)
	}
	dst = st.h.Sum(dst)
	k.pool.Put(st)
	return dst
}

// EqualAny reports whether any of candidates is the HMAC of the parts. Each
// comparison is constant-time and every candidate is compared.
func (k *Key) EqualAny(candidates [][]byte, parts ...[]byte) bool {
	st := k.pool.Get().(*state)
	st.h.Reset()
	for _, p := range parts {
		st.h.Write(p)
	}
	sum := st.h.Sum(st.buf[:0])
	ok := 0
	for _, c := range candidates {
		if hmac.Equal(c, sum) {
			ok = 1
		}
	}
	k.pool.Put(st)
	return ok == 1
}

// Equal reports in constant time whether got is the HMAC of the parts.
func (k *Key) Equal(got []byte, parts ...[]byte) bool {
	st := k.pool.Get().(*state)
	st.h.Reset()
	for _, p := range parts {
		st.h.Write(p)
	}
	ok := hmac.Equal(got, st.h.Sum(st.buf[:0]))
	k.pool.Put(st)
	return ok
}
