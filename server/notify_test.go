package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogTail(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, "long")
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "line %d\n", i)
	}
	if err := os.WriteFile(long, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("a\nb"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path  string
		lines int
		want  string
	}{
		{long, 3, "line 4997\nline 4998\nline 4999"},
		{short, 5, "a\nb"},
		{filepath.Join(dir, "missing"), 5, ""},
	} {
		if got := logTail(c.path, c.lines); got != c.want {
			t.Errorf("logTail(%s, %d) = %q, want %q", filepath.Base(c.path), c.lines, got, c.want)
		}
	}
	// More lines asked than 8 KiB hold: whole lines only, the cut one dropped.
	got := strings.Split(logTail(long, 100000), "\n")
	if !strings.HasPrefix(got[0], "line ") || got[len(got)-1] != "line 4999" || len(got) > 8<<10/len("line 4999\n")+1 {
		t.Errorf("a tail over the byte bound: first %q, last %q, %d lines", got[0], got[len(got)-1], len(got))
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "line ") {
			t.Fatalf("a cut line in the tail: %q", l)
		}
	}
}
