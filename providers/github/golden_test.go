package github_test

import (
	"path"
	"sort"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/providers"
	"github.com/hooktrigger/hooktrigger/providers/internal/providertest"
)

// TestProvider_Inspect_Golden pins what Inspect makes of every corpus
// payload, one JSON line per file, in ../testdata/github.golden.
func TestProvider_Inspect_Golden(t *testing.T) {
	p := mustNew(t, providers.Config{AllowUnsigned: true})
	files := providertest.Glob(t, "github/*/*.json")
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		event := path.Base(path.Dir(f))
		r := signedRequest([]byte("x"), event, "", providertest.MustRead(t, f))
		info, err := p.Inspect(r)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		b.WriteString(providertest.InfoLine(strings.TrimPrefix(f, "github/"), info))
		b.WriteByte('\n')
	}
	providertest.Golden(t, "../testdata/github.golden", []byte(b.String()))
}
