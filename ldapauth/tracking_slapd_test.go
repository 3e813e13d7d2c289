package ldapauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/testenv"
)

// trackingPeople are n people in ou=People with employeeType Employee and no
// objectGUID (as on a real OpenLDAP: Person.UID is then the entryUUID).
func trackingPeople(n int, prefix, ou string) []testenv.Person {
	var out []testenv.Person
	for i := 1; i <= n; i++ {
		uid := fmt.Sprintf("%s%04d", prefix, i)
		out = append(out, testenv.Person{UID: uid, GivenName: "Given", SN: uid, Mail: []string{uid + "@example.com"},
			OU: ou, EmployeeType: "Employee", Extra: map[string][]string{"objectGUID": {}}})
	}
	return out
}

// trackingSlapdServer: base ou=People, only employees.
func trackingSlapdServer(s *testenv.Slapd) Server {
	srv := slapdServer(s)
	srv.URL = "ldap://" + s.Addr + "/ou=People," + s.BaseDN
	srv.SearchFilter = "(&(objectClass=user)(employeeType=Employee)(uid=%u))"
	return srv
}

// readAll runs ReadChanges and returns the changes and the usernames of
// the changed entries, sorted, checking the pages on the way.
func readAll(t *testing.T, c *Conn, st TrackingState) (Changes, []string, []int) {
	t.Helper()
	var names []string
	var pages []int
	ch, err := c.ReadChanges(testCtx(t), st, func(page []*Entry) error {
		pages = append(pages, len(page))
		for _, e := range page {
			p := c.srv.Person(e)
			if len(p.Usernames) != 1 || p.UID == "" || e.Get("userPassword") != nil {
				t.Errorf("changed entry %s: %+v", e.DN, p)
			}
			names = append(names, p.Usernames[0])
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ReadChanges(%s): %v", st.Mode, err)
	}
	sort.Strings(names)
	sort.Strings(ch.Deleted)
	if ch.Changed != len(names) {
		t.Errorf("Changed %d, fn got %d", ch.Changed, len(names))
	}
	return ch, names, pages
}

func uidsOf(t *testing.T, c *Conn) map[string]string {
	t.Helper()
	out := map[string]string{}
	if err := c.SearchAll(testCtx(t), func(page []*Entry) error {
		for _, e := range page {
			p := c.srv.Person(e)
			out[p.Usernames[0]] = p.UID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func sortedOf(m map[string]string, keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, m[k])
	}
	sort.Strings(out)
	return out
}

// TestTrackingSlapd: syncrepl against OpenLDAP's syncprov, and the
// timestamp mode, see exactly the changes made after the baseline: added,
// modified, renamed (username and DN) entries as changed; deleted, moved
// out of the base and no longer matching entries as deleted (timestamp:
// all but the deletion).
func TestTrackingSlapd(t *testing.T) {
	people := append(trackingPeople(10, "p", "People"), trackingPeople(2, "x", "Other")...)
	s := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	srv := trackingSlapdServer(s)
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if mode, err := c.DetectTracking(ctx); err != nil || mode != TrackingSyncrepl {
		t.Fatalf("DetectTracking = %q, %v", mode, err)
	}
	before := uidsOf(t, c)
	if len(before) != 10 {
		t.Fatalf("%d in scope", len(before))
	}
	time.Sleep(2 * time.Second) // the loaded entries' modifyTimestamp is now well before the baseline
	base, err := c.TrackingBaseline(ctx, TrackingAuto)
	if err != nil || base.Mode != TrackingSyncrepl || len(base.Cookie) == 0 || base.Scope != srv.TrackingScope(TrackingSyncrepl) {
		t.Fatalf("baseline %+v, %v", base, err)
	}
	js, _ := json.Marshal(base)
	var st TrackingState
	if err := json.Unmarshal(js, &st); err != nil || string(st.Cookie) != string(base.Cookie) {
		t.Fatalf("JSON round trip: %s %v", js, err)
	}
	tsBase, err := c.TrackingBaseline(ctx, TrackingTimestamp)
	if err != nil {
		t.Fatal(err)
	}
	// Only changes from here on: move the saved time forward so that the
	// overlap starts a second before the baseline.
	bt, _ := time.Parse(generalizedTime, tsBase.Time)
	tsBase.Time = bt.Add(TimestampOverlap - time.Second).Format(generalizedTime)

	if ch, names, _ := readAll(t, c, st); len(names) != 0 || len(ch.Deleted) != 0 || string(ch.Next.Cookie) != string(st.Cookie) {
		t.Fatalf("no changes yet: %v %+v", names, ch)
	}

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	add := trackingPeople(11, "p", "People")[10]
	must(s.AddPerson(add))                                 // added: p0011
	must(s.AddPerson(trackingPeople(3, "x", "Other")[2]))  // added outside the base: not seen
	must(s.Replace("p0001", "givenName", "Changed"))       // modified
	must(s.DeletePerson("p0002"))                          // deleted
	must(s.Replace("p0003", "uid", "p0003new"))            // username changed
	must(s.MovePerson("p0005", "Alumni"))                  // moved out of the base
	must(s.Replace("p0006", "employeeType", "Contractor")) // no longer matches the filter
	admin, err := s.Admin()                                // p0004: a modrdn within the base
	must(err)
	must(admin.ModifyDN(ldap.NewModifyDNRequest(s.DN("p0004"), "cn=Renamed Four", true, "")))
	admin.Close()

	ch, names, _ := readAll(t, c, st)
	if want := []string{"p0001", "p0003new", "p0004", "p0011"}; !slices.Equal(names, want) {
		t.Errorf("syncrepl changed %v, want %v", names, want)
	}
	if want := sortedOf(before, "p0002", "p0005", "p0006"); !slices.Equal(ch.Deleted, want) {
		t.Errorf("syncrepl deleted %v, want %v (p0002, p0005, p0006)", ch.Deleted, want)
	}
	if !ch.SeesDeletes || ch.Mode != TrackingSyncrepl || len(ch.Next.Cookie) == 0 || ch.Next.Scope != st.Scope {
		t.Errorf("changes %+v", ch)
	}
	if ch2, names2, _ := readAll(t, c, ch.Next); len(names2) != 0 || len(ch2.Deleted) != 0 {
		t.Errorf("after the next state: %v %v", names2, ch2.Deleted)
	}

	tch, tnames, _ := readAll(t, c, tsBase)
	if want := []string{"p0001", "p0003new", "p0004", "p0011"}; !slices.Equal(tnames, want) {
		t.Errorf("timestamp changed %v, want %v", tnames, want)
	}
	// The timestamp search runs over the naming context (to see moves out of
	// the base), so the person added outside the base is a candidate too:
	// out of scope, so "deleted" (an id that matches no user).
	outside := entryUUIDOf(t, s, "x0003")
	if want := append(sortedOf(before, "p0005", "p0006"), outside); !sameSet(tch.Deleted, want) {
		t.Errorf("timestamp deleted %v, want %v (p0005, p0006, x0003 outside the base; it cannot see p0002)", tch.Deleted, want)
	}
	if tch.SeesDeletes || tch.Note == "" || tch.Next.Time == "" {
		t.Errorf("timestamp changes %+v", tch)
	}

	// Refused states: run a full sync instead.
	for name, bad := range map[string]TrackingState{
		"garbage cookie": {Mode: TrackingSyncrepl, Cookie: []byte("garbage"), Scope: st.Scope},
		"bad csn":        {Mode: TrackingSyncrepl, Cookie: []byte("rid=000,csn=garbage"), Scope: st.Scope},
		"stale cookie":   {Mode: TrackingSyncrepl, Cookie: []byte("rid=000,csn=19990101000000.000000Z#000000#000#000000"), Scope: st.Scope},
		"no cookie":      {Mode: TrackingSyncrepl, Scope: st.Scope},
		"other scope":    {Mode: TrackingSyncrepl, Cookie: st.Cookie, Scope: trackingScopeWithFilter(srv, "(uid=%u)")},
		"other mode":     {Mode: TrackingTimestamp, Time: tsBase.Time, Scope: st.Scope},
		"unknown mode":   {Mode: "magic", Scope: st.Scope},
		"none":           {Mode: TrackingNone, Scope: srv.TrackingScope(TrackingNone)},
	} {
		n := 0
		_, err := c.ReadChanges(ctx, bad, func(page []*Entry) error { n += len(page); return nil })
		if !errors.Is(err, ErrTrackingStateRefused) || n != 0 {
			t.Errorf("%s: %v (%d entries), want ErrTrackingStateRefused", name, err, n)
		}
	}
	// The connection still works after a refusal.
	if _, _, _ = readAll(t, c, ch.Next); t.Failed() {
		return
	}

	// Without syncprov: auto chooses timestamp (OpenLDAP has no USN).
	plain := testenv.StartSlapd(t, trackingPeople(2, "p", "People"), testenv.WithoutSyncprov())
	pc, err := Dial(ctx, trackingSlapdServer(plain))
	must(err)
	defer pc.Close()
	if mode, err := pc.DetectTracking(ctx); err != nil || mode != TrackingTimestamp {
		t.Errorf("without syncprov: %q %v", mode, err)
	}
	if _, err := pc.TrackingBaseline(ctx, TrackingSyncrepl); !errors.Is(err, ErrTrackingStateRefused) {
		t.Errorf("syncrepl baseline without syncprov: %v", err)
	}
}

// trackingScopeWithFilter is the scope srv would have with another filter.
func trackingScopeWithFilter(srv Server, filter string) string {
	srv.SearchFilter = filter
	return srv.TrackingScope(TrackingSyncrepl)
}

// TestTrackingSlapdManyChanges: 1,200 changes come in pages of 500; a
// service account whose size limit is below what a syncrepl search returns
// gets an error, never a short result.
func TestTrackingSlapdManyChanges(t *testing.T) {
	people := trackingPeople(1300, "m", "People")
	s := testenv.StartSlapd(t, people, testenv.WithUnlimitedServiceAccount())
	ctx := testCtx(t)
	c, err := Dial(ctx, trackingSlapdServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	st, err := c.TrackingBaseline(ctx, TrackingSyncrepl)
	if err != nil {
		t.Fatal(err)
	}
	if err := modifyMany(s, people[:1200]); err != nil {
		t.Fatal(err)
	}
	ch, names, pages := readAll(t, c, st)
	if len(names) != 1200 || ch.Changed != 1200 || len(ch.Deleted) != 0 || !slices.Equal(pages, []int{500, 500, 200}) {
		t.Errorf("changed %d, deleted %d, pages %v", len(names), len(ch.Deleted), pages)
	}
	for i, n := range names {
		if n != people[i].UID {
			t.Fatalf("changed[%d] = %s, want %s", i, n, people[i].UID)
		}
	}

	limited := testenv.StartSlapd(t, people)
	lc, err := Dial(ctx, trackingSlapdServer(limited))
	if err != nil {
		t.Fatal(err)
	}
	defer lc.Close()
	if st, err := lc.TrackingBaseline(ctx, TrackingSyncrepl); err == nil || errors.Is(err, ErrTrackingStateRefused) ||
		!ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Errorf("baseline over the size limit: %+v, %v", st, err)
	}
}

// modifyMany changes the givenName of people over one admin connection.
func modifyMany(s *testenv.Slapd, people []testenv.Person) error {
	admin, err := s.Admin()
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, p := range people {
		m := ldap.NewModifyRequest(p.DN(s.BaseDN), nil)
		m.Replace("givenName", []string{"Changed " + strings.ToUpper(p.UID[:1])})
		if err := admin.Modify(m); err != nil {
			return err
		}
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// entryUUIDOf reads the entryUUID of the person with this uid as the rootdn.
func entryUUIDOf(t *testing.T, s *testenv.Slapd, uid string) string {
	t.Helper()
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	res, err := admin.Search(ldap.NewSearchRequest(s.DN(uid), ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"entryUUID"}, nil))
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("entryUUID of %s: %v", uid, err)
	}
	return res.Entries[0].GetAttributeValue("entryUUID")
}
