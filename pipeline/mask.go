package pipeline

import (
	"bytes"
	"slices"
	"strings"
)

// MaskText replaces a masked value in the log.
const MaskText = "***"

// MinMaskLen is the shortest value masked: masking a value of two or three
// characters would garble the rest of the log for nothing.
const MinMaskLen = 4

// masker replaces the values of secrets in a stream of output with
// MaskText. A value may be split between two reads: the end of a chunk
// that could begin a value is held back until the next chunk, or the end
// of the output, decides.
type masker struct {
	values [][]byte // longest first, so a value containing another is masked whole
	first  [256]bool
	max    int
	held   []byte
	out    []byte
}

// newMasker returns a masker of values, or nil when none is at least
// MinMaskLen bytes long.
func newMasker(values []string) *masker {
	m := &masker{}
	for _, v := range values {
		if len(v) < MinMaskLen || slices.ContainsFunc(m.values, func(b []byte) bool { return string(b) == v }) {
			continue
		}
		m.values = append(m.values, []byte(v))
		m.first[v[0]] = true
		m.max = max(m.max, len(v))
	}
	if len(m.values) == 0 {
		return nil
	}
	slices.SortFunc(m.values, func(a, b []byte) int { return len(b) - len(a) })
	return m
}

// mask returns what of the held bytes and p can be written now, values
// replaced. The result is valid until the next call.
func (m *masker) mask(p []byte) []byte {
	buf := p
	if len(m.held) > 0 {
		buf = append(m.held, p...)
	}
	return m.scan(buf, false)
}

// flush returns the bytes held back, values replaced: the output ended, so
// no value can complete them.
func (m *masker) flush() []byte {
	return m.scan(m.held, true)
}

// scan replaces the values in buf. Unless final, it stops where the rest
// of buf may begin a value that the next chunk completes (a longer value
// than one that matches now included), and holds that rest back.
func (m *masker) scan(buf []byte, final bool) []byte {
	m.out = m.out[:0]
	i, from := 0, 0 // from: start of the bytes not yet copied to out
	for i < len(buf) {
		if !m.first[buf[i]] {
			i++
			continue
		}
		if !final && len(buf)-i < m.max && m.prefixAt(buf[i:]) {
			break
		}
		if n := m.matchAt(buf[i:]); n > 0 {
			m.out = append(m.out, buf[from:i]...)
			m.out = append(m.out, MaskText...)
			i += n
			from = i
			continue
		}
		i++
	}
	m.out = append(m.out, buf[from:i]...)
	m.held = append(m.held[:0:0], buf[i:]...)
	return m.out
}

// matchAt returns the length of the value b starts with, or 0.
func (m *masker) matchAt(b []byte) int {
	for _, v := range m.values {
		if bytes.HasPrefix(b, v) {
			return len(v)
		}
	}
	return 0
}

// prefixAt reports whether b, shorter than some value, begins one.
func (m *masker) prefixAt(b []byte) bool {
	for _, v := range m.values {
		if len(b) < len(v) && bytes.HasPrefix(v, b) {
			return true
		}
	}
	return false
}

// maskValues returns the values that env ("NAME=value" entries) gives the
// names, and the names whose values are too short to mask.
func maskValues(names, env []string) (values, short []string) {
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) || v == "" {
			continue
		}
		if len(v) < MinMaskLen {
			short = append(short, k)
			continue
		}
		values = append(values, v)
	}
	return values, short
}
