package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

// maskChunks masks the stream cut into chunks of n bytes (0: one chunk).
func maskChunks(m *masker, stream string, n int) string {
	var out bytes.Buffer
	for len(stream) > 0 {
		k := len(stream)
		if n > 0 && n < k {
			k = n
		}
		out.Write(m.mask([]byte(stream[:k])))
		stream = stream[k:]
	}
	out.Write(m.flush())
	return out.String()
}

func TestMasker(t *testing.T) {
	values := []string{"s3cr3t-token", "hunter22", "abc", "hunter2233"}
	for _, tc := range []struct{ in, want string }{
		{"no secret here\n", "no secret here\n"},
		{"token=s3cr3t-token\n", "token=***\n"},
		{"s3cr3t-tokens3cr3t-token", "******"},
		{"pw hunter22 and hunter2233!", "pw *** and ***!"}, // the longer value wins
		{"abc is too short to mask", "abc is too short to mask"},
		{"ends with hunter2", "ends with hunter2"},
		{"ends with hunter22", "ends with ***"},
		{"hunter223", "***3"},
	} {
		for _, n := range []int{0, 1, 2, 3, 5, 7} {
			if got := maskChunks(newMasker(values), tc.in, n); got != tc.want {
				t.Errorf("%q in chunks of %d: got %q, want %q", tc.in, n, got, tc.want)
			}
		}
	}
	if newMasker([]string{"", "ab", "xyz"}) != nil {
		t.Error("values all shorter than MinMaskLen give a masker")
	}
}

// FuzzMasker: however the output is cut into reads, the log is the same as
// masking it whole, and holds no value.
func FuzzMasker(f *testing.F) {
	f.Add("token=s3cr3t-token; again s3cr3t-tok", "s3cr3t-token", "cr3t", uint8(3))
	f.Add("aaaaaaaaab", "aaab", "aaaaab", uint8(1))
	f.Fuzz(func(t *testing.T, stream, v1, v2 string, n uint8) {
		m := newMasker([]string{v1, v2})
		if m == nil {
			return
		}
		whole := string(newMasker([]string{v1, v2}).scan([]byte(stream), true))
		if got := maskChunks(m, stream, int(n)); got != whole {
			t.Fatalf("chunks of %d: %q, whole: %q", n, got, whole)
		}
		for _, v := range []string{v1, v2} {
			if len(v) >= MinMaskLen && strings.Contains(whole, v) && !strings.Contains(MaskText, v) && !strings.Contains(v, "*") {
				t.Fatalf("%q still holds %q", whole, v)
			}
		}
	})
}
