package config_test

import (
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/config"
)

var errLine = regexp.MustCompile(`^fuzz\.yaml:\d+: `)

// FuzzLoadBytes feeds arbitrary bytes to the config loader: it never
// panics, and a refusal is a list of "file:line: …" messages wrapping
// ErrInvalid, never some other error.
func FuzzLoadBytes(f *testing.F) {
	for _, path := range []string{
		"../examples/quickstart/hooktrigger.yaml",
		"../examples/github/hooktrigger.yaml",
		"../examples/gitlab/hooktrigger.yaml",
		"../examples/generic/hooktrigger.yaml",
		"../examples/jenkins-migration/hooktrigger.yaml",
	} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("triggers:\n  - name: a\n    allow_unsigned: true\n    variables: [{name: v, jsonpath: '$.a[?@.b > 1]'}]\n    filter: {cel: 'vars.v == \"x\"', text: $v, regexp: '^x$'}\n    run: {command: [true], concurrency: {group: g-$v, policy: queue}}\n"))
	f.Add([]byte("triggers: [{name: a, token: t, genericVariables: [{key: k, value: $.x}], regexpFilterText: $k, regexpFilterExpression: '^(?!z)'}]\n"))
	f.Add([]byte("triggers:\n  - name: a\n    allow_unsigned: true\n    variables: [{name: s, cel: 'body.after.substring(0, 7)', default: none}, {name: l, cel: 'body.commits.map(c, c.id)'}]\n    run: {command: [true], wait: 5s}\n"))
	f.Add([]byte("triggers:\n  - name: a\n    allow_unsigned: true\n    run: {command: [true], retry: {max: 2, delay: 1s, on: [failed, timed_out]}}\n    notify: [{url: 'https://chat.example.org/h?t=x', format: slack, on: failed}, {url: 'file:/nonexistent'}]\n"))
	f.Add([]byte("listen: [\n"))
	f.Add([]byte("&a [*a]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		_, err := config.LoadBytes("fuzz.yaml", data)
		if err == nil {
			return
		}
		if !errors.Is(err, config.ErrInvalid) {
			t.Fatalf("error does not wrap ErrInvalid: %v", err)
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !errLine.MatchString(line) {
				t.Fatalf("message without file:line: %q", line)
			}
		}
	})
}
