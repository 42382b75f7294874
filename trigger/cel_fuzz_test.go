package trigger_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/hooktrigger/hooktrigger/extract"
	"github.com/hooktrigger/hooktrigger/trigger"
)

// FuzzCELValue evaluates CEL variables on arbitrary bodies and query
// values: never a panic, and a value, when there is one, is JSON.
func FuzzCELValue(f *testing.F) {
	exprs := []string{
		`body.after.substring(0, 7)`,
		`body.commits.map(c, c.id)`,
		`size(body.commits)`,
		`has(query.env) ? query.env.upperAscii() : "dev"`,
		`vars.ref.split("/")`,
		`body`,
	}
	var evals []extract.Evaluator
	for _, e := range exprs {
		ev, err := trigger.CompileCELValue(e)
		if err != nil {
			f.Fatalf("%s: %v", e, err)
		}
		evals = append(evals, ev)
	}
	f.Add([]byte(`{"after":"4f2b1c9e","commits":[{"id":"a"},{"id":"b"}]}`), "prod", "refs/heads/main")
	f.Add([]byte(`{"after":"ab","commits":"x"}`), "", "")
	f.Add([]byte(`[1,2,{"a":null}]`), "\x00", "a/b/c")
	f.Add([]byte(`not json`), "e", "")
	f.Fuzz(func(t *testing.T, body []byte, env, ref string) {
		if len(body) > 1<<16 {
			return
		}
		q := url.Values{}
		if env != "" {
			q.Set("env", env)
		}
		in := extract.NewInput(body, http.Header{"Content-Type": {"application/json"}}, q)
		vars := map[string]string{"ref": ref}
		for i, ev := range evals {
			if js, ok := ev(in, vars); ok && !json.Valid(js) {
				t.Fatalf("%s gave %q, not JSON", exprs[i], js)
			}
		}
	})
}
