package gitlab_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

// TestProvider_Inspect_Golden pins what Inspect makes of every corpus
// payload, one JSON line per file, in ../testdata/gitlab.golden.
func TestProvider_Inspect_Golden(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	var b strings.Builder
	for _, c := range corpusEvents {
		r := &providers.Request{Header: http.Header{"X-Gitlab-Event": {c.header}}, Body: providertest.MustRead(t, "gitlab/"+c.file)}
		info, err := p.Inspect(r)
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		b.WriteString(providertest.InfoLine(c.file+" ("+c.header+")", info))
		b.WriteByte('\n')
	}
	providertest.Golden(t, "../testdata/gitlab.golden", []byte(b.String()))
}
