package web_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

type syncRun struct {
	ID            int64  `json:"id"`
	Trigger       string `json:"trigger"`
	Simulated     bool   `json:"simulated"`
	OverrideValve bool   `json:"overrideValve"`
	Status        string `json:"status"`
	StartedAt     string `json:"startedAt"`
	FinishedAt    string `json:"finishedAt"`
	Message       string `json:"message"`
	Counts        struct {
		Users, Deactivated, Activated, Moved, RolesChanged, Blocked, Errors int
	} `json:"counts"`
	Changes []struct {
		UserID   int64  `json:"userId"`
		Username string `json:"username"`
		OrgID    int64  `json:"orgId"`
		Change   string `json:"change"`
		From     string `json:"from"`
		To       string `json:"to"`
	} `json:"changes"`
}

// waitRun polls GET /dirsync/runs/{id} until the run is no longer running.
func waitRun(t *testing.T, e *authoritytest.Env, id int64) syncRun {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var r syncRun
		if code := e.Do("GET", "/api/v1/dirsync/runs/"+itoa(id), nil, &r); code != 200 {
			t.Fatalf("get run %d: %d", id, code)
		}
		if r.Status != "running" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %d still running", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDirsyncAPI(t *testing.T) {
	e := authoritytest.Start(t)
	sl := testenv.StartSlapd(t, []testenv.Person{
		{UID: "ann", GivenName: "Ann", SN: "Lee", Mail: []string{"ann@example.com"}},
		{UID: "ben", GivenName: "Ben", SN: "Lee", Mail: []string{"ben@example.com"}, UserAccountControl: testenv.UACDisabled},
	})
	ctx := t.Context()
	p := func(s string) *string { return &s }
	srv, err := e.App.LDAP.Create(ctx, ldapauth.ServerInput{Name: p("ad"), URL: p(sl.URL), BindDN: p(sl.BindDN), BindPassword: p(sl.BindPassword),
		SearchFilter: p("(&(objectClass=user)(sAMAccountName=%u))"), ActiveScript: p("function(entry) { return !(entry.userAccountControl & 2); }")})
	if err != nil {
		t.Fatal(err)
	}
	o, err := e.App.Orgs.Create(ctx, orgs.Input{Name: p("People"), AuthMethod: p("ldap"), LDAPServerIDs: &[]int64{srv.ID}})
	if err != nil {
		t.Fatal(err)
	}
	var ann, ben user
	e.Do("POST", "/api/v1/users", map[string]any{"username": "ann", "orgId": o.ID}, &ann)
	e.Do("POST", "/api/v1/users", map[string]any{"username": "ben", "orgId": o.ID}, &ben)

	if code := e.DoAs("", "POST", "/api/v1/dirsync/runs", map[string]any{}, nil); code != 401 {
		t.Errorf("without a token: %d", code)
	}
	var er apiError
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"simulate": true, "bogus": 1}, &er); code != 400 || er.Field != "bogus" {
		t.Errorf("unknown field: %d %+v", code, er)
	}

	// Simulate: 202 at once, then the run in the history.
	var started struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
	}
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"simulate": true}, &started); code != http.StatusAccepted || started.ID == 0 || started.Status != "running" {
		t.Fatalf("start: %d %+v", code, started)
	}
	sim := waitRun(t, e, started.ID)
	if sim.Status != "ok" || !sim.Simulated || sim.Trigger != "simulate" || sim.Counts.Users != 2 || sim.Counts.Deactivated != 1 || sim.FinishedAt == "" {
		t.Errorf("simulated run: %+v", sim)
	}
	if len(sim.Changes) == 0 {
		t.Errorf("no changes in %+v", sim)
	}
	var u user
	e.Do("GET", "/api/v1/users/"+itoa(ben.ID), nil, &u)
	if u.Status != "active" {
		t.Errorf("a simulation deactivated ben: %+v", u)
	}

	// Synchronize now with an empty body; a second request while it runs is
	// 409 (the directory is frozen, so the first cannot finish).
	if err := sl.Freeze(); err != nil {
		t.Fatal(err)
	}
	code, raw := e.Raw(e.Token, "POST", "/api/v1/dirsync/runs", "")
	if code != http.StatusAccepted {
		t.Fatalf("synchronize now: %d %s", code, raw)
	}
	var st struct {
		Running   bool    `json:"running"`
		RunningID *int64  `json:"runningId"`
		LastRunAt *string `json:"lastRunAt"`
		NextRunAt *string `json:"nextRunAt"`
		Interval  string  `json:"interval"`
	}
	if code := e.Do("GET", "/api/v1/dirsync/status", nil, &st); code != 200 || !st.Running || st.RunningID == nil || st.Interval != "12h" || st.NextRunAt == nil {
		t.Errorf("status while running: %d %+v", code, st)
	}
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"simulate": true}, &er); code != http.StatusConflict || !strings.Contains(er.Error, "running") {
		t.Errorf("second run: %d %+v", code, er)
	}
	if err := sl.Thaw(); err != nil {
		t.Fatal(err)
	}
	var runningID int64
	if st.RunningID != nil {
		runningID = *st.RunningID
	}
	now := waitRun(t, e, runningID)
	if now.Status != "ok" || now.Trigger != "manual" || now.Counts.Deactivated != 1 {
		t.Errorf("manual run: %+v", now)
	}
	e.Do("GET", "/api/v1/users/"+itoa(ben.ID), nil, &u)
	if u.Status != "deactivated" || u.StatusReason != "dirsync" {
		t.Errorf("ben: %+v", u)
	}

	// The history, newest first, paginated.
	var runs []syncRun
	if code := e.Do("GET", "/api/v1/dirsync/runs?limit=1", nil, &runs); code != 200 || len(runs) != 1 || runs[0].ID != now.ID {
		t.Errorf("runs?limit=1: %d %+v", code, runs)
	}
	if code := e.Do("GET", "/api/v1/dirsync/runs?limit=1&offset=1", nil, &runs); code != 200 || len(runs) != 1 || runs[0].ID != sim.ID {
		t.Errorf("runs?offset=1: %d %+v", code, runs)
	}
	if code := e.Do("GET", "/api/v1/dirsync/runs?limit=-1", nil, &er); code != 400 || er.Field != "limit" {
		t.Errorf("bad limit: %d %+v", code, er)
	}
	if code := e.Do("GET", "/api/v1/dirsync/runs/999", nil, nil); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
	if code := e.Do("GET", "/api/v1/dirsync/runs/x", nil, nil); code != 400 {
		t.Errorf("bad id: %d", code)
	}
	if code := e.Do("GET", "/api/v1/dirsync/status", nil, &st); code != 200 || st.Running || st.LastRunAt == nil {
		t.Errorf("status after: %+v", st)
	}
	// The raw shape of a run (SPEC section 8).
	code, raw = e.Raw(e.Token, "GET", "/api/v1/dirsync/runs/"+itoa(now.ID), nil)
	for _, k := range []string{`"id"`, `"trigger"`, `"simulated"`, `"status"`, `"startedAt"`, `"finishedAt"`, `"counts"`, `"users"`, `"deactivated"`,
		`"activated"`, `"moved"`, `"rolesChanged"`, `"blocked"`, `"errors"`, `"changes"`, `"userId"`, `"username"`, `"orgId"`, `"change"`, `"from"`, `"to"`, `"message"`} {
		if code != 200 || !strings.Contains(string(raw), k) {
			t.Errorf("run JSON lacks %s: %s", k, raw)
		}
	}
}

func TestNotificationsAPI(t *testing.T) {
	e := authoritytest.Start(t)
	var n struct {
		Emails []string `json:"emails"`
		SMTP   struct {
			Host        string  `json:"host"`
			Port        int     `json:"port"`
			Username    string  `json:"username"`
			Password    *string `json:"password"`
			HasPassword bool    `json:"hasPassword"`
			From        string  `json:"from"`
			StartTLS    bool    `json:"startTLS"`
		} `json:"smtp"`
	}
	if code := e.Do("GET", "/api/v1/settings/notifications", nil, &n); code != 200 || n.Emails == nil || len(n.Emails) != 0 {
		t.Errorf("defaults: %d %+v", code, n)
	}
	var er apiError
	if code := e.Do("PUT", "/api/v1/settings/notifications", map[string]any{"emails": []string{"a@example.com", "@bad"}}, &er); code != 400 || er.Field != "emails[1]" {
		t.Errorf("bad address: %d %+v", code, er)
	}
	body := map[string]any{"emails": []string{"a@example.com"}, "smtp": map[string]any{"host": "127.0.0.1", "port": 1, "username": "u", "password": "pw", "from": "authority@example.com", "startTLS": true}}
	code, raw := e.Raw(e.Token, "PUT", "/api/v1/settings/notifications", body)
	if code != 200 || strings.Contains(string(raw), `"pw"`) || !strings.Contains(string(raw), `"hasPassword":true`) {
		t.Errorf("put: %d %s", code, raw)
	}
	delete(body["smtp"].(map[string]any), "password")
	e.Do("PUT", "/api/v1/settings/notifications", body, &n)
	if !n.SMTP.HasPassword || n.SMTP.Password != nil || n.SMTP.Port != 1 || !n.SMTP.StartTLS {
		t.Errorf("put without password: %+v", n)
	}
	if code := e.Do("POST", "/api/v1/settings/notifications/test", nil, &er); code != 503 {
		t.Errorf("test email to an unreachable server: %d %+v", code, er)
	}
}
