package server

import (
	"fmt"
	"testing"
	"time"

	"github.com/hooktrigger/hooktrigger/trigger"
)

// TestFilesCache: lists expire after prFilesTTL, and the cache never holds
// more than prFilesMax of them.
func TestFilesCache(t *testing.T) {
	var c filesCache
	f := trigger.Files{List: []string{"a.go"}, Known: true}
	c.put("k", f)
	if got, ok := c.get("k"); !ok || len(got.List) != 1 {
		t.Fatalf("get after put: %v %v", got, ok)
	}
	c.m["old"] = cachedFiles{f: f, at: time.Now().Add(-prFilesTTL - time.Second)}
	if _, ok := c.get("old"); ok {
		t.Error("an expired list was returned")
	}
	for i := range 3 * prFilesMax {
		c.put(fmt.Sprint(i), f)
		if len(c.m) > prFilesMax {
			t.Fatalf("%d lists held after %d puts, more than %d", len(c.m), i+1, prFilesMax)
		}
	}
	if _, ok := c.get(fmt.Sprint(3*prFilesMax - 1)); !ok {
		t.Error("the list put last is gone")
	}
}
