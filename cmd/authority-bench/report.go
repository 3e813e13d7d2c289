package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// The targets (on the 2-core reference machine).
const (
	targetSyncToFloor      = 1.5    // a full sync at most 1.5 × the bare paged search (both floors)
	targetSimulateToMapped = 1.2    // a simulate at most 1.2 × the mapped-attribute floor
	targetPeakRSSMBMillion = 1024.0 // peak RSS of the sync under 1 GB at 1,000,000 people
	targetSimulateToSync   = 1.0    // simulate no slower than the sync
	targetPeakRSSMB        = 300.0  // peak RSS of the sync under 300 MB
	targetGrowth           = 11.0   // ten times the people at most eleven times the time
	targetSignInP99        = 2.0    // sign-in p99 within 2 × the raw search+bind
	targetUnderAttack      = 0.8    // sign-ins under attack keep at least 80% of their throughput
	targetThrottledCPUMs   = 0.2    // a throttled answer costs the server under 0.2 ms of CPU
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
	// Reference is the main size of the -growth-from report, which the
	// growth compares with when there is no tenth.
	Reference *RunReport `json:"reference,omitempty"`
	Targets   []Target   `json:"targets"`
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
	Floor       FloorResult        `json:"floor"`       // floor (*): every attribute
	MappedFloor FloorResult        `json:"mappedFloor"` // floor (mapped attributes): what the product asks for
	Simulate    *SyncResult        `json:"simulate"`
	Sync        *SyncResult        `json:"sync"`
	SignIn      *SignInResult      `json:"signIn,omitempty"`
	Incremental *IncrementalResult `json:"incremental,omitempty"`
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
	Attributes      []string  `json:"attributes,omitempty"` // mapped floor: the attributes asked for
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
	Seconds             float64   `json:"seconds"` // wall time of dirsync.Service.Run, the fastest run
	SecondsMedian       float64   `json:"secondsMedian"`
	Runs                []float64 `json:"runs"`
	RatioToFloor        float64   `json:"ratioToFloor"`             // fastest / fastest floor (*)
	RatioToFloorMedian  float64   `json:"ratioToFloorMedian"`       // median / median floor (*)
	RatioToMapped       float64   `json:"ratioToMappedFloor"`       // fastest / fastest floor (mapped attributes)
	RatioToMappedMedian float64   `json:"ratioToMappedFloorMedian"` // median / median floor (mapped attributes)
	// PairedToMapped is each run divided by the mean of the mapped floor
	// runs just before and just after it (before only, for the last run
	// of a single repetition): on a host whose load drifts, a comparison of
	// neighbours, and one that does not set the fastest of 2K+1 floor runs
	// against the fastest of K runs. For information: the targets use the
	// fastest and the median above.
	PairedToMapped       []float64  `json:"pairedToMappedFloor"`
	PairedToMappedLeast  float64    `json:"pairedToMappedFloorLeast"`
	PairedToMappedMedian float64    `json:"pairedToMappedFloorMedian"`
	CPURatioToFloor      float64    `json:"cpuRatioToFloor"`       // (server + slapd CPU) / (floor client + slapd CPU)
	RatioToSync          float64    `json:"ratioToSync,omitempty"` // simulate only: fastest / fastest sync
	CPUSeconds           float64    `json:"cpuSeconds"`            // the server process's, least of the runs
	SlapdCPUSeconds      float64    `json:"slapdCPUSeconds"`       // least of the runs
	ChildSeconds         float64    `json:"childSeconds"`          // the whole child process (start-up included), least of the runs
	PeakRSSBytes         int64      `json:"peakRSSBytes"`          // VmHWM during the run, highest of the runs
	PeakRSSMB            float64    `json:"peakRSSMB"`
	PeakRSSSampledBytes  int64      `json:"peakRSSSampledBytes"` // VmRSS sampled every 50 ms
	BaselineRSSBytes     int64      `json:"baselineRSSBytes"`    // VmRSS before the run (after opening the app)
	HWMReset             bool       `json:"hwmReset"`            // VmHWM was reset before the run
	TotalAllocBytes      uint64     `json:"totalAllocBytes"`     // allocated during the run (Go heap), the fastest run's
	NumGC                uint32     `json:"numGC"`
	Status               string     `json:"status"`
	Message              string     `json:"message,omitempty"`
	Counts               SyncCounts `json:"counts"`
	Expected             SyncCounts `json:"expected"`
	CountsMatch          bool       `json:"countsMatch"` // every run's counts were the expected ones
	Warnings             int        `json:"warnings"`
	ErrorLines           []string   `json:"errorLines,omitempty"` // of runs whose counts were not the expected ones
	Identified           int        `json:"identifiedForDeactivation"`
	ChangesTotal         int        `json:"changesTotal"`
	cpu, slapdCPU, wall  []float64
	mismatch             bool
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
		if r.Run != nil {
			s.ErrorLines = append(s.ErrorLines, r.Run.ErrorLines...)
		}
	}
}

// finish works out the figures. The mapped floor's runs first+2i and
// first+2i+1 are those around run i (the bench runs floor, simulate,
// floor, sync, ... floor: first is 0 for the simulate, 1 for the sync).
func (s *SyncResult) finish(floor, mapped FloorResult, sync *SyncResult, first int) {
	s.Seconds, s.SecondsMedian = slices.Min(s.Runs), median(s.Runs)
	s.CPUSeconds, s.SlapdCPUSeconds, s.ChildSeconds = slices.Min(s.cpu), slices.Min(s.slapdCPU), slices.Min(s.wall)
	s.PeakRSSMB = float64(s.PeakRSSBytes) / mb
	s.CountsMatch = !s.mismatch
	s.RatioToFloor = ratio(s.Seconds, floor.Seconds)
	s.RatioToFloorMedian = ratio(s.SecondsMedian, floor.SecondsMedian)
	s.RatioToMapped = ratio(s.Seconds, mapped.Seconds)
	s.RatioToMappedMedian = ratio(s.SecondsMedian, mapped.SecondsMedian)
	s.CPURatioToFloor = ratio(s.CPUSeconds+s.SlapdCPUSeconds, floor.CPUSeconds+floor.SlapdCPUSeconds)
	if sync != nil {
		s.RatioToSync = ratio(s.Seconds, sync.Seconds)
	}
	s.PairedToMapped = nil
	for i, run := range s.Runs {
		var around []float64
		for _, j := range []int{first + 2*i, first + 2*i + 1} {
			if j < len(mapped.Runs) {
				around = append(around, mapped.Runs[j])
			}
		}
		if len(around) > 0 {
			mean := 0.0
			for _, f := range around {
				mean += f / float64(len(around))
			}
			s.PairedToMapped = append(s.PairedToMapped, ratio(run, mean))
		}
	}
	if len(s.PairedToMapped) > 0 {
		s.PairedToMappedLeast, s.PairedToMappedMedian = slices.Min(s.PairedToMapped), median(s.PairedToMapped)
	}
}

// SignInResult is the sign-in load through the API against its raw LDAP floor.
type SignInResult struct {
	Product         LoadResult `json:"product"` // POST /api/v1/login
	Raw             LoadResult `json:"raw"`     // go-ldap: new connection, service bind, search, bind as the user
	P99Ratio        float64    `json:"p99Ratio"`
	MedianRatio     float64    `json:"medianRatio"`
	ThroughputRatio float64    `json:"throughputRatio"` // product / raw sign-ins per second
	// KeptOpen is go-ldap on connections kept open: each client searches on
	// its service-bound connection and binds as the user on a second one.
	KeptOpen                LoadResult          `json:"keptOpen"`
	P99RatioKeptOpen        float64             `json:"p99RatioKeptOpen"`
	MedianRatioKeptOpen     float64             `json:"medianRatioKeptOpen"`
	ThroughputRatioKeptOpen float64             `json:"throughputRatioKeptOpen"`
	SearchAttributes        []string            `json:"searchAttributes"`       // what the kept-open floor asks for (the product's list)
	Registration            *RegistrationResult `json:"registration,omitempty"` // -registrations > 0
	Attack                  *AttackResult       `json:"attack,omitempty"`       // -attackers > 0
	ServerPeakRSS           int64               `json:"serverPeakRSSBytes"`
	ServerCPUSeconds        float64             `json:"serverCPUSeconds"`
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
	s.P99RatioKeptOpen = ratio(s.Product.P99Ms, s.KeptOpen.P99Ms)
	s.MedianRatioKeptOpen = ratio(s.Product.MedianMs, s.KeptOpen.MedianMs)
	s.ThroughputRatioKeptOpen = ratio(s.Product.PerSecond, s.KeptOpen.PerSecond)
}

// Growth compares -people with -people/10.
type Growth struct {
	From               string  `json:"from"` // "tenth" (this run) or the -growth-from file
	FromPeople         int     `json:"fromPeople"`
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
