package dirsync_test

import (
	"testing"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// missedRunsBeforeDeactivation (docs/rules.md section 6.1): a user the
// directory no longer has is deactivated only once that many runs in a row
// have missed it; the runs before say how many wait; a user found again
// starts counting afresh; simulate counts nothing.
func TestSyncMissedRunThreshold(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	org := e.ldapOrg("Corp", srv.ID)
	ids := e.users(org.ID, "alice", "bob", "gone")
	if _, err := e.App.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", SyncInterval: "12h", ValvePercent: 100, ValveMinUsers: 100,
		MissedRunsBeforeDeactivation: 2}); err != nil {
		t.Fatal(err)
	}
	sim := e.sync(dirsync.Request{Simulate: true})
	first := e.sync(dirsync.Request{})
	for _, run := range []dirsync.Run{sim, first} {
		if run.Status != dirsync.StatusOK || run.Counts.Deactivated != 0 || run.Missed["1"] != 1 {
			t.Fatalf("run %d (simulated %v): %+v missed %v", run.ID, run.Simulated, run.Counts, run.Missed)
		}
	}
	if e.user(ids["gone"]).Status != users.StatusActive {
		t.Fatalf("deactivated at the first miss")
	}
	second := e.sync(dirsync.Request{})
	if second.Counts.Deactivated != 1 || e.user(ids["gone"]).Status != users.StatusDeactivated || len(second.Missed) != 0 {
		t.Fatalf("second miss: %+v missed %v, %s", second.Counts, second.Missed, e.user(ids["gone"]).Status)
	}
	if _, err := e.App.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", MissedRunsBeforeDeactivation: 101}); err == nil {
		t.Errorf("a threshold of 101 was accepted")
	}
}
