package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/testenv"
)

// The vendor's documented example scripts (docs/rules.md section 4): the active
// script by the AD "account disabled" bit, the org by the DN's OU, the roles
// by memberOf.
const (
	activeScript   = script.ExampleActiveDisabled
	orgNameScript  = script.ExampleOrgNameByOU
	roleNameScript = script.ExampleRolesByGroup
)

// searchFilter is the LDAP server's filter: sAMAccountName is the username.
const searchFilter = "(&(objectClass=user)(sAMAccountName=%u))"

// roleGroups are the groups the role name script turns into roles.
var roleGroups = []string{"Security", "Support", "Managers", "OrgAdmins"}

// Shares of the people that change between registration (population A, the
// database) and the sync (population A', the directory), in per mille.
// Deactivations (disabled + removed) stay at 5%, under the default safety
// valve of 10%.
const (
	perMilleDisabled  = 30 // active in A, disabled (userAccountControl bit 2) in A'
	perMilleRemoved   = 20 // active in A, absent from A'
	perMilleMoved     = 30 // moved to an OU that the org name script maps to another org
	perMilleGroups    = 20 // a role-granting group added or removed
	perMilleReenabled = 5  // disabled in A (registered deactivated), enabled in A'
)

// ChangeCounts says how A' differs from A.
type ChangeCounts struct {
	Disabled      int `json:"disabled"`
	Removed       int `json:"removed"`
	Moved         int `json:"moved"`
	GroupsChanged int `json:"groupsChanged"`
	Reenabled     int `json:"reenabled"`
}

// SyncCounts are the counts a sync reports (dirsync.Counts' JSON names).
type SyncCounts struct {
	Users        int `json:"users"`
	Deactivated  int `json:"deactivated"`
	Activated    int `json:"activated"`
	Moved        int `json:"moved"`
	RolesChanged int `json:"rolesChanged"`
	Blocked      int `json:"blocked"`
	Errors       int `json:"errors"`
}

// derived is what the example scripts make of one person.
type derived struct {
	active bool
	org    string
	roles  []string // sorted
}

// population is the directory before (A, registered in the database) and
// after (A', loaded into slapd) the changes, with what a sync should report.
type population struct {
	before   []testenv.Person
	after    []testenv.Person
	derivedA map[string]derived // by lower(UID)
	changes  ChangeCounts
	expected SyncCounts // of a sync of A' over a database registered from A (plus the administrator)
	signIn   []string   // UIDs active in both A and A' (sign-in candidates)
	// unregistered are the UIDs of people in the directory (active and
	// unchanged in A and A') that are not in the database: the registration
	// load registers them. notInDB is the same set, by lower(UID).
	unregistered []string
	notInDB      map[string]bool
	genTime      time.Duration
}

// makePopulation generates n people (testenv.GeneratePeople plus members of
// the Security and OrgAdmins groups, so that every branch of the role script
// is used) and derives A' from them. The last unregistered people active in
// A stay unchanged and out of the database (for the registration load).
func makePopulation(n int, seed int64, unregistered int) (*population, error) {
	start := time.Now()
	a := testenv.GeneratePeople(n, seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0xbe5c))
	for i := range a {
		p := &a[i]
		if p.OU == "Staff" || p.OU == "Faculty" {
			if r.IntN(100) < 3 {
				p.MemberOf = append(p.MemberOf, "Security")
			}
			if r.IntN(100) < 2 {
				p.MemberOf = append(p.MemberOf, "OrgAdmins")
			}
		}
	}
	pop := &population{before: a, derivedA: make(map[string]derived, n), notInDB: map[string]bool{}}

	// A' starts as a deep copy of A, as an OpenLDAP directory has it: no
	// objectGUID, so that the stable id is entryUUID (set in the LDIF, so
	// that the database can be registered with it): syncrepl reports
	// deletions by entryUUID.
	after := make([]testenv.Person, len(a))
	for i, p := range a {
		after[i] = p.Clone()
		if after[i].Extra == nil {
			after[i].Extra = make(map[string][]string, 2)
		}
		after[i].Extra["objectGUID"] = nil
		after[i].Extra["entryUUID"] = []string{personUUID(p.UID)}
	}
	// Pick disjoint sets of people for each kind of change.
	order := r.Perm(n)
	taken := make([]bool, n)
	for i := n - 1; i >= 0 && len(pop.unregistered) < unregistered; i-- {
		if !a[i].Disabled() {
			taken[i] = true
			pop.unregistered = append(pop.unregistered, a[i].UID)
			pop.notInDB[strings.ToLower(a[i].UID)] = true
		}
	}
	pick := func(perMille int, ok func(i int) bool) []int {
		want := n * perMille / 1000
		if want == 0 && n >= 20 {
			want = 1
		}
		var out []int
		for _, i := range order {
			if len(out) == want {
				break
			}
			if !taken[i] && ok(i) {
				taken[i] = true
				out = append(out, i)
			}
		}
		return out
	}
	enabled := func(i int) bool { return !a[i].Disabled() }
	removed := map[int]bool{}
	for _, i := range pick(perMilleDisabled, enabled) {
		after[i].UserAccountControl |= 2
		pop.changes.Disabled++
	}
	for _, i := range pick(perMilleRemoved, enabled) {
		removed[i] = true
		pop.changes.Removed++
	}
	for _, i := range pick(perMilleMoved, enabled) {
		p := &after[i]
		switch p.OU {
		case "Staff", "Contractors":
			p.OU = "Students"
		default: // Students, Faculty
			p.OU = "Staff"
		}
		if !strings.Contains(p.CN, "("+p.UID+")") {
			p.CN += " (" + p.UID + ")" // unique within the new OU
		}
		pop.changes.Moved++
	}
	for _, i := range pick(perMilleGroups, enabled) {
		p := &after[i]
		if k := slices.IndexFunc(p.MemberOf, func(g string) bool { return slices.Contains(roleGroups, g) }); k >= 0 {
			p.MemberOf = slices.Delete(p.MemberOf, k, k+1)
		} else {
			p.MemberOf = append(p.MemberOf, roleGroups[r.IntN(len(roleGroups))])
		}
		pop.changes.GroupsChanged++
	}
	for _, i := range pick(perMilleReenabled, func(i int) bool { return a[i].Disabled() }) {
		after[i].UserAccountControl &^= 2
		pop.changes.Reenabled++
	}
	for i := range after {
		if !removed[i] {
			pop.after = append(pop.after, after[i])
		}
	}

	// What the scripts make of A and A', and so what the sync should do.
	ev, err := newEvaluator()
	if err != nil {
		return nil, err
	}
	afterByUID := make(map[string]*testenv.Person, len(pop.after))
	for i := range pop.after {
		afterByUID[strings.ToLower(pop.after[i].UID)] = &pop.after[i]
	}
	pop.expected.Users = n - len(pop.unregistered) + 1 // and the administrator (lockout guard: never deactivated)
	for _, p := range a {
		da, err := ev.eval(p)
		if err != nil {
			return nil, err
		}
		uid := strings.ToLower(p.UID)
		pop.derivedA[uid] = da
		if pop.notInDB[uid] {
			continue
		}
		q, present := afterByUID[uid]
		if !present {
			if da.active {
				pop.expected.Deactivated++
			}
			continue
		}
		db, err := ev.eval(*q)
		if err != nil {
			return nil, err
		}
		switch {
		case da.active && !db.active:
			pop.expected.Deactivated++
		case !da.active && db.active:
			pop.expected.Activated++
		}
		if !db.active {
			continue
		}
		if da.active {
			pop.signIn = append(pop.signIn, p.UID)
		}
		if db.org != da.org {
			pop.expected.Moved++
		}
		if !slices.Equal(db.roles, da.roles) {
			pop.expected.RolesChanged++
		}
	}
	pop.genTime = time.Since(start)
	return pop, nil
}

// personUUID is the entryUUID the bench gives the person with this UID in
// the directory (and registers in the database as the user's LDAP id).
func personUUID(uid string) string {
	b := testenv.PersonGUID(uid)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// evaluator runs the example scripts on a person as slapd would show it.
type evaluator struct {
	set    *script.Set
	runner *script.Runner
}

func newEvaluator() (*evaluator, error) {
	set, err := script.CompileSet(activeScript, orgNameScript, roleNameScript)
	if err != nil {
		return nil, fmt.Errorf("compile the example scripts: %w", err)
	}
	return &evaluator{set: set, runner: script.NewRunner(0)}, nil
}

func (ev *evaluator) eval(p testenv.Person) (derived, error) {
	uac := p.UserAccountControl
	if uac == 0 {
		uac = testenv.UACNormal
	}
	attrs := map[string][]string{"userAccountControl": {strconv.Itoa(uac)}, "sAMAccountName": {p.UID}}
	for _, g := range p.MemberOf {
		attrs["memberOf"] = append(attrs["memberOf"], testenv.GroupDN(testenv.BaseDN, g))
	}
	res := ev.runner.Run(ev.set, p.DN(testenv.BaseDN), attrs)
	if !res.OK() {
		return derived{}, fmt.Errorf("example scripts on %s: %s", p.UID, strings.Join(res.Errors, "; "))
	}
	roles := slices.Clone(res.Roles)
	slices.Sort(roles)
	roles = slices.Compact(roles)
	return derived{active: res.Active, org: res.OrgName, roles: roles}, nil
}
