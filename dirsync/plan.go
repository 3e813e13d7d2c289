package dirsync

import (
	"encoding/binary"
	"fmt"
	"sort"
	"strings"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// plan is what a sync wants to do to one user found in the directory
// (deactivations excepted: they are collected on the user).
type plan struct {
	u          *scopeUser
	serverID   int64
	dn, uid    string
	errMsg     string
	warnings   []string
	reactivate bool
	move       *orgs.Org
	setRoles   bool
	wanted     []string
	have       []string
	added      []string
	removed    []string
	profile    *users.Profile // nil: unchanged
	identity   bool
	rename     string // the new username ("" for none)
}

func (p *plan) empty() bool {
	return p.errMsg == "" && len(p.warnings) == 0 && !p.reactivate && p.move == nil && !p.setRoles && p.profile == nil && !p.identity && p.rename == ""
}

// plan decides what the scripts' results ask for one user, from the state
// the run loaded; the lifecycle and role decisions are those of users and
// users/roles.
func (e *engine) plan(srv ldapauth.Server, set *script.Set, m match, have []string) *plan {
	u := m.u
	// Most users have nothing to change: the plan stays on the stack
	// until it has something (made at the end).
	p := plan{u: u, serverID: srv.ID, dn: m.dn, uid: m.person.UID, rename: m.rename}
	if !m.res.OK() {
		p.errMsg = strings.Join(m.res.Errors, "; ")
		made := p
		return &made
	}
	if !m.res.Active {
		u.inactive = true
		return nil
	}
	p.reactivate = u.State.SourceReactivates()
	orgID := u.OrgID
	if name := strings.TrimSpace(m.res.OrgName); name != "" {
		o, ok := e.orgByName(name)
		switch {
		case !ok:
			p.warnings = append(p.warnings, fmt.Sprintf("the org name script returned %q, but no org has that name: the user stays in org %d/%s (a sync never creates orgs; create the org to move users into it)",
				name, u.OrgID, e.orgName(u.OrgID)))
		case o.ID != u.OrgID:
			moved := o
			p.move = &moved
			orgID = o.ID
		}
	}
	if set.RoleName != nil {
		d := e.roleDiffs.of(e.mapping, e.tree, orgID, m.res.Roles, have)
		p.wanted, p.have, p.added, p.removed = d.wanted, have, d.added, d.removed
		p.setRoles = len(p.added)+len(p.removed) > 0
	}
	stored := u.Profile.Unpack()
	now, bad := stored.Overlay(directoryProfile(m))
	for _, err := range bad {
		p.warnings = append(p.warnings, fmt.Sprintf("the directory's value is not taken, the stored one is kept: %v", err))
	}
	if srv.ManagerAttribute != "" {
		// The manager is resolved once every entry is seen (resolveProfiles):
		// people may come before their manager.
		u.pending = &pendingProfile{profile: users.PackProfile(now), managerDN: m.person.Profile.ManagerDN, serverID: srv.ID}
	} else if !now.Equal(stored) {
		changed := now
		p.profile = &changed
	}
	p.identity = u.LDAPServerID != srv.ID || u.LDAPDN != m.dn || u.LDAPUID != m.person.UID
	if p.identity {
		u.newDN = m.dn
	}
	if p.empty() {
		return nil
	}
	made := p
	return &made
}

// statusText is a state as a history line shows it: "active", or
// "deactivated (dirsync)".
func statusText(st users.State) string {
	if st.Reason == "" || st.Status == users.StatusActive {
		return string(st.Status)
	}
	return fmt.Sprintf("%s (%s)", st.Status, st.Reason)
}

func rolesChangeText(added, removed []string) string {
	return fmt.Sprintf("Changing roles (added: [%s], removed: [%s])", strings.Join(added, ", "), strings.Join(removed, ", "))
}

func joinRoles(rs []string) string {
	c := append([]string(nil), rs...)
	sort.Strings(c)
	return strings.Join(c, ", ")
}

// roleDiff is what a plan decides about a user's roles: the roles wanted,
// and those to add and remove (roles.Mapping.Wanted and Diff).
type roleDiff struct{ wanted, added, removed []string }

// roleDiffs keeps the role decisions of a run by what they depend on (the
// org, the role name script's result and the user's roles): most users
// share one of a few, and working one out allocates a handful of maps.
// Only the page stage uses it. The lists are shared: never modify one.
type roleDiffs struct {
	m   map[string]roleDiff
	key []byte
}

// maxRoleDiffs bounds how many decisions a run keeps (past it they are
// forgotten and worked out again), and maxRoleDiffKey how long a kept one's
// key may be (a script may return any list).
const (
	maxRoleDiffs   = 4096
	maxRoleDiffKey = 4096
)

// of returns the decision for a user of org orgID of tree with roles have,
// given the script's result.
func (c *roleDiffs) of(mapping roles.Mapping, tree *orgs.Tree, orgID int64, script, have []string) roleDiff {
	// Each name with its length first, so that no two inputs share a key.
	k := binary.AppendVarint(c.key[:0], orgID)
	for _, list := range [2][]string{script, have} {
		k = binary.AppendUvarint(k, uint64(len(list)))
		for _, r := range list {
			k = append(binary.AppendUvarint(k, uint64(len(r))), r...)
		}
	}
	c.key = k
	if d, ok := c.m[string(k)]; ok { // no allocation for the lookup
		return d
	}
	var defaults []string
	if o, ok := tree.Get(orgID); ok {
		defaults = o.DefaultRoles
	}
	var d roleDiff
	d.wanted = mapping.Wanted(script, defaults)
	d.added, d.removed = mapping.Diff(have, d.wanted)
	if len(k) <= maxRoleDiffKey {
		if c.m == nil || len(c.m) >= maxRoleDiffs {
			c.m = make(map[string]roleDiff)
		}
		c.m[string(k)] = d
	}
	return d
}

// orgLookup is the answer of orgs.Tree.ByName to one name.
type orgLookup struct {
	org orgs.Org
	ok  bool
}

// maxOrgNames bounds how many org name script results a run keeps the
// answer of (orgByName).
const maxOrgNames = 1024

// orgByName returns the org named name (orgs.Tree.ByName), keeping the
// answers: an org name script returns the same few names for every user,
// and folding a name allocates. Only the page stage calls it.
func (e *engine) orgByName(name string) (orgs.Org, bool) {
	if l, ok := e.orgNames[name]; ok {
		return l.org, l.ok
	}
	o, ok := e.tree.ByName(name)
	if e.orgNames == nil || len(e.orgNames) >= maxOrgNames {
		e.orgNames = map[string]orgLookup{}
	}
	e.orgNames[name] = orgLookup{o, ok}
	return o, ok
}
