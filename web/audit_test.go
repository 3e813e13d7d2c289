package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/internal/audit"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

type auditChange struct {
	Field  string          `json:"field"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Secret bool            `json:"secret"`
}

type auditEntry struct {
	ID      int64         `json:"id"`
	At      time.Time     `json:"at"`
	ActorID int64         `json:"actorId"`
	Actor   string        `json:"actor"`
	Address string        `json:"address"`
	Action  string        `json:"action"`
	Target  string        `json:"target"`
	Changes []auditChange `json:"changes"`
}

type auditAnswer struct {
	Total    int          `json:"total"`
	Page     int          `json:"page"`
	PageSize int          `json:"pageSize"`
	Entries  []auditEntry `json:"entries"`
}

// auditAPI reads GET /api/v1/audit?query and returns the answer and its raw body.
func auditAPI(t *testing.T, e *authoritytest.Env, query string) (auditAnswer, []byte) {
	t.Helper()
	code, raw := e.Raw(e.Token, "GET", "/api/v1/audit?"+query, nil)
	if code != 200 {
		t.Fatalf("GET /audit?%s: %d %s", query, code, raw)
	}
	var a auditAnswer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("GET /audit?%s: %v in %s", query, err, raw)
	}
	return a, raw
}

// only returns the one entry of action, failing unless there is exactly one.
func only(t *testing.T, entries []auditEntry, action string) auditEntry {
	t.Helper()
	var out []auditEntry
	for _, en := range entries {
		if en.Action == action {
			out = append(out, en)
		}
	}
	if len(out) != 1 {
		t.Fatalf("%d entries %s, want 1: %+v", len(out), action, entries)
	}
	return out[0]
}

// wantChange fails unless en changed field from before to after (JSON).
func wantChange(t *testing.T, en auditEntry, field, before, after string) {
	t.Helper()
	for _, c := range en.Changes {
		if c.Field != field {
			continue
		}
		if c.Secret || string(c.Before) != before || string(c.After) != after {
			t.Fatalf("%s %s: %s → %s (secret %t), want %s → %s", en.Action, field, c.Before, c.After, c.Secret, before, after)
		}
		return
	}
	t.Fatalf("%s on %s: no change of %s in %+v", en.Action, en.Target, field, en.Changes)
}

// wantSecret fails unless en shows field only as "(changed)".
func wantSecret(t *testing.T, en auditEntry, field string) {
	t.Helper()
	for _, c := range en.Changes {
		if c.Field == field {
			if !c.Secret || string(c.After) != `"(changed)"` || (c.Before != nil && string(c.Before) != "null") {
				t.Fatalf("%s %s: %+v, want only (changed)", en.Action, field, c)
			}
			return
		}
	}
	t.Fatalf("%s: no change of %s in %+v", en.Action, field, en.Changes)
}

// serverLog returns the server log of the data directory dir.
func serverLog(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "logs", "authority.log"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// auditLines returns the AUDIT:: lines of the server log of dir.
func auditLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(serverLog(t, dir), "\n") {
		if strings.Contains(l, "AUDIT:: ") {
			out = append(out, l)
		}
	}
	return out
}

// noSecretsAnywhere fails when one of secrets is in the server log, the
// database files of dir (WAL included) or raw.
func noSecretsAnywhere(t *testing.T, dir string, raw []byte, secrets ...string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, authority.DBFile+"*"))
	if len(files) == 0 {
		t.Fatalf("no database files in %s", dir)
	}
	for _, s := range secrets {
		if strings.Contains(serverLog(t, dir), s) {
			t.Errorf("the server log holds the secret %q", s)
		}
		if strings.Contains(string(raw), s) {
			t.Errorf("the audit answer holds the secret %q", s)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(b), s) {
				t.Errorf("%s holds the secret %q", filepath.Base(f), s)
			}
		}
	}
}

func TestAuditAPIRecordsAdministratorsChanges(t *testing.T) {
	e := authoritytest.Start(t)
	const (
		firstBindPW  = "first-Bind-secret-4417"
		secondBindPW = "second-Bind-secret-9902"
		userPW       = "jsmith-Secret-pw-3318"
		newUserPW    = "kim-New-secret-pw-5526"
		smtpPW       = "smtp-Mail-secret-8841"
	)
	// An LDAP server, then an update with a new bind password.
	var srv struct{ ID int64 }
	if code := e.Do("POST", "/api/v1/ldap/servers", map[string]any{"name": "Corp", "url": "ldap://127.0.0.1:1/dc=corp",
		"bindDN": "cn=svc,dc=corp", "bindPassword": firstBindPW, "searchFilter": "(&(objectClass=person)(uid=%u))"}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	if code := e.Do("PATCH", "/api/v1/ldap/servers/"+itoa(srv.ID), map[string]any{"name": "Corp AD", "bindPassword": secondBindPW}, nil); code != 200 {
		t.Fatalf("update server: %d", code)
	}
	// Users: a local user blocked, another released from a legal hold.
	root, _ := e.App.Orgs.EnsureRoot(context.Background())
	var js, kim user
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": "jsmith", "password": userPW, "orgId": root.ID}, &js); code != 201 {
		t.Fatalf("create jsmith: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": "kim", "password": userPW + "k", "orgId": root.ID}, &kim); code != 201 {
		t.Fatalf("create kim: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(js.ID)+"/block", nil, nil); code != 200 {
		t.Fatalf("block: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(kim.ID)+"/password", map[string]any{"password": newUserPW}, nil); code != 204 {
		t.Fatalf("set kim's password: %d", code)
	}
	// An org's default roles.
	var staff org
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff"}, &staff); code != 201 {
		t.Fatalf("create org: %d", code)
	}
	if code := e.Do("PATCH", "/api/v1/orgs/"+itoa(staff.ID), map[string]any{"defaultRoles": []string{"PROe User"}}, nil); code != 200 {
		t.Fatalf("default roles: %d", code)
	}
	// A legal hold: kim is a custodian, deactivated while on hold (so
	// blocked), then released (so deactivated).
	var hold struct{ ID int64 }
	if code := e.Do("POST", "/api/v1/legal-holds", map[string]any{"name": "Matter 7"}, &hold); code != 201 {
		t.Fatalf("create hold: %d", code)
	}
	if code := e.Do("POST", "/api/v1/legal-holds/"+itoa(hold.ID)+"/custodians", map[string]any{"userId": kim.ID}, nil); code != 200 {
		t.Fatalf("add custodian: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(kim.ID)+"/deactivate", nil, nil); code != 200 {
		t.Fatalf("deactivate on hold: %d", code)
	}
	if code := e.Do("DELETE", "/api/v1/legal-holds/"+itoa(hold.ID)+"/custodians/"+itoa(kim.ID), nil, nil); code != 200 {
		t.Fatalf("release: %d", code)
	}
	// The Role Mapping list, and a sync (simulated; it finds no directory).
	var mapping struct{ Roles []string }
	e.Do("GET", "/api/v1/settings/role-mapping", nil, &mapping)
	mappingBefore, _ := json.Marshal(mapping.Roles)
	if code := e.Do("PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{"Desktop User"}}, nil); code != 200 {
		t.Fatalf("role mapping: %d", code)
	}
	var run struct{ ID int64 }
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"simulate": true}, &run); code != 202 {
		t.Fatalf("start sync: %d", code)
	}
	waitRun(t, e, run.ID)
	var confirm struct{ ID int64 }
	if code := e.Do("POST", "/api/v1/dirsync/runs", map[string]any{"overrideValve": true}, &confirm); code != 202 {
		t.Fatalf("start sync past the valve: %d", code)
	}
	waitRun(t, e, confirm.ID)
	// Settings: notifications with an SMTP password, LDAP.
	if code := e.Do("PUT", "/api/v1/settings/notifications", map[string]any{"emails": []string{"ops@example.com"},
		"smtp": map[string]any{"host": "mail.example.com", "username": "mailer", "password": smtpPW}}, nil); code != 200 {
		t.Fatalf("notifications: %d", code)
	}
	if code := e.Do("PUT", "/api/v1/settings/ldap", map[string]any{"syncInterval": "never"}, nil); code != 200 {
		t.Fatalf("LDAP settings: %d", code)
	}

	all, raw := auditAPI(t, e, "pageSize=100")
	if all.Total != len(all.Entries) || all.Total < 12 {
		t.Fatalf("total %d, %d entries: %s", all.Total, len(all.Entries), raw)
	}
	for i, en := range all.Entries {
		if en.Actor != "admin" || en.ActorID == 0 || en.Address != "127.0.0.1" || !en.At.Equal(e.Clock.Now()) {
			t.Errorf("entry %+v: want actor admin from 127.0.0.1 at %s", en, e.Clock.Now())
		}
		if i > 0 && en.ID >= all.Entries[i-1].ID {
			t.Errorf("entries not newest first: %d after %d", en.ID, all.Entries[i-1].ID)
		}
	}

	up := only(t, all.Entries, "ldap.server.update")
	if up.Target != "ldap-server:"+itoa(srv.ID)+"/Corp AD" {
		t.Errorf("target %q", up.Target)
	}
	wantChange(t, up, "name", `"Corp"`, `"Corp AD"`)
	wantSecret(t, up, "bindPassword")
	if len(up.Changes) != 2 {
		t.Errorf("server update changes: %+v, want name and bindPassword", up.Changes)
	}
	wantSecret(t, only(t, all.Entries, "ldap.server.create"), "bindPassword")

	blk := only(t, all.Entries, "user.block")
	if blk.Target != "user:"+itoa(js.ID)+"/jsmith" {
		t.Errorf("block target %q", blk.Target)
	}
	wantChange(t, blk, "status", `"active"`, `"blocked"`)
	wantChange(t, blk, "statusReason", `""`, `"admin"`)
	wantSecret(t, only(t, all.Entries, "user.password"), "password")

	ou := only(t, all.Entries, "org.update")
	if ou.Target != "org:"+itoa(staff.ID)+"/Staff" {
		t.Errorf("org target %q", ou.Target)
	}
	wantChange(t, ou, "defaultRoles", `["Desktop User","PROe User"]`, `["PROe User"]`)
	if len(ou.Changes) != 1 {
		t.Errorf("org update changes: %+v, want defaultRoles only", ou.Changes)
	}

	rel := only(t, all.Entries, "legalhold.custodian.release")
	kimName := "user:" + itoa(kim.ID) + "/kim"
	if rel.Target != "legalhold:"+itoa(hold.ID)+"/Matter 7" {
		t.Errorf("release target %q", rel.Target)
	}
	wantChange(t, rel, "custodian", `"`+kimName+`"`, "null")
	wantChange(t, rel, kimName+".status", `"blocked"`, `"deactivated"`)
	wantChange(t, rel, kimName+".statusReason", `"legal-hold-pending"`, `"admin"`)

	rm := only(t, all.Entries, "settings.role-mapping.update")
	if rm.Target != "settings:role-mapping" {
		t.Errorf("role mapping target %q", rm.Target)
	}
	wantChange(t, rm, "roles", string(mappingBefore), `["Desktop User"]`)

	st := only(t, all.Entries, "dirsync.run.start")
	if st.Target != "dirsync-run:"+itoa(run.ID) {
		t.Errorf("sync target %q", st.Target)
	}
	wantChange(t, st, "simulate", "null", "true")

	cf := only(t, all.Entries, "dirsync.run.confirm")
	wantChange(t, cf, "overrideValve", "null", "true")
	if cf.Target != "dirsync-run:"+itoa(confirm.ID) {
		t.Errorf("confirm target %q", cf.Target)
	}
	nt := only(t, all.Entries, "settings.notifications.update")
	wantChange(t, nt, "emails", "[]", `["ops@example.com"]`)
	wantChange(t, nt, "smtp.host", `""`, `"mail.example.com"`)
	wantChange(t, nt, "smtp.hasPassword", "false", "true")
	wantSecret(t, nt, "smtp.password")
	wantChange(t, only(t, all.Entries, "settings.ldap.update"), "syncInterval", `"12h"`, `"never"`)

	// The AUDIT:: lines, one per entry, after the change.
	lines := auditLines(t, e.Dir)
	if len(lines) != all.Total {
		t.Errorf("%d AUDIT:: lines for %d entries:\n%s", len(lines), all.Total, strings.Join(lines, "\n"))
	}
	log := serverLog(t, e.Dir)
	for _, want := range []string{
		`AUDIT:: user.block by:1/admin from:127.0.0.1 target:user:` + itoa(js.ID) + `/jsmith changes: status: "active" → "blocked"; statusReason: "" → "admin"`,
		`AUDIT:: ldap.server.update by:1/admin from:127.0.0.1 target:ldap-server:` + itoa(srv.ID) + `/Corp AD changes: name: "Corp" → "Corp AD"; bindPassword: (changed)`,
		`AUDIT:: org.update by:1/admin from:127.0.0.1 target:org:` + itoa(staff.ID) + `/Staff changes: defaultRoles: ["Desktop User","PROe User"] → ["PROe User"]`,
		`AUDIT:: dirsync.run.start by:1/admin from:127.0.0.1 target:dirsync-run:` + itoa(run.ID) + ` changes: trigger: (none) → "simulate"; simulate: (none) → true`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the server log has no line with\n%s\nAUDIT lines:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	// A long value is cut in the log line (the entry keeps it whole).
	found := false
	for _, l := range lines {
		if strings.Contains(l, `AUDIT:: settings.role-mapping.update by:1/admin from:127.0.0.1 target:settings:role-mapping changes: roles: ["All Org Admin",`) {
			found = strings.Contains(l, "…(") && strings.HasSuffix(l, ` more) → ["Desktop User"]`) && len(l) < 400
		}
	}
	if !found {
		t.Errorf("no role mapping line with a cut value:\n%s", strings.Join(lines, "\n"))
	}
	// The passwords are nowhere: not in the log, the database or the answer.
	noSecretsAnywhere(t, e.Dir, raw, firstBindPW, secondBindPW, userPW, newUserPW, smtpPW)
}

func TestAuditAPIRefusedChangesRecordNothing(t *testing.T) {
	e := authoritytest.Start(t)
	var srv struct{ ID int64 }
	if code := e.Do("POST", "/api/v1/ldap/servers", map[string]any{"name": "Corp", "url": "ldap://127.0.0.1:1/dc=corp",
		"searchFilter": "(uid=%u)", "bindAnonymously": true}, &srv); code != 201 {
		t.Fatalf("create server: %d", code)
	}
	before, _ := auditAPI(t, e, "")
	root, _ := e.App.Orgs.EnsureRoot(context.Background())
	for _, c := range []struct {
		method, path string
		body         any
		status       int
	}{
		{"PATCH", "/api/v1/ldap/servers/" + itoa(srv.ID), map[string]any{"name": "Changed", "timeoutSeconds": 100000}, 400},
		{"PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{"Desktop User", roles.Sysadmin}}, 400},
		{"PATCH", "/api/v1/orgs/" + itoa(root.ID), map[string]any{"defaultRoles": []string{"No Such Role"}}, 400},
		{"POST", "/api/v1/users/1/block", nil, 409}, // the last administrator
		{"PUT", "/api/v1/settings/ldap", map[string]any{"syncInterval": "1s"}, 400},
		{"POST", "/api/v1/users", map[string]any{"username": "nopw", "orgId": root.ID}, 400},
	} {
		if code, raw := e.Raw(e.Token, c.method, c.path, c.body); code != c.status {
			t.Fatalf("%s %s: %d %s, want %d", c.method, c.path, code, raw, c.status)
		}
	}
	after, raw := auditAPI(t, e, "")
	if after.Total != before.Total || len(auditLines(t, e.Dir)) != before.Total {
		t.Fatalf("refused changes were recorded: %d entries before, %d after, %d lines: %s", before.Total, after.Total, len(auditLines(t, e.Dir)), raw)
	}
}

func TestAuditAPIFiltersAndPages(t *testing.T) {
	e := authoritytest.Start(t)
	root, _ := e.App.Orgs.EnsureRoot(context.Background())
	// A second administrator with a mixed-case name acts too.
	e.LocalUser("Auditor", "auditor-password-1", roles.Sysadmin)
	var tok struct{ Token string }
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "Auditor", "password": "auditor-password-1"}, &tok); code != 200 {
		t.Fatalf("auditor token: %d", code)
	}
	var u user
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": "pat", "password": "pat-password-1", "orgId": root.ID}, &u); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for range 2 {
		for _, action := range []string{"block", "unblock"} {
			if code := e.DoAs(tok.Token, "POST", "/api/v1/users/"+itoa(u.ID)+"/"+action, nil, nil); code != 200 {
				t.Fatalf("%s: %d", action, code)
			}
		}
	}
	if code := e.Do("POST", "/api/v1/legal-holds", map[string]any{"name": "M"}, nil); code != 201 {
		t.Fatal("hold")
	}
	// 1 user.create + 4 by Auditor + 1 legalhold.create.
	all, _ := auditAPI(t, e, "")
	if all.Total != 6 || all.Page != 1 || all.PageSize != audit.DefaultPageSize {
		t.Fatalf("all: %+v", all)
	}
	for _, c := range []struct {
		query string
		total int
	}{
		{"actor=auditor", 4}, {"actor=AUDITOR", 4}, {"actor=admin", 2}, {"actor=nobody", 0},
		{"action=user", 5}, {"action=user.block", 2}, {"action=user.blo", 0}, {"action=legalhold", 1},
		{"actor=Auditor&action=user.unblock", 2}, {"actor=admin&action=user.unblock", 0},
	} {
		a, _ := auditAPI(t, e, c.query)
		if a.Total != c.total || len(a.Entries) != c.total {
			t.Errorf("?%s: total %d, %d entries, want %d", c.query, a.Total, len(a.Entries), c.total)
		}
	}
	// Pages of 4: newest first, no entry twice.
	p1, _ := auditAPI(t, e, "pageSize=4")
	p2, _ := auditAPI(t, e, "pageSize=4&page=2")
	p3, _ := auditAPI(t, e, "pageSize=4&page=3")
	if len(p1.Entries) != 4 || len(p2.Entries) != 2 || len(p3.Entries) != 0 || p2.Total != 6 || p2.Page != 2 {
		t.Fatalf("pages: %d, %d, %d entries (total %d)", len(p1.Entries), len(p2.Entries), len(p3.Entries), p2.Total)
	}
	if p1.Entries[0].Action != "legalhold.create" || p1.Entries[3].ID <= p2.Entries[0].ID || p2.Entries[1].Action != "user.create" {
		t.Errorf("page order: %+v then %+v", p1.Entries, p2.Entries)
	}
	if p1.Entries[1].Actor != "Auditor" || p1.Entries[1].Action != "user.unblock" {
		t.Errorf("newest user change: %+v", p1.Entries[1])
	}
	// Bad paging is a 400 that names the parameter.
	for _, q := range []string{"page=0", "page=x", "pageSize=0", "pageSize=100000"} {
		var er apiError
		code := e.Do("GET", "/api/v1/audit?"+q, nil, &er)
		if want := strings.Split(q, "=")[0]; code != 400 || er.Field != want {
			t.Errorf("?%s: %d %+v, want 400 on %s", q, code, er, want)
		}
	}
	if code := e.DoAs("", "GET", "/api/v1/audit", nil, nil); code != 401 {
		t.Errorf("without a token: %d", code)
	}
}

// signInAs signs username in to the console.
func (e *consoleEnv) signInAs(username, password string) {
	e.t.Helper()
	e.follow("/login")
	code, loc, body := e.post("/login", url.Values{"username": {username}, "password": {password}}, false)
	if code != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: status %d, location %q\n%s", username, code, loc, body)
	}
}

func TestAuditConsoleRecordsAndShowsEscaped(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	root, _ := e.app.Orgs.EnsureRoot(ctx)
	const (
		evilAdmin = `<script>alert("admin")</script>`
		evilUser  = `<img src=x onerror=alert(1)>`
		adminPW   = "evil-admin-password-1"
		oldBindPW = "console-old-bind-secret-1"
		newBindPW = "console-new-bind-secret-2"
	)
	if _, err := e.app.Users.Create(ctx, users.NewUser{Username: evilAdmin, Password: adminPW, OrgID: root.ID, Roles: []string{roles.Sysadmin}}); err != nil {
		t.Fatal(err)
	}
	victim, err := e.app.Users.Create(ctx, users.NewUser{Username: evilUser, Password: "victim-password-1", OrgID: root.ID})
	if err != nil {
		t.Fatal(err)
	}
	name, url_, filter, bindDN := "Console LDAP", "ldap://127.0.0.1:1/dc=corp", "(uid=%u)", "cn=svc"
	srv, err := e.app.LDAP.Create(ctx, ldapauth.ServerInput{Name: &name, URL: &url_, SearchFilter: &filter, BindDN: &bindDN, BindPassword: ptr(oldBindPW)})
	if err != nil {
		t.Fatal(err)
	}
	hold, err := e.app.Holds.Create(ctx, "Console matter")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Holds.AddCustodian(ctx, hold.ID, victim.ID); err != nil {
		t.Fatal(err)
	}
	if n := countAudit(t, e.app, ""); n != 0 {
		t.Fatalf("%d entries for changes made without an administrator (services called directly)", n)
	}

	e.signInAs(evilAdmin, adminPW)
	e.follow("/settings/ldap/servers/" + itoa(srv.ID))
	form := url.Values{"name": {"Console LDAP 2"}, "url": {url_}, "bindDN": {bindDN}, "searchFilter": {filter},
		"emailAttribute": {"mail"}, "firstNameAttribute": {"givenName"}, "lastNameAttribute": {"sn"},
		"timeoutSeconds": {"30"}, "pageSize": {"500"}, "activeScript": {ldapauth.DefaultActiveScript},
		"bindPasswordEdit": {"1"}, "bindPassword": {newBindPW}}
	if code, _, body := e.post("/settings/ldap/servers/"+itoa(srv.ID), form, false); code != http.StatusSeeOther {
		t.Fatalf("save server: %d\n%s", code, body)
	}
	posts := []struct {
		path string
		form url.Values
	}{
		{"/users/" + itoa(victim.ID) + "/block", nil},
		{"/orgs/" + itoa(root.ID), url.Values{"name": {root.Name}, "authMethod": {"local"}, "defaultRoles": {"Desktop User"}, "archiveHoldDays": {"365"}}},
		{"/settings/role-mapping", url.Values{"roles": {"PROe User"}}},
		{"/legal-holds/" + itoa(hold.ID) + "/custodians/" + itoa(victim.ID) + "/release", nil},
		{"/sync/runs", url.Values{"simulate": {"1"}}},
	}
	for _, p := range posts {
		e.follow("/settings/audit")
		if code, loc, body := e.post(p.path, p.form, false); code != http.StatusSeeOther {
			t.Fatalf("POST %s: %d %q\n%s", p.path, code, loc, body)
		}
	}
	// A refused change (400) records nothing.
	e.follow("/settings/role-mapping")
	if code, _, _ := e.post("/settings/role-mapping", url.Values{"roles": {roles.Sysadmin}}, false); code != http.StatusBadRequest {
		t.Fatalf("SYSADMIN on the Role Mapping list: %d, want 400", code)
	}
	page, err := e.app.Audit.List(ctx, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, en := range page.Entries {
		actions = append(actions, en.Action)
		if en.Actor != evilAdmin || en.Address != "127.0.0.1" {
			t.Errorf("%s: actor %q from %q", en.Action, en.Actor, en.Address)
		}
	}
	if got, want := strings.Join(actions, " "), "dirsync.run.start legalhold.custodian.release settings.role-mapping.update org.update user.block ldap.server.update"; got != want {
		t.Fatalf("actions recorded from the console:\n%s\nwant\n%s", got, want)
	}
	up := page.Entries[5]
	if c := up.Changes[len(up.Changes)-1]; c.Field != "bindPassword" || !c.Secret {
		t.Errorf("server update from the console: %+v", up.Changes)
	}
	if blk := page.Entries[4]; blk.Target != "user:"+itoa(victim.ID)+"/"+evilUser {
		t.Errorf("block target %q", blk.Target)
	}

	// The page shows every entry, escaped.
	body := e.follow("/settings/audit")
	for _, want := range []string{`aria-current="page" id="nav-audit"`, "Entries 1–6 of 6.", "ldap.server.update", "legalhold.custodian.release",
		"&lt;script&gt;alert(&#34;admin&#34;)&lt;/script&gt;", "user:" + itoa(victim.ID) + "/&lt;img src=x onerror=alert(1)&gt;",
		"(changed)", "Console LDAP 2", "127.0.0.1"} {
		if !strings.Contains(body, want) {
			t.Errorf("the audit page has no %q", want)
		}
	}
	for _, bad := range []string{"<script>alert", "<img src=x", oldBindPW, newBindPW} {
		if strings.Contains(body, bad) {
			t.Errorf("the audit page holds %q unescaped", bad)
		}
	}
	// Filters and pages.
	body = e.follow("/settings/audit?action=user.block")
	if !strings.Contains(body, "Entries 1–1 of 1.") || strings.Contains(body, "ldap.server.update</code>") {
		t.Errorf("filtered by action: %s", body)
	}
	body = e.follow("/settings/audit?actor=" + url.QueryEscape(strings.ToUpper(evilAdmin)) + "&action=settings")
	if !strings.Contains(body, "Entries 1–1 of 1.") {
		t.Errorf("filtered by actor and action prefix: %s", body)
	}
	if body = e.follow("/settings/audit?actor=nobody"); !strings.Contains(body, "No entry matches this filter.") {
		t.Errorf("filtered to nothing: %s", body)
	}
	// 50 more entries, by another administrator through the service, make two pages.
	actx := e.app.Audit.As(ctx, audit.Actor{UserID: 99, Username: "filler", Address: "192.0.2.1"})
	for i := range 50 {
		if err := audit.Record(actx, audit.OrgUpdate, "org:1/Default", []audit.Change{audit.Field("n", i, i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	body = e.follow("/settings/audit")
	if !strings.Contains(body, "Page 1 of 2") || !strings.Contains(body, `href="/settings/audit?page=2" rel="next"`) {
		t.Errorf("first of two pages: %s", body)
	}
	body = e.follow("/settings/audit?page=2")
	if !strings.Contains(body, "Page 2 of 2") || !strings.Contains(body, `href="/settings/audit" rel="prev"`) || !strings.Contains(body, "Entries 51–") {
		t.Errorf("second page: %s", body)
	}
	noSecretsAnywhere(t, e.dir(), nil, oldBindPW, newBindPW, adminPW)
}

func ptr[T any](v T) *T { return &v }

// countAudit counts the entries of the app's audit log with action (all for "").
func countAudit(t *testing.T, app *authority.App, action string) int {
	t.Helper()
	p, err := app.Audit.List(context.Background(), audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return p.Total
}

// dir is the console test server's data directory.
func (e *consoleEnv) dir() string { return e.app.Config.DataDir }
