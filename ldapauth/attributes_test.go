package ldapauth

import (
	"reflect"
	"testing"

	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/testenv"
)

// A search asks only for what the product and the scripts read when the
// scripts name it; for every attribute when a script may read any; and the
// entries carry what the scripts read (and nothing a script could miss).
func TestSearchAttributes(t *testing.T) {
	srv := Server{SearchFilter: "(&(objectClass=user)(sAMAccountName=%u))", EmailAttribute: "mail", ActiveScript: script.ExampleActiveDisabled,
		RoleNameScript: script.ExampleRolesByGroup}
	srv.ProfileMapping.TitleAttribute = "title"
	want := []string{"objectGUID", "entryUUID", "nsUniqueId", "ipaUniqueID", "sAMAccountName", "memberOf", "userAccountControl", "mail", "givenName", "sn", "title"}
	if got := srv.SearchAttributes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("SearchAttributes() = %v, want %v", got, want)
	}
	// An explicit stable id attribute is the only one asked for.
	srv.StableIDAttribute = StableIDEntryUUID
	want = []string{"entryUUID", "sAMAccountName", "memberOf", "userAccountControl", "mail", "givenName", "sn", "title"}
	if got := srv.SearchAttributes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("SearchAttributes() with entryUUID = %v, want %v", got, want)
	}
	// memberOfAll is computed: never asked for; with nested groups on, a
	// script reading it makes the search ask for memberOf.
	nested := Server{SearchFilter: "(uid=%u)", StableIDAttribute: StableIDNsUniqueID, EmailAttribute: "mail",
		ActiveScript: `function(e) { return e.memberOfAll.length > 0; }`}
	want = []string{"nsUniqueId", "uid", "mail", "givenName", "sn"}
	if got := nested.SearchAttributes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("SearchAttributes() reading memberOfAll, nested groups off = %v, want %v", got, want)
	}
	nested.NestedGroups = true
	want = []string{"nsUniqueId", "uid", "memberOf", "mail", "givenName", "sn"}
	if got := nested.SearchAttributes(); !reflect.DeepEqual(got, want) {
		t.Fatalf("SearchAttributes() reading memberOfAll, nested groups on = %v, want %v", got, want)
	}
	srv.StableIDAttribute = ""
	srv.OrgNameScript = `function(e) { var k = "depart" + "ment"; return e[k]; }`
	if got := srv.SearchAttributes(); got[0] != "*" {
		t.Fatalf("with a computed name: %v, want every attribute", got)
	}
	srv.OrgNameScript = `function(e) { syntax error`
	if got := srv.SearchAttributes(); got[0] != "*" {
		t.Fatalf("with a script that does not compile: %v, want every attribute", got)
	}

	people := testenv.GeneratePeople(30, 5)
	s := testenv.StartSlapd(t, people)
	live := slapdServer(s)
	live.ActiveScript, live.OrgNameScript, live.RoleNameScript = script.ExampleActiveDisabled, "", script.ExampleRolesByGroup
	ctx := testCtx(t)
	c, err := Dial(ctx, live)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SearchAll(ctx, func(page []*Entry) error {
		for _, e := range page {
			if len(e.Get("memberOf")) == 0 || e.First("userAccountControl") == "" || e.First("objectGUID") == "" || e.First("mail") == "" {
				t.Errorf("%s: a read attribute is missing: %v", e.DN, e.Attrs)
			}
			if e.First("telephoneNumber") != "" || e.First("objectClass") != "" {
				t.Errorf("%s: an attribute no one reads was fetched: %v", e.DN, e.Attrs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
