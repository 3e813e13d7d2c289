//go:build unix

package dirsync_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// The test binary re-executed as a sync that kills itself (see killedSync).
const (
	killChildDirEnv = "DIRSYNC_TEST_KILL_CHILD_DATA"
	killChildAtEnv  = "DIRSYNC_TEST_KILL_CHILD_AT" // "stage:n", a page hook stage and its page or batch
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(killChildDirEnv); dir != "" {
		os.Exit(killedSync(dir, os.Getenv(killChildAtEnv)))
	}
	os.Exit(m.Run())
}

// killedSync runs a sync on the data directory dir and sends itself SIGKILL
// at the page hook stage and number at names: nothing of the process's
// clean-up runs, as when an operator kills the server with kill -9.
func killedSync(dir, at string) int {
	stage, num, _ := strings.Cut(at, ":")
	n, _ := strconv.Atoi(num)
	app, err := authority.Open(context.Background(), authority.Config{DataDir: dir, Stdout: io.Discard})
	if err != nil {
		fmt.Fprintln(os.Stderr, "killed sync: open:", err)
		return 2
	}
	dirsync.SetPageHook(app.Sync, func(s string, _ int64, page int) {
		if s == stage && page == n {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal arrives; never return into the run
		}
	})
	run, err := app.Sync.Run(context.Background(), dirsync.Request{OverrideValve: true})
	fmt.Fprintf(os.Stderr, "killed sync: the run ended without being killed: %+v %v\n", run, err)
	return 3
}

// TestSyncKilledMidRun kills a real sync process (SIGKILL) while it applies
// a page of changes, and while it deactivates: every user must be either
// fully changed or untouched (its devices and archives in step with its
// status), the run is recorded as failed at the next start, and the next run
// completes the work.
func TestSyncKilledMidRun(t *testing.T) {
	for _, at := range []string{dirsync.HookProcessed + ":2", dirsync.HookDeactivated + ":2"} {
		t.Run(at, func(t *testing.T) { testKilledAt(t, at) })
	}
}

func testKilledAt(t *testing.T, at string) {
	ctx := context.Background()
	people := testenv.GeneratePeople(1200, 21)
	sl := testenv.StartSlapd(t, people)
	dir := t.TempDir()
	app, err := authority.Open(ctx, authority.Config{DataDir: dir, AdminPassword: "admin-pw", Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	in := slapdInput(sl)
	in.OrgNameScript, in.RoleNameScript = ptr(orgByOU), ptr(rolesByManagers)
	srv, err := app.LDAP.Create(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	var campus orgs.Org
	for _, name := range []string{"Campus", "Staff", "Faculty"} {
		o, err := app.Orgs.Create(ctx, orgs.Input{Name: ptr(name), AuthMethod: ptr(orgs.AuthLDAP), LDAPServerIDs: &[]int64{srv.ID}})
		if err != nil {
			t.Fatal(err)
		}
		if name == "Campus" {
			campus = o
		}
	}
	// Everyone in the directory, plus 1,300 people who have left it: about
	// 1,360 deactivations, three batches.
	names := uids(people)
	for i := range 1300 {
		names = append(names, fmt.Sprintf("left%04d", i))
	}
	err = app.Users.InTx(ctx, func(tx *sqlx.Tx) error {
		for _, n := range names {
			id, err := app.Users.CreateTx(ctx, tx, users.NewUser{Username: n, OrgID: campus.ID})
			if err != nil {
				return err
			}
			if _, err := app.Users.RegisterDeviceTx(ctx, tx, id, "dev-"+n, n+"'s laptop"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	app.Close()

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), killChildDirEnv+"="+dir, killChildAtEnv+"="+at)
	out, err := child.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the sync was not killed: %v\n%s", err, out)
	}

	app, err = authority.Open(ctx, authority.Config{DataDir: dir, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("reopen after the kill: %v", err)
	}
	defer app.Close()
	runs, err := app.Sync.Runs(ctx, dirsync.ListOptions{})
	if err != nil || len(runs) != 1 || runs[0].Status != dirsync.StatusFailed || !strings.Contains(runs[0].Message, "interrupted") {
		t.Fatalf("the killed run: %+v %v", runs, err)
	}
	deactivated := checkWhole(t, app)
	if strings.HasPrefix(at, dirsync.HookDeactivated) && (deactivated == 0 || deactivated >= 1300) {
		t.Errorf("%d users deactivated before the kill: want some, not all", deactivated)
	}

	next, err := app.Sync.Run(ctx, dirsync.Request{OverrideValve: true})
	if err != nil || next.Status != dirsync.StatusOK {
		t.Fatalf("the next run: %+v %v", next, err)
	}
	checkWhole(t, app)
	disabled := map[string]bool{}
	for _, p := range people {
		disabled[strings.ToLower(p.UID)] = p.Disabled()
	}
	all, err := app.Users.List(ctx, users.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range all {
		if u.Username == users.BuiltinAdmin {
			continue
		}
		gone, known := disabled[strings.ToLower(u.Username)]
		want := users.StatusActive
		if !known || gone {
			want = users.StatusDeactivated
		}
		if u.Status != want {
			t.Errorf("after the next run %s is %s, want %s", u.Username, u.Status, want)
		}
	}
}

// checkWhole checks that every user's devices and archives are in step with
// its status, and returns how many users are deactivated.
func checkWhole(t *testing.T, app *authority.App) int {
	t.Helper()
	var rows []struct {
		Username string `db:"username"`
		Status   string `db:"status"`
		Device   string `db:"device"`
		Archive  string `db:"archive"`
	}
	err := app.DB.Select(&rows, `SELECT u.username, u.status, d.status AS device, a.state AS archive
		FROM users u JOIN devices d ON d.user_id = u.id JOIN archives a ON a.device_guid = d.guid`)
	if err != nil {
		t.Fatal(err)
	}
	deactivated := 0
	for _, r := range rows {
		switch {
		case r.Status == "deactivated" && r.Device == "deactivated" && r.Archive == "cold":
			deactivated++
		case r.Status == "active" && r.Device == "active" && r.Archive == "normal":
		default:
			t.Errorf("%s is half changed: user %s, device %s, archive %s", r.Username, r.Status, r.Device, r.Archive)
		}
	}
	if len(rows) < 2500 {
		t.Fatalf("only %d users with devices", len(rows))
	}
	return deactivated
}
