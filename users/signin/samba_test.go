package signin_test

import (
	"context"
	"strings"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

// TestSambaADRegistration: sign-in and registration against a real Active
// Directory (Samba), with the documented example scripts, the service
// account's UPN as the bind DN and the domain root as the base (continuation
// references included).
func TestSambaADRegistration(t *testing.T) {
	e := authoritytest.Start(t)
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	org := ldapOrg(t, e, s.URL, s.BindUPN, s.BindPassword, adFilter, script.ExampleActiveDisabled,
		script.ExampleOrgNameByOU, script.ExampleRolesByGroup)
	ctx := context.Background()
	staffName := "Staff"
	staff, err := e.App.Orgs.Create(ctx, orgs.Input{Name: &staffName, ParentID: &org.ID})
	if err != nil {
		t.Fatal(err)
	}

	// bob: OU=Staff → the org Staff; in Managers → Org Manager.
	code, res, raw := login(t, e, map[string]any{"username": "bob", "password": testenv.SambaPassword,
		"registrationKey": org.RegistrationKey, "deviceGuid": "bob-1", "deviceName": "laptop"})
	if code != 200 {
		t.Fatalf("bob: %d %s", code, raw)
	}
	u := res.User
	if u.OrgID != staff.ID || u.Email != "bob@acme.test" || u.FirstName != "Bob" || u.LastName != "Brown" || res.Device == nil {
		t.Fatalf("bob: %+v", res)
	}
	if strings.Join(u.Roles, ",") != "Desktop User,Org Manager,PROe User" {
		t.Errorf("bob's roles: %v", u.Roles)
	}
	stored, err := e.App.Users.ByUsername(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	guid, err := s.Entry("bob", "objectGUID")
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.LDAPUID) != 36 || len(guid.GetRawAttributeValue("objectGUID")) != 16 {
		t.Errorf("bob's stable id %q (objectGUID %x)", stored.LDAPUID, guid.GetRawAttributeValue("objectGUID"))
	}

	// Existing user: case-insensitive username, wrong password refused.
	if code, _, raw := login(t, e, map[string]any{"username": "BOB", "password": testenv.SambaPassword}); code != 200 {
		t.Fatalf("BOB again: %d %s", code, raw)
	}
	_, _, badPassword := login(t, e, map[string]any{"username": "bob", "password": "wrong"})
	if code, _, _ := login(t, e, map[string]any{"username": "bob", "password": "wrong"}); code != 401 {
		t.Fatalf("bob, wrong password: %d", code)
	}

	// AD refuses the bind of these accounts with the right password (data
	// 533, 775, 773, 701, 532). No user is created; the answer must not be
	// a sign-in. SPEC section 5 step 6 (403 disabled/locked/passwordExpired)
	// is not built yet: log what the product answers today.
	for _, name := range []string{"dave", "erin", "frank", "grace", "heidi"} {
		code, _, raw := login(t, e, map[string]any{"username": name, "password": testenv.SambaPassword, "registrationKey": org.RegistrationKey})
		if code == 200 {
			t.Errorf("%s signed in: %s", name, raw)
		}
		if _, err := e.App.Users.ByUsername(ctx, name); err == nil {
			t.Errorf("a user was created for %s", name)
		}
		t.Logf("%s: %d %s (the wrong-password answer is %s)", name, code, strings.TrimSpace(raw), strings.TrimSpace(badPassword))
	}
}
