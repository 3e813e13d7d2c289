// Command authority-bench measures the work that grows with the directory:
// a full DIRSYNC, a Simulate Synchronize, sign-in, and the server's memory,
// each against its floor (what the same LDAP traffic costs with go-ldap
// alone), at N people and at N/10.
//
//	go run ./cmd/authority-bench [-people 100000] [-out bench.json] [-keep-dir]
//	    [-skip-signin] [-also-tenth=false] [-cpuprofile FILE] [-memprofile FILE] ...
//	go run ./cmd/authority-bench -scim [-scim-users 10000] [-clients 8] [-out FILE] [-cpuprofile FILE]
//
// For each size it builds an AD-like slapd directory (testenv) and an
// authority data directory in which every person is already a user
// (registered in bulk through package users), with about 10% of the people
// changed in the directory since (disabled, removed, moved to another OU,
// other groups). Then it measures, each sync in a fresh child process so that
// its memory is its own:
//
//  1. the floor: the same paged search with go-ldap directly;
//  2. a Simulate Synchronize, then
//  3. a real DIRSYNC (the same changes), with their peak RSS;
//  4. sign-in through POST /api/v1/login with 8 concurrent clients, against
//     a raw service bind + search + user bind with go-ldap;
//  5. the same sign-ins while 8 other clients send bad passwords as fast as
//     they can (throttled), against the same sign-ins unloaded, and the
//     server's CPU per throttled answer.
//
// It prints every figure with its ratio to its floor and writes them as
// JSON. See docs/benchmarks.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/authority-server/authority/testenv"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == childCmd {
		os.Exit(childMain(os.Args[2:], os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "authority-bench:", err)
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(1)
	}
}

// options are the command-line flags.
type options struct {
	People        int     `json:"people"`
	Seed          int64   `json:"seed"`
	Out           string  `json:"out"`
	KeepDir       bool    `json:"keepDir"`
	Dir           string  `json:"dir"`
	SkipSignIn    bool    `json:"skipSignIn"`
	AlsoTenth     bool    `json:"alsoTenth"`
	Clients       int     `json:"clients"`
	Attackers     int     `json:"attackers"`
	SignInSeconds float64 `json:"signInSeconds"`
	Repeat        int     `json:"repeat"`
	PageSize      int     `json:"pageSize"`
	OverrideValve bool    `json:"overrideValve"`
	CPUProfile    string  `json:"cpuProfile,omitempty"`
	MemProfile    string  `json:"memProfile,omitempty"`
	SCIM          bool    `json:"scim,omitempty"`
	SCIMUsers     int     `json:"scimUsers,omitempty"`
	Registrations int     `json:"registrations"`
	IncChanges    int     `json:"incrementalChanges"`
	GrowthFrom    string  `json:"growthFrom,omitempty"`
}

// registrationsAt is how many people of n stay out of the database for the
// registration load (none without sign-in measurements).
func (o options) registrationsAt(n int) int {
	if o.SkipSignIn {
		return 0
	}
	return min(o.Registrations, n/20)
}

// incrementalChangesAt is how many directory changes the incremental run
// at n people follows (at most n/30, so that the deactivations stay under
// the safety valve at small sizes).
func (o options) incrementalChangesAt(n int) int {
	return min(o.IncChanges, n/30)
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("authority-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.People, "people", 100000, "people in the directory (and users in the database)")
	fs.Int64Var(&o.Seed, "seed", 1, "seed of the generated people")
	fs.StringVar(&o.Out, "out", "", "write the figures as JSON to this file")
	fs.BoolVar(&o.KeepDir, "keep-dir", false, "keep the temporary directory (slapd and authority data) and print its path")
	fs.StringVar(&o.Dir, "dir", "", "make the temporary directory in this directory (default: the system's)")
	fs.BoolVar(&o.SkipSignIn, "skip-signin", false, "skip the sign-in measurements")
	fs.BoolVar(&o.AlsoTenth, "also-tenth", true, "also measure at people/10, to show how cost grows")
	fs.IntVar(&o.Clients, "clients", 8, "concurrent sign-in clients")
	fs.IntVar(&o.Attackers, "attackers", 8, "clients sending bad passwords as fast as they can in the attack scenario (0: skip it)")
	fs.Float64Var(&o.SignInSeconds, "signin-seconds", 10, "seconds of sign-in load for each kind (product and raw), in two interleaved rounds")
	fs.IntVar(&o.Repeat, "repeat", 3, "repetitions of floor, simulate, floor, sync (each from the registered database); the fastest of each counts")
	fs.IntVar(&o.PageSize, "page-size", 500, "page size of the LDAP server record and of the floor search")
	fs.BoolVar(&o.OverrideValve, "override-valve", false, "run the real sync with overrideValve (not needed: the changes stay under the default valve)")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write CPU profiles at -people to FILE (the sync), FILE.simulate, FILE.floor, FILE.floor-mapped, FILE.incremental and FILE.signin (the server)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write heap profiles at -people, taken after the work, to FILE (the sync), FILE.simulate, FILE.floor, FILE.floor-mapped, FILE.incremental and FILE.signin")
	fs.BoolVar(&o.SCIM, "scim", false, "run the SCIM provisioning scenario only (-scim-users users, -clients clients; no slapd needed)")
	fs.IntVar(&o.SCIMUsers, "scim-users", 10000, "users the SCIM scenario provisions")
	fs.IntVar(&o.Registrations, "registrations", 5000, "people kept out of the database and registered through POST /api/v1/login with the registration key (at most people/20; 0 skips; none with -skip-signin)")
	fs.IntVar(&o.IncChanges, "incremental-changes", 100, "directory changes before the incremental run at -people (at most people/30; 0 skips it)")
	fs.StringVar(&o.GrowthFrom, "growth-from", "", "a JSON report (-out) of an earlier run at fewer people: report the growth against its main figures (with -also-tenth=false)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.People < 20:
		return o, errors.New("-people must be at least 20")
	case o.Clients < 1:
		return o, errors.New("-clients must be at least 1")
	case o.Attackers < 0:
		return o, errors.New("-attackers must be 0 or more")
	case o.Repeat < 1:
		return o, errors.New("-repeat must be at least 1")
	case o.PageSize < 1:
		return o, errors.New("-page-size must be at least 1")
	case o.SCIMUsers < 1:
		return o, errors.New("-scim-users must be at least 1")
	case o.Registrations < 0 || o.IncChanges < 0:
		return o, errors.New("-registrations and -incremental-changes must be 0 or more")
	}
	for _, p := range []*string{&o.CPUProfile, &o.MemProfile, &o.Out, &o.GrowthFrom} {
		if *p != "" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return o, err
			}
			*p = abs
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.SCIM {
		return runSCIM(ctx, o, args, stdout)
	}
	if _, err := os.Stat(testenv.SlapdPath); err != nil {
		return fmt.Errorf("%w (or run ./scripts/test.sh once, which installs it)", testenv.ErrSlapdNotInstalled)
	}
	dir, err := os.MkdirTemp(o.Dir, "authority-bench-")
	if err != nil {
		return fmt.Errorf("bench: temp dir: %w", err)
	}
	defer func() {
		if o.KeepDir {
			fmt.Fprintf(stdout, "kept %s\n", dir)
			return
		}
		if rerr := os.RemoveAll(dir); rerr != nil && err == nil {
			err = fmt.Errorf("bench: remove %s: %w", dir, rerr)
		}
	}()

	rep := &Report{Command: commandLine(args), StartedAt: time.Now().UTC(), Machine: machineInfo(), Options: o}
	fmt.Fprintf(stdout, "authority-bench: %d people on %s (%d CPUs, %s), %s\n", o.People, rep.Machine.CPUModel, rep.Machine.CPUs, rep.Machine.MemTotal, rep.Machine.GoVersion)
	sizes := []int{o.People}
	if o.AlsoTenth {
		sizes = []int{o.People / 10, o.People} // the small one first: it fails fast
	}
	for _, n := range sizes {
		atPeople := n == o.People
		rr, err := runSize(ctx, o, dir, n, atPeople, stdout)
		if err != nil {
			return fmt.Errorf("at %d people: %w", n, err)
		}
		if atPeople {
			rep.Main = rr
		} else {
			rep.Tenth = rr
		}
	}
	if o.GrowthFrom != "" {
		if err := rep.readGrowthFrom(o.GrowthFrom); err != nil {
			return err
		}
	}
	rep.evaluate()
	rep.FinishedAt = time.Now().UTC()
	rep.print(stdout)
	if o.Out != "" {
		raw, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("bench: encode the report: %w", err)
		}
		if err := os.WriteFile(o.Out, append(raw, '\n'), 0o644); err != nil {
			return fmt.Errorf("bench: write %s: %w", o.Out, err)
		}
		fmt.Fprintf(stdout, "wrote %s\n", o.Out)
	}
	return nil
}

// runSize builds the directory and the database for n people and measures
// everything at that size.
func runSize(ctx context.Context, o options, base string, n int, atPeople bool, stdout io.Writer) (*RunReport, error) {
	began := time.Now()
	logf := func(format string, a ...any) {
		fmt.Fprintf(stdout, "[%6d %6.1fs] %s\n", n, time.Since(began).Seconds(), fmt.Sprintf(format, a...))
	}
	dir := filepath.Join(base, fmt.Sprintf("n%d", n))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	rr := &RunReport{People: n}
	pop, err := makePopulation(n, o.Seed, o.registrationsAt(n))
	if err != nil {
		return nil, err
	}
	rr.Changes = pop.changes
	rr.Setup.GenerateSeconds = pop.genTime.Seconds()
	deact := pop.expected.Deactivated
	rr.Valve = fmt.Sprintf("under the default valve: %d of %d users (%.1f%%) to deactivate, valve at more than 10%%", deact, pop.expected.Users, 100*float64(deact)/float64(pop.expected.Users))
	if o.OverrideValve {
		rr.Valve = fmt.Sprintf("overrideValve on the real sync (%d of %d users to deactivate)", deact, pop.expected.Users)
	}
	logf("generated %d people; %d disabled, %d removed, %d moved, %d with other groups, %d re-enabled in the directory", n,
		pop.changes.Disabled, pop.changes.Removed, pop.changes.Moved, pop.changes.GroupsChanged, pop.changes.Reenabled)

	t0 := time.Now()
	slapd, stopSlapd, err := startDirectory(dir, pop.after)
	if err != nil {
		return nil, err
	}
	defer stopSlapd()
	rr.Setup.DirectorySeconds = time.Since(t0).Seconds()
	slapdPID := readPID(filepath.Join(slapd.Dir, "slapd.pid"))
	logf("slapd with %d entries at %s in %.1fs", len(pop.after), slapd.Addr, rr.Setup.DirectorySeconds)

	t0 = time.Now()
	dataDir := filepath.Join(dir, "authority-data")
	db, err := buildDatabase(ctx, dataDir, slapd, pop, o.PageSize)
	if err != nil {
		return nil, err
	}
	pop.before = nil // not needed any more (memory at 1,000,000 people)
	rr.Setup.DatabaseSeconds = time.Since(t0).Seconds()
	if fi, err := os.Stat(filepath.Join(dataDir, "authority.db")); err == nil {
		rr.Setup.DatabaseBytes = fi.Size()
	}
	rr.Users = pop.expected.Users
	logf("database with %d users in %.1fs; %d people of the directory left out for the registration load", rr.Users, rr.Setup.DatabaseSeconds, len(pop.unregistered))
	rr.MappedFloor.Attributes = db.searchAttrs
	logf("the product's search attributes for this server: %s", strings.Join(db.searchAttrs, ", "))

	prof := func(base, suffix string) []string {
		if !atPeople || base == "" {
			return nil
		}
		return []string{base + suffix}
	}
	profArgs := func(suffix string) []string {
		var a []string
		if p := prof(o.CPUProfile, suffix); p != nil {
			a = append(a, "-cpuprofile", p[0])
		}
		if p := prof(o.MemProfile, suffix); p != nil {
			a = append(a, "-memprofile", p[0])
		}
		return a
	}
	// The database as registered: every repetition starts from it.
	snapshot := filepath.Join(dir, "authority.db.snapshot")
	if err := copyFile(filepath.Join(dataDir, "authority.db"), snapshot); err != nil {
		return nil, err
	}
	// floorOnce runs the floor search twice: with every attribute (*) and
	// with the attributes the product asks for.
	floorOnce := func(i int) error {
		for _, f := range []struct {
			name, suffix string
			attrs        []string
			res          *FloorResult
		}{{"floor (*)", ".floor", allAttributes, &rr.Floor}, {"floor (mapped attributes)", ".floor-mapped", db.searchAttrs, &rr.MappedFloor}} {
			args := []string{"-mode", "floor", "-addr", slapd.Addr, "-page-size", strconv.Itoa(o.PageSize), "-attrs", strings.Join(f.attrs, ",")}
			if i == 0 {
				args = append(args, profArgs(f.suffix)...)
			}
			c0 := pidCPU(slapdPID)
			res, err := runChildProcess(ctx, args...)
			if err != nil {
				return err
			}
			f.res.add(res, pidCPU(slapdPID)-c0)
			logf("%s %d: %d entries in %d pages, %.2fs (%.2f CPU-s; slapd %.2f CPU-s)", f.name, i+1, res.Entries, res.Pages, res.Seconds, res.CPUSeconds, f.res.slapdCPU[len(f.res.slapdCPU)-1])
			if res.Entries != len(pop.after) {
				return fmt.Errorf("bench: the %s search found %d entries, the directory has %d people", f.name, res.Entries, len(pop.after))
			}
		}
		return nil
	}
	syncOnce := func(rep int, simulate bool) (childResult, time.Duration, time.Duration, error) {
		mode, suffix := "sync", ""
		if simulate {
			mode, suffix = "simulate", ".simulate"
		}
		args := []string{"-mode", mode, "-data", dataDir}
		if rep == 0 {
			args = append(args, profArgs(suffix)...)
		}
		if o.OverrideValve && !simulate {
			args = append(args, "-override-valve")
		}
		c0 := pidCPU(slapdPID)
		w0 := time.Now()
		res, err := runChildProcess(ctx, args...)
		if err != nil {
			return res, 0, 0, err
		}
		slapdCPU, wall := pidCPU(slapdPID)-c0, time.Since(w0)
		var c SyncCounts
		if res.Run != nil {
			c = res.Run.Counts
		}
		logf("%s %d: %.2fs (%.2f CPU-s; slapd %.2f CPU-s), peak RSS %.0f MB, status %s, %s", mode, rep+1, res.Seconds, res.CPUSeconds,
			slapdCPU.Seconds(), float64(res.PeakRSS)/mb, statusOf(res), countsText(c))
		if c != pop.expected {
			var lines []string
			if res.Run != nil {
				lines = res.Run.ErrorLines
			}
			logf("WARNING: %s counts differ from the expected: %s; error lines %q", mode, countsText(pop.expected), lines)
		}
		return res, slapdCPU, wall, nil
	}

	// Each repetition restores the registered database, then: floor,
	// simulate, floor, sync. With several repetitions, one more floor at the
	// end brackets the last sync. The simulate runs first on the fresh
	// database, so that both see the same changes.
	rr.Simulate, rr.Sync = &SyncResult{Expected: pop.expected}, &SyncResult{Expected: pop.expected}
	for rep := range o.Repeat {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			if err := os.Remove(filepath.Join(dataDir, "authority.db"+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("bench: restore the database: %w", err)
			}
		}
		if err := copyFile(snapshot, filepath.Join(dataDir, "authority.db")); err != nil {
			return nil, err
		}
		for _, simulate := range []bool{true, false} {
			if err := floorOnce(len(rr.Floor.Runs)); err != nil {
				return nil, err
			}
			res, slapdCPU, wall, err := syncOnce(rep, simulate)
			if err != nil {
				return nil, err
			}
			if simulate {
				rr.Simulate.add(res, slapdCPU, wall)
			} else {
				rr.Sync.add(res, slapdCPU, wall)
			}
		}
	}
	if o.Repeat > 1 {
		if err := floorOnce(len(rr.Floor.Runs)); err != nil {
			return nil, err
		}
	}
	rr.Floor.finish()
	rr.MappedFloor.finish()
	rr.Sync.finish(rr.Floor, rr.MappedFloor, nil, 1)
	rr.Simulate.finish(rr.Floor, rr.MappedFloor, rr.Sync, 0)

	if !o.SkipSignIn {
		so := o
		if !atPeople {
			so.Attackers = 0 // the attack scenario is measured once, at the full size
		}
		si, err := measureSignIn(ctx, so, dataDir, slapd.Addr, slapdPID, pop, db, profArgs(".signin"), logf)
		if err != nil {
			return nil, err
		}
		rr.SignIn = si
	}
	// The incremental run comes last: it changes the directory.
	if k := o.incrementalChangesAt(n); atPeople && k > 0 {
		inc, err := measureIncremental(ctx, slapd, slapdPID, dataDir, pop, k, rr.Sync, profArgs(".incremental"), logf)
		if err != nil {
			return nil, err
		}
		rr.Incremental = inc
	}
	return rr, nil
}

func readPID(path string) int {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	return pid
}

func commandLine(args []string) string {
	q := make([]string, 0, len(args)+1)
	q = append(q, "go run ./cmd/authority-bench")
	for _, a := range args {
		if strings.ContainsAny(a, " \t'\"") {
			a = strconv.Quote(a)
		}
		q = append(q, a)
	}
	return strings.Join(q, " ")
}
