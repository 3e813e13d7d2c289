package dirsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// loadServers reads the LDAP servers of the orgs in scope (in the order the
// orgs name them) and compiles their scripts once for the run.
func (e *engine) loadServers(ctx context.Context, scope []orgs.Org) error {
	seen := map[int64]bool{}
	for _, o := range scope {
		e.serves[o.ID] = map[int64]bool{}
		for _, id := range o.EffectiveLDAPServerIDs {
			e.serves[o.ID][id] = true
			if seen[id] {
				continue
			}
			seen[id] = true
			srv, err := e.s.ldap.Get(ctx, id)
			if err != nil {
				return fmt.Errorf("read LDAP server %d (used by org %d/%s): %w", id, o.ID, o.Name, err)
			}
			set, err := script.CompileSet(srv.ActiveScript, srv.OrgNameScript, srv.RoleNameScript)
			if err != nil {
				return fmt.Errorf("compile the scripts of LDAP server %d (%s): %w", srv.ID, srv.Name, err)
			}
			e.servers = append(e.servers, srv)
			e.sets[srv.ID] = set
		}
	}
	return nil
}

// loadUsers reads the users of the orgs in scope (users.InScope: a compact
// record each; the set of users in scope is what a run holds in memory).
func (e *engine) loadUsers(ctx context.Context) error {
	var slab []scopeUser // users are allocated in blocks: one allocation per usersBlock users
	err := e.s.users.InScope(ctx, e.orgIDs, func(su users.ScopeUser) {
		if len(slab) == cap(slab) {
			slab = make([]scopeUser, 0, usersBlock)
		}
		slab = append(slab, scopeUser{ScopeUser: su})
		u := &slab[len(slab)-1]
		e.users = append(e.users, u)
		key := casefold.Key(u.Username)
		e.byName.add(key, u)
		if u.LDAPUID != "" && u.LDAPServerID != 0 {
			k := strings.ToLower(u.LDAPUID)
			e.byUID.add(k, u)
		}
		e.orgs[u.OrgID].Users++
		e.total.Users++
	})
	if err != nil {
		return fmt.Errorf("load the users in scope: %w", err)
	}
	return nil
}

// usersBlock is how many users in scope loadUsers allocates at once.
const usersBlock = 1024

// waitUsers waits for the users in scope to be loaded.
func (e *engine) waitUsers() error {
	<-e.usersDone
	return e.usersErr
}
