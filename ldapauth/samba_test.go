package ldapauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/authority-server/authority/testenv"
)

// sambaServer is a Server for a testenv Samba AD domain controller, with the
// service account's UPN as the bind DN (AD accepts a UPN or a DN there).
func sambaServer(s *testenv.SambaAD) Server {
	return Server{
		Name: "samba", URL: s.URL, BindDN: s.BindUPN, BindPassword: s.BindPassword, HasBindPassword: true,
		SearchFilter: "(&(objectClass=user)(sAMAccountName=%u))", EmailAttribute: "mail", FirstNameAttribute: "givenName",
		LastNameAttribute: "sn", TimeoutSeconds: 10, PageSize: 500, ActiveScript: everyAttributeScript,
	}
}

// TestSambaAD: the product's LDAP code against a real Active Directory
// (Samba): a UPN, a DN or DOMAIN\name as the bind DN, the admin tools,
// objectGUID as the stable id, continuation references of the domain root,
// LDAPS with the CA, and sign-in with each of AD's account states.
func TestSambaAD(t *testing.T) {
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	ctx := testCtx(t)

	for _, bindDN := range []string{s.BindUPN, s.BindDN, testenv.SambaDomain + `\` + testenv.SambaServiceSam} {
		srv := sambaServer(s)
		srv.BindDN = bindDN
		if err := Validate(srv); err != nil {
			t.Errorf("bind DN %q refused: %v", bindDN, err)
			continue
		}
		if res := Test(ctx, srv); !res.Reachable || !res.Bindable || res.Error != "" {
			t.Errorf("bind DN %q: %+v", bindDN, res)
		}
	}
	for _, bad := range []string{"svc", "not a dn", "@acme.test", "svc@", `ACME\`, `\svc`} {
		srv := sambaServer(s)
		srv.BindDN = bad
		if err := Validate(srv); err == nil {
			t.Errorf("bind DN %q accepted", bad)
		}
	}

	// The domain root: users, computers, Administrator, Guest, krbtgt, and
	// continuation references (ignored: follow referrals is off).
	srv := sambaServer(s)
	srv.BindDN = s.BindDN
	res := Test(ctx, srv)
	if !res.Bindable || res.Error != "" || res.Matches < len(testenv.SambaPeople())+3 {
		t.Fatalf("domain root: %+v", res)
	}
	srv.URL = s.PeopleURL
	if res := Test(ctx, srv); res.Error != "" || res.Matches != len(testenv.SambaPeople()) {
		t.Fatalf("OU=People: %+v, want %d matches", res, len(testenv.SambaPeople()))
	}

	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	found := map[string]Person{}
	if err := c.SearchAll(ctx, func(page []*Entry) error {
		for _, e := range page {
			p := srv.Person(e)
			found[p.Usernames[0]] = p
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	alice := found["alice"]
	if len(alice.UID) != 36 || alice.Email != "alice@acme.test" || alice.FirstName != "Alice" || alice.LastName != "Anderson" {
		t.Errorf("alice: %+v", alice)
	}
	raw, err := s.Entry("alice", "objectGUID")
	if err != nil {
		t.Fatal(err)
	}
	if alice.UID != formatGUID(raw.GetRawAttributeValue("objectGUID")) {
		t.Errorf("alice's UID %s is not her objectGUID %x", alice.UID, raw.GetRawAttributeValue("objectGUID"))
	}
	if len(alice.Entry.Get("memberOf")) != 1 || len(found["zoe"].Entry.Get("manager")) != 1 {
		t.Errorf("memberOf/manager: %v %v", alice.Entry.Get("memberOf"), found["zoe"].Entry.Get("manager"))
	}

	// LDAPS, trusting the test CA.
	tlsSrv := sambaServer(s)
	tlsSrv.URL, tlsSrv.CACertificate = s.LDAPSURL, s.CACert
	if res := Test(ctx, tlsSrv); !res.Bindable || res.Error != "" {
		t.Errorf("LDAPS: %+v", res)
	}

	// Sign-in: the right password signs alice in (by sAMAccountName, from the
	// domain root, past the continuation references); a wrong password or
	// an unknown person is ErrCredentialsRefused, the right password of an
	// account AD refuses is an *AccountRefused with AD's reason.
	srv.URL = s.URL
	if e, err := Authenticate(ctx, srv, "alice", testenv.SambaPassword); err != nil || !strings.HasPrefix(e.DN, "CN=Alice Anderson,") {
		t.Fatalf("alice: %v %v", e, err)
	}
	for _, tc := range []struct{ user, password string }{{"alice", "wrong"}, {"nobody", testenv.SambaPassword}, {"dave", "wrong"}} {
		if _, err := Authenticate(ctx, srv, tc.user, tc.password); !errors.Is(err, ErrCredentialsRefused) {
			t.Errorf("%s/%s: %v, want ErrCredentialsRefused", tc.user, tc.password, err)
		}
	}
	for user, want := range map[string]string{"dave": AccountDisabled, "erin": AccountLocked, "frank": AccountPasswordExpired,
		"grace": AccountDisabled, "heidi": AccountPasswordExpired} {
		var ar *AccountRefused
		if _, err := Authenticate(ctx, srv, user, testenv.SambaPassword); !errors.As(err, &ar) || ar.Reason != want {
			t.Errorf("%s: %v, want %s", user, err, want)
		}
	}
}
