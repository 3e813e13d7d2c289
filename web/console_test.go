package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// consoleAdminPassword is the administrator's password in console tests.
const consoleAdminPassword = "console-admin-pw"

// consoleEnv is a running server and a cookie-keeping client for its console.
type consoleEnv struct {
	t      *testing.T
	app    *authority.App
	srv    *httptest.Server
	client *http.Client
	csrf   string // the CSRF token of the last page read
}

func startConsole(t *testing.T) *consoleEnv {
	t.Helper()
	app, err := authority.Open(context.Background(), authority.Config{DataDir: t.TempDir(), AdminPassword: consoleAdminPassword, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	srv := httptest.NewServer(app.Handler())
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &consoleEnv{t: t, app: app, srv: srv, client: c}
}

var csrfInput = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// do sends a request and returns the status, the Location and the body; it
// remembers the CSRF token of the page.
func (e *consoleEnv) do(req *http.Request) (int, string, string) {
	e.t.Helper()
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(b); m != nil {
		e.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

func (e *consoleEnv) get(path string) (int, string, string) {
	e.t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	return e.do(req)
}

// post sends a form with the CSRF token of the last page read (unless form
// already has one, or noToken).
func (e *consoleEnv) post(path string, form url.Values, noToken bool) (int, string, string) {
	e.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !noToken && form.Get("csrf_token") == "" {
		form.Set("csrf_token", e.csrf)
	}
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// follow GETs path (as a redirect target) and fails unless it answers 200.
func (e *consoleEnv) follow(path string) string {
	e.t.Helper()
	code, _, body := e.get(path)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: status %d\n%s", path, code, body)
	}
	return body
}

func (e *consoleEnv) signIn() {
	e.t.Helper()
	e.follow("/login")
	code, loc, body := e.post("/login", url.Values{"username": {"admin"}, "password": {consoleAdminPassword}}, false)
	if code != http.StatusSeeOther || loc != "/orgs" {
		e.t.Fatalf("sign in: status %d, location %q\n%s", code, loc, body)
	}
}

func TestConsoleSignIn(t *testing.T) {
	e := startConsole(t)
	if code, loc, _ := e.get("/"); code != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("GET / signed out: %d %q, want a redirect to /login", code, loc)
	}
	if code, loc, _ := e.get("/users"); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?next=") {
		t.Fatalf("GET /users signed out: %d %q, want a redirect to sign in", code, loc)
	}
	e.follow("/login")
	code, _, body := e.post("/login", url.Values{"username": {"admin"}, "password": {"wrong"}}, false)
	if code != http.StatusUnauthorized || !strings.Contains(body, "Wrong username or password.") {
		t.Fatalf("wrong password: status %d\n%s", code, body)
	}
	// The session cookie's attributes.
	form := url.Values{"username": {"admin"}, "password": {consoleAdminPassword}, "next": {"/users"}, "csrf_token": {e.csrf}}
	req, _ := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/users" {
		t.Fatalf("sign in: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "authority_session" {
			session = c
		}
	}
	if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over http", session)
	}
	body = e.follow("/users")
	if !strings.Contains(body, "Sign out") || !strings.Contains(body, ">admin<") {
		t.Fatalf("the users page does not show the signed-in administrator:\n%s", body)
	}
	// A non-administrator cannot sign in to the console.
	root, _ := e.app.Orgs.EnsureRoot(context.Background())
	if _, err := e.app.Users.Create(context.Background(), users.NewUser{Username: "plain", Password: "plain-pw-1", OrgID: root.ID}); err != nil {
		t.Fatal(err)
	}
	code, _, body = e.post("/logout", nil, false)
	if code != http.StatusSeeOther {
		t.Fatalf("sign out: %d\n%s", code, body)
	}
	if code, _, _ := e.get("/users"); code != http.StatusSeeOther {
		t.Fatalf("after sign-out /users answers %d, want a redirect", code)
	}
	e.follow("/login")
	code, _, body = e.post("/login", url.Values{"username": {"plain"}, "password": {"plain-pw-1"}}, false)
	if code != http.StatusForbidden || !strings.Contains(body, "not an administrator") {
		t.Fatalf("non-admin sign-in: %d\n%s", code, body)
	}
}

func TestConsoleCSRFRefused(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	e.follow("/orgs/new")
	for _, path := range []string{"/orgs", "/logout", "/settings/role-mapping", "/legal-holds", "/sync/runs", "/settings/ldap", "/settings/notifications", "/users/1/deactivate"} {
		code, _, body := e.post(path, url.Values{"name": {"Evil"}}, true)
		if code != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: status %d, want 403\n%s", path, code, body)
		}
	}
	code, _, body := e.post("/orgs", url.Values{"name": {"Evil"}, "csrf_token": {"bm90LWEtdG9rZW4"}}, false)
	if code != http.StatusForbidden {
		t.Errorf("POST /orgs with a wrong CSRF token: status %d, want 403\n%s", code, body)
	}
	if _, err := e.app.Orgs.ByName(context.Background(), "Evil"); err == nil {
		t.Fatal("a form without its CSRF token created an org")
	}
	// A sign-in form without a token is refused too.
	e2 := startConsole(t)
	code, _, _ = e2.post("/login", url.Values{"username": {"admin"}, "password": {consoleAdminPassword}}, true)
	if code != http.StatusForbidden {
		t.Errorf("POST /login without a CSRF token: status %d, want 403", code)
	}
}

func TestConsoleEscapesUserValues(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	root, _ := e.app.Orgs.EnsureRoot(ctx)
	evil := "<script>alert(1)</script>"
	u, err := e.app.Users.Create(ctx, users.NewUser{Username: "x" + evil, Password: "pw-123456", OrgID: root.ID,
		FirstName: evil, LastName: `"><img src=x onerror=alert(2)>`, Email: evil + "@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.app.Holds.Create(ctx, evil); err != nil {
		t.Fatal(err)
	}
	e.signIn()
	for _, path := range []string{"/users", "/users/" + strconv.FormatInt(u.ID, 10), "/legal-holds", "/legal-holds/1", "/users?search=" + url.QueryEscape(evil)} {
		body := e.follow(path)
		if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
			t.Errorf("GET %s shows a value unescaped:\n%s", path, body)
		}
		if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("GET %s does not show the value as text", path)
		}
	}
}

func TestConsoleOrgFormErrors(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	e.follow("/orgs/new")
	code, loc, body := e.post("/orgs", url.Values{"name": {"Sales"}, "parentId": {"1"}, "authMethod": {""}, "defaultRoles": {"Desktop User"}}, false)
	if code != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", code, body)
	}
	body = e.follow(loc)
	if !strings.Contains(body, "Organization Sales created") {
		t.Fatalf("no flash after creating:\n%s", body)
	}
	code, _, body = e.post("/orgs", url.Values{"name": {"sales"}, "parentId": {"1"}}, false)
	if code != http.StatusBadRequest || !regexp.MustCompile(`(?s)id="name".*?class="field-error"[^>]*>An org named &#34;sales&#34; already exists`).MatchString(body) {
		t.Fatalf("duplicate name: %d, want the error next to the name field\n%s", code, body)
	}
	code, _, body = e.post("/orgs", url.Values{"name": {"Ldap"}, "parentId": {"1"}, "authMethod": {"ldap"}}, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "has no LDAP server") {
		t.Fatalf("ldap org without a server: %d\n%s", code, body)
	}
	code, _, body = e.post("/orgs", url.Values{"name": {"Days"}, "parentId": {"1"}, "archiveHoldDays": {"soon"}}, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "ust be a whole number of days") {
		t.Fatalf("bad hold days: %d\n%s", code, body)
	}
}

// consoleGlauth starts the demo directory with one more person whose
// attributes hold markup.
func consoleGlauth(t *testing.T) *testenv.Glauth {
	people, groups := testenv.DemoDirectory()
	people = append(people, testenv.GlauthUser{Name: "mallory", Password: testenv.DemoPassword, GivenName: "<script>alert(1)</script>",
		SN: `"><img src=x onerror=alert(2)>`, Mail: []string{"mallory@example.com"}, PrimaryGroup: "staff",
		Custom: map[string][]string{"employeeType": {"staff"}}})
	return testenv.StartGlauth(t, people, groups...)
}

// addServerForm is the setup form for the directory g.
func addServerForm(g *testenv.Glauth) url.Values {
	return url.Values{"name": {"Corporate <b>LDAP</b>"}, "url": {g.URL}, "bindDN": {g.BindDN}, "bindPassword": {g.BindPassword},
		"searchFilter": {"(&(objectClass=posixAccount)(uid=%u))"}, "emailAttribute": {"mail"}, "firstNameAttribute": {"givenName"},
		"lastNameAttribute": {"sn"}, "timeoutSeconds": {"10"}, "pageSize": {"500"},
		"activeScript":  {"function(entry) { return entry.employeeType != 'student'; }"},
		"orgNameScript": {""}, "roleNameScript": {"function getRoles(entry) { return ['Desktop User']; }"}}
}

func (e *consoleEnv) postJSON(path string, form url.Values) (int, map[string]any) {
	e.t.Helper()
	form.Set("csrf_token", e.csrf)
	req, _ := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	code, _, body := e.do(req)
	var out map[string]any
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		e.t.Fatalf("POST %s: %d %q: %v", path, code, body, err)
	}
	return code, out
}

func TestConsoleLDAPServerSetup(t *testing.T) {
	g := consoleGlauth(t)
	e := startConsole(t)
	e.signIn()
	var pages []string // every page read, to look for the bind password
	keep := func(body string) string { pages = append(pages, body); return body }

	body := keep(e.follow("/settings/ldap"))
	if !strings.Contains(body, "No LDAP servers yet. Add one to let people sign in with directory credentials.") {
		t.Fatalf("no empty state on the LDAP page:\n%s", body)
	}
	keep(e.follow("/settings/ldap/servers/new"))
	// A bad script is refused with its position next to the field.
	form := addServerForm(g)
	form.Set("activeScript", "function(entry) {\n  return entry.x ==;\n}")
	code, _, body := e.post("/settings/ldap/servers", form, false)
	keep(body)
	if code != http.StatusBadRequest || !regexp.MustCompile(`id="activeScript-status"[^>]*>Line 2, column \d+: `).MatchString(body) {
		t.Fatalf("bad active script: %d, want its line and column next to the field\n%s", code, body)
	}
	code, loc, body := e.post("/settings/ldap/servers", addServerForm(g), false)
	if code != http.StatusSeeOther {
		t.Fatalf("add server: %d\n%s", code, body)
	}
	body = keep(e.follow(loc))
	for _, want := range []string{"LDAP server Corporate &lt;b&gt;LDAP&lt;/b&gt; added", "A password is stored.", `id="preview-table"`,
		"cn=alice,ou=staff,ou=users,dc=example,dc=com", "alice@example.com", "&lt;script&gt;alert(1)&lt;/script&gt;", "Username attribute: <code id=\"username-attr\">uid</code>"} {
		if !strings.Contains(body, want) {
			t.Errorf("the setup page does not show %q", want)
		}
	}
	if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") || strings.Contains(body, "<b>LDAP") {
		t.Errorf("the setup page shows a directory value unescaped")
	}
	id := strings.TrimPrefix(loc, "/settings/ldap/servers/")
	// The preview's username search and pages.
	body = keep(e.follow(loc + "?search=ali"))
	if !strings.Contains(body, "alice@example.com") || strings.Contains(body, "bob@example.com") {
		t.Errorf("the preview search for ali does not show just alice")
	}
	// Testing settings before saving them: with the script, and without.
	draft := addServerForm(g)
	draft.Set("draft", "1")
	_, res := e.postJSON("/settings/ldap/servers/test", draft)
	if res["reachable"] != true || res["bindable"] != true {
		t.Errorf("test of a new server's settings: %v", res)
	}
	draft.Set("bindPassword", "wrong")
	if _, res = e.postJSON("/settings/ldap/servers/test", draft); res["reachable"] != true || res["bindable"] != false || res["error"] == "" {
		t.Errorf("test with a wrong password: %v", res)
	}
	noJS := addServerForm(g)
	noJS.Set("action", "test")
	code, _, body = e.post("/settings/ldap/servers", noJS, false)
	keep(body)
	if code != http.StatusOK || !strings.Contains(body, "LDAP is reachable") || !strings.Contains(body, "Tested, not saved.") {
		t.Errorf("test without JavaScript: %d\n%s", code, body)
	}
	if list, _ := e.app.LDAP.List(context.Background()); len(list) != 1 {
		t.Fatalf("testing settings saved a server: %d servers", len(list))
	}
	// The indicators.
	_, res = e.postJSON(loc+"/test", url.Values{})
	if res["reachable"] != true || res["bindable"] != true || res["matches"] != float64(8) {
		t.Errorf("test: %v, want reachable, bindable, 8 matches", res)
	}
	// The script editor's check and "try on this entry".
	_, res = e.postJSON("/settings/ldap/compile", url.Values{"field": {"orgNameScript"}, "source": {"function(e) {\n return e.x +;\n}"}})
	if res["ok"] != false || !strings.HasPrefix(res["message"].(string), "Line 2, column ") {
		t.Errorf("compile check: %v", res)
	}
	_, res = e.postJSON("/settings/ldap/compile", url.Values{"field": {"activeScript"}, "source": {"function(e) { return true; }"}})
	if res["ok"] != true {
		t.Errorf("compile check of a good script: %v", res)
	}
	_, res = e.postJSON(loc+"/try", url.Values{"field": {"activeScript"}, "source": {"function(e) { return e.employeeType == 'student'; }"}, "username": {"dave"}})
	if res["ok"] != true || !strings.Contains(res["message"].(string), "returns true") {
		t.Errorf("try on dave: %v", res)
	}
	// Saving without opening the password box keeps the password.
	form = addServerForm(g)
	form.Del("bindPassword")
	form.Set("name", "Corporate")
	code, _, body = e.post(loc, form, false)
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	srv, err := e.app.LDAP.Get(context.Background(), mustInt(t, id))
	if err != nil || srv.BindPassword != g.BindPassword || srv.Name != "Corporate" {
		t.Fatalf("after saving without the password box: %v, name %q, password kept %v", err, srv.Name, srv.BindPassword == g.BindPassword)
	}
	// Moving the server to another host needs the password again; the box opens.
	moved := addServerForm(g)
	moved.Del("bindPassword")
	moved.Set("url", strings.Replace(g.URL, "127.0.0.1", "localhost", 1))
	code, _, body = e.post(loc, moved, false)
	keep(body)
	if code != http.StatusBadRequest || !regexp.MustCompile(`(?s)id="bindPassword" name="bindPassword" type="password" autocomplete="new-password">.*?class="field-error"[^>]*>Enter the bind password again`).MatchString(body) {
		t.Errorf("a new host without the password: %d, want the open password box with the error\n%s", code, body)
	}
	// A failed save with the password box open does not show the password again.
	form.Set("bindPasswordEdit", "1")
	form.Set("bindPassword", "new-secret-value")
	form.Set("searchFilter", "(uid=nothing)")
	code, _, body = e.post(loc, form, false)
	keep(body)
	if code != http.StatusBadRequest || strings.Contains(body, "new-secret-value") {
		t.Fatalf("bad filter with a new password: %d, password shown: %v", code, strings.Contains(body, "new-secret-value"))
	}
	keep(e.follow(loc + "?editPassword=1"))
	keep(e.follow(loc + "?test=1"))
	keep(e.follow("/settings/ldap"))
	keep(e.follow("/orgs/new"))
	for i, p := range pages {
		if strings.Contains(p, g.BindPassword) {
			t.Errorf("page %d shows the bind password", i)
		}
	}
	// Settings: registrants not found and the interval.
	root, _ := e.app.Orgs.EnsureRoot(context.Background())
	code, _, body = e.post("/settings/ldap", url.Values{"registrantsNotFound": {"org:" + strconv.FormatInt(root.ID, 10)}, "syncInterval": {"never"}, "valvePercent": {"10"}, "valveMinUsers": {"10"}}, false)
	if code != http.StatusSeeOther {
		t.Fatalf("save settings: %d\n%s", code, body)
	}
	st, _ := e.app.LDAP.Settings(context.Background())
	if st.SyncInterval != "never" || st.RegistrantsNotFound != "org:"+strconv.FormatInt(root.ID, 10) {
		t.Fatalf("settings: %+v", st)
	}
	code, _, body = e.post("/settings/ldap", url.Values{"registrantsNotFound": {"deny"}, "syncInterval": {"12h"}, "valvePercent": {"400"}, "valveMinUsers": {"10"}}, false)
	if code != http.StatusBadRequest || !strings.Contains(body, "Must be from 0 to 100") {
		t.Fatalf("bad valve percent: %d\n%s", code, body)
	}
}

func mustInt(t *testing.T, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

func TestConsoleNotificationsPasswordWriteOnly(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	e.follow("/settings/notifications")
	secret := "smtp-Secret-4711"
	form := url.Values{"emails": {"ops@example.com\nsec@example.com"}, "smtp.host": {"mail.example.com"}, "smtp.port": {"587"},
		"smtp.username": {"mailer"}, "passwordEdit": {"1"}, "smtp.password": {secret}}
	code, loc, body := e.post("/settings/notifications", form, false)
	if code != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", code, body)
	}
	body = e.follow(loc)
	if strings.Contains(body, secret) || !strings.Contains(body, "A password is stored.") || !strings.Contains(body, "ops@example.com\nsec@example.com") {
		t.Fatalf("after saving:\n%s", body)
	}
	// Saving again without opening the password box keeps the password.
	form.Del("passwordEdit")
	form.Del("smtp.password")
	form.Set("smtp.from", "authority@example.com") // a new port would need the password again
	if code, _, _ := e.post("/settings/notifications", form, false); code != http.StatusSeeOther {
		t.Fatalf("save again: %d", code)
	}
	n, _ := e.app.Sync.Notifications(context.Background())
	if !n.SMTP.HasPassword || n.SMTP.From != "authority@example.com" {
		t.Fatalf("notifications: %+v", n.SMTP)
	}
	// A refused form does not show the password it was sent with.
	form.Set("passwordEdit", "1")
	form.Set("smtp.password", secret)
	form.Set("emails", "ops@example.com\nnot an address")
	code, _, body = e.post("/settings/notifications", form, false)
	if code != http.StatusBadRequest || strings.Contains(body, secret) || !strings.Contains(body, "is not an email address") {
		t.Fatalf("bad address: %d\n%s", code, body)
	}
	for _, path := range []string{"/settings/notifications", "/settings/notifications?editPassword=1"} {
		if strings.Contains(e.follow(path), secret) {
			t.Errorf("GET %s shows the SMTP password", path)
		}
	}
}

func TestConsoleUserActionsAndOrgKey(t *testing.T) {
	e := startConsole(t)
	ctx := context.Background()
	root, _ := e.app.Orgs.EnsureRoot(ctx)
	other, err := e.app.Orgs.Create(ctx, orgsInput("Branch"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := e.app.Users.Create(ctx, users.NewUser{Username: "erin", Password: "erin-pw-123", OrgID: root.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.signIn()
	page := "/users/" + strconv.FormatInt(u.ID, 10)
	e.follow(page)
	step := func(action string, form url.Values, wantFlash string, wantStatus users.Status) {
		t.Helper()
		code, loc, body := e.post(page+"/"+action, form, false)
		if code != http.StatusSeeOther || loc != page {
			t.Fatalf("%s: %d %q\n%s", action, code, loc, body)
		}
		body = e.follow(loc)
		if !strings.Contains(body, wantFlash) {
			t.Fatalf("%s: the page does not say %q\n%s", action, wantFlash, body)
		}
		if got, _ := e.app.Users.Get(ctx, u.ID); got.Status != wantStatus {
			t.Fatalf("%s: status %s, want %s", action, got.Status, wantStatus)
		}
	}
	step("block", nil, "erin is blocked", users.StatusBlocked)
	step("unblock", nil, "erin is unblocked and active.", users.StatusActive)
	step("deactivate", nil, "erin is deactivated", users.StatusDeactivated)
	step("block", nil, "reactivate it before blocking", users.StatusDeactivated)
	step("reactivate", nil, "erin is active again", users.StatusActive)
	step("move", url.Values{"orgId": {strconv.FormatInt(other.ID, 10)}}, "erin moved to Branch.", users.StatusActive)
	if got, _ := e.app.Users.Get(ctx, u.ID); got.OrgID != other.ID {
		t.Fatalf("not moved: org %d", got.OrgID)
	}
	// A new registration key.
	orgPage := "/orgs/" + strconv.FormatInt(other.ID, 10)
	e.follow(orgPage)
	code, loc, _ := e.post(orgPage+"/registration-key", nil, false)
	if code != http.StatusSeeOther || loc != orgPage {
		t.Fatalf("new key: %d %q", code, loc)
	}
	if o, _ := e.app.Orgs.Get(ctx, other.ID); o.RegistrationKey == other.RegistrationKey || !strings.Contains(e.follow(loc), o.RegistrationKey) {
		t.Fatalf("the registration key did not change, or the page does not show it")
	}
	// Pages that do not exist.
	for _, p := range []string{"/users/999", "/orgs/999", "/legal-holds/999", "/sync/runs/999", "/settings/ldap/servers/999", "/users/abc", "/no/such/page"} {
		if code, _, body := e.get(p); code != http.StatusNotFound || !strings.Contains(body, "Sign out") {
			t.Errorf("GET %s: %d, want a 404 page with the menu", p, code)
		}
	}
}

func orgsInput(name string) orgs.Input { return orgs.Input{Name: &name} }

func TestConsoleSyncProgress(t *testing.T) {
	e := startConsole(t)
	e.signIn()
	ctx := context.Background()
	if body := e.follow("/sync/runs"); !strings.Contains(body, "No sync has run yet.") {
		t.Fatalf("no empty state in the sync history:\n%s", body)
	}
	res, err := e.app.DB.ExecContext(ctx, `INSERT INTO dirsync_runs(trigger, simulated, started_by, started_at, status, users, blocked)
		VALUES('simulate', 1, '1/admin', ?, 'running', 12, 3)`, time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	if err != nil {
		t.Fatal(err)
	}
	id, _ := res.LastInsertId()
	body := e.follow("/settings/ldap")
	if !strings.Contains(body, `data-sync-poll="/sync/status.json"`) || !strings.Contains(body, "12 users checked") || !strings.Contains(body, "3 blocked") {
		t.Fatalf("the LDAP page does not show the run going on:\n%s", body)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/sync/status.json", nil)
	req.Header.Set("Accept", "application/json")
	_, _, raw := e.do(req)
	var st map[string]any
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st["running"] != true || st["runningId"] != float64(id) {
		t.Fatalf("status while running: %s (%v)", raw, err)
	}
	if _, err := e.app.DB.ExecContext(ctx, `UPDATE dirsync_runs SET status = 'valve', finished_at = started_at, message = ? WHERE id = ?`,
		"Directory sync deactivation not executed. Too many users were identified for deactivation. Check LDAP configuration.", id); err != nil {
		t.Fatal(err)
	}
	_, _, raw = e.do(req)
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st["running"] != false {
		t.Fatalf("status after the run: %s (%v)", raw, err)
	}
	body = e.follow("/sync/runs/" + strconv.FormatInt(id, 10))
	if !strings.Contains(body, "Too many users were identified for deactivation") || !strings.Contains(body, "badge-valve") {
		t.Fatalf("the run page does not show the valve:\n%s", body)
	}
}

func TestConsolePreviewPagesAndSecureCookies(t *testing.T) {
	var people []testenv.GlauthUser
	for i := 1; i <= 45; i++ {
		n := "user" + strconv.Itoa(100+i)
		people = append(people, testenv.GlauthUser{Name: n, Password: "pw", GivenName: "U", SN: n, Mail: []string{n + "@example.com"}})
	}
	g := testenv.StartGlauth(t, people)
	e := startConsole(t)
	e.signIn()
	e.follow("/settings/ldap/servers/new")
	code, loc, body := e.post("/settings/ldap/servers", addServerForm(g), false)
	if code != http.StatusSeeOther {
		t.Fatalf("add: %d\n%s", code, body)
	}
	body = e.follow(loc)
	if !strings.Contains(body, "1–20 of 45") || !strings.Contains(body, `href="`+loc+`?page=2#preview" rel="next"`) {
		t.Fatalf("page 1 of the preview:\n%s", body)
	}
	body = e.follow(loc + "?page=3")
	if !strings.Contains(body, "41–45 of 45") || !strings.Contains(body, `?page=2#preview" rel="prev"`) || strings.Contains(body, `rel="next"`) {
		t.Fatalf("page 3 of the preview:\n%s", body)
	}
	body = e.follow(loc + "?search=user12")
	if !strings.Contains(body, "1–10 of 10") {
		t.Fatalf("search user12:\n%s", body)
	}

	// Served behind TLS, every console cookie is Secure.
	e.app.Web.SecureCookies = true
	h := e.app.Web.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "https://authority.example/login", nil))
	var token string
	if m := csrfInput.FindStringSubmatch(rec.Body.String()); m != nil {
		token = m[1]
	}
	cookies := rec.Result().Cookies()
	if len(cookies) == 0 || token == "" {
		t.Fatalf("GET /login: no CSRF cookie or token")
	}
	form := url.Values{"username": {"admin"}, "password": {consoleAdminPassword}, "csrf_token": {token}}
	req := httptest.NewRequest("POST", "https://authority.example/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Referer", "https://authority.example/login")
	for _, c := range cookies {
		req.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("POST /login over https: %d\n%s", rec.Code, rec.Body)
	}
	for _, c := range append(cookies, rec.Result().Cookies()...) {
		if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Errorf("cookie %s: Secure %v HttpOnly %v SameSite %v", c.Name, c.Secure, c.HttpOnly, c.SameSite)
		}
	}
}
