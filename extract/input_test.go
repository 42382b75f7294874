package extract_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
)

func TestInput_ObjectBody(t *testing.T) {
	for _, c := range []struct {
		body, contentType string
		object, known     bool
	}{
		{`{"ref": "refs/heads/main"}`, "application/json", true, true},
		{` [1, 2]`, "application/json", false, true},
		{`{"ref": `, "application/json", false, true},
		{``, "", false, true},
		{strings.Repeat("[", 100000) + strings.Repeat("]", 100000), "application/json", false, true},
		// The input reads the form's payload field, not the raw body.
		{`payload=%7B%7D`, "application/x-www-form-urlencoded", false, false},
	} {
		h := http.Header{}
		if c.contentType != "" {
			h.Set("Content-Type", c.contentType)
		}
		object, known := extract.NewInput([]byte(c.body), h, nil).ObjectBody()
		if object != c.object || known != c.known {
			t.Errorf("ObjectBody(%.30q) = %v, %v; want %v, %v", c.body, object, known, c.object, c.known)
		}
	}
}
