package main

import (
	"encoding/json"
	"fmt"
	"os"
)

// millionPeople is the size from which the sync's peak RSS target is 1 GB
// (issue 13) instead of 300 MB.
const millionPeople = 1000000

// readGrowthFrom reads an earlier report (-out) and keeps its main figures
// as the reference the growth compares with.
func (r *Report) readGrowthFrom(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: -growth-from: %w", err)
	}
	var earlier Report
	if err := json.Unmarshal(raw, &earlier); err != nil {
		return fmt.Errorf("bench: -growth-from %s: %w", path, err)
	}
	if earlier.Main == nil || earlier.Main.Sync == nil || earlier.Main.Simulate == nil {
		return fmt.Errorf("bench: -growth-from %s: no main figures", path)
	}
	r.Reference = earlier.Main
	return nil
}

// growth compares m with the smaller size t.
func growth(m, t *RunReport, from string) *Growth {
	g := &Growth{From: from, FromPeople: t.People, PeopleRatio: ratio(float64(m.People), float64(t.People)),
		SyncTimeRatio: ratio(m.Sync.Seconds, t.Sync.Seconds), SimulateTimeRatio: ratio(m.Simulate.Seconds, t.Simulate.Seconds),
		FloorTimeRatio: ratio(m.Floor.Seconds, t.Floor.Seconds), SyncCPURatio: ratio(m.Sync.CPUSeconds, t.Sync.CPUSeconds),
		SyncPeakRSSRatio:   ratio(float64(m.Sync.PeakRSSBytes), float64(t.Sync.PeakRSSBytes)),
		DatabaseBuildRatio: ratio(m.Setup.DatabaseSeconds, t.Setup.DatabaseSeconds)}
	if m.SignIn != nil && t.SignIn != nil {
		g.SignInP99Ratio = ratio(m.SignIn.Product.P99Ms, t.SignIn.Product.P99Ms)
	}
	return g
}

// evaluate computes the growth and the targets.
func (r *Report) evaluate() {
	m := r.Main
	add := func(name string, value, limit float64, unit string, lessOrEqual bool, note string) {
		met := value <= limit
		if !lessOrEqual {
			met = value < limit
		}
		st := "missed"
		if met {
			st = "met"
		}
		r.Targets = append(r.Targets, Target{Name: name, Value: value, Limit: limit, Unit: unit, Met: met, Status: st, Note: note})
	}
	atLeast := func(name string, value, limit float64, unit, note string) {
		met := value >= limit
		st := map[bool]string{true: "met", false: "missed"}[met]
		r.Targets = append(r.Targets, Target{Name: name, Value: value, Limit: limit, Unit: unit, Met: met, Status: st, Note: "at least; " + note})
	}
	skip := func(name string, limit float64, unit, why string) {
		r.Targets = append(r.Targets, Target{Name: name, Limit: limit, Unit: unit, Status: "skipped", Note: why})
	}
	add("sync time / floor (mapped attributes) time", m.Sync.RatioToMapped, targetSyncToFloor, "×", true,
		fmt.Sprintf("%.2fs / %.2fs; median %.2f×", m.Sync.Seconds, m.MappedFloor.Seconds, m.Sync.RatioToMappedMedian))
	add("simulate time / floor (mapped attributes) time", m.Simulate.RatioToMapped, targetSimulateToMapped, "×", true,
		fmt.Sprintf("%.2fs / %.2fs; median %.2f×", m.Simulate.Seconds, m.MappedFloor.Seconds, m.Simulate.RatioToMappedMedian))
	add("sync time / floor (*) time", m.Sync.RatioToFloor, targetSyncToFloor, "×", true,
		fmt.Sprintf("%.2fs / %.2fs; median %.2f×", m.Sync.Seconds, m.Floor.Seconds, m.Sync.RatioToFloorMedian))
	add("simulate time / sync time", m.Simulate.RatioToSync, targetSimulateToSync, "×", true,
		fmt.Sprintf("%.2fs / %.2fs", m.Simulate.Seconds, m.Sync.Seconds))
	rssLimit := targetPeakRSSMB
	if m.People >= millionPeople {
		rssLimit = targetPeakRSSMBMillion
	}
	add("peak RSS of the server during the sync", float64(max(m.Sync.PeakRSSBytes, m.Simulate.PeakRSSBytes))/mb, rssLimit, "MB", false,
		fmt.Sprintf("sync %.0f MB, simulate %.0f MB", m.Sync.PeakRSSMB, m.Simulate.PeakRSSMB))
	t, from := r.Tenth, "tenth"
	if t == nil && r.Reference != nil {
		t, from = r.Reference, r.Options.GrowthFrom
	}
	if t != nil {
		g := growth(m, t, from)
		r.Growth = g
		add(fmt.Sprintf("sync time at %d / at %d people", m.People, t.People), max(g.SyncTimeRatio, g.SimulateTimeRatio), targetGrowth, "×", true,
			fmt.Sprintf("sync %.2fs / %.2fs = %.1f×, simulate %.2fs / %.2fs = %.1f×", m.Sync.Seconds, t.Sync.Seconds, g.SyncTimeRatio,
				m.Simulate.Seconds, t.Simulate.Seconds, g.SimulateTimeRatio))
	} else {
		skip("sync time at N / at N/10 people", targetGrowth, "×", "-also-tenth=false")
	}
	if inc := m.Incremental; inc != nil {
		add("incremental run time / full run time", inc.RatioToFull, targetIncrementalToFull, "×", false,
			fmt.Sprintf("%.3fs / %.2fs after %d changes, %s mode", inc.Seconds, inc.FullSeconds, inc.Changes.Total, inc.Mode))
	} else {
		skip("incremental run time / full run time", targetIncrementalToFull, "×", "-incremental-changes 0")
	}
	if s := m.SignIn; s != nil {
		add("sign-in p99 / raw search+bind p99", s.P99Ratio, targetSignInP99, "×", true,
			fmt.Sprintf("%.1f ms / %.1f ms", s.Product.P99Ms, s.Raw.P99Ms))
		add("sign-in p99 / kept-open search+bind p99", s.P99RatioKeptOpen, targetSignInP99KeptOpen, "×", true,
			fmt.Sprintf("%.1f ms / %.1f ms", s.Product.P99Ms, s.KeptOpen.P99Ms))
		atLeast("sign-ins per second", s.Product.PerSecond, targetSignInsPerSecond, "/s",
			fmt.Sprintf("%d clients; kept-open floor %.0f/s", s.Product.Clients, s.KeptOpen.PerSecond))
	} else {
		skip("sign-in p99 / raw search+bind p99", targetSignInP99, "×", "-skip-signin")
		skip("sign-in p99 / kept-open search+bind p99", targetSignInP99KeptOpen, "×", "-skip-signin")
		skip("sign-ins per second", targetSignInsPerSecond, "/s", "-skip-signin")
	}
	if s := m.SignIn; s != nil && s.Registration != nil {
		reg := s.Registration
		atLeast("registrations per second", reg.PerSecond, targetRegistrationsRate, "/s",
			fmt.Sprintf("%d people, %d clients, p99 %.1f ms", reg.Count, reg.Clients, reg.P99Ms))
	} else {
		skip("registrations per second", targetRegistrationsRate, "/s", "-skip-signin or -registrations 0")
	}
	if s := m.SignIn; s != nil && s.Attack != nil {
		at := s.Attack
		atLeast("sign-ins under attack / unloaded", at.ThroughputRatio, targetUnderAttack, "×",
			fmt.Sprintf("%.0f/s / %.0f/s, %d attackers at %.0f answers/s", at.UnderAttack.PerSecond, at.Unloaded.PerSecond, at.Attackers, at.AttackPerSecond))
		add("server CPU per throttled answer", at.ServerCPUMsPerThrottled, targetThrottledCPUMs, "ms", false,
			fmt.Sprintf("%.0f answers/s, %.1f%% of them 429", at.AlonePerSecond, 100*at.AloneThrottledShare))
	} else {
		why := "-skip-signin"
		if r.Options.Attackers == 0 {
			why = "-attackers 0"
		}
		skip("sign-ins under attack / unloaded", targetUnderAttack, "×", why)
		skip("server CPU per throttled answer", targetThrottledCPUMs, "ms", why)
	}
}
