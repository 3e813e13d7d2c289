package dirsync

import (
	"context"
	"fmt"
	"strings"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// loadServers reads the LDAP servers of the orgs in scope (in the order the
// orgs name them) and compiles their scripts once for the run (or takes
// those the last run compiled, and its Runners: keptScripts).
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
			set, err := e.s.kept.compile(srv)
			if err != nil {
				return fmt.Errorf("compile the scripts of LDAP server %d (%s): %w", srv.ID, srv.Name, err)
			}
			e.servers = append(e.servers, srv)
			e.managers = e.managers || srv.ManagerAttribute != ""
			e.sets[srv.ID] = set
		}
	}
	e.runner, e.lazy = e.s.kept.runners(e.sets, e.s.scriptLimit)
	return nil
}

// countUsers counts the users in scope, by org, into e.counts. A run does
// not hold them: each page reads the users its entries name (fetchPage),
// and once every server has been read, the users it did not find are
// streamed past the deactivation rules (unfound). Its counts and its
// safety valve are those of the whole scope (takeCounts).
func (e *engine) countUsers(ctx context.Context) error {
	counts, err := e.s.users.CountInScope(ctx, e.orgIDs)
	if err != nil {
		return fmt.Errorf("count the users in scope: %w", err)
	}
	e.counts = counts
	return nil
}

// readFlags reads the users a run treats apart (users.ScopeFlags): the
// pages wait for them (waitUsers), not for the counts.
func (e *engine) readFlags(ctx context.Context) (err error) {
	e.flags, err = e.s.users.ReadScopeFlags(ctx)
	return err
}

// takeCounts adds the counts of the users in scope to the run's totals
// once, when countUsers has ended (wait: waits for it). Whoever holds the
// totals calls it: the page stage before each page (without waiting, so
// that a small run's first page does not wait for a count of the whole
// scope; the page's transaction records them), the run once the search is
// done, before the safety valve needs them, and a run that failed before,
// for its summary.
func (e *engine) takeCounts(wait bool) error {
	if e.countsTaken || e.countsDone == nil {
		return nil
	}
	if wait {
		<-e.countsDone
	} else {
		select {
		case <-e.countsDone:
		default:
			return nil
		}
	}
	if e.countsErr != nil {
		return e.countsErr
	}
	e.countsTaken = true
	for org, n := range e.counts {
		if c := e.orgs[org]; c != nil {
			c.Users += n
			e.total.Users += n
		}
	}
	e.counts = nil
	return nil
}

// readAhead reads, beside the search of a full run, what the run needs
// only later: the ids of the users in scope, which tell the unfound at the
// end (unfound), with every user's id by username key, through which the
// pages from then on read their users by id (users.ScopeIndex), and, for a
// run with a role name script whose scope holds at least half of the
// users, every user's roles at once
// (users.RoleSnapshot; one ordered scan is cheaper than reading the roles
// of each page's users, which pages do until it is there). Whether a
// user's roles change is decided against what was read; the change itself
// is worked out again inside its transaction (users.SetManagedRolesTx),
// so that a role an administrator changed meanwhile is never lost, only
// seen by the next run. A user who joins the scope during the run is left
// to the next one.
func (e *engine) readAhead(ctx context.Context) error {
	index, err := e.s.users.ReadScopeIndex(ctx, e.orgIDs)
	if err != nil {
		return fmt.Errorf("read the users in scope: %w", err)
	}
	ids := index.IDs
	e.scopeIDs = ids
	e.scopeIndex.Store(index)
	if !e.roleScripts() {
		return nil
	}
	all, err := e.s.users.Count(ctx)
	if err != nil {
		return err
	}
	if len(ids)*2 < all {
		return nil
	}
	snap, err := e.s.users.ReadRoleSnapshot(ctx)
	if err != nil {
		return err
	}
	e.roles.Store(snap)
	return nil
}

// waitAhead waits for readAhead to end (at once when it was not started).
func (e *engine) waitAhead() error {
	if e.aheadDone == nil {
		return nil
	}
	<-e.aheadDone
	return e.aheadErr
}

// roleScripts reports whether a server of the run has a role name script.
func (e *engine) roleScripts() bool {
	for _, set := range e.sets {
		if set.RoleName != nil {
			return true
		}
	}
	return false
}

// pageUsers are the users in scope that a page's entries name, as read from
// the database: by username key, then by stable id those whose id none of
// the first have.
type pageUsers struct {
	byName, byUID []users.ScopeUser
}

// fetchPage reads the users a page's entries name (keys: username keys;
// uids: lower-case stable ids). It only reads: the script stage calls it
// ahead of the page stage (see fetchedAhead), the page stage when it must.
func (e *engine) fetchPage(ctx context.Context, keys, uids []string) (pageUsers, error) {
	var pu pageUsers
	if len(keys)+len(uids) == 0 {
		return pu, nil
	}
	pu.byName = make([]users.ScopeUser, 0, len(keys))
	held := map[string]bool{}
	err := e.s.users.InScopeByUsername(ctx, e.orgIDs, e.flags, e.scopeIndex.Load(), keys, func(su users.ScopeUser) {
		yield(len(pu.byName)) // the search goes first
		pu.byName = append(pu.byName, su)
		if su.LDAPUID != "" && su.LDAPServerID != 0 {
			held[strings.ToLower(su.LDAPUID)] = true
		}
	})
	if err != nil {
		return pu, fmt.Errorf("load the users named by a page: %w", err)
	}
	// By stable id only those entries whose id none of these users has
	// (renames, and users whose id is not known yet).
	var rest []string
	for _, id := range uids {
		if !held[id] {
			rest = append(rest, id)
		}
	}
	if len(rest) == 0 {
		return pu, nil
	}
	loaded := make(map[int64]bool, len(pu.byName))
	for _, su := range pu.byName {
		loaded[su.ID] = true
	}
	err = e.s.users.InScopeByStableID(ctx, e.orgIDs, e.flags, rest, func(su users.ScopeUser) {
		if !loaded[su.ID] { // named by username and by stable id
			pu.byUID = append(pu.byUID, su)
		}
	})
	if err != nil {
		return pu, fmt.Errorf("load the users named by a page: %w", err)
	}
	return pu, nil
}

// indexPage makes pu the page's users and indexes; a user an earlier page
// found comes marked found.
func (e *engine) indexPage(pu pageUsers) {
	e.users = e.users[:0]
	clear(e.byName.one)
	clear(e.byName.more)
	clear(e.byUID.one)
	clear(e.byUID.more)
	slab := make([]scopeUser, 0, len(pu.byName)+len(pu.byUID)) // one allocation for the page's users
	for _, list := range [][]users.ScopeUser{pu.byName, pu.byUID} {
		for _, su := range list {
			slab = append(slab, scopeUser{ScopeUser: su})
			u := &slab[len(slab)-1]
			if srv, ok := e.found[u.ID]; ok {
				dn, moved := e.foundMoved[u.ID]
				if !moved {
					dn = u.LDAPDN // where it was found, as recorded
				}
				u.found, u.foundOn, u.foundDN = true, srv, dn
			}
			e.index(u)
		}
	}
}

// fetchedAhead reports whether the users the script stage read for a page
// (sp.users, read once c0 pages had their changes committed) are what the
// page stage would read now: unless a page committed since then renamed,
// moved or gave a stable id to a user under one of the page's username
// keys or stable ids (the only changes that alter who a read returns, or a
// found user's id, org and name that the matching looks at).
func (e *engine) fetchedAhead(sp *scriptedPage) bool {
	if sp.fetchErr != nil || sp.users == nil {
		return false
	}
	ok := true
	for j := sp.committed + 1; j < sp.index && ok; j++ {
		for _, k := range e.rekeyed[j] {
			if sp.names[k] {
				ok = false
				break
			}
		}
	}
	for j := range e.rekeyed {
		if j <= sp.committed {
			delete(e.rekeyed, j) // no later page was read before these
		}
	}
	return ok
}

// retain records what the run must remember of the page's users once the
// page is done: where each newly found user was found, the found users
// whose missed runs go back to 0, and the users the end of the run works
// on (deactivations for an active script's false, profiles waiting for
// their manager, and new DNs where a manager is resolved).
func (e *engine) retain() {
	for _, u := range e.users {
		if !u.found {
			continue
		}
		if _, ok := e.found[u.ID]; ok {
			continue
		}
		e.found[u.ID] = u.foundOn
		if u.foundDN != u.LDAPDN {
			e.foundMoved[u.ID] = u.foundDN
		}
		if u.Misses > 0 {
			e.foundMissed = append(e.foundMissed, u.ID)
		}
		if u.inactive || u.pending != nil || (u.newDN != "" && e.managers) {
			c := *u // a copy: the page's block of users is not kept for one of them
			e.keep = append(e.keep, &c)
		}
	}
}

// unfound calls fn with each user in scope the run did not find that the
// deactivation rules must see: in a full run every one (read again, one at
// a time), in an incremental run those whose entries the tracking saw go.
func (e *engine) unfound(ctx context.Context, fn func(*scopeUser)) error {
	found := func(id int64) bool { _, ok := e.found[id]; return ok }
	each := func(su users.ScopeUser) {
		if !found(su.ID) {
			fn(&scopeUser{ScopeUser: su})
		}
	}
	if e.inc.mode != ModeIncremental {
		var ids []int64
		for _, id := range e.scopeIDs {
			if !found(id) {
				ids = append(ids, id)
			}
		}
		if err := e.s.users.InScopeByID(ctx, e.orgIDs, e.flags, ids, each); err != nil {
			return fmt.Errorf("read the users in scope: %w", err)
		}
		return nil
	}
	var uids []string
	for _, gone := range e.inc.deleted {
		for id := range gone {
			uids = append(uids, id)
		}
	}
	if err := e.s.users.InScopeByStableID(ctx, e.orgIDs, e.flags, uids, each); err != nil {
		return fmt.Errorf("read the users whose entries went: %w", err)
	}
	return nil
}

// index adds u to the page's users and indexes.
func (e *engine) index(u *scopeUser) {
	e.users = append(e.users, u)
	e.byName.add(casefold.Key(u.Username), u)
	if u.LDAPUID != "" && u.LDAPServerID != 0 {
		e.byUID.add(strings.ToLower(u.LDAPUID), u)
	}
}

// waitUsers waits for the users a run treats apart (readFlags).
func (e *engine) waitUsers() error {
	<-e.usersDone
	return e.usersErr
}
