package web_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/users"
)

// The sign-in page keeps a hostile next through the form, and the redirect
// after signing in stays on this server (a browser reads "/\t/evil.example"
// as "//evil.example").
func TestConsoleSignInNextStaysOnThisServer(t *testing.T) {
	e := startConsole(t)
	for _, next := range []string{"/%09/evil.example", "/%5Cevil.example", "//evil.example", "/%2F/evil.example"} {
		e.follow("/login?next=" + next)
		code, loc, body := e.post("/login", url.Values{"username": {"admin"}, "password": {consoleAdminPassword}, "next": {mustUnescape(t, next)}}, false)
		if code != http.StatusSeeOther || loc != "/" {
			t.Fatalf("sign in with next=%s: status %d, location %q, want a redirect to /\n%s", next, code, loc, body)
		}
		// Signed in already: the sign-in page sends on at once.
		if code, loc, _ := e.get("/login?next=" + next); code != http.StatusSeeOther || loc != "/" {
			t.Fatalf("GET /login?next=%s signed in: %d %q, want a redirect to /", next, code, loc)
		}
		e.setCookieless()
	}
}

func mustUnescape(t *testing.T, s string) string {
	t.Helper()
	v, err := url.QueryUnescape(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// setCookieless signs the console client out by forgetting its cookies.
func (e *consoleEnv) setCookieless() {
	u, _ := url.Parse(e.srv.URL)
	for _, c := range e.client.Jar.Cookies(u) {
		if !strings.HasPrefix(c.Name, "authority_csrf") {
			e.client.Jar.SetCookies(u, []*http.Cookie{{Name: c.Name, Value: "", Path: "/", MaxAge: -1}})
		}
	}
}

// over is longer than every text limit (docs/rules.md section 10) and still
// fits a request body of 1 MiB.
var over = strings.Repeat("x", 100_000)

// inputEnv is a console client signed in as the administrator, with an API
// token for the same server, an LDAP server (not reachable: nothing here
// asks it), a user with a device, and a legal hold matter.
type inputEnv struct {
	*consoleEnv
	token            string
	serverID, userID int64
	holdID           int64
}

func startInput(t *testing.T) *inputEnv {
	t.Helper()
	e := &inputEnv{consoleEnv: startConsole(t)}
	e.signIn()
	var tok struct{ Token string }
	if code, _ := e.api("POST", "/api/v1/auth/token", map[string]any{"username": "admin", "password": consoleAdminPassword}, &tok); code != 200 {
		t.Fatalf("token: %d", code)
	}
	e.token = tok.Token
	var srv, u, hold struct{ ID int64 }
	if code, raw := e.api("POST", "/api/v1/ldap/servers", ldapBody(), &srv); code != 201 {
		t.Fatalf("create LDAP server: %d %s", code, raw)
	}
	if code, raw := e.api("POST", "/api/v1/users", map[string]any{"username": "carl", "password": "carl-password", "orgId": 1}, &u); code != 201 {
		t.Fatalf("create user: %d %s", code, raw)
	}
	if code, raw := e.api("POST", "/api/v1/legal-holds", map[string]any{"name": "Matter"}, &hold); code != 201 {
		t.Fatalf("create matter: %d %s", code, raw)
	}
	if code, raw := e.api("POST", "/api/v1/login", map[string]any{"username": "carl", "password": "carl-password", "deviceGuid": "dev-1"}, nil); code != 200 {
		t.Fatalf("register a device: %d %s", code, raw)
	}
	e.serverID, e.userID, e.holdID = srv.ID, u.ID, hold.ID
	return e
}

// ldapBody is a valid new LDAP server.
func ldapBody() map[string]any {
	return map[string]any{"name": "Corp", "url": "ldap://127.0.0.1:1/dc=example,dc=com", "bindDN": "cn=svc,dc=example,dc=com",
		"bindPassword": "svc-password", "searchFilter": "(uid=%u)", "timeoutSeconds": 1}
}

// api sends a JSON request with the administrator's token; body may be a
// string sent as is. It decodes the answer into out when out is not nil.
func (e *inputEnv) api(method, path string, body, out any) (int, string) {
	e.t.Helper()
	var raw string
	switch b := body.(type) {
	case nil:
	case string:
		raw = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		raw = string(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if e.token != "" {
		req.Header.Set("Authorization", "Bearer "+e.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, string(b)
}

// with returns a copy of body with key set to v; a key "a.b" sets b in the
// object a.
func with(body map[string]any, key string, v any) map[string]any {
	out := map[string]any{}
	for k, x := range body {
		out[k] = x
	}
	if outer, inner, ok := strings.Cut(key, "."); ok {
		m := map[string]any{}
		for k, x := range out[outer].(map[string]any) {
			m[k] = x
		}
		m[inner] = v
		out[outer] = m
		return out
	}
	out[key] = v
	return out
}

func without(body map[string]any, key string) map[string]any {
	out := with(body, key, nil)
	delete(out, key)
	return out
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// Every text field of every JSON endpoint refuses an over-long value with a
// 400 naming the field (the sign-in endpoints answer their usual 401, as
// docs/rules.md section 10 says), every body over 1 MiB is a 413, and none
// of it is ever a 500.
func TestAPIRefusesOverLongInput(t *testing.T) {
	e := startInput(t)
	sid, uid, hid := itoa64(e.serverID), itoa64(e.userID), itoa64(e.holdID)
	ldap := ldapBody()
	notif := map[string]any{"emails": []string{"ops@example.com"}, "smtp": map[string]any{"host": "mail.example.com", "port": 25, "from": "authority@example.com"}}
	user := map[string]any{"username": "dora", "password": "dora-password", "orgId": 1}
	try := map[string]any{"script": "function(entry) { return true; }", "kind": "active", "username": "carl"}
	type c struct {
		method, path string
		body         any
		status       int
		field        string
	}
	cases := []c{
		{"POST", "/api/v1/login", map[string]any{"username": over, "password": "pw"}, 401, ""},
		{"POST", "/api/v1/login", map[string]any{"username": "carl", "password": over}, 401, ""},
		{"POST", "/api/v1/login", map[string]any{"username": "nobody", "password": "pw", "registrationKey": over}, 401, ""},
		{"POST", "/api/v1/login", map[string]any{"username": "carl", "password": "carl-password", "deviceGuid": over}, 400, "deviceGuid"},
		{"POST", "/api/v1/login", map[string]any{"username": "carl", "password": "carl-password", "deviceGuid": "dev-2", "deviceName": over}, 400, "deviceName"},
		{"POST", "/api/v1/auth/token", map[string]any{"username": over, "password": "pw"}, 401, ""},
		{"POST", "/api/v1/auth/token", map[string]any{"username": "admin", "password": over}, 401, ""},
		{"POST", "/api/v1/orgs", map[string]any{"name": over}, 400, "name"},
		{"POST", "/api/v1/orgs", map[string]any{"name": "Org A", "authMethod": over}, 400, "authMethod"},
		{"POST", "/api/v1/orgs", map[string]any{"name": "Org A", "defaultRoles": []string{over}}, 400, "defaultRoles"},
		{"PATCH", "/api/v1/orgs/1", map[string]any{"name": over}, 400, "name"},
		{"PATCH", "/api/v1/orgs/1", map[string]any{"authMethod": over}, 400, "authMethod"},
		{"PATCH", "/api/v1/orgs/1", map[string]any{"defaultRoles": []string{over}}, 400, "defaultRoles"},
		{"GET", "/api/v1/users?username=" + over, nil, 400, "username"},
		{"GET", "/api/v1/users?search=" + over, nil, 400, "search"},
		{"GET", "/api/v1/users?status=" + over, nil, 400, "status"},
		{"POST", "/api/v1/users", with(user, "username", over), 400, "username"},
		{"POST", "/api/v1/users", with(user, "password", over), 400, "password"},
		{"POST", "/api/v1/users", with(user, "email", over), 400, "email"},
		{"POST", "/api/v1/users", with(user, "firstName", over), 400, "firstName"},
		{"POST", "/api/v1/users", with(user, "lastName", over), 400, "lastName"},
		{"POST", "/api/v1/users", with(user, "roles", []string{over}), 400, "roles"},
		{"POST", "/api/v1/users/" + uid + "/devices/dev-1/replace", map[string]any{"newDeviceGuid": over}, 400, "newDeviceGuid"},
		{"POST", "/api/v1/legal-holds", map[string]any{"name": over}, 400, "name"},
		{"PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{over}}, 400, "roles"},
		{"GET", "/api/v1/ldap/servers/" + sid + "/preview?search=" + over, nil, 400, "search"},
		{"POST", "/api/v1/ldap/servers/" + sid + "/try-script", with(try, "script", over), 400, "script"},
		{"POST", "/api/v1/ldap/servers/" + sid + "/try-script", with(try, "kind", over), 400, "kind"},
		{"POST", "/api/v1/ldap/servers/" + sid + "/try-script", with(try, "username", over), 400, "username"},
		{"POST", "/api/v1/ldap/servers/" + sid + "/try-script", with(without(try, "username"), "dn", over), 400, "dn"},
		{"PUT", "/api/v1/settings/ldap", map[string]any{"registrantsNotFound": over}, 400, "registrantsNotFound"},
		{"PUT", "/api/v1/settings/ldap", map[string]any{"syncInterval": over}, 400, "syncInterval"},
		{"PUT", "/api/v1/settings/notifications", with(notif, "emails", []string{over}), 400, "emails[0]"},
		{"PUT", "/api/v1/settings/notifications", with(notif, "smtp.host", over), 400, "smtp.host"},
		{"PUT", "/api/v1/settings/notifications", with(notif, "smtp.username", over), 400, "smtp.username"},
		{"PUT", "/api/v1/settings/notifications", with(notif, "smtp.password", over), 400, "smtp.password"},
		{"PUT", "/api/v1/settings/notifications", with(notif, "smtp.from", over), 400, "smtp.from"},
		{"PUT", "/api/v1/settings/security", map[string]any{"failureWindow": over}, 400, "failureWindow"},
		{"PUT", "/api/v1/settings/security", map[string]any{"tokenLifetime": over}, 400, "tokenLifetime"},
		{"PUT", "/api/v1/users/" + uid + "/roles", map[string]any{"roles": []string{over}}, 400, "roles"},
		{"POST", "/api/v1/users/" + uid + "/password", map[string]any{"password": over}, 400, "password"},
		{"GET", "/api/v1/audit?page=" + over, nil, 400, "page"},
		{"GET", "/api/v1/audit?actor=" + over, nil, 400, "actor"},
		{"GET", "/api/v1/audit?action=" + over, nil, 400, "action"},
		{"PUT", "/api/v1/settings/ldap", map[string]any{"syncTimeout": over}, 400, "syncTimeout"},
	}
	for _, field := range []string{"name", "url", "caCertificate", "bindDN", "bindPassword", "searchFilter", "emailAttribute",
		"firstNameAttribute", "lastNameAttribute", "activeScript", "orgNameScript", "roleNameScript", "sensitiveAttributes"} {
		var v any = over
		if field == "sensitiveAttributes" {
			v = []string{over}
		}
		cases = append(cases,
			c{"POST", "/api/v1/ldap/servers", with(ldap, field, v), 400, field},
			c{"PATCH", "/api/v1/ldap/servers/" + sid, map[string]any{field: v}, 400, field},
			c{"POST", "/api/v1/ldap/servers/test", with(ldap, field, v), 400, field},
			c{"POST", "/api/v1/ldap/servers/" + sid + "/test", map[string]any{field: v}, 400, field})
	}
	// Every endpoint that reads a body answers 413 for one over 1 MiB.
	big := `{"name": "` + strings.Repeat("a", 1<<20) + `"}`
	for _, p := range []struct{ method, path string }{
		{"POST", "/api/v1/login"}, {"POST", "/api/v1/auth/token"}, {"POST", "/api/v1/orgs"}, {"PATCH", "/api/v1/orgs/1"},
		{"POST", "/api/v1/users"}, {"POST", "/api/v1/users/" + uid + "/move"}, {"POST", "/api/v1/users/" + uid + "/devices/dev-1/replace"},
		{"POST", "/api/v1/legal-holds"}, {"POST", "/api/v1/legal-holds/" + hid + "/custodians"}, {"PUT", "/api/v1/settings/role-mapping"},
		{"POST", "/api/v1/ldap/servers"}, {"PATCH", "/api/v1/ldap/servers/" + sid}, {"POST", "/api/v1/ldap/servers/test"},
		{"POST", "/api/v1/ldap/servers/" + sid + "/test"}, {"POST", "/api/v1/ldap/servers/" + sid + "/try-script"},
		{"PUT", "/api/v1/settings/ldap"}, {"POST", "/api/v1/dirsync/runs"}, {"PUT", "/api/v1/settings/notifications"},
	} {
		cases = append(cases, c{p.method, p.path, big, 413, "body"})
	}
	for _, k := range cases {
		code, raw := e.api(k.method, k.path, k.body, nil)
		var got struct{ Error, Field string }
		_ = json.Unmarshal([]byte(raw), &got)
		name := k.method + " " + short(k.path) + " " + short(fmt.Sprint(k.body))
		if code != k.status || got.Field != k.field || got.Error == "" {
			t.Errorf("%s: %d %s, want %d with field %q", name, code, short(raw), k.status, k.field)
		}
	}
}

// Every field of every console form refuses an over-long value with a 400
// page that shows the service's message next to the field (or at the top of
// the form), a form over 1 MiB is a 413, and none of it is a 500. Forms that
// act and redirect (Post/Redirect/Get) say the problem in the next page's
// message instead.
func TestConsoleRefusesOverLongInput(t *testing.T) {
	e := startInput(t)
	sid, uid, hid := itoa64(e.serverID), itoa64(e.userID), itoa64(e.holdID)
	e.follow("/orgs") // a CSRF token
	server := url.Values{"name": {"Corp"}, "url": {"ldap://127.0.0.1:1/dc=example,dc=com"}, "bindDN": {"cn=svc,dc=example,dc=com"},
		"bindPassword": {"svc-password"}, "bindPasswordEdit": {"1"}, "searchFilter": {"(uid=%u)"}, "timeoutSeconds": {"1"}, "pageSize": {"500"},
		"activeScript": {"function(entry) { return true; }"}, "emailAttribute": {"mail"}, "firstNameAttribute": {"givenName"}, "lastNameAttribute": {"sn"}}
	org := url.Values{"name": {"Org B"}, "parentId": {"1"}, "authMethod": {""}, "archiveHoldDays": {""}}
	user := url.Values{"username": {"erin"}, "password": {"erin-password"}, "orgId": {"1"}}
	ldapSettings := url.Values{"registrantsNotFound": {"deny"}, "syncInterval": {"12h"}, "valvePercent": {"10"}, "valveMinUsers": {"10"}}
	notif := url.Values{"emails": {"ops@example.com"}, "smtp.host": {"mail.example.com"}, "smtp.port": {"25"}, "smtp.from": {"authority@example.com"}}
	set := func(v url.Values, k, x string) url.Values {
		out := url.Values{}
		for key, vals := range v {
			out[key] = append([]string(nil), vals...)
		}
		out.Set(k, x)
		return out
	}
	type c struct {
		path   string
		form   url.Values
		status int
		want   string // in the page
	}
	tooLong := "s too long: 100000 characters"
	cases := []c{
		{"/login", url.Values{"username": {over}, "password": {"pw"}}, 401, "Wrong username or password."},
		{"/login", url.Values{"username": {"admin"}, "password": {over}}, 401, "Wrong username or password."},
		{"/orgs", set(org, "name", over), 400, tooLong},
		{"/orgs", set(org, "authMethod", over), 400, tooLong},
		{"/orgs", set(org, "defaultRoles", over), 400, tooLong},
		{"/orgs", set(org, "archiveHoldDays", over), 400, "archiveHoldDays"},
		{"/orgs", set(org, "parentId", over), 400, "Choose the parent organization."},
		{"/orgs/1", set(org, "name", over), 400, tooLong},
		{"/users", set(user, "username", over), 400, tooLong},
		{"/users", set(user, "password", over), 400, "Must be at most 72 bytes."},
		{"/users", set(user, "email", over), 400, tooLong},
		{"/users", set(user, "firstName", over), 400, tooLong},
		{"/users", set(user, "lastName", over), 400, tooLong},
		{"/users", set(user, "orgId", over), 400, "Choose an organization."},
		{"/legal-holds", url.Values{"name": {over}}, 400, tooLong},
		{"/legal-holds/" + hid + "/custodians", url.Values{"username": {over}}, 400, tooLong},
		{"/settings/role-mapping", url.Values{"roles": {over}}, 400, tooLong},
		{"/settings/ldap", set(ldapSettings, "registrantsNotFound", over), 400, tooLong},
		{"/settings/ldap", set(ldapSettings, "syncInterval", over), 400, tooLong},
		{"/settings/ldap", set(ldapSettings, "valvePercent", over), 400, "Must be a whole number"},
		{"/settings/ldap", set(ldapSettings, "valveMinUsers", over), 400, "Must be a whole number"},
		{"/settings/notifications", set(notif, "emails", over), 400, tooLong},
		{"/settings/notifications", set(notif, "smtp.host", over), 400, "Must be a host name"},
		{"/settings/notifications", set(notif, "smtp.port", over), 400, "smtp.port"},
		{"/settings/notifications", set(notif, "smtp.username", over), 400, "Must be at most 256 characters"},
		{"/settings/notifications", set(set(notif, "passwordEdit", "1"), "smtp.password", over), 400, "Must be at most 1024 bytes"},
		{"/settings/notifications", set(notif, "smtp.from", over), 400, tooLong},
	}
	for _, field := range []string{"name", "url", "caCertificate", "bindDN", "bindPassword", "searchFilter", "emailAttribute",
		"firstNameAttribute", "lastNameAttribute", "activeScript", "orgNameScript", "roleNameScript", "sensitiveAttributes", "timeoutSeconds", "pageSize"} {
		want := "too long"
		if field == "timeoutSeconds" || field == "pageSize" {
			want = "Must be a whole number"
		}
		cases = append(cases, c{"/settings/ldap/servers", set(server, field, over), 400, want},
			c{"/settings/ldap/servers/" + sid, set(server, field, over), 400, want})
	}
	for _, k := range cases {
		code, _, body := e.post(k.path, k.form, false)
		if code != k.status || !strings.Contains(body, k.want) {
			t.Errorf("POST %s %s: %d, want %d with %q\n%s", k.path, short(k.form.Encode()), code, k.status, k.want, short(pageError(body)))
		}
	}

	// The search boxes.
	for _, p := range []string{"/users?search=" + over, "/settings/ldap/servers/" + sid + "?search=" + over} {
		if code, _, body := e.get(p); code != http.StatusBadRequest || !strings.Contains(body, tooLong) {
			t.Errorf("GET %s: %d, want 400 saying it is too long\n%s", short(p), code, short(pageError(body)))
		}
	}
	// The script editor's and the test button's answers (JSON for the page's
	// script): a 400 for the field that picks the script, the check's message
	// for the script itself.
	for _, k := range []struct {
		path   string
		form   url.Values
		status int
		want   string
	}{
		{"/settings/ldap/compile", url.Values{"field": {over}, "source": {"function(e) { return true; }"}}, 400, "field"},
		{"/settings/ldap/compile", url.Values{"field": {"activeScript"}, "source": {over}}, 200, "too long"},
		{"/settings/ldap/servers/" + sid + "/try", url.Values{"field": {over}, "source": {"x"}, "username": {"carl"}}, 400, "field"},
		{"/settings/ldap/servers/" + sid + "/try", url.Values{"field": {"activeScript"}, "source": {over}, "username": {"carl"}}, 200, "too long"},
		{"/settings/ldap/servers/" + sid + "/try", url.Values{"field": {"activeScript"}, "source": {"function(e) { return true; }"}, "username": {over}}, 200, "too long"},
		{"/settings/ldap/servers/test", set(set(server, "draft", "1"), "bindDN", over), 200, "(bindDN)"},
		{"/settings/ldap/servers/" + sid + "/test", set(set(server, "draft", "1"), "searchFilter", over), 200, "(searchFilter)"},
	} {
		code, out := e.postJSON(k.path, k.form)
		if code != k.status || !strings.Contains(fmt.Sprint(out), k.want) {
			t.Errorf("POST %s %s: %d %v, want %d with %q", k.path, short(k.form.Encode()), code, short(fmt.Sprint(out)), k.status, k.want)
		}
	}
	// Forms that act and redirect: the next page says what was wrong.
	for _, k := range []struct {
		path string
		form url.Values
		loc  string
	}{
		{"/users/" + uid + "/move", url.Values{"orgId": {over}}, "/users/" + uid},
		{"/sync/runs", url.Values{"back": {over}, "simulate": {"1"}}, "/settings/ldap"},
	} {
		if code, loc, body := e.post(k.path, k.form, false); code != http.StatusSeeOther || loc != k.loc {
			t.Errorf("POST %s: %d %q, want a redirect to %s\n%s", k.path, code, loc, k.loc, short(body))
		}
	}
	// A form over 1 MiB.
	for _, p := range []string{"/orgs", "/users", "/legal-holds", "/settings/ldap/servers", "/settings/ldap/servers/" + sid, "/settings/notifications", "/login"} {
		if code, _, body := e.post(p, url.Values{"name": {strings.Repeat("a", 1<<20)}}, false); code != http.StatusRequestEntityTooLarge {
			t.Errorf("POST %s over 1 MiB: %d, want 413\n%s", p, code, short(body))
		}
	}
}

// short cuts s for a test message.
func short(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

var fieldErrors = regexp.MustCompile(`<span class="field-error"[^>]*>[^<]*</span>|<p class="error"[^>]*>[^<]*</p>`)

// pageError returns the error messages of a console page (or the page).
func pageError(body string) string {
	if m := fieldErrors.FindAllString(body, -1); m != nil {
		return strings.Join(m, " ")
	}
	return body
}

// pathSeeds are hostile paths and queries; FuzzPaths starts from them and
// TestPathsNeverFail runs them in every test run.
var pathSeeds = []string{
	"/static/%c0%ae", "/static/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd", "/static/..%2f..%2fetc%2fpasswd", "/static/%00", "/static/a%ffb",
	"/static/./console.css", "/static/" + strings.Repeat("a", 5000), "/%c0%ae%c0%ae/", "//", "/./", "/%2e%2e/%2e%2e/",
	"/api/v1/users/%c0", "/api/v1/orgs/99999999999999999999", "/api/v1/orgs/-1", "/api/v1/orgs/1%00", "/api/v1/users?orgId=%ff",
	"/api/v1/users?search=%ff%fe", "/api/v1/users?username=%00", "/api/v1/users?limit=-1&offset=%ff", "/api/v1/users/1/devices/%c0%ae",
	"/api/v1/ldap/servers/1/preview?search=%ff&page=0&pageSize=999999", "/api/v1/dirsync/runs?limit=abc", "/api/v1/dirsync/runs/1?changesLimit=-1",
	"/api/v1/dirsync/runs/%ff", "/api/v1/../../etc/passwd", "/users/%ff", "/users?search=%ff", "/users?search=%25%5F%5C", "/users?page=-5&orgId=%ff",
	"/orgs/1%00", "/orgs/new?parent=%ff", "/settings/ldap/servers/1?page=99999999999999999999&search=%ff", "/sync/runs?page=-5", "/sync/runs/%c0",
	"/login?next=%c0", "/login?next=/%09/evil.example", "/legal-holds/%ff", "/users/1/devices/%c0%ae/replace",
}

// serveRaw sends one raw request line (method and target as a client may
// write them) to h as the signed-in administrator, the way the HTTP server
// would parse it. It reports false for a request the server itself refuses
// before any handler runs.
func serveRaw(h http.Handler, token, method, target string) (int, bool) {
	raw := method + " " + target + " HTTP/1.1\r\nHost: authority.test\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n"
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		return 0, false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.AddCookie(&http.Cookie{Name: "authority_session", Value: token})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, true
}

// fuzzServer opens a server with an LDAP server (unreachable), a user with
// a device and a matter, and returns its handler and an administrator's token.
func fuzzServer(tb testing.TB) (http.Handler, string) {
	tb.Helper()
	ctx := context.Background()
	app, err := authority.Open(ctx, authority.Config{DataDir: tb.TempDir(), AdminPassword: consoleAdminPassword, Stdout: io.Discard})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { app.Close() })
	_, tok, err := app.SignIn.AdminSignIn(ctx, "admin", consoleAdminPassword, "192.0.2.1")
	if err != nil {
		tb.Fatal(err)
	}
	body := ldapBody()
	str := func(k string) *string { v := body[k].(string); return &v }
	timeout := 1
	if _, err := app.LDAP.Create(ctx, ldapauth.ServerInput{Name: str("name"), URL: str("url"), BindDN: str("bindDN"),
		BindPassword: str("bindPassword"), SearchFilter: str("searchFilter"), TimeoutSeconds: &timeout}); err != nil {
		tb.Fatal(err)
	}
	u, err := app.Users.Create(ctx, users.NewUser{Username: "carl", Password: "carl-password", OrgID: 1})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := app.Users.RegisterDevice(ctx, u.ID, "dev-1", ""); err != nil {
		tb.Fatal(err)
	}
	if _, err := app.Holds.Create(ctx, "Matter"); err != nil {
		tb.Fatal(err)
	}
	return app.Handler(), tok
}

// No path or query answers 500, whatever its encoding: a name that cannot
// be is 400 or 404.
func TestPathsNeverFail(t *testing.T) {
	h, tok := fuzzServer(t)
	for _, p := range pathSeeds {
		for _, m := range []string{"GET", "POST"} {
			if code, ok := serveRaw(h, tok, m, p); ok && code >= 500 {
				t.Errorf("%s %s: %d", m, short(p), code)
			}
		}
	}
	if code, _ := serveRaw(h, tok, "GET", "/static/%c0%ae"); code != http.StatusNotFound {
		t.Errorf("GET /static/%%c0%%ae: %d, want 404", code)
	}
}

// FuzzPaths looks for a path or query that answers 500 (go test -fuzz
// FuzzPaths ./web; without -fuzz only the seeds run).
func FuzzPaths(f *testing.F) {
	for _, p := range pathSeeds {
		f.Add("GET", p)
	}
	f.Add("POST", "/users/1/move")
	h, tok := fuzzServer(f)
	f.Fuzz(func(t *testing.T, method, target string) {
		if method != "GET" && method != "POST" {
			method = "GET"
		}
		if code, ok := serveRaw(h, tok, method, target); ok && code >= 500 {
			t.Errorf("%s %q: %d", method, target, code)
		}
	})
}
