package dirsync_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
)

// reopen closes e's app and opens the same data directory again with the
// same clock.
func (e *env) reopen() *authority.App {
	e.t.Helper()
	if err := e.App.Close(); err != nil {
		e.t.Fatal(err)
	}
	app, err := authority.Open(context.Background(), authority.Config{DataDir: e.Dir, AdminPassword: authoritytest.AdminPassword, Now: e.Clock.Now, Stdout: io.Discard})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { app.Close() })
	e.App = app
	return app
}

// TestScheduleSurvivesRestart: the next run is the last run's start plus
// the interval, also after a restart; simulated runs do not count; "never"
// turns the schedule off; the scheduler runs a due sync by itself.
func TestScheduleSurvivesRestart(t *testing.T) {
	e := start(t)
	people, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, people, groups...)
	srv := e.server(glauthInput(g))
	org := e.ldapOrg("Corp", srv.ID)
	e.users(org.ID, "alice", "bob")
	t0 := e.Clock.Now()

	st, err := e.App.Sync.Status(e.ctx)
	if err != nil || st.Interval != "12h" || st.LastRunAt != nil || st.NextRunAt != nil || st.Running {
		t.Fatalf("status before any run: %+v %v", st, err)
	}
	e.sync(dirsync.Request{})
	e.Clock.Advance(time.Hour)
	e.sync(dirsync.Request{Simulate: true})

	app := e.reopen()
	st, err = app.Sync.Status(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.LastRunAt == nil || !st.LastRunAt.Equal(t0) || st.NextRunAt == nil || !st.NextRunAt.Equal(t0.Add(12*time.Hour)) {
		t.Errorf("status after restart: last %v next %v, want %v and %v", st.LastRunAt, st.NextRunAt, t0, t0.Add(12*time.Hour))
	}
	if st.LastRun == nil || st.LastRun.Trigger != dirsync.TriggerSimulate {
		t.Errorf("last run: %+v", st.LastRun)
	}

	if _, err := app.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", SyncInterval: "never", ValvePercent: 10, ValveMinUsers: 10}); err != nil {
		t.Fatal(err)
	}
	if st, _ = app.Sync.Status(e.ctx); st.Interval != "never" || st.NextRunAt != nil {
		t.Errorf("status with never: %+v", st)
	}
	if _, err := app.LDAP.SaveSettings(e.ctx, ldapauth.Settings{RegistrantsNotFound: "deny", SyncInterval: "2h", ValvePercent: 10, ValveMinUsers: 10}); err != nil {
		t.Fatal(err)
	}
	if st, _ = app.Sync.Status(e.ctx); st.Interval != "2h" || st.NextRunAt == nil || !st.NextRunAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("status with 2h: %+v", st)
	}

	// Due (t0 + 3h > t0 + 2h): the scheduler runs it.
	e.Clock.Advance(2 * time.Hour)
	app.Sync.StartScheduler(e.ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		runs, err := app.Sync.Runs(e.ctx, dirsync.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) == 1 && runs[0].Trigger == dirsync.TriggerSchedule && runs[0].Status != dirsync.StatusRunning {
			if runs[0].Status != dirsync.StatusOK || runs[0].StartedBy != "system" {
				t.Errorf("scheduled run: %+v", runs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no scheduled run: %+v", runs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	app.Sync.StopScheduler()
	if st, _ = app.Sync.Status(e.ctx); st.NextRunAt == nil || !st.NextRunAt.Equal(t0.Add(5*time.Hour)) {
		t.Errorf("next run after the scheduled one: %v, want %v", st.NextRunAt, t0.Add(5*time.Hour))
	}
}

// TestScheduleWithoutHistory: with no run yet, the interval counts from the
// scheduler's first start, remembered across restarts.
func TestScheduleWithoutHistory(t *testing.T) {
	e := start(t)
	t0 := e.Clock.Now()
	e.App.Sync.StartScheduler(e.ctx)
	var st dirsync.State
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var err error
		if st, err = e.App.Sync.Status(e.ctx); err != nil {
			t.Fatal(err)
		}
		if st.NextRunAt != nil || time.Now().After(deadline) {
			break
		}
	}
	e.App.Sync.StopScheduler()
	if st.NextRunAt == nil || !st.NextRunAt.Equal(t0.Add(12*time.Hour)) {
		t.Fatalf("next run: %v, want %v", st.NextRunAt, t0.Add(12*time.Hour))
	}
	e.Clock.Advance(time.Hour)
	app := e.reopen()
	if st, _ := app.Sync.Status(e.ctx); st.NextRunAt == nil || !st.NextRunAt.Equal(t0.Add(12*time.Hour)) {
		t.Errorf("next run after restart: %v", st.NextRunAt)
	}
}

// TestInterruptedRunMarkedFailed: a run a crash left "running" is failed
// ("interrupted") when the app opens again.
func TestInterruptedRunMarkedFailed(t *testing.T) {
	e := start(t)
	res, err := e.App.DB.ExecContext(e.ctx, `INSERT INTO dirsync_runs(trigger, simulated, started_at, status) VALUES('manual', 0, '2026-01-05T08:00:00.000Z', 'running')`)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	if st, _ := e.App.Sync.Status(e.ctx); !st.Running {
		t.Errorf("status with a running row: %+v", st)
	}
	app := e.reopen()
	run, err := app.Sync.Get(e.ctx, id, dirsync.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != dirsync.StatusFailed || run.Message != dirsync.InterruptedMessage || run.FinishedAt == nil {
		t.Errorf("interrupted run: %+v", run)
	}
	if st, _ := app.Sync.Status(e.ctx); st.Running {
		t.Errorf("status: %+v", st)
	}
}

// TestNotificationsSettings: validation with field names, the write-only
// password kept when absent, sealed at rest; a mail server that is down
// never fails a run.
func TestNotificationsSettings(t *testing.T) {
	e := start(t)
	s := e.App.Sync
	for _, c := range []struct {
		in    dirsync.Notifications
		field string
	}{
		{dirsync.Notifications{Emails: []string{"ok@example.com", "not an address"}}, "emails[1]"},
		{dirsync.Notifications{SMTP: dirsync.SMTP{Host: "smtp://x"}}, "smtp.host"},
		{dirsync.Notifications{SMTP: dirsync.SMTP{Host: "mail", Port: 70000}}, "smtp.port"},
		{dirsync.Notifications{SMTP: dirsync.SMTP{Host: "mail", From: "nobody"}}, "smtp.from"},
	} {
		_, err := s.SaveNotifications(e.ctx, c.in)
		if ae, ok := apperrAs(err); !ok || ae.Field != c.field {
			t.Errorf("%+v: %v, want an error on %s", c.in, err, c.field)
		}
	}
	n, err := s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"Ops <ops@example.com>", "OPS@example.com", "sec@example.com"},
		SMTP: dirsync.SMTP{Host: "127.0.0.1", Port: 1, Username: "u", Password: ptr("s3cret-pw"), StartTLS: true}})
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Emails) != 2 || n.Emails[0] != "ops@example.com" || !n.SMTP.HasPassword || n.SMTP.Password != nil {
		t.Errorf("saved: %+v", n)
	}
	var raw string
	if err := e.App.DB.GetContext(e.ctx, &raw, `SELECT value FROM settings WHERE key = 'dirsync.notifications'`); err != nil || contains(raw, "s3cret-pw") {
		t.Errorf("stored in clear: %s %v", raw, err)
	}
	n, err = s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: n.Emails, SMTP: dirsync.SMTP{Host: "127.0.0.1", Port: 1, Username: "u", StartTLS: true}})
	if err != nil || !n.SMTP.HasPassword {
		t.Errorf("a PUT without password lost it: %+v %v", n, err)
	}
	// Port 1 on loopback refuses connections: the run is ok, the log says
	// the email failed.
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK {
		t.Errorf("run: %+v", run)
	}
	if log := runLines(e.logText(), run.ID); !contains(joinLines(log), "DIRSYNC:: summary email failed to:[ops@example.com, sec@example.com]") {
		t.Errorf("log: %q", log)
	}
	n, err = s.SaveNotifications(e.ctx, dirsync.Notifications{Emails: n.Emails, SMTP: dirsync.SMTP{Host: "127.0.0.1", Password: ptr("")}})
	if err != nil || n.SMTP.HasPassword {
		t.Errorf("an empty password did not remove it: %+v %v", n, err)
	}
}

// TestSummaryEmailStartTLSAndAuth: STARTTLS when offered and asked for, AUTH
// with the stored password.
func TestSummaryEmailStartTLSAndAuth(t *testing.T) {
	e := start(t)
	sink := testenv.StartSMTP(t, testenv.SMTPAuth("mailer", "mail-pw"), testenv.SMTPStartTLS())
	dirsync.SetMailRoots(e.App.Sync, sink.CACert)
	if _, err := e.App.Sync.SaveNotifications(e.ctx, dirsync.Notifications{Emails: []string{"ops@example.com"},
		SMTP: dirsync.SMTP{Host: sink.Host, Port: sink.Port, Username: "mailer", Password: ptr("mail-pw"), StartTLS: true}}); err != nil {
		t.Fatal(err)
	}
	e.sync(dirsync.Request{Simulate: true})
	m := sink.WaitFor(t, 1, 30*time.Second)[0]
	if m.Username != "mailer" || !m.TLS {
		t.Errorf("message: user %q tls %v", m.Username, m.TLS)
	}
	if err := e.App.Sync.SendTestEmail(e.ctx); err != nil {
		t.Errorf("test email: %v", err)
	}
}
