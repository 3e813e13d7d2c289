package dirsync_test

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/dirsync"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/testenv"
	"github.com/authority-server/authority/users"
)

// profileInput maps title, department, division, manager, l, st and c.
func profileInput(sl *testenv.Slapd) ldapauth.ServerInput {
	in := slapdInput(sl)
	in.TitleAttribute, in.DepartmentAttribute, in.DivisionAttribute = ptr("title"), ptr("department"), ptr("division")
	in.ManagerAttribute, in.CityAttribute, in.StateAttribute, in.CountryAttribute = ptr("manager"), ptr("l"), ptr("st"), ptr("c")
	return in
}

// TestSyncProfileSlapd: title, department, division, manager, l, st and c
// mapped, against slapd, with more entries than one page. The managers
// come last in the search, after their reports, and have no stored DN
// before the run: their DNs resolve all the same, a manager DN written in
// another case and spacing too. An unknown DN, a filter injection in the
// manager attribute and a report naming itself leave managerId empty.
// Over-long values and control characters are not taken (a warning; the
// stored value stays). Simulate shows exactly the changes the real run
// then makes, and a second run changes nothing.
func TestSyncProfileSlapd(t *testing.T) {
	e := start(t)
	const n = 1100 // three pages of 500
	base := testenv.BaseDN
	var people []testenv.Person
	boss := testenv.Person{UID: "boss", GivenName: "Big", SN: "Boss", Mail: []string{"boss@example.com"}, OU: "Board",
		Extra: map[string][]string{"title": {"CEO"}, "l": {"Zürich"}, "c": {"CH"}}}
	vice := testenv.Person{UID: "vice", GivenName: "Vice", SN: "Boss", Mail: []string{"vice@example.com"}, OU: "Board",
		Extra: map[string][]string{"title": {"VP"}, "manager": {boss.DN(base)}}}
	for i := range n {
		uid := fmt.Sprintf("p%04d", i)
		mgr := boss.DN(base)
		if i%2 == 1 {
			mgr = vice.DN(base)
		}
		people = append(people, testenv.Person{UID: uid, GivenName: "Person", SN: uid, Mail: []string{uid + "@example.com"},
			Extra: map[string][]string{"title": {"Engineer " + uid}, "department": {"R&D"}, "division": {"Div " + fmt.Sprint(i%3)},
				"manager": {mgr}, "l": {"Basel"}, "st": {"BS"}, "c": {"CH"}}})
	}
	odd := map[string][]string{
		"p0000": {strings.ToUpper("CN=Big Boss , OU=Board, " + base)},                 // the boss, in other case and spacing
		"p0001": {"cn=Nobody,ou=Board," + base},                                       // nobody has it
		"p0002": {"cn=" + ldap.EscapeDN("*)(uid=*") + ",ou=Board," + base},            // a filter injection
		"p0003": {"cn=Person p0003,ou=People," + base},                                // itself
		"p0004": {"cn=" + ldap.EscapeDN("x)(|(objectClass=*)") + ",ou=Board," + base}, // another
	}
	for uid, v := range odd {
		i := int(uid[4] - '0')
		people[i].Extra["manager"] = v
	}
	people[5].Extra["title"] = []string{strings.Repeat("t", users.MaxProfileLength+1)}
	people = append(people, vice, boss) // the managers come after their reports
	sl := testenv.StartSlapd(t, people)
	if err := sl.Replace("p0006", "department", "Sales\nInjected: line"); err != nil {
		t.Fatal(err)
	}
	srv := e.server(profileInput(sl))
	org := e.ldapOrg("Campus", srv.ID)
	ids := e.users(org.ID, uids(people)...)
	pages := 0
	dirsync.SetPageHook(e.App.Sync, func(stage string, _ int64, _ int) {
		if stage == dirsync.HookProcessed {
			pages++
		}
	})

	sim := e.sync(dirsync.Request{Simulate: true})
	if sim.Status != dirsync.StatusOK {
		t.Fatalf("simulated run: %s %q", sim.Status, sim.Message)
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	if u := e.user(ids["p0010"]); u.Title != "" || u.ManagerID != nil {
		t.Fatalf("a simulation wrote the profile: %+v", u)
	}
	realRun := e.sync(dirsync.Request{})
	if realRun.Status != dirsync.StatusOK {
		t.Fatalf("run: %s %q", realRun.Status, realRun.Message)
	}
	if got, want := changeLines(realRun), changeLines(sim); got != want {
		t.Errorf("the simulation differs from the run:\nsimulated:\n%.3000s\nreal:\n%.3000s", want, got)
	}

	bossID, viceID := ids["boss"], ids["vice"]
	for i, p := range people[:n] {
		u := e.user(ids[p.UID])
		want := &bossID
		if i%2 == 1 {
			want = &viceID
		}
		switch p.UID {
		case "p0001", "p0002", "p0003", "p0004":
			want = nil
		}
		if !sameID(u.ManagerID, want) {
			t.Errorf("%s: managerId %v, want %v (manager attribute %q)", p.UID, show(u.ManagerID), show(want), p.Extra["manager"])
		}
		wantTitle := "Engineer " + p.UID
		if p.UID == "p0005" {
			wantTitle = "" // over-long: not taken
		}
		wantDept := "R&D"
		if p.UID == "p0006" {
			wantDept = "" // a control character: not taken
		}
		if u.Title != wantTitle || u.Department != wantDept || u.Division != fmt.Sprintf("Div %d", i%3) ||
			u.City != "Basel" || u.State != "BS" || u.Country != "CH" || u.EmployeeType != "" || u.LDAPDN == "" {
			t.Errorf("%s: profile %+v", p.UID, u)
			if i > 20 {
				break
			}
		}
	}
	if u := e.user(viceID); !sameID(u.ManagerID, &bossID) || u.Title != "VP" {
		t.Errorf("vice: %+v", u)
	}
	if u := e.user(bossID); u.ManagerID != nil || u.Title != "CEO" || u.City != "Zürich" || u.State != "" {
		t.Errorf("boss: %+v", u)
	}
	var warned []string
	for _, c := range realRun.Changes {
		if c.Change == dirsync.ChangeWarning {
			warned = append(warned, c.Username+": "+c.Message)
		}
	}
	if len(warned) != 2 || !strings.Contains(strings.Join(warned, "\n"), "p0005: ") || !strings.Contains(strings.Join(warned, "\n"), "p0006: ") {
		t.Errorf("warnings: %q", warned)
	}
	var line dirsync.Change
	for _, c := range changesOf(realRun, "p0000") {
		if c.Change == dirsync.ChangeProfileUpdated {
			line = c
		}
	}
	if !strings.Contains(line.To, "title: Engineer p0000") || !strings.Contains(line.To, fmt.Sprintf("managerId: %d (boss)", bossID)) ||
		!strings.Contains(line.From, "managerId: ;") && !strings.HasSuffix(line.From, "managerId: ") {
		t.Errorf("p0000's change line: %+v", line)
	}

	// Nothing changed in the directory: nothing changes.
	again := e.sync(dirsync.Request{})
	for _, c := range again.Changes {
		if c.Change == dirsync.ChangeProfileUpdated {
			t.Errorf("second run: %+v", c)
		}
	}
	// The directory changes a manager and a title; the stored values follow.
	if err := sl.Replace("p0010", "manager", vice.DN(base)); err != nil {
		t.Fatal(err)
	}
	if err := sl.Replace("p0011", "title", "Architect"); err != nil {
		t.Fatal(err)
	}
	third := e.sync(dirsync.Request{})
	if u := e.user(ids["p0010"]); !sameID(u.ManagerID, &viceID) {
		t.Errorf("p0010's manager did not follow the directory: %v", show(u.ManagerID))
	}
	if u := e.user(ids["p0011"]); u.Title != "Architect" {
		t.Errorf("p0011's title: %q", u.Title)
	}
	if got := strings.Count(changeLines(third), dirsync.ChangeProfileUpdated); got != 2 {
		t.Errorf("third run: %d profile lines:\n%s", got, changeLines(third))
	}
}

// changeLines is a run's change lines, sorted, one per line.
func changeLines(r dirsync.Run) string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, fmt.Sprintf("%d %s %s %q -> %q %s", c.UserID, c.Username, c.Change, c.From, c.To, c.Message))
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func sameID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func show(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}
