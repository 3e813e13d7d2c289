package script

import (
	"sync"
	"testing"
)

// A SetCache compiles a server's scripts once per version of their text; a
// script that does not compile is an error that leaves the last good Set.
func TestSetCacheCompilesOncePerText(t *testing.T) {
	var c SetCache
	active, org, role := "function(entry) { return true; }", `function(entry) { return "Sales"; }`, ""
	first, err := c.Compile(1, active, org, role)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if again, err := c.Compile(1, active, org, role); err != nil || again != first {
				t.Errorf("same text: %p, %v; want the first Set %p", again, err, first)
			}
		})
	}
	wg.Wait()
	other, err := c.Compile(2, active, org, role)
	if err != nil || other == first {
		t.Fatalf("another server: %p, %v; want a Set of its own", other, err)
	}
	// The texts are compared whole: moving a character from one script to
	// the next is an edit.
	if moved, err := c.Compile(1, active+" ", org, role); err != nil || moved == first {
		t.Fatalf("edited: %p, %v; want a new Set", moved, err)
	}
	if _, err := c.Compile(1, "function(entry) { return ( }", org, role); err == nil {
		t.Fatal("a broken script compiled")
	}
	if again, err := c.Compile(1, active+" ", org, role); err != nil || again == first {
		t.Fatalf("after a broken edit: %p, %v", again, err)
	}
}
