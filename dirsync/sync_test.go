package dirsync_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

const orgByDN = `function(entry) {
	if (entry.dn.indexOf("ou=staff") >= 0) { return "Staff"; }
	if (entry.dn.indexOf("ou=students") >= 0) { return "Nowhere"; }
	return "";
}`

const rolesByGroup = `function(entry) {
	var groups = entry.memberOf || [];
	for (var i = 0; i < groups.length; i++) {
		if (groups[i].indexOf("ou=admins") == 0) { return ["All Org Admin", "Desktop User", "Server Administrator", "No Such Role"]; }
	}
	return null;
}`

// TestSyncGlauth runs a sync over the demo directory: deactivation (inactive
// and not found), moves, a missing org, roles, profiles, the log lines, the
// history and the email as the SMTP sink receives it.
func TestSyncGlauth(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	sink := testenv.StartSMTP(t)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com", "Security <sec@example.com>"},
		SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port, From: "authority@example.com"}}); err != nil {
		t.Fatal(err)
	}
	in := glauthInput(g)
	in.OrgNameScript, in.RoleNameScript = ptr(orgByDN), ptr(rolesByGroup)
	srv := e.server(in)
	corp := e.ldapOrg("Corp", srv.ID)
	staff := e.ldapOrg("Staff", srv.ID)
	ids := e.users(corp.ID, "alice", "BOB", "carol", "dave", "erin", "frank", "zed")
	e.users(staff.ID, "grace")
	// Roles outside the Role Mapping list are never touched.
	if _, err := e.App.DB.ExecContext(e.ctx, `INSERT INTO user_roles(user_id, role) VALUES(?, 'Server Administrator')`, ids["carol"]); err != nil {
		t.Fatal(err)
	}

	run := e.sync(dirsync.Request{Subject: &dirsync.Subject{UserID: 1, Username: "admin", OrgID: 1}})
	if run.Status != dirsync.StatusOK || run.Trigger != dirsync.TriggerManual || run.Simulated {
		t.Fatalf("run: %+v", run)
	}
	want := dirsync.Counts{Users: 8, Deactivated: 2, Moved: 3, RolesChanged: 2} // alice and grace are admins
	if run.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Counts, want)
	}
	if run.Warnings != 2 {
		t.Errorf("warnings %d, want 2 (erin and frank name org Nowhere)", run.Warnings)
	}
	// Per org: the counts go to the org the user was in.
	if len(run.Orgs) != 2 || run.Orgs[0].OrgID != corp.ID || run.Orgs[0].Users != 7 || run.Orgs[0].Deactivated != 2 || run.Orgs[0].Moved != 3 ||
		run.Orgs[1].OrgID != staff.ID || run.Orgs[1].Users != 1 {
		t.Errorf("org counts %+v", run.Orgs)
	}

	alice := e.user(ids["alice"])
	if alice.OrgID != staff.ID || !slices.Equal(alice.Roles, []string{"All Org Admin", "Desktop User"}) || alice.Email != "alice@example.com" ||
		alice.FirstName != "Alice" || alice.LastName != "Anderson" || alice.LDAPDN != g.UserDN("alice") || alice.LDAPServerID == nil || *alice.LDAPServerID != srv.ID {
		t.Errorf("alice: %+v", alice)
	}
	// bob: null roles → Staff's default roles, which he has: no change.
	bob := e.user(ids["BOB"])
	if bob.OrgID != staff.ID || !slices.Equal(bob.Roles, []string{"Desktop User", "PROe User"}) || bob.Status != users.StatusActive {
		t.Errorf("bob: %+v", bob)
	}
	carol := e.user(ids["carol"])
	if !slices.Contains(carol.Roles, "Server Administrator") || carol.OrgID != staff.ID {
		t.Errorf("carol lost a role outside the Role Mapping list or was not moved: %+v", carol)
	}
	for _, n := range []string{"dave", "zed"} {
		if u := e.user(ids[n]); u.Status != users.StatusDeactivated || u.StatusReason != users.ReasonDirsync {
			t.Errorf("%s: %s (%s), want deactivated by dirsync", n, u.Status, u.StatusReason)
		}
	}
	for _, n := range []string{"erin", "frank"} {
		if u := e.user(ids[n]); u.OrgID != corp.ID || u.Status != users.StatusActive {
			t.Errorf("%s: %+v, want active in Corp", n, u)
		}
		if !hasChange(run, n, dirsync.ChangeWarning) {
			t.Errorf("no warning for %s: %+v", n, changesOf(run, n))
		}
	}
	if _, err := e.App.Orgs.ByName(e.ctx, "Nowhere"); err == nil {
		t.Error("a sync created org Nowhere")
	}
	if c := changesOf(run, "alice"); !hasChange(run, "alice", dirsync.ChangeMoved) || !hasChange(run, "alice", dirsync.ChangeRolesChanged) {
		t.Errorf("alice's changes: %+v", c)
	}
	for _, c := range changesOf(run, "dave") {
		if c.Change == dirsync.ChangeDeactivated && (c.From != "active" || c.To != "deactivated (dirsync)" || c.UserID != ids["dave"] || c.OrgID != corp.ID) {
			t.Errorf("dave's change line: %+v", c)
		}
	}

	// The log, line by line as SPEC section 6 shows it.
	lines := runLines(e.logText(), run.ID)
	id := strconv.FormatInt(run.ID, 10)
	orgList := strconv.FormatInt(corp.ID, 10) + "," + strconv.FormatInt(staff.ID, 10)
	if m := matching(lines, reSubmitting); len(m) != 1 || m[0][2] != id || m[0][3] != orgList {
		t.Errorf("Submitting line: %q\n%s", m, strings.Join(lines, "\n"))
	}
	if m := matching(lines, reRunning); len(m) != 2 || m[0][3] != strconv.FormatInt(corp.ID, 10) || m[0][4] != "Corp" {
		t.Errorf("Running lines: %q", m)
	}
	if m := matching(lines, reCompleted); len(m) != 2 || m[0][4] != "Corp" || m[0][5] != "7" || m[0][6] != "2" || m[0][8] != "3" {
		t.Errorf("Completed lines: %q", m)
	}
	if m := matching(lines, reSummary); len(m) != 1 || m[0][3] != orgList || m[0][4] != "8" || m[0][5] != "2" || m[0][7] != "3" || m[0][8] != "2" || m[0][9] != "false" {
		t.Errorf("Summary line: %q", m)
	}
	hist := matching(lines, reHistory)
	var deact, moves int
	for _, m := range hist {
		if m[3] != "1" || m[4] != "admin" || m[5] != "1" || m[11] != "false" {
			t.Errorf("HISTORY line: %q", m[0])
		}
		switch {
		case m[6] == "Blocking and deactivating":
			deact++
			if m[8] != "dave" && m[8] != "zed" {
				t.Errorf("deactivated %s", m[8])
			}
		case strings.HasPrefix(m[6], "Moving to org:"+strconv.FormatInt(staff.ID, 10)+"/Staff"):
			moves++
			if m[9] != strconv.FormatInt(corp.ID, 10) || m[10] != "Corp" {
				t.Errorf("move line: %q", m[0])
			}
		}
	}
	if deact != 2 || moves != 3 {
		t.Errorf("HISTORY lines: %d deactivations, %d moves\n%s", deact, moves, strings.Join(lines, "\n"))
	}

	// The email as the mail server got it.
	msgs := sink.WaitFor(t, 1, 30*time.Second)
	m := msgs[0]
	if !slices.Equal(m.To, []string{"ops@example.com", "sec@example.com"}) || m.From != "authority@example.com" {
		t.Errorf("email envelope: from %q to %q", m.From, m.To)
	}
	if !strings.Contains(m.Subject, "run "+id) || !strings.Contains(m.Subject, "ok") {
		t.Errorf("email subject: %q", m.Subject)
	}
	for _, s := range []string{"users:8, deactivated:2, activated:0, moved:3, rolesChanged:2", "user:" + strconv.FormatInt(ids["dave"], 10) + "/dave", "Nowhere", "org:" + strconv.FormatInt(corp.ID, 10) + "/Corp"} {
		if !strings.Contains(m.Body, s) {
			t.Errorf("email body lacks %q:\n%s", s, m.Body)
		}
	}
	if err := e.App.Sync.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	if em := matching(runLines(e.logText(), run.ID), reEmail); len(em) != 1 || em[0][3] != "ops@example.com, sec@example.com" || em[0][4] != "8" || em[0][5] != "2" {
		t.Errorf("email log line: %q", em)
	}

	// A second run finds nothing more to do.
	again := e.sync(dirsync.Request{})
	if again.Counts != (dirsync.Counts{Users: 8}) || len(again.Changes) != 2 { // the two warnings again
		t.Errorf("second run: %+v %+v", again.Counts, again.Changes)
	}
	if m := matching(runLines(e.logText(), again.ID), reHistory); len(m) != 0 || !strings.Contains(again.StartedBy, "system") {
		t.Errorf("second run: HISTORY lines %q, started by %q", m, again.StartedBy)
	}
	if h := matching(runLines(e.logText(), again.ID), reSubmitting); len(h) != 1 {
		t.Errorf("second run submitting: %q", h)
	}
}

// TestSyncNoRoleScript: a server without a role name script leaves roles alone.
func TestSyncNoRoleScript(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	corp := e.ldapOrg("Corp", srv.ID)
	ids := e.users(corp.ID, "alice")
	if _, err := e.App.DB.ExecContext(e.ctx, `DELETE FROM user_roles WHERE user_id = ? AND role = 'PROe User'`, ids["alice"]); err != nil {
		t.Fatal(err)
	}
	run := e.sync(dirsync.Request{})
	if run.Counts.RolesChanged != 0 || !slices.Equal(e.user(ids["alice"]).Roles, []string{"Desktop User"}) {
		t.Errorf("roles changed without a role name script: %+v %v", run.Counts, e.user(ids["alice"]).Roles)
	}
}

// TestSyncSeveralUsernames: every value of the username attribute is a
// username (bob has two mail values, so two users).
func TestSyncSeveralUsernames(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	in := glauthInput(g)
	in.SearchFilter = ptr("(&(objectClass=posixAccount)(mail=%u))")
	srv := e.server(in)
	corp := e.ldapOrg("Corp", srv.ID)
	ids := e.users(corp.ID, "Bob.Brown@example.org", "bob@example.com", "alice@example.com", "gone@example.com")
	run := e.sync(dirsync.Request{})
	if run.Counts.Deactivated != 1 || !hasChange(run, "gone@example.com", dirsync.ChangeDeactivated) {
		t.Errorf("run: %+v %+v", run.Counts, run.Changes)
	}
	for _, n := range []string{"Bob.Brown@example.org", "bob@example.com"} {
		u := e.user(ids[n])
		if u.Status != users.StatusActive || !strings.EqualFold(u.Email, n) || u.LDAPDN != g.UserDN("bob") {
			t.Errorf("%s: %+v", n, u)
		}
	}
}

// TestSyncLockoutGuard: the built-in administrator is never deactivated,
// even when the root org uses LDAP and the directory does not know it.
func TestSyncLockoutGuard(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	root, err := e.App.Orgs.EnsureRoot(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Orgs.Update(e.ctx, root.ID, orgsInput(srv.ID)); err != nil {
		t.Fatal(err)
	}
	ids := e.users(root.ID, "alice", "nobody")
	run := e.sync(dirsync.Request{})
	admin, err := e.App.Users.ByUsername(e.ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if admin.Status != users.StatusActive || !hasChange(run, "admin", dirsync.ChangeWarning) {
		t.Errorf("admin: %s; changes %+v", admin.Status, run.Changes)
	}
	if e.user(ids["nobody"]).Status != users.StatusDeactivated || run.Counts.Users != 3 || run.Counts.Deactivated != 1 {
		t.Errorf("run: %+v", run.Counts)
	}
}

// TestSyncNoScope: with no org using LDAP a run records nothing to do.
func TestSyncNoScope(t *testing.T) {
	e := start(t)
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK || run.Counts != (dirsync.Counts{}) || run.Message == "" {
		t.Errorf("run: %+v", run)
	}
	if m := matching(runLines(e.logText(), run.ID), reSubmitting); len(m) != 1 || m[0][3] != "" {
		t.Errorf("submitting: %q", m)
	}
	if m := matching(runLines(e.logText(), run.ID), reEmail); len(m) != 1 || m[0][3] != "" {
		t.Errorf("email line without addresses: %q", m)
	}
}

// TestSyncServerDown: a directory that cannot be reached fails the run
// before any deactivation, and says so in the log.
func TestSyncServerDown(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	corp := e.ldapOrg("Corp", srv.ID)
	ids := e.users(corp.ID, "alice", "zed")
	g.Stop()
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusFailed || !strings.Contains(run.Message, "connect to LDAP server") || run.FinishedAt == nil {
		t.Errorf("run: %+v", run)
	}
	if e.user(ids["zed"]).Status != users.StatusActive {
		t.Error("zed was deactivated by a failed run")
	}
	if !strings.Contains(strings.Join(runLines(e.logText(), run.ID), "\n"), "DIRSYNC:: Failed run:"+strconv.FormatInt(run.ID, 10)) {
		t.Error("no failure line in the log")
	}
}

func orgsInput(serverID int64) orgs.Input {
	return orgs.Input{AuthMethod: ptr("ldap"), LDAPServerIDs: &[]int64{serverID}}
}
