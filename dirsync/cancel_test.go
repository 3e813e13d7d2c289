package dirsync_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/internal/kv"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// slowDirectory starts a slapd whose people take three pages, with a page
// hook that freezes it once the first page has arrived (the search then
// waits for a page that does not come: a slow directory). The channel is
// closed once that first page is processed and its changes committed.
func slowDirectory(t *testing.T, e *env, people []testenv.Person) (*testenv.Slapd, <-chan struct{}) {
	t.Helper()
	sl := testenv.StartSlapd(t, people)
	t.Cleanup(func() { sl.Thaw() })
	processed := make(chan struct{})
	var once sync.Once
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, page int) {
		switch {
		case stage == dirsync.HookReceived && page == 1:
			if err := sl.Freeze(); err != nil {
				t.Errorf("freeze slapd: %v", err)
			}
		case stage == dirsync.HookProcessed && page == 1:
			once.Do(func() { close(processed) })
		}
	})
	return sl, processed
}

// TestCancelRunThroughAPI: a run waiting on a slow directory is cancelled by
// POST /dirsync/runs/{id}/cancel: the call answers quickly with the run
// recorded as cancelled, nobody is deactivated (the people who left the
// directory stay active), the changes of the page committed before the
// cancel stay and are listed, and the DIRSYNC lines and the summary email
// say it was cancelled. Cancelling it again is a conflict.
func TestCancelRunThroughAPI(t *testing.T) {
	e := start(t)
	sink := testenv.StartSMTP(t)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com"},
		SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port}}); err != nil {
		t.Fatal(err)
	}
	people := testenv.GeneratePeople(1200, 5)
	sl, processed := slowDirectory(t, e, people)
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	gone := e.users(org.ID, extraNames(15)...)

	cancelledBefore := cancelledRuns(t, e)
	var started struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"overrideValve": true}, &started); code != 202 {
		t.Fatalf("start: %d", code)
	}
	select {
	case <-processed:
	case <-time.After(2 * time.Minute):
		t.Fatal("the first page was never processed")
	}
	t0 := time.Now()
	var run dirsync.Run
	code := e.Do("POST", fmt.Sprintf("/api/v1/dirsync/runs/%d/cancel", started.ID), nil, &run)
	took := time.Since(t0)
	if code != 200 || run.Status != dirsync.StatusCancelled {
		t.Fatalf("cancel: %d, run %s %q", code, run.Status, run.Message)
	}
	if took > 5*time.Second {
		t.Errorf("the cancel took %v: the run did not stop at once", took)
	}
	if !strings.Contains(run.Message, "cancelled by 1/admin") || !strings.Contains(run.Message, "nobody was deactivated") || run.FinishedAt == nil {
		t.Errorf("cancelled run: %q finished %v", run.Message, run.FinishedAt)
	}
	if run.Counts.Deactivated != 0 || run.Counts.Blocked != 0 {
		t.Errorf("a cancelled run deactivated users: %+v", run.Counts)
	}
	for name, id := range gone {
		if u := e.user(id); u.Status != users.StatusActive {
			t.Errorf("%s, not in the directory, is %s after a cancelled run", name, u.Status)
		}
	}
	full, err := e.App.Sync.Get(e.ctx, run.ID, dirsync.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	listed := 0
	for _, c := range full.Changes {
		if c.Change == dirsync.ChangeProfileUpdated {
			listed++
		}
	}
	updated := 0
	for _, p := range people {
		if e.user(ids[p.UID]).Email == p.Mail[0] {
			updated++
		}
	}
	if updated == 0 || updated != listed || updated > 500 {
		t.Errorf("%d users updated by the first page, %d listed in the run", updated, listed)
	}
	if code := e.Do("POST", fmt.Sprintf("/api/v1/dirsync/runs/%d/cancel", run.ID), nil, nil); code != 409 {
		t.Errorf("cancelling an ended run: %d, want 409", code)
	}
	if code := e.Do("POST", "/api/v1/dirsync/runs/999/cancel", nil, nil); code != 404 {
		t.Errorf("cancelling an unknown run: %d, want 404", code)
	}
	var audited struct {
		Total   int
		Entries []struct{ Actor, Target string }
	}
	if code := e.Do("GET", "/api/v1/audit?action=dirsync.run.cancel", nil, &audited); code != 200 || audited.Total != 1 ||
		audited.Entries[0].Actor != "admin" || audited.Entries[0].Target != fmt.Sprintf("dirsync-run:%d", run.ID) {
		t.Errorf("audit of the cancel (only the one that stopped a run): %d %+v", code, audited)
	}
	if n := cancelledRuns(t, e); n != cancelledBefore+1 {
		t.Errorf("authority_dirsync_runs_total{status=\"cancelled\"} went from %v to %v", cancelledBefore, n)
	}
	msgs := sink.WaitFor(t, 1, 30*time.Second)
	if !strings.Contains(msgs[0].Subject, ": cancelled") || !strings.Contains(msgs[0].Body, "cancelled by 1/admin") {
		t.Errorf("summary email: %q\n%s", msgs[0].Subject, msgs[0].Body)
	}
	lines := joinLines(runLines(e.logText(), run.ID))
	for _, want := range []string{
		fmt.Sprintf("WARN    dirsync-%d] DIRSYNC:: Cancelled run:%d for orgIds:, [%d]: cancelled by 1/admin", run.ID, run.ID, org.ID),
		fmt.Sprintf("DIRSYNC:: Finished run:%d status:cancelled", run.ID),
		fmt.Sprintf("DIRSYNC:: Summary for orgIds:, [%d], users:%d, deactivated:0", org.ID, len(ids)+len(gone)),
	} {
		if !strings.Contains(lines, want) {
			t.Errorf("log lacks %q:\n%s", want, lines)
		}
	}
	if strings.Contains(lines, "Blocking and deactivating") {
		t.Errorf("the cancelled run logged deactivations:\n%s", lines)
	}
}

// TestSyncTimeoutCancelsRun: a run that runs longer than the syncTimeout
// setting is cancelled, and says why.
func TestSyncTimeoutCancelsRun(t *testing.T) {
	e := start(t)
	people := testenv.GeneratePeople(1200, 6)
	sl, _ := slowDirectory(t, e, people)
	srv := e.server(slapdInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	e.users(org.ID, uids(people)...)
	gone := e.users(org.ID, extraNames(15)...)
	// Below the 1m SaveSettings accepts, stored as an older version might have.
	st := ldapauth.DefaultSettings()
	st.SyncTimeout = "2s"
	if err := kv.Put(e.ctx, e.App.DB, ldapauth.SettingsKey, st); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	run := e.sync(dirsync.Request{OverrideValve: true})
	if took := time.Since(t0); took > 15*time.Second {
		t.Errorf("the run took %v with a 2s syncTimeout", took)
	}
	if run.Status != dirsync.StatusCancelled || !strings.Contains(run.Message, "ran longer than syncTimeout (2s)") {
		t.Fatalf("run: %s %q", run.Status, run.Message)
	}
	for name, id := range gone {
		if u := e.user(id); u.Status != users.StatusActive {
			t.Errorf("%s is %s after a run that timed out", name, u.Status)
		}
	}
}

// TestSyncTimeoutSetting: syncTimeout is in /settings/ldap with its default,
// and is validated.
func TestSyncTimeoutSetting(t *testing.T) {
	e := start(t)
	var st ldapauth.Settings
	if code := e.Do("GET", "/api/v1/settings/ldap", nil, &st); code != 200 || st.SyncTimeout != "2h" {
		t.Fatalf("default: %d %+v", code, st)
	}
	for _, bad := range []string{"soon", "30s", "-1h"} {
		var out struct{ Error, Field string }
		if code := e.Do("PUT", "/api/v1/settings/ldap", map[string]any{"syncTimeout": bad}, &out); code != 400 || out.Field != "syncTimeout" {
			t.Errorf("syncTimeout %q: %d %+v", bad, code, out)
		}
	}
	if code := e.Do("PUT", "/api/v1/settings/ldap", map[string]any{"syncTimeout": "90m"}, &st); code != 200 || st.SyncTimeout != "90m" {
		t.Fatalf("save: %d %+v", code, st)
	}
	if code := e.Do("GET", "/api/v1/settings/ldap", nil, &st); code != 200 || st.SyncTimeout != "90m" || st.Timeout() != 90*time.Minute {
		t.Fatalf("after save: %d %+v", code, st)
	}
}

// cancelledRuns reads authority_dirsync_runs_total{status="cancelled"} from
// /metrics.
func cancelledRuns(t *testing.T, e *env) float64 {
	t.Helper()
	code, raw := e.Raw(e.Token, "GET", "/metrics", nil)
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	m := regexp.MustCompile(`(?m)^authority_dirsync_runs_total\{status="cancelled"\} (\S+)$`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("no cancelled runs in the metrics:\n%s", raw)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
