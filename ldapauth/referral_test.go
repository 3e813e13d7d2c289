package ldapauth

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// addReferral adds ou=Remote,dc=example,dc=com to s as a referral to ref
// (the ManageDsaIT control makes slapd store it instead of referring).
func addReferral(t *testing.T, s *testenv.Slapd, ref string) {
	t.Helper()
	c, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := ldap.NewAddRequest("ou=Remote,"+s.BaseDN, []ldap.Control{ldap.NewControlManageDsaIT(true)})
	req.Attribute("objectClass", []string{"referral", "extensibleObject"})
	req.Attribute("ou", []string{"Remote"})
	req.Attribute("ref", []string{ref})
	if err := c.Add(req); err != nil {
		t.Fatalf("add referral: %v", err)
	}
}

func TestReferrals(t *testing.T) {
	local := testenv.StartSlapd(t, []testenv.Person{{UID: "ann", SN: "Lee", Password: "pw"}, {UID: "ben", SN: "Ng", Password: "pw"}})
	remote := testenv.StartSlapd(t, []testenv.Person{{UID: "cat", SN: "Cho", Password: "pw", OU: "Far"}})
	addReferral(t, local, "ldap://"+remote.Addr+"/ou=Far,"+remote.BaseDN)
	ctx := testCtx(t)

	names := func(srv Server) ([]string, error) {
		c, err := Dial(ctx, srv)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		var out []string
		err = c.SearchAll(ctx, func(page []*Entry) error {
			for _, e := range page {
				out = append(out, srv.Person(e).Usernames...)
			}
			return nil
		})
		sort.Strings(out)
		return out, err
	}
	srv := slapdServer(local)
	got, err := names(srv)
	if err != nil || !slices.Equal(got, []string{"ann", "ben"}) {
		t.Fatalf("referrals off: %v, %v (want ann, ben and no error)", got, err)
	}
	srv.FollowReferrals = true
	got, err = names(srv)
	if err != nil || !slices.Equal(got, []string{"ann", "ben", "cat"}) {
		t.Fatalf("referrals followed: %v, %v", got, err)
	}
	// The user lives on the other server: the bind goes there.
	if e, err := Authenticate(ctx, srv, "cat", "pw"); err != nil || e.DN != remote.DN("cat") {
		t.Fatalf("cat via a referral: %v", err)
	}
	if _, err := Authenticate(ctx, srv, "cat", "wrong"); err != ErrCredentialsRefused {
		t.Fatalf("cat via a referral, wrong password: %v", err)
	}
	// Referrals off: cat is not found, which is not an error.
	srv.FollowReferrals = false
	if _, err := Authenticate(ctx, srv, "cat", "pw"); err != ErrCredentialsRefused {
		t.Fatalf("cat with referrals off: %v", err)
	}
	// A referral to a server that is down is an error when followed.
	remote.Stop()
	srv.FollowReferrals = true
	if _, err := names(srv); err == nil || !strings.Contains(err.Error(), "referral") {
		t.Fatalf("referral to a stopped server: %v", err)
	}
}
