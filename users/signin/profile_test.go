package signin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
)

// Registration fills the profile from the server's mapping (slapd): title,
// department, division, employee type, l, st, c, and the manager's DN
// resolved to the user holding it (in another case). A manager DN nobody
// holds, or one carrying filter syntax, leaves no manager; an over-long
// value and a control character are left out; the user is created.
func TestRegistrationFillsTheProfile(t *testing.T) {
	e := authoritytest.Start(t)
	base := testenv.BaseDN
	boss := testenv.Person{UID: "boss", GivenName: "Big", SN: "Boss", Mail: []string{"boss@example.com"}, OU: "Board", Password: testenv.DemoPassword}
	person := func(uid, manager string, extra map[string][]string) testenv.Person {
		x := map[string][]string{"title": {"Engineer"}, "department": {"R&D"}, "division": {"Labs"}, "l": {"Basel"}, "st": {"BS"}, "c": {"CH"}, "manager": {manager}}
		for k, v := range extra {
			x[k] = v
		}
		return testenv.Person{UID: uid, GivenName: "P", SN: uid, Mail: []string{uid + "@example.com"}, EmployeeType: "Staff", Password: testenv.DemoPassword, Extra: x}
	}
	people := []testenv.Person{boss,
		person("kim", strings.ToUpper(boss.DN(base)), nil),
		person("lee", "cn=Nobody,ou=Board,"+base, map[string][]string{"title": {strings.Repeat("t", 257)}}),
		person("max", "cn="+ldap.EscapeDN("*)(uid=*")+",ou=Board,"+base, nil),
	}
	d := testenv.StartSlapd(t, people)
	if err := d.Replace("max", "department", "Sales\r\nX: y"); err != nil {
		t.Fatal(err)
	}
	org := ldapOrg(t, e, d.URL, d.BindDN, d.BindPassword, adFilter, "", "", "")
	ctx := context.Background()
	srvs, err := e.App.LDAP.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	in := ldapauth.ServerInput{ProfileMappingInput: ldapauth.ProfileMappingInput{TitleAttribute: optional("title"),
		DepartmentAttribute: optional("department"), DivisionAttribute: optional("division"), EmployeeTypeAttribute: optional("employeeType"),
		ManagerAttribute: optional("manager"), CityAttribute: optional("l"), StateAttribute: optional("st"), CountryAttribute: optional("c")}}
	if _, err := e.App.LDAP.Update(ctx, srvs[0].ID, in); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"boss", "kim", "lee", "max"} {
		if code, _, raw := login(t, e, map[string]any{"username": uid, "password": testenv.DemoPassword, "registrationKey": org.RegistrationKey}); code != 200 {
			t.Fatalf("%s: %d %s", uid, code, raw)
		}
	}
	get := func(name string) (id int64, title, dept, div, et, city, st, c string, mgr *int64) {
		u, err := e.App.Users.ByUsername(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return u.ID, u.Title, u.Department, u.Division, u.EmployeeType, u.City, u.State, u.Country, u.ManagerID
	}
	bossID, _, _, _, _, _, _, _, bm := get("boss")
	if bm != nil {
		t.Errorf("boss has a manager: %d", *bm)
	}
	_, title, dept, div, et, city, st, c, mgr := get("kim")
	if title != "Engineer" || dept != "R&D" || div != "Labs" || et != "Staff" || city != "Basel" || st != "BS" || c != "CH" || mgr == nil || *mgr != bossID {
		t.Errorf("kim: %q %q %q %q %q %q %q %v", title, dept, div, et, city, st, c, mgr)
	}
	_, title, dept, _, _, _, _, _, mgr = get("lee")
	if title != "" || dept != "R&D" || mgr != nil {
		t.Errorf("lee: title %q, department %q, manager %v", title, dept, mgr)
	}
	_, _, dept, _, _, _, _, _, mgr = get("max")
	if dept != "" || mgr != nil {
		t.Errorf("max: department %q, manager %v", dept, mgr)
	}
}
