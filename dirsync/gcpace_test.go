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

func TestRunGCPercentBoundsTheHeadroom(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, maxRunGCPercent},
		{4 << 20, maxRunGCPercent},       // 10× would be 1000
		{10 << 20, maxRunGCPercent},      // 400: exactly the headroom
		{20 << 20, 200},                  // 40 MiB more
		{40 << 20, 100},                  // the default: as much again
		{400 << 20, 100},                 // never less than the default
		{RunHeapHeadroom / 3, 300},       // between the bounds
		{RunHeapHeadroom * 10 / 25, 250}, // 40 MiB over 16 MiB
	} {
		if got := runGCPercent(c.live); got != c.want {
			t.Errorf("live %d bytes: GOGC %d, want %d", c.live, got, c.want)
		}
	}
}

func TestPaceGCRaisesTheDefaultAndRestoresIt(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	restore := PaceGC()
	if got := gcPercent(); got <= 100 || got > maxRunGCPercent {
		t.Fatalf("during a run: GOGC %d, want above 100 and at most %d", got, maxRunGCPercent)
	}
	nested := PaceGC() // the pacer is on: this changes nothing
	nested()
	RepaceGC()
	if got := gcPercent(); got <= 100 {
		t.Fatalf("after a nested start and end: GOGC %d, want still raised", got)
	}
	restore()
	restore() // a second call changes nothing
	if got := gcPercent(); got != 100 {
		t.Fatalf("after the run: GOGC %d, want 100", got)
	}
	RepaceGC() // no run: nothing to pace
	if got := gcPercent(); got != 100 {
		t.Fatalf("repaced with no run: GOGC %d, want 100", got)
	}
}

func TestPaceGCLeavesTheOperatorsTargetAlone(t *testing.T) {
	for _, chosen := range []int{50, 1000, -1} {
		old := debug.SetGCPercent(chosen)
		restore := PaceGC()
		RepaceGC()
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
