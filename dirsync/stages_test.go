package dirsync_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// A panic in either stage that processes a search's pages (the script stage
// or the page stage) ends the run as failed, says so, and deactivates
// nobody; the search and the other stage stop instead of waiting forever.
func TestPanicInAStageFailsTheRun(t *testing.T) {
	people := testenv.GeneratePeople(1200, 5) // three pages of 500
	sl := testenv.StartSlapd(t, people)
	for _, stage := range []string{dirsync.HookScripted, dirsync.HookProcessed} {
		t.Run(stage, func(t *testing.T) {
			e := start(t)
			dirsync.SetPageHook(e.App.Sync, func(at string, _ int64, page int) {
				if at == stage && page == 2 {
					panic("the test's page hook")
				}
			})
			srv := e.server(slapdInput(sl))
			org := e.ldapOrg("Campus", srv.ID)
			e.users(org.ID, uids(people)...)
			gone := e.users(org.ID, extraNames(15)...)
			done := make(chan dirsync.Run, 1)
			go func() { done <- e.sync(dirsync.Request{}) }()
			var run dirsync.Run
			select {
			case run = <-done:
			case <-time.After(2 * time.Minute):
				t.Fatal("the run did not end")
			}
			if run.Status != dirsync.StatusFailed || !strings.Contains(run.Message, "internal error: panic: the test's page hook") {
				t.Errorf("run %s: %q, want failed with the panic", run.Status, run.Message)
			}
			if run.Counts.Deactivated != 0 {
				t.Errorf("deactivated %d after a failed search", run.Counts.Deactivated)
			}
			for name, id := range gone {
				if u := e.user(id); u.Status != users.StatusActive {
					t.Errorf("%s: %s after a failed run", name, u.Status)
				}
			}
		})
	}
}

// The script stage reads a page's users ahead of the page stage; a page
// whose users were read before an earlier page's rename was committed reads
// them again. Here a is renamed on the first page while the third, holding
// a new entry with a's old username, has its users read already: that
// entry must find nobody (a is renamed-a by then), as one page at a time.
func TestUsersReadAheadSeeEarlierRenames(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(1200, 13)
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
	a := active[0].UID
	if err := sl.Replace(a, "sAMAccountName", "renamed-"+a); err != nil {
		t.Fatal(err)
	}
	stranger := testenv.Person{UID: "stranger-" + a, SN: "Stranger", GivenName: "New", OU: active[0].OU, Mail: []string{a + "@new.example"},
		Extra: map[string][]string{"objectGUID": {string(testenv.PersonGUID("someone else"))}}}
	if err := sl.AddPerson(stranger); err != nil {
		t.Fatal(err)
	}
	if err := sl.Replace(stranger.UID, "sAMAccountName", a); err != nil { // a's old username
		t.Fatal(err)
	}
	read := make(chan struct{})
	var once sync.Once
	dirsync.SetPageHook(e.App.Sync, func(at string, _ int64, page int) {
		switch {
		case at == dirsync.HookScripted && page == 3:
			once.Do(func() { close(read) })
		case at == dirsync.HookMatched && page == 1:
			select { // the first page's rename waits until the third page's users are read
			case <-read:
			case <-time.After(30 * time.Second):
				t.Error("the third page's users were not read ahead")
			}
		}
	})
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK {
		t.Fatalf("run: %+v", run)
	}
	if u := e.user(ids[a]); u.Username != "renamed-"+a {
		t.Errorf("a: %q, want renamed", u.Username)
	}
	for _, c := range run.Changes {
		if c.Change == dirsync.ChangeWarning || c.Change == dirsync.ChangeError {
			t.Errorf("%s %s: %s", c.Username, c.Change, c.Message)
		}
	}
}
