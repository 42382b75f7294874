package extract_test

import (
	"os"
	"path/filepath"
	"testing"
)

// corpusDir returns the shared corpus directory: $HOOKTRIGGER_CORPUS, or the
// first shared/corpus found walking up from the package directory (the
// corpus lives next to the checkout). The test is skipped when it is absent.
func corpusDir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("HOOKTRIGGER_CORPUS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		c := filepath.Join(dir, "shared", "corpus")
		if st, err := os.Stat(c); err == nil && st.IsDir() {
			return c
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("corpus not found: set HOOKTRIGGER_CORPUS or check out next to shared/corpus")
		}
		dir = parent
	}
}

// MustReadCorpus reads a file of the corpus.
func MustReadCorpus(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir(tb), rel))
	if err != nil {
		tb.Skipf("corpus file %s absent: %v", rel, err)
	}
	return b
}
