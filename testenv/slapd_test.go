package testenv

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

func dialSlapd(t *testing.T, s *Slapd) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Bind(s.BindDN, s.BindPassword); err != nil {
		t.Fatalf("service bind: %v", err)
	}
	return c
}

func search(filter string, attrs ...string) *ldap.SearchRequest {
	return ldap.NewSearchRequest(BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

func TestSlapdPagingLimitsAndFilters(t *testing.T) {
	people := GeneratePeople(1200, 1)
	s := StartSlapd(t, people)
	if s.URL != "ldap://"+s.Addr+"/dc=example,dc=com" {
		t.Fatalf("URL = %q", s.URL)
	}
	c := dialSlapd(t, s)

	// A paged search with page size 500 returns everybody.
	res, err := c.SearchWithPaging(search("(&(objectClass=user)(sAMAccountName=*))", "sAMAccountName", "mail", "memberOf"), 500)
	if err != nil {
		t.Fatalf("paged search: %v", err)
	}
	if len(res.Entries) != len(people) {
		t.Fatalf("paged search: %d entries, want %d", len(res.Entries), len(people))
	}

	// An unpaged search over 500 fails with sizeLimitExceeded (and partial results).
	res, err = c.Search(search("(objectClass=user)", "uid"))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("unpaged search: %v, want size limit exceeded", err)
	}
	if res == nil || len(res.Entries) != SlapdSizeLimit {
		t.Errorf("unpaged search returned %d entries before the limit", len(res.Entries))
	}

	// The AD bit filter finds exactly the disabled people (514 and 66050).
	var wantDisabled []string
	for _, p := range people {
		if p.Disabled() {
			wantDisabled = append(wantDisabled, p.UID)
		}
	}
	res, err = c.SearchWithPaging(search("(&(objectClass=user)(userAccountControl:1.2.840.113556.1.4.803:=2))", "uid", "userAccountControl"), 500)
	if err != nil {
		t.Fatalf("bit filter: %v", err)
	}
	var gotDisabled []string
	for _, e := range res.Entries {
		gotDisabled = append(gotDisabled, e.GetAttributeValue("uid"))
	}
	slices.Sort(gotDisabled)
	slices.Sort(wantDisabled)
	if len(wantDisabled) == 0 || !slices.Equal(gotDisabled, wantDisabled) {
		t.Errorf("disabled: got %d %v, want %d", len(gotDisabled), gotDisabled, len(wantDisabled))
	}

	// One person, all attributes.
	p := people[0]
	res, err = c.Search(search(fmt.Sprintf("(&(objectClass=user)(sAMAccountName=%s))", ldap.EscapeFilter(p.UID)),
		"*", "entryUUID", "modifyTimestamp"))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("search %s: %v, %d entries", p.UID, err, len(res.Entries))
	}
	e := res.Entries[0]
	if e.DN != p.DN(BaseDN) || e.DN != s.DN(p.UID) {
		t.Errorf("DN = %q, want %q", e.DN, p.DN(BaseDN))
	}
	if !strings.HasPrefix(e.DN, "cn=") || !strings.HasSuffix(e.DN, ",ou="+p.OU+",dc=example,dc=com") {
		t.Errorf("DN layout: %q", e.DN)
	}
	var wantMemberOf []string
	for _, g := range p.MemberOf {
		wantMemberOf = append(wantMemberOf, GroupDN(BaseDN, g))
	}
	if got := e.GetAttributeValues("memberOf"); len(got) == 0 || !slices.Equal(got, wantMemberOf) {
		t.Errorf("memberOf = %v, want %v", got, wantMemberOf)
	}
	if got := e.GetAttributeValues("mail"); !slices.Equal(got, p.Mail) {
		t.Errorf("mail = %v, want %v", got, p.Mail)
	}
	if got := e.GetRawAttributeValue("objectGUID"); !bytes.Equal(got, PersonGUID(p.UID)) {
		t.Errorf("objectGUID = %x", got)
	}
	for _, a := range []string{"entryUUID", "modifyTimestamp", "givenName", "sn", "cn", "userPrincipalName", "employeeType"} {
		if e.GetAttributeValue(a) == "" {
			t.Errorf("%s is missing", a)
		}
	}
	if got := e.GetAttributeValues("userPassword"); len(got) != 0 {
		t.Errorf("the service account reads userPassword: %v", got)
	}

	// Somebody has two mail values; memberOf is indexed and searchable.
	res, err = c.SearchWithPaging(search("(&(objectClass=user)(mail=*@alumni.example.com))", "mail"), 500)
	if err != nil || len(res.Entries) == 0 || len(res.Entries[0].GetAttributeValues("mail")) != 2 {
		t.Errorf("two mails: %v, %d entries", err, len(res.Entries))
	}
	res, err = c.SearchWithPaging(search("(memberOf="+GroupDN(BaseDN, "Admins")+")", "uid"), 500)
	if err != nil || len(res.Entries) == 0 {
		t.Errorf("memberOf=Admins: %v, %d entries", err, len(res.Entries))
	}
	// The group entries exist.
	res, err = c.Search(ldap.NewSearchRequest(GroupDN(BaseDN, "Admins"), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=groupOfNames)", []string{"member"}, nil))
	if err != nil || len(res.Entries) != 1 || len(res.Entries[0].GetAttributeValues("member")) == 0 {
		t.Errorf("group Admins: %v", err)
	}

	// People bind with their password, not with a wrong or empty one.
	u := dialSlapd(t, s)
	if err := u.Bind(p.DN(BaseDN), GeneratedPassword(p.UID)); err != nil {
		t.Errorf("bind %s: %v", p.UID, err)
	}
	if err := u.Bind(p.DN(BaseDN), "wrong"); !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
		t.Errorf("wrong password: %v", err)
	}
	if err := u.Bind(p.DN(BaseDN), ""); err == nil {
		t.Errorf("empty password bound")
	}
}

func TestSlapdSmallLimitsAndAnonymous(t *testing.T) {
	people := GeneratePeople(30, 2)
	s := StartSlapd(t, people, WithSizeLimit(10), WithReadablePasswords())
	c := dialSlapd(t, s)
	if _, err := c.Search(search("(objectClass=user)", "uid")); !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("unpaged search over 10: %v", err)
	}
	res, err := c.SearchWithPaging(search("(objectClass=user)", "uid", "userPassword"), 7)
	if err != nil || len(res.Entries) != 30 {
		t.Fatalf("paged: %v, %d", err, len(res.Entries))
	}
	if !strings.HasPrefix(res.Entries[0].GetAttributeValue("userPassword"), "{SSHA}") {
		t.Errorf("WithReadablePasswords: userPassword = %q", res.Entries[0].GetAttributeValue("userPassword"))
	}

	// Anonymous searches find nothing by default...
	a, err := ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err = a.Search(search("(objectClass=user)", "uid"))
	if err == nil && len(res.Entries) != 0 {
		t.Errorf("anonymous search found %d entries", len(res.Entries))
	}

	// ...and everything with WithAnonymousRead.
	s2 := StartSlapd(t, people, WithAnonymousRead(), WithTimeLimit(5))
	a2, err := ldap.DialURL("ldap://" + s2.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	res, err = a2.SearchWithPaging(search("(objectClass=user)", "uid", "userPassword"), 100)
	if err != nil || len(res.Entries) != 30 || res.Entries[0].GetAttributeValue("userPassword") != "" {
		t.Errorf("anonymous read: %v, %d entries", err, len(res.Entries))
	}
}

func TestSlapdTLS(t *testing.T) {
	s := StartSlapd(t, GeneratePeople(5, 3), WithTLS())
	if s.CACert == "" || s.LDAPSURL == "" {
		t.Fatalf("CACert/LDAPSURL not set")
	}

	// LDAPS with the CA works; without it the handshake fails.
	c, err := ldap.DialURL("ldaps://"+s.LDAPSAddr, ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatalf("ldaps with the CA: %v", err)
	}
	if err := c.Bind(s.BindDN, s.BindPassword); err != nil {
		t.Errorf("bind over ldaps: %v", err)
	}
	c.Close()
	_, err = ldap.DialURL("ldaps://"+s.LDAPSAddr, ldap.DialWithTLSConfig(&tls.Config{ServerName: "127.0.0.1"}))
	var uae x509.UnknownAuthorityError
	if err == nil || !errors.As(err, &uae) {
		t.Errorf("ldaps without the CA: %v, want an unknown authority error", err)
	}

	// StartTLS with the CA works; without it, it fails.
	c, err = ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(s.TLSConfig()); err != nil {
		t.Errorf("StartTLS with the CA: %v", err)
	} else if err := c.Bind(s.BindDN, s.BindPassword); err != nil {
		t.Errorf("bind after StartTLS: %v", err)
	}
	c.Close()
	c, err = ldap.DialURL("ldap://" + s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StartTLS(&tls.Config{ServerName: "127.0.0.1"}); err == nil {
		t.Errorf("StartTLS without the CA worked")
	}
	c.Close()

	// A server without WithTLS refuses StartTLS.
	plain := StartSlapd(t, GeneratePeople(1, 3))
	c, err = ldap.DialURL("ldap://" + plain.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{InsecureSkipVerify: true}); err == nil {
		t.Errorf("StartTLS on a server without TLS worked")
	}
}

func TestSlapdModifyStopRestart(t *testing.T) {
	people := []Person{
		{UID: "ann", GivenName: "Ann", SN: "Archer", OU: "Staff", MemberOf: []string{"Staff", "Admins"}, Password: "ann-pw", Mail: []string{"ann@example.com"}},
		{UID: "ben", GivenName: "Ben", SN: "Baker", OU: "Students", MemberOf: []string{"Students"}, Password: "ben-pw",
			UserAccountControl: UACDisabled, EmployeeType: "student", Extra: map[string][]string{"department": {"Math"}}},
	}
	s := StartSlapd(t, people)
	get := func(uid string) *ldap.Entry {
		t.Helper()
		c := dialSlapd(t, s)
		res, err := c.Search(search("(sAMAccountName="+uid+")", "*", "entryUUID"))
		if err != nil {
			t.Fatalf("search %s: %v", uid, err)
		}
		if len(res.Entries) != 1 {
			return nil
		}
		return res.Entries[0]
	}
	if e := get("ben"); e.GetAttributeValue("department") != "Math" || e.GetAttributeValue("userAccountControl") != "514" {
		t.Errorf("ben: %v", e)
	}

	if err := s.Replace("ben", "userAccountControl", "512"); err != nil {
		t.Fatal(err)
	}
	if got := get("ben").GetAttributeValue("userAccountControl"); got != "512" {
		t.Errorf("after Replace: %q", got)
	}

	uuid := get("ann").GetAttributeValue("entryUUID")
	if err := s.MovePerson("ann", "Former Staff"); err != nil {
		t.Fatal(err)
	}
	e := get("ann")
	if e.DN != "cn=Ann Archer,ou=Former Staff,dc=example,dc=com" || e.GetAttributeValue("entryUUID") != uuid {
		t.Errorf("after MovePerson: %s %s", e.DN, e.GetAttributeValue("entryUUID"))
	}
	if err := s.SetGroups("ann", "Managers"); err != nil {
		t.Fatal(err)
	}
	if got := get("ann").GetAttributeValues("memberOf"); !slices.Equal(got, []string{GroupDN(BaseDN, "Managers")}) {
		t.Errorf("after SetGroups: %v", got)
	}
	c := dialSlapd(t, s)
	res, err := c.Search(search("(objectClass=groupOfNames)", "cn", "member"))
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string][]string{}
	for _, g := range res.Entries {
		groups[g.GetAttributeValue("cn")] = g.GetAttributeValues("member")
	}
	if len(groups) != 2 || !slices.Equal(groups["Managers"], []string{s.DN("ann")}) || len(groups["Students"]) != 1 {
		t.Errorf("groups after SetGroups: %v", groups)
	}

	if err := s.AddPerson(Person{UID: "cat", OU: "Staff", MemberOf: []string{"Staff"}, Password: "cat-pw"}); err != nil {
		t.Fatal(err)
	}
	if e := get("cat"); e == nil || e.DN != "cn=cat,ou=Staff,dc=example,dc=com" {
		t.Errorf("after AddPerson: %v", e)
	}
	if err := s.DeletePerson("ben"); err != nil {
		t.Fatal(err)
	}
	if e := get("ben"); e != nil {
		t.Errorf("ben still there")
	}

	// Stop: the server is down; Start: it is back with the same data.
	s.Stop()
	if _, err := ldap.DialURL("ldap://" + s.Addr); err == nil {
		t.Fatal("dial to a stopped slapd worked")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if e := get("cat"); e == nil {
		t.Errorf("cat lost after restart")
	}

	// Freeze: connections hang until the client's timeout.
	if err := s.Freeze(); err != nil {
		t.Fatal(err)
	}
	fc, err := ldap.DialURL("ldap://" + s.Addr)
	if err == nil {
		fc.SetTimeout(200 * time.Millisecond)
		if err := fc.Bind(s.BindDN, s.BindPassword); err == nil {
			t.Errorf("bind to a frozen slapd worked")
		}
		fc.Close()
	}
	if err := s.Thaw(); err != nil {
		t.Fatal(err)
	}
	if e := get("cat"); e == nil {
		t.Errorf("cat lost after thaw")
	}
}

func TestWriteLDIFRejectsDuplicates(t *testing.T) {
	var buf bytes.Buffer
	err := WriteLDIF(&buf, BaseDN, []Person{{UID: "a"}, {UID: "A"}})
	if err == nil {
		t.Error("duplicate UIDs accepted")
	}
	err = WriteLDIF(&buf, BaseDN, []Person{{UID: "a", CN: "X"}, {UID: "b", CN: "x"}})
	if err == nil {
		t.Error("duplicate DNs accepted")
	}
	if err := WriteLDIF(&buf, "o=example", nil); err == nil {
		t.Error("a base DN without dc= accepted")
	}
}

func TestGeneratePeopleIsDeterministic(t *testing.T) {
	a, b := GeneratePeople(500, 7), GeneratePeople(500, 7)
	var la, lb bytes.Buffer
	if err := WriteLDIF(&la, BaseDN, a); err != nil {
		t.Fatal(err)
	}
	if err := WriteLDIF(&lb, BaseDN, b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(la.Bytes(), lb.Bytes()) {
		t.Fatal("same seed, different LDIF")
	}
	if c := GeneratePeople(500, 8); c[0].UID == a[0].UID && c[1].UID == a[1].UID && c[2].UID == a[2].UID {
		t.Error("different seeds, same people")
	}
	ous := map[string]int{}
	disabled, twoMails := 0, 0
	for _, p := range a {
		ous[p.OU]++
		if p.Disabled() {
			disabled++
		}
		if len(p.Mail) > 1 {
			twoMails++
		}
	}
	if ous["Staff"] == 0 || ous["Students"] == 0 || disabled == 0 || twoMails == 0 {
		t.Errorf("population: %v, disabled %d, two mails %d", ous, disabled, twoMails)
	}
}

// TestSlapdScale measures GeneratePeople+WriteLDIF+slapadd+start and a full
// paged search for TESTENV_SCALE people (skipped unless set), e.g.
// TESTENV_SCALE=100000 go test -run SlapdScale -v ./testenv/
func TestSlapdScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("TESTENV_SCALE"))
	if n <= 0 {
		t.Skip("set TESTENV_SCALE=N to measure slapd with N people")
	}
	start := time.Now()
	people := GeneratePeople(n, 42)
	gen := time.Since(start)
	s := StartSlapd(t, people)
	t.Logf("%d people: generate %v, LDIF+slapadd+start %v, total %v", n, gen, time.Since(start)-gen, time.Since(start))

	c := dialSlapd(t, s)
	start = time.Now()
	count := 0
	for _, size := range []uint32{500, 1000} {
		res, err := c.SearchWithPaging(search("(&(objectClass=user)(sAMAccountName=*))",
			"sAMAccountName", "mail", "givenName", "sn", "memberOf", "userAccountControl"), size)
		if err != nil {
			t.Fatalf("paged search (page %d): %v", size, err)
		}
		count = len(res.Entries)
		if count != n {
			t.Fatalf("paged search (page %d): %d entries, want %d", size, count, n)
		}
		t.Logf("paged search, page size %d: %d entries in %v", size, count, time.Since(start))
		start = time.Now()
	}
}

func TestSlapdNotInstalled(t *testing.T) {
	saved := SlapdPath
	SlapdPath = "/nonexistent/slapd"
	defer func() { SlapdPath = saved }()
	_, _, err := StartSlapdServer(t.TempDir(), nil)
	if !errors.Is(err, ErrSlapdNotInstalled) {
		t.Fatalf("err = %v, want ErrSlapdNotInstalled", err)
	}
}

func TestSlapdStartFailureReportsStderr(t *testing.T) {
	// A person with an attribute the schema does not know makes slapadd fail.
	_, _, err := StartSlapdServer(t.TempDir(), []Person{{UID: "x", Extra: map[string][]string{"noSuchAttribute": {"1"}}}})
	if err == nil || !strings.Contains(err.Error(), "slapadd") || !strings.Contains(err.Error(), "noSuchAttribute") {
		t.Fatalf("err = %v, want slapadd's complaint", err)
	}
	t.Log(err)
}
