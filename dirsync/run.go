package dirsync

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/authority-server/authority/internal/metrics"
	"github.com/authority-server/authority/ldapauth"
	"github.com/authority-server/authority/ldapauth/script"
	"github.com/authority-server/authority/orgs"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// scopeUser is a user in scope, as loaded at the start of the run, plus what
// the run learned about it.
type scopeUser struct {
	users.ScopeUser

	found    bool  // matched an entry on a server of its org
	foundOn  int64 // the server it was found on
	foundDN  string
	inactive bool // the active script returned false
	// pending is the profile planned for a user found on a server with a
	// manager attribute, applied by resolveProfiles after the search.
	pending *pendingProfile
	// newDN is the DN the run records for the user ("" when unchanged).
	newDN string
}

// engine is one run. Its work is split by concern: loading (load.go), the
// page pipeline (pipeline.go), planning (plan.go), applying or simulating
// (apply.go), and the deactivations with the safety valve (deactivate.go).
type engine struct {
	s       *Service
	req     Request
	runID   int64
	log     *runLog
	rec     *recorder
	valve   Valve
	tree    *orgs.Tree
	orgIDs  []int64
	servers []ldapauth.Server
	sets    map[int64]*script.Set
	serves  map[int64]map[int64]bool // org id → server ids of the org
	users   []*scopeUser             // the users the page being processed names (indexPage)
	// found is the server each user the run has found was found on, and
	// foundMoved the DN it was found at where that is not the DN the user
	// had (for the others it is their LDAP DN): what a later entry naming
	// the same user needs (the duplicate warning), and what tells the found
	// from the unfound at the end. found holds no pointer, so that the
	// garbage collector, which runs every few pages during a search, need
	// not scan it. foundMissed are the found users with missed runs to
	// clear, keep those the end of the run works on (retain); managers:
	// some server maps a manager attribute.
	found       map[int64]int64
	foundMoved  map[int64]string
	foundMissed []int64
	keep        []*scopeUser
	managers    bool
	flags       *users.ScopeFlags                  // the administrators and users on hold, read once
	roles       atomic.Pointer[users.RoleSnapshot] // every user's roles, read once by a full run (readAhead); nil: read per page
	scopeIDs    []int64                            // the ids of the users in scope, read by a full run (readAhead)
	scopeIndex  atomic.Pointer[users.ScopeIndex]   // the users in scope by username key, read by a full run (readAhead); nil: pages read by the username index
	byName      userIndex                          // casefold.Key of the username (several only for names an earlier version let differ in case)
	byUID       userIndex                          // the stable id (lower case) of the entry each user matched last
	mapping     roles.Mapping
	roleDiffs   roleDiffs            // the role decisions of the plans, by what they depend on
	orgNames    map[string]orgLookup // the orgs of org name script results (orgByName)
	orgs        map[int64]*Counts
	total       Counts
	warnings    int
	ident       int
	runner      *script.Runner   // the script stage's (search)
	lazy        *script.Runner   // the page stage's, for the scripts the script stage left to it
	eager       atomic.Bool      // whether the script stage runs the scripts of every entry (scriptPage)
	committed   atomic.Int64     // the last page of the search whose changes are committed
	rekeyed     map[int][]string // by page: the keys whose users the page's changes rename, move or re-identify (rekey)
	pages       int
	names       map[int64]string // usernames of the users a manager may be (resolveProfiles)
	inc         incrementalState // the run's mode and change tracking (incremental.go)
	// missedRuns is the missed-run threshold; waiting counts the users not
	// found that wait for it, by their consecutive misses (deactivate.go).
	missedRuns int
	waiting    map[int]int

	// Where the time went (the Timings log line). inPages, inScripts and
	// inApply are spent by the page goroutine, alongside the search.
	tRun, tLoad, tSearch, tDeactivate time.Duration
	inPages, inScripts, inApply       time.Duration
	searchWaited                      time.Duration // the search's time waiting for the stages to take a page

	usersDone chan struct{} // closed when readFlags has ended
	usersErr  error
	// countsDone is closed when countUsers has ended; takeCounts adds
	// counts to the totals once (countsTaken).
	countsDone  chan struct{}
	counts      map[int64]int
	countsErr   error
	countsTaken bool
	prepared    chan struct{} // closed when the script stage's runtimes are built (nil: no servers loaded)
	aheadDone   chan struct{} // closed when readAhead has ended (nil: not started)
	aheadErr    error
}

// execute runs the sync of the run in sl, records its end, frees the slot
// and sends the summary email. The run stops when ctx ends, when Cancel asks
// the slot to stop, or when it has run longer than the syncTimeout setting;
// it is then recorded as cancelled.
func (s *Service) execute(ctx context.Context, sl *slot, req Request, start time.Time) {
	e := &engine{s: s, req: req, runID: sl.runID, rec: &recorder{runID: sl.runID}, orgs: map[int64]*Counts{},
		serves: map[int64]map[int64]bool{}, byName: newUserIndex(), byUID: newUserIndex(), sets: map[int64]*script.Set{},
		found: map[int64]int64{}, foundMoved: map[int64]string{}, rekeyed: map[int][]string{}}
	e.inc.mode = ModeFull
	bg := context.WithoutCancel(ctx)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(sl.stopCtx, func() { cancel(context.Cause(sl.stopCtx)) })
	defer stop()
	if settings, err := s.settings(ctx); err == nil {
		limit := settings.Timeout()
		var cancelT context.CancelFunc
		ctx, cancelT = context.WithTimeoutCause(ctx, limit, &StopRequest{Reason: fmt.Sprintf("it ran longer than syncTimeout (%s)", limit)})
		defer cancelT()
	}
	tr := time.Now()
	st, msg := e.run(ctx)
	e.tRun = time.Since(tr)
	_ = e.takeCounts(true) // a run that failed early: its summary still counts the users in scope (an error failed it already)
	if st != StatusFailed && e.runner != nil {
		// A failed run (or one stopped by a panic) leaves nothing behind.
		s.kept.keep(e.sets, e.runner, e.lazy)
	}
	switch {
	case st == StatusFailed && ctx.Err() != nil:
		st, msg = StatusCancelled, e.cancelledMessage(context.Cause(ctx), msg)
		e.log.cancelled(e.runID, e.orgIDs, msg)
	case st == StatusFailed:
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
	if err := e.recordMode(bg); err != nil {
		s.log.Error("DIRSYNC:: "+err.Error(), "thread", fmt.Sprintf("dirsync-%d", e.runID))
	}
	s.log.Info(e.modeLine(), "thread", fmt.Sprintf("dirsync-%d", e.runID))
	s.release(sl)
	metrics.SyncEnded(string(st), e.tRun)
	e.log.timings(e)
	mctx := bg
	if s.base.Err() != nil {
		// The server is stopping: the email must not hold the shutdown up.
		var cancelM context.CancelFunc
		mctx, cancelM = context.WithTimeout(bg, ShutdownMailTimeout)
		defer cancelM()
	}
	if e.quiet(st) {
		return // a quiet incremental run sends no email
	}
	s.sendSummary(mctx, e.runID, e.log)
}

// ShutdownMailTimeout bounds the summary email of a run cancelled because
// the server is shutting down.
const ShutdownMailTimeout = 3 * time.Second

// cancelledMessage is the message of a run that stopped because it was asked
// to (cause: a *StopRequest, or the end of the caller's context), with what
// it had done by then; detail is the error the run stopped on.
func (e *engine) cancelledMessage(cause error, detail string) string {
	why := "the process was asked to stop"
	var req *StopRequest
	switch {
	case errors.As(cause, &req):
		why = req.Reason
	case errors.Is(cause, context.DeadlineExceeded):
		why = "its deadline passed"
	}
	done := "nobody was deactivated"
	if n := e.total.Deactivated + e.total.Blocked; n > 0 {
		done = fmt.Sprintf("%d user(s) were deactivated or blocked before the cancel and stay so", n)
	}
	if !strings.HasPrefix(why, "cancelled") {
		why = "cancelled: " + why
	}
	msg := fmt.Sprintf("%s. Every user is either fully changed or untouched; the changes committed before the cancel are kept and listed; %s; the next run completes the work", why, done)
	if detail != "" {
		msg += " (stopped at: " + detail + ")"
	}
	return msg
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
	settings, err := s.settings(ctx)
	if err != nil {
		return StatusFailed, err.Error()
	}
	e.valve = valveOf(settings)
	e.missedRuns = settings.MissedRuns()
	if len(scope) == 0 {
		return StatusOK, "no org uses LDAP: nothing to synchronize"
	}
	if e.mapping, err = s.users.Mapping(ctx); err != nil {
		return StatusFailed, fmt.Sprintf("read the Role Mapping list: %v", err)
	}
	if err := e.loadServers(ctx, scope); err != nil {
		return StatusFailed, err.Error()
	}
	// The script stage's runtimes build while the directory is dialled
	// (a Runner the last run left has them already).
	e.prepared = make(chan struct{})
	defer func() { <-e.prepared }() // never leave it running
	go func() {
		defer close(e.prepared)
		for _, srv := range e.servers {
			_ = e.runner.Prepare(e.sets[srv.ID]) // a runtime that cannot be built fails the script's calls, which say why
		}
	}()
	if err := e.chooseMode(ctx); err != nil {
		return StatusFailed, err.Error()
	}
	if err := e.recordMode(ctx); err != nil {
		return StatusFailed, err.Error()
	}
	if e.req.Incremental {
		if err := s.pruneQuietRuns(ctx); err != nil {
			e.s.log.Warn("DIRSYNC:: "+err.Error(), "thread", fmt.Sprintf("dirsync-%d", e.runID))
		}
	}
	if !e.req.Simulate {
		s.optimize(ctx)
	}
	// The users load while the first server is dialled and its first pages
	// arrive; the pages wait for them (see search).
	e.usersDone, e.countsDone = make(chan struct{}), make(chan struct{})
	defer func() { <-e.usersDone; <-e.countsDone }() // never leave the loaders running
	go func() {
		defer close(e.usersDone)
		e.usersErr = e.readFlags(ctx)
	}()
	go func() {
		defer close(e.countsDone)
		tl := time.Now()
		e.countsErr = e.countUsers(ctx)
		e.tLoad = time.Since(tl)
	}()
	if e.inc.mode != ModeIncremental {
		defer PaceGC()()
		e.aheadDone = make(chan struct{})
		defer e.waitAhead() // never leave it running
		go func() {
			defer close(e.aheadDone)
			e.aheadErr = e.readAhead(ctx)
		}()
	}
	ts := time.Now()
	for _, srv := range e.servers {
		if err := e.search(ctx, srv); err != nil {
			return StatusFailed, err.Error()
		}
	}
	if err := e.waitUsers(); err != nil {
		return StatusFailed, err.Error()
	}
	if err := e.takeCounts(true); err != nil {
		return StatusFailed, err.Error()
	}
	if err := e.rec.progress(ctx, s.db, e.total, e.warnings); err != nil {
		return StatusFailed, err.Error()
	}
	if err := e.resolveProfiles(ctx); err != nil {
		return StatusFailed, err.Error()
	}
	e.tSearch = time.Since(ts)
	if err := ctx.Err(); err != nil {
		// A cancelled run never starts deactivating.
		return StatusFailed, "before the deactivations: " + err.Error()
	}
	if err := e.waitAhead(); err != nil {
		return StatusFailed, err.Error()
	}
	td := time.Now()
	st, msg, err = e.deactivate(ctx)
	e.tDeactivate = time.Since(td)
	if err != nil {
		return StatusFailed, err.Error()
	}
	if msg == "" && (e.total.Errors > 0 || e.warnings > 0) {
		msg = fmt.Sprintf("completed with %d script error(s) and %d warning(s): see the changes", e.total.Errors, e.warnings)
	}
	if e.inc.reason != "" {
		msg = strings.TrimPrefix(msg+"; "+e.inc.reason, "; ")
	}
	if st == StatusOK {
		// The states move forward only with a committed run (not one the
		// safety valve held back: the next run must see those deletions again).
		if err := e.saveTracking(ctx); err != nil {
			return StatusFailed, err.Error()
		}
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
