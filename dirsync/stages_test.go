package dirsync_test

import (
	"strings"
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
