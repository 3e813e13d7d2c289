package dirsync

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// RunHeapHeadroom is how far the heap may grow past its live data while a
// full run is going, when the process runs with Go's default garbage
// collector target (GOGC=100): RunHeapHeadroom, or the live data itself
// (the default) when that is more, the collector's target kept between 100
// and maxRunGCPercent.
//
// A full run makes about 20 KB of short-lived garbage per directory entry
// (most of it go-ldap decoding the search results) while it keeps about
// 10 MB live (pages in flight, script sandboxes, the users found). At the
// default the collector ran every 10 MB allocated, some 200 times for
// 100,000 entries, and took a sixth of the run's CPU; with 40 MiB of
// headroom it runs a quarter as often, for about 35 MB more resident
// memory during the run (docs/benchmarks.md). A large directory, whose
// run keeps more live data, gets less of a raise, down to none: the
// memory a run may add stays bounded.
const RunHeapHeadroom = 40 << 20

// maxRunGCPercent bounds the collector's target during a run.
const maxRunGCPercent = 400

// liveHeapMetric is the heap the last collection found live.
const liveHeapMetric = "/gc/heap/live:bytes"

// gcPace is the process's one pacer: runs take turns, but a pacer is
// stopped and started under its lock all the same.
var gcPace struct {
	mu      sync.Mutex
	active  bool // a run paces the collector
	raised  bool // the target was the default, and is the pacer's
	percent int  // the target set last
	sample  []metrics.Sample
}

// PaceGC starts pacing the collector as a full run does (the caller calls
// RepaceGC as it goes, say once a page) and returns the function that puts
// the default target back. A target the operator chose (GOGC, or a program
// embedding the package) is left as it is. A run paces itself; the bench's
// floor search calls it so as to be measured with the same pacing.
func PaceGC() (restore func()) {
	gcPace.mu.Lock()
	defer gcPace.mu.Unlock()
	if gcPace.active {
		return func() {} // the pacer is already on
	}
	gcPace.active = true
	old := debug.SetGCPercent(100)
	gcPace.raised, gcPace.percent = old == 100, 100
	if !gcPace.raised {
		debug.SetGCPercent(old)
	}
	repaceLocked()
	var once sync.Once
	return func() {
		once.Do(func() {
			gcPace.mu.Lock()
			defer gcPace.mu.Unlock()
			if gcPace.raised {
				debug.SetGCPercent(100)
			}
			gcPace.active, gcPace.raised = false, false
		})
	}
}

// RepaceGC sets the collector's target for the live heap now, while a run
// (PaceGC) paces it.
func RepaceGC() {
	gcPace.mu.Lock()
	defer gcPace.mu.Unlock()
	repaceLocked()
}

func repaceLocked() {
	if !gcPace.active || !gcPace.raised {
		return
	}
	if gcPace.sample == nil {
		gcPace.sample = []metrics.Sample{{Name: liveHeapMetric}}
	}
	metrics.Read(gcPace.sample)
	var live uint64
	if v := gcPace.sample[0].Value; v.Kind() == metrics.KindUint64 {
		live = v.Uint64()
	}
	p := runGCPercent(live)
	// A small change is not worth telling the runtime about.
	if d := p - gcPace.percent; d > gcPace.percent/8 || -d > gcPace.percent/8 {
		debug.SetGCPercent(p)
		gcPace.percent = p
	}
}

// runGCPercent is the collector's target during a run for live bytes of
// live heap (0: not known yet, as before the first collection).
func runGCPercent(live uint64) int {
	if live == 0 {
		return maxRunGCPercent
	}
	p := uint64(100) * RunHeapHeadroom / live
	return int(min(max(p, 100), maxRunGCPercent))
}
