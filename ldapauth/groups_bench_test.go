package ldapauth

import (
	"fmt"
	"testing"

	"github.com/authority-server/authority/testenv"
)

// synthetic is a directory's groups and people for the benchmarks: n
// groups in a tree (group i is a member of group i/10, so about four
// levels for 10,000) and m people, each a member of three groups.
type synthetic struct {
	groupDNs []string
	members  [][]string // of each group
	dns      []string   // the people
	memberOf [][]string // of each person
}

func newSynthetic(n, m int) synthetic {
	var s synthetic
	for i := 0; i < n; i++ {
		s.groupDNs = append(s.groupDNs, fmt.Sprintf("cn=g%05d,ou=Groups,dc=example,dc=com", i))
	}
	s.members = make([][]string, n)
	for i := 1; i < n; i++ {
		s.members[i/10] = append(s.members[i/10], s.groupDNs[i])
	}
	s.dns = make([]string, m)
	s.memberOf = make([][]string, m)
	for p := 0; p < m; p++ {
		s.dns[p] = fmt.Sprintf("cn=person %06d,ou=People,dc=example,dc=com", p)
		for k := 0; k < 3; k++ {
			gi := (p*7 + k*1237) % n
			s.members[gi] = append(s.members[gi], s.dns[p])
			s.memberOf[p] = append(s.memberOf[p], s.groupDNs[gi])
		}
	}
	return s
}

// index builds the GroupIndex as LoadGroups does from the search results.
func (s synthetic) index() *GroupIndex {
	g := &GroupIndex{parents: map[string][]string{}, names: map[string]string{}, memo: map[string][]string{}}
	for i, dn := range s.groupDNs {
		g.add(dn, s.members[i])
	}
	return g
}

// BenchmarkNestedGroupsIndex: one DIRSYNC run's work besides the LDAP
// reads: the index of 10,000 groups whose member values name 100,000
// people (three groups each) and 9,999 groups, then memberOfAll for the
// 100,000 people.
func BenchmarkNestedGroupsIndex(b *testing.B) {
	s := newSynthetic(10000, 100000)
	b.ResetTimer()
	for b.Loop() {
		g := s.index()
		total := 0
		for p := range s.dns {
			total += len(g.Expand(s.memberOf[p], s.dns[p]))
		}
		if total < 3*len(s.dns) {
			b.Fatalf("expanded %d groups for %d people", total, len(s.dns))
		}
	}
}

// BenchmarkNestedGroupsExpand: the expansion alone, per person, with the
// index built (its memo warm after the first people).
func BenchmarkNestedGroupsExpand(b *testing.B) {
	s := newSynthetic(10000, 100000)
	g := s.index()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		p := i % len(s.dns)
		g.Expand(s.memberOf[p], s.dns[p])
		i++
	}
}

// BenchmarkLoadGroupsSlapd: LoadGroups over slapd with 2,000 groups (each
// with five people; groups nested ten to a parent), pages of 500.
func BenchmarkLoadGroupsSlapd(b *testing.B) {
	const groups, perGroup = 2000, 5
	var people []testenv.Person
	for i := 0; i < groups*perGroup; i++ {
		people = append(people, testenv.Person{UID: fmt.Sprintf("u%05d", i), MemberOf: []string{fmt.Sprintf("g%04d", i/perGroup)}})
	}
	s := testenv.StartSlapd(b, people)
	for i := 1; i < groups; i++ {
		if err := s.NestGroup(fmt.Sprintf("g%04d", i), fmt.Sprintf("g%04d", i/10)); err != nil {
			b.Fatal(err)
		}
	}
	srv := slapdServer(s)
	ctx := testCtx(b)
	c, err := Dial(ctx, srv)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for b.Loop() {
		g, err := c.LoadGroups(ctx)
		if err != nil || g.Groups != groups {
			b.Fatalf("%v groups, %v", g, err)
		}
	}
}
