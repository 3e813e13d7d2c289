package dirsync

import (
	"context"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/apperr"
	"github.com/authority-server/authority/internal/sqltx"
	"github.com/authority-server/authority/users"
	"github.com/authority-server/authority/users/roles"
)

// effects is how a run's changes take effect. A real run applies them
// (applied: users' ...Tx calls inside the batch's transaction, deciding on
// the state read there, so that a change an administrator made during the
// run is respected); a simulated run only asks users' rules what they would
// do to the state the run loaded (simulated: nothing written). Everything
// else, the history lines, counts and log lines included, is the same code
// for both.
type effects interface {
	// current returns the user's state and org; ok is false for a user
	// deleted during the run, which the run then leaves out.
	current(ctx context.Context, u *scopeUser) (st users.State, orgID int64, ok bool, err error)
	reactivate(ctx context.Context, u *scopeUser) (users.Transition, error)
	deactivate(ctx context.Context, u *scopeUser) (users.Transition, error)
	// deactivateMany deactivates us with set-wide statements: each user's
	// transition by id (none for a user deleted during the run) and the
	// users refused (the last active administrator).
	deactivateMany(ctx context.Context, us []*scopeUser) (done map[int64]users.Transition, refused map[int64]error, err error)
	// move moves the user and returns the org it was in.
	move(ctx context.Context, u *scopeUser, to int64) (from int64, err error)
	setRoles(ctx context.Context, p *plan, mapping roles.Mapping) (added, removed []string, err error)
	updateProfile(ctx context.Context, u *scopeUser, to users.Profile) (changed bool, err error)
	setIdentity(ctx context.Context, p *plan) error
	// rename gives the user the username its entry now has.
	rename(ctx context.Context, u *scopeUser, to string) error
	// whole runs one user's changes so that they happen whole or not at all.
	whole(ctx context.Context, fn func() error) error
}

// effects returns how changes take effect in a batch whose transaction is tx.
func (e *engine) effects(tx *sqlx.Tx) effects {
	if e.req.Simulate {
		return simulated{db: e.s.db}
	}
	return applied{tx: tx, users: e.s.users}
}

// applied writes through package users in one transaction.
type applied struct {
	tx    *sqlx.Tx
	users *users.Service
}

func (a applied) current(ctx context.Context, u *scopeUser) (users.State, int64, bool, error) {
	st, orgID, err := users.StateTx(ctx, a.tx, u.ID)
	if apperr.Is(err, apperr.KindNotFound) {
		return st, 0, false, nil
	}
	return st, orgID, err == nil, err
}

func (a applied) reactivate(ctx context.Context, u *scopeUser) (users.Transition, error) {
	return a.users.ReactivateTx(ctx, a.tx, u.ID)
}

func (a applied) deactivate(ctx context.Context, u *scopeUser) (users.Transition, error) {
	return a.users.DeactivateTx(ctx, a.tx, u.ID, users.ReasonDirsync)
}

func (a applied) deactivateMany(ctx context.Context, us []*scopeUser) (map[int64]users.Transition, map[int64]error, error) {
	ids := make([]int64, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return a.users.DeactivateManyTx(ctx, a.tx, ids, users.ReasonDirsync)
}

func (a applied) move(ctx context.Context, u *scopeUser, to int64) (int64, error) {
	return a.users.MoveTx(ctx, a.tx, u.ID, to)
}

func (a applied) setRoles(ctx context.Context, p *plan, mapping roles.Mapping) ([]string, []string, error) {
	return a.users.SetManagedRolesTx(ctx, a.tx, p.u.ID, p.wanted, mapping)
}

func (a applied) updateProfile(ctx context.Context, u *scopeUser, to users.Profile) (bool, error) {
	return a.users.UpdateProfileTx(ctx, a.tx, u.ID, to)
}

func (a applied) setIdentity(ctx context.Context, p *plan) error {
	return a.users.SetLDAPIdentityTx(ctx, a.tx, p.u.ID, p.serverID, p.dn, p.uid)
}

func (a applied) rename(ctx context.Context, u *scopeUser, to string) error {
	return a.users.RenameTx(ctx, a.tx, u.ID, to)
}

func (a applied) whole(ctx context.Context, fn func() error) error {
	return sqltx.Savepoint(ctx, a.tx, fn)
}

// simulated decides with users' rules on the state the run loaded and
// writes nothing.
type simulated struct{ db sqlx.QueryerContext }

func (simulated) current(_ context.Context, u *scopeUser) (users.State, int64, bool, error) {
	return u.State, u.OrgID, true, nil
}

func (simulated) reactivate(_ context.Context, u *scopeUser) (users.Transition, error) {
	return users.Transition{Before: u.State, After: u.State.Reactivate()}, nil
}

func (simulated) deactivate(_ context.Context, u *scopeUser) (users.Transition, error) {
	return users.Transition{Before: u.State, After: u.State.Deactivate(users.ReasonDirsync)}, nil
}

func (simulated) deactivateMany(_ context.Context, us []*scopeUser) (map[int64]users.Transition, map[int64]error, error) {
	done := make(map[int64]users.Transition, len(us))
	for _, u := range us {
		done[u.ID] = users.Transition{Before: u.State, After: u.State.Deactivate(users.ReasonDirsync)}
	}
	return done, nil, nil
}

func (simulated) move(_ context.Context, u *scopeUser, _ int64) (int64, error) { return u.OrgID, nil }

func (simulated) setRoles(_ context.Context, p *plan, _ roles.Mapping) ([]string, []string, error) {
	return p.added, p.removed, nil
}

func (simulated) updateProfile(context.Context, *scopeUser, users.Profile) (bool, error) {
	return true, nil
}

func (simulated) setIdentity(context.Context, *plan) error { return nil }

// rename refuses what RenameTx would refuse, reading only.
func (s simulated) rename(ctx context.Context, u *scopeUser, to string) error {
	if err := users.ValidateUsername(to); err != nil {
		return err
	}
	taken, err := users.UsernameTaken(ctx, s.db, to, u.ID)
	if err != nil {
		return err
	}
	if taken {
		return apperr.Conflict("username", "the username %q is held by another user", to)
	}
	return nil
}

func (simulated) whole(_ context.Context, fn func() error) error { return fn() }

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
	o.lines = append(o.lines, Change{UserID: u.ID, Username: u.Username, OrgID: u.OrgID, Change: change, From: from, To: to, Message: msg})
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

// outcomeOf makes plan p take effect through fx and returns what it amounted to.
func (e *engine) outcomeOf(ctx context.Context, fx effects, p *plan) (outcome, error) {
	var o outcome
	u := p.u
	for _, w := range p.warnings {
		o.warn(u, w)
	}
	if p.errMsg != "" {
		o.fail(u, p.errMsg)
		return o, nil
	}
	cur, _, ok, err := fx.current(ctx, u)
	if err != nil || !ok {
		return outcome{}, err
	}
	if p.rename != "" {
		err := fx.rename(ctx, u, p.rename)
		if apperr.Is(err, apperr.KindConflict) || apperr.Is(err, apperr.KindInvalid) {
			o.fail(u, fmt.Sprintf("the directory entry %s is now named %q, but %v: nothing changes for this user", p.dn, p.rename, err))
			return o, nil
		}
		if err != nil {
			return o, err
		}
		o.line(u, ChangeRenamed, u.Username, p.rename, "")
		o.history(u, "Renaming from "+u.Username+" to")
		u.Username = p.rename
	}
	if p.reactivate && cur.SourceReactivates() {
		t, err := fx.reactivate(ctx, u)
		if err != nil {
			return o, err
		}
		if t.Changed() {
			o.counts.Activated++
			o.line(u, ChangeReactivated, statusText(t.Before), statusText(t.After), "")
			o.history(u, "Reactivating")
		}
	}
	if p.move != nil {
		from, err := fx.move(ctx, u, p.move.ID)
		if err != nil {
			return o, err
		}
		if from != p.move.ID {
			o.counts.Moved++
			o.line(u, ChangeMoved, e.orgName(from), p.move.Name, "")
			o.history(u, fmt.Sprintf("Moving to org:%d/%s", p.move.ID, p.move.Name))
		}
	}
	if p.setRoles {
		added, removed, err := fx.setRoles(ctx, p, e.mapping)
		if err != nil {
			return o, err
		}
		if len(added)+len(removed) > 0 {
			o.counts.RolesChanged++
			o.line(u, ChangeRolesChanged, joinRoles(p.have), joinRoles(roles.Apply(p.have, added, removed)), "")
			o.history(u, rolesChangeText(added, removed))
		}
	}
	if p.profile != nil {
		changed, err := fx.updateProfile(ctx, u, *p.profile)
		if err != nil {
			return o, err
		}
		if changed {
			from, to := e.profileDiff(u.Profile.Unpack(), *p.profile)
			o.line(u, ChangeProfileUpdated, from, to, "")
			o.history(u, "Updating the profile of")
		}
	}
	if p.identity {
		if err := fx.setIdentity(ctx, p); err != nil {
			return o, err
		}
	}
	return o, nil
}

// apply makes the plans of one page take effect in one batch (see batch).
func (e *engine) apply(ctx context.Context, plans []*plan, extra *outcome) error {
	if len(plans) == 0 && len(extra.lines) == 0 {
		return nil
	}
	return e.batch(ctx, *extra, len(plans), nil, func(fx effects, i int) (outcome, error) {
		return e.outcomeOf(ctx, fx, plans[i])
	}, func(i int, err error) outcome {
		var o outcome
		o.fail(plans[i].u, "could not apply the change: "+err.Error())
		return o
	})
}

// batch runs n users' changes in one transaction, each whole (a savepoint
// each when applied), so that one user's failure leaves that user as it was
// (failed says what to record instead) and the rest of the batch goes on.
// A batch with a set step (not nil) runs it first, in the transaction; it
// says whether each change must still be whole (the set step wrote for
// them all, so the changes only report what it did, unless it failed).
// The transaction also records their history lines and the run's progress;
// only once it is committed are the counts added to the run and the events
// logged, so that what is counted and logged is what was written.
func (e *engine) batch(ctx context.Context, first outcome, n int, set func(fx effects) (each bool, err error), change func(fx effects, i int) (outcome, error), failed func(i int, err error) outcome) error {
	var outs []outcome
	var t tally
	err := sqltx.Run(ctx, e.s.db, func(tx *sqlx.Tx) error {
		fx := e.effects(tx)
		outs = append(make([]outcome, 0, n+1), first)
		each := true
		if set != nil {
			var err error
			if each, err = set(fx); err != nil {
				return err
			}
		}
		for i := range n {
			yield(i) // the search goes first
			var o outcome
			var err error
			if each {
				err = fx.whole(ctx, func() (err error) { o, err = change(fx, i); return err })
			} else {
				o, err = change(fx, i)
			}
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				o = failed(i, err)
			}
			outs = append(outs, o)
		}
		var err error
		t, err = e.record(ctx, tx, outs)
		return err
	})
	if err != nil {
		return fmt.Errorf("a batch of changes: %w", err)
	}
	e.total, e.warnings = t.total, t.warnings
	for id, c := range t.perOrg {
		if oc := e.orgs[id]; oc != nil {
			oc.add(c)
		}
	}
	for _, o := range outs {
		e.emit(o.events)
	}
	return nil
}

// tally is the run's counts once a batch is added.
type tally struct {
	total    Counts
	warnings int
	perOrg   map[int64]Counts
}

// record writes the outcomes' change lines and the run's progress in tx and
// returns the run's counts with them.
func (e *engine) record(ctx context.Context, tx *sqlx.Tx, outs []outcome) (tally, error) {
	t := tally{total: e.total, warnings: e.warnings, perOrg: map[int64]Counts{}}
	for _, o := range outs {
		if err := e.rec.add(ctx, tx, o.lines); err != nil {
			return tally{}, err
		}
		t.total.add(o.counts)
		t.warnings += o.warnings
		if len(o.lines) > 0 {
			c := t.perOrg[o.lines[0].OrgID]
			c.add(o.counts)
			t.perOrg[o.lines[0].OrgID] = c
		}
	}
	return t, e.rec.progress(ctx, tx, t.total, t.warnings)
}

func (e *engine) emit(evs []event) {
	for _, ev := range evs {
		name := e.orgName(ev.u.OrgID)
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

// recordOnly writes history lines in their own transaction.
func (e *engine) recordOnly(ctx context.Context, lines []Change) error {
	return sqltx.Run(ctx, e.s.db, func(tx *sqlx.Tx) error {
		if err := e.rec.add(ctx, tx, lines); err != nil {
			return err
		}
		return e.rec.progress(ctx, tx, e.total, e.warnings)
	})
}
