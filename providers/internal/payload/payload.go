// Package payload holds the small JSON helpers the providers share to read
// a delivery's fields with gjson without copying the body.
package payload

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/hooktrigger/hooktrigger/providers"
)

// Doc returns a gjson object over body without copying it. Results taken from
// it alias body: pass every string that outlives the call through Str or Num,
// which copy.
func Doc(body []byte) gjson.Result {
	return gjson.Result{Type: gjson.JSON, Raw: view(body)}
}

// Object reports whether body is one JSON object. When body is r.Body and
// r.ObjectBody already found it one, the body is not read again; any other
// answer is checked here, so a stricter earlier validation (nesting limits)
// never rejects what Valid accepts.
func Object(r *providers.Request, body []byte) bool {
	if r.ObjectBody != nil && len(body) > 0 && len(body) == len(r.Body) && &body[0] == &r.Body[0] {
		if object, known := r.ObjectBody(); known && object {
			return true
		}
	}
	return Valid(body)
}

// Valid reports whether body is one JSON object.
func Valid(body []byte) bool {
	v := view(body)
	if !gjson.Valid(v) {
		return false
	}
	v = strings.TrimLeft(v, " \t\r\n")
	return v != "" && v[0] == '{'
}

func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Str returns a copy of r's value when r is a JSON string, else "".
func Str(r gjson.Result) string {
	if r.Type != gjson.String {
		return ""
	}
	return strings.Clone(r.Str)
}

// Num returns a copy of the literal text of r when r is a JSON integer
// (such as a pull request number), a copy of r's value when r is a string of
// decimal digits, else "".
func Num(r gjson.Result) string {
	var s string
	switch r.Type {
	case gjson.Number:
		s = r.Raw
	case gjson.String:
		s = r.Str
	default:
		return ""
	}
	if s == "" {
		return ""
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ""
		}
	}
	return strings.Clone(s)
}

// First returns a copy of the first of the strings that is not empty.
func First(rs ...gjson.Result) string {
	for _, r := range rs {
		if s := Str(r); s != "" {
			return s
		}
	}
	return ""
}

// SplitRef returns the branch or tag a full ref names.
func SplitRef(ref string) (branch, tag string) {
	if b, ok := strings.CutPrefix(ref, "refs/heads/"); ok {
		return b, ""
	}
	if t, ok := strings.CutPrefix(ref, "refs/tags/"); ok {
		return "", t
	}
	return "", ""
}
