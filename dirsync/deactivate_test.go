package dirsync_test

import (
	"fmt"
	"testing"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// A batch of deactivations is written with set-wide statements; when they
// fail, the batch is done one user at a time, so that the user whose
// deactivation fails stays as it was, with an error line, and the others
// are deactivated with their devices and archives.
func TestDeactivateBatchFallsBackToOneAtATime(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	corp := e.ldapOrg("Corp", srv.ID)
	ids := e.users(corp.ID, "alice", "gone-1", "gone-2", "gone-3")
	for _, n := range []string{"gone-1", "gone-2", "gone-3"} {
		e.device(ids[n], n+"-laptop")
	}
	// The database refuses to deactivate gone-2 (as a disk error or a
	// constraint would, for one user).
	if _, err := e.App.DB.ExecContext(e.ctx, fmt.Sprintf(`CREATE TRIGGER refuse_gone_2 BEFORE UPDATE OF status ON users
		WHEN NEW.id = %d AND NEW.status = 'deactivated' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`, ids["gone-2"])); err != nil {
		t.Fatal(err)
	}
	run := e.sync(dirsync.Request{OverrideValve: true})
	if run.Status != dirsync.StatusOK {
		t.Fatalf("run: %+v", run)
	}
	if run.Counts.Deactivated != 2 || run.Counts.Errors != 1 {
		t.Errorf("counts %+v, want 2 deactivated and 1 error", run.Counts)
	}
	for _, n := range []string{"gone-1", "gone-3"} {
		if u := e.user(ids[n]); u.Status != users.StatusDeactivated {
			t.Errorf("%s: %s, want deactivated", n, u.Status)
		}
		if a := e.archives(ids[n]); len(a) != 1 || a[0].State != "cold" {
			t.Errorf("%s: archives %+v, want one in cold storage", n, a)
		}
		if !hasChange(run, n, dirsync.ChangeDeactivated) {
			t.Errorf("%s: no deactivation line: %+v", n, changesOf(run, n))
		}
	}
	if u := e.user(ids["gone-2"]); u.Status != users.StatusActive {
		t.Errorf("gone-2: %s, want active (its deactivation failed)", u.Status)
	}
	if a := e.archives(ids["gone-2"]); len(a) != 1 || a[0].State != "normal" {
		t.Errorf("gone-2: archives %+v, want normal", a)
	}
	if cs := changesOf(run, "gone-2"); len(cs) != 1 || cs[0].Change != dirsync.ChangeError || !contains(cs[0].Message, "could not deactivate") || !contains(cs[0].Message, "refused by the test") {
		t.Errorf("gone-2: lines %+v, want one error that says why", cs)
	}
	if u := e.user(ids["alice"]); u.Status != users.StatusActive {
		t.Errorf("alice (in the directory): %s", u.Status)
	}
}
