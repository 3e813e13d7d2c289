package dirsync

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/users"
)

// pagesAhead is how many pages the search may fetch ahead of the processing
// (memory holds at most this many pages plus the one being processed).
const pagesAhead = 2

// search runs the paged search of one server and processes its pages as they
// arrive: the search goroutine receives and decodes the next page while
// another goroutine processes the previous one, at most pagesAhead pages
// ahead.
func (e *engine) search(ctx context.Context, srv ldapauth.Server) error {
	conn, err := ldapauth.Dial(ctx, srv)
	if err != nil {
		return fmt.Errorf("connect to LDAP server %d (%s, %s): %w", srv.ID, srv.Name, srv.URL, err)
	}
	defer conn.Close()
	read, err := e.reader(ctx, conn, srv)
	if err != nil || read == nil {
		return err // nil, nil: this server is skipped (change tracking "none" in an incremental run)
	}
	var groups *ldapauth.GroupIndex
	if srv.NestedGroups {
		// Once per server and run, before the people: every entry's
		// memberOfAll is expanded through it.
		if groups, err = conn.LoadGroups(ctx); err != nil {
			return fmt.Errorf("nested groups of LDAP server %d (%s, %s): %w", srv.ID, srv.Name, srv.URL, err)
		}
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan []*ldapauth.Entry, pagesAhead)
	done := make(chan struct{})
	var perr error // the processing's error; read after done is closed
	go func() {
		defer close(done)
		defer func() {
			if v := recover(); v != nil {
				perr = fmt.Errorf("internal error: panic: %v\n%s", v, debug.Stack())
				cancel()
				for range queue {
				}
			}
		}()
		n := 0
		for page := range queue {
			n++
			if perr != nil {
				continue // drain
			}
			if err := e.waitUsers(); err != nil {
				perr = err
				cancel()
				continue
			}
			tp := time.Now()
			if groups != nil {
				for _, ent := range page {
					groups.Apply(ent)
				}
			}
			if err := e.page(ctx, srv, page); err != nil {
				perr = err
				cancel()
				continue
			}
			e.inPages += time.Since(tp)
			if h := e.s.pageHook; h != nil {
				h(HookProcessed, srv.ID, n)
			}
		}
	}()
	pages := 0
	serr := read(sctx, func(page []*ldapauth.Entry) error {
		pages++
		e.pages++
		if h := e.s.pageHook; h != nil {
			h(HookReceived, srv.ID, pages)
		}
		select {
		case queue <- page:
			return nil
		case <-sctx.Done():
			return sctx.Err()
		}
	})
	close(queue)
	<-done
	if perr != nil {
		return fmt.Errorf("process a page of LDAP server %d (%s): %w", srv.ID, srv.Name, perr)
	}
	if serr != nil {
		return fmt.Errorf("search LDAP server %d (%s, %s) failed after %d page(s): %w", srv.ID, srv.Name, srv.URL, pages, serr)
	}
	return nil
}

// match is one user found in one entry, with the entry's script results.
type match struct {
	u      *scopeUser
	name   string // the username value that matched
	rename string // the entry's username, when the user was found by its stable id under another one
	person ldapauth.Person
	dn     string
	res    *script.Result
}

// byStableID returns the user of server srv whose last matched entry had
// stable id uid (nil when none, or when several claim it).
func (e *engine) byStableID(srv int64, uid string) *scopeUser {
	if uid == "" {
		return nil
	}
	var found *scopeUser
	for u := range e.byUID.all(strings.ToLower(uid)) {
		if u.LDAPServerID != srv || !e.serves[u.OrgID][srv] {
			continue
		}
		if found != nil {
			return nil
		}
		found = u
	}
	return found
}

// holds reports whether names has name (casefold.Equal).
func holds(names []string, name string) bool {
	for _, n := range names {
		if casefold.Equal(n, name) {
			return true
		}
	}
	return false
}

// page matches one page of entries to users, runs the scripts once per
// matched entry, and applies (or simulates) the changes other than
// deactivation.
func (e *engine) page(ctx context.Context, srv ldapauth.Server, entries []*ldapauth.Entry) error {
	set := e.sets[srv.ID]
	if t := e.inc.tracking[srv.ID]; t != nil {
		t.Examined += len(entries)
	}
	persons := make([]ldapauth.Person, len(entries))
	for i, ent := range entries {
		if ent != nil {
			persons[i] = srv.Person(ent)
		}
	}
	keys, uids := namesOf(persons)
	if err := e.loadPage(ctx, keys, uids); err != nil {
		return err
	}
	defer e.retain()
	var found []match
	var dups outcome
	for i, ent := range entries {
		if err := ctx.Err(); err != nil {
			// Asked to stop: no more script calls for this page.
			return err
		}
		if ent == nil {
			continue
		}
		var res *script.Result
		person := persons[i]
		run := func() *script.Result {
			if res == nil {
				t0 := time.Now()
				r := e.runner.Run(set, ent.DN, ent.Attrs)
				e.inScripts += time.Since(t0)
				if !r.OK() {
					metrics.ScriptErrors.WithLabelValues("dirsync").Add(float64(len(r.Errors)))
				}
				res = &r
			}
			return res
		}
		// The stable id first (docs/rules.md section 6.1): the same entry
		// under a new username is the same user, renamed.
		if u := e.byStableID(srv.ID, person.UID); u != nil && !u.found {
			u.found, u.foundOn, u.foundDN = true, srv.ID, shareDN(u, ent.DN)
			m := match{u: u, name: u.Username, person: person, dn: ent.DN, res: run()}
			if !holds(person.Usernames, u.Username) && len(person.Usernames) > 0 {
				m.name, m.rename = person.Usernames[0], person.Usernames[0]
			}
			found = append(found, m)
			continue
		}
		for _, name := range person.Usernames {
			for u := range e.byName.all(casefold.Key(name)) {
				if !e.serves[u.OrgID][srv.ID] {
					continue
				}
				if u.LDAPServerID == srv.ID && u.LDAPUID != "" && person.UID != "" && !strings.EqualFold(u.LDAPUID, person.UID) {
					// The username now belongs to another entry: the user's own
					// entry is gone (or renamed, and then found by its id).
					if !u.found {
						dups.warn(u, fmt.Sprintf("username %q now belongs to another directory entry (%s, stable id %s; the user's was %s): it is not this user", name, ent.DN, person.UID, u.LDAPUID))
					} else {
						e.warnDuplicate(&dups, srv, u, ent.DN) // the user's own entry came first
					}
					continue
				}
				if u.found {
					e.warnDuplicate(&dups, srv, u, ent.DN)
					continue
				}
				u.found, u.foundOn, u.foundDN = true, srv.ID, shareDN(u, ent.DN)
				found = append(found, match{u: u, name: name, person: person, dn: ent.DN, res: run()})
			}
		}
	}
	var have map[int64][]string
	if set.RoleName != nil && len(found) > 0 {
		ids := make([]int64, 0, len(found))
		for _, m := range found {
			if m.res.OK() && m.res.Active {
				ids = append(ids, m.u.ID)
			}
		}
		var err error
		if have, err = users.RolesOf(ctx, e.s.db, ids); err != nil {
			return fmt.Errorf("read the roles of the users of a page: %w", err)
		}
	}
	plans := make([]*plan, 0, len(found))
	for _, m := range found {
		if p := e.plan(srv, set, m, have[m.u.ID]); p != nil {
			plans = append(plans, p)
		}
	}
	ta := time.Now()
	defer func() { e.inApply += time.Since(ta) }()
	return e.apply(ctx, plans, &dups)
}

// warnDuplicate warns that u, found already, is named by another entry dn
// of srv as well.
func (e *engine) warnDuplicate(dups *outcome, srv ldapauth.Server, u *scopeUser, dn string) {
	if u.foundOn == srv.ID && !strings.EqualFold(u.foundDN, dn) {
		dups.warn(u, fmt.Sprintf("username found in several entries of LDAP server %d (%s): %q and %q; the first one is used", srv.ID, srv.Name, u.foundDN, dn))
	}
}

// namesOf returns the username keys (casefold.Key) and the lower-case
// stable ids of persons: what an incremental run reads their users by.
func namesOf(persons []ldapauth.Person) (keys, uids []string) {
	for _, p := range persons {
		for _, n := range p.Usernames {
			keys = append(keys, casefold.Key(n))
		}
		if p.UID != "" {
			uids = append(uids, strings.ToLower(p.UID))
		}
	}
	return keys, uids
}

// shareDN returns dn, as the user's stored DN when they are the same text:
// the run keeps the DN of every user it finds, and most are unchanged, so
// the entry's own copy need not outlive its page.
func shareDN(u *scopeUser, dn string) string {
	if dn == u.LDAPDN {
		return u.LDAPDN
	}
	return dn
}
