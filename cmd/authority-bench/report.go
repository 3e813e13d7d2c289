package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The targets (on the 2-core reference machine).
const (
	targetSyncToFloor    = 1.5   // a full sync at most 1.5 × the bare paged search
	targetSimulateToSync = 1.0   // simulate no slower than the sync
	targetPeakRSSMB      = 300.0 // peak RSS of the sync under 300 MB
	targetGrowth         = 11.0  // ten times the people at most eleven times the time
	targetSignInP99      = 2.0   // sign-in p99 within 2 × the raw search+bind
	targetUnderAttack    = 0.8   // sign-ins under attack keep at least 80% of their throughput
	targetThrottledCPUMs = 0.2   // a throttled answer costs the server under 0.2 ms of CPU
)

const mb = 1 << 20

// Report is everything one bench run measured (the JSON written by -out).
type Report struct {
	Command    string     `json:"command"`
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt time.Time  `json:"finishedAt"`
	Machine    Machine    `json:"machine"`
	Options    options    `json:"options"`
	Main       *RunReport `json:"main"`            // at -people
	Tenth      *RunReport `json:"tenth,omitempty"` // at -people/10
	Growth     *Growth    `json:"growth,omitempty"`
	Targets    []Target   `json:"targets"`
}

// Machine describes where the bench ran.
type Machine struct {
	CPUs         int    `json:"cpus"`
	CPUModel     string `json:"cpuModel"`
	MemTotal     string `json:"memTotal"`
	GoVersion    string `json:"goVersion"`
	OS           string `json:"os"`
	Kernel       string `json:"kernel"`
	SlapdVersion string `json:"slapdVersion"`
}

// RunReport is the figures at one size.
type RunReport struct {
	People  int          `json:"people"`
	Users   int          `json:"users"` // users in scope: the people plus the administrator
	Changes ChangeCounts `json:"changes"`
	Valve   string       `json:"valve"`
	Setup   struct {
		GenerateSeconds  float64 `json:"generateSeconds"`
		DirectorySeconds float64 `json:"directorySeconds"` // LDIF + slapadd + slapd start
		DatabaseSeconds  float64 `json:"databaseSeconds"`  // authority.Open + registering every user
		DatabaseBytes    int64   `json:"databaseBytes"`
	} `json:"setup"`
	Floor    FloorResult   `json:"floor"`
	Simulate *SyncResult   `json:"simulate"`
	Sync     *SyncResult   `json:"sync"`
	SignIn   *SignInResult `json:"signIn,omitempty"`
}

// FloorResult is the bare paged search, run several times (interleaved
// with the syncs). The fastest run is the floor: on a shared machine the
// fastest run is the one least disturbed by other work.
type FloorResult struct {
	Seconds         float64   `json:"seconds"` // the fastest run
	SecondsMedian   float64   `json:"secondsMedian"`
	Runs            []float64 `json:"runs"`
	CPUSeconds      float64   `json:"cpuSeconds"`      // least CPU of a run, the go-ldap client's
	SlapdCPUSeconds float64   `json:"slapdCPUSeconds"` // least CPU of a run, slapd's
	PeakRSSBytes    int64     `json:"peakRSSBytes"`    // highest of the runs, the go-ldap client's
	Entries         int       `json:"entries"`
	Pages           int       `json:"pages"`
	cpu, slapdCPU   []float64
}

func (f *FloorResult) add(r childResult, slapdCPU time.Duration) {
	f.Runs = append(f.Runs, r.Seconds)
	f.cpu = append(f.cpu, r.CPUSeconds)
	f.slapdCPU = append(f.slapdCPU, slapdCPU.Seconds())
	f.PeakRSSBytes = max(f.PeakRSSBytes, r.PeakRSS)
	f.Entries, f.Pages = r.Entries, r.Pages
}

func (f *FloorResult) finish() {
	f.Seconds, f.SecondsMedian = slices.Min(f.Runs), median(f.Runs)
	f.CPUSeconds, f.SlapdCPUSeconds = slices.Min(f.cpu), slices.Min(f.slapdCPU)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// SyncResult is a sync or a simulate, each repetition in a fresh child
// process on a fresh copy of the registered database. Times are the
// fastest run's; memory is the highest of the runs.
type SyncResult struct {
	Seconds             float64    `json:"seconds"` // wall time of dirsync.Service.Run, the fastest run
	SecondsMedian       float64    `json:"secondsMedian"`
	Runs                []float64  `json:"runs"`
	RatioToFloor        float64    `json:"ratioToFloor"`          // fastest / fastest floor
	RatioToFloorMedian  float64    `json:"ratioToFloorMedian"`    // median / median floor
	CPURatioToFloor     float64    `json:"cpuRatioToFloor"`       // (server + slapd CPU) / (floor client + slapd CPU)
	RatioToSync         float64    `json:"ratioToSync,omitempty"` // simulate only: fastest / fastest sync
	CPUSeconds          float64    `json:"cpuSeconds"`            // the server process's, least of the runs
	SlapdCPUSeconds     float64    `json:"slapdCPUSeconds"`       // least of the runs
	ChildSeconds        float64    `json:"childSeconds"`          // the whole child process (start-up included), least of the runs
	PeakRSSBytes        int64      `json:"peakRSSBytes"`          // VmHWM during the run, highest of the runs
	PeakRSSMB           float64    `json:"peakRSSMB"`
	PeakRSSSampledBytes int64      `json:"peakRSSSampledBytes"` // VmRSS sampled every 50 ms
	BaselineRSSBytes    int64      `json:"baselineRSSBytes"`    // VmRSS before the run (after opening the app)
	HWMReset            bool       `json:"hwmReset"`            // VmHWM was reset before the run
	TotalAllocBytes     uint64     `json:"totalAllocBytes"`     // allocated during the run (Go heap), the fastest run's
	NumGC               uint32     `json:"numGC"`
	Status              string     `json:"status"`
	Message             string     `json:"message,omitempty"`
	Counts              SyncCounts `json:"counts"`
	Expected            SyncCounts `json:"expected"`
	CountsMatch         bool       `json:"countsMatch"` // every run's counts were the expected ones
	Warnings            int        `json:"warnings"`
	Identified          int        `json:"identifiedForDeactivation"`
	ChangesTotal        int        `json:"changesTotal"`
	cpu, slapdCPU, wall []float64
	mismatch            bool
}

func statusOf(r childResult) string {
	if r.Run == nil {
		return "?"
	}
	return r.Run.Status
}

func (s *SyncResult) add(r childResult, slapdCPU, wall time.Duration) {
	if len(s.Runs) == 0 || r.Seconds < slices.Min(s.Runs) {
		s.TotalAllocBytes, s.NumGC = r.TotalAlloc, r.NumGC
	}
	s.Runs = append(s.Runs, r.Seconds)
	s.cpu = append(s.cpu, r.CPUSeconds)
	s.slapdCPU = append(s.slapdCPU, slapdCPU.Seconds())
	s.wall = append(s.wall, wall.Seconds())
	s.PeakRSSBytes = max(s.PeakRSSBytes, r.PeakRSS)
	s.PeakRSSSampledBytes = max(s.PeakRSSSampledBytes, r.PeakRSSSampled)
	s.BaselineRSSBytes = max(s.BaselineRSSBytes, r.BaselineRSS)
	s.HWMReset = r.HWMReset
	if r.Run != nil {
		s.Status, s.Message, s.Counts = r.Run.Status, r.Run.Message, r.Run.Counts
		s.Warnings, s.Identified, s.ChangesTotal = r.Run.Warnings, r.Run.Identified, r.Run.Changes
	}
	if s.Counts != s.Expected || r.Run == nil {
		s.mismatch = true
	}
}

func (s *SyncResult) finish(floor FloorResult, sync *SyncResult) {
	s.Seconds, s.SecondsMedian = slices.Min(s.Runs), median(s.Runs)
	s.CPUSeconds, s.SlapdCPUSeconds, s.ChildSeconds = slices.Min(s.cpu), slices.Min(s.slapdCPU), slices.Min(s.wall)
	s.PeakRSSMB = float64(s.PeakRSSBytes) / mb
	s.CountsMatch = !s.mismatch
	s.RatioToFloor = ratio(s.Seconds, floor.Seconds)
	s.RatioToFloorMedian = ratio(s.SecondsMedian, floor.SecondsMedian)
	s.CPURatioToFloor = ratio(s.CPUSeconds+s.SlapdCPUSeconds, floor.CPUSeconds+floor.SlapdCPUSeconds)
	if sync != nil {
		s.RatioToSync = ratio(s.Seconds, sync.Seconds)
	}
}

// SignInResult is the sign-in load through the API against its raw LDAP floor.
type SignInResult struct {
	Product          LoadResult    `json:"product"` // POST /api/v1/login
	Raw              LoadResult    `json:"raw"`     // go-ldap: service bind, search, bind as the user
	P99Ratio         float64       `json:"p99Ratio"`
	MedianRatio      float64       `json:"medianRatio"`
	ThroughputRatio  float64       `json:"throughputRatio"`  // product / raw sign-ins per second
	Attack           *AttackResult `json:"attack,omitempty"` // -attackers > 0
	ServerPeakRSS    int64         `json:"serverPeakRSSBytes"`
	ServerCPUSeconds float64       `json:"serverCPUSeconds"`
}

func (s *SignInResult) ratios() {
	if s.Raw.P99Ms > 0 {
		s.P99Ratio = s.Product.P99Ms / s.Raw.P99Ms
	}
	if s.Raw.MedianMs > 0 {
		s.MedianRatio = s.Product.MedianMs / s.Raw.MedianMs
	}
	if s.Raw.PerSecond > 0 {
		s.ThroughputRatio = s.Product.PerSecond / s.Raw.PerSecond
	}
}

// Growth compares -people with -people/10.
type Growth struct {
	PeopleRatio        float64 `json:"peopleRatio"`
	SyncTimeRatio      float64 `json:"syncTimeRatio"`
	SimulateTimeRatio  float64 `json:"simulateTimeRatio"`
	FloorTimeRatio     float64 `json:"floorTimeRatio"`
	SyncCPURatio       float64 `json:"syncCPURatio"`
	SyncPeakRSSRatio   float64 `json:"syncPeakRSSRatio"`
	SignInP99Ratio     float64 `json:"signInP99Ratio,omitempty"`
	DatabaseBuildRatio float64 `json:"databaseBuildRatio"`
}

// Target is one goal and whether this run met it.
type Target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit"`
	Unit   string  `json:"unit"`
	Met    bool    `json:"met"`
	Status string  `json:"status"` // "met", "missed" or "skipped"
	Note   string  `json:"note,omitempty"`
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
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
	skip := func(name string, limit float64, unit, why string) {
		r.Targets = append(r.Targets, Target{Name: name, Limit: limit, Unit: unit, Status: "skipped", Note: why})
	}
	add("sync time / floor search time", m.Sync.RatioToFloor, targetSyncToFloor, "×", true,
		fmt.Sprintf("%.2fs / %.2fs", m.Sync.Seconds, m.Floor.Seconds))
	add("simulate time / sync time", m.Simulate.RatioToSync, targetSimulateToSync, "×", true,
		fmt.Sprintf("%.2fs / %.2fs", m.Simulate.Seconds, m.Sync.Seconds))
	add("peak RSS of the server during the sync", float64(max(m.Sync.PeakRSSBytes, m.Simulate.PeakRSSBytes))/mb, targetPeakRSSMB, "MB", false,
		fmt.Sprintf("sync %.0f MB, simulate %.0f MB", m.Sync.PeakRSSMB, m.Simulate.PeakRSSMB))
	if t := r.Tenth; t != nil {
		g := &Growth{PeopleRatio: ratio(float64(m.People), float64(t.People)),
			SyncTimeRatio: ratio(m.Sync.Seconds, t.Sync.Seconds), SimulateTimeRatio: ratio(m.Simulate.Seconds, t.Simulate.Seconds),
			FloorTimeRatio: ratio(m.Floor.Seconds, t.Floor.Seconds), SyncCPURatio: ratio(m.Sync.CPUSeconds, t.Sync.CPUSeconds),
			SyncPeakRSSRatio:   ratio(float64(m.Sync.PeakRSSBytes), float64(t.Sync.PeakRSSBytes)),
			DatabaseBuildRatio: ratio(m.Setup.DatabaseSeconds, t.Setup.DatabaseSeconds)}
		if m.SignIn != nil && t.SignIn != nil {
			g.SignInP99Ratio = ratio(m.SignIn.Product.P99Ms, t.SignIn.Product.P99Ms)
		}
		r.Growth = g
		add(fmt.Sprintf("sync time at %d / at %d people", m.People, t.People), max(g.SyncTimeRatio, g.SimulateTimeRatio), targetGrowth, "×", true,
			fmt.Sprintf("sync %.2fs / %.2fs = %.1f×, simulate %.2fs / %.2fs = %.1f×", m.Sync.Seconds, t.Sync.Seconds, g.SyncTimeRatio,
				m.Simulate.Seconds, t.Simulate.Seconds, g.SimulateTimeRatio))
	} else {
		skip("sync time at N / at N/10 people", targetGrowth, "×", "-also-tenth=false")
	}
	if s := m.SignIn; s != nil {
		add("sign-in p99 / raw search+bind p99", s.P99Ratio, targetSignInP99, "×", true,
			fmt.Sprintf("%.1f ms / %.1f ms", s.Product.P99Ms, s.Raw.P99Ms))
	} else {
		skip("sign-in p99 / raw search+bind p99", targetSignInP99, "×", "-skip-signin")
	}
	if s := m.SignIn; s != nil && s.Attack != nil {
		at := s.Attack
		met := at.ThroughputRatio >= targetUnderAttack
		st := map[bool]string{true: "met", false: "missed"}[met]
		r.Targets = append(r.Targets, Target{Name: "sign-ins under attack / unloaded", Value: at.ThroughputRatio, Limit: targetUnderAttack, Unit: "×",
			Met: met, Status: st, Note: fmt.Sprintf("at least; %.0f/s / %.0f/s, %d attackers at %.0f answers/s", at.UnderAttack.PerSecond, at.Unloaded.PerSecond, at.Attackers, at.AttackPerSecond)})
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
		f := rr.Floor
		p("   %-26s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %5.0f MB  (runs %s)", "floor: bare paged search", f.Seconds, 1.0, f.SecondsMedian, 1.0, f.CPUSeconds, f.SlapdCPUSeconds, float64(f.PeakRSSBytes)/mb, floats(f.Runs))
		for _, s := range []struct {
			name string
			r    *SyncResult
		}{{"simulate synchronize", rr.Simulate}, {"full DIRSYNC", rr.Sync}} {
			p("   %-26s %8.2f %8.2f %8.2f %8.2f %8.2f %8.2f %5.0f MB  (runs %s)", s.name, s.r.Seconds, s.r.RatioToFloor, s.r.SecondsMedian, s.r.RatioToFloorMedian,
				s.r.CPUSeconds, s.r.SlapdCPUSeconds, s.r.PeakRSSMB, floats(s.r.Runs))
			extra := ""
			if s.r.RatioToSync > 0 {
				extra = fmt.Sprintf("; %.2f× the sync", s.r.RatioToSync)
			}
			match := "as expected"
			if !s.r.CountsMatch {
				match = fmt.Sprintf("EXPECTED %s", countsText(s.r.Expected))
			}
			p("   %-26s status %s, CPU (with slapd's) %.2f× the floor's%s", "", s.r.Status, s.r.CPURatioToFloor, extra)
			p("   %-26s counts %s (%s)", "", countsText(s.r.Counts), match)
		}
		if s := rr.SignIn; s != nil {
			p("   %-26s %9s %9s %9s %9s %9s", "sign-in, 8 clients", "per s", "median ms", "p99 ms", "max ms", "errors")
			p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "raw LDAP search+bind", s.Raw.PerSecond, s.Raw.MedianMs, s.Raw.P99Ms, s.Raw.MaxMs, s.Raw.Errors)
			p("   %-26s %9.0f %9.1f %9.1f %9.1f %9d", "POST /api/v1/login", s.Product.PerSecond, s.Product.MedianMs, s.Product.P99Ms, s.Product.MaxMs, s.Product.Errors)
			p("   %-26s %9.2f %9.2f %9.2f", "÷ raw", s.ThroughputRatio, s.MedianRatio, s.P99Ratio)
			cpu := func(l LoadResult) string {
				return fmt.Sprintf("server %.2f + slapd %.2f + client %.2f", l.CPUMsPerSignIn["server"], l.CPUMsPerSignIn["slapd"], l.CPUMsPerSignIn["client"])
			}
			p("   %-26s raw: %s; login: %s", "CPU ms per sign-in", cpu(s.Raw), cpu(s.Product))
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
	if g := r.Growth; g != nil {
		p("")
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
			case t.Unit == "MB" || t.Unit == "ms":
				cmp = "<"
			case strings.HasPrefix(t.Note, "at least"):
				cmp = "≥"
			}
			p("   %-7s %-45s %8.2f %s %s %g %s  (%s)", strings.ToUpper(t.Status), t.Name, t.Value, t.Unit, cmp, t.Limit, t.Unit, t.Note)
		}
	}
}

func countsText(c SyncCounts) string {
	return fmt.Sprintf("users %d, deactivated %d, activated %d, moved %d, rolesChanged %d, blocked %d, errors %d",
		c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, c.Blocked, c.Errors)
}

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(s, ", ")
}

// machineInfo describes this machine: CPUs, CPU model, memory, Go, kernel, slapd.
func machineInfo() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				var kb int64
				fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
				m.MemTotal = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(raw))
	}
	var out bytes.Buffer
	cmd := exec.Command("/usr/sbin/slapd", "-VV")
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "slapd") {
			m.SlapdVersion = strings.Join(strings.Fields(line), " ")
			break
		}
	}
	return m
}
