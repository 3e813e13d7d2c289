package dirsync

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/authority-server/authority/internal/casefold"
	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/users"
)

// yieldEvery is how many entries a stage works on before it lets other
// goroutines run (runtime.Gosched): the search's, which decodes the
// directory's answers as they arrive, is the run's critical path, and
// without it waited for a stage's time slice to end.
const yieldEvery = 32

// yield lets other goroutines run after every yieldEvery-th item (i counts
// from 0).
func yield(i int) {
	if i%yieldEvery == yieldEvery-1 {
		runtime.Gosched()
	}
}

// pagesAhead is how many pages the search may fetch ahead of the processing
// (memory holds at most this many pages plus the two being processed).
const pagesAhead = 2

// search runs the paged search of one server and processes its pages as they
// arrive, in three goroutines at a time: the search receives and decodes a
// page, the script stage maps the previous one's entries (Person) and runs
// their scripts (scriptPage), and the page stage matches the one before to
// users and writes their changes (page), at most pagesAhead pages behind the
// search. Scripts read only their entry, so running them ahead of the page
// stage's reads and writes changes nothing but the time.
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
	scripted := make(chan *scriptedPage, 1)
	var ahead time.Duration // the script stage's time in scripts; read once it is done
	e.eager.Store(true)
	e.committed.Store(0)
	clear(e.rekeyed)
	scriptsDone := make(chan error, 1)
	go func() {
		defer close(scripted)
		if e.prepared != nil {
			<-e.prepared // the runner is the script stage's from here on
		}
		n := 0
		scriptsDone <- drain(queue, cancel, func(page []*ldapauth.Entry) error {
			n++
			sp := e.scriptPage(sctx, srv, groups, n, page, &ahead)
			if h := e.s.pageHook; h != nil {
				h(HookScripted, srv.ID, n)
			}
			return send(sctx, scripted, sp)
		})
	}()
	pagesDone := make(chan error, 1)
	go func() {
		pagesDone <- drain(scripted, cancel, func(sp *scriptedPage) error {
			if err := e.waitUsers(); err != nil {
				return err
			}
			if err := e.takeCounts(false); err != nil {
				return err
			}
			tp := time.Now()
			if err := e.page(ctx, srv, sp); err != nil {
				return err
			}
			e.committed.Store(int64(sp.index))
			e.inPages += time.Since(tp)
			if h := e.s.pageHook; h != nil {
				h(HookProcessed, srv.ID, sp.index)
			}
			return nil
		})
	}()
	pages := 0
	serr := read(sctx, func(page []*ldapauth.Entry) error {
		pages++
		e.pages++
		if e.inc.mode != ModeIncremental {
			RepaceGC() // the live heap grows with the users found
		}
		if h := e.s.pageHook; h != nil {
			h(HookReceived, srv.ID, pages)
		}
		tw := time.Now()
		err := send(sctx, queue, page)
		e.searchWaited += time.Since(tw)
		return err
	})
	close(queue)
	serrScripts, perr := <-scriptsDone, <-pagesDone
	e.inScripts += ahead
	if perr == nil && serrScripts != nil && !errors.Is(serrScripts, context.Canceled) {
		perr = serrScripts // the script stage failed (a panic), not stopped
	}
	if perr != nil {
		return fmt.Errorf("process a page of LDAP server %d (%s): %w", srv.ID, srv.Name, perr)
	}
	if serr != nil {
		return fmt.Errorf("search LDAP server %d (%s, %s) failed after %d page(s): %w", srv.ID, srv.Name, srv.URL, pages, serr)
	}
	return nil
}

// drain calls each with every value of in until a call fails or panics;
// then it cancels the search (cancel) and only drains in, so that nothing
// upstream blocks. It returns the first error.
func drain[T any](in <-chan T, cancel func(), each func(T) error) (err error) {
	for v := range in {
		if err != nil {
			continue
		}
		if err = guarded(func() error { return each(v) }); err != nil {
			cancel()
		}
	}
	return err
}

// send sends v on ch unless ctx ends first.
func send[T any](ctx context.Context, ch chan<- T, v T) error {
	select {
	case ch <- v:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// guarded calls fn and turns a panic into an error.
func guarded(fn func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("internal error: panic: %v\n%s", v, debug.Stack())
		}
	}()
	return fn()
}

// scriptedPage is a page of entries with what the script stage made of them.
type scriptedPage struct {
	index   int // the page's number in the search, from 1
	entries []*ldapauth.Entry
	persons []ldapauth.Person
	// keys and uids are the username keys and stable ids the entries name,
	// names both as a set; users are the users they name, read by the
	// script stage once committed pages had their changes committed
	// (fetchErr: the read failed; the page stage reads again).
	keys, uids []string
	names      map[string]bool
	users      *pageUsers
	fetchErr   error
	committed  int
	// results are the entries' script results when the stage ran them
	// (eager); nil, or nil for an entry, when the page stage runs them for
	// the entries that match a user.
	results []*script.Result
}

// scriptPage expands the page's nested groups, maps its entries to persons
// and, while most entries of the pages before matched a user (e.eager), runs
// every entry's scripts. A directory with many more entries than users
// leaves its scripts to the page stage, which runs them only on matches.
func (e *engine) scriptPage(ctx context.Context, srv ldapauth.Server, groups *ldapauth.GroupIndex, index int, page []*ldapauth.Entry, spent *time.Duration) *scriptedPage {
	sp := &scriptedPage{index: index, entries: page, persons: make([]ldapauth.Person, len(page))}
	for i, ent := range page {
		if ent == nil {
			continue
		}
		if groups != nil {
			groups.Apply(ent)
		}
		sp.persons[i] = srv.Person(ent)
	}
	sp.keys, sp.uids = namesOf(sp.persons)
	if e.waitUsers() == nil {
		// The users the entries name, read while the page stage works on
		// the pages before (fetchedAhead says whether they still hold).
		sp.names = make(map[string]bool, len(sp.keys)+len(sp.uids))
		for _, k := range sp.keys {
			sp.names[k] = true
		}
		for _, k := range sp.uids {
			sp.names[k] = true
		}
		sp.committed = int(e.committed.Load())
		pu, err := e.fetchPage(ctx, sp.keys, sp.uids)
		sp.users, sp.fetchErr = &pu, err
	}
	if !e.eager.Load() {
		return sp
	}
	t0 := time.Now()
	set := e.sets[srv.ID]
	sp.results = make([]*script.Result, len(page))
	slab := make([]script.Result, len(page))
	for i, ent := range page {
		if ent != nil {
			slab[i] = e.runner.Run(set, ent.DN, ent.Attrs)
			sp.results[i] = &slab[i]
		}
		yield(i)
	}
	*spent += time.Since(t0)
	return sp
}

// match is one user found in one entry, with the entry's script results.
type match struct {
	u      *scopeUser
	name   string           // the username value that matched
	rename string           // the entry's username, when the user was found by its stable id under another one
	person *ldapauth.Person // in its page's persons
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
func (e *engine) page(ctx context.Context, srv ldapauth.Server, sp *scriptedPage) error {
	set := e.sets[srv.ID]
	entries, persons := sp.entries, sp.persons
	if t := e.inc.tracking[srv.ID]; t != nil {
		t.Examined += len(entries)
	}
	if e.fetchedAhead(sp) {
		e.indexPage(*sp.users)
	} else {
		pu, err := e.fetchPage(ctx, sp.keys, sp.uids)
		if err != nil {
			return err
		}
		e.indexPage(pu)
	}
	defer e.retain()
	live, matched := 0, 0 // entries, and entries that matched a user
	defer func() {
		// The script stage runs the scripts of every entry while at least
		// half of them match.
		e.eager.Store(matched*2 >= live)
	}()
	found := make([]match, 0, len(entries))
	var dups outcome
	for i, ent := range entries {
		yield(i)
		if err := ctx.Err(); err != nil {
			// Asked to stop: no more script calls for this page.
			return err
		}
		if ent == nil {
			continue
		}
		live++
		var res *script.Result
		person := &persons[i]
		run := func() *script.Result {
			if res == nil {
				if sp.results != nil {
					res = sp.results[i]
				} else {
					t0 := time.Now()
					r := e.lazy.Run(set, ent.DN, ent.Attrs)
					e.inScripts += time.Since(t0)
					res = &r
				}
				matched++
				if !res.OK() {
					metrics.ScriptErrors.WithLabelValues("dirsync").Add(float64(len(res.Errors)))
				}
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
	have := func(int64) []string { return nil }
	snap := e.roles.Load()
	switch {
	case set.RoleName == nil || len(found) == 0:
	case snap != nil:
		have = snap.Of
	default:
		ids := make([]int64, 0, len(found))
		for _, m := range found {
			if m.res.OK() && m.res.Active {
				ids = append(ids, m.u.ID)
			}
		}
		read, err := users.RolesOf(ctx, e.s.db, ids)
		if err != nil {
			return fmt.Errorf("read the roles of the users of a page: %w", err)
		}
		have = func(id int64) []string { return read[id] }
	}
	plans := make([]*plan, 0, len(found))
	for _, m := range found {
		if p := e.plan(srv, set, m, have(m.u.ID)); p != nil {
			plans = append(plans, p)
		}
	}
	e.rekey(sp.index, plans)
	if h := e.s.pageHook; h != nil {
		h(HookMatched, srv.ID, sp.index)
	}
	ta := time.Now()
	defer func() { e.inApply += time.Since(ta) }()
	return e.apply(ctx, plans, &dups)
}

// rekey records the username keys and stable ids, before and after, of
// the users a page's plans rename, move or give a new directory identity:
// a later page whose users were read before these changes were committed
// reads them again when it names one of them (fetchedAhead). A simulated
// run changes no user.
func (e *engine) rekey(page int, plans []*plan) {
	if e.req.Simulate {
		return
	}
	var keys []string
	for _, p := range plans {
		if p.rename == "" && p.move == nil && !p.identity {
			continue
		}
		u := p.u
		keys = append(keys, casefold.Key(u.Username), strings.ToLower(u.LDAPUID), strings.ToLower(p.uid))
		if p.rename != "" {
			keys = append(keys, casefold.Key(p.rename))
		}
	}
	if keys != nil {
		e.rekeyed[page] = keys
	}
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
