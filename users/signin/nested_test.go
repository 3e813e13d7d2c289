package signin_test

import (
	"context"
	"testing"

	"github.com/authority-server/authority/authority/authoritytest"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/testenv"
)

// rolesByNestedGroup gives Org Manager to members of the group whose CN is
// top, directly or through other groups (entry.memberOfAll).
func rolesByNestedGroup(top string) string {
	return `function(entry) {
	var groups = entry.memberOfAll;
	if (groups === undefined) { return ["Undefined"]; }
	for (var i = 0; i < groups.length; i++) {
		if (groups[i].toLowerCase().indexOf("cn=` + top + `,") == 0) { return ["Org Manager"]; }
	}
	return null;
}`
}

// nested turns nested groups on (and sets the stable id attribute) for the
// org's server.
func nested(t *testing.T, e *authoritytest.Env, org orgs.Org, stableID string) {
	t.Helper()
	on := true
	if _, err := e.App.LDAP.Update(context.Background(), org.EffectiveLDAPServerIDs[0], ldapauth.ServerInput{NestedGroups: &on, StableIDAttribute: &stableID}); err != nil {
		t.Fatal(err)
	}
}

// TestRegistrationNestedGroupsSlapd: registration runs the role script with
// entry.memberOfAll (alice in A, A in B, B in C, C in A: a cycle), so a role
// for the indirect group C is given; the new user's stable id comes from the
// chosen attribute (nsUniqueId, a plain string).
func TestRegistrationNestedGroupsSlapd(t *testing.T) {
	e := authoritytest.Start(t)
	const nsID = "66446001-1dd211b2-8a8fc1a4-2b1e11a9"
	s := testenv.StartSlapd(t, []testenv.Person{
		{UID: "alice", GivenName: "Alice", SN: "A", Mail: []string{"alice@example.com"}, MemberOf: []string{"A"}, Password: "pw-alice",
			Extra: map[string][]string{"nsUniqueId": {nsID}}},
		{UID: "bob", GivenName: "Bob", SN: "B", Mail: []string{"bob@example.com"}, MemberOf: []string{"D"}, Password: "pw-bob"},
	})
	for _, n := range [][2]string{{"A", "B"}, {"B", "C"}, {"C", "A"}} {
		if err := s.NestGroup(n[0], n[1]); err != nil {
			t.Fatal(err)
		}
	}
	org := ldapOrg(t, e, s.URL, s.BindDN, s.BindPassword, adFilter, "", "", rolesByNestedGroup("c"))
	nested(t, e, org, ldapauth.StableIDNsUniqueID)

	code, res, raw := login(t, e, map[string]any{"username": "alice", "password": "pw-alice", "registrationKey": org.RegistrationKey})
	if code != 200 || !contains(res.User.Roles, "Org Manager") {
		t.Fatalf("alice: %d %s, want Org Manager (through A, B, C)", code, raw)
	}
	u, err := e.App.Users.ByUsername(context.Background(), "alice")
	if err != nil || u.LDAPUID != nsID {
		t.Errorf("alice's stable id %q %v, want her nsUniqueId %q", u.LDAPUID, err, nsID)
	}
	code, res, raw = login(t, e, map[string]any{"username": "bob", "password": "pw-bob", "registrationKey": org.RegistrationKey})
	if code != 200 || contains(res.User.Roles, "Org Manager") {
		t.Fatalf("bob: %d %s, want no Org Manager (D only)", code, raw)
	}
}

// TestRegistrationNestedGroupsSambaAD: against a real Active Directory
// (Samba), alice is in Engineers, a member of R&D, a member of All Staff:
// registration gives the role for All Staff through memberOfAll.
func TestRegistrationNestedGroupsSambaAD(t *testing.T) {
	e := authoritytest.Start(t)
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	org := ldapOrg(t, e, s.URL, s.BindUPN, s.BindPassword, adFilter, "", "", rolesByNestedGroup("all staff"))
	nested(t, e, org, ldapauth.StableIDAuto)
	code, res, raw := login(t, e, map[string]any{"username": "alice", "password": testenv.SambaPassword, "registrationKey": org.RegistrationKey})
	if code != 200 || !contains(res.User.Roles, "Org Manager") {
		t.Fatalf("alice: %d %s, want Org Manager (Engineers, R&D, All Staff)", code, raw)
	}
	u, err := e.App.Users.ByUsername(context.Background(), "alice")
	if err != nil || len(u.LDAPUID) != 36 {
		t.Errorf("alice's stable id %q %v, want her objectGUID", u.LDAPUID, err)
	}
	code, res, raw = login(t, e, map[string]any{"username": "carol", "password": testenv.SambaPassword, "registrationKey": org.RegistrationKey})
	if code != 200 || contains(res.User.Roles, "Org Manager") {
		t.Fatalf("carol: %d %s, want no Org Manager (Contractors only)", code, raw)
	}
}
