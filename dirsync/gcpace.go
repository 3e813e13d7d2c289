package dirsync

import (
	"runtime/debug"
	"sync"
)

// RunGCPercent is the garbage collector's target (as GOGC) while a full
// run is going, when the process runs with Go's default of 100.
//
// A full run makes about 20 KB of short-lived garbage per directory entry
// (most of it go-ldap decoding the search results) while it keeps about
// 10 MB live (pages in flight, script sandboxes, the users found). At the
// default, the collector runs every 10 MB allocated, some 200 times for
// 100,000 entries, and took a sixth of the run's CPU. At 300 it runs a
// third as often; the heap may grow to four times the live data, which at
// 100,000 entries is about 35 MB more resident memory for the length of
// the run (docs/benchmarks.md).
const RunGCPercent = 300

// gcPace counts the full runs going, so that overlapping runs raise the
// target once and the last one to end restores it.
var gcPace struct {
	mu     sync.Mutex
	runs   int
	raised bool // the target was the default and is raised
}

// paceGC raises the collector's target to RunGCPercent for a full run and
// returns the function that puts it back. A target the operator chose
// (GOGC, or a program embedding the package) is left as it is.
func paceGC() (restore func()) {
	gcPace.mu.Lock()
	defer gcPace.mu.Unlock()
	if gcPace.runs == 0 {
		if old := debug.SetGCPercent(RunGCPercent); old == 100 {
			gcPace.raised = true
		} else {
			debug.SetGCPercent(old)
			gcPace.raised = false
		}
	}
	gcPace.runs++
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPace.mu.Lock()
			defer gcPace.mu.Unlock()
			gcPace.runs--
			if gcPace.runs == 0 && gcPace.raised {
				debug.SetGCPercent(100)
				gcPace.raised = false
			}
		})
	}
}
