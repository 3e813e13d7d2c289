package testenv

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// productPageSize is the product's default page size (SPEC section 3).
const productPageSize = 500

func sambaBind(t *testing.T, s *SambaAD, user, password string) *ldap.Conn {
	t.Helper()
	c, err := s.Dial()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(user, password); err != nil {
		t.Fatalf("bind %s: %v", user, err)
	}
	return c
}

func sambaSearch(t *testing.T, c *ldap.Conn, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, nil), productPageSize)
	if err != nil {
		t.Fatalf("search %s under %s: %v", filter, base, err)
	}
	return res.Entries
}

// TestSambaAD reads one instance with 1,200 generated people.
func TestSambaAD(t *testing.T) {
	t0 := time.Now()
	s := StartSambaAD(t, SambaOptions{People: 1200})
	t.Logf("started in %v at %s", time.Since(t0), s.URL)
	svc := sambaBind(t, s, s.BindDN, s.BindPassword)

	t.Run("paged search over 1,000 entries", func(t *testing.T) {
		es := sambaSearch(t, svc, s.PeopleDN, "(&(objectClass=user)(sAMAccountName=*))", "sAMAccountName")
		if want := 1200 + len(SambaPeople()); len(es) != want {
			t.Fatalf("%d entries, want %d", len(es), want)
		}
		// From the domain root: continuation references come back as
		// referrals, not as an error.
		res, err := svc.SearchWithPaging(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=user)(sAMAccountName=*))", []string{"sAMAccountName"}, nil), productPageSize)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Entries) <= 1200 || len(res.Referrals) == 0 {
			t.Fatalf("%d entries, referrals %q", len(res.Entries), res.Referrals)
		}
	})

	t.Run("attributes", func(t *testing.T) {
		es := sambaSearch(t, svc, s.BaseDN, "(sAMAccountName=bob)", "objectGUID", "memberOf", "manager", "userPrincipalName",
			"mail", "givenName", "sn", "displayName", "title", "department", "employeeType", "l", "st", "c",
			"userAccountControl", "uSNChanged", "uSNCreated", "objectSid", "whenChanged")
		if len(es) != 1 {
			t.Fatalf("%d entries", len(es))
		}
		e := es[0]
		if g := e.GetRawAttributeValue("objectGUID"); len(g) != 16 {
			t.Errorf("objectGUID %x: %d bytes", g, len(g))
		}
		want := map[string]string{"userPrincipalName": "bob@acme.test", "mail": "bob@acme.test", "givenName": "Bob", "sn": "Brown",
			"displayName": "Bob Brown", "title": "Sales Manager", "department": "Sales", "employeeType": "Employee",
			"l": "Springfield", "st": "IL", "c": "US", "userAccountControl": "512",
			"manager": "CN=Alice Anderson,OU=Staff,OU=People,DC=acme,DC=test"}
		for k, v := range want {
			if got := e.GetAttributeValue(k); got != v {
				t.Errorf("%s = %q, want %q", k, got, v)
			}
		}
		if e.GetAttributeValue("uSNChanged") == "" || e.GetAttributeValue("whenChanged") == "" {
			t.Errorf("no uSNChanged/whenChanged: %v", e.Attributes)
		}
		groups := e.GetAttributeValues("memberOf")
		slices.Sort(groups)
		if want := []string{SambaGroupDN("Managers"), SambaGroupDN("Sales")}; !slices.Equal(groups, want) {
			t.Errorf("memberOf %q, want %q", groups, want)
		}
		// Non-ASCII and a comma in the CN.
		z := sambaSearch(t, svc, s.BaseDN, "(sAMAccountName=zoe)", "givenName", "sn")
		if len(z) != 1 || z[0].GetAttributeValue("givenName") != "Zoë" || z[0].GetAttributeValue("sn") != "Żak" {
			t.Errorf("zoe: %+v", z)
		}
		iv := sambaSearch(t, svc, s.BaseDN, "(sAMAccountName=ivan)", "cn")
		if len(iv) != 1 || iv[0].DN != `CN=Ivanov\, Ivan,OU=Staff,OU=People,DC=acme,DC=test` {
			t.Errorf("ivan: %+v", iv)
		}
	})

	t.Run("nested groups", func(t *testing.T) {
		// alice is in Engineers only; R&D and All Staff come through nesting.
		direct := sambaSearch(t, svc, s.BaseDN, "(sAMAccountName=alice)", "memberOf")[0].GetAttributeValues("memberOf")
		if !slices.Equal(direct, []string{SambaGroupDN("Engineers")}) {
			t.Errorf("alice's memberOf %q", direct)
		}
		chain := sambaSearch(t, svc, s.BaseDN, "(&(objectClass=user)(memberOf:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(SambaGroupDN("All Staff"))+"))", "sAMAccountName")
		var names []string
		for _, e := range chain {
			names = append(names, e.GetAttributeValue("sAMAccountName"))
		}
		slices.Sort(names)
		if want := []string{"alice", "bob", "erin"}; !slices.Equal(names, want) {
			t.Errorf("in All Staff through the chain: %q, want %q", names, want)
		}
		groups := sambaSearch(t, svc, s.BaseDN, "(&(objectClass=group)(member:1.2.840.113556.1.4.1941:="+ldap.EscapeFilter(SambaPeople()[0].DN())+"))", "cn")
		var cns []string
		for _, e := range groups {
			cns = append(cns, e.GetAttributeValue("cn"))
		}
		slices.Sort(cns)
		if want := []string{"All Staff", "Engineers", "R&D"}; !slices.Equal(cns, want) {
			t.Errorf("alice's groups through the chain: %q, want %q", cns, want)
		}
	})

	t.Run("binds", func(t *testing.T) {
		alice, _ := s.Person("alice")
		for _, user := range []string{alice.UPN(), alice.DN(), SambaDomain + `\alice`, s.BindUPN, s.AdminUPN} {
			pw := SambaPassword
			switch user {
			case s.BindUPN:
				pw = s.BindPassword
			case s.AdminUPN:
				pw = s.AdminPassword
			}
			c, err := s.Dial()
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Bind(user, pw); err != nil {
				t.Errorf("bind %s: %v", user, err)
			}
			c.Close()
		}
		// What Samba 4.17 answers; AD's codes (SPEC section 5 step 6).
		for _, tc := range []struct{ user, password, data string }{
			{"alice", "wrong", "52e"},
			{"alice", "", "52e"}, // go-ldap refuses an empty password itself; see below
			{"nobody", SambaPassword, "52e"},
			{"dave", SambaPassword, "533"}, // disabled
			{"dave", "wrong", "52e"},
			{"erin", SambaPassword, "775"}, // locked: whatever the password
			{"erin", "wrong", "775"},
			{"frank", SambaPassword, "773"}, // must change
			{"frank", "wrong", "52e"},
			{"grace", SambaPassword, "701"}, // account expired
			{"heidi", SambaPassword, "532"}, // password expired
			{"heidi", "wrong", "52e"},
		} {
			c, err := s.Dial()
			if err != nil {
				t.Fatal(err)
			}
			if tc.password == "" {
				err = c.UnauthenticatedBind(tc.user + "@" + SambaDNSDomain)
				c.Close()
				if err == nil || !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) && !ldap.IsErrorWithCode(err, ldap.LDAPResultUnwillingToPerform) {
					t.Errorf("empty password for %s: %v", tc.user, err)
				}
				continue
			}
			err = c.Bind(tc.user+"@"+SambaDNSDomain, tc.password)
			c.Close()
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) || !strings.Contains(err.Error(), "data "+tc.data+",") {
				t.Errorf("bind %s/%s: %v, want 49 with data %s", tc.user, tc.password, err, tc.data)
			}
		}
	})

	t.Run("root DSE", func(t *testing.T) {
		e, err := s.RootDSE("supportedControl", "highestCommittedUSN", "defaultNamingContext")
		if err != nil {
			t.Fatal(err)
		}
		ctrls := e.GetAttributeValues("supportedControl")
		for _, oid := range []string{ldap.ControlTypeDirSync, ldap.ControlTypePaging, "1.2.840.113556.1.4.417" /* show deleted */} {
			if !slices.Contains(ctrls, oid) {
				t.Errorf("supportedControl lacks %s: %q", oid, ctrls)
			}
		}
		if slices.Contains(ctrls, "1.3.6.1.4.1.4203.1.9.1.1") {
			t.Error("Samba lists syncrepl")
		}
		if e.GetAttributeValue("defaultNamingContext") != SambaBaseDN || e.GetAttributeValue("highestCommittedUSN") == "" {
			t.Errorf("root DSE: %v", e.Attributes)
		}
	})

	t.Run("LDAPS", func(t *testing.T) {
		c, err := s.DialTLS()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Bind(s.BindDN, s.BindPassword); err != nil {
			t.Fatal(err)
		}
		st, ok := c.TLSConnectionState()
		if !ok || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].SerialNumber.Sign() <= 0 {
			t.Fatalf("TLS state %v", ok)
		}
	})
}

// TestSambaChanges: the helpers that change a running directory, and what
// AD's change tracking (uSNChanged, highestCommittedUSN, DirSync) shows.
func TestSambaChanges(t *testing.T) {
	s := StartSambaAD(t, SambaOptions{})
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	dirsync := func(cookie []byte) ([]*ldap.Entry, []byte) {
		t.Helper()
		// A new request each time: DirSync appends its control to the request.
		// Samba refuses a base that is not a naming context (53, "DN is not
		// one of the naming context"): search the domain, keep OU=People.
		// Deleted users keep objectClass but lose sAMAccountName; a bare
		// (isDeleted=TRUE) would also return CN=Deleted Objects itself. A
		// move changes none of the attributes asked for but "name": without
		// it DirSync does not report moves.
		req := ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(&(objectClass=user)(|(sAMAccountName=*)(isDeleted=TRUE)))", []string{"sAMAccountName", "userAccountControl", "title", "objectGUID", "isDeleted", "name"}, nil)
		res, err := admin.DirSync(req, ldap.DirSyncObjectSecurity, 0, cookie)
		if err != nil {
			t.Fatalf("DirSync: %v", err)
		}
		ctrl, ok := ldap.FindControl(res.Controls, ldap.ControlTypeDirSync).(*ldap.ControlDirSync)
		if !ok {
			t.Fatalf("no DirSync control in the answer: %v", res.Controls)
		}
		var out []*ldap.Entry
		for _, e := range res.Entries {
			if strings.HasSuffix(strings.ToLower(e.DN), strings.ToLower(","+s.PeopleDN)) || e.GetAttributeValue("isDeleted") != "" {
				out = append(out, e)
			}
		}
		return out, ctrl.Cookie
	}
	first, cookie := dirsync(nil)
	if len(first) != len(SambaPeople()) {
		t.Fatalf("first DirSync: %d entries, want %d", len(first), len(SambaPeople()))
	}
	guids := map[string][]byte{}
	for _, e := range first {
		guids[e.GetAttributeValue("sAMAccountName")] = e.GetRawAttributeValue("objectGUID")
	}

	usn0, err := s.HighestCommittedUSN()
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Entry("alice", "uSNChanged")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Replace("alice", "title", "CTO"); err != nil {
		t.Fatal(err)
	}
	usn1, err := s.HighestCommittedUSN()
	if err != nil {
		t.Fatal(err)
	}
	after, err := s.Entry("alice", "uSNChanged", "title")
	if err != nil {
		t.Fatal(err)
	}
	if usn1 <= usn0 || after.GetAttributeValue("uSNChanged") == before.GetAttributeValue("uSNChanged") ||
		after.GetAttributeValue("uSNChanged") != fmt.Sprint(usn1) || after.GetAttributeValue("title") != "CTO" {
		t.Errorf("highestCommittedUSN %d → %d, alice's uSNChanged %s → %s", usn0, usn1,
			before.GetAttributeValue("uSNChanged"), after.GetAttributeValue("uSNChanged"))
	}

	changed, cookie := dirsync(cookie)
	if len(changed) != 1 || changed[0].GetAttributeValue("title") != "CTO" || !bytes.Equal(changed[0].GetRawAttributeValue("objectGUID"), guids["alice"]) {
		t.Errorf("DirSync after a change: %d entries %+v", len(changed), changed)
	}

	// Disable, rename, move, delete: the objectGUID identifies them.
	if err := s.Disable("bob"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename("carol", "carol2"); err != nil {
		t.Fatal(err)
	}
	if err := s.Move("ivan", "OU=Disabled,OU=People"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("zoe"); err != nil {
		t.Fatal(err)
	}
	if p, ok := s.Person("carol2"); !ok || p.Sam != "carol2" {
		t.Errorf("carol2 not tracked: %+v", p)
	}
	if dn, err := s.DN("ivan"); err != nil || dn != `CN=Ivanov\, Ivan,OU=Disabled,OU=People,DC=acme,DC=test` {
		t.Errorf("ivan moved to %q, %v", dn, err)
	}
	changes, _ := dirsync(cookie)
	got := map[string]*ldap.Entry{}
	for _, e := range changes {
		for name, g := range guids {
			if bytes.Equal(e.GetRawAttributeValue("objectGUID"), g) {
				got[name] = e
			}
		}
	}
	if e := got["bob"]; e == nil || e.GetAttributeValue("userAccountControl") != "514" {
		t.Errorf("bob disabled: %+v", e)
	}
	if e := got["carol"]; e == nil || e.GetAttributeValue("sAMAccountName") != "carol2" {
		t.Errorf("carol renamed: %+v", e)
	}
	if e := got["ivan"]; e == nil || !strings.Contains(e.DN, "OU=Disabled") {
		t.Errorf("ivan moved: %+v", e)
	}
	if e := got["zoe"]; e == nil || !strings.EqualFold(e.GetAttributeValue("isDeleted"), "TRUE") || e.GetAttributeValue("sAMAccountName") != "" {
		t.Errorf("zoe deleted: %+v", e)
	}
	if len(changes) != 4 {
		for _, e := range changes {
			t.Logf("change: %s %v", e.DN, e.Attributes)
		}
		t.Errorf("%d changes, want 4", len(changes))
	}

	// Passwords, locking, adding.
	if err := s.SetPassword("frank", "New-Passw0rd9"); err != nil {
		t.Fatal(err)
	}
	sambaBind(t, s, "frank@acme.test", "New-Passw0rd9")
	if err := s.Lock("alice"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Dial(); err == nil {
		err = c.Bind("alice@acme.test", SambaPassword)
		c.Close()
		if err == nil || !strings.Contains(err.Error(), "data 775") {
			t.Errorf("alice after Lock: %v", err)
		}
	}
	if err := s.Unlock("alice"); err != nil {
		t.Fatal(err)
	}
	sambaBind(t, s, "alice@acme.test", SambaPassword)
	newbie := SambaPerson{Sam: "newbie", GivenName: "New", SN: "Bie", OU: "OU=Staff,OU=People", Mail: "newbie@acme.test",
		Password: "Newbie-Passw0rd1", Manager: "alice", Groups: []string{"Engineers"}}
	if err := s.AddPerson(newbie); err != nil {
		t.Fatal(err)
	}
	sambaBind(t, s, newbie.UPN(), newbie.Password)
	e, err := s.Entry("newbie", "memberOf", "manager", "userAccountControl")
	if err != nil || e.GetAttributeValue("userAccountControl") != "512" || e.GetAttributeValue("memberOf") != SambaGroupDN("Engineers") {
		t.Errorf("newbie: %+v %v", e, err)
	}

	// Restart keeps the data and the address.
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	sambaBind(t, s, newbie.UPN(), newbie.Password)
}

// TestSambaParallel: instances started at the same time get their own
// addresses and data.
func TestSambaParallel(t *testing.T) {
	if err := sambaInstalled(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	const n = 3
	var wg sync.WaitGroup
	instances := make([]*SambaAD, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := t.TempDir()
			s, stop, err := StartSambaADServer(t.Context(), dir, SambaOptions{})
			if err != nil {
				t.Error(err)
				return
			}
			t.Cleanup(stop)
			instances[i] = s
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	hosts := map[string]bool{}
	for i, s := range instances {
		hosts[s.Host] = true
		if err := s.Replace("alice", "title", fmt.Sprint("instance ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if len(hosts) != n {
		t.Fatalf("addresses %v", hosts)
	}
	for i, s := range instances {
		e, err := s.Entry("alice", "title")
		if err != nil || e.GetAttributeValue("title") != fmt.Sprint("instance ", i) {
			t.Errorf("instance %d: %+v %v", i, e, err)
		}
	}
}
