package ldapauth

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/testenv"
)

// Expand follows the index transitively, stops at cycles, compares DNs as
// parsed DNs whatever their case and spacing, derives the direct groups from
// the member values when memberOf is absent, and never returns nil.
func TestGroupIndexExpand(t *testing.T) {
	g := &GroupIndex{parents: map[string][]string{}, names: map[string]string{}, memo: map[string][]string{}}
	g.add("cn=A,ou=Groups,dc=x", []string{"CN=Alice, OU=People, DC=x", "cn=Zed,ou=People,dc=x"})
	g.add("cn=B,ou=Groups,dc=x", []string{"CN=a,OU=groups,DC=X"})
	g.add("cn=C,ou=Groups,dc=x", []string{"cn=B,ou=Groups,dc=x"})
	g.add("cn=A,ou=Groups,dc=x", []string{"cn=C,ou=Groups,dc=x"}) // the cycle C → A (a second entry for A, as a page may repeat it)
	g.add("cn=U,ou=Groups,dc=x", []string{"cn=Bob,ou=People,dc=x#'0101'B"})
	g.add("cn=Lonely,ou=Groups,dc=x", nil)
	if g.Groups != 5 {
		t.Errorf("Groups = %d, want 5", g.Groups)
	}
	abc := []string{"cn=A,ou=Groups,dc=x", "cn=B,ou=Groups,dc=x", "cn=C,ou=Groups,dc=x"}
	for _, tc := range []struct {
		name     string
		memberOf []string
		dn       string
		want     []string
	}{
		{"memberOf", []string{"CN=A,OU=Groups,DC=x"}, "cn=alice,ou=people,dc=x", abc},
		{"no memberOf: from the member values", nil, "cn=ALICE,ou=People,dc=x", abc},
		{"member of an inner group of the cycle", nil, "cn=zed,ou=people,dc=x", abc},
		{"uniqueMember with a unique id", nil, "cn=bob,ou=people,dc=x", []string{"cn=U,ou=Groups,dc=x"}},
		{"a group outside the base stays as given", []string{"cn=Far,dc=elsewhere"}, "cn=carol,dc=x", []string{"cn=Far,dc=elsewhere"}},
		{"no groups", nil, "cn=nobody,dc=x", []string{}},
	} {
		got := g.Expand(tc.memberOf, tc.dn)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Expand(%v, %q) = %#v, want %#v", tc.name, tc.memberOf, tc.dn, got, tc.want)
		}
	}
	var none *GroupIndex
	if got := none.Expand([]string{"cn=A,dc=x", "CN=a, DC=X"}, "cn=p,dc=x"); !reflect.DeepEqual(got, []string{"cn=A,dc=x"}) {
		t.Errorf("nil index: %v", got)
	}
	// The fast path gives what the parser gives.
	for _, dn := range []string{"cn=A,ou=Groups,dc=x", "CN=Alice Smith, OU=People , DC=Example,DC=com", "cn=Zoë Żak,dc=x", "uid=a-b_c,dc=x",
		"cn=R&D,ou=Groups,dc=x", "cn=a b,dc=x"} {
		fast, ok := plainCanonicalDN(dn)
		if slow := parsedCanonicalDN(dn); !ok || fast != slow {
			t.Errorf("%q: fast %q (%v), parsed %q", dn, fast, ok, slow)
		}
	}
	for _, dn := range []string{`cn=a\,b,dc=x`, "cn=a+sn=b,dc=x", `cn="q",dc=x`, "2.5.4.3=a,dc=x", "cn=a=b,dc=x", "cn=,dc=x", "cn=a,,dc=x"} {
		if _, ok := plainCanonicalDN(dn); ok {
			t.Errorf("%q took the fast path", dn)
		}
	}
	if canonicalDN(`CN=Smith\, John,DC=x`) != canonicalDN(`cn=smith\2c john, dc=X`) {
		t.Errorf("escaped commas: %q vs %q", canonicalDN(`CN=Smith\, John,DC=x`), canonicalDN(`cn=smith\2c john, dc=X`))
	}
	for opt, want := range map[string]int{"range=0-1499": 1500, "range=1500-*": -1, "": -1, "x;range=10-19": 20} {
		n, more := nextRange(opt)
		if (want < 0 && more) || (want >= 0 && (!more || n != want)) {
			t.Errorf("nextRange(%q) = %d, %v; want %d", opt, n, more, want)
		}
	}
}

// nestedSlapd starts slapd with groups A in B in C in A (a cycle), plus
// five groups of one person each so that the group search pages (page size
// 2, unpaged size limit 3: an unpaged group search would fail).
func nestedSlapd(t *testing.T) (*testenv.Slapd, Server) {
	t.Helper()
	people := []testenv.Person{
		{UID: "alice", GivenName: "Alice", SN: "A", Mail: []string{"alice@example.com"}, MemberOf: []string{"A"}, Password: "pw-alice"},
		{UID: "bob", GivenName: "Bob", SN: "B", Mail: []string{"bob@example.com"}},
	}
	for i := 1; i <= 5; i++ {
		people = append(people, testenv.Person{UID: fmt.Sprintf("p%d", i), MemberOf: []string{fmt.Sprintf("G%d", i)}})
	}
	s := testenv.StartSlapd(t, people, testenv.WithSizeLimit(3))
	for _, e := range [][2]string{{"A", "B"}, {"B", "C"}, {"C", "A"}} {
		if err := s.NestGroup(e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	srv := slapdServer(s)
	srv.PageSize = 2
	srv.NestedGroups = true
	return s, srv
}

// Against slapd: the group load pages through more groups than one page,
// and a person in A gets A, B and C (the cycle C → A ends); with memberOf
// gone from the person (no memberof overlay) the direct group comes from
// the member values. The admin tools see it; with nestedGroups off a
// script's entry.memberOfAll is undefined.
func TestNestedGroupsSlapd(t *testing.T) {
	s, srv := nestedSlapd(t)
	ctx := testCtx(t)
	c, err := Dial(ctx, srv)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	g, err := c.LoadGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Groups != 8 {
		t.Errorf("groups loaded: %d, want 8 (A, B, C, G1..G5)", g.Groups)
	}
	abc := []string{testenv.GroupDN(testenv.BaseDN, "A"), testenv.GroupDN(testenv.BaseDN, "B"), testenv.GroupDN(testenv.BaseDN, "C")}
	found, err := c.FindUsers(ctx, "alice")
	if err != nil || len(found) != 1 {
		t.Fatalf("alice: %v %v", found, err)
	}
	g.Apply(found[0])
	if got := found[0].Get(MemberOfAll); !reflect.DeepEqual(got, abc) {
		t.Errorf("alice's memberOfAll = %v, want %v", got, abc)
	}

	// No memberOf on the person: the direct group from A's member values.
	if err := s.Replace("alice", "memberOf"); err != nil {
		t.Fatal(err)
	}
	nested := `function(entry) { return typeof entry.memberOfAll === "undefined" ? ["undefined"] : entry.memberOfAll.map(function(g) { return g.split(",")[0]; }); }`
	res, err := TryScript(ctx, srv, KindRoleName, nested, "", "alice")
	if err != nil || res.Error != "" {
		t.Fatalf("TryScript: %+v %v", res, err)
	}
	if got := strings.Join(res.Result.([]string), " "); got != "cn=A cn=B cn=C" {
		t.Errorf("TryScript with nested groups on, no memberOf: %q, want cn=A cn=B cn=C", got)
	}
	res, err = TryScript(ctx, srv, KindRoleName, nested, "", "bob")
	if err != nil || res.Error != "" || len(res.Result.([]string)) != 0 {
		t.Errorf("bob (no groups) with nested groups on: %+v %v, want an empty array", res, err)
	}
	srv.RoleNameScript = nested
	pv, err := Preview(ctx, srv, "alice", 1, 10)
	if err != nil || len(pv.Entries) != 1 || strings.Join(pv.Entries[0].Roles, " ") != "cn=A cn=B cn=C" {
		t.Errorf("preview: %+v %v", pv, err)
	}
	e := &Entry{DN: s.DN("alice"), Attrs: map[string][]string{}}
	if err := AddMemberOfAll(ctx, srv, e); err != nil || len(e.Get(MemberOfAll)) != 3 {
		t.Errorf("AddMemberOfAll: %v %v", e.Attrs, err)
	}

	srv.NestedGroups = false
	res, err = TryScript(ctx, srv, KindRoleName, nested, "", "alice")
	if err != nil || res.Error != "" || strings.Join(res.Result.([]string), " ") != "undefined" {
		t.Errorf("with nested groups off: %+v %v, want memberOfAll undefined", res, err)
	}
	e = &Entry{DN: s.DN("alice"), Attrs: map[string][]string{}}
	if err := AddMemberOfAll(ctx, srv, e); err != nil || e.Get(MemberOfAll) != nil {
		t.Errorf("AddMemberOfAll with nested groups off: %v %v", e.Attrs, err)
	}
}

// The stable id comes from the chosen attribute: entryUUID instead of the
// objectGUID slapd's entries also have; nsUniqueId (389 DS) as a plain
// string; auto takes objectGUID first, then entryUUID.
func TestStableIDAttributeSlapd(t *testing.T) {
	const nsID = "66446001-1dd211b2-8a8fc1a4-2b1e11a9"
	people := []testenv.Person{
		{UID: "alice", Mail: []string{"alice@example.com"}, Extra: map[string][]string{"nsUniqueId": {nsID}, "ipaUniqueID": {"ipa-alice"}}},
		{UID: "noguid", Mail: []string{"noguid@example.com"}, Extra: map[string][]string{"objectGUID": {}}},
	}
	s := testenv.StartSlapd(t, people)
	ctx := testCtx(t)
	uid := func(stable, username string) (string, *Entry) {
		t.Helper()
		srv := slapdServer(s)
		srv.StableIDAttribute = stable
		srv.ActiveScript = DefaultActiveScript // only the attributes asked for
		c, err := Dial(ctx, srv)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		found, err := c.FindUsers(ctx, username)
		if err != nil || len(found) != 1 {
			t.Fatalf("%s: %v %v", username, found, err)
		}
		return srv.Person(found[0]).UID, found[0]
	}
	autoID, e := uid(StableIDAuto, "alice")
	if len(autoID) != 36 || autoID != e.First("objectGUID") {
		t.Errorf("auto: %q, want the objectGUID %q", autoID, e.First("objectGUID"))
	}
	uuid, e := uid(StableIDEntryUUID, "alice")
	if uuid == "" || uuid == autoID || uuid != e.First("entryUUID") || e.First("objectGUID") != "" {
		t.Errorf("entryUUID: %q (entry %v): want the entryUUID, and objectGUID not asked for", uuid, e.Attrs)
	}
	if got, _ := uid(StableIDNsUniqueID, "alice"); got != nsID {
		t.Errorf("nsUniqueId: %q, want %q", got, nsID)
	}
	if got, _ := uid(StableIDIpaUniqueID, "alice"); got != "ipa-alice" {
		t.Errorf("ipaUniqueID: %q", got)
	}
	if got, e := uid(StableIDAuto, "noguid"); got == "" || got != e.First("entryUUID") {
		t.Errorf("auto without objectGUID: %q, want the entryUUID", got)
	}
	if got, _ := uid(StableIDNsUniqueID, "noguid"); got != "" {
		t.Errorf("nsUniqueId on an entry without one: %q, want none", got)
	}
}

// The setting is validated naming the field and the allowed values, and its
// spelling is made canonical.
func TestStableIDAttributeValidation(t *testing.T) {
	srv := Server{Name: "x", URL: "ldap://127.0.0.1:389/dc=x", BindAnonymously: true, SearchFilter: "(uid=%u)", ActiveScript: DefaultActiveScript,
		TimeoutSeconds: 10, PageSize: 100}
	for in, want := range map[string]string{"": StableIDAuto, "AUTO": StableIDAuto, " entryuuid ": StableIDEntryUUID, "NSUNIQUEID": StableIDNsUniqueID,
		"objectguid": StableIDObjectGUID, "ipauniqueid": StableIDIpaUniqueID} {
		s := srv
		s.StableIDAttribute = in
		if err := normalize(&s); err != nil || s.StableIDAttribute != want {
			t.Errorf("%q: %q %v, want %q", in, s.StableIDAttribute, err, want)
		}
	}
	s := srv
	s.StableIDAttribute = "uid"
	e, ok := apperr.As(Validate(s))
	if !ok || e.Field != "stableIdAttribute" || !strings.Contains(e.Error(), "auto, objectGUID, entryUUID, nsUniqueId or ipaUniqueID") {
		t.Errorf("uid: %v, want an error naming stableIdAttribute and the allowed values", e)
	}
}

// Against a real Active Directory (Samba): alice is in Engineers, a member
// of R&D, a member of All Staff; with a cycle added (All Staff a member of
// Engineers) the expansion still ends. The group search runs from the
// domain root (continuation references ignored) in pages of 5.
func TestNestedGroupsSambaAD(t *testing.T) {
	s := testenv.StartSambaAD(t, testenv.SambaOptions{})
	ctx := testCtx(t)
	admin, err := s.Admin()
	if err != nil {
		t.Fatal(err)
	}
	m := ldap.NewModifyRequest(testenv.SambaGroupDN("Engineers"), nil)
	m.Add("member", []string{testenv.SambaGroupDN("All Staff")})
	err = admin.Modify(m)
	admin.Close()
	if err != nil {
		t.Fatalf("make the cycle All Staff → Engineers: %v", err)
	}
	srv := sambaServer(s)
	srv.NestedGroups, srv.PageSize = true, 5
	nested := `function(entry) { return entry.memberOfAll.map(function(g) { return g.split(",")[0]; }); }`
	res, err := TryScript(ctx, srv, KindRoleName, nested, "", "alice")
	if err != nil || res.Error != "" {
		t.Fatalf("TryScript: %+v %v", res, err)
	}
	if got := strings.Join(res.Result.([]string), "|"); got != "CN=Engineers|CN=All Staff|CN=R&D" {
		t.Errorf("alice's memberOfAll: %q, want Engineers, then All Staff and R&D", got)
	}
	res, err = TryScript(ctx, srv, KindRoleName, nested, "", "carol")
	if err != nil || res.Error != "" || strings.Join(res.Result.([]string), "|") != "CN=Contractors" {
		t.Errorf("carol: %+v %v", res, err)
	}
}

// glauth (the demo directory) has no group entries the group search finds,
// only the memberOf it generates: memberOfAll is then memberOf, and the
// group search is no error.
func TestNestedGroupsGlauth(t *testing.T) {
	users, groups := testenv.DemoDirectory()
	g := testenv.StartGlauth(t, users, groups...)
	srv := glauthServer(g)
	srv.NestedGroups = true
	ctx := testCtx(t)
	same := `function(entry) { return [String(JSON.stringify(entry.memberOfAll) === JSON.stringify(entry.memberOf || []))]; }`
	res, err := TryScript(ctx, srv, KindRoleName, same, "", "alice")
	if err != nil || res.Error != "" || strings.Join(res.Result.([]string), "") != "true" {
		t.Errorf("alice on glauth: %+v %v, want memberOfAll = memberOf", res, err)
	}
}
