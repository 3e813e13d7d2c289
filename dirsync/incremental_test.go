package dirsync_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// An incremental run (docs/rules.md section 6.1) against slapd's syncrepl:
// it sees what changed since the last committed run (a disabled person,
// a deleted one, a renamed one) and nothing else: users it did not see
// change stay as they are, even those a full run would deactivate. Its
// simulation reports the same and keeps no state; a quiet run changes
// nobody; a changed filter makes the next incremental run a full one, and
// a state the directory refuses fails the run and makes the next one full.
func TestSyncIncrementalSyncrepl(t *testing.T) {
	e := start(t)
	var people []testenv.Person
	for _, p := range testenv.GeneratePeople(1100, 17) {
		p.Extra = map[string][]string{"objectGUID": {}} // a real OpenLDAP: the stable id is entryUUID
		people = append(people, p)
	}
	var active []testenv.Person
	for _, p := range people {
		if !p.Disabled() {
			active = append(active, p)
		}
	}
	sl := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	full := e.sync(dirsync.Request{})
	if full.Status != dirsync.StatusOK || full.Mode != dirsync.ModeFull || full.Tracking[itoa(srv.ID)] == nil || full.Tracking[itoa(srv.ID)].Mode != ldapauth.TrackingSyncrepl {
		t.Fatalf("full run: %+v", full)
	}
	// Users the directory never had: a full run deactivated them.
	ghosts := e.users(org.ID, "ghost-1", "ghost-2")

	disabled, deleted, renamed := active[0].UID, active[1].UID, active[2].UID
	if err := sl.Replace(disabled, "userAccountControl", "514"); err != nil {
		t.Fatal(err)
	}
	if err := sl.DeletePerson(deleted); err != nil {
		t.Fatal(err)
	}
	if err := sl.Replace(renamed, "sAMAccountName", "new-"+renamed); err != nil {
		t.Fatal(err)
	}

	sim := e.sync(dirsync.Request{Incremental: true, Simulate: true})
	inc := e.sync(dirsync.Request{Incremental: true})
	for _, run := range []dirsync.Run{sim, inc} {
		tr := run.Tracking[itoa(srv.ID)]
		if run.Status != dirsync.StatusOK || run.Mode != dirsync.ModeIncremental || tr == nil || !tr.SeesDeletes || tr.Deleted < 1 {
			t.Fatalf("incremental run: %+v %+v", run, tr)
		}
		if run.Counts.Users != len(people)+len(ghosts) {
			// It reads only the users its changes name, but counts (and
			// weighs its safety valve against) the whole scope.
			t.Errorf("run %d: %d users in scope, want %d", run.ID, run.Counts.Users, len(people)+len(ghosts))
		}
		if run.Counts.Deactivated != 2 {
			t.Errorf("run %d (simulated %v): %d deactivated, want 2 (the disabled and the deleted person):\n%s", run.ID, run.Simulated, run.Counts.Deactivated, changeText(run))
		}
	}
	if n, all := inc.EntriesExamined[itoa(srv.ID)], full.EntriesExamined[itoa(srv.ID)]; n < 2 || n > 10 || all < 1000 {
		t.Errorf("entries examined: incremental %d, full %d", n, all)
	}
	if changeText(sim) != changeText(inc) {
		t.Errorf("simulate and real differ:\n%s\n---\n%s", changeText(sim), changeText(inc))
	}
	for name, want := range map[string]users.Status{disabled: users.StatusDeactivated, deleted: users.StatusDeactivated, active[3].UID: users.StatusActive} {
		if got := e.user(ids[name]).Status; got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
	if u := e.user(ids[renamed]); u.Username != "new-"+renamed {
		t.Errorf("renamed: %s", u.Username)
	}
	for name, id := range ghosts {
		if got := e.user(id).Status; got != users.StatusActive {
			t.Errorf("%s, unseen by the incremental run: %s", name, got)
		}
	}
	if !strings.Contains(e.logText(), "DIRSYNC:: Mode run:"+itoa(inc.ID)+" incremental server:"+itoa(srv.ID)+"=syncrepl") {
		t.Errorf("no Mode line")
	}

	// Nothing changed: a quiet run.
	quiet := e.sync(dirsync.Request{Incremental: true})
	if quiet.Status != dirsync.StatusOK || quiet.Mode != dirsync.ModeIncremental || quiet.Counts.Deactivated+quiet.Counts.Activated+quiet.Counts.Moved != 0 {
		t.Fatalf("quiet run: %+v", quiet)
	}

	// A changed filter: the next incremental run is a full one, and says why.
	e.updateServer(srv.ID, ldapauth.ServerInput{SearchFilter: ptr("(&(objectClass=user)(sAMAccountName=%u)(sn=*))")})
	again := e.sync(dirsync.Request{Incremental: true})
	if again.Mode != dirsync.ModeFull || !strings.Contains(again.Message, "URL, base or filter changed") {
		t.Fatalf("after a filter change: %s %q", again.Mode, again.Message)
	}
	// That full run deactivated the ghosts and saved a state: incremental again.
	if e.user(ghosts["ghost-1"]).Status != users.StatusDeactivated {
		t.Errorf("the full run did not deactivate the ghosts")
	}
	if next := e.sync(dirsync.Request{Incremental: true}); next.Mode != dirsync.ModeIncremental {
		t.Fatalf("after a full run: %s %q", next.Mode, next.Message)
	}

	// A state the directory refuses: the run fails, the next one is full.
	if _, err := e.App.DB.Exec(`UPDATE dirsync_tracking SET state = json_set(state, '$.cookie', 'cmlkPTAwMCxjc249Z2FyYmFnZQ==')`); err != nil {
		t.Fatal(err)
	}
	bad := e.sync(dirsync.Request{Incremental: true})
	if bad.Status != dirsync.StatusFailed || !strings.Contains(bad.Message, "full one") {
		t.Fatalf("refused state: %s %q", bad.Status, bad.Message)
	}
	if next := e.sync(dirsync.Request{Incremental: true}); next.Mode != dirsync.ModeFull || next.Status != dirsync.StatusOK {
		t.Fatalf("after a refused state: %s %s %q", next.Mode, next.Status, next.Message)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func changeText(run dirsync.Run) string {
	var out []string
	for _, ch := range run.Changes {
		out = append(out, ch.Username+" "+ch.Change+" "+ch.From+" → "+ch.To+" "+ch.Message)
	}
	return strings.Join(out, "\n")
}

// The schedule runs incremental runs every incrementalInterval between full
// runs, and full runs at syncInterval counted from the last full run only.
func TestScheduleIncrementalRuns(t *testing.T) {
	e := start(t)
	sl := testenv.StartSlapd(t, testenv.GeneratePeople(30, 5), testenv.WithUnlimitedServiceAccount())
	srv := e.server(slapdInput(sl))
	e.ldapOrg("Campus", srv.ID)
	if _, err := e.App.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", SyncInterval: "1h", IncrementalInterval: "5m", ValvePercent: 10, ValveMinUsers: 10}); err != nil {
		t.Fatal(err)
	}
	first := e.sync(dirsync.Request{})
	scheduled := func() dirsync.Run {
		t.Helper()
		e.App.Sync.StartScheduler(e.ctx)
		defer e.App.Sync.StopScheduler()
		deadline := time.Now().Add(time.Minute)
		for {
			runs, err := e.App.Sync.Runs(e.ctx, dirsync.ListOptions{Limit: 1})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) == 1 && runs[0].ID > first.ID && runs[0].Trigger == dirsync.TriggerSchedule && runs[0].Status != dirsync.StatusRunning {
				first = runs[0]
				return runs[0]
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scheduled run: %+v", runs)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	e.Clock.Advance(6 * time.Minute)
	if run := scheduled(); run.Mode != dirsync.ModeIncremental || run.Status != dirsync.StatusOK {
		t.Fatalf("after 6 minutes: %s %s %q", run.Mode, run.Status, run.Message)
	}
	e.Clock.Advance(time.Hour)
	if run := scheduled(); run.Mode != dirsync.ModeFull {
		t.Fatalf("after an hour: %s %q", run.Mode, run.Message)
	}
}

// An incremental run reads only the users its changes name, yet weighs its
// deactivations against the whole scope: deleting a quarter of the
// directory between two runs trips the safety valve as a full run would,
// and deleting a few does not.
func TestSyncIncrementalValve(t *testing.T) {
	e := start(t)
	if _, err := e.App.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", SyncInterval: "12h", IncrementalInterval: "5m", ValvePercent: 10, ValveMinUsers: 10}); err != nil {
		t.Fatal(err)
	}
	var people []testenv.Person
	for _, p := range testenv.GeneratePeople(600, 23) {
		if !p.Disabled() {
			p.Extra = map[string][]string{"objectGUID": {}}
			people = append(people, p)
		}
	}
	sl := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	if full := e.sync(dirsync.Request{}); full.Status != dirsync.StatusOK {
		t.Fatalf("full run: %s %q", full.Status, full.Message)
	}
	few := people[:5]
	for _, p := range few {
		if err := sl.DeletePerson(p.UID); err != nil {
			t.Fatal(err)
		}
	}
	if run := e.sync(dirsync.Request{Incremental: true}); run.Status != dirsync.StatusOK || run.Mode != dirsync.ModeIncremental || run.Counts.Deactivated != len(few) {
		t.Fatalf("a few deleted: %s %s %q %+v", run.Mode, run.Status, run.Message, run.Counts)
	}
	many := people[5 : 5+len(people)/4]
	for _, p := range many {
		if err := sl.DeletePerson(p.UID); err != nil {
			t.Fatal(err)
		}
	}
	run := e.sync(dirsync.Request{Incremental: true})
	if run.Status != dirsync.StatusValve || run.Mode != dirsync.ModeIncremental || run.Identified != len(many) || run.Counts.Deactivated != 0 {
		t.Fatalf("a quarter deleted: %s %s identified %d %+v", run.Mode, run.Status, run.Identified, run.Counts)
	}
	for _, p := range many {
		if e.user(ids[p.UID]).Status != users.StatusActive {
			t.Fatalf("%s deactivated despite the valve", p.UID)
		}
	}
	// The valve held the run back: its state did not move, so the next run
	// sees the same deletions, and an override applies them.
	over := e.sync(dirsync.Request{Incremental: true, OverrideValve: true})
	if over.Status != dirsync.StatusOK || over.Mode != dirsync.ModeIncremental || over.Counts.Deactivated != len(many) {
		t.Fatalf("override: %s %s %q %+v", over.Mode, over.Status, over.Message, over.Counts)
	}
}

// A run holds only the users of the page it processes, yet remembers whom
// it found: a username found again in an entry many pages later is a
// warning that names both entries, the user stays as the first entry
// says, and nobody the run found is taken for a leaver.
func TestSyncDuplicateAcrossPages(t *testing.T) {
	e := start(t)
	var people []testenv.Person
	for _, p := range testenv.GeneratePeople(1200, 29) {
		if !p.Disabled() {
			p.Extra = map[string][]string{"objectGUID": {}}
			people = append(people, p)
		}
	}
	first := people[0]
	twin := testenv.Person{UID: "twin-of-first", GivenName: "Twin", SN: "Entry", OU: "Elsewhere",
		Extra: map[string][]string{"objectGUID": {}, "sAMAccountName": {first.UID}}}
	sl := testenv.StartSlapd(t, append(people, twin), testenv.WithUnlimitedServiceAccount())
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	// Twice: the second run knows each user's stable id, and the twin's
	// is another one.
	for _, req := range []dirsync.Request{{}, {Simulate: true}, {}} {
		run := e.sync(req)
		if run.Status != dirsync.StatusOK || run.Counts.Deactivated != 0 || run.Counts.Users != len(people) {
			t.Fatalf("run: %s %q %+v", run.Status, run.Message, run.Counts)
		}
		warned := false
		for _, c := range run.Changes {
			if c.Change == dirsync.ChangeWarning && strings.Contains(c.Message, "found in several entries") &&
				strings.Contains(c.Message, first.DN(sl.BaseDN)) && strings.Contains(c.Message, twin.DN(sl.BaseDN)) {
				warned = true
			}
		}
		if !warned {
			t.Errorf("run %d: no warning naming both entries of %s:\n%s", run.ID, first.UID, changeText(run))
		}
	}
	if u := e.user(ids[first.UID]); u.Status != users.StatusActive || !strings.EqualFold(u.LDAPDN, first.DN(sl.BaseDN)) {
		t.Errorf("%s: %s, DN %s", first.UID, u.Status, u.LDAPDN)
	}
}
