package main

import (
	"slices"
	"testing"
)

// Each run is set against the mapped floor runs around it: the bench runs
// floor, simulate, floor, sync, ..., and one last floor.
func TestPairedRatiosUseTheFloorsAroundEachRun(t *testing.T) {
	mapped := FloorResult{Runs: []float64{2, 4, 3, 5, 1}, Seconds: 1}
	floor := FloorResult{Runs: []float64{1, 1, 1, 1, 1}, Seconds: 1}
	runs := func(secs ...float64) *SyncResult {
		s := &SyncResult{}
		for _, v := range secs {
			s.add(childResult{Seconds: v}, 0, 0)
		}
		return s
	}
	sim, sync := runs(6, 8), runs(7, 6)
	sync.finish(floor, mapped, nil, 1)
	sim.finish(floor, mapped, sync, 0)
	// simulate 1 between floors 2 and 4, simulate 2 between 3 and 5; sync
	// 1 between 4 and 3, sync 2 between 5 and 1.
	if want := []float64{2, 2}; !slices.Equal(sim.PairedToMapped, want) {
		t.Errorf("simulate: %v, want %v", sim.PairedToMapped, want)
	}
	if want := []float64{2, 2}; !slices.Equal(sync.PairedToMapped, want) {
		t.Errorf("sync: %v, want %v", sync.PairedToMapped, want)
	}
	// One repetition: no floor after the sync.
	one := runs(9)
	one.finish(floor, FloorResult{Runs: []float64{2, 3}}, nil, 1)
	if want := []float64{3}; !slices.Equal(one.PairedToMapped, want) || one.PairedToMappedMedian != 3 {
		t.Errorf("one repetition: %v (median %v), want %v", one.PairedToMapped, one.PairedToMappedMedian, want)
	}
}
