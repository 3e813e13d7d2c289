package signin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

const (
	adFilter = "(&(objectClass=user)(sAMAccountName=%u))"
	// The documented examples adapted to glauth's lower-case DNs and ou= groups.
	dnOrgScript  = "function(entry) {\n   var ou = entry.dn;\n   if (ou != null) {\n       if (ou.indexOf(\"Staff\") >= 0 || ou.indexOf(\"staff\") >= 0) {\n           return 'Staff';\n       } else if (ou.indexOf(\"Students\") >= 0 || ou.indexOf(\"students\") >= 0) {\n           return 'Students';\n       } else {\n           return 'Default';\n       }\n   } else {\n       return 'Default';\n   }\n}"
	memberOfRole = `function (entry) {
    var myRoles = new Array("PROe User", "Desktop User");
    var memberof = entry.memberOf;
    if (memberof == null) {
        return myRoles;
    }
    for (var x = 0; x < memberof.length; ++x) {
        var g = memberof[x].toLowerCase();
        if (g.indexOf("=admins,") > -1) { myRoles.push("Org Admin"); }
        if (g.indexOf("=managers,") > -1) { myRoles.push("Org Manager"); }
        if (g.indexOf("=support,") > -1) { myRoles.push("Org Help Desk"); }
        if (g.indexOf("=security,") > -1) { myRoles.push("Org Security Viewer"); }
        if (g.indexOf("=sysadmins,") > -1) { myRoles.push("SYSADMIN"); }
    }
    return myRoles;
}`
)

type loginUser struct {
	ID        int64    `json:"id"`
	Username  string   `json:"username"`
	Email     string   `json:"email"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Status    string   `json:"status"`
	OrgID     int64    `json:"orgId"`
	OrgName   string   `json:"orgName"`
	Roles     []string `json:"roles"`
}

type loginResult struct {
	User   loginUser `json:"user"`
	Device *struct {
		GUID string `json:"guid"`
	} `json:"device"`
	Error  string `json:"error"`
	Status string `json:"status"`
}

// ldapOrg makes an LDAP server for dir and an org "Directory" that uses it,
// and returns the org.
func ldapOrg(t *testing.T, e *authoritytest.Env, url, bindDN, bindPW, filter, active, org, role string) orgs.Org {
	t.Helper()
	ctx := context.Background()
	name := "Test directory"
	mail, first, last := "mail", "givenName", "sn"
	in := ldapauth.ServerInput{Name: &name, URL: &url, BindDN: &bindDN, BindPassword: &bindPW,
		SearchFilter: &filter, EmailAttribute: &mail, FirstNameAttribute: &first, LastNameAttribute: &last,
		ActiveScript: optional(active), OrgNameScript: optional(org), RoleNameScript: optional(role)}
	srv, err := e.App.LDAP.Create(ctx, in)
	if err != nil {
		t.Fatalf("create LDAP server: %v", err)
	}
	oname, method, ids := "Directory", orgs.AuthLDAP, []int64{srv.ID}
	o, err := e.App.Orgs.Create(ctx, orgs.Input{Name: &oname, AuthMethod: &method, LDAPServerIDs: &ids})
	if err != nil {
		t.Fatalf("create LDAP org: %v", err)
	}
	return o
}

func login(t *testing.T, e *authoritytest.Env, body map[string]any) (int, loginResult, string) {
	t.Helper()
	code, raw := e.Raw("", "POST", "/api/v1/login", body)
	var res loginResult
	if len(raw) > 0 {
		_ = jsonUnmarshal(raw, &res)
	}
	return code, res, string(raw)
}

func demoGlauth(t *testing.T) *testenv.Glauth {
	people, groups := testenv.DemoDirectory()
	return testenv.StartGlauth(t, people, groups...)
}

func TestRegistrationRunsTheScripts(t *testing.T) {
	e := authoritytest.Start(t)
	g := demoGlauth(t)
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, adFilter, script.ExampleActiveDisabled, dnOrgScript, memberOfRole)
	// Staff exists already (under the LDAP org, so it authenticates with LDAP too);
	// Students does not and is created under the key's org at sign-up.
	staffName := "Staff"
	staff, err := e.App.Orgs.Create(context.Background(), orgs.Input{Name: &staffName, ParentID: &org.ID})
	if err != nil {
		t.Fatal(err)
	}

	code, res, raw := login(t, e, map[string]any{"username": "alice", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey, "deviceGuid": "alice-1", "deviceName": "laptop"})
	if code != 200 {
		t.Fatalf("alice: %d %s", code, raw)
	}
	u := res.User
	if u.OrgID != staff.ID || u.Email != "alice@example.com" || u.FirstName != "Alice" || u.LastName != "Anderson" || res.Device == nil {
		t.Fatalf("alice: %+v", res)
	}
	if strings.Join(u.Roles, ",") != "Desktop User,Org Admin,Org Manager,PROe User" {
		t.Fatalf("alice's roles: %v", u.Roles)
	}

	code, res, raw = login(t, e, map[string]any{"username": "frank", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey})
	if code != 200 || res.User.OrgName != "Students" {
		t.Fatalf("frank: %d %s", code, raw)
	}
	students, err := e.App.Orgs.ByName(context.Background(), "students")
	if err != nil || students.ParentID == nil || *students.ParentID != org.ID || !students.UsesLDAP() {
		t.Fatalf("Students must be created under the registration key's org and inherit LDAP: %+v %v", students, err)
	}

	// A registration whose device belongs to someone else is refused whole:
	// no user is left behind (one transaction for the user and its device).
	code, _, raw = login(t, e, map[string]any{"username": "bob", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey, "deviceGuid": "alice-1"})
	if code != 403 {
		t.Fatalf("bob with alice's device: %d %s", code, raw)
	}
	if _, err := e.App.Users.ByUsername(context.Background(), "bob"); err == nil {
		t.Fatal("a user was left behind by a refused registration")
	}

	// The active script refuses dave (userAccountControl 514): 403, and no user is created.
	code, res, raw = login(t, e, map[string]any{"username": "dave", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey})
	if code != 403 {
		t.Fatalf("dave: %d %s", code, raw)
	}
	if _, err := e.App.Users.ByUsername(context.Background(), "dave"); err == nil {
		t.Fatal("a user was created for an inactive directory entry")
	}

	// Existing users authenticate against the directory: right password in, wrong out.
	if code, _, raw := login(t, e, map[string]any{"username": "ALICE", "password": testenv.DemoPassword}); code != 200 {
		t.Fatalf("alice again: %d %s", code, raw)
	}
	if code, _, _ := login(t, e, map[string]any{"username": "alice", "password": "wrong"}); code != 401 {
		t.Fatalf("alice, wrong password: %d", code)
	}
}

func TestRegistrationRolesLimitedToTheMapping(t *testing.T) {
	e := authoritytest.Start(t)
	people := []testenv.GlauthUser{
		{Name: "root", Password: "pw1", Mail: []string{"root@example.com"}, PrimaryGroup: "sysadmins"},
		{Name: "helper", Password: "pw2", Mail: []string{"helper@example.com"}, PrimaryGroup: "support"},
	}
	g := testenv.StartGlauth(t, people, "sysadmins", "support")
	onlySysadmin := `function(entry) { return ["SYSADMIN", "Not A Role"]; }`
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, adFilter, "", "", onlySysadmin)
	defaults := []string{"Desktop User"}
	if _, err := e.App.Orgs.Update(context.Background(), org.ID, orgs.Input{DefaultRoles: &defaults}); err != nil {
		t.Fatal(err)
	}
	// SYSADMIN is not on the Role Mapping list: nothing is left, so the org's default roles apply.
	code, res, raw := login(t, e, map[string]any{"username": "root", "password": "pw1", "registrationKey": org.RegistrationKey})
	if code != 200 || strings.Join(res.User.Roles, ",") != "Desktop User" {
		t.Fatalf("root: %d %s", code, raw)
	}
}

func TestRegistrantsNotFound(t *testing.T) {
	e := authoritytest.Start(t)
	g := demoGlauth(t)
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, adFilter, "", "", "")
	ctx := context.Background()

	_, _, badPassword := login(t, e, map[string]any{"username": "alice", "password": "wrong", "registrationKey": org.RegistrationKey})
	code, _, notFound := login(t, e, map[string]any{"username": "zoe", "password": "pw", "registrationKey": org.RegistrationKey})
	if code != 401 || notFound != badPassword {
		t.Fatalf("deny: %d %q, want the bad-password answer %q", code, notFound, badPassword)
	}

	local := "Contractors"
	contractors, err := e.App.Orgs.Create(ctx, orgs.Input{Name: &local})
	if err != nil {
		t.Fatal(err)
	}
	st, err := e.App.LDAP.Settings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	st.RegistrantsNotFound = "org:" + itoa(contractors.ID)
	if _, err := e.App.LDAP.SaveSettings(ctx, st); err != nil {
		t.Fatal(err)
	}
	code, res, raw := login(t, e, map[string]any{"username": "zoe", "password": "zoe-pw", "registrationKey": org.RegistrationKey})
	if code != 200 || res.User.OrgID != contractors.ID {
		t.Fatalf("org policy: %d %s", code, raw)
	}
	// zoe now signs in with the local password she gave.
	if code, _, _ := login(t, e, map[string]any{"username": "zoe", "password": "zoe-pw"}); code != 200 {
		t.Fatalf("zoe again: %d", code)
	}
	if code, _, _ := login(t, e, map[string]any{"username": "zoe", "password": "other"}); code != 401 {
		t.Fatalf("zoe, wrong password: %d", code)
	}
	// A directory user with a wrong password is still refused, not sent to the policy org.
	if code, _, _ := login(t, e, map[string]any{"username": "bob", "password": "wrong", "registrationKey": org.RegistrationKey}); code != 401 {
		t.Fatalf("bob, wrong password: %d", code)
	}
	if _, err := e.App.Users.ByUsername(ctx, "bob"); err == nil {
		t.Fatal("a wrong password created a user")
	}
}

// The hostile usernames run against slapd: glauth re-parses filters from a
// string without escaping, so a correctly escaped ")" makes it fail the search.
func TestHostileUsernamesAndPasswords(t *testing.T) {
	e := authoritytest.Start(t)
	people := []testenv.Person{
		{UID: "alice", GivenName: "Alice", SN: "A", Mail: []string{"alice@example.com"}, OU: "Staff", UserAccountControl: testenv.UACNormal, Password: testenv.DemoPassword},
		{UID: "admin", GivenName: "Ad", SN: "Min", Mail: []string{"admin@example.com"}, OU: "Staff", UserAccountControl: testenv.UACNormal, Password: testenv.DemoPassword},
	}
	d := testenv.StartSlapd(t, people)
	org := ldapOrg(t, e, d.URL, d.BindDN, d.BindPassword, adFilter, "", "", "")
	_, _, want := login(t, e, map[string]any{"username": "alice", "password": "wrong", "registrationKey": org.RegistrationKey})
	for _, name := range []string{"*", "a*", "a*)(uid=*", "admin)(|(a=*", `\`, "alice\x00", "alice)", "(alice", "al*ce", " ", "ålice", strings.Repeat("a", 300)} {
		code, _, raw := login(t, e, map[string]any{"username": name, "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey})
		if code != 401 || raw != want {
			t.Errorf("username %q: %d %s", name, code, raw)
		}
	}
	users, err := e.App.Users.List(context.Background(), usersFilterAll())
	if err != nil {
		t.Fatal(err)
	}
	if len(users) != 1 { // the administrator
		t.Fatalf("hostile usernames created users: %+v", users)
	}
	// Empty password: refused at once.
	if code, _, raw := login(t, e, map[string]any{"username": "alice", "password": "", "registrationKey": org.RegistrationKey}); code != 401 || raw != want {
		t.Fatalf("empty password: %d %s", code, raw)
	}
	// A whitespace-only password is a password like any other: wrong here.
	if code, _, raw := login(t, e, map[string]any{"username": "alice", "password": "   ", "registrationKey": org.RegistrationKey}); code != 401 || raw != want {
		t.Fatalf("blank password: %d %s", code, raw)
	}
}

func TestEmptyPasswordNeverReachesTheDirectory(t *testing.T) {
	e := authoritytest.Start(t)
	g := demoGlauth(t)
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, adFilter, "", "", "")
	if code, _, raw := login(t, e, map[string]any{"username": "erin", "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey}); code != 200 {
		t.Fatalf("erin: %d %s", code, raw)
	}
	g.Stop()
	// The directory is down: a real password gets 503, but an empty one is refused before any LDAP traffic.
	if code, _, raw := login(t, e, map[string]any{"username": "erin", "password": "x"}); code != 503 {
		t.Fatalf("directory down: %d %s", code, raw)
	}
	if code, _, raw := login(t, e, map[string]any{"username": "erin", "password": ""}); code != 401 {
		t.Fatalf("empty password with the directory down: %d %s", code, raw)
	}
	if code, _, raw := login(t, e, map[string]any{"username": "grace", "password": "x", "registrationKey": org.RegistrationKey}); code != 503 {
		t.Fatalf("registration with the directory down: %d %s", code, raw)
	}
}

func TestSeveralMailValuesAreSeveralUsers(t *testing.T) {
	e := authoritytest.Start(t)
	people := []testenv.GlauthUser{
		{Name: "bob", Password: "pw", GivenName: "Bob", SN: "Brown", Mail: []string{"bob@example.com", "bob.brown@example.org"}},
		{Name: "twin1", Password: "pw", Mail: []string{"twin@example.com"}},
		{Name: "twin2", Password: "pw", Mail: []string{"twin@example.com"}},
	}
	g := testenv.StartGlauth(t, people)
	org := ldapOrg(t, e, g.URL, g.BindDN, g.BindPassword, "(mail=%u)", "", "", "")
	var ids []int64
	for _, mail := range []string{"bob@example.com", "bob.brown@example.org"} {
		code, res, raw := login(t, e, map[string]any{"username": mail, "password": "pw", "registrationKey": org.RegistrationKey})
		if code != 200 || res.User.Username != mail || res.User.Email != mail {
			t.Fatalf("%s: %d %s", mail, code, raw)
		}
		ids = append(ids, res.User.ID)
	}
	if ids[0] == ids[1] {
		t.Fatal("two mail values must be two users")
	}
	// Found twice: refused like a bad password.
	if code, _, raw := login(t, e, map[string]any{"username": "twin@example.com", "password": "pw", "registrationKey": org.RegistrationKey}); code != 401 {
		t.Fatalf("entry found twice: %d %s", code, raw)
	}
}

func TestDisabledADAccountOnSlapd(t *testing.T) {
	e := authoritytest.Start(t)
	people := []testenv.Person{
		{UID: "jsmith", GivenName: "Jane", SN: "Smith", Mail: []string{"jsmith@example.com"}, OU: "Staff", MemberOf: []string{"Managers"}, UserAccountControl: testenv.UACNormal, Password: "Secret-1"},
		{UID: "gone", GivenName: "Gone", SN: "Away", Mail: []string{"gone@example.com"}, OU: "Students", UserAccountControl: testenv.UACDisabled, Password: "Secret-2"},
	}
	d := testenv.StartSlapd(t, people)
	org := ldapOrg(t, e, d.URL, d.BindDN, d.BindPassword, adFilter, script.ExampleActiveDisabled, script.ExampleOrgNameByOU, script.ExampleRolesByGroup)
	staffName := "Staff"
	if _, err := e.App.Orgs.Create(context.Background(), orgs.Input{Name: &staffName, ParentID: &org.ID}); err != nil {
		t.Fatal(err)
	}
	code, res, raw := login(t, e, map[string]any{"username": "jsmith", "password": "Secret-1", "registrationKey": org.RegistrationKey, "deviceGuid": "js-1"})
	if code != 200 || res.User.OrgName != "Staff" || !contains(res.User.Roles, "Org Manager") {
		t.Fatalf("jsmith: %d %s", code, raw)
	}
	if code, _, raw := login(t, e, map[string]any{"username": "gone", "password": "Secret-2", "registrationKey": org.RegistrationKey}); code != 403 {
		t.Fatalf("disabled account: %d %s", code, raw)
	}
	if code, _, _ := login(t, e, map[string]any{"username": "jsmith", "password": "Secret-2"}); code != 401 {
		t.Fatalf("jsmith with gone's password: %d", code)
	}
	// Someone else's device is refused.
	login(t, e, map[string]any{"username": "zed", "password": "x"})
	if code, _, _ := login(t, e, map[string]any{"username": "jsmith", "password": "Secret-1", "deviceGuid": "js-1"}); code != 200 {
		t.Fatalf("own device again: %d", code)
	}
}
