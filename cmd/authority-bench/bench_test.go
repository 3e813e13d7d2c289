package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/testenv"
)

// TestMain lets the test binary serve as the bench's child process (the
// bench re-executes its own binary for each measured sync).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestBenchSmall runs the whole bench on 300 people and checks that it
// writes a well-formed report with every figure. It asserts nothing about
// the figures' values: timings are not pass/fail.
func TestBenchSmall(t *testing.T) {
	if _, err := os.Stat(testenv.SlapdPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("slapd is needed: %v", testenv.ErrSlapdNotInstalled)
		}
		t.Skipf("%v", testenv.ErrSlapdNotInstalled)
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "bench.json")
	prof := filepath.Join(tmp, "sync.pprof")
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	var log bytes.Buffer
	err := run(ctx, []string{"-people", "300", "-out", out, "-dir", tmp, "-repeat", "1", "-signin-seconds", "0.6", "-attackers", "2",
		"-cpuprofile", prof, "-memprofile", filepath.Join(tmp, "sync.heap")}, &log, &log)
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, log.String())
	}
	t.Logf("bench output:\n%s", log.String())

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, raw)
	}
	// The JSON names are the report's interface: check them as written.
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"command", "machine.cpus", "machine.cpuModel", "machine.memTotal", "machine.goVersion",
		"main.people", "main.floor.seconds", "main.simulate.seconds", "main.simulate.ratioToFloor", "main.simulate.ratioToSync",
		"main.sync.seconds", "main.sync.ratioToFloor", "main.sync.peakRSSBytes", "main.sync.counts.deactivated",
		"main.signIn.product.p99Ms", "main.signIn.product.medianMs", "main.signIn.product.perSecond",
		"main.signIn.raw.p99Ms", "main.signIn.raw.medianMs", "main.signIn.p99Ratio",
		"main.signIn.attack.unloaded.perSecond", "main.signIn.attack.underAttack.perSecond", "main.signIn.attack.throughputRatio",
		"main.signIn.attack.serverCPUMsPerThrottled", "main.signIn.attack.attackStatuses",
		"main.mappedFloor.seconds", "main.mappedFloor.attributes", "main.sync.ratioToMappedFloor", "main.simulate.ratioToMappedFloor",
		"main.sync.pairedToMappedFloorMedian", "main.simulate.pairedToMappedFloorLeast", "main.simulate.pairedToMappedFloor",
		"main.signIn.keptOpen.p99Ms", "main.signIn.keptOpen.perSecond", "main.signIn.p99RatioKeptOpen", "main.signIn.searchAttributes",
		"main.signIn.registration.perSecond", "main.signIn.registration.p99Ms", "main.signIn.registration.medianMs",
		"main.signIn.registration.cpuMsPerSignIn.server", "main.signIn.registration.cpuMsPerSignIn.slapd",
		"main.incremental.seconds", "main.incremental.fullSeconds", "main.incremental.ratioToFull", "main.incremental.changes.total",
		"tenth.mappedFloor.seconds", "tenth.people", "tenth.sync.seconds", "tenth.simulate.seconds", "tenth.floor.seconds", "tenth.sync.peakRSSBytes",
		"tenth.signIn.product.p99Ms", "growth.syncTimeRatio", "targets",
	} {
		if v := lookup(generic, path); v == nil {
			t.Errorf("the report has no %s", path)
		}
	}

	for name, rr := range map[string]*RunReport{"main": rep.Main, "tenth": rep.Tenth} {
		if rr == nil {
			t.Fatalf("no %s figures", name)
		}
		for fig, v := range map[string]float64{
			"floor.seconds": rr.Floor.Seconds, "simulate.seconds": rr.Simulate.Seconds, "sync.seconds": rr.Sync.Seconds,
			"sync.ratioToFloor": rr.Sync.RatioToFloor, "simulate.ratioToSync": rr.Simulate.RatioToSync,
			"mappedFloor.seconds": rr.MappedFloor.Seconds, "sync.ratioToMappedFloor": rr.Sync.RatioToMapped,
			"simulate.ratioToMappedFloor": rr.Simulate.RatioToMapped,
			"sync.peakRSSBytes":           float64(rr.Sync.PeakRSSBytes), "simulate.peakRSSBytes": float64(rr.Simulate.PeakRSSBytes),
		} {
			if !(v > 0) {
				t.Errorf("%s.%s = %v, want a positive figure", name, fig, v)
			}
		}
		if rr.Floor.Entries != rr.People-rr.Changes.Removed {
			t.Errorf("%s: the floor search found %d entries, want %d", name, rr.Floor.Entries, rr.People-rr.Changes.Removed)
		}
		for kind, s := range map[string]*SyncResult{"sync": rr.Sync, "simulate": rr.Simulate} {
			if s.Status != "ok" || !s.CountsMatch {
				t.Errorf("%s %s: status %s, counts %+v, want ok and %+v", name, kind, s.Status, s.Counts, s.Expected)
			}
			if len(s.PairedToMapped) != len(s.Runs) || !(s.PairedToMappedMedian > 0) {
				t.Errorf("%s %s: paired ratios %v for runs %v", name, kind, s.PairedToMapped, s.Runs)
			}
			if s.Counts.Deactivated == 0 || s.Counts.Moved == 0 || s.Counts.RolesChanged == 0 {
				t.Errorf("%s %s: counts %+v: the changes did not show", name, kind, s.Counts)
			}
		}
		si := rr.SignIn
		if si == nil {
			t.Fatalf("%s: no sign-in figures", name)
		}
		if si.Product.Count == 0 || si.Product.Errors > 0 || !(si.Product.P99Ms > 0) || !(si.Product.MedianMs > 0) {
			t.Errorf("%s: sign-in %+v", name, si.Product)
		}
		if si.Raw.Count == 0 || si.Raw.Errors > 0 || !(si.Raw.P99Ms > 0) {
			t.Errorf("%s: raw sign-in %+v", name, si.Raw)
		}
		if si.KeptOpen.Count == 0 || si.KeptOpen.Errors > 0 || !(si.KeptOpen.P99Ms > 0) || !(si.P99RatioKeptOpen > 0) {
			t.Errorf("%s: kept-open sign-in %+v", name, si.KeptOpen)
		}
		// The server's CPU is read in clock ticks (10 ms): the one
		// registration at the tenth size may well take less than a tick.
		if reg := si.Registration; reg == nil || reg.Count != reg.People || reg.People != rr.People/20 || reg.Errors > 0 || !(reg.P99Ms > 0) || !(reg.CPUMsPerSignIn["server"] >= 0) {
			t.Errorf("%s: registration %+v", name, reg)
		}
		if len(rr.MappedFloor.Attributes) == 0 || rr.MappedFloor.Entries != rr.Floor.Entries {
			t.Errorf("%s: mapped floor %+v", name, rr.MappedFloor)
		}
		if name == "tenth" {
			if si.Attack != nil {
				t.Errorf("tenth: the attack scenario ran at the tenth size too: %+v", si.Attack)
			}
			continue // the attack is measured once, at the full size
		}
		if at := si.Attack; at == nil || at.UnderAttack.Count == 0 || at.UnderAttack.Errors > 0 || at.Unloaded.Count == 0 ||
			at.AttackStatuses["429"] == 0 || !(at.ServerCPUMsPerThrottled > 0) {
			t.Errorf("%s: attack %+v", name, at)
		}
	}
	if inc := rep.Main.Incremental; inc == nil || !inc.CountsMatch || inc.Changes.Total != 10 || !(inc.Seconds > 0) || !(inc.RatioToFull > 0) {
		t.Errorf("incremental %+v", inc)
	}
	if rep.Tenth.Incremental != nil {
		t.Errorf("tenth: the incremental run ran at the tenth size too")
	}
	if rep.Main.People != 300 || rep.Tenth.People != 30 {
		t.Errorf("sizes %d and %d, want 300 and 30", rep.Main.People, rep.Tenth.People)
	}
	if rep.Growth == nil || !(rep.Growth.SyncTimeRatio > 0) {
		t.Errorf("growth %+v", rep.Growth)
	}
	if len(rep.Targets) != 13 {
		t.Errorf("%d targets, want 13", len(rep.Targets))
	}
	for _, tg := range rep.Targets {
		if tg.Status != "met" && tg.Status != "missed" {
			t.Errorf("target %q: status %q", tg.Name, tg.Status)
		}
	}
	for _, suffix := range []string{"", ".simulate", ".floor", ".floor-mapped", ".incremental", ".signin"} {
		for _, base := range []string{prof, filepath.Join(tmp, "sync.heap")} {
			if fi, err := os.Stat(base + suffix); err != nil || fi.Size() == 0 {
				t.Errorf("profile %s: %v", base+suffix, err)
			}
		}
	}
	// The temporary directory is removed, and with it slapd's database.
	left, _ := filepath.Glob(filepath.Join(tmp, "authority-bench-*"))
	if len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// lookup follows a dotted path through decoded JSON objects.
func lookup(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// TestFlags checks the flag defaults the README and docs/benchmarks.md describe.
func TestFlags(t *testing.T) {
	o, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.People != 100000 || !o.AlsoTenth || o.Clients != 8 || o.PageSize != 500 || o.SkipSignIn || o.KeepDir {
		t.Errorf("defaults %+v", o)
	}
	if _, err := parseFlags([]string{"-people", "5"}, &bytes.Buffer{}); err == nil {
		t.Error("-people 5 was accepted")
	}
	if _, err := parseFlags([]string{"extra"}, &bytes.Buffer{}); err == nil {
		t.Error("an extra argument was accepted")
	}
}

// TestBenchSCIMSmall runs the SCIM scenario with 60 users and checks that
// the report is well-formed (nothing about the figures' values).
func TestBenchSCIMSmall(t *testing.T) {
	tmp := t.TempDir()
	out := filepath.Join(tmp, "scim.json")
	var log bytes.Buffer
	if err := run(context.Background(), []string{"-scim", "-scim-users", "60", "-clients", "4", "-out", out, "-dir", tmp}, &log, &log); err != nil {
		t.Fatalf("bench: %v\n%s", err, log.String())
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var generic map[string]any
	if err := json.Unmarshal(raw, &generic); err != nil {
		t.Fatalf("the report is not JSON: %v\n%s", err, raw)
	}
	for _, path := range []string{"users", "clients", "requests", "seconds", "perSecond", "p50Ms", "p99Ms",
		"byKind.lookup.count", "byKind.create.p99Ms", "byKind.patch.count", "targets", "machine.cpus"} {
		if v := lookup(generic, path); v == nil {
			t.Errorf("the report has no %s", path)
		}
	}
	var rep SCIMReport
	json.Unmarshal(raw, &rep)
	if rep.Requests != 60+60+12 || rep.Errors != 0 || rep.ByKind["patch"].Count != 12 || len(rep.Targets) != 2 {
		t.Errorf("report %+v\n%s", rep, log.String())
	}
}
