package ldapauth

import (
	"testing"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/testenv"
)

func TestGlauthAuthenticate(t *testing.T) {
	users, groups := testenv.DemoDirectory()
	users = append(users,
		testenv.GlauthUser{Name: "nohash", GivenName: "No", SN: "Hash", Mail: []string{"nohash@example.com"}}, // glauth: binds with ANY password
		testenv.GlauthUser{Name: "spacey", Password: "  ", Mail: []string{"spacey@example.com"}},
	)
	g := testenv.StartGlauth(t, users, groups...)
	srv := glauthServer(g)
	ctx := testCtx(t)

	e, err := Authenticate(ctx, srv, "alice", testenv.DemoPassword)
	if err != nil || e.DN != g.UserDN("alice") {
		t.Fatalf("alice: %v %v", e, err)
	}
	if _, err := Authenticate(ctx, srv, "alice", "wrong"); err != ErrCredentialsRefused {
		t.Fatalf("wrong password: %v", err)
	}
	// glauth lets a user without a password hash bind with the empty
	// password: the product refuses the empty password itself.
	if _, err := Authenticate(ctx, srv, "nohash", ""); err != ErrCredentialsRefused {
		t.Fatalf("empty password: %v", err)
	}
	if _, err := Authenticate(ctx, srv, "spacey", "  "); err != nil {
		t.Fatalf("whitespace-only password: %v", err)
	}
	if _, err := Authenticate(ctx, srv, "spacey", " "); err != ErrCredentialsRefused {
		t.Fatalf("another whitespace-only password: %v", err)
	}
	// dave is disabled but glauth lets him bind: authentication succeeds and
	// the active script is what refuses him.
	e, err = Authenticate(ctx, srv, "dave", testenv.DemoPassword)
	if err != nil {
		t.Fatalf("dave: %v", err)
	}
	if e.First("accountStatus") != "inactive" || e.First("userAccountControl") != "514" {
		t.Fatalf("dave's entry: %v", e.Attrs)
	}
	// Several mail values: each one signs in when mail is the username.
	byMail := srv
	byMail.SearchFilter = "(&(objectClass=posixAccount)(mail=%u))"
	for _, m := range []string{"bob@example.com", "bob.brown@example.org"} {
		if e, err := Authenticate(ctx, byMail, m, testenv.DemoPassword); err != nil || e.DN != g.UserDN("bob") {
			t.Errorf("bob as %s: %v", m, err)
		}
	}
	// Hostile usernames never sign anyone in. glauth loses the escaping on
	// its side (it matches "alice*" as a wildcard, and fails on some
	// filters with "Operations Error"): Authenticate still refuses, because
	// it checks the entry really holds the username.
	for _, u := range []string{"*", "a*", "*e*", "alice*", "a*)(uid=*", "admin)(|(a=*", "alice)(uid=bob", `\`, "alice\x00", "\x00", "ålice"} {
		for _, s := range []Server{srv, byMail} {
			_, err := Authenticate(ctx, s, u, testenv.DemoPassword)
			if err != ErrCredentialsRefused && !apperr.Is(err, apperr.KindUnavailable) {
				t.Errorf("Authenticate(%q) with %s = %v, want a refusal", u, s.SearchFilter, err)
			}
		}
	}
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice*", "*", "a*)(uid=*"} {
		if found, err := c.FindUsers(ctx, u); err != nil || len(found) != 0 {
			t.Errorf("FindUsers(%q) on glauth = %d entries, %v; want none", u, len(found), err)
		}
	}
	if found, err := c.FindUsers(ctx, "ALICE"); err != nil || len(found) != 1 {
		t.Errorf("FindUsers(ALICE) = %d entries, %v", len(found), err)
	}
	c.Close()
	// The service account's password is wrong: 503, not 401.
	bad := srv
	bad.BindPassword = "nope"
	if _, err := Authenticate(ctx, bad, "alice", testenv.DemoPassword); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("bad service password: %v", err)
	}
	// glauth stopped: 503.
	g.Stop()
	if _, err := Authenticate(ctx, srv, "alice", testenv.DemoPassword); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("glauth stopped: %v", err)
	}
}

func TestGlauthPreviewAndTest(t *testing.T) {
	users, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, users, groups...)
	srv := glauthServer(g)
	ctx := testCtx(t)
	if res := Test(ctx, srv); !res.Reachable || !res.Bindable || res.Matches != 7 || res.Error != "" {
		t.Fatalf("Test = %+v", res)
	}
	srv.ActiveScript = "function(entry) { return entry.accountStatus != 'inactive'; }"
	srv.OrgNameScript = "function getOrgName(entry) { return entry.employeeType || ''; }"
	p, err := Preview(ctx, srv, "A", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	// alice, carol, dave, frank, grace contain an "a".
	if p.Total != 5 || len(p.Entries) != 3 {
		t.Fatalf("preview: %+v", p)
	}
	for _, r := range p.Entries {
		if r.Active == nil || *r.Active != (r.Username != "dave") || len(r.Errors) != 0 {
			t.Errorf("row %+v", r)
		}
	}
	// A script error is shown on the row, not a failure of the preview.
	srv.RoleNameScript = "function(entry) { return entry.title.split(' '); }" // erin has no title
	p, err = Preview(ctx, srv, "erin", 1, 10)
	if err != nil || len(p.Entries) != 1 || len(p.Entries[0].Errors) != 1 || p.Entries[0].Active == nil {
		t.Fatalf("preview erin: %+v %v", p, err)
	}
	// A script that does not compile is refused with its field.
	srv.RoleNameScript = "function(entry) { return [; }"
	if _, err := Preview(ctx, srv, "", 1, 10); !apperr.Is(err, apperr.KindInvalid) {
		t.Fatalf("preview with a broken script: %v", err)
	}
}
