package dirsync_test

import (
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// rolesByNestedGroup gives All Org Admin to members of the group whose CN
// is top, directly or through other groups; memberOfAll undefined (nested
// groups off): no roles.
func rolesByNestedGroup(top string) string {
	return `function(entry) {
	var groups = entry.memberOfAll;
	if (groups === undefined) { return null; }
	for (var i = 0; i < groups.length; i++) {
		if (groups[i].toLowerCase().indexOf("cn=` + top + `,") == 0) { return ["All Org Admin"]; }
	}
	return [];
}`
}

// entryUUID reads the entryUUID of dn from slapd.
func entryUUID(t *testing.T, s *testenv.Slapd, dn string) string {
	t.Helper()
	c, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, 10, false, "(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("entryUUID of %s: %v", dn, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}

// TestSyncNestedGroupsSlapd: with nestedGroups on, a role script reading
// entry.memberOfAll gives the role for an indirect group (alice in A, A in
// B, B in C, and C in A: a cycle), in a full run (people and groups paged
// by two) and in an incremental one (bob put into B). With stableIdAttribute
// entryUUID the users keep the entryUUID (not the objectGUID slapd's entries
// also have), so syncrepl's deletions, named by entryUUID, are seen. With
// nestedGroups off the script sees memberOfAll undefined.
func TestSyncNestedGroupsSlapd(t *testing.T) {
	e := start(t)
	var people []testenv.Person
	for _, p := range []struct{ uid, group string }{{"alice", "A"}, {"bob", "D"}, {"carol", "D"}, {"dave", "E"}, {"erin", "F"}} {
		people = append(people, testenv.Person{UID: p.uid, GivenName: p.uid, Mail: []string{p.uid + "@example.com"}, MemberOf: []string{p.group}})
	}
	sl := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	for _, n := range [][2]string{{"A", "B"}, {"B", "C"}, {"C", "A"}} {
		if err := sl.NestGroup(n[0], n[1]); err != nil {
			t.Fatal(err)
		}
	}
	in := slapdInput(sl)
	in.PageSize, in.RoleNameScript = ptr(2), ptr(rolesByNestedGroup("c"))
	in.NestedGroups, in.StableIDAttribute = ptr(true), ptr(ldapauth.StableIDEntryUUID)
	srv := e.server(in)
	if !srv.NestedGroups || srv.StableIDAttribute != ldapauth.StableIDEntryUUID || !slices.Contains(srv.Fetched, "memberOf") {
		t.Fatalf("stored server: %+v", srv)
	}
	org := e.ldapOrg("Corp", srv.ID)
	ids := e.users(org.ID, "alice", "bob", "carol", "dave", "erin")

	full := e.sync(dirsync.Request{})
	if full.Status != dirsync.StatusOK {
		t.Fatalf("full run: %+v\n%s", full, e.logText())
	}
	alice := e.user(ids["alice"])
	if !slices.Contains(alice.Roles, "All Org Admin") {
		t.Errorf("alice (in A, in C through B): roles %v, want All Org Admin", alice.Roles)
	}
	if want := entryUUID(t, sl, sl.DN("alice")); alice.LDAPUID != want {
		t.Errorf("alice's stable id %q, want her entryUUID %q", alice.LDAPUID, want)
	}
	if r := e.user(ids["bob"]).Roles; slices.Contains(r, "All Org Admin") {
		t.Errorf("bob (in D only): roles %v", r)
	}

	// Incremental: bob joins B (so C); carol is deleted (seen by entryUUID).
	if err := sl.SetGroups("bob", "D", "B"); err != nil {
		t.Fatal(err)
	}
	if err := sl.DeletePerson("carol"); err != nil {
		t.Fatal(err)
	}
	inc := e.sync(dirsync.Request{Incremental: true})
	if inc.Status != dirsync.StatusOK || inc.Mode != dirsync.ModeIncremental {
		t.Fatalf("incremental run: %+v\n%s", inc, e.logText())
	}
	if r := e.user(ids["bob"]).Roles; !slices.Contains(r, "All Org Admin") {
		t.Errorf("bob after joining B, incremental run: roles %v, want All Org Admin\n%s", r, changeText(inc))
	}
	if u := e.user(ids["carol"]); u.Status != users.StatusDeactivated {
		t.Errorf("carol deleted: %s, want deactivated (the deletion named by entryUUID)\n%s", u.Status, changeText(inc))
	}

	// Nested groups off: memberOfAll is undefined, the script gives no roles.
	e.updateServer(srv.ID, ldapauth.ServerInput{NestedGroups: ptr(false)})
	if r := e.sync(dirsync.Request{}); r.Status != dirsync.StatusOK {
		t.Fatalf("run with nested groups off: %+v", r)
	}
	if r := e.user(ids["alice"]).Roles; slices.Contains(r, "All Org Admin") {
		t.Errorf("alice with nested groups off: roles %v, want none from memberOfAll", r)
	}
}

// TestSyncNestedGroupsSambaAD: a DIRSYNC run against a real Active Directory
// (Samba) with nestedGroups on: alice (Engineers, in R&D, in All Staff) and
// bob (Sales, in All Staff) get the role for All Staff, carol (Contractors)
// does not.
func TestSyncNestedGroupsSambaAD(t *testing.T) {
	e := start(t)
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	srv := e.server(ldapauth.ServerInput{Name: ptr("ad"), URL: ptr(s.URL), BindDN: ptr(s.BindUPN), BindPassword: ptr(s.BindPassword),
		SearchFilter: ptr(slapdFilter), PageSize: ptr(5), TimeoutSeconds: ptr(30), RoleNameScript: ptr(rolesByNestedGroup("all staff")),
		NestedGroups: ptr(true)})
	org := e.ldapOrg("Corp", srv.ID)
	ids := e.users(org.ID, "alice", "bob", "carol")
	run := e.sync(dirsync.Request{})
	if run.Status != dirsync.StatusOK {
		t.Fatalf("run: %+v", run)
	}
	for name, want := range map[string]bool{"alice": true, "bob": true, "carol": false} {
		if got := slices.Contains(e.user(ids[name]).Roles, "All Org Admin"); got != want {
			t.Errorf("%s: All Org Admin %v, want %v (roles %v)\n%s", name, got, want, e.user(ids[name]).Roles, changeText(run))
		}
	}
}
