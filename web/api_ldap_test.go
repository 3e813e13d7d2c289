package web_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/testenv"
)

type ldapServerJSON struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	URL             string `json:"url"`
	BindDN          string `json:"bindDN"`
	HasBindPassword bool   `json:"hasBindPassword"`
	SearchFilter    string `json:"searchFilter"`
	TimeoutSeconds  int    `json:"timeoutSeconds"`
	PageSize        int    `json:"pageSize"`
	ActiveScript    string `json:"activeScript"`
}

type ldapErrJSON struct {
	Error  string `json:"error"`
	Field  string `json:"field"`
	Line   int    `json:"line"`
	Column int    `json:"column"`
}

const ldapTestPassword = "Svc-Only-In-Request-7731"

// ldapEnv starts a server and a glauth directory whose service password is
// replaced by a distinctive one, so any leak is easy to spot.
func ldapEnv(t *testing.T) (*authoritytest.Env, *testenv.Glauth, map[string]any) {
	t.Helper()
	e := authoritytest.Start(t)
	users, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, users, groups...)
	body := map[string]any{
		"name": "Demo glauth", "url": g.URL, "bindDN": g.BindDN, "bindPassword": g.BindPassword,
		"searchFilter": "(&(objectClass=posixAccount)(uid=%u))", "timeoutSeconds": 5,
	}
	return e, g, body
}

// noSecret fails when raw contains the bind password.
func noSecret(t *testing.T, what string, raw []byte, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Fatalf("%s contains the bind password: %s", what, raw)
		}
	}
	if strings.Contains(string(raw), `"bindPassword"`) {
		t.Fatalf("%s has a bindPassword field: %s", what, raw)
	}
}

func TestLDAPServersAPINeverReturnsThePassword(t *testing.T) {
	e, g, body := ldapEnv(t)
	secrets := []string{g.BindPassword, ldapTestPassword}

	code, raw := e.Raw(e.Token, "POST", "/api/v1/ldap/servers", body)
	if code != 201 {
		t.Fatalf("create: %d %s", code, raw)
	}
	noSecret(t, "POST answer", raw, secrets...)
	var srv ldapServerJSON
	e.Do("GET", "/api/v1/ldap/servers/1", nil, &srv)
	if srv.ID != 1 || !srv.HasBindPassword || srv.TimeoutSeconds != 5 || srv.PageSize != 500 || srv.ActiveScript == "" {
		t.Fatalf("server = %+v", srv)
	}
	id := strconv.FormatInt(srv.ID, 10)
	for _, path := range []string{"/api/v1/ldap/servers", "/api/v1/ldap/servers/" + id} {
		code, raw := e.Raw(e.Token, "GET", path, nil)
		if code != 200 {
			t.Fatalf("GET %s: %d", path, code)
		}
		noSecret(t, "GET "+path, raw, secrets...)
	}

	// PATCH without bindPassword keeps the password: the test still binds.
	code, raw = e.Raw(e.Token, "PATCH", "/api/v1/ldap/servers/"+id, map[string]any{"name": "Renamed"})
	if code != 200 {
		t.Fatalf("patch: %d %s", code, raw)
	}
	noSecret(t, "PATCH answer", raw, secrets...)
	var tr struct {
		Reachable, Bindable bool
		Matches             int
		Error               string
	}
	code, raw = e.Raw(e.Token, "POST", "/api/v1/ldap/servers/"+id+"/test", nil)
	if code != 200 {
		t.Fatalf("test: %d %s", code, raw)
	}
	noSecret(t, "test answer", raw, secrets...)
	e.Do("POST", "/api/v1/ldap/servers/"+id+"/test", nil, &tr)
	if !tr.Reachable || !tr.Bindable || tr.Matches != 7 || tr.Error != "" {
		t.Fatalf("test = %+v", tr)
	}

	// The explicit "edit password" action: a wrong one, then the test says
	// reachable but not bindable, and never echoes the password.
	code, raw = e.Raw(e.Token, "PATCH", "/api/v1/ldap/servers/"+id, map[string]any{"bindPassword": ldapTestPassword})
	if code != 200 {
		t.Fatalf("patch password: %d %s", code, raw)
	}
	noSecret(t, "PATCH password answer", raw, secrets...)
	code, raw = e.Raw(e.Token, "POST", "/api/v1/ldap/servers/"+id+"/test", nil)
	noSecret(t, "test answer with a wrong password", raw, secrets...)
	e.Do("POST", "/api/v1/ldap/servers/"+id+"/test", nil, &tr)
	if code != 200 || !tr.Reachable || tr.Bindable || tr.Error == "" {
		t.Fatalf("test with a wrong password = %d %+v", code, tr)
	}
	// Unsaved settings can be tested too: the right password in the body.
	e.Do("POST", "/api/v1/ldap/servers/"+id+"/test", map[string]any{"bindPassword": g.BindPassword}, &tr)
	if !tr.Bindable || tr.Matches != 7 {
		t.Fatalf("test of a draft = %+v", tr)
	}
	code, raw = e.Raw(e.Token, "POST", "/api/v1/ldap/servers/test", body)
	noSecret(t, "test of a new server", raw, secrets...)
	if code != 200 || !strings.Contains(string(raw), `"bindable":true`) {
		t.Fatalf("test of a new server: %d %s", code, raw)
	}
	// Preview and an error answer with the wrong stored password.
	code, raw = e.Raw(e.Token, "GET", "/api/v1/ldap/servers/"+id+"/preview", nil)
	if code != 503 {
		t.Fatalf("preview with a wrong service password: %d %s", code, raw)
	}
	noSecret(t, "preview error", raw, secrets...)
	e.Do("PATCH", "/api/v1/ldap/servers/"+id, map[string]any{"bindPassword": g.BindPassword}, nil)

	logText, err := os.ReadFile(filepath.Join(e.Dir, "logs", "authority.log"))
	if err != nil {
		t.Fatalf("read the log: %v", err)
	}
	for _, s := range secrets {
		if strings.Contains(string(logText), s) {
			t.Fatalf("the server log contains a bind password:\n%s", logText)
		}
	}
}

func TestLDAPServerValidation(t *testing.T) {
	e, _, body := ldapEnv(t)
	with := func(k string, v any) map[string]any {
		b := map[string]any{}
		for kk, vv := range body {
			b[kk] = vv
		}
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{with("name", ""), "name"},
		{with("url", "http://example.com/dc=x"), "url"},
		{with("url", "ldap:///dc=example,dc=com"), "url"},
		{with("url", "ldap://example.com"), "url"},
		{with("url", "ldap://example.com:99999/dc=x"), "url"},
		{with("url", "ldap://example.com/not%20a%20dn"), "url"},
		{with("url", "ldaps://example.com/dc=x?cn?sub"), "url"},
		{with("startTLS", true), ""}, // ldap:// + startTLS is fine
		{with("url", "ldaps://example.com/dc=x"), ""},
		{with("caCertificate", "not a certificate"), "caCertificate"},
		{with("bindDN", "not a dn"), "bindDN"},
		{with("bindDN", nil), "bindDN"},
		{with("bindPassword", nil), "bindPassword"},
		{with("searchFilter", "(uid=alice)"), "searchFilter"},
		{with("searchFilter", "(uid=%u"), "searchFilter"},
		{with("searchFilter", "(|(uid=%u)(mail=%u))"), "searchFilter"},
		{with("searchFilter", "(uid=%u*)"), "searchFilter"},
		{with("searchFilter", "(uid>=%u)"), "searchFilter"},
		{with("emailAttribute", "e mail"), "emailAttribute"},
		{with("timeoutSeconds", 0), "timeoutSeconds"},
		{with("timeoutSeconds", 301), "timeoutSeconds"},
		{with("pageSize", 0), "pageSize"},
		{with("pageSize", 10001), "pageSize"},
		{with("activeScript", ""), "activeScript"},
		{with("sensitiveAttributes", []string{"ok", "not ok"}), "sensitiveAttributes"},
		{with("stableIdAttribute", "uid"), "stableIdAttribute"},
		{with("stableIdAttribute", "entryuuid"), ""},
		{with("nestedGroups", true), ""},
	} {
		var er ldapErrJSON
		code := e.Do("POST", "/api/v1/ldap/servers", tc.body, &er)
		if tc.field == "" {
			if code != 201 {
				t.Errorf("%v: %d %+v, want 201", tc.body, code, er)
			}
			continue
		}
		if code != 400 || er.Field != tc.field || !strings.HasPrefix(er.Error, tc.field+":") {
			t.Errorf("%s: %d %+v, want 400 naming %s", tc.field, code, er, tc.field)
		}
	}
	// startTLS with ldaps://
	var er ldapErrJSON
	b := with("url", "ldaps://example.com/dc=x")
	b["startTLS"] = true
	if code := e.Do("POST", "/api/v1/ldap/servers", b, &er); code != 400 || er.Field != "startTLS" {
		t.Errorf("startTLS with ldaps: %d %+v", code, er)
	}
	// A script that does not compile: field, line and column.
	code := e.Do("POST", "/api/v1/ldap/servers", with("roleNameScript", "function(entry) {\n  return [;\n}"), &er)
	if code != 400 || er.Field != "roleNameScript" || er.Line != 2 || er.Column == 0 {
		t.Errorf("bad script: %d %+v", code, er)
	}
	// The same on PATCH.
	var srv ldapServerJSON
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &srv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	code = e.Do("PATCH", "/api/v1/ldap/servers/"+itoa(srv.ID), map[string]any{"activeScript": "function(entry) { return }}"}, &er)
	if code != 400 || er.Field != "activeScript" || er.Line != 1 {
		t.Errorf("bad script on PATCH: %d %+v", code, er)
	}
	if code := e.Do("PATCH", "/api/v1/ldap/servers/"+itoa(srv.ID), map[string]any{"pageSize": "big"}, &er); code != 400 || er.Field != "pageSize" {
		t.Errorf("pageSize as a string: %d %+v", code, er)
	}
	if code := e.Do("GET", "/api/v1/ldap/servers/999", nil, &er); code != 404 {
		t.Errorf("missing server: %d", code)
	}
}

func TestLDAPServerDeleteInUse(t *testing.T) {
	e, _, body := ldapEnv(t)
	var srv ldapServerJSON
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &srv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var o org
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Engineering", "authMethod": "ldap", "ldapServerIds": []int64{srv.ID}}, &o); code != 201 {
		t.Fatalf("create org: %d", code)
	}
	var er ldapErrJSON
	if code := e.Do("DELETE", "/api/v1/ldap/servers/"+itoa(srv.ID), nil, &er); code != 409 || !strings.Contains(er.Error, `"Engineering"`) {
		t.Fatalf("delete a server in use: %d %+v", code, er)
	}
	if code := e.Do("PATCH", "/api/v1/orgs/"+itoa(o.ID), map[string]any{"authMethod": "local", "ldapServerIds": []int64{}}, nil); code != 200 {
		t.Fatalf("patch org: %d", code)
	}
	if code := e.Do("DELETE", "/api/v1/ldap/servers/"+itoa(srv.ID), nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := e.Do("GET", "/api/v1/ldap/servers/"+itoa(srv.ID), nil, nil); code != 404 {
		t.Fatalf("deleted server: %d", code)
	}
}

func TestLDAPTestServerDown(t *testing.T) {
	e, _, body := ldapEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	body["url"] = "ldap://" + addr + "/dc=example,dc=com"
	var srv ldapServerJSON
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &srv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var tr struct {
		Reachable, Bindable bool
		Matches             int
		Error               string
	}
	if code := e.Do("POST", "/api/v1/ldap/servers/"+itoa(srv.ID)+"/test", nil, &tr); code != 200 || tr.Reachable || tr.Bindable || tr.Error == "" {
		t.Fatalf("test of a server that is down: %d %+v", code, tr)
	}
	var er ldapErrJSON
	if code := e.Do("GET", "/api/v1/ldap/servers/"+itoa(srv.ID)+"/preview", nil, &er); code != 503 {
		t.Fatalf("preview of a server that is down: %d %+v", code, er)
	}
}

type previewJSON struct {
	Total   int `json:"total"`
	Entries []struct {
		DN        string   `json:"dn"`
		Username  string   `json:"username"`
		Email     string   `json:"email"`
		FirstName string   `json:"firstName"`
		LastName  string   `json:"lastName"`
		Active    *bool    `json:"active"`
		OrgName   string   `json:"orgName"`
		Roles     []string `json:"roles"`
		Errors    []string `json:"errors"`
	} `json:"entries"`
}

func TestLDAPPreviewAndTryScript(t *testing.T) {
	e, g, body := ldapEnv(t)
	body["searchFilter"] = "(&(objectClass=posixAccount)(mail=%u))"
	body["activeScript"] = "function(entry) { return !(entry.userAccountControl & 2); }"
	body["roleNameScript"] = "function(entry) { return entry.memberOf.length > 1 ? ['Org Admin'] : []; }"
	var srv ldapServerJSON
	if code := e.Do("POST", "/api/v1/ldap/servers", body, &srv); code != 201 {
		t.Fatalf("create: %d", code)
	}
	base := "/api/v1/ldap/servers/" + itoa(srv.ID)
	var p previewJSON
	if code := e.Do("GET", base+"/preview?pageSize=200", nil, &p); code != 200 {
		t.Fatalf("preview: %d", code)
	}
	if p.Total != 8 || len(p.Entries) != 8 { // bob has two mails
		t.Fatalf("preview: total %d, %d rows", p.Total, len(p.Entries))
	}
	if code := e.Do("GET", base+"/preview?search=BOB&page=1&pageSize=1", nil, &p); code != 200 || p.Total != 2 || len(p.Entries) != 1 {
		t.Fatalf("search bob: %d %+v", code, p)
	}
	if code := e.Do("GET", base+"/preview?search=bob&page=2&pageSize=1", nil, &p); code != 200 || p.Total != 2 || len(p.Entries) != 1 ||
		p.Entries[0].Username != "bob.brown@example.org" || p.Entries[0].Email != "bob.brown@example.org" || p.Entries[0].DN != g.UserDN("bob") {
		t.Fatalf("search bob page 2: %d %+v", code, p)
	}
	e.Do("GET", base+"/preview?search=dave", nil, &p)
	if len(p.Entries) != 1 || p.Entries[0].Active == nil || *p.Entries[0].Active {
		t.Fatalf("dave: %+v", p)
	}
	var er ldapErrJSON
	for _, q := range []string{"pageSize=201", "pageSize=0", "page=0", "page=x"} {
		if code := e.Do("GET", base+"/preview?"+q, nil, &er); code != 400 {
			t.Errorf("preview?%s: %d", q, code)
		}
	}

	var tr struct {
		DN     string `json:"dn"`
		Result any    `json:"result"`
		Error  string `json:"error"`
	}
	code := e.Do("POST", base+"/try-script", map[string]any{"kind": "active", "username": "dave@example.com",
		"script": "function(entry) { return !(entry.userAccountControl & 2); }"}, &tr)
	if code != 200 || tr.Result != false || tr.DN != g.UserDN("dave") {
		t.Fatalf("try active on dave: %d %+v", code, tr)
	}
	code = e.Do("POST", base+"/try-script", map[string]any{"kind": "orgName", "dn": g.UserDN("alice"),
		"script": "function(entry) { return entry.title; }"}, &tr)
	if code != 200 || tr.Result != "IT Director" {
		t.Fatalf("try org name on alice: %d %+v", code, tr)
	}
	code = e.Do("POST", base+"/try-script", map[string]any{"kind": "roleName", "dn": g.UserDN("alice"),
		"script": "function(entry) { return entry.nothing.length; }"}, &tr)
	if code != 200 || tr.Error == "" {
		t.Fatalf("try a failing script: %d %+v", code, tr)
	}
	code = e.Do("POST", base+"/try-script", map[string]any{"kind": "roleName", "dn": g.UserDN("alice"),
		"script": "function(entry) {\n return [\n}"}, &er)
	if code != 400 || er.Field != "script" || er.Line == 0 {
		t.Fatalf("try a script that does not compile: %d %+v", code, er)
	}
	if code := e.Do("POST", base+"/try-script", map[string]any{"kind": "active", "username": "nobody@example.com", "script": "function(e) { return true; }"}, &er); code != 404 {
		t.Fatalf("try on nobody: %d %+v", code, er)
	}
	if code := e.Do("POST", base+"/try-script", map[string]any{"kind": "bogus", "username": "bob@example.com", "script": "function(e) { return true; }"}, &er); code != 400 || er.Field != "kind" {
		t.Fatalf("try with a bad kind: %d %+v", code, er)
	}
}

func TestLDAPSettingsAPI(t *testing.T) {
	e := authoritytest.Start(t)
	type settings struct {
		RegistrantsNotFound string `json:"registrantsNotFound"`
		SyncInterval        string `json:"syncInterval"`
		ValvePercent        int    `json:"valvePercent"`
		ValveMinUsers       int    `json:"valveMinUsers"`
	}
	var st settings
	if code := e.Do("GET", "/api/v1/settings/ldap", nil, &st); code != 200 || st != (settings{"deny", "12h", 10, 10}) {
		t.Fatalf("defaults: %d %+v", code, st)
	}
	var local, ldapOrg org
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Contractors", "authMethod": "local"}, &local)
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff", "authMethod": "ldap"}, &ldapOrg)
	var er ldapErrJSON
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"syncInterval": "30s"}, "syncInterval"},
		{map[string]any{"syncInterval": "often"}, "syncInterval"},
		{map[string]any{"registrantsNotFound": "allow"}, "registrantsNotFound"},
		{map[string]any{"registrantsNotFound": "org:999"}, "registrantsNotFound"},
		{map[string]any{"registrantsNotFound": "org:" + itoa(ldapOrg.ID)}, "registrantsNotFound"},
		{map[string]any{"valvePercent": 101}, "valvePercent"},
		{map[string]any{"valveMinUsers": -1}, "valveMinUsers"},
		{map[string]any{"other": 1}, "other"},
	} {
		if code := e.Do("PUT", "/api/v1/settings/ldap", tc.body, &er); code != 400 || er.Field != tc.field {
			t.Errorf("%v: %d %+v, want 400 naming %s", tc.body, code, er, tc.field)
		}
	}
	want := settings{"org:" + itoa(local.ID), "never", 25, 3}
	if code := e.Do("PUT", "/api/v1/settings/ldap", want, &st); code != 200 || st != want {
		t.Fatalf("put: %d %+v", code, st)
	}
	// Fields left out keep their values.
	if code := e.Do("PUT", "/api/v1/settings/ldap", map[string]any{"syncInterval": "6h"}, &st); code != 200 || st.SyncInterval != "6h" || st.ValvePercent != 25 {
		t.Fatalf("partial put: %d %+v", code, st)
	}
	e.Do("GET", "/api/v1/settings/ldap", nil, &st)
	if st.SyncInterval != "6h" || st.RegistrantsNotFound != want.RegistrantsNotFound {
		t.Fatalf("stored: %+v", st)
	}
}
