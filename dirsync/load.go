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
		e.index(u)
		e.orgs[u.OrgID].Users++
		e.total.Users++
	})
	if err != nil {
		return fmt.Errorf("load the users in scope: %w", err)
	}
	return nil
}

// countUsers counts the users in scope, by org, for an incremental run:
// it reads only the users its changes name (loadNamed), but its counts and
// its safety valve are those of the whole scope.
func (e *engine) countUsers(ctx context.Context) error {
	counts, err := e.s.users.CountInScope(ctx, e.orgIDs)
	if err != nil {
		return fmt.Errorf("count the users in scope: %w", err)
	}
	for org, n := range counts {
		if c := e.orgs[org]; c != nil {
			c.Users += n
			e.total.Users += n
		}
	}
	e.named = map[int64]bool{}
	return nil
}

// loadNamed reads, in an incremental run, the users in scope that a page of
// changed entries names (by username or by stable id) and that the run has
// not read yet. The run never deactivates a user it did not find unless
// the tracking saw its entry go (notFoundCounts), so the users it does not
// read are the users it leaves alone.
func (e *engine) loadNamed(ctx context.Context, keys, uids []string) error {
	if len(keys)+len(uids) == 0 {
		return nil
	}
	var slab []scopeUser
	err := e.s.users.InScopeNamed(ctx, e.orgIDs, keys, uids, func(su users.ScopeUser) {
		if e.named[su.ID] {
			return
		}
		e.named[su.ID] = true
		if len(slab) == cap(slab) {
			slab = make([]scopeUser, 0, min(usersBlock, len(keys)+len(uids)))
		}
		slab = append(slab, scopeUser{ScopeUser: su})
		e.index(&slab[len(slab)-1])
	})
	if err != nil {
		return fmt.Errorf("load the users named by the changes: %w", err)
	}
	return nil
}

// loadGone reads, in an incremental run, the users whose entries the
// tracking saw leave the scope, once every server has been read.
func (e *engine) loadGone(ctx context.Context) error {
	var uids []string
	for _, gone := range e.inc.deleted {
		for id := range gone {
			uids = append(uids, id)
		}
	}
	return e.loadNamed(ctx, nil, uids)
}

// index adds u to the run's users and its indexes.
func (e *engine) index(u *scopeUser) {
	e.users = append(e.users, u)
	e.byName.add(casefold.Key(u.Username), u)
	if u.LDAPUID != "" && u.LDAPServerID != 0 {
		e.byUID.add(strings.ToLower(u.LDAPUID), u)
	}
}

// usersBlock is how many users in scope loadUsers allocates at once.
const usersBlock = 1024

// waitUsers waits for the users in scope to be loaded.
func (e *engine) waitUsers() error {
	<-e.usersDone
	return e.usersErr
}
