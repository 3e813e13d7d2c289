package dirsync_test

import (
	"strings"
	"testing"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// A directory entry is matched by its stable id first (docs/rules.md
// section 6.1): renamed in the directory, the user keeps its id, devices
// and archives under the new username, with a history line; a new
// username another user holds is an error for that entry; a username that
// now belongs to another entry is not the user's, who is then not found.
// Simulate reports exactly what the real run does.
func TestSyncRenameByStableID(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(1100, 13)
	var active []testenv.Person
	for _, p := range people {
		if !p.Disabled() {
			active = append(active, p)
		}
	}
	sl := testenv.StartSlapd(t, people)
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	if run := e.sync(dirsync.Request{}); run.Status != dirsync.StatusOK {
		t.Fatalf("first run: %+v", run)
	}
	a, b, c, d := active[0].UID, active[1].UID, active[2].UID, active[3].UID
	e.device(ids[a], "dev-"+a)
	if u := e.user(ids[a]); u.StableID == "" {
		t.Fatalf("no stable id recorded for %s", a)
	}

	// a is renamed; b takes c's username (held); d's entry goes and a new
	// entry takes d's username.
	newA := "renamed-" + a
	for _, op := range []struct{ uid, attr, value string }{{a, "sAMAccountName", newA}, {b, "sAMAccountName", c}} {
		if err := sl.Replace(op.uid, op.attr, op.value); err != nil {
			t.Fatal(err)
		}
	}
	if err := sl.DeletePerson(d); err != nil {
		t.Fatal(err)
	}
	stranger := testenv.Person{UID: d, SN: "Stranger", GivenName: "New", OU: active[3].OU, Mail: []string{d + "@new.example"},
		Extra: map[string][]string{"objectGUID": {string(testenv.PersonGUID("someone else"))}}} // another entry: another id
	if err := sl.AddPerson(stranger); err != nil {
		t.Fatal(err)
	}

	sim := e.sync(dirsync.Request{Simulate: true})
	real := e.sync(dirsync.Request{})
	for _, run := range []dirsync.Run{sim, real} {
		if run.Status != dirsync.StatusOK {
			t.Fatalf("run: %+v", run)
		}
	}
	lines := func(run dirsync.Run) string {
		var out []string
		for _, ch := range run.Changes {
			out = append(out, ch.Username+" "+ch.Change+" "+ch.From+" → "+ch.To+" "+ch.Message)
		}
		return strings.Join(out, "\n")
	}
	if lines(sim) != lines(real) {
		t.Errorf("simulate and real differ:\n%s\n---\n%s", lines(sim), lines(real))
	}
	u := e.user(ids[a])
	if u.Username != newA || u.Status != users.StatusActive || len(e.archives(ids[a])) != 1 {
		t.Fatalf("renamed user: %+v, %d archives", u, len(e.archives(ids[a])))
	}
	if !hasChange(real, a, dirsync.ChangeRenamed) && !hasChange(real, newA, dirsync.ChangeRenamed) {
		t.Errorf("no renamed line:\n%s", lines(real))
	}
	if ub := e.user(ids[b]); ub.Username != b || ub.Status != users.StatusActive {
		t.Errorf("b after a rename onto a taken username: %+v", ub)
	}
	if !hasChange(real, b, dirsync.ChangeError) {
		t.Errorf("no error line for %s:\n%s", b, lines(real))
	}
	if ud := e.user(ids[d]); ud.Status != users.StatusDeactivated {
		t.Errorf("%s, whose entry went: %s", d, ud.Status)
	}
	if !strings.Contains(lines(real), "now belongs to another directory entry") {
		t.Errorf("no warning about %s's username:\n%s", d, lines(real))
	}
	if log := e.logText(); !strings.Contains(log, "DIRSYNC:: Renaming from "+a+" to user:") {
		t.Errorf("no history line for the rename:\n%s", log)
	}
	// The next run changes nothing for a.
	next := e.sync(dirsync.Request{})
	if hasChange(next, newA, dirsync.ChangeRenamed) {
		t.Errorf("renamed twice")
	}
}
