package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
)

// childCmd is the hidden first argument that makes the bench binary (or
// the test binary, see TestMain) a measured child process: a sync, a
// simulate, the floor search, or the server for the sign-in load.
const childCmd = "__bench-child"

// childResult is what a child writes on its last stdout line.
type childResult struct {
	Mode           string   `json:"mode"`
	Seconds        float64  `json:"seconds"`        // wall time of the measured work
	CPUSeconds     float64  `json:"cpuSeconds"`     // user+system CPU of the child during the work
	BaselineRSS    int64    `json:"baselineRSS"`    // VmRSS before the work
	PeakRSS        int64    `json:"peakRSS"`        // VmHWM after the work (reset before it when HWMReset)
	PeakRSSSampled int64    `json:"peakRSSSampled"` // highest VmRSS sampled every 50 ms during the work
	HWMReset       bool     `json:"hwmReset"`
	TotalAlloc     uint64   `json:"totalAllocBytes"` // bytes allocated during the work
	NumGC          uint32   `json:"numGC"`
	HeapSys        uint64   `json:"heapSysBytes"`
	Entries        int      `json:"entries,omitempty"` // floor: entries received
	Pages          int      `json:"pages,omitempty"`
	Run            *runInfo `json:"run,omitempty"` // sync and simulate
	Error          string   `json:"error,omitempty"`
}

// runInfo is the part of a dirsync.Run the bench reports.
type runInfo struct {
	ID         int64      `json:"id"`
	Status     string     `json:"status"`
	Simulated  bool       `json:"simulated"`
	Counts     SyncCounts `json:"counts"`
	Warnings   int        `json:"warnings"`
	Identified int        `json:"identifiedForDeactivation"`
	Changes    int        `json:"changesTotal"`
	Message    string     `json:"message"`
	Seconds    float64    `json:"recordedSeconds"` // finishedAt - startedAt as the run recorded it
	Mode       string     `json:"mode"`            // full or incremental
	// ChangeKinds counts the run's change lines by kind (renamed,
	// deactivated, rolesChanged, profileUpdated, ...).
	ChangeKinds map[string]int `json:"changeKinds,omitempty"`
	Examined    int            `json:"entriesExamined"` // directory entries the run looked at
	Tracking    string         `json:"tracking,omitempty"`
	ErrorLines  []string       `json:"errorLines,omitempty"` // the first few error change lines
}

// childMain runs one child mode and returns the exit code.
func childMain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(childCmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	mode := fs.String("mode", "", "sync, simulate, incremental, floor or serve")
	data := fs.String("data", "", "authority data directory (sync, simulate, serve)")
	addr := fs.String("addr", "", "slapd host:port (floor)")
	pageSize := fs.Int("page-size", 500, "page size (floor)")
	attrs := fs.String("attrs", strings.Join(allAttributes, ","), "attributes the floor search asks for, comma-separated (floor)")
	override := fs.Bool("override-valve", false, "override the safety valve (sync)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the work to this file")
	memprofile := fs.String("memprofile", "", "write a heap profile (after the work) to this file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runChild(ctx, *mode, *data, *addr, *pageSize, strings.Split(*attrs, ","), *override, *cpuprofile, *memprofile, stdout)
	if err != nil {
		res.Error = err.Error()
	}
	res.Mode = *mode
	line, _ := json.Marshal(res)
	fmt.Fprintf(stdout, "RESULT %s\n", line)
	if err != nil {
		fmt.Fprintf(stderr, "authority-bench child %s: %v\n", *mode, err)
		return 1
	}
	return 0
}

func runChild(ctx context.Context, mode, data, addr string, pageSize int, attrs []string, override bool, cpuprofile, memprofile string, stdout io.Writer) (childResult, error) {
	var res childResult
	var app *authority.App
	if mode != "floor" {
		var err error
		cfg := authority.Config{DataDir: data, Listen: "127.0.0.1:0", Stdout: io.Discard}
		if mode == "serve" {
			// The attack scenario's clients are on the loopback and name
			// their own addresses in X-Forwarded-For.
			cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
		app, err = authority.Open(ctx, cfg)
		if err != nil {
			return res, fmt.Errorf("open %s: %w", data, err)
		}
		defer app.Close()
	}
	m := startMeasure(cpuprofile)
	var err error
	switch mode {
	case "sync", "simulate", "incremental":
		var run dirsync.Run
		run, err = app.Sync.Run(ctx, dirsync.Request{Simulate: mode == "simulate", OverrideValve: override, Incremental: mode == "incremental"})
		if err == nil {
			res.Run = newRunInfo(run)
			if run.Status != dirsync.StatusOK && run.Status != dirsync.StatusValve {
				err = fmt.Errorf("the run ended %s: %s", run.Status, run.Message)
			}
		}
	case "floor":
		res.Entries, res.Pages, err = floorSearch(ctx, addr, pageSize, attrs)
	case "serve":
		err = app.Serve(ctx, func(a string) {
			fmt.Fprintf(stdout, "LISTENING %s\n", a)
			go func() {
				// The parent closes stdin to stop the server.
				_, _ = io.Copy(io.Discard, os.Stdin)
				p, _ := os.FindProcess(os.Getpid())
				_ = p.Signal(os.Interrupt)
			}()
		})
	default:
		err = fmt.Errorf("unknown mode %q", mode)
	}
	m.stop(&res)
	if memprofile != "" {
		if perr := writeHeapProfile(memprofile); perr != nil && err == nil {
			err = perr
		}
	}
	if m.profErr != nil && err == nil {
		err = m.profErr
	}
	return res, err
}

// measure records time, CPU, RSS and allocation around a piece of work.
type measure struct {
	start    time.Time
	cpu      time.Duration
	ms       runtime.MemStats
	baseline int64
	hwmReset bool
	done     chan struct{}
	wg       sync.WaitGroup
	mu       sync.Mutex
	sampled  int64
	prof     *os.File
	profErr  error
}

func startMeasure(cpuprofile string) *measure {
	m := &measure{done: make(chan struct{})}
	m.baseline = procStatusBytes("VmRSS")
	m.hwmReset = resetPeakRSS()
	runtime.ReadMemStats(&m.ms)
	m.sampled = procStatusBytes("VmRSS")
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.done:
				return
			case <-t.C:
				if v := procStatusBytes("VmRSS"); v > 0 {
					m.mu.Lock()
					m.sampled = max(m.sampled, v)
					m.mu.Unlock()
				}
			}
		}
	}()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
			if err != nil {
				f.Close()
			} else {
				m.prof = f
			}
		}
		if err != nil {
			m.profErr = fmt.Errorf("cpu profile: %w", err)
		}
	}
	m.start = time.Now()
	m.cpu = selfCPU()
	return m
}

func (m *measure) stop(res *childResult) {
	res.Seconds = time.Since(m.start).Seconds()
	res.CPUSeconds = (selfCPU() - m.cpu).Seconds()
	if m.prof != nil {
		pprof.StopCPUProfile()
		if err := m.prof.Close(); err != nil && m.profErr == nil {
			m.profErr = fmt.Errorf("cpu profile: %w", err)
		}
	}
	close(m.done)
	m.wg.Wait()
	res.BaselineRSS = m.baseline
	res.PeakRSS = procStatusBytes("VmHWM")
	res.HWMReset = m.hwmReset
	res.PeakRSSSampled = max(m.sampled, procStatusBytes("VmRSS"))
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	res.TotalAlloc = after.TotalAlloc - m.ms.TotalAlloc
	res.NumGC = after.NumGC - m.ms.NumGC
	res.HeapSys = after.HeapSys
}

func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// newRunInfo is what the bench reports of a run.
func newRunInfo(run dirsync.Run) *runInfo {
	ri := &runInfo{ID: run.ID, Status: string(run.Status), Simulated: run.Simulated, Warnings: run.Warnings,
		Identified: run.Identified, Changes: run.ChangesTotal, Message: run.Message, Mode: run.Mode,
		Counts: SyncCounts{Users: run.Counts.Users, Deactivated: run.Counts.Deactivated, Activated: run.Counts.Activated,
			Moved: run.Counts.Moved, RolesChanged: run.Counts.RolesChanged, Blocked: run.Counts.Blocked, Errors: run.Counts.Errors},
		ChangeKinds: map[string]int{}}
	if run.FinishedAt != nil {
		ri.Seconds = run.FinishedAt.Sub(run.StartedAt).Seconds()
	}
	for _, ch := range run.Changes {
		ri.ChangeKinds[ch.Change]++
		if ch.Change == dirsync.ChangeError && len(ri.ErrorLines) < 3 {
			ri.ErrorLines = append(ri.ErrorLines, ch.Username+": "+ch.Message)
		}
	}
	for _, n := range run.EntriesExamined {
		ri.Examined += n
	}
	for _, t := range run.Tracking {
		if t != nil {
			ri.Tracking = t.Mode
			if t.Note != "" {
				ri.Tracking += " (" + t.Note + ")"
			}
		}
	}
	return ri
}

// allAttributes are the attributes the product's search asked for before it
// computed them from the scripts (every user attribute plus memberOf,
// entryUUID, objectGUID): the "floor (*)" search.
var allAttributes = []string{"*", "memberOf", "entryUUID", "objectGUID"}

// floorSearch is the floor of a sync: the same paged search (filter,
// page size) as the product's, asking for attrs, with go-ldap directly,
// every entry decoded by go-ldap and then dropped, under the same garbage
// collector pacing as a full run (dirsync.PaceGC): with Go's default the
// floor ran about a fifth slower, a handicap a search written by hand
// need not have.
func floorSearch(ctx context.Context, addr string, pageSize int, attrs []string) (entries, pages int, err error) {
	defer dirsync.PaceGC()()
	c, err := ldap.DialURL("ldap://" + addr)
	if err != nil {
		return 0, 0, fmt.Errorf("floor: dial %s: %w", addr, err)
	}
	defer c.Close()
	c.SetTimeout(5 * time.Minute)
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Bind(testenv.SlapdServiceDN, testenv.SlapdServicePassword); err != nil {
		return 0, 0, fmt.Errorf("floor: bind: %w", err)
	}
	paging := ldap.NewControlPaging(uint32(pageSize))
	req := ldap.NewSearchRequest(testenv.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		strings.Replace(searchFilter, "%u", "*", 1), attrs, []ldap.Control{paging})
	for {
		res, err := c.Search(req)
		if err != nil {
			return entries, pages, fmt.Errorf("floor: search page %d: %w", pages+1, err)
		}
		pages++
		entries += len(res.Entries)
		dirsync.RepaceGC()
		ctl, _ := ldap.FindControl(res.Controls, ldap.ControlTypePaging).(*ldap.ControlPaging)
		if ctl == nil || len(ctl.Cookie) == 0 {
			return entries, pages, nil
		}
		paging.SetCookie(ctl.Cookie)
	}
}

// child is a running child process of the bench.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines chan string
}

// startChild starts the bench binary again in child mode.
func startChild(ctx context.Context, args ...string) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("bench: find my own binary: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{childCmd}, args...)...)
	cmd.SysProcAttr = childSysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: child: %w", err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("bench: child: %w", err)
	}
	c := &child{cmd: cmd, stdin: in, lines: make(chan string, 16)}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start child %v: %w", args, err)
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

// wait closes the child's stdin, waits for it to end and returns its result.
func (c *child) wait() (childResult, error) {
	var res childResult
	c.stdin.Close()
	found := false
	for line := range c.lines {
		if raw, ok := strings.CutPrefix(line, "RESULT "); ok {
			if err := json.Unmarshal([]byte(raw), &res); err != nil {
				return res, fmt.Errorf("bench: child result %q: %w", raw, err)
			}
			found = true
		}
	}
	err := c.cmd.Wait()
	if res.Error != "" {
		return res, fmt.Errorf("bench: child %s: %s", res.Mode, res.Error)
	}
	if err != nil {
		return res, fmt.Errorf("bench: child: %w", err)
	}
	if !found {
		return res, errors.New("bench: the child wrote no result")
	}
	return res, nil
}

// runChildProcess runs one child to its end.
func runChildProcess(ctx context.Context, args ...string) (childResult, error) {
	c, err := startChild(ctx, args...)
	if err != nil {
		return childResult{}, err
	}
	return c.wait()
}
