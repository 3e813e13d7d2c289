package ldapauth

import (
	"context"
	"errors"
	"net"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/testenv"
)

// slapdServer is a Server for a testenv slapd directory, AD style.
func slapdServer(s *testenv.Slapd) Server {
	return Server{
		Name: "slapd", URL: s.URL, BindDN: s.BindDN, BindPassword: s.BindPassword, HasBindPassword: true,
		SearchFilter: "(&(objectClass=user)(sAMAccountName=%u))", EmailAttribute: "mail", FirstNameAttribute: "givenName",
		LastNameAttribute: "sn", TimeoutSeconds: 10, PageSize: 500, ActiveScript: everyAttributeScript,
	}
}

func TestSlapdPagedSearchStreamsEveryPage(t *testing.T) {
	people := testenv.GeneratePeople(1250, 7)
	s := testenv.StartSlapd(t, people)
	srv := slapdServer(s)
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var sizes []int
	got := map[string]Person{}
	err = c.SearchAll(ctx, func(page []*Entry) error {
		sizes = append(sizes, len(page))
		for _, e := range page {
			p := srv.Person(e)
			for _, u := range p.Usernames {
				got[strings.ToLower(u)] = p
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("SearchAll: %v", err)
	}
	if !slices.Equal(sizes, []int{500, 500, 250}) {
		t.Fatalf("page sizes = %v, want [500 500 250] (fn once per page)", sizes)
	}
	if len(got) != len(people) {
		t.Fatalf("found %d people, want %d", len(got), len(people))
	}
	for _, want := range people[:50] {
		p, ok := got[strings.ToLower(want.UID)]
		if !ok {
			t.Fatalf("%s not found", want.UID)
		}
		if p.UID != formatGUID(testenv.PersonGUID(want.UID)) {
			t.Errorf("%s: UID %q, want the objectGUID as a GUID string", want.UID, p.UID)
		}
		if len(p.Entry.Get("entryUUID")) != 1 || len(p.Entry.Get("memberOf")) == 0 {
			t.Errorf("%s: operational attributes missing: %v", want.UID, p.Entry.Attrs)
		}
		if p.Email != want.Mail[0] || p.FirstName != want.GivenName || p.LastName != want.SN {
			t.Errorf("%s: mapped %+v", want.UID, p)
		}
	}
}

func TestSlapdSizeLimitIsAnError(t *testing.T) {
	people := testenv.GeneratePeople(600, 3)
	s := testenv.StartSlapd(t, people) // unpaged searches stop at 500
	ctx := testCtx(t)
	c, err := Dial(ctx, slapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.noPaging = true // as a server that ignores the paging control
	calls := 0
	err = c.SearchAll(ctx, func(page []*Entry) error { calls++; return nil })
	if err == nil {
		t.Fatal("a search stopped by the size limit looked complete")
	}
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) || !strings.Contains(err.Error(), "search page 1 of "+s.URL) {
		t.Fatalf("err = %v", err)
	}
	if !apperr.Is(err, apperr.KindUnavailable) {
		t.Errorf("err is not Unavailable: %v", err)
	}
	if calls != 0 {
		t.Errorf("fn got the partial page (%d calls)", calls)
	}
}

func TestSlapdStoppedMidSearchIsAnError(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.GeneratePeople(1200, 5))
	ctx := testCtx(t)
	c, err := Dial(ctx, slapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pages := 0
	err = c.SearchAll(ctx, func(page []*Entry) error {
		pages++
		if pages == 1 {
			s.Stop()
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "search page 2 of") {
		t.Fatalf("err = %v, want an error on page 2", err)
	}
	if pages != 1 {
		t.Fatalf("fn called %d times", pages)
	}
}

func TestSlapdFrozenMidSearchTimesOut(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.GeneratePeople(1200, 5))
	srv := slapdServer(s)
	srv.TimeoutSeconds = 1
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pages := 0
	err = c.SearchAll(ctx, func(page []*Entry) error {
		pages++
		if pages == 1 {
			if err := s.Freeze(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Thaw() })
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "search page 2 of") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout on page 2", err)
	}
}

func TestSlapdCancelledMidSearchIsAnError(t *testing.T) {
	s := testenv.StartSlapd(t, testenv.GeneratePeople(1200, 5))
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	c, err := Dial(ctx, slapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SearchAll(ctx, func(page []*Entry) error { cancel(); return nil })
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "page 2") {
		t.Fatalf("err = %v, want cancelled on page 2", err)
	}
	// An error from fn stops the search and comes back wrapped.
	boom := errors.New("boom")
	c2, err := Dial(testCtx(t), slapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := c2.SearchAll(testCtx(t), func([]*Entry) error { return boom }); !errors.Is(err, boom) || !strings.Contains(err.Error(), "page 1") {
		t.Fatalf("fn error = %v", err)
	}
}

func TestSlapdSensitiveAttributesWithheld(t *testing.T) {
	people := []testenv.Person{{UID: "ann", GivenName: "Ann", SN: "Lee", Mail: []string{"ann@example.com"}, Password: "pw-ann", EmployeeType: "staff"}}
	s := testenv.StartSlapd(t, people, testenv.WithReadablePasswords())
	ctx := testCtx(t)

	// The service account can read userPassword, so the product must drop it.
	raw, err := ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if err := raw.Bind(s.BindDN, s.BindPassword); err != nil {
		t.Fatal(err)
	}
	res, err := raw.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, 0, 0, 0, false, "(uid=ann)", []string{"*"}, nil))
	if err != nil || len(res.Entries) != 1 || res.Entries[0].GetAttributeValue("userPassword") == "" {
		t.Skipf("the directory does not show userPassword to the service account (%v): nothing to check", err)
	}

	srv := slapdServer(s)
	srv.SensitiveAttributes = []string{"employeeType"}
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	check := func(e *Entry) {
		t.Helper()
		for name := range e.Attrs {
			for _, bad := range []string{"userPassword", "unicodePwd", "employeeType"} {
				if strings.EqualFold(name, bad) {
					t.Errorf("entry %s has %s", e.DN, name)
				}
			}
		}
		if e.First("mail") != "ann@example.com" {
			t.Errorf("mail missing: %v", e.Attrs)
		}
	}
	if err := c.SearchAll(ctx, func(page []*Entry) error {
		for _, e := range page {
			check(e)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	found, err := c.FindUsers(ctx, "ann")
	if err != nil || len(found) != 1 {
		t.Fatalf("FindUsers: %v %v", found, err)
	}
	check(found[0])
	e, err := Authenticate(ctx, srv, "ann", "pw-ann")
	if err != nil {
		t.Fatal(err)
	}
	check(e)
}

func TestSlapdUsernamesMatchLiterally(t *testing.T) {
	exotic := []string{"a*b", `back\slash`, "paren(x)", "zoë", "o'brien"}
	var people []testenv.Person
	for i, u := range exotic {
		people = append(people, testenv.Person{UID: u, CN: "exotic " + string(rune('a'+i)), SN: "X", Password: "pw"})
	}
	people = append(people, testenv.Person{UID: "admin", SN: "Admin", Password: "pw"}, testenv.Person{UID: "alice", SN: "A", Password: "pw"})
	s := testenv.StartSlapd(t, people)
	srv := slapdServer(s)
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, u := range exotic {
		found, err := c.FindUsers(ctx, u)
		if err != nil || len(found) != 1 || found[0].First("sAMAccountName") != u {
			t.Errorf("FindUsers(%q) = %d entries, %v; want exactly that one", u, len(found), err)
		}
	}
	for _, u := range []string{"*", "a*", "*a*", "a*)(uid=*", "admin)(|(a=*", "admin)(objectClass=*", `\`, `\2a`, "a\x00", "\x00", "ZOË*", "zo*", ") (", "admin*"} {
		found, err := c.FindUsers(ctx, u)
		if err != nil {
			t.Errorf("FindUsers(%q): %v", u, err)
			continue
		}
		if len(found) != 0 {
			t.Errorf("FindUsers(%q) found %d entries (%s): a wildcard got through", u, len(found), found[0].DN)
		}
		if _, err := Authenticate(ctx, srv, u, "pw"); err != ErrCredentialsRefused {
			t.Errorf("Authenticate(%q) = %v, want ErrCredentialsRefused", u, err)
		}
	}
}

// countingListener accepts connections and counts them (and closes them).
func countingListener(t *testing.T) (addr string, count func() int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var n atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().String(), n.Load
}

func TestAuthenticateSlapd(t *testing.T) {
	people := []testenv.Person{
		{UID: "ann", SN: "Lee", Mail: []string{"ann@example.com"}, Password: "right-pw"},
		{UID: "spacey", SN: "Space", Mail: []string{"spacey@example.com"}, Password: "   "},
		{UID: "twin1", SN: "One", Mail: []string{"twin@example.com"}, Password: "twin-pw"},
		{UID: "twin2", SN: "Two", Mail: []string{"twin@example.com"}, Password: "twin-pw"},
		{UID: "gone", SN: "Gone", Mail: []string{"gone@example.com"}, Password: "gone-pw", UserAccountControl: testenv.UACDisabled},
		{UID: "nopw", SN: "NoPw"},
	}
	s := testenv.StartSlapd(t, people)
	srv := slapdServer(s)
	ctx := testCtx(t)

	e, err := Authenticate(ctx, srv, "ann", "right-pw")
	if err != nil || e.DN != s.DN("ann") {
		t.Fatalf("Authenticate(ann) = %v, %v", e, err)
	}
	if e, err := Authenticate(ctx, srv, "ANN", "right-pw"); err != nil || e.DN != s.DN("ann") {
		t.Fatalf("Authenticate(ANN) = %v, %v", e, err)
	}
	for _, tc := range []struct{ user, pw, why string }{
		{"ann", "wrong", "wrong password"},
		{"ann", "right-pw ", "password with a trailing space"},
		{"ann", " ", "whitespace-only password that is not ann's"},
		{"nobody", "right-pw", "no such user"},
		{"nopw", "anything", "user without a password"},
		{"", "right-pw", "empty username"},
		{"   ", "right-pw", "blank username"},
	} {
		if _, err := Authenticate(ctx, srv, tc.user, tc.pw); err != ErrCredentialsRefused {
			t.Errorf("%s: err = %v, want ErrCredentialsRefused", tc.why, err)
		}
	}
	// A whitespace-only password is a real password.
	if _, err := Authenticate(ctx, srv, "spacey", "   "); err != nil {
		t.Errorf("whitespace-only password: %v", err)
	}
	// Found twice: invalid credentials, even with the right password.
	byMail := srv
	byMail.SearchFilter = "(&(objectClass=user)(mail=%u))"
	if _, err := Authenticate(ctx, byMail, "twin@example.com", "twin-pw"); err != ErrCredentialsRefused {
		t.Errorf("user found twice: err = %v", err)
	}
	if _, err := Authenticate(ctx, byMail, "ann@example.com", "right-pw"); err != nil {
		t.Errorf("by mail: %v", err)
	}
	// A disabled AD account binds on slapd (slapd does not read
	// userAccountControl): authentication says yes, the active script says no.
	e, err = Authenticate(ctx, srv, "gone", "gone-pw")
	if err != nil {
		t.Fatalf("disabled account: %v", err)
	}
	if uac := e.First("userAccountControl"); uac != "514" {
		t.Fatalf("userAccountControl = %q", uac)
	}

	// The service account's bind failing is the server's problem, not the user's.
	badSvc := srv
	badSvc.BindPassword = "not-the-svc-password"
	_, err = Authenticate(ctx, badSvc, "ann", "right-pw")
	if !apperr.Is(err, apperr.KindUnavailable) || strings.Contains(err.Error(), "not-the-svc-password") {
		t.Errorf("bad service password: %v", err)
	}
}

func TestAuthenticateEmptyPasswordSendsNothing(t *testing.T) {
	addr, count := countingListener(t)
	srv := Server{Name: "x", URL: "ldap://" + addr + "/dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "x",
		SearchFilter: "(uid=%u)", TimeoutSeconds: 2}
	if _, err := Authenticate(testCtx(t), srv, "ann", ""); err != ErrCredentialsRefused {
		t.Fatalf("err = %v", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d connections for an empty password", n)
	}
}

func TestServerDownIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: connection refused
	srv := Server{Name: "x", URL: "ldap://" + addr + "/dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "svc-pw-123",
		SearchFilter: "(uid=%u)", TimeoutSeconds: 2}
	ctx := testCtx(t)
	_, err = Authenticate(ctx, srv, "ann", "pw")
	if !apperr.Is(err, apperr.KindUnavailable) || err == ErrCredentialsRefused {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	if strings.Contains(err.Error(), "svc-pw-123") {
		t.Fatalf("the error contains the password: %v", err)
	}
	res := Test(ctx, srv)
	if res.Reachable || res.Bindable || res.Error == "" {
		t.Fatalf("Test = %+v", res)
	}
}

func TestSlapdTLS(t *testing.T) {
	people := []testenv.Person{{UID: "ann", SN: "Lee", Password: "pw"}}
	s := testenv.StartSlapd(t, people, testenv.WithTLS())
	plain := testenv.StartSlapd(t, people) // no TLS: StartTLS is refused
	ctx := testCtx(t)

	base := slapdServer(s)
	check := func(name string, srv Server, ok bool) {
		t.Helper()
		c, err := Dial(ctx, srv)
		if ok != (err == nil) {
			t.Errorf("%s: err = %v, want ok=%v", name, err, ok)
		}
		if err == nil {
			if _, isTLS := c.l.TLSConnectionState(); !isTLS {
				t.Errorf("%s: connection is not encrypted", name)
			}
			if n, err := c.Count(ctx); err != nil || n != 1 {
				t.Errorf("%s: count = %d, %v", name, n, err)
			}
			c.Close()
		}
	}
	startTLS := base
	startTLS.StartTLS, startTLS.CACertificate = true, s.CACert
	check("StartTLS with the CA", startTLS, true)
	noCA := base
	noCA.StartTLS = true
	check("StartTLS with an unknown CA", noCA, false)

	ldaps := base
	ldaps.URL = s.LDAPSURL
	check("ldaps with an unknown CA", ldaps, false)
	ldaps.CACertificate = s.CACert
	check("ldaps with the CA", ldaps, true)
	unsafe := base
	unsafe.URL, unsafe.AllowUnsafeCerts = s.LDAPSURL, true
	check("ldaps with allowUnsafeCerts", unsafe, true)

	// StartTLS against a server without TLS fails hard: no clear-text fall-back.
	nt := slapdServer(plain)
	nt.StartTLS = true
	_, err := Dial(ctx, nt)
	if err == nil || !strings.Contains(err.Error(), "StartTLS") {
		t.Fatalf("StartTLS against a server without TLS: %v", err)
	}
	if _, err := Authenticate(ctx, nt, "ann", "pw"); !apperr.Is(err, apperr.KindUnavailable) {
		t.Fatalf("Authenticate over failed StartTLS: %v", err)
	}
	res := Test(ctx, nt)
	if res.Reachable || res.Bindable || !strings.Contains(res.Error, "StartTLS") {
		t.Fatalf("Test over failed StartTLS = %+v", res)
	}
}

func TestSlapdAnonymousBind(t *testing.T) {
	s := testenv.StartSlapd(t, []testenv.Person{{UID: "ann", SN: "Lee", Password: "pw"}}, testenv.WithAnonymousRead())
	srv := slapdServer(s)
	srv.BindAnonymously, srv.BindDN, srv.BindPassword = true, "", ""
	ctx := testCtx(t)
	if res := Test(ctx, srv); !res.Reachable || !res.Bindable || res.Matches != 1 {
		t.Fatalf("Test = %+v", res)
	}
	if _, err := Authenticate(ctx, srv, "ann", "pw"); err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
}

func TestSlapdTestAndPreview(t *testing.T) {
	people := testenv.GeneratePeople(300, 11)
	s := testenv.StartSlapd(t, people)
	srv := slapdServer(s)
	srv.PageSize = 100
	ctx := testCtx(t)

	res := Test(ctx, srv)
	if !res.Reachable || !res.Bindable || res.Matches != len(people) || res.Error != "" {
		t.Fatalf("Test = %+v", res)
	}
	bad := srv
	bad.BindPassword = "wrong-svc-pw"
	res = Test(ctx, bad)
	if !res.Reachable || res.Bindable || res.Error == "" || strings.Contains(res.Error, "wrong-svc-pw") {
		t.Fatalf("Test with a wrong password = %+v", res)
	}

	// Preview by mail: one row per mail value.
	srv.SearchFilter = "(&(objectClass=user)(mail=%u))"
	srv.ActiveScript = "function(entry) { return !(entry.userAccountControl & 2); }"
	srv.OrgNameScript = "function(entry) { return entry.employeeType == 'staff' ? 'Staff' : ''; }"
	srv.RoleNameScript = `function getRoles(entry) {
		if (entry.dn.indexOf('ou=Contractors') >= 0) throw new Error('no contractors');
		return entry.memberOf.map(function(g) { return g.split(',')[0].substring(3); });
	}`
	var all []string
	byMail := map[string]testenv.Person{}
	for _, p := range people {
		for _, m := range p.Mail {
			all = append(all, m)
			byMail[m] = p
		}
	}
	full, err := Preview(ctx, srv, "", 1, 200)
	if err != nil {
		t.Fatal(err)
	}
	if full.Total != len(all) || len(full.Entries) != 200 {
		t.Fatalf("total %d (want %d), %d rows", full.Total, len(all), len(full.Entries))
	}
	pg, err := Preview(ctx, srv, "", 3, 7)
	if err != nil {
		t.Fatal(err)
	}
	if pg.Total != len(all) || len(pg.Entries) != 7 {
		t.Fatalf("page 3: total %d, %d rows", pg.Total, len(pg.Entries))
	}
	for i, row := range pg.Entries {
		if row.Username != full.Entries[14+i].Username {
			t.Errorf("page 3 row %d = %s, want %s", i, row.Username, full.Entries[14+i].Username)
		}
	}
	var sawMulti bool
	for _, row := range full.Entries {
		p, ok := byMail[row.Username]
		if !ok {
			t.Fatalf("row %q is not a mail", row.Username)
		}
		if row.Email != row.Username || row.DN != s.DN(p.UID) || row.LastName != p.SN {
			t.Errorf("row %+v for %s", row, p.UID)
		}
		if len(p.Mail) > 1 {
			sawMulti = true
		}
		if row.Active == nil || *row.Active == p.Disabled() {
			t.Errorf("%s: active = %v, disabled %v", row.Username, row.Active, p.Disabled())
		}
		if (row.OrgName == "Staff") != (p.EmployeeType == "staff") {
			t.Errorf("%s: org %q for %q", row.Username, row.OrgName, p.EmployeeType)
		}
		if p.OU == "Contractors" {
			if len(row.Errors) != 1 || !strings.Contains(row.Errors[0], "no contractors") {
				t.Errorf("%s: errors %v", row.Username, row.Errors)
			}
		} else if len(row.Roles) != len(p.MemberOf) {
			t.Errorf("%s: roles %v, memberOf %v, errors %v", row.Username, row.Roles, p.MemberOf, row.Errors)
		}
	}
	if !sawMulti {
		t.Log("no person with several mails in the first 200 rows")
	}

	// The search box: substring of the username, case-insensitive.
	var want []string
	for _, m := range all {
		if strings.Contains(m, "alumni") {
			want = append(want, m)
		}
	}
	if len(want) == 0 {
		t.Fatal("no alumni addresses generated")
	}
	found, err := Preview(ctx, srv, "ALUMNI", 1, 200)
	if err != nil {
		t.Fatal(err)
	}
	var gotNames []string
	for _, r := range found.Entries {
		gotNames = append(gotNames, r.Username)
	}
	sort.Strings(gotNames)
	sort.Strings(want)
	if found.Total != len(want) || !slices.Equal(gotNames, want) {
		t.Fatalf("search alumni: total %d, rows %v; want %v", found.Total, gotNames, want)
	}
	// A wildcard typed in the box is literal.
	if r, err := Preview(ctx, srv, "*", 1, 10); err != nil || r.Total != 0 {
		t.Fatalf("search *: %+v %v", r, err)
	}
	// Past the end: no rows, the total still right.
	if r, err := Preview(ctx, srv, "", 1000, 50); err != nil || r.Total != len(all) || len(r.Entries) != 0 {
		t.Fatalf("past the end: %d rows, total %d, %v", len(r.Entries), r.Total, err)
	}
}
