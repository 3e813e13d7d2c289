package users_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

func field(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Field
	}
	return ""
}

// Profile.Validate names each refused field by its JSON name: over-long
// values and control characters.
func TestProfileValidate(t *testing.T) {
	long := strings.Repeat("x", users.MaxProfileLength+1)
	ok := strings.Repeat("é", users.MaxProfileLength) // characters, not bytes
	for _, c := range []struct {
		p    users.Profile
		want string
	}{
		{users.Profile{Title: ok, Department: ok, Division: ok, EmployeeType: ok, EmployeeNumber: ok, City: ok, State: ok, Country: ok}, ""},
		{users.Profile{Title: long}, "title"},
		{users.Profile{Department: "a\nb"}, "department"},
		{users.Profile{Division: "a\x00b"}, "division"},
		{users.Profile{EmployeeType: long}, "employeeType"},
		{users.Profile{EmployeeNumber: "1\t2"}, "employeeNumber"},
		{users.Profile{City: "\u0085"}, "city"},
		{users.Profile{State: long}, "state"},
		{users.Profile{Country: "\x1b[31m"}, "country"},
		{users.Profile{Email: long}, "email"},
		{users.Profile{ManagerID: new(int64)}, "managerId"},
	} {
		err := c.p.Validate()
		if field(err) != c.want || (c.want == "") != (err == nil) {
			t.Errorf("%+.40v: %v, want field %q", c.p, err, c.want)
		}
	}
}

// A manager must be another existing user: else 400 managerId, nothing
// changes. Deleting the manager leaves the report without one. Create,
// UpdateProfileTx and UpdateProfile store every field; a directory user's
// profile belongs to the directory (409).
func TestProfileManagerRules(t *testing.T) {
	w := newWorld(t)
	boss := w.user("boss")
	u, err := w.app.Users.Create(w.ctx, users.NewUser{Username: "kim", Password: "a-long-password", OrgID: w.org.ID,
		Title: " Engineer ", Department: "R&D", Division: "Labs", EmployeeType: "Contractor", EmployeeNumber: "E-7",
		City: "Basel", State: "BS", Country: "CH", ManagerID: &boss})
	if err != nil {
		t.Fatal(err)
	}
	want := users.Profile{Title: "Engineer", Department: "R&D", Division: "Labs", EmployeeType: "Contractor", EmployeeNumber: "E-7",
		City: "Basel", State: "BS", Country: "CH", ManagerID: &boss}
	if got := users.ProfileOf(u); !got.Equal(want) {
		t.Fatalf("created %+v, want %+v", got, want)
	}
	missing := int64(9999)
	if _, err := w.app.Users.Create(w.ctx, users.NewUser{Username: "lee", Password: "a-long-password", OrgID: w.org.ID, ManagerID: &missing}); field(err) != "managerId" {
		t.Errorf("an unknown manager on create: %v", err)
	}
	self := users.OptionalID{Set: true, ID: &u.ID}
	if _, err := w.app.Users.UpdateProfile(w.ctx, u.ID, users.ProfilePatch{ManagerID: self}); field(err) != "managerId" {
		t.Errorf("its own manager: %v", err)
	}
	if _, err := w.app.Users.UpdateProfile(w.ctx, u.ID, users.ProfilePatch{ManagerID: users.OptionalID{Set: true, ID: &missing}}); field(err) != "managerId" {
		t.Errorf("an unknown manager: %v", err)
	}
	long := strings.Repeat("x", 300)
	if _, err := w.app.Users.UpdateProfile(w.ctx, u.ID, users.ProfilePatch{City: &long, Title: ptr("CTO")}); field(err) != "city" {
		t.Errorf("an over-long city: %v", err)
	}
	if got := users.ProfileOf(w.get(u.ID)); !got.Equal(want) {
		t.Errorf("a refused change changed %+v", got)
	}
	// A patch changes what it names; null clears the manager.
	var patch users.ProfilePatch
	if err := json.Unmarshal([]byte(`{"title":"CTO","managerId":null}`), &patch); err != nil {
		t.Fatal(err)
	}
	got, err := w.app.Users.UpdateProfile(w.ctx, u.ID, patch)
	if err != nil || got.Title != "CTO" || got.ManagerID != nil || got.City != "Basel" {
		t.Fatalf("patched: %+v, %v", got, err)
	}
	if err := json.Unmarshal([]byte(`{"managerId":"1"}`), &patch); field(err) != "managerId" {
		t.Errorf("a string managerId: %v", err)
	}
	// Deleting the manager leaves the report without one.
	if _, err := w.app.Users.UpdateProfile(w.ctx, u.ID, users.ProfilePatch{ManagerID: users.OptionalID{Set: true, ID: &boss}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.DB.Exec(`DELETE FROM users WHERE id = ?`, boss); err != nil {
		t.Fatal(err)
	}
	if m := w.get(u.ID).ManagerID; m != nil {
		t.Errorf("the manager was deleted, managerId is %d", *m)
	}
	// A user of an org that uses LDAP: the directory's.
	ldap := "ldap"
	if _, err := w.app.DB.Exec(`INSERT INTO ldap_servers(name, url, search_filter, created_at, updated_at) VALUES('d', 'ldap://x/dc=x', '(uid=%u)', '', '')`); err != nil {
		t.Fatal(err)
	}
	dirOrg, err := w.app.Orgs.Create(w.ctx, orgs.Input{Name: ptr("Dir"), AuthMethod: &ldap, LDAPServerIDs: &[]int64{1}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := w.app.Users.Create(w.ctx, users.NewUser{Username: "dir", OrgID: dirOrg.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.app.Users.UpdateProfile(w.ctx, d.ID, users.ProfilePatch{Title: ptr("x")}); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("a directory user's profile: %v", err)
	}
}

// DNKey compares DNs ignoring case and spaces around separators; a
// manager DN that is not a DN, or a filter, matches nobody.
func TestDNIndex(t *testing.T) {
	idx := users.DNIndex{}
	idx.Add("cn=Big Boss,ou=Board,dc=example,dc=com", users.DNHolder{ID: 1, ServerID: 1})
	idx.Add("cn=Twin,dc=example,dc=com", users.DNHolder{ID: 2, ServerID: 1})
	idx.Add("CN=twin, DC=example, DC=com", users.DNHolder{ID: 3, ServerID: 2})
	for dn, want := range map[string]int64{
		"CN=BIG BOSS , OU=Board,DC=EXAMPLE, dc=com": 1,
		"cn=Big Boss,ou=Board,dc=example,dc=com":    1,
		"*":                                         0,
		"*)(cn=*":                                   0,
		"(cn=Big Boss)":                             0,
		"cn=*,ou=Board,dc=example,dc=com":           0,
		"":                                          0,
	} {
		got := idx.Resolve(1, dn)
		if (got == nil) != (want == 0) || got != nil && *got != want {
			t.Errorf("%q: %v, want %d", dn, got, want)
		}
	}
	if got := idx.Resolve(2, "cn=twin,dc=example,dc=com"); got == nil || *got != 3 {
		t.Errorf("two users hold the DN: the one of the server is taken, got %v", got)
	}
	if got := idx.Resolve(3, "cn=twin,dc=example,dc=com"); got != nil {
		t.Errorf("two users hold the DN, none of the server: %v", *got)
	}
}

func ptr[T any](v T) *T { return &v }

func (w *world) get(id int64) users.User {
	w.t.Helper()
	u, err := w.app.Users.Get(w.ctx, id)
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}
