package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/dirsync"
)

// Exit codes of `authority sync` besides 0 (ok) and 1 (failed).
const exitValve = 3

// exitError ends the command with a given exit code after its message.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// exit ends the process (replaced in tests).
var exit = os.Exit

// syncOnce runs one directory sync on the data directory and prints its
// summary. Exit codes: 0 when the run ended ok, 1 when it failed, was
// cancelled (Ctrl-C, SIGTERM) or could not start, 3 when the safety valve
// stopped its deactivations (the process exits here, after the app is
// closed, since main knows only 1 and 2).
func syncOnce(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := runSync(ctx, args, stdout, stderr)
	var ee exitError
	if errors.As(err, &ee) {
		fmt.Fprintln(stderr, "authority:", ee.err)
		exit(ee.code)
	}
	return err
}

// runSync is syncOnce before the exit code: an exitError carries code 3.
func runSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", authority.DefaultDataDir, "data directory (database, key, logs)")
	simulate := fs.Bool("simulate", false, "compute and report the changes without making them")
	override := fs.Bool("override-valve", false, "deactivate even when the safety valve would stop it (this run only)")
	incremental := fs.Bool("incremental", false, "only what changed in each directory since its last run (a full run when a server has no usable tracking state)")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("sync takes no arguments, got %q", fs.Args())}
	}
	app, err := authority.Open(ctx, authority.Config{DataDir: *data, AdminPassword: os.Getenv(authority.AdminPasswordEnv), Stdout: stdout})
	if err != nil {
		return err
	}
	defer app.Close()
	run, err := app.Sync.Run(ctx, dirsync.Request{Simulate: *simulate, OverrideValve: *override, Incremental: *incremental})
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	printRun(stdout, run)
	switch run.Status {
	case dirsync.StatusOK:
		return nil
	case dirsync.StatusValve:
		return exitError{code: exitValve, err: errors.New("sync: " + dirsync.ValveMessage + " (run again with --override-valve to deactivate anyway)")}
	case dirsync.StatusCancelled:
		return fmt.Errorf("sync: run %d was cancelled: %s", run.ID, run.Message)
	default:
		return fmt.Errorf("sync: run %d failed: %s", run.ID, run.Message)
	}
}

func printRun(w io.Writer, r dirsync.Run) {
	sim := ""
	if r.Simulated {
		sim = " (simulated: nothing was changed)"
	}
	fmt.Fprintf(w, "Directory sync run %d (%s): %s%s\n", r.ID, r.Mode, r.Status, sim)
	c := r.Counts
	fmt.Fprintf(w, "users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d, blocked:%d, errors:%d, warnings:%d\n",
		c.Users, c.Deactivated, c.Activated, c.Moved, c.RolesChanged, c.Blocked, c.Errors, r.Warnings)
	for _, o := range r.Orgs {
		fmt.Fprintf(w, "  org:%d/%s users:%d, deactivated:%d, activated:%d, moved:%d, rolesChanged:%d, blocked:%d, errors:%d\n",
			o.OrgID, o.OrgName, o.Users, o.Deactivated, o.Activated, o.Moved, o.RolesChanged, o.Blocked, o.Errors)
	}
	if r.Message != "" {
		fmt.Fprintln(w, r.Message)
	}
	for _, ch := range r.Changes {
		fmt.Fprintf(w, "  %s user:%d/%s", ch.Change, ch.UserID, ch.Username)
		if ch.From != "" || ch.To != "" {
			fmt.Fprintf(w, " from %q to %q", ch.From, ch.To)
		}
		if ch.Message != "" {
			fmt.Fprintf(w, ": %s", ch.Message)
		}
		fmt.Fprintln(w)
	}
	if r.ChangesTotal > len(r.Changes) {
		fmt.Fprintf(w, "  ... %d more line(s): GET /api/v1/dirsync/runs/%d\n", r.ChangesTotal-len(r.Changes), r.ID)
	}
}
