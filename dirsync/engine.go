package dirsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
)

// batchSize is how many users' deactivations one transaction applies.
const batchSize = 500

// adminUsername is the built-in administrator the lockout guard protects.
const adminUsername = "admin"

// scopeUser is a user in scope, as loaded at the start of the run, plus what
// the run learned about it.
type scopeUser struct {
	id       int64
	username string
	orgID    int64
	status   users.Status
	reason   users.Reason
	email    string
	first    string
	last     string
	serverID int64
	dn, uid  string
	onHold   bool
	guard    bool // the built-in administrator: never deactivated by a sync

	found    bool  // matched an entry on a server of its org
	foundOn  int64 // the server it was found on
	foundDN  string
	inactive bool // the active script returned false
}

// engine is one run.
type engine struct {
	s        *Service
	req      Request
	runID    int64
	log      *runLog
	rec      *recorder
	valve    Valve
	tree     *orgs.Tree
	orgIDs   []int64
	servers  []ldapauth.Server
	sets     map[int64]*script.Set
	serves   map[int64]map[int64]bool // org id → server ids of the org
	users    []*scopeUser
	byName   map[string][]*scopeUser // lower-case username (several only when usernames differ in non-ASCII case)
	mapping  map[string]string
	orgs     map[int64]*Counts
	total    Counts
	warnings int
	ident    int
	runner   *script.Runner
	pages    int

	// Where the time went (the Timings log line). inPages, inScripts and
	// inApply are spent by the page goroutine, alongside the search.
	tRun, tLoad, tSearch, tDeactivate time.Duration
	inPages, inScripts, inApply       time.Duration

	usersDone chan struct{} // closed when loadUsers has ended
	usersErr  error
}

// waitUsers waits for the users in scope to be loaded.
func (e *engine) waitUsers() error {
	<-e.usersDone
	return e.usersErr
}

// event is a log line to write once the change it reports is committed.
type event struct {
	kind string // "history", "warning", "error"
	text string
	u    *scopeUser
}

// outcome is what one user's changes (or would-be changes) amount to.
type outcome struct {
	counts   Counts
	warnings int
	lines    []Change
	events   []event
}

func (o *outcome) line(u *scopeUser, change, from, to, msg string) {
	o.lines = append(o.lines, Change{UserID: u.id, Username: u.username, OrgID: u.orgID, Change: change, From: from, To: to, Message: msg})
}

func (o *outcome) history(u *scopeUser, text string) {
	o.events = append(o.events, event{kind: "history", text: text, u: u})
}

func (o *outcome) warn(u *scopeUser, msg string) {
	o.warnings++
	o.line(u, ChangeWarning, "", "", msg)
	o.events = append(o.events, event{kind: "warning", text: msg, u: u})
}

func (o *outcome) fail(u *scopeUser, msg string) {
	o.counts.Errors++
	o.line(u, ChangeError, "", "", msg)
	o.events = append(o.events, event{kind: "error", text: msg, u: u})
}

// execute runs the sync of the run in sl, records its end, frees the slot
// and sends the summary email.
func (s *Service) execute(ctx context.Context, sl *slot, req Request, start time.Time) {
	e := &engine{s: s, req: req, runID: sl.runID, rec: &recorder{runID: sl.runID}, orgs: map[int64]*Counts{},
		serves: map[int64]map[int64]bool{}, byName: map[string][]*scopeUser{}, sets: map[int64]*script.Set{},
		runner: script.NewRunner(s.scriptLimit)}
	tr := time.Now()
	st, msg := e.run(ctx)
	e.tRun = time.Since(tr)
	bg := context.WithoutCancel(ctx)
	if st == StatusFailed {
		if ctx.Err() != nil {
			msg = InterruptedMessage + " (" + msg + ")"
		}
		e.log.failed(e.runID, e.orgIDs, msg)
	}
	oc := e.orgCounts()
	for _, o := range oc {
		e.log.completed(o)
	}
	e.log.summary(e.orgIDs, e.total)
	e.log.finished(e.runID, st, e.total, e.warnings)
	if err := s.finish(bg, e.rec, st, e.total, e.warnings, e.ident, oc, msg, s.now()); err != nil {
		s.log.Error("DIRSYNC:: Could not record the end of run "+fmt.Sprint(e.runID)+": "+err.Error(), "thread", fmt.Sprintf("dirsync-%d", e.runID))
	}
	s.release(sl)
	e.log.timings(e)
	s.sendSummary(bg, e.runID, e.log)
}

// run does the work and returns the final status and message.
func (e *engine) run(ctx context.Context) (st Status, msg string) {
	defer func() {
		if v := recover(); v != nil {
			e.s.log.Error(fmt.Sprintf("DIRSYNC:: panic in run %d: %v\n%s", e.runID, v, debug.Stack()), "thread", fmt.Sprintf("dirsync-%d", e.runID))
			st, msg = StatusFailed, fmt.Sprintf("internal error: %v (see the server log)", v)
		}
	}()
	s := e.s
	// The log needs the subject, which needs the root org: start with a
	// provisional logger so that early failures are logged too.
	e.log = newRunLog(s.log, e.runID, subjectText(e.req, 0), e.req.Simulate)
	tree, err := s.orgs.Load(ctx)
	if err != nil {
		return StatusFailed, fmt.Sprintf("load the org tree: %v", err)
	}
	e.tree = tree
	e.log = newRunLog(s.log, e.runID, subjectText(e.req, rootID(tree)), e.req.Simulate)
	var scope []orgs.Org
	for _, o := range tree.All() {
		if o.UsesLDAP() {
			scope = append(scope, o)
			e.orgIDs = append(e.orgIDs, o.ID)
			e.orgs[o.ID] = &Counts{}
		}
	}
	if e.orgIDs == nil {
		e.orgIDs = []int64{}
	}
	e.log.submitting(e.orgIDs)
	for _, o := range scope {
		e.log.running(o.ID, o.Name)
	}
	_, _, _, valve, err := s.settings(ctx)
	if err != nil {
		return StatusFailed, err.Error()
	}
	e.valve = valve
	if len(scope) == 0 {
		return StatusOK, "no org uses LDAP: nothing to synchronize"
	}
	if e.mapping, err = s.users.MappingSet(ctx); err != nil {
		return StatusFailed, fmt.Sprintf("read the Role Mapping list: %v", err)
	}
	if err := e.loadServers(ctx, scope); err != nil {
		return StatusFailed, err.Error()
	}
	if !e.req.Simulate {
		s.optimize(ctx)
	}
	// The users load while the first server is dialled and its first pages
	// arrive; the pages wait for them (see search).
	e.usersDone = make(chan struct{})
	defer e.waitUsers() // never leave the loader running
	go func() {
		defer close(e.usersDone)
		tl := time.Now()
		if e.usersErr = e.loadUsers(ctx); e.usersErr == nil {
			e.usersErr = e.rec.progress(ctx, s.db, e.total, e.warnings)
		}
		e.tLoad = time.Since(tl)
	}()
	ts := time.Now()
	for _, srv := range e.servers {
		if err := e.search(ctx, srv); err != nil {
			return StatusFailed, err.Error()
		}
	}
	if err := e.waitUsers(); err != nil {
		return StatusFailed, err.Error()
	}
	e.tSearch = time.Since(ts)
	td := time.Now()
	st, msg, err = e.deactivate(ctx)
	e.tDeactivate = time.Since(td)
	if err != nil {
		return StatusFailed, err.Error()
	}
	if msg == "" && (e.total.Errors > 0 || e.warnings > 0) {
		msg = fmt.Sprintf("completed with %d script error(s) and %d warning(s): see the changes", e.total.Errors, e.warnings)
	}
	return st, msg
}

func rootID(t *orgs.Tree) int64 {
	for _, o := range t.All() {
		if o.ParentID == nil {
			return o.ID
		}
	}
	return 0
}

func subjectText(r Request, rootOrg int64) string {
	if r.Subject == nil {
		return fmt.Sprintf("Subject[0/system, orgId:%d]", rootOrg)
	}
	return fmt.Sprintf("Subject[%d/%s, orgId:%d]", r.Subject.UserID, r.Subject.Username, r.Subject.OrgID)
}

func (e *engine) orgName(id int64) string {
	if o, ok := e.tree.Get(id); ok {
		return o.Name
	}
	return fmt.Sprint(id)
}

// optimize refreshes SQLite's planner statistics where they are missing or
// stale (PRAGMA optimize, bounded), before a run's lifecycle writes: without
// them a deactivation's archive update can pick the archive state index and
// scan every archive, which makes a large sync quadratic.
func (s *Service) optimize(ctx context.Context) {
	conn, err := s.db.Conn(ctx)
	if err == nil {
		defer conn.Close()
		if _, err = conn.ExecContext(ctx, `PRAGMA analysis_limit = 1000`); err == nil {
			_, err = conn.ExecContext(ctx, `PRAGMA optimize = 0x10002`)
		}
	}
	if err != nil {
		s.log.Warn("DIRSYNC:: could not refresh the database statistics: "+err.Error(), "thread", "dirsync")
	}
}

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

type userRow struct {
	ID                       int64
	Username, Status, Reason string
	OrgID                    int64
	Email, First, Last       string
	ServerID                 int64
	DN, UID                  string
	HasPassword              bool
}

// loadUsers reads the users of the orgs in scope (a compact row each; the
// set of users in scope is what a run holds in memory).
func (e *engine) loadUsers(ctx context.Context) error {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(e.orgIDs)), ",")
	args := make([]any, len(e.orgIDs))
	for i, id := range e.orgIDs {
		args[i] = id
	}
	// The few administrators and users on hold first, so that the users
	// query is a plain scan.
	var admins, held []int64
	if err := e.s.db.SelectContext(ctx, &admins, `SELECT user_id FROM user_roles WHERE role = 'SYSADMIN'`); err != nil {
		return fmt.Errorf("load the administrators: %w", err)
	}
	if err := e.s.db.SelectContext(ctx, &held, `SELECT DISTINCT c.user_id FROM legal_hold_custodians c JOIN legal_holds h ON h.id = c.hold_id WHERE h.active = 1`); err != nil {
		return fmt.Errorf("load the users on legal hold: %w", err)
	}
	isAdmin, onHold := map[int64]bool{}, map[int64]bool{}
	for _, id := range admins {
		isAdmin[id] = true
	}
	for _, id := range held {
		onHold[id] = true
	}
	rows, err := e.s.db.QueryxContext(ctx, `SELECT u.id, u.username, u.org_id, u.status, u.status_reason, u.email, u.first_name, u.last_name,
		coalesce(u.ldap_server_id, 0) AS ldap_server_id, u.ldap_dn, u.ldap_uid, u.password_hash <> '' AS has_password
		FROM users u WHERE u.org_id IN (`+ph+`)`, args...)
	if err != nil {
		return fmt.Errorf("load the users in scope: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r userRow
		if err := rows.Scan(&r.ID, &r.Username, &r.OrgID, &r.Status, &r.Reason, &r.Email, &r.First, &r.Last, &r.ServerID, &r.DN, &r.UID, &r.HasPassword); err != nil {
			return fmt.Errorf("load the users in scope: %w", err)
		}
		u := &scopeUser{id: r.ID, username: r.Username, orgID: r.OrgID, status: users.Status(r.Status), reason: users.Reason(r.Reason),
			email: r.Email, first: r.First, last: r.Last, serverID: r.ServerID, dn: r.DN, uid: r.UID, onHold: onHold[r.ID],
			guard: strings.EqualFold(r.Username, adminUsername) && isAdmin[r.ID] && r.HasPassword && r.DN == ""}
		e.users = append(e.users, u)
		key := strings.ToLower(r.Username)
		e.byName[key] = append(e.byName[key], u)
		e.orgs[r.OrgID].Users++
		e.total.Users++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("load the users in scope: %w", err)
	}
	sort.Slice(e.users, func(i, j int) bool { return e.users[i].id < e.users[j].id })
	return nil
}

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
	serr := conn.SearchAll(sctx, func(page []*ldapauth.Entry) error {
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
	person ldapauth.Person
	dn     string
	res    *script.Result
}

// page matches one page of entries to users, runs the scripts once per
// matched entry, and applies (or simulates) the changes other than
// deactivation.
func (e *engine) page(ctx context.Context, srv ldapauth.Server, entries []*ldapauth.Entry) error {
	set := e.sets[srv.ID]
	var found []match
	var dups outcome
	for _, ent := range entries {
		if ent == nil {
			continue
		}
		var res *script.Result
		person := srv.Person(ent)
		for _, name := range person.Usernames {
			for _, u := range e.byName[strings.ToLower(name)] {
				if !e.serves[u.orgID][srv.ID] {
					continue
				}
				if u.found {
					if u.foundOn == srv.ID && !strings.EqualFold(u.foundDN, ent.DN) {
						dups.warn(u, fmt.Sprintf("username found in several entries of LDAP server %d (%s): %q and %q; the first one is used", srv.ID, srv.Name, u.foundDN, ent.DN))
					}
					continue
				}
				u.found, u.foundOn, u.foundDN = true, srv.ID, ent.DN
				if res == nil {
					t0 := time.Now()
					r := e.runner.Run(set, ent.DN, ent.Attrs)
					e.inScripts += time.Since(t0)
					res = &r
				}
				found = append(found, match{u: u, name: name, person: person, dn: ent.DN, res: res})
			}
		}
	}
	var have map[int64][]string
	if set.RoleName != nil && len(found) > 0 {
		ids := make([]int64, 0, len(found))
		for _, m := range found {
			if m.res.OK() && m.res.Active {
				ids = append(ids, m.u.id)
			}
		}
		var err error
		if have, err = e.loadRoles(ctx, ids); err != nil {
			return err
		}
	}
	plans := make([]*plan, 0, len(found))
	for _, m := range found {
		if p := e.plan(srv, set, m, have[m.u.id]); p != nil {
			plans = append(plans, p)
		}
	}
	ta := time.Now()
	defer func() { e.inApply += time.Since(ta) }()
	return e.apply(ctx, plans, &dups)
}

func (e *engine) loadRoles(ctx context.Context, ids []int64) (map[int64][]string, error) {
	out := make(map[int64][]string, len(ids))
	for len(ids) > 0 {
		chunk := ids
		if len(chunk) > 900 {
			chunk = chunk[:900]
		}
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
			out[id] = []string{}
		}
		rows, err := e.s.db.QueryxContext(ctx, `SELECT user_id, role FROM user_roles WHERE user_id IN (`+
			strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",")+`) ORDER BY user_id, role`, args...)
		if err != nil {
			return nil, fmt.Errorf("read the roles of the users of a page: %w", err)
		}
		for rows.Next() {
			var id int64
			var role string
			if err := rows.Scan(&id, &role); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read the roles of the users of a page: %w", err)
			}
			out[id] = append(out[id], role)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read the roles of the users of a page: %w", err)
		}
	}
	return out, nil
}

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
	profile    bool
	email      string
	first      string
	last       string
	identity   bool
}

func (p *plan) empty() bool {
	return p.errMsg == "" && len(p.warnings) == 0 && !p.reactivate && p.move == nil && !p.setRoles && !p.profile && !p.identity
}

// plan decides what the scripts' results ask for one user, from the state
// the run loaded.
func (e *engine) plan(srv ldapauth.Server, set *script.Set, m match, have []string) *plan {
	u := m.u
	p := &plan{u: u, serverID: srv.ID, dn: m.dn, uid: m.person.UID}
	if !m.res.OK() {
		p.errMsg = strings.Join(m.res.Errors, "; ")
		return p
	}
	if !m.res.Active {
		u.inactive = true
		return nil
	}
	p.reactivate = reactivates(u.status, u.reason)
	orgID := u.orgID
	if name := strings.TrimSpace(m.res.OrgName); name != "" {
		o, ok := e.tree.ByName(name)
		switch {
		case !ok:
			p.warnings = append(p.warnings, fmt.Sprintf("the org name script returned %q, but no org has that name: the user stays in org %d/%s (a sync never creates orgs; create the org to move users into it)",
				name, u.orgID, e.orgName(u.orgID)))
		case o.ID != u.orgID:
			p.move = &o
			orgID = o.ID
		}
	}
	if set.RoleName != nil {
		var defaults []string
		if o, ok := e.tree.Get(orgID); ok {
			defaults = o.DefaultRoles
		}
		p.wanted = wantedRoles(m.res.Roles, defaults, e.mapping)
		p.have = have
		p.added, p.removed = users.DiffManagedRoles(have, p.wanted, e.mapping)
		p.setRoles = len(p.added)+len(p.removed) > 0
	}
	p.email, p.first, p.last = keep(m.person.EmailFor(m.name), u.email), keep(m.person.FirstName, u.first), keep(m.person.LastName, u.last)
	p.profile = p.email != u.email || p.first != u.first || p.last != u.last
	p.identity = u.serverID != srv.ID || u.dn != m.dn || u.uid != m.person.UID
	if p.empty() {
		return nil
	}
	return p
}

// keep returns the directory's value, or the stored one when the entry has none.
func keep(dir, stored string) string {
	if v := strings.TrimSpace(dir); v != "" {
		return v
	}
	return stored
}

func statusText(st users.Status, reason users.Reason) string {
	if reason == "" || st == users.StatusActive {
		return string(st)
	}
	return fmt.Sprintf("%s (%s)", st, reason)
}

func profileDiff(p *plan, u *scopeUser) (from, to string) {
	var f, t []string
	for _, c := range []struct{ name, old, new string }{{"email", u.email, p.email}, {"firstName", u.first, p.first}, {"lastName", u.last, p.last}} {
		if c.old != c.new {
			f = append(f, c.name+": "+c.old)
			t = append(t, c.name+": "+c.new)
		}
	}
	return strings.Join(f, "; "), strings.Join(t, "; ")
}

func rolesChangeText(added, removed []string) string {
	return fmt.Sprintf("Changing roles (added: [%s], removed: [%s])", strings.Join(added, ", "), strings.Join(removed, ", "))
}

// state is a user's status as read inside a transaction.
type state struct {
	Status users.Status `db:"status"`
	Reason users.Reason `db:"status_reason"`
	OrgID  int64        `db:"org_id"`
}

func readState(ctx context.Context, tx *sqlx.Tx, id int64) (state, bool, error) {
	var st state
	err := tx.GetContext(ctx, &st, `SELECT status, status_reason, org_id FROM users WHERE id = ?`, id)
	if errors.Is(err, sql.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read user %d: %w", id, err)
	}
	return st, true, nil
}

// outcomeOf returns the outcome of plan p: with tx, applied (status
// re-checked inside the transaction, so that a change an administrator made
// during the run is respected); without, simulated.
func (e *engine) outcomeOf(ctx context.Context, tx *sqlx.Tx, p *plan) (outcome, error) {
	var o outcome
	u := p.u
	for _, w := range p.warnings {
		o.warn(u, w)
	}
	if p.errMsg != "" {
		o.fail(u, p.errMsg)
		return o, nil
	}
	cur := state{Status: u.status, Reason: u.reason, OrgID: u.orgID}
	if tx != nil {
		var ok bool
		var err error
		if cur, ok, err = readState(ctx, tx, u.id); err != nil || !ok {
			return outcome{}, err // a user deleted during the run is left out
		}
	}
	us := e.s.users
	if p.reactivate && reactivates(cur.Status, cur.Reason) {
		if tx != nil {
			if err := us.ReactivateTx(ctx, tx, u.id); err != nil {
				return o, err
			}
		}
		o.counts.Activated++
		o.line(u, ChangeReactivated, statusText(cur.Status, cur.Reason), string(users.StatusActive), "")
		o.history(u, "Reactivating")
	}
	if p.move != nil && cur.OrgID != p.move.ID {
		if tx != nil {
			if err := us.MoveTx(ctx, tx, u.id, p.move.ID); err != nil {
				return o, err
			}
		}
		o.counts.Moved++
		o.line(u, ChangeMoved, e.orgName(cur.OrgID), p.move.Name, "")
		o.history(u, fmt.Sprintf("Moving to org:%d/%s", p.move.ID, p.move.Name))
	}
	if p.setRoles {
		added, removed := p.added, p.removed
		if tx != nil {
			var err error
			if added, removed, err = us.SetManagedRolesTx(ctx, tx, u.id, p.wanted, e.mapping); err != nil {
				return o, err
			}
		}
		if len(added)+len(removed) > 0 {
			o.counts.RolesChanged++
			o.line(u, ChangeRolesChanged, joinRoles(p.have), joinRoles(applyRoles(p.have, added, removed)), "")
			o.history(u, rolesChangeText(added, removed))
		}
	}
	if p.profile {
		changed := true
		if tx != nil {
			var err error
			if changed, err = us.UpdateProfileTx(ctx, tx, u.id, p.email, p.first, p.last); err != nil {
				return o, err
			}
		}
		if changed {
			from, to := profileDiff(p, u)
			o.line(u, ChangeProfileUpdated, from, to, "")
			o.history(u, "Updating email and names of")
		}
	}
	if p.identity && tx != nil {
		if err := us.SetLDAPIdentityTx(ctx, tx, u.id, p.serverID, p.dn, p.uid); err != nil {
			return o, err
		}
	}
	return o, nil
}

// apply applies (or simulates) the plans of one page in one transaction, one
// savepoint per user, with their history lines; then logs them.
func (e *engine) apply(ctx context.Context, plans []*plan, extra *outcome) error {
	if len(plans) == 0 && len(extra.lines) == 0 {
		return nil
	}
	tx, err := e.s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin a page's transaction: %w", err)
	}
	defer tx.Rollback()
	var work *sqlx.Tx
	if !e.req.Simulate {
		work = tx
	}
	outs := []outcome{*extra}
	for _, p := range plans {
		o, err := e.savepoint(ctx, work, func() (outcome, error) { return e.outcomeOf(ctx, work, p) })
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			o = outcome{}
			o.fail(p.u, "could not apply the change: "+err.Error())
		}
		outs = append(outs, o)
	}
	return e.commit(ctx, tx, outs)
}

// savepoint runs fn inside a savepoint of tx (nil: no transaction), rolling
// back to it when fn fails, so that one user's failure leaves it untouched
// and the rest of the batch goes on.
func (e *engine) savepoint(ctx context.Context, tx *sqlx.Tx, fn func() (outcome, error)) (outcome, error) {
	if tx == nil {
		return fn()
	}
	if _, err := tx.ExecContext(ctx, `SAVEPOINT dirsync_user`); err != nil {
		return outcome{}, fmt.Errorf("savepoint: %w", err)
	}
	o, err := fn()
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO dirsync_user`); rerr != nil {
			return outcome{}, errors.Join(err, fmt.Errorf("roll back to savepoint: %w", rerr))
		}
	}
	if _, rerr := tx.ExecContext(ctx, `RELEASE dirsync_user`); rerr != nil {
		return outcome{}, errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))
	}
	return o, err
}

func (e *engine) emit(evs []event) {
	for _, ev := range evs {
		name := e.orgName(ev.u.orgID)
		switch ev.kind {
		case "history":
			e.log.history(ev.text, ev.u, name)
		case "warning":
			e.log.warning(ev.u, name, ev.text)
		case "error":
			e.log.scriptError(ev.u, name, ev.text)
		}
	}
}

// deactivate applies the collected deactivations once every search has
// completed, unless the safety valve stops them.
func (e *engine) deactivate(ctx context.Context) (Status, string, error) {
	var cands []*scopeUser
	var guard outcome
	for _, u := range e.users {
		if u.found && !u.inactive {
			continue
		}
		if !deactivatable(u.status, u.onHold) {
			continue
		}
		if u.guard {
			guard.warn(u, "lockout guard: the built-in administrator is never deactivated by a sync, although it was not found active in the directory")
			continue
		}
		cands = append(cands, u)
	}
	if len(guard.lines) > 0 {
		if err := e.apply(ctx, nil, &guard); err != nil {
			return StatusFailed, "", err
		}
	}
	e.ident = len(cands)
	if len(cands) == 0 {
		return StatusOK, "", nil
	}
	if e.valve.Trips(len(cands), len(e.users)) {
		if !e.req.OverrideValve {
			e.log.valve(len(cands), len(e.users), e.valve)
			// One line per user kept (up to what the history keeps; the
			// rest are only counted).
			var kept outcome
			for _, u := range cands[:min(len(cands), MaxChangeLines)] {
				kept.line(u, ChangeNotDeactivated, statusText(u.status, u.reason), statusText(u.status, u.reason), "identified for deactivation ("+why(u)+"); not deactivated: safety valve")
			}
			e.rec.total += len(cands) - len(kept.lines)
			if err := e.recordOnly(ctx, kept.lines); err != nil {
				return StatusFailed, "", err
			}
			return StatusValve, ValveMessage, nil
		}
		e.log.valveOverridden(len(cands), len(e.users))
	}
	for batch := 1; len(cands) > 0; batch++ {
		n := min(batchSize, len(cands))
		if err := e.deactivateBatch(ctx, cands[:n]); err != nil {
			return StatusFailed, "", fmt.Errorf("deactivate users: %w", err)
		}
		cands = cands[n:]
		if h := e.s.pageHook; h != nil {
			h(HookDeactivated, 0, batch)
		}
	}
	msg := ""
	if e.valve.Trips(e.ident, len(e.users)) {
		msg = fmt.Sprintf("safety valve overridden: %d of %d users were identified for deactivation", e.ident, len(e.users))
	}
	return StatusOK, msg, nil
}

func why(u *scopeUser) string {
	if u.inactive {
		return "the active script returned false"
	}
	return "not found in the directory"
}

// recordOnly writes history lines in their own transaction.
func (e *engine) recordOnly(ctx context.Context, lines []Change) error {
	tx, err := e.s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("record history: %w", err)
	}
	defer tx.Rollback()
	if err := e.rec.add(ctx, tx, lines); err != nil {
		return err
	}
	if err := e.rec.progress(ctx, tx, e.total, e.warnings); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("record history: %w", err)
	}
	return nil
}

func (e *engine) deactivateBatch(ctx context.Context, batch []*scopeUser) error {
	tx, err := e.s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback()
	var work *sqlx.Tx
	if !e.req.Simulate {
		work = tx
	}
	outs := make([]outcome, 0, len(batch))
	for _, u := range batch {
		o, err := e.savepoint(ctx, work, func() (outcome, error) { return e.deactivateOne(ctx, work, u) })
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			o = outcome{}
			o.fail(u, "could not deactivate: "+err.Error())
		}
		outs = append(outs, o)
	}
	return e.commit(ctx, tx, outs)
}

// commit records the outcomes' change lines and the run's progress in tx,
// commits it, and only then adds the counts to the run and logs the events,
// so that what is counted and logged is what was written.
func (e *engine) commit(ctx context.Context, tx *sqlx.Tx, outs []outcome) error {
	var batch Counts
	warnings := 0
	perOrg := map[int64]Counts{}
	for _, o := range outs {
		if err := e.rec.add(ctx, tx, o.lines); err != nil {
			return err
		}
		batch.add(o.counts)
		warnings += o.warnings
		if len(o.lines) > 0 {
			c := perOrg[o.lines[0].OrgID]
			c.add(o.counts)
			perOrg[o.lines[0].OrgID] = c
		}
	}
	total := e.total
	total.add(batch)
	if err := e.rec.progress(ctx, tx, total, e.warnings+warnings); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit a batch of changes: %w", err)
	}
	e.total, e.warnings = total, e.warnings+warnings
	for id, c := range perOrg {
		if oc := e.orgs[id]; oc != nil {
			oc.add(c)
		}
	}
	for _, o := range outs {
		e.emit(o.events)
	}
	return nil
}

// deactivateOne deactivates (on hold: blocks) one user, or says what that
// would do.
func (e *engine) deactivateOne(ctx context.Context, tx *sqlx.Tx, u *scopeUser) (outcome, error) {
	var o outcome
	before := state{Status: u.status, Reason: u.reason, OrgID: u.orgID}
	after := before
	if tx != nil {
		var ok bool
		var err error
		if before, ok, err = readState(ctx, tx, u.id); err != nil || !ok {
			return o, err
		}
		if _, err := e.s.users.DeactivateTx(ctx, tx, u.id, users.ReasonDirsync); err != nil {
			return o, err
		}
		if after, _, err = readState(ctx, tx, u.id); err != nil {
			return o, err
		}
	} else if u.onHold {
		after.Status, after.Reason = users.StatusBlocked, users.ReasonLegalHold
	} else {
		after.Status, after.Reason = users.StatusDeactivated, users.ReasonDirsync
	}
	if before.Status == after.Status && before.Reason == after.Reason {
		return o, nil
	}
	if after.Status == users.StatusBlocked {
		o.counts.Blocked++
		o.line(u, ChangeBlocked, statusText(before.Status, before.Reason), statusText(after.Status, after.Reason), why(u)+"; on legal hold: blocked instead of deactivated")
		o.history(u, "Blocking (on legal hold) instead of deactivating")
		return o, nil
	}
	o.counts.Deactivated++
	o.line(u, ChangeDeactivated, statusText(before.Status, before.Reason), statusText(after.Status, after.Reason), why(u))
	o.history(u, "Blocking and deactivating")
	return o, nil
}

// orgCounts returns the per-org counts, ordered by org id.
func (e *engine) orgCounts() []OrgCounts {
	out := make([]OrgCounts, 0, len(e.orgIDs))
	for _, id := range e.orgIDs {
		c := e.orgs[id]
		if c == nil {
			c = &Counts{}
		}
		out = append(out, OrgCounts{OrgID: id, OrgName: e.orgName(id), Counts: *c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].OrgID < out[j].OrgID })
	return out
}
