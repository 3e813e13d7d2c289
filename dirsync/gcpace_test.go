package dirsync

import (
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's target without changing it.
func gcPercent() int {
	old := debug.SetGCPercent(100)
	debug.SetGCPercent(old)
	return old
}

func TestPaceGCRaisesTheDefaultForOverlappingRunsAndRestoresIt(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	first := paceGC()
	if got := gcPercent(); got != RunGCPercent {
		t.Fatalf("during a run: GOGC %d, want %d", got, RunGCPercent)
	}
	second := paceGC()
	first()
	first() // a second call changes nothing
	if got := gcPercent(); got != RunGCPercent {
		t.Fatalf("while the second run goes on: GOGC %d, want %d", got, RunGCPercent)
	}
	second()
	if got := gcPercent(); got != 100 {
		t.Fatalf("after both runs: GOGC %d, want 100", got)
	}
}

func TestPaceGCLeavesTheOperatorsTargetAlone(t *testing.T) {
	for _, chosen := range []int{50, 1000, -1} {
		old := debug.SetGCPercent(chosen)
		restore := paceGC()
		if got := gcPercent(); got != chosen {
			t.Errorf("GOGC %d chosen: %d during a run", chosen, got)
		}
		restore()
		if got := gcPercent(); got != chosen {
			t.Errorf("GOGC %d chosen: %d after a run", chosen, got)
		}
		debug.SetGCPercent(old)
	}
}
