package dirsync

import (
	"fmt"
	"sort"
	"strings"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
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
	p := &plan{u: u, serverID: srv.ID, dn: m.dn, uid: m.person.UID, rename: m.rename}
	if !m.res.OK() {
		p.errMsg = strings.Join(m.res.Errors, "; ")
		return p
	}
	if !m.res.Active {
		u.inactive = true
		return nil
	}
	p.reactivate = u.State.SourceReactivates()
	orgID := u.OrgID
	if name := strings.TrimSpace(m.res.OrgName); name != "" {
		o, ok := e.tree.ByName(name)
		switch {
		case !ok:
			p.warnings = append(p.warnings, fmt.Sprintf("the org name script returned %q, but no org has that name: the user stays in org %d/%s (a sync never creates orgs; create the org to move users into it)",
				name, u.OrgID, e.orgName(u.OrgID)))
		case o.ID != u.OrgID:
			p.move = &o
			orgID = o.ID
		}
	}
	if set.RoleName != nil {
		var defaults []string
		if o, ok := e.tree.Get(orgID); ok {
			defaults = o.DefaultRoles
		}
		p.wanted = e.mapping.Wanted(m.res.Roles, defaults)
		p.have = have
		p.added, p.removed = e.mapping.Diff(have, p.wanted)
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
		p.profile = &now
	}
	p.identity = u.LDAPServerID != srv.ID || u.LDAPDN != m.dn || u.LDAPUID != m.person.UID
	if p.identity {
		u.newDN = m.dn
	}
	if p.empty() {
		return nil
	}
	return p
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
