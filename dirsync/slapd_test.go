package dirsync_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/legalhold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

const orgByOU = `function(entry) {
	if (entry.dn.indexOf(",ou=Staff,") >= 0) { return "Staff"; }
	if (entry.dn.indexOf(",ou=Faculty,") >= 0) { return "Faculty"; }
	return "";
}`

const rolesByManagers = `function(entry) {
	var roles = ["Desktop User", "PROe User"];
	var groups = entry.memberOf || [];
	for (var i = 0; i < groups.length; i++) {
		if (groups[i].indexOf("cn=Managers,") == 0) { roles.push("Org Manager"); }
	}
	return roles;
}`

func uids(people []testenv.Person) []string {
	out := make([]string, len(people))
	for i, p := range people {
		out[i] = p.UID
	}
	return out
}

func extraNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("gone%03d", i)
	}
	return out
}

// TestSyncSlapdPaged: a directory larger than one page (2,500 people, pages
// of 500), streamed page by page; deactivations (disabled and not found),
// moves into existing orgs, roles. It also logs a first measurement of the
// sync time against a bare paged search.
func TestSyncSlapdPaged(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(2500, 7)
	sl := testenv.StartSlapd(t, people)
	in := slapdInput(sl)
	in.OrgNameScript, in.RoleNameScript = ptr(orgByOU), ptr(rolesByManagers)
	srv := e.server(in)
	campus := e.ldapOrg("Campus", srv.ID)
	staff := e.ldapOrg("Staff", srv.ID)
	faculty := e.ldapOrg("Faculty", srv.ID)
	ids := e.users(campus.ID, uids(people)...)
	gone := e.users(campus.ID, extraNames(40)...)

	var wantDeact, wantMoved, wantRoles int
	for _, p := range people {
		switch {
		case p.Disabled():
			wantDeact++
		default:
			if p.OU == "Staff" || p.OU == "Faculty" {
				wantMoved++
			}
			if slices.Contains(p.MemberOf, "Managers") {
				wantRoles++
			}
		}
	}
	wantDeact += len(gone)

	pages := 0
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, _ int) {
		if stage == dirsync.HookProcessed {
			pages++
		}
	})
	t0 := time.Now()
	run := e.sync(dirsync.Request{})
	syncTime := time.Since(t0)
	if run.Status != dirsync.StatusOK {
		t.Fatalf("run: %+v", run)
	}
	if pages != 5 {
		t.Errorf("%d pages, want 5", pages)
	}
	want := dirsync.Counts{Users: 2540, Deactivated: wantDeact, Moved: wantMoved, RolesChanged: wantRoles}
	if run.Counts != want {
		t.Errorf("counts %+v, want %+v", run.Counts, want)
	}
	for _, p := range people[:200] {
		u := e.user(ids[p.UID])
		switch {
		case p.Disabled():
			if u.Status != users.StatusDeactivated {
				t.Errorf("%s is disabled but %s", p.UID, u.Status)
			}
		case p.OU == "Staff" && u.OrgID != staff.ID, p.OU == "Faculty" && u.OrgID != faculty.ID,
			p.OU != "Staff" && p.OU != "Faculty" && u.OrgID != campus.ID:
			t.Errorf("%s of %s is in org %d", p.UID, p.OU, u.OrgID)
		case slices.Contains(p.MemberOf, "Managers") != slices.Contains(u.Roles, "Org Manager"):
			t.Errorf("%s: roles %v, groups %v", p.UID, u.Roles, p.MemberOf)
		case u.Email != p.Mail[0] || u.FirstName != p.GivenName || u.LDAPUID == "":
			t.Errorf("%s: profile %+v", p.UID, u)
		}
	}
	for n, id := range gone {
		if e.user(id).Status != users.StatusDeactivated {
			t.Errorf("%s is not in the directory but not deactivated", n)
		}
	}

	// A first measurement: the bare paged search of the same directory.
	t1 := time.Now()
	conn, err := ldapauth.Dial(e.ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := conn.SearchAll(e.ctx, func(p []*ldapauth.Entry) error { n += len(p); return nil }); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	bare := time.Since(t1)
	t2 := time.Now()
	again := e.sync(dirsync.Request{})
	second := time.Since(t2)
	if again.Counts != (dirsync.Counts{Users: 2540}) {
		t.Errorf("second run: %+v", again.Counts)
	}
	t.Logf("2,500 people, pages of 500: first sync %v (%d change lines), second sync (no changes) %v, bare paged search %v (%d entries)",
		syncTime.Round(time.Millisecond), again.ChangesTotal+run.ChangesTotal, second.Round(time.Millisecond), bare.Round(time.Millisecond), n)
}

// TestSyncSearchFailsOnThirdPage: a search that ends early (the directory
// goes away after two pages) fails the run before any deactivation; the
// pages already processed keep their (whole) changes, and the next run
// completes the work.
func TestSyncSearchFailsOnThirdPage(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(1500, 3)
	sl := testenv.StartSlapd(t, people)
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	gone := e.users(org.ID, extraNames(20)...)
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, page int) {
		if stage == dirsync.HookReceived && page == 2 {
			sl.Stop()
		}
	})
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusFailed || !strings.Contains(run.Message, "page 3") || !strings.Contains(run.Message, "failed after 2 page(s)") {
		t.Fatalf("run: %s %q", run.Status, run.Message)
	}
	if run.Counts.Deactivated != 0 || run.Counts.Blocked != 0 {
		t.Errorf("a failed search deactivated users: %+v", run.Counts)
	}
	var updated int
	for _, p := range people {
		u := e.user(ids[p.UID])
		if u.Status != users.StatusActive {
			t.Fatalf("%s is %s after a failed run", p.UID, u.Status)
		}
		if u.Email == p.Mail[0] {
			updated++
		}
	}
	profiles := 0
	for _, c := range run.Changes {
		if c.Change == dirsync.ChangeProfileUpdated {
			profiles++
		}
	}
	// Two pages of 500, less the disabled people in them (left as they are).
	if updated != profiles || updated <= 900 || updated > 1000 {
		t.Errorf("%d users updated (%d change lines) from the first two pages", updated, profiles)
	}
	lines := strings.Join(runLines(e.logText(), run.ID), "\n")
	if !strings.Contains(lines, "DIRSYNC:: Failed run:"+strconv.FormatInt(run.ID, 10)) || !strings.Contains(lines, "nobody was deactivated") {
		t.Errorf("log:\n%s", lines)
	}

	dirsync.SetPageHook(e.App.Sync, nil)
	if err := sl.Start(); err != nil {
		t.Fatal(err)
	}
	next := e.sync(dirsync.Request{})
	disabled := 0
	for _, p := range people {
		if p.Disabled() {
			disabled++
		}
	}
	if next.Status != dirsync.StatusOK || next.Counts.Deactivated != disabled+len(gone) {
		t.Errorf("next run: %s %+v, want %d deactivated", next.Status, next.Counts, disabled+len(gone))
	}
}

// TestSyncInterruptedRun: a run cut short in the middle (here: its context
// cancelled after its first page, as a shutdown does) leaves every user
// either fully changed or untouched, is recorded as cancelled, and the next
// run completes the work. A run a crash left "running" is marked failed at
// the next start.
func TestSyncInterruptedRun(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(1200, 11)
	sl := testenv.StartSlapd(t, people)
	in := slapdInput(sl)
	in.OrgNameScript, in.RoleNameScript = ptr(orgByOU), ptr(rolesByManagers)
	srv := e.server(in)
	campus := e.ldapOrg("Campus", srv.ID)
	e.ldapOrg("Staff", srv.ID)
	e.ldapOrg("Faculty", srv.ID)
	ids := e.users(campus.ID, uids(people)...)
	ctx, cancel := context.WithCancel(e.ctx)
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, page int) {
		if stage == dirsync.HookProcessed && page == 1 {
			cancel()
		}
	})
	run, err := e.App.Sync.Run(ctx, dirsync.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != dirsync.StatusCancelled || !strings.Contains(run.Message, "cancelled: the process was asked to stop") {
		t.Fatalf("run: %s %q", run.Status, run.Message)
	}
	changed := 0
	for _, p := range people {
		if p.Disabled() {
			continue
		}
		u := e.user(ids[p.UID])
		profile := u.Email == p.Mail[0]
		moved := u.OrgID != campus.ID
		roles := slices.Contains(u.Roles, "Org Manager")
		wantMove := p.OU == "Staff" || p.OU == "Faculty"
		wantRole := slices.Contains(p.MemberOf, "Managers")
		if profile {
			changed++
			if moved != wantMove || roles != wantRole {
				t.Errorf("%s is half changed: profile yes, moved %t (want %t), manager %t (want %t)", p.UID, moved, wantMove, roles, wantRole)
			}
		} else if moved || roles {
			t.Errorf("%s is half changed: moved %t, manager %t, profile not updated", p.UID, moved, roles)
		}
	}
	if changed == 0 || changed >= len(people) {
		t.Errorf("%d users changed by the first page", changed)
	}
	dirsync.SetPageHook(e.App.Sync, nil)
	next := e.sync(dirsync.Request{})
	if next.Status != dirsync.StatusOK {
		t.Fatalf("next run: %+v", next)
	}
	for _, p := range people {
		if u := e.user(ids[p.UID]); !p.Disabled() && u.Email != p.Mail[0] {
			t.Errorf("%s not updated by the next run", p.UID)
		}
	}
}

// smallDirectory is a few slapd people for the lifecycle tests.
func smallDirectory() []testenv.Person {
	var out []testenv.Person
	for _, n := range []string{"ann", "ben", "cat", "dan", "eve", "fay"} {
		out = append(out, testenv.Person{UID: n, GivenName: strings.ToUpper(n[:1]) + n[1:], SN: "Smith", Mail: []string{n + "@example.com"}, OU: "People"})
	}
	return out
}

// TestSyncLegalHold: a user on legal hold that the directory no longer wants
// is blocked instead of deactivated (devices and archives stay); releasing
// the hold deactivates it; the directory wanting it again reactivates it.
// A user blocked pending deactivation whom the directory wants again is
// reactivated even while on hold.
func TestSyncLegalHold(t *testing.T) {
	e := start(t)
	sl := testenv.StartSlapd(t, smallDirectory())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("People", srv.ID)
	ids := e.users(org.ID, "ann", "ben", "cat", "dan", "eve", "fay")
	e.device(ids["ben"], "dev-ben")
	e.device(ids["cat"], "dev-cat")
	holds := legalhold.New(e.App.DB, e.App.Users, e.Clock.Now)
	m, err := holds.Create(e.ctx, "Matter 1")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"ben", "cat"} {
		if _, err := holds.AddCustodian(e.ctx, m.ID, ids[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := sl.Replace("ben", "userAccountControl", "514"); err != nil {
		t.Fatal(err)
	}
	if err := sl.DeletePerson("cat"); err != nil {
		t.Fatal(err)
	}
	run := e.sync(dirsync.Request{})
	if run.Counts.Blocked != 2 || run.Counts.Deactivated != 0 {
		t.Fatalf("counts %+v", run.Counts)
	}
	for _, n := range []string{"ben", "cat"} {
		u := e.user(ids[n])
		if u.Status != users.StatusBlocked || u.StatusReason != users.ReasonLegalHold {
			t.Errorf("%s: %s (%s), want blocked (legal-hold-pending)", n, u.Status, u.StatusReason)
		}
		if a := e.archives(ids[n]); len(a) != 1 || a[0].State != "normal" {
			t.Errorf("%s's archives: %+v", n, a)
		}
		if !hasChange(run, n, dirsync.ChangeBlocked) {
			t.Errorf("no blocked line for %s", n)
		}
	}
	blocks := 0
	for _, h := range matching(runLines(e.logText(), run.ID), reHistory) {
		if strings.HasPrefix(h[6], "Blocking (on legal hold) instead of deactivating") && (h[8] == "ben" || h[8] == "cat") {
			blocks++
		}
	}
	if blocks != 2 {
		t.Errorf("%d HISTORY lines for the blocks, want 2", blocks)
	}
	// A second run leaves the blocked users as they are.
	if again := e.sync(dirsync.Request{}); again.Counts.Blocked != 0 || len(again.Changes) != 0 {
		t.Errorf("second run: %+v %+v", again.Counts, again.Changes)
	}

	// ben is wanted again while on hold: reactivated.
	if err := sl.Replace("ben", "userAccountControl", "512"); err != nil {
		t.Fatal(err)
	}
	run = e.sync(dirsync.Request{})
	if u := e.user(ids["ben"]); u.Status != users.StatusActive || run.Counts.Activated != 1 {
		t.Errorf("ben: %s, counts %+v", u.Status, run.Counts)
	}
	// Releasing cat's hold deactivates it (on behalf of the sync).
	if _, err := holds.ReleaseCustodian(e.ctx, m.ID, ids["cat"]); err != nil {
		t.Fatal(err)
	}
	u := e.user(ids["cat"])
	if u.Status != users.StatusDeactivated || u.StatusReason != users.ReasonDirsync {
		t.Errorf("cat after release: %s (%s)", u.Status, u.StatusReason)
	}
	if a := e.archives(ids["cat"]); len(a) != 1 || a[0].State != "cold" {
		t.Errorf("cat's archives after release: %+v", a)
	}
	// cat comes back: reactivated, its archive back from cold storage.
	if err := sl.AddPerson(smallDirectory()[2]); err != nil {
		t.Fatal(err)
	}
	run = e.sync(dirsync.Request{})
	if u := e.user(ids["cat"]); u.Status != users.StatusActive || run.Counts.Activated != 1 {
		t.Errorf("cat: %s, counts %+v", u.Status, run.Counts)
	}
	if a := e.archives(ids["cat"]); len(a) != 1 || a[0].State != "normal" {
		t.Errorf("cat's archives after reactivation: %+v", a)
	}
}

// TestSyncReactivationArchives: reactivation restores the archives still
// in cold storage; archives past their date stay expired.
func TestSyncReactivationArchives(t *testing.T) {
	e := start(t)
	sl := testenv.StartSlapd(t, smallDirectory())
	srv := e.server(slapdInput(sl))
	o, err := e.App.Orgs.Create(e.ctx, orgs.Input{Name: ptr("People"), AuthMethod: ptr("ldap"), LDAPServerIDs: &[]int64{srv.ID},
		ArchiveHoldDays: orgs.Nullable[int]{Set: true, Value: 30}})
	if err != nil {
		t.Fatal(err)
	}
	ids := e.users(o.ID, "ann", "ben", "cat", "dan", "eve", "fay")
	e.device(ids["ann"], "dev-ann")
	e.device(ids["ben"], "dev-ben")
	for _, n := range []string{"ann", "ben"} {
		if err := sl.Replace(n, "userAccountControl", "514"); err != nil {
			t.Fatal(err)
		}
	}
	if run := e.sync(dirsync.Request{}); run.Counts.Deactivated != 2 {
		t.Fatalf("counts %+v", run.Counts)
	}
	for _, n := range []string{"ann", "ben"} {
		if a := e.archives(ids[n]); a[0].State != "cold" || a[0].ColdStorageExpiresAt == nil {
			t.Fatalf("%s's archive: %+v", n, a[0])
		}
	}
	e.Clock.Advance(10 * 24 * time.Hour)
	if err := sl.Replace("ann", "userAccountControl", "512"); err != nil {
		t.Fatal(err)
	}
	if run := e.sync(dirsync.Request{}); run.Counts.Activated != 1 || !hasChange(run, "ann", dirsync.ChangeReactivated) {
		t.Fatalf("run: %+v %+v", run.Counts, run.Changes)
	}
	if a := e.archives(ids["ann"]); a[0].State != "normal" {
		t.Errorf("ann's archive after 10 days: %+v", a[0])
	}
	e.Clock.Advance(30 * 24 * time.Hour)
	if err := sl.Replace("ben", "userAccountControl", "512"); err != nil {
		t.Fatal(err)
	}
	if run := e.sync(dirsync.Request{}); run.Counts.Activated != 1 {
		t.Fatalf("run: %+v", run.Counts)
	}
	u := e.user(ids["ben"])
	if a := e.archives(ids["ben"]); u.Status != users.StatusActive || a[0].State != "expired" {
		t.Errorf("ben after 40 days: %s, archive %+v", u.Status, a[0])
	}
}

// TestSyncAdminActions: a sync never undoes an administrator's block; it
// overrides an administrator's deactivation in an LDAP org.
func TestSyncAdminActions(t *testing.T) {
	e := start(t)
	sl := testenv.StartSlapd(t, smallDirectory())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("People", srv.ID)
	ids := e.users(org.ID, "ann", "ben", "cat")
	if _, err := e.App.Users.Block(e.ctx, ids["ann"]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.App.Users.Deactivate(e.ctx, ids["ben"], users.ReasonAdmin); err != nil {
		t.Fatal(err)
	}
	run := e.sync(dirsync.Request{})
	if u := e.user(ids["ann"]); u.Status != users.StatusBlocked || u.StatusReason != users.ReasonAdmin {
		t.Errorf("ann: %s (%s): an administrator's block was undone", u.Status, u.StatusReason)
	}
	if u := e.user(ids["ben"]); u.Status != users.StatusActive || run.Counts.Activated != 1 {
		t.Errorf("ben: %s; counts %+v", u.Status, run.Counts)
	}
}

// TestSyncScriptErrors: a script error for an entry leaves that user exactly
// as it was (not deactivated, not moved, profile untouched), counted and
// reported with the username and the message in history, log and email.
func TestSyncScriptErrors(t *testing.T) {
	e := start(t)
	sink := testenv.StartSMTP(t)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com"}, SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port}}); err != nil {
		t.Fatal(err)
	}
	sl := testenv.StartSlapd(t, smallDirectory())
	in := slapdInput(sl)
	in.ActiveScript = ptr(`function(entry) { if (entry.uid == "ann") { throw new Error("ann breaks the script"); } return entry.uid != "ben"; }`)
	in.OrgNameScript = ptr(`function(entry) { if (entry.uid == "cat") { return 42; } return "Moved"; }`)
	srv := e.server(in)
	org := e.ldapOrg("People", srv.ID)
	e.ldapOrg("Moved", srv.ID)
	ids := e.users(org.ID, "ann", "ben", "cat", "dan")
	before := map[string]users.User{}
	for n, id := range ids {
		before[n] = e.user(id)
	}
	run := e.sync(dirsync.Request{})
	if run.Counts.Errors != 2 || run.Counts.Deactivated != 1 || run.Counts.Moved != 1 {
		t.Errorf("counts %+v", run.Counts)
	}
	for _, n := range []string{"ann", "cat"} {
		if u := e.user(ids[n]); u.Status != before[n].Status || u.OrgID != before[n].OrgID || u.Email != before[n].Email || u.LDAPDN != "" {
			t.Errorf("%s changed despite a script error: %+v", n, u)
		}
		if !hasChange(run, n, dirsync.ChangeError) {
			t.Errorf("no error line for %s", n)
		}
	}
	var annMsg string
	for _, c := range changesOf(run, "ann") {
		annMsg = c.Message
	}
	if !strings.Contains(annMsg, "ann breaks the script") {
		t.Errorf("ann's error: %q", annMsg)
	}
	log := strings.Join(runLines(e.logText(), run.ID), "\n")
	if !strings.Contains(log, "DIRSYNC:: Script error for user:"+strconv.FormatInt(ids["ann"], 10)+"/ann in org:") || !strings.Contains(log, "ann breaks the script") {
		t.Errorf("log:\n%s", log)
	}
	msg := sink.WaitFor(t, 1, 30*time.Second)[0]
	if !strings.Contains(msg.Body, "ann breaks the script") || !strings.Contains(msg.Body, "/cat") || !strings.Contains(msg.Subject, "errors:2") {
		t.Errorf("email: %s\n%s", msg.Subject, msg.Body)
	}
}

// TestSyncValve: too many deactivations trip the safety valve (nobody is
// deactivated, the other changes are made, the email says so); an override
// deactivates them once.
func TestSyncValve(t *testing.T) {
	e := start(t)
	sink := testenv.StartSMTP(t)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com"}, SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port}}); err != nil {
		t.Fatal(err)
	}
	sl := testenv.StartSlapd(t, smallDirectory())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("People", srv.ID)
	ids := e.users(org.ID, "ann", "ben", "cat", "dan", "eve", "fay")
	gone := e.users(org.ID, extraNames(11)...)

	sim := e.sync(dirsync.Request{Simulate: true})
	if sim.Status != dirsync.StatusValve || sim.Identified != 11 {
		t.Errorf("simulated run: %s, identified %d", sim.Status, sim.Identified)
	}
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusValve || run.Message != dirsync.ValveMessage || run.Counts.Deactivated != 0 {
		t.Fatalf("run: %s %q %+v", run.Status, run.Message, run.Counts)
	}
	for n, id := range gone {
		if e.user(id).Status != users.StatusActive {
			t.Fatalf("%s deactivated despite the valve", n)
		}
	}
	if u := e.user(ids["ann"]); u.Email != "ann@example.com" {
		t.Errorf("the valve stopped the other changes: %+v", u)
	}
	if !hasChange(run, "gone000", dirsync.ChangeNotDeactivated) {
		t.Errorf("no notDeactivated lines: %+v", run.Changes)
	}
	if log := strings.Join(runLines(e.logText(), run.ID), "\n"); !strings.Contains(log, "DIRSYNC:: Safety valve: "+dirsync.ValveMessage) {
		t.Errorf("log:\n%s", log)
	}
	msgs := sink.WaitFor(t, 2, 30*time.Second)
	if m := msgs[1]; !strings.Contains(m.Body, dirsync.ValveMessage) || !strings.Contains(m.Subject, "valve") {
		t.Errorf("email: %s\n%s", m.Subject, m.Body)
	}

	over := e.sync(dirsync.Request{OverrideValve: true})
	if over.Status != dirsync.StatusOK || over.Counts.Deactivated != 11 || !over.OverrideValve || !strings.Contains(over.Message, "overridden") {
		t.Errorf("override: %s %q %+v", over.Status, over.Message, over.Counts)
	}
	// The override is for one run only: the valve still guards the next.
	for _, n := range []string{"ann", "ben", "cat"} {
		if err := sl.DeletePerson(n); err != nil {
			t.Fatal(err)
		}
	}
	e.users(org.ID, extraNames(20)[11:]...)
	if next := e.sync(dirsync.Request{}); next.Status != dirsync.StatusValve {
		t.Errorf("next run: %s %+v", next.Status, next.Counts)
	}
}

// TestSyncSimulate: a simulated run computes the changes, writes its history,
// log and email, and leaves users, devices, archives and roles byte for byte
// as they were; the real run then makes exactly those changes.
func TestSyncSimulate(t *testing.T) {
	e := start(t)
	sink := testenv.StartSMTP(t)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com"}, SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port}}); err != nil {
		t.Fatal(err)
	}
	dir := smallDirectory()
	dir[0].MemberOf = []string{"Managers"}
	dir[1].OU = "Staff"
	dir[2].UserAccountControl = testenv.UACDisabled
	sl := testenv.StartSlapd(t, dir)
	in := slapdInput(sl)
	in.OrgNameScript, in.RoleNameScript = ptr(orgByOU), ptr(rolesByManagers)
	srv := e.server(in)
	org := e.ldapOrg("People", srv.ID)
	e.ldapOrg("Staff", srv.ID)
	ids := e.users(org.ID, "ann", "ben", "cat", "dan", "eve", "fay", "gone1")
	for n, id := range ids {
		e.device(id, "dev-"+n)
	}
	if _, err := e.App.Users.Deactivate(e.ctx, ids["dan"], users.ReasonDirsync); err != nil {
		t.Fatal(err)
	}
	holds := legalhold.New(e.App.DB, e.App.Users, e.Clock.Now)
	m, _ := holds.Create(e.ctx, "Matter")
	if _, err := holds.AddCustodian(e.ctx, m.ID, ids["gone1"]); err != nil {
		t.Fatal(err)
	}

	before := e.dump(lifecycleTables...)
	sim := e.sync(dirsync.Request{Simulate: true, Subject: &dirsync.Subject{UserID: 1, Username: "admin", OrgID: 1}})
	after := e.dump(lifecycleTables...)
	if before != after {
		t.Fatalf("a simulated run changed the database:\n--- before\n%s\n--- after\n%s", before, after)
	}
	want := dirsync.Counts{Users: 7, Deactivated: 1, Activated: 1, Moved: 1, RolesChanged: 1, Blocked: 1}
	if sim.Status != dirsync.StatusOK || !sim.Simulated || sim.Trigger != dirsync.TriggerSimulate || sim.Counts != want {
		t.Errorf("simulated run: %s %v %s %+v, want %+v", sim.Status, sim.Simulated, sim.Trigger, sim.Counts, want)
	}
	hist := matching(runLines(e.logText(), sim.ID), reHistory)
	if len(hist) < 5 {
		t.Errorf("HISTORY lines: %q", hist)
	}
	for _, h := range hist {
		if h[11] != "true" {
			t.Errorf("HISTORY line of a simulation: %s", h[0])
		}
	}
	if s := matching(runLines(e.logText(), sim.ID), reSummary); len(s) != 1 || s[0][9] != "true" {
		t.Errorf("summary: %q", s)
	}
	if msg := sink.WaitFor(t, 1, 30*time.Second)[0]; !strings.Contains(msg.Body, "SIMULATED") || !strings.Contains(msg.Subject, "simulated") {
		t.Errorf("email: %s\n%s", msg.Subject, msg.Body)
	}

	made := e.sync(dirsync.Request{})
	if made.Counts != want {
		t.Errorf("real run %+v, simulated %+v", made.Counts, want)
	}
	strip := func(cs []dirsync.Change) []string {
		var out []string
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%d %s %s %s→%s", c.UserID, c.Change, c.Message, c.From, c.To))
		}
		slices.Sort(out)
		return out
	}
	if a, b := strip(sim.Changes), strip(made.Changes); !slices.Equal(a, b) {
		t.Errorf("simulated changes differ from the real ones:\n%q\n%q", a, b)
	}
}

// TestSyncConflict: one run at a time, across Start, Run and a second
// Service on the same data directory (as `authority sync` would be).
func TestSyncConflict(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	org := e.ldapOrg("Corp", srv.ID)
	e.users(org.ID, "alice", "bob")
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, _ int) {
		if stage == dirsync.HookReceived {
			once.Do(func() { close(entered) })
			<-release
		}
	})
	first, err := e.App.Sync.Start(e.ctx, dirsync.Request{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != dirsync.StatusRunning || first.ID == 0 {
		t.Fatalf("started: %+v", first)
	}
	<-entered
	if _, err := e.App.Sync.Start(e.ctx, dirsync.Request{Simulate: true}); !isConflict(err) {
		t.Errorf("second Start: %v, want a conflict", err)
	}
	if _, err := e.App.Sync.Run(e.ctx, dirsync.Request{}); !isConflict(err) {
		t.Errorf("Run: %v, want a conflict", err)
	}
	other := dirsync.New(dirsync.Config{DB: e.App.DB, Orgs: e.App.Orgs, Users: e.App.Users, LDAP: e.App.LDAP, Box: e.App.Box,
		Log: e.App.Log, LockFile: e.Dir + "/" + dirsync.LockFileName})
	defer other.Close()
	if _, err := other.Run(e.ctx, dirsync.Request{}); !isConflict(err) {
		t.Errorf("another process: %v, want a conflict", err)
	}
	st, err := e.App.Sync.Status(e.ctx)
	if err != nil || !st.Running || st.RunningID == nil || *st.RunningID != first.ID {
		t.Errorf("status while running: %+v %v", st, err)
	}
	got, err := e.App.Sync.Get(e.ctx, first.ID, dirsync.ListOptions{})
	if err != nil || got.Status != dirsync.StatusRunning || got.FinishedAt != nil {
		t.Errorf("run while running: %+v %v", got, err)
	}
	close(release)
	if err := e.App.Sync.Wait(e.ctx); err != nil {
		t.Fatal(err)
	}
	got, _ = e.App.Sync.Get(e.ctx, first.ID, dirsync.ListOptions{})
	if got.Status != dirsync.StatusOK {
		t.Errorf("run after release: %+v", got)
	}
	if run, err := other.Run(e.ctx, dirsync.Request{}); err != nil || run.Status != dirsync.StatusOK {
		t.Errorf("run in the other service afterwards: %+v %v", run, err)
	}
}
