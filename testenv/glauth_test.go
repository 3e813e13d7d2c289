package testenv

import (
	"errors"
	"slices"
	"sort"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

func dialGlauth(t *testing.T, g *Glauth) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + g.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGlauthBindAndSearch(t *testing.T) {
	users, groups := DemoDirectory()
	g := StartGlauth(t, users, groups...)

	if g.URL != "ldap://"+g.Addr+"/dc=example,dc=com" {
		t.Fatalf("URL = %q", g.URL)
	}

	// A user binds with the right password, not with a wrong one.
	c := dialGlauth(t, g)
	if err := c.Bind(g.UserDN("alice"), DemoPassword); err != nil {
		t.Fatalf("bind alice: %v", err)
	}
	err := c.Bind(g.UserDN("alice"), "wrong")
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Fatalf("bind with a wrong password: %v, want 49", err)
	}

	// The service account searches; it does not see itself.
	c = dialGlauth(t, g)
	if err := c.Bind(g.BindDN, g.BindPassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	res, err := c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=posixAccount)(uid=*))", nil, nil))
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	var names []string
	for _, e := range res.Entries {
		names = append(names, e.GetAttributeValue("uid"))
	}
	sort.Strings(names)
	want := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace"}
	if !slices.Equal(names, want) {
		t.Fatalf("users = %v, want %v", names, want)
	}

	res, err = c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(uid=bob)", []string{"mail", "employeeType", "memberOf", "userAccountControl", "sAMAccountName", "givenName", "sn", "title"}, nil))
	if err != nil {
		t.Fatalf("search bob: %v", err)
	}
	if len(res.Entries) != 1 {
		t.Fatalf("bob: %d entries", len(res.Entries))
	}
	bob := res.Entries[0]
	if bob.DN != "cn=bob,ou=staff,ou=users,dc=example,dc=com" || bob.DN != g.UserDN("bob") {
		t.Errorf("bob's DN = %q", bob.DN)
	}
	if got := bob.GetAttributeValues("mail"); !slices.Equal(got, []string{"bob@example.com", "bob.brown@example.org"}) {
		t.Errorf("bob's mail = %v", got)
	}
	for attr, want := range map[string]string{"employeeType": "staff", "userAccountControl": "512",
		"sAMAccountName": "bob", "givenName": "Bob", "sn": "Brown", "title": "Help Desk"} {
		if got := bob.GetAttributeValue(attr); got != want {
			t.Errorf("bob's %s = %q, want %q", attr, got, want)
		}
	}
	mo := bob.GetAttributeValues("memberOf")
	sort.Strings(mo)
	if !slices.Equal(mo, []string{g.GroupDN("staff"), g.GroupDN("support")}) {
		t.Errorf("bob's memberOf = %v", mo)
	}

	// The AD-style filter works; objectClass is one attribute.
	res, err = c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=user)(sAMAccountName=alice))", []string{"objectClass"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("AD-style filter: %v", err)
	}
	if n := len(res.Entries[0].Attributes); n != 1 {
		t.Errorf("alice has %d attributes, want one objectClass", n)
	}
	oc := res.Entries[0].GetAttributeValues("objectClass")
	for _, want := range []string{"posixAccount", "inetOrgPerson", "user"} {
		if !slices.Contains(oc, want) {
			t.Errorf("objectClass %v lacks %s", oc, want)
		}
	}

	// The disabled user carries userAccountControl 514.
	res, err = c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(userAccountControl=514)", []string{"uid", "accountStatus"}, nil))
	if err != nil {
		t.Fatalf("search disabled: %v", err)
	}
	if len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("uid") != "dave" || res.Entries[0].GetAttributeValue("accountStatus") != "inactive" {
		t.Errorf("disabled users: %v", res.Entries)
	}
}

// TestGlauthKnownBugs pins glauth's bugs that the package doc describes, so
// that a glauth upgrade that fixes them is noticed.
func TestGlauthKnownBugs(t *testing.T) {
	g := StartGlauth(t, []GlauthUser{
		{Name: "nopass", PrimaryGroup: "staff"},
		{Name: "off", Password: "off-pw", PrimaryGroup: "staff", Disabled: true},
	})
	c := dialGlauth(t, g)
	if err := c.Bind(g.UserDN("nopass"), "anything"); err != nil {
		t.Errorf("user without a hash no longer binds with any password: %v", err)
	}
	if err := c.Bind(g.UserDN("off"), "off-pw"); err != nil {
		t.Errorf("disabled user no longer binds: %v", err)
	}
}

func TestGlauthNoSearchWithoutBind(t *testing.T) {
	g := StartGlauth(t, []GlauthUser{{Name: "u1", Password: "p"}})
	c := dialGlauth(t, g)
	// A user without the search capability may not search.
	if err := c.Bind(g.UserDN("u1"), "p"); err != nil {
		t.Fatal(err)
	}
	_, err := c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(uid=*)", nil, nil))
	var le *ldap.Error
	if !errors.As(err, &le) || le.ResultCode != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("search without capability: %v, want 50", err)
	}
}

func TestGlauthStopClosesConnections(t *testing.T) {
	users, groups := DemoDirectory()
	g, stop, err := StartGlauthServer(users, groups)
	if err != nil {
		t.Fatal(err)
	}
	c := dialGlauth(t, g)
	if err := c.Bind(g.BindDN, g.BindPassword); err != nil {
		t.Fatal(err)
	}
	stop()
	stop() // idempotent
	if err := c.Bind(g.BindDN, g.BindPassword); err == nil {
		t.Fatal("bind on a stopped server worked")
	}
	if _, err := ldap.DialURL("ldap://" + g.Addr); err == nil {
		t.Fatal("dial to a stopped server worked")
	}
}

func TestGlauthPagedSearchComesInOnePage(t *testing.T) {
	users, groups := DemoDirectory()
	g := StartGlauth(t, users, groups...)
	c := dialGlauth(t, g)
	if err := c.Bind(g.BindDN, g.BindPassword); err != nil {
		t.Fatal(err)
	}
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=posixAccount)", []string{"uid"}, nil), 2)
	if err != nil {
		t.Fatalf("paged search: %v", err)
	}
	if len(res.Entries) != len(users) {
		t.Fatalf("paged search: %d entries, want %d", len(res.Entries), len(users))
	}
}

// TestGlauthConcurrentClients checks (under -race) that parallel binds and
// searches are safe: product tests run sign-ins concurrently.
func TestGlauthConcurrentClients(t *testing.T) {
	users, groups := DemoDirectory()
	g := StartGlauth(t, users, groups...)
	errs := make(chan error, 8)
	for i := range 8 {
		go func() {
			errs <- func() error {
				c, err := ldap.DialURL("ldap://" + g.Addr)
				if err != nil {
					return err
				}
				defer c.Close()
				if err := c.Bind(g.BindDN, g.BindPassword); err != nil {
					return err
				}
				u := users[i%len(users)]
				res, err := c.Search(ldap.NewSearchRequest(g.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
					"(uid="+u.Name+")", []string{"uid"}, nil))
				if err != nil {
					return err
				}
				if len(res.Entries) != 1 {
					return errors.New("user not found")
				}
				return c.Bind(res.Entries[0].DN, DemoPassword)
			}()
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
