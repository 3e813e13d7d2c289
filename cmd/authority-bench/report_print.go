package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// print writes the figures as a table.
func (r *Report) print(w io.Writer) {
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	p := func(format string, a ...any) { fmt.Fprintf(bw, format+"\n", a...) }
	p("")
	p("== authority-bench: %s", r.Command)
	p("machine: %d CPUs, %s, %s RAM, %s, kernel %s, %s", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.MemTotal, r.Machine.GoVersion, r.Machine.Kernel, r.Machine.SlapdVersion)
	for _, rr := range []*RunReport{r.Tenth, r.Main} {
		if rr == nil {
			continue
		}
		p("")
		p("-- %d people (%d users in scope; %s)", rr.People, rr.Users, rr.Valve)
		p("   setup: people %.1fs, directory %.1fs, database %.1fs (%.0f MB)", rr.Setup.GenerateSeconds, rr.Setup.DirectorySeconds, rr.Setup.DatabaseSeconds, float64(rr.Setup.DatabaseBytes)/mb)
		p("   %-26s %8s %8s %8s %8s %8s %8s %8s", "figure", "fastest", "÷ floor", "median", "÷ floor", "CPU-s", "slapd-s", "peak RSS")
		f, fm := rr.Floor, rr.MappedFloor
		p("   %-26s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %5.0f MB  (runs %s)", "floor (*)", f.Seconds, 1.0, f.SecondsMedian, 1.0, f.CPUSeconds, f.SlapdCPUSeconds, float64(f.PeakRSSBytes)/mb, floats(f.Runs))
		p("   %-26s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %5.0f MB  (runs %s)", "floor (mapped attributes)", fm.Seconds, ratio(fm.Seconds, f.Seconds), fm.SecondsMedian, ratio(fm.SecondsMedian, f.SecondsMedian),
			fm.CPUSeconds, fm.SlapdCPUSeconds, float64(fm.PeakRSSBytes)/mb, floats(fm.Runs))
		p("   %-26s %s", "  mapped attributes:", strings.Join(fm.Attributes, ", "))
		for _, s := range []struct {
			name string
			r    *SyncResult
		}{{"simulate synchronize", rr.Simulate}, {"full DIRSYNC", rr.Sync}} {
			p("   %-26s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %5.0f MB  (runs %s)", s.name, s.r.Seconds, s.r.RatioToFloor, s.r.SecondsMedian, s.r.RatioToFloorMedian,
				s.r.CPUSeconds, s.r.SlapdCPUSeconds, s.r.PeakRSSMB, floats(s.r.Runs))
			p("   %-26s ÷ floor (mapped attributes): fastest %.2f×, median %.2f×", "", s.r.RatioToMapped, s.r.RatioToMappedMedian)
			if len(s.r.PairedToMapped) > 0 {
				p("   %-26s ÷ the mapped floor runs around each run: least %.2f×, median %.2f× (%s)", "", s.r.PairedToMappedLeast, s.r.PairedToMappedMedian, floats(s.r.PairedToMapped))
			}
			extra := ""
			if s.r.RatioToSync > 0 {
				extra = fmt.Sprintf("; %.2f× the sync", s.r.RatioToSync)
			}
			match := "as expected"
			if !s.r.CountsMatch {
				match = fmt.Sprintf("EXPECTED %s in every run; error lines %q", countsText(s.r.Expected), s.r.ErrorLines)
			}
			p("   %-26s status %s, CPU (with slapd's) %.2f× the floor's%s", "", s.r.Status, s.r.CPURatioToFloor, extra)
			p("   %-26s counts %s (%s)", "", countsText(s.r.Counts), match)
		}
		if s := rr.SignIn; s != nil {
			p("   %-26s %9s %9s %9s %9s %9s", fmt.Sprintf("sign-in, %d clients", s.Product.Clients), "per s", "median ms", "p99 ms", "max ms", "errors")
			p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "raw LDAP search+bind", s.Raw.PerSecond, s.Raw.MedianMs, s.Raw.P99Ms, s.Raw.MaxMs, s.Raw.Errors)
			p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "kept-open LDAP search+bind", s.KeptOpen.PerSecond, s.KeptOpen.MedianMs, s.KeptOpen.P99Ms, s.KeptOpen.MaxMs, s.KeptOpen.Errors)
			p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "POST /api/v1/login", s.Product.PerSecond, s.Product.MedianMs, s.Product.P99Ms, s.Product.MaxMs, s.Product.Errors)
			p("   %-26s %9.2f %9.2f %9.2f", "÷ raw", s.ThroughputRatio, s.MedianRatio, s.P99Ratio)
			p("   %-26s %9.2f %9.2f %9.2f", "÷ kept-open", s.ThroughputRatioKeptOpen, s.MedianRatioKeptOpen, s.P99RatioKeptOpen)
			cpu := func(l LoadResult) string {
				return fmt.Sprintf("server %.2f + slapd %.2f + client %.2f", l.CPUMsPerSignIn["server"], l.CPUMsPerSignIn["slapd"], l.CPUMsPerSignIn["client"])
			}
			p("   %-26s raw: %s; kept-open: %s; login: %s", "CPU ms per sign-in", cpu(s.Raw), cpu(s.KeptOpen), cpu(s.Product))
			if reg := s.Registration; reg != nil {
				p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d  (%d people in %.1fs; CPU ms per registration: %s)", "registration (login + key)", reg.PerSecond, reg.MedianMs, reg.P99Ms, reg.MaxMs, reg.Errors,
					reg.Count, reg.Seconds, cpu(reg.LoadResult))
			}
			if at := s.Attack; at != nil {
				p("   %-26s %9s %9s %9s %9s %9s", fmt.Sprintf("under attack (%d attackers)", at.Attackers), "per s", "median ms", "p99 ms", "max ms", "errors")
				p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "POST /api/v1/login, unloaded", at.Unloaded.PerSecond, at.Unloaded.MedianMs, at.Unloaded.P99Ms, at.Unloaded.MaxMs, at.Unloaded.Errors)
				p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "... under attack", at.UnderAttack.PerSecond, at.UnderAttack.MedianMs, at.UnderAttack.P99Ms, at.UnderAttack.MaxMs, at.UnderAttack.Errors)
				p("   %-26s %9.2f", "÷ unloaded", at.ThroughputRatio)
				p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d  (%.2f× unloaded; attackers %.0f answers/s)", "... rotating addresses", at.UnderRotatingAttack.PerSecond, at.UnderRotatingAttack.MedianMs,
					at.UnderRotatingAttack.P99Ms, at.UnderRotatingAttack.MaxMs, at.UnderRotatingAttack.Errors, at.RotatingThroughputRatio, at.RotatingAttackPerSecond)
				p("   %-26s %.0f answers/s %v meanwhile; alone %.0f/s, %.1f%% throttled; CPU ms per answer: server %.3f, attacker client %.3f; warm-up %.1fs, %d bad passwords checked",
					"attackers", at.AttackPerSecond, at.AttackStatuses, at.AlonePerSecond, 100*at.AloneThrottledShare, at.ServerCPUMsPerThrottled, at.ClientCPUMsPerThrottled, at.WarmupSeconds, at.WarmupFailures)
			}
		}
	}
	if inc := r.Main.Incremental; inc != nil {
		c := inc.Changes
		p("")
		p("-- incremental DIRSYNC at %d people after %d changes (%d deleted, %d renamed, %d disabled, %d with other groups, %d new mail; made in %.2fs)",
			r.Main.People, c.Total, c.Deleted, c.Renamed, c.Disabled, c.GroupsChanged, c.MailChanged, inc.ApplySeconds)
		p("   %s run (%s): %.3fs (%.2f CPU-s, slapd %.2f CPU-s, peak RSS %.0f MB), %d entries examined; full DIRSYNC %.2fs: %.2f%%",
			inc.Mode, inc.Tracking, inc.Seconds, inc.CPUSeconds, inc.SlapdCPUSeconds, float64(inc.PeakRSSBytes)/mb, inc.EntriesExamined, inc.FullSeconds, 100*inc.RatioToFull)
		match := "as expected"
		if !inc.CountsMatch {
			match = fmt.Sprintf("EXPECTED deactivated %d, renamed %d, rolesChanged %d", inc.ExpectedDeactivated, inc.ExpectedRenamed, inc.ExpectedRolesChanged)
		}
		p("   status %s, counts %s, change lines %v (%s)", inc.Status, countsText(inc.Counts), inc.ChangeKinds, match)
	}
	if g := r.Growth; g != nil {
		p("")
		p("-- growth from %d people (%s)", g.FromPeople, g.From)
		p("-- growth ×%.0f people: sync %.1f×, simulate %.1f×, floor %.1f×, sync CPU %.1f×, sync peak RSS %.1f×", g.PeopleRatio, g.SyncTimeRatio, g.SimulateTimeRatio, g.FloorTimeRatio, g.SyncCPURatio, g.SyncPeakRSSRatio)
	}
	p("")
	p("-- targets")
	for _, t := range r.Targets {
		switch t.Status {
		case "skipped":
			p("   %-7s %-45s (%s)", "SKIPPED", t.Name, t.Note)
		default:
			cmp := "≤"
			switch {
			case t.Unit == "MB" || t.Unit == "ms" || t.Name == "incremental run time / full run time":
				cmp = "<"
			case strings.HasPrefix(t.Note, "at least"):
				cmp = "≥"
			}
			p("   %-7s %-45s %8.2f %s %s %g %s  (%s)", strings.ToUpper(t.Status), t.Name, t.Value, t.Unit, cmp, t.Limit, t.Unit, t.Note)
		}
	}
}
