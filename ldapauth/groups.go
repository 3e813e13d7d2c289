package ldapauth

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/ldapauth/script"
)

// MemberOfAll is the entry property scripts read the nested groups by
// (Server.NestedGroups): every group the entry is a member of, directly or
// through other groups. It is computed, never asked of the directory.
const MemberOfAll = script.MemberOfAll

// groupFilter finds the groups: Active Directory's group class and
// OpenLDAP's groupOfNames and groupOfUniqueNames.
const groupFilter = "(|(objectClass=group)(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"

// groupMemberAttrs are the attributes holding a group's members.
var groupMemberAttrs = []string{"member", "uniqueMember"}

// GroupIndex is every group under a server's base with the groups each DN
// (a person's or a group's) is a direct member of. A DIRSYNC run loads it
// once per server (LoadGroups) and expands each person's memberOf through
// it (Expand); a sign-in or an admin tool loads it for its one entry. It is
// safe for concurrent use.
type GroupIndex struct {
	// parents maps a canonical member DN to the canonical DNs of the
	// groups whose member it is.
	parents map[string][]string
	// names maps a group's canonical DN to its DN as the directory spells it.
	names map[string]string
	// Groups is how many groups were read.
	Groups int

	mu   sync.Mutex
	memo map[string][]string // canonical group DN → the groups above it (itself excluded)
}

// LoadGroups reads every group under the base DN (a paged search of
// objectClass group, groupOfNames or groupOfUniqueNames, asking for member
// and uniqueMember) into a GroupIndex. A group whose member values Active
// Directory sends in ranges (member;range=0-1499) is read to the last range.
// A search that fails or ends early is an error: a short index would take
// groups away from people.
func (c *Conn) LoadGroups(ctx context.Context) (*GroupIndex, error) {
	g := &GroupIndex{parents: map[string][]string{}, names: map[string]string{}, memo: map[string][]string{}}
	err := c.searchPagedAttrs(ctx, c.u.baseDN, groupFilter, groupMemberAttrs, func(page []*Entry) error {
		for _, e := range page {
			members, err := c.allMembers(ctx, e)
			if err != nil {
				return err
			}
			g.add(e.DN, members)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ldapauth: load groups under %s: %w", c.u.baseDN, err)
	}
	return g, nil
}

// add records group dn with its member values.
func (g *GroupIndex) add(dn string, members []string) {
	key := canonicalDN(dn)
	if _, ok := g.names[key]; !ok {
		g.Groups++
	}
	g.names[key] = dn
	for _, m := range members {
		mk := canonicalDN(memberDN(m))
		if mk == "" || containsString(g.parents[mk], key) {
			continue
		}
		g.parents[mk] = append(g.parents[mk], key)
	}
}

// allMembers returns the member and uniqueMember values of group entry e,
// reading the further ranges of a ranged attribute (AD's MaxValRange).
func (c *Conn) allMembers(ctx context.Context, e *Entry) ([]string, error) {
	var out []string
	for name, vals := range e.Attrs {
		base, opt, ranged := strings.Cut(name, ";")
		if !strings.EqualFold(base, "member") && !strings.EqualFold(base, "uniqueMember") {
			continue
		}
		out = append(out, vals...)
		if !ranged {
			continue
		}
		next, more := nextRange(opt)
		for more {
			want := base + ";range=" + strconv.Itoa(next) + "-*"
			got, gotName, err := c.readRange(ctx, e.DN, want)
			if err != nil {
				return nil, err
			}
			out = append(out, got...)
			if gotName == "" {
				break
			}
			_, opt, _ = strings.Cut(gotName, ";")
			next, more = nextRange(opt)
		}
	}
	return out, nil
}

// nextRange reads an attribute option range=LOW-HIGH and returns HIGH+1 and
// true, or false when HIGH is "*" (the last range) or the option is no
// range.
func nextRange(opt string) (int, bool) {
	for _, o := range strings.Split(opt, ";") {
		r, ok := strings.CutPrefix(strings.ToLower(o), "range=")
		if !ok {
			continue
		}
		_, high, ok := strings.Cut(r, "-")
		if !ok || high == "*" {
			return 0, false
		}
		n, err := strconv.Atoi(high)
		if err != nil {
			return 0, false
		}
		return n + 1, true
	}
	return 0, false
}

// readRange reads one range of a ranged attribute of the entry at dn (a
// base search asking for attr, e.g. member;range=1500-*). It returns the
// values and the attribute name the server answered with ("" when none).
func (c *Conn) readRange(ctx context.Context, dn, attr string) ([]string, string, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(c.timeout/time.Second), false,
		"(objectClass=*)", []string{attr}, nil)
	var res *ldap.SearchResult
	err := c.op(ctx, func() (err error) { res, err = c.l.Search(req); return err })
	if err != nil {
		return nil, "", apperr.Unavailable(err, "ldapauth: read %s of group %s from %s", attr, dn, c.srv.URL)
	}
	for _, le := range res.Entries {
		for _, a := range le.Attributes {
			if a != nil && strings.HasPrefix(strings.ToLower(a.Name), strings.ToLower(strings.SplitN(attr, ";", 2)[0])+";") {
				return a.Values, a.Name, nil
			}
		}
	}
	return nil, "", nil
}

// Expand returns every group the entry at dn is a member of: its memberOf
// values and the groups the index lists dn as a direct member of (so that a
// directory without memberOf, OpenLDAP without the memberof overlay, still
// gives the direct groups), then every group those are members of, and so
// on (a cycle of groups ends where it started). DNs compare
// case-insensitively, as parsed DNs; each group appears once, spelled as its
// group entry spells it (a memberOf value outside the base as it is). The
// direct groups come first, in memberOf order, then the others in the order
// of their canonical DNs. The result is never nil.
func (g *GroupIndex) Expand(memberOf []string, dn string) []string {
	out := []string{}
	seen := map[string]bool{}
	var direct []string
	addDirect := func(key, name string) {
		if key == "" || seen[key] {
			return
		}
		seen[key] = true
		direct = append(direct, key)
		out = append(out, name)
	}
	for _, m := range memberOf {
		key := canonicalDN(m)
		name := strings.TrimSpace(m)
		if g != nil && g.names[key] != "" {
			name = g.names[key]
		}
		addDirect(key, name)
	}
	if g == nil {
		return out
	}
	for _, key := range g.parents[canonicalDN(dn)] {
		addDirect(key, g.names[key])
	}
	var inherited []string // canonical DNs
	for _, key := range direct {
		for _, up := range g.above(key) {
			if !seen[up] {
				seen[up] = true
				inherited = append(inherited, up)
			}
		}
	}
	sort.Strings(inherited)
	for _, key := range inherited {
		out = append(out, g.names[key])
	}
	return out
}

// above returns the canonical DNs of every group group (canonical) is in,
// directly or not, itself excluded unless a cycle leads back to it;
// memoized.
func (g *GroupIndex) above(group string) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.memo[group]; ok {
		return v
	}
	out := []string{}
	seen := map[string]bool{group: true}
	queue := append([]string(nil), g.parents[group]...)
	for len(queue) > 0 {
		k := queue[0]
		queue = queue[1:]
		if seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, k)
		queue = append(queue, g.parents[k]...)
	}
	g.memo[group] = out
	return out
}

// Apply sets e's MemberOfAll attribute: Expand of its memberOf and DN.
func (g *GroupIndex) Apply(e *Entry) {
	if e == nil {
		return
	}
	if e.Attrs == nil {
		e.Attrs = map[string][]string{}
	}
	e.Attrs[MemberOfAll] = g.Expand(e.Get("memberOf"), e.DN)
}

// AddMemberOfAll sets MemberOfAll on entries when srv.NestedGroups is on
// (nothing otherwise): it connects, loads the groups of srv once and
// expands each entry (sign-in and registration, which hold one entry).
func AddMemberOfAll(ctx context.Context, srv Server, entries ...*Entry) error {
	if !srv.NestedGroups || len(entries) == 0 {
		return nil
	}
	c, err := Dial(ctx, srv)
	if err != nil {
		return err
	}
	defer c.Close()
	return c.applyNested(ctx, entries...)
}

// applyNested sets MemberOfAll on entries when the connection's server has
// NestedGroups on, loading its groups on c.
func (c *Conn) applyNested(ctx context.Context, entries ...*Entry) error {
	if !c.srv.NestedGroups || len(entries) == 0 {
		return nil
	}
	g, err := c.LoadGroups(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		g.Apply(e)
	}
	return nil
}

// memberDN is the DN of a member value: uniqueMember's optional
// "#'0101'B" unique identifier is dropped.
func memberDN(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.LastIndex(v, "#'"); i > 0 && strings.HasSuffix(v, "'B") {
		return v[:i]
	}
	return v
}

// canonicalDN is the form DNs compare by: parsed, each attribute type and
// value in lower case, values escaped, multi-valued RDNs sorted. A value
// that does not parse as a DN is compared as its trimmed lower-case text.
func canonicalDN(dn string) string {
	dn = strings.TrimSpace(dn)
	if dn == "" {
		return ""
	}
	if c, ok := plainCanonicalDN(dn); ok {
		return c
	}
	return parsedCanonicalDN(dn)
}

// parsedCanonicalDN is canonicalDN through go-ldap's DN parser.
func parsedCanonicalDN(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	var b strings.Builder
	for i, rdn := range p.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		parts := make([]string, 0, len(rdn.Attributes))
		for _, a := range rdn.Attributes {
			parts = append(parts, strings.ToLower(a.Type)+"="+strings.ToLower(ldap.EscapeDN(a.Value)))
		}
		sort.Strings(parts)
		b.WriteString(strings.Join(parts, "+"))
	}
	return b.String()
}

// plainCanonicalDN is canonicalDN without parsing for the common DN with
// no escapes, quotes, multi-valued RDNs or other special characters (each
// RDN exactly one type=value): the same result, several times faster (a
// DIRSYNC run canonicalizes every member and memberOf value). ok is false
// when dn needs the parser.
func plainCanonicalDN(dn string) (string, bool) {
	if strings.ContainsAny(dn, "\\\"+#;<>") {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(dn))
	for i, rdn := range strings.Split(dn, ",") {
		typ, val, ok := strings.Cut(rdn, "=")
		typ, val = strings.TrimSpace(typ), strings.TrimSpace(val)
		if !ok || typ == "" || val == "" || strings.Contains(val, "=") || !isKeychars(typ) {
			return "", false
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strings.ToLower(typ))
		b.WriteByte('=')
		b.WriteString(strings.ToLower(val))
	}
	return b.String(), true
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
