package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

type profileUser struct {
	ID             int64  `json:"id"`
	Username       string `json:"username"`
	Email          string `json:"email"`
	Title          string `json:"title"`
	Department     string `json:"department"`
	Division       string `json:"division"`
	EmployeeType   string `json:"employeeType"`
	EmployeeNumber string `json:"employeeNumber"`
	ManagerID      *int64 `json:"managerId"`
	City           string `json:"city"`
	State          string `json:"state"`
	Country        string `json:"country"`
}

// The profile over the API: POST /users stores it, GET /users and
// GET /users/{id} show it, PATCH /users/{id} changes a local user's (null
// clears the manager); refused: an unknown or self manager, over-long
// values, control characters, a wrong type, an unknown field; a directory
// user's profile (409).
func TestAPIUserProfile(t *testing.T) {
	e := authoritytest.Start(t)
	var o org
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff"}, &o); code != 201 {
		t.Fatalf("org: %d", code)
	}
	var boss, kim profileUser
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": "boss", "password": "pw-boss-long", "orgId": o.ID}, &boss); code != 201 {
		t.Fatalf("boss: %d", code)
	}
	code := e.Do("POST", "/api/v1/users", map[string]any{"username": "kim", "password": "pw-kim-long", "orgId": o.ID,
		"title": "Engineer", "department": "R&D", "division": "Labs", "employeeType": "Contractor", "employeeNumber": "E-7",
		"managerId": boss.ID, "city": "Basel", "state": "BS", "country": "CH"}, &kim)
	if code != 201 || kim.Title != "Engineer" || kim.EmployeeNumber != "E-7" || kim.ManagerID == nil || *kim.ManagerID != boss.ID || kim.Country != "CH" {
		t.Fatalf("kim: %d %+v", code, kim)
	}
	var list []profileUser
	if code := e.Do("GET", "/api/v1/users?username=kim", nil, &list); code != 200 || len(list) != 1 || list[0].Department != "R&D" || list[0].ManagerID == nil {
		t.Fatalf("list: %d %+v", code, list)
	}
	path := fmt.Sprintf("/api/v1/users/%d", kim.ID)
	var got profileUser
	if code := e.Do("PATCH", path, map[string]any{"title": "CTO", "managerId": nil}, &got); code != 200 || got.Title != "CTO" || got.ManagerID != nil || got.City != "Basel" {
		t.Fatalf("patch: %d %+v", code, got)
	}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"managerId": kim.ID}, "managerId"},
		{map[string]any{"managerId": 99999}, "managerId"},
		{map[string]any{"managerId": "1"}, "managerId"},
		{map[string]any{"title": strings.Repeat("x", 257)}, "title"},
		{map[string]any{"department": "a\nb"}, "department"},
		{map[string]any{"country": "\x1b[2J"}, "country"},
		{map[string]any{"employeeNumber": 7}, "employeeNumber"},
		{map[string]any{"username": "other"}, "username"},
	} {
		var ae apiError
		if code := e.Do("PATCH", path, c.body, &ae); code != 400 || ae.Field != c.field {
			t.Errorf("%v: %d %+v", c.body, code, ae)
		}
	}
	if code := e.Do("GET", path, nil, &got); code != 200 || got.Title != "CTO" || got.Department != "R&D" {
		t.Errorf("after refused patches: %+v", got)
	}
	var ae apiError
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": "lee", "password": "pw-lee-long", "orgId": o.ID, "managerId": 99999}, &ae); code != 400 || ae.Field != "managerId" {
		t.Errorf("create with an unknown manager: %d %+v", code, ae)
	}
	if code := e.Do("PATCH", "/api/v1/users/99999", map[string]any{"title": "x"}, &ae); code != 404 {
		t.Errorf("patch of no user: %d", code)
	}
	// A user of an org that uses LDAP: its profile is the directory's.
	srv, err := e.App.LDAP.Create(context.Background(), ldapauth.InputOf(ldapauth.Server{Name: "d", URL: "ldap://127.0.0.1:1/dc=x",
		BindAnonymously: true, SearchFilter: "(uid=%u)", TimeoutSeconds: 5, PageSize: 10, ActiveScript: ldapauth.DefaultActiveScript}))
	if err != nil {
		t.Fatal(err)
	}
	name, method, ids := "Directory", orgs.AuthLDAP, []int64{srv.ID}
	dir, err := e.App.Orgs.Create(context.Background(), orgs.Input{Name: &name, AuthMethod: &method, LDAPServerIDs: &ids})
	if err != nil {
		t.Fatal(err)
	}
	du, err := e.App.Users.Create(context.Background(), users.NewUser{Username: "dir", OrgID: dir.ID})
	if err != nil {
		t.Fatal(err)
	}
	if code := e.Do("PATCH", fmt.Sprintf("/api/v1/users/%d", du.ID), map[string]any{"title": "x"}, &ae); code != 409 || !strings.Contains(ae.Error, "directory") {
		t.Errorf("a directory user's profile: %d %+v", code, ae)
	}
}

// The console: the user page shows the profile, the manager a link to that
// user; the LDAP server form saves the profile mapping (in its collapsible
// group) and shows a refused one on its field.
func TestConsoleBrowserProfile(t *testing.T) {
	b := startBrowser(t)
	ctx := context.Background()
	staff, err := b.app.Orgs.Create(ctx, orgs.Input{Name: ptrS("Staff")})
	if err != nil {
		t.Fatal(err)
	}
	boss := b.userWithDevice("boss", staff.ID)
	kim, err := b.app.Users.Create(ctx, users.NewUser{Username: "kim", Password: "kim-password", OrgID: staff.ID, Title: "Engineer <b>",
		Department: "R&D", Division: "Labs", EmployeeType: "Contractor", EmployeeNumber: "E-7", ManagerID: &boss.ID,
		City: "Basel", State: "BS", Country: "CH"})
	if err != nil {
		t.Fatal(err)
	}
	b.signIn()
	b.open(fmt.Sprintf("/users/%d", kim.ID))
	b.expectText("#profile-title", "Engineer <b>")
	b.expectText("#profile-department", "R&D")
	b.expectText("#profile-division", "Labs")
	b.expectText("#profile-employeeType", "Contractor")
	b.expectText("#profile-employeeNumber", "E-7")
	b.expectText("#profile-city", "Basel")
	b.expectText("#profile-state", "BS")
	b.expectText("#profile-country", "CH")
	b.expectText("#profile-manager", "boss")
	b.shot("40-user-profile")
	b.click("#profile-manager a")
	b.waitText("h1", "boss")
	b.expectText("#profile-manager", "none")

	srv, err := b.app.LDAP.Create(ctx, ldapauth.InputOf(ldapauth.Server{Name: "Corp", URL: "ldap://127.0.0.1:1/dc=example,dc=com",
		BindAnonymously: true, SearchFilter: "(uid=%u)", TimeoutSeconds: 5, PageSize: 10, ActiveScript: ldapauth.DefaultActiveScript}))
	if err != nil {
		t.Fatal(err)
	}
	b.open(fmt.Sprintf("/settings/ldap/servers/%d", srv.ID))
	if b.has("#profile-attributes[open]") {
		t.Fatal("the profile attributes are open with nothing mapped")
	}
	b.do("open the profile attributes", chromedp.Click(chromedp.CSS("#profile-attributes summary")))
	b.fill("#titleAttribute", "title")
	b.fill("#managerAttribute", "manager")
	b.fill("#cityAttribute", "l")
	b.fill("#countryAttribute", "c;")
	b.click("#save-server")
	if !b.has("#profile-attributes[open]") {
		t.Fatal("a refused mapping is not shown open")
	}
	b.expectText("#profile-attributes", "Option \"\" is not letters")
	b.fill("#countryAttribute", "c")
	b.click("#save-server")
	b.expectText("#flash", "saved")
	got, err := b.app.LDAP.Get(ctx, srv.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := ldapauth.ProfileMapping{TitleAttribute: "title", ManagerAttribute: "manager", CityAttribute: "l", CountryAttribute: "c"}
	if got.ProfileMapping != want {
		t.Fatalf("saved %+v, want %+v", got.ProfileMapping, want)
	}
	if !b.has("#profile-attributes[open]") {
		t.Fatal("a server with a mapping shows its profile attributes closed")
	}
	b.shot("41-ldap-server-profile-attributes")
}

func ptrS(s string) *string { return &s }
