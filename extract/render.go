package extract

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Render substitutes $name and ${name} in text with the values of vars, as
// GWT's Renderer: at each '$' the longest variable name that follows wins
// (ties cannot occur at one position; GWT orders names longest first, then
// lexicographically, which selects the same one). Names absent from vars are
// left as literal text. Unlike GWT, a substituted value is never scanned
// again, so a payload value containing "$other" is not expanded.
func Render(text string, vars map[string]string) string {
	i := strings.IndexByte(text, '$')
	if i < 0 || len(vars) == 0 {
		return text
	}
	// distinct name lengths, longest first
	var lensBuf [32]int
	lens := lensBuf[:0]
	for k := range vars {
		if k != "" && !slices.Contains(lens, len(k)) {
			lens = append(lens, len(k))
		}
	}
	slices.SortFunc(lens, func(a, b int) int { return cmp.Compare(b, a) })

	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for i >= 0 {
		rest := text[i+1:]
		matched := false
		if strings.HasPrefix(rest, "{") {
			if end := strings.IndexByte(rest, '}'); end > 1 {
				if val, ok := vars[rest[1:end]]; ok {
					b.WriteString(text[last:i])
					b.WriteString(val)
					last = i + 1 + end + 1
					matched = true
				}
			}
		}
		if !matched {
			for _, l := range lens {
				if l > len(rest) {
					continue
				}
				if val, ok := vars[rest[:l]]; ok {
					b.WriteString(text[last:i])
					b.WriteString(val)
					last = i + 1 + l
					matched = true
					break
				}
			}
		}
		next := i + 1
		if matched {
			next = last
		}
		j := strings.IndexByte(text[next:], '$')
		if j < 0 {
			break
		}
		i = next + j
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// SanitizeName maps a variable name to the characters [A-Za-z0-9_]: GWT maps
// whitespace and '-' to '_'; hooktrigger additionally maps every other
// character (per rune) to '_', so every name is a valid environment variable
// name for a shell.
func SanitizeName(s string) string {
	ok := true
	for i := 0; i < len(s); i++ {
		if !nameByte(s[i]) {
			ok = false
			break
		}
	}
	if ok {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r < utf8.RuneSelf && nameByte(byte(r)) {
			b = append(b, byte(r))
		} else {
			b = append(b, '_')
		}
	}
	return string(b)
}

func nameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
