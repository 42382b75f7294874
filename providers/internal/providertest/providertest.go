// Package providertest finds the shared webhook corpus for the providers'
// tests. It is imported only by tests.
package providertest

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hooktrigger/hooktrigger/providers"
)

// CorpusDir returns the corpus directory (the one holding github/, gitlab/
// and signatures/): $HOOKTRIGGER_CORPUS if set, else the first
// shared/corpus found walking up from the working directory. It skips the
// test when there is none.
func CorpusDir(tb testing.TB) string {
	tb.Helper()
	dir, why := find()
	if dir == "" {
		tb.Skip(why)
	}
	return dir
}

func find() (dir, why string) {
	if dir := os.Getenv("HOOKTRIGGER_CORPUS"); dir != "" {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir, ""
		}
		return "", "HOOKTRIGGER_CORPUS=" + dir + " is not a directory; skipping corpus test"
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", "no working directory; skipping corpus test"
	}
	for dir := wd; ; {
		c := filepath.Join(dir, "shared", "corpus")
		if fi, err := os.Stat(c); err == nil && fi.IsDir() {
			return c, ""
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	return "", "webhook corpus not found: no shared/corpus above the package directory and HOOKTRIGGER_CORPUS unset; skipping corpus test"
}

// Seeds returns the corpus files matching pattern with their content, for
// seeding fuzz targets; none when there is no corpus (the fuzz target then
// runs on its own seeds instead of being skipped).
func Seeds(tb testing.TB, pattern string) map[string][]byte {
	tb.Helper()
	if dir, _ := find(); dir == "" {
		return nil
	}
	out := make(map[string][]byte)
	for _, f := range Glob(tb, pattern) {
		out[f] = MustRead(tb, f)
	}
	return out
}

// MustRead returns the content of the corpus file at rel (slash-separated,
// relative to CorpusDir).
func MustRead(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(CorpusDir(tb), filepath.FromSlash(rel)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Glob returns the corpus files matching pattern (slash-separated, relative
// to CorpusDir), relative to CorpusDir with slashes.
func Glob(tb testing.TB, pattern string) []string {
	tb.Helper()
	dir := CorpusDir(tb)
	matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]string, 0, len(matches))
	for _, m := range matches {
		rel, err := filepath.Rel(dir, m)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

var update = flag.Bool("update", false, "rewrite golden files under providers/testdata")

// Golden compares got with the golden file at path (relative to the test's
// package directory) and rewrites the file instead when -update is given.
func Golden(tb testing.TB, path string, got []byte) {
	tb.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("%v (run go test -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			tb.Fatalf("%s:%d differs (go test -update rewrites it after review)\n got: %s\nwant: %s", path, i+1, g, w)
		}
	}
}

// InfoLine renders an Info as one JSON object of its non-empty fields, with
// sorted keys, for golden files.
func InfoLine(name string, info *providers.Info) string {
	m := map[string]any{"file": name}
	v := reflect.ValueOf(*info)
	for i := 0; i < v.NumField(); i++ {
		if f := v.Field(i); !f.IsZero() {
			m[v.Type().Field(i).Name] = f.Interface()
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}
