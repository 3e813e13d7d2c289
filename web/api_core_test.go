package web_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authority-server/authority/authority/authoritytest"
)

type org struct {
	ID                       int64    `json:"id"`
	Name                     string   `json:"name"`
	ParentID                 *int64   `json:"parentId"`
	RegistrationKey          string   `json:"registrationKey"`
	AuthMethod               string   `json:"authMethod"`
	EffectiveAuthMethod      string   `json:"effectiveAuthMethod"`
	DefaultRoles             []string `json:"defaultRoles"`
	ArchiveHoldDays          int      `json:"archiveHoldDays"`
	ArchiveHoldDaysInherited bool     `json:"archiveHoldDaysInherited"`
}

type user struct {
	ID           int64    `json:"id"`
	Username     string   `json:"username"`
	OrgID        int64    `json:"orgId"`
	OrgName      string   `json:"orgName"`
	Status       string   `json:"status"`
	StatusReason string   `json:"statusReason"`
	Roles        []string `json:"roles"`
	OnLegalHold  bool     `json:"onLegalHold"`
}

type archive struct {
	GUID                 string  `json:"guid"`
	State                string  `json:"state"`
	ColdStorageExpiresAt *string `json:"coldStorageExpiresAt"`
}

type device struct {
	GUID     string    `json:"guid"`
	Status   string    `json:"status"`
	Archives []archive `json:"archives"`
}

type apiError struct {
	Error  string `json:"error"`
	Field  string `json:"field"`
	Status string `json:"status"`
	Reason string `json:"reason"`
}

// newUserWithDevice creates a local user in org and signs it in from a device.
func newUserWithDevice(t *testing.T, e *authoritytest.Env, name string, orgID int64, guid string) user {
	t.Helper()
	var u user
	if code := e.Do("POST", "/api/v1/users", map[string]any{"username": name, "password": "pw-" + name, "orgId": orgID}, &u); code != 201 {
		t.Fatalf("create user %s: %d", name, code)
	}
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": name, "password": "pw-" + name, "deviceGuid": guid, "deviceName": "laptop"}, nil); code != 200 {
		t.Fatalf("login %s: %d", name, code)
	}
	return u
}

func devices(t *testing.T, e *authoritytest.Env, id int64) []device {
	t.Helper()
	var ds []device
	if code := e.Do("GET", "/api/v1/users/"+itoa(id)+"/devices", nil, &ds); code != 200 {
		t.Fatalf("devices of %d: %d", id, code)
	}
	return ds
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAuthToken(t *testing.T) {
	e := authoritytest.Start(t)
	var er apiError
	if code := e.DoAs("", "GET", "/api/v1/orgs", nil, &er); code != 401 || er.Error == "" {
		t.Fatalf("no token: %d %+v", code, er)
	}
	if code := e.DoAs("bogus", "GET", "/api/v1/orgs", nil, nil); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": "wrong"}, nil); code != 401 {
		t.Fatalf("wrong password: %d", code)
	}
	// A user without SYSADMIN authenticates but is not an administrator.
	var u user
	e.Do("POST", "/api/v1/users", map[string]any{"username": "alice", "password": "pw-alice", "orgId": 1}, &u)
	if code := e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "alice", "password": "pw-alice"}, nil); code != 403 {
		t.Fatalf("non-admin token: %d", code)
	}
	// Sign-out ends the token.
	var tok struct{ Token string }
	e.DoAs("", "POST", "/api/v1/auth/token", map[string]string{"username": "admin", "password": authoritytest.AdminPassword}, &tok)
	if code := e.DoAs(tok.Token, "DELETE", "/api/v1/auth/token", nil, nil); code != 204 {
		t.Fatalf("sign-out: %d", code)
	}
	if code := e.DoAs(tok.Token, "GET", "/api/v1/orgs", nil, nil); code != 401 {
		t.Fatalf("revoked token: %d", code)
	}
}

func TestOrgTreeAndInheritance(t *testing.T) {
	e := authoritytest.Start(t)
	var orgs []org
	e.Do("GET", "/api/v1/orgs", nil, &orgs)
	if len(orgs) != 1 || orgs[0].Name != "Default" || orgs[0].ParentID != nil || orgs[0].ArchiveHoldDays != 365 {
		t.Fatalf("root: %+v", orgs)
	}
	var staff, eng org
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff", "archiveHoldDays": 30}, &staff); code != 201 {
		t.Fatalf("create: %d", code)
	}
	if code := e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Engineering", "parentId": staff.ID}, &eng); code != 201 {
		t.Fatalf("create child: %d", code)
	}
	if eng.ArchiveHoldDays != 30 || !eng.ArchiveHoldDaysInherited || eng.EffectiveAuthMethod != "local" {
		t.Fatalf("inheritance: %+v", eng)
	}
	if ok, _ := regexpMatch(`^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$`, eng.RegistrationKey); !ok || eng.RegistrationKey == staff.RegistrationKey {
		t.Fatalf("registration key %q", eng.RegistrationKey)
	}
	// Null inherits again.
	var back org
	e.Do("PATCH", "/api/v1/orgs/"+itoa(staff.ID), map[string]any{"archiveHoldDays": nil}, &back)
	if back.ArchiveHoldDays != 365 || !back.ArchiveHoldDaysInherited {
		t.Fatalf("null hold days: %+v", back)
	}

	bad := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"duplicate name ignoring case", "POST", "/api/v1/orgs", map[string]any{"name": "STAFF"}, 400, "name"},
		{"empty name", "POST", "/api/v1/orgs", map[string]any{"name": "  "}, 400, "name"},
		{"missing name", "POST", "/api/v1/orgs", map[string]any{}, 400, "name"},
		{"unknown parent", "POST", "/api/v1/orgs", map[string]any{"name": "X", "parentId": 999}, 400, "parentId"},
		{"cycle", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"parentId": eng.ID}, 400, "parentId"},
		{"own parent", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"parentId": staff.ID}, 400, "parentId"},
		{"move the root", "PATCH", "/api/v1/orgs/1", map[string]any{"parentId": staff.ID}, 400, "parentId"},
		{"bad auth method", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"authMethod": "kerberos"}, 400, "authMethod"},
		{"ldap without a server", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"authMethod": "ldap"}, 400, "ldapServerIds"},
		{"unknown server", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"ldapServerIds": []int{42}}, 400, "ldapServerIds"},
		{"unknown role", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"defaultRoles": []string{"Emperor"}}, 400, "defaultRoles"},
		{"negative hold days", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"archiveHoldDays": -1}, 400, "archiveHoldDays"},
		{"wrong type", "PATCH", "/api/v1/orgs/" + itoa(staff.ID), map[string]any{"archiveHoldDays": "ten"}, 400, "archiveHoldDays"},
		{"unknown field", "POST", "/api/v1/orgs", map[string]any{"name": "Y", "colour": "red"}, 400, "colour"},
		{"malformed JSON", "POST", "/api/v1/orgs", `{"name": "Z",`, 400, "body"},
		{"trailing data", "POST", "/api/v1/orgs", `{"name": "Z"} {}`, 400, "body"},
		{"empty body", "POST", "/api/v1/orgs", ``, 400, "body"},
		{"oversized body", "POST", "/api/v1/orgs", `{"name": "` + strings.Repeat("a", 2<<20) + `"}`, 413, "body"},
		{"unknown org", "GET", "/api/v1/orgs/999", nil, 404, ""},
		{"bad id", "GET", "/api/v1/orgs/abc", nil, 400, "id"},
	}
	for _, c := range bad {
		var er apiError
		code := e.Do(c.method, c.path, c.body, &er)
		if code != c.status || er.Field != c.field || er.Error == "" {
			t.Errorf("%s: got %d %+v, want %d field %q", c.name, code, er, c.status, c.field)
		}
	}
	// Nothing half-written: the failed cycle left Staff under the root.
	var s org
	e.Do("GET", "/api/v1/orgs/"+itoa(staff.ID), nil, &s)
	if s.ParentID == nil || *s.ParentID != 1 || s.Name != "Staff" {
		t.Fatalf("after failed patches: %+v", s)
	}
	e.Do("GET", "/api/v1/orgs", nil, &orgs)
	if len(orgs) != 3 {
		t.Fatalf("failed creates left orgs behind: %+v", orgs)
	}
}

func TestDeactivateAndReactivate(t *testing.T) {
	e := authoritytest.Start(t)
	var staff org
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff", "archiveHoldDays": 30}, &staff)
	u := newUserWithDevice(t, e, "bob", staff.ID, "guid-bob-1")

	var got user
	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/deactivate", nil, &got); code != 200 || got.Status != "deactivated" || got.StatusReason != "admin" {
		t.Fatalf("deactivate: %d %+v", code, got)
	}
	ds := devices(t, e, u.ID)
	if len(ds) != 1 || ds[0].Status != "deactivated" || ds[0].Archives[0].State != "cold" {
		t.Fatalf("after deactivate: %+v", ds)
	}
	want := e.Clock.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if exp := ds[0].Archives[0].ColdStorageExpiresAt; exp == nil || *exp != want {
		t.Fatalf("cold storage expiry %v, want %s", exp, want)
	}
	// A deactivated user cannot sign in, even with the right password: 403 with the reason.
	var er apiError
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "bob", "password": "pw-bob"}, &er); code != 403 || er.Status != "deactivated" {
		t.Fatalf("login deactivated: %d %+v", code, er)
	}
	// Before the hold days pass, reactivation brings devices and archives back; the GUID stays.
	e.Advance(10 * 24 * time.Hour)
	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/reactivate", nil, &got); code != 200 || got.Status != "active" || got.StatusReason != "" {
		t.Fatalf("reactivate: %d %+v", code, got)
	}
	ds = devices(t, e, u.ID)
	if ds[0].GUID != "guid-bob-1" || ds[0].Status != "active" || ds[0].Archives[0].State != "normal" || ds[0].Archives[0].ColdStorageExpiresAt != nil {
		t.Fatalf("after reactivate: %+v", ds)
	}
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "bob", "password": "pw-bob", "deviceGuid": "guid-bob-1"}, nil); code != 200 {
		t.Fatalf("login after reactivate: %d", code)
	}
}

func TestExpiredArchivesStayExpired(t *testing.T) {
	e := authoritytest.Start(t)
	var staff org
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff", "archiveHoldDays": 5}, &staff)
	u := newUserWithDevice(t, e, "carol", staff.ID, "guid-carol")
	e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/deactivate", nil, nil)
	e.Advance(6 * 24 * time.Hour)
	n, err := e.App.Users.ExpireArchives(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("expiry job: %d %v", n, err)
	}
	if ds := devices(t, e, u.ID); ds[0].Archives[0].State != "expired" {
		t.Fatalf("after expiry: %+v", ds)
	}
	e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/reactivate", nil, nil)
	ds := devices(t, e, u.ID)
	if ds[0].Status != "active" || ds[0].Archives[0].State != "expired" {
		t.Fatalf("expired archive after reactivation: %+v", ds)
	}

	// A cold archive past its date that the job has not reached yet is not restored either.
	u2 := newUserWithDevice(t, e, "dave", staff.ID, "guid-dave")
	e.Do("POST", "/api/v1/users/"+itoa(u2.ID)+"/deactivate", nil, nil)
	e.Advance(6 * 24 * time.Hour)
	e.Do("POST", "/api/v1/users/"+itoa(u2.ID)+"/reactivate", nil, nil)
	if ds := devices(t, e, u2.ID); ds[0].Archives[0].State != "expired" {
		t.Fatalf("cold past date after reactivation: %+v", ds)
	}
}

func TestLegalHold(t *testing.T) {
	e := authoritytest.Start(t)
	u := newUserWithDevice(t, e, "erin", 1, "guid-erin")
	other := newUserWithDevice(t, e, "frank", 1, "guid-frank")
	var m1, m2 struct {
		ID         int64   `json:"id"`
		Active     bool    `json:"active"`
		Custodians []int64 `json:"custodians"`
	}
	e.Do("POST", "/api/v1/legal-holds", map[string]any{"name": "Case 1"}, &m1)
	e.Do("POST", "/api/v1/legal-holds", map[string]any{"name": "Case 2"}, &m2)
	for _, m := range []int64{m1.ID, m2.ID} {
		if code := e.Do("POST", "/api/v1/legal-holds/"+itoa(m)+"/custodians", map[string]any{"userId": u.ID}, nil); code != 200 {
			t.Fatalf("add custodian: %d", code)
		}
	}
	e.Do("POST", "/api/v1/legal-holds/"+itoa(m1.ID)+"/custodians", map[string]any{"userId": other.ID}, nil)

	// On hold: deactivation blocks instead; devices keep backing up, archives stay.
	var got user
	e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/deactivate", nil, &got)
	if got.Status != "blocked" || got.StatusReason != "legal-hold-pending" || !got.OnLegalHold {
		t.Fatalf("deactivate on hold: %+v", got)
	}
	if ds := devices(t, e, u.ID); ds[0].Status != "active" || ds[0].Archives[0].State != "normal" {
		t.Fatalf("devices on hold: %+v", ds)
	}
	var er apiError
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "erin", "password": "pw-erin"}, &er); code != 403 || er.Reason != "legal-hold-pending" {
		t.Fatalf("login while blocked: %d %+v", code, er)
	}
	// Releasing one of two holds changes nothing.
	e.Do("DELETE", "/api/v1/legal-holds/"+itoa(m1.ID)+"/custodians/"+itoa(u.ID), nil, nil)
	e.Do("GET", "/api/v1/users/"+itoa(u.ID), nil, &got)
	if got.Status != "blocked" {
		t.Fatalf("after releasing one hold: %+v", got)
	}
	// Closing the last matter deactivates at once.
	if code := e.Do("POST", "/api/v1/legal-holds/"+itoa(m2.ID)+"/deactivate", nil, &m2); code != 200 || m2.Active {
		t.Fatalf("close matter: %d %+v", code, m2)
	}
	e.Do("GET", "/api/v1/users/"+itoa(u.ID), nil, &got)
	if got.Status != "deactivated" || got.StatusReason != "admin" || got.OnLegalHold {
		t.Fatalf("after release: %+v", got)
	}
	if ds := devices(t, e, u.ID); ds[0].Status != "deactivated" || ds[0].Archives[0].State != "cold" {
		t.Fatalf("devices after release: %+v", ds)
	}
	// An administrator reactivates a user still on hold by unblocking it.
	e.Do("POST", "/api/v1/users/"+itoa(other.ID)+"/deactivate", nil, &got)
	if got.Status != "blocked" {
		t.Fatalf("other on hold: %+v", got)
	}
	e.Do("POST", "/api/v1/users/"+itoa(other.ID)+"/unblock", nil, &got)
	if got.Status != "active" || !got.OnLegalHold {
		t.Fatalf("unblock on hold: %+v", got)
	}
	// Releasing an active user leaves it active.
	e.Do("DELETE", "/api/v1/legal-holds/"+itoa(m1.ID)+"/custodians/"+itoa(other.ID), nil, nil)
	e.Do("GET", "/api/v1/users/"+itoa(other.ID), nil, &got)
	if got.Status != "active" {
		t.Fatalf("release of active user: %+v", got)
	}
	// Errors name the field.
	if code := e.Do("POST", "/api/v1/legal-holds/"+itoa(m1.ID)+"/custodians", map[string]any{"userId": 999}, &er); code != 400 || er.Field != "userId" {
		t.Fatalf("unknown custodian: %d %+v", code, er)
	}
	if code := e.Do("POST", "/api/v1/legal-holds/"+itoa(m2.ID)+"/custodians", map[string]any{"userId": other.ID}, &er); code != 409 {
		t.Fatalf("closed matter: %d %+v", code, er)
	}
}

func TestBlockMoveAndReplaceDevice(t *testing.T) {
	e := authoritytest.Start(t)
	var staff org
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff"}, &staff)
	u := newUserWithDevice(t, e, "gina", 1, "guid-old")

	var got user
	e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/block", nil, &got)
	if got.Status != "blocked" || got.StatusReason != "admin" {
		t.Fatalf("block: %+v", got)
	}
	if ds := devices(t, e, u.ID); ds[0].Status != "active" {
		t.Fatalf("blocked user's device keeps backing up: %+v", ds)
	}
	var er apiError
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "gina", "password": "pw-gina"}, &er); code != 403 || er.Reason != "admin" {
		t.Fatalf("login blocked: %d %+v", code, er)
	}
	e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/unblock", nil, &got)
	if got.Status != "active" {
		t.Fatalf("unblock: %+v", got)
	}

	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/move", map[string]any{"orgId": staff.ID}, &got); code != 200 || got.OrgID != staff.ID || got.OrgName != "Staff" {
		t.Fatalf("move: %d %+v", code, got)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/move", map[string]any{"orgId": 999}, &er); code != 400 || er.Field != "orgId" {
		t.Fatalf("move to unknown org: %d %+v", code, er)
	}

	old := devices(t, e, u.ID)[0].Archives[0].GUID
	var d device
	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/devices/guid-old/replace", map[string]any{"newDeviceGuid": "guid-new"}, &d); code != 200 {
		t.Fatalf("replace: %d", code)
	}
	if d.GUID != "guid-new" || len(d.Archives) != 1 || d.Archives[0].GUID != old {
		t.Fatalf("new device did not take over the archive: %+v", d)
	}
	// Another user's device is refused, at sign-in and at replace.
	newUserWithDevice(t, e, "hank", 1, "guid-hank")
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "gina", "password": "pw-gina", "deviceGuid": "guid-hank"}, nil); code != 403 {
		t.Fatalf("someone else's device at sign-in: %d", code)
	}
	if code := e.Do("POST", "/api/v1/users/"+itoa(u.ID)+"/devices/guid-new/replace", map[string]any{"newDeviceGuid": "guid-hank"}, nil); code != 403 {
		t.Fatalf("replace with someone else's device: %d", code)
	}
}

func TestLocalSignInAndRegistration(t *testing.T) {
	e := authoritytest.Start(t)
	var staff org
	e.Do("POST", "/api/v1/orgs", map[string]any{"name": "Staff", "defaultRoles": []string{"Desktop User"}}, &staff)

	var res struct {
		User   user `json:"user"`
		Device *struct {
			GUID   string `json:"guid"`
			Status string `json:"status"`
		} `json:"device"`
	}
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "ivy", "password": "pw", "registrationKey": strings.ToLower(staff.RegistrationKey), "deviceGuid": "ivy-1", "deviceName": "Ivy's Mac"}, &res); code != 200 {
		t.Fatalf("register: %d", code)
	}
	if res.User.OrgID != staff.ID || res.User.Status != "active" || len(res.User.Roles) != 1 || res.User.Roles[0] != "Desktop User" || res.Device == nil || res.Device.GUID != "ivy-1" {
		t.Fatalf("registered: %+v", res)
	}
	// The same device again is recognised.
	if code := e.DoAs("", "POST", "/api/v1/login", map[string]any{"username": "IVY", "password": "pw", "deviceGuid": "ivy-1"}, &res); code != 200 || res.Device.GUID != "ivy-1" {
		t.Fatalf("sign in again: %d %+v", code, res)
	}
	if ds := devices(t, e, res.User.ID); len(ds) != 1 || len(ds[0].Archives) != 1 {
		t.Fatalf("one device with one archive: %+v", ds)
	}

	// Every credential failure gets the same 401 body.
	cases := []map[string]any{
		{"username": "ivy", "password": "wrong"},
		{"username": "nobody", "password": "pw"},
		{"username": "nobody", "password": "pw", "registrationKey": "AAAA-BBBB-CCCC-DDDD"},
		{"username": "ivy", "password": ""},
		{"username": "", "password": "pw"},
	}
	var first []byte
	for i, c := range cases {
		code, raw := e.Raw("", "POST", "/api/v1/login", c)
		if code != 401 {
			t.Errorf("case %d: status %d %s", i, code, raw)
		}
		if first == nil {
			first = raw
		} else if string(raw) != string(first) {
			t.Errorf("case %d: body %s differs from %s", i, raw, first)
		}
	}
}

func TestRoleMapping(t *testing.T) {
	e := authoritytest.Start(t)
	var rm struct{ Roles []string }
	e.Do("GET", "/api/v1/settings/role-mapping", nil, &rm)
	if len(rm.Roles) == 0 || contains(rm.Roles, "SYSADMIN") {
		t.Fatalf("default role mapping: %v", rm.Roles)
	}
	if code := e.Do("PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{"desktop user", "Org Admin"}}, &rm); code != 200 || len(rm.Roles) != 2 || !contains(rm.Roles, "Desktop User") {
		t.Fatalf("set: %d %v", code, rm.Roles)
	}
	var er apiError
	if code := e.Do("PUT", "/api/v1/settings/role-mapping", map[string]any{"roles": []string{"Org Admin", "Emperor"}}, &er); code != 400 || er.Field != "roles" {
		t.Fatalf("unknown role: %d %+v", code, er)
	}
	e.Do("GET", "/api/v1/settings/role-mapping", nil, &rm)
	if len(rm.Roles) != 2 {
		t.Fatalf("a refused change must leave the list as it was: %v", rm.Roles)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
