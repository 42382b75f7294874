package extract

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// maxDepth bounds the nesting of JSON arrays/objects and XML elements.
// Deeper documents are rejected as malformed, so no recursive code in this
// package (or in the libraries it drives) can be pushed past it.
const maxDepth = 1000

// maxDecodeContainers bounds the objects and arrays of a body that is
// decoded for an indefinite JSONPath query: decoded, each costs a Go map or
// slice (a few hundred bytes), so this bounds the memory of decoding
// (ErrTooLarge). Singular queries and gjson never decode and are not bound.
const maxDecodeContainers = 250_000

// member is one member of the top-level JSON object, as raw text.
type member struct {
	key string // raw key text without quotes
	esc bool   // key contains escapes
	val string // raw value text
}

// name returns the unescaped key.
func (m *member) name() string {
	if !m.esc {
		return m.key
	}
	return gjson.Parse(`"` + m.key + `"`).Str
}

// malformedJSON builds the error for an invalid JSON body. The message of
// encoding/json is used when it agrees that the body is invalid; it is
// computed only on this error path.
func malformedJSON(s string, off int, msg string) error {
	var raw json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		if se, ok := err.(*json.SyntaxError); ok {
			off, msg = int(se.Offset), se.Error()
		} else {
			msg = err.Error()
		}
	}
	return fmt.Errorf("%w: invalid JSON at offset %d: %s", ErrMalformedBody, off, msg)
}

// scanJSON validates s strictly (RFC 8259, as encoding/json.Valid, plus a
// nesting bound) in one pass without recursion and, when the root is an
// object, records its members so that singular queries start at the right
// member instead of scanning the whole document.
func scanJSON(s string, top []member) ([]member, int, error) {
	containers := 0
	var stackBuf [32]byte
	stack := stackBuf[:0]
	n := len(s)
	i := skipWS(s, 0)
	rootObj := i < n && s[i] == '{'
	var curKey string
	var curEsc bool
	valStart := 0
	fail := func(off int, format string, args ...any) ([]member, int, error) {
		return nil, 0, malformedJSON(s, off, fmt.Sprintf(format, args...))
	}
value:
	i = skipWS(s, i)
	if i >= n {
		return fail(n, "unexpected end of JSON input")
	}
	if len(stack) == 1 && rootObj {
		valStart = i
	}
	switch c := s[i]; {
	case c == '{' || c == '[':
		if len(stack) >= maxDepth {
			return fail(i, "exceeded maximum nesting depth %d", maxDepth)
		}
		stack = append(stack, c)
		containers++
		i = skipWS(s, i+1)
		if i < n && (s[i] == '}' && c == '{' || s[i] == ']' && c == '[') {
			i++
			stack = stack[:len(stack)-1]
			goto after
		}
		if c == '{' {
			goto key
		}
		goto value
	case c == '"':
		j, _, ok := scanString(s, i)
		if !ok {
			return fail(j, "invalid string")
		}
		i = j
	case c == '-' || (c >= '0' && c <= '9'):
		j, ok := scanNumber(s, i)
		if !ok {
			return fail(j, "invalid number")
		}
		i = j
	case c == 't':
		if !strings.HasPrefix(s[i:], "true") {
			return fail(i, "invalid literal")
		}
		i += 4
	case c == 'f':
		if !strings.HasPrefix(s[i:], "false") {
			return fail(i, "invalid literal")
		}
		i += 5
	case c == 'n':
		if !strings.HasPrefix(s[i:], "null") {
			return fail(i, "invalid literal")
		}
		i += 4
	default:
		return fail(i, "invalid character %q looking for beginning of value", c)
	}
after:
	if len(stack) == 0 {
		i = skipWS(s, i)
		if i != n {
			return fail(i, "invalid character %q after top-level value", s[i])
		}
		return top, containers, nil
	}
	if len(stack) == 1 && rootObj {
		top = append(top, member{key: curKey, esc: curEsc, val: s[valStart:i]})
	}
	i = skipWS(s, i)
	if i >= n {
		return fail(n, "unexpected end of JSON input")
	}
	switch t := stack[len(stack)-1]; {
	case s[i] == ',':
		i++
		if t == '{' {
			goto key
		}
		goto value
	case t == '{' && s[i] == '}' || t == '[' && s[i] == ']':
		i++
		stack = stack[:len(stack)-1]
		goto after
	default:
		return fail(i, "invalid character %q after %s element", s[i], map[byte]string{'{': "object", '[': "array"}[t])
	}
key:
	i = skipWS(s, i)
	if i >= n || s[i] != '"' {
		return fail(i, "expected string for object key")
	}
	{
		j, esc, ok := scanString(s, i)
		if !ok {
			return fail(j, "invalid string")
		}
		if len(stack) == 1 {
			curKey, curEsc = s[i+1:j-1], esc
		}
		i = skipWS(s, j)
	}
	if i >= n || s[i] != ':' {
		return fail(i, "expected colon after object key")
	}
	i++
	goto value
}

func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString scans the string starting at the quote s[i] and returns the
// index after its closing quote and whether it contained escapes.
func scanString(s string, i int) (int, bool, bool) {
	esc := false
	i++
	for i < len(s) {
		// Skip 8 plain bytes at a time (no '"', '\\' or control character).
		for i+8 <= len(s) {
			x := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s[i:]), 8))
			q, bs := x^(lsb*'"'), x^(lsb*'\\')
			if ((x-lsb*0x20)&^x|(q-lsb)&^q|(bs-lsb)&^bs)&msb != 0 {
				break
			}
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		switch {
		case c == '"':
			return i + 1, esc, true
		case c == '\\':
			esc = true
			i++
			if i >= len(s) {
				return i, esc, false
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(s) {
					return len(s), esc, false
				}
				for k := 1; k <= 4; k++ {
					if !isHex(s[i+k]) {
						return i + k, esc, false
					}
				}
				i += 5
			default:
				return i, esc, false
			}
		case c < 0x20:
			return i, esc, false
		default:
			i++
		}
	}
	return i, esc, false
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// The string scan tests 8 bytes at once: (v-lsb*n)&^v&msb is non-zero when
// some byte of v is below n (n <= 128), so with v = x^(lsb*c) when some
// byte of x equals c. False positives only follow a true hit.

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func scanNumber(s string, i int) (int, bool) {
	n := len(s)
	if s[i] == '-' {
		i++
	}
	if i >= n {
		return i, false
	}
	switch {
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	if i < n && s[i] == '.' {
		i++
		if i >= n || s[i] < '0' || s[i] > '9' {
			return i, false
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= n || s[i] < '0' || s[i] > '9' {
			return i, false
		}
		for i < n && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i, true
}

// document is a decoded JSON body for theory/jsonpath, plus what Go's maps
// lose: the raw text of every container and escaped string (to emit JSON as
// the source had it) and the member order of every object.
type document struct {
	root   any
	conts  map[uintptr]*container
	strRaw map[uintptr]string
}

type container struct {
	raw  string
	keys []string // object member names in document order (first occurrence)
}

// decodeJSON decodes the validated text s. Duplicate member names keep their
// first value, as gjson does, so both evaluation paths agree.
func decodeJSON(s string, record bool) *document {
	d := &document{}
	if record {
		d.conts = make(map[uintptr]*container)
		d.strRaw = make(map[uintptr]string)
	}
	d.root, _ = d.value(s, skipWS(s, 0))
	return d
}

func (d *document) value(s string, i int) (any, int) {
	switch c := s[i]; {
	case c == '{':
		start := i
		m := make(map[string]any)
		var keys []string
		i = skipWS(s, i+1)
		if s[i] == '}' {
			return m, i + 1
		}
		for {
			j, esc, _ := scanString(s, i)
			k := s[i+1 : j-1]
			if esc {
				k = gjson.Parse(s[i:j]).Str
			}
			i = skipWS(s, j)
			i = skipWS(s, i+1) // ':'
			var v any
			v, i = d.value(s, i)
			if _, dup := m[k]; !dup {
				m[k] = v
				keys = append(keys, k)
			}
			i = skipWS(s, i)
			if s[i] == '}' {
				i++
				break
			}
			i = skipWS(s, i+1) // ','
		}
		if d.conts != nil {
			d.conts[reflect.ValueOf(m).Pointer()] = &container{raw: s[start:i], keys: keys}
		}
		return m, i
	case c == '[':
		start := i
		var a []any
		i = skipWS(s, i+1)
		if s[i] == ']' {
			return []any{}, i + 1
		}
		for {
			var v any
			v, i = d.value(s, i)
			a = append(a, v)
			i = skipWS(s, i)
			if s[i] == ']' {
				i++
				break
			}
			i = skipWS(s, i+1)
		}
		if d.conts != nil {
			d.conts[reflect.ValueOf(a).Pointer()] = &container{raw: s[start:i]}
		}
		return a, i
	case c == '"':
		j, esc, _ := scanString(s, i)
		if !esc {
			return s[i+1 : j-1], j
		}
		str := gjson.Parse(s[i:j]).Str
		if d.strRaw != nil && len(str) > 0 {
			d.strRaw[uintptr(unsafe.Pointer(unsafe.StringData(str)))] = s[i:j]
		}
		return str, j
	case c == 't':
		return true, i + 4
	case c == 'f':
		return false, i + 5
	case c == 'n':
		return nil, i + 4
	default:
		j, _ := scanNumber(s, i)
		return json.Number(s[i:j]), j
	}
}

// result converts a node of d back to a gjson.Result holding its source text.
func (d *document) result(v any) gjson.Result {
	switch v := v.(type) {
	case string:
		raw := ""
		if len(v) > 0 {
			raw = d.strRaw[uintptr(unsafe.Pointer(unsafe.StringData(v)))]
		}
		if raw == "" {
			raw = quoteJSON(v)
		}
		return gjson.Result{Type: gjson.String, Str: v, Raw: raw}
	case json.Number:
		return gjson.Result{Type: gjson.Number, Raw: string(v)}
	case bool:
		if v {
			return gjson.Result{Type: gjson.True, Raw: "true"}
		}
		return gjson.Result{Type: gjson.False, Raw: "false"}
	case nil:
		return gjson.Result{Type: gjson.Null, Raw: "null"}
	case map[string]any:
		if len(v) == 0 {
			return gjson.Result{Type: gjson.JSON, Raw: "{}"}
		}
		return gjson.Result{Type: gjson.JSON, Raw: d.conts[reflect.ValueOf(v).Pointer()].raw}
	case []any:
		if len(v) == 0 {
			return gjson.Result{Type: gjson.JSON, Raw: "[]"}
		}
		return gjson.Result{Type: gjson.JSON, Raw: d.conts[reflect.ValueOf(v).Pointer()].raw}
	}
	return gjson.Result{}
}

// keys returns the member names of object m in document order.
func (d *document) keys(m map[string]any) []string {
	if c := d.conts[reflect.ValueOf(m).Pointer()]; c != nil {
		return c.keys
	}
	return nil
}

// quoteJSON encodes s as a JSON string, escaping only what JSON requires
// (no HTML escaping).
func quoteJSON(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			b.WriteString(`\"`)
		case c == '\\':
			b.WriteString(`\\`)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\b':
			b.WriteString(`\b`)
		case c == '\f':
			b.WriteString(`\f`)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// toAny decodes a gjson.Result into the node representation (json.Number
// for numbers, member order is not kept by Go maps).
func toAny(r gjson.Result) any {
	switch r.Type {
	case gjson.String:
		return r.Str
	case gjson.Number:
		return json.Number(r.Raw)
	case gjson.True:
		return true
	case gjson.False:
		return false
	case gjson.Null:
		return nil
	}
	if r.Raw == "" {
		return nil
	}
	v, _ := (&document{}).value(r.Raw, skipWS(r.Raw, 0))
	return v
}

// compactJSON removes insignificant whitespace from valid JSON text, keeping
// everything else (member order, string escapes) as it is.
func compactJSON(raw string) string {
	first := -1
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			i, _, _ = scanString(raw, i)
			i--
		case ' ', '\t', '\n', '\r':
			first = i
		}
		if first >= 0 {
			break
		}
	}
	if first < 0 {
		return raw
	}
	b := make([]byte, 0, len(raw))
	b = append(b, raw[:first]...)
	for i := first; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '"':
			j, _, _ := scanString(raw, i)
			b = append(b, raw[i:j]...)
			i = j - 1
		case ' ', '\t', '\n', '\r':
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
