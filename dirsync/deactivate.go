package dirsync

import (
	"context"
	"fmt"
	"sort"

	"github.com/jmoiron/sqlx"

	"github.com/authority-server/authority/internal/sqltx"

	"github.com/authority-server/authority/users"
)

// batchSize is how many users' deactivations one transaction applies.
const batchSize = 500

// deactivate applies the collected deactivations once every search has
// completed, unless the safety valve stops them.
func (e *engine) deactivate(ctx context.Context) (Status, string, error) {
	var cands []*scopeUser
	var guard outcome
	misses := map[int][]int64{} // consecutive misses → users to record them on
	if len(e.foundMissed) > 0 {
		misses[0] = e.foundMissed
	}
	e.waiting = map[int]int{}
	consider := func(u *scopeUser) {
		if u.found && !u.inactive {
			return
		}
		if !u.found && !e.notFoundCounts(u) {
			return // an incremental run deactivates only what it saw go
		}
		if !u.found && u.State.Status != users.StatusDeactivated {
			if n := u.Misses + 1; n < e.missedRuns {
				// Not yet: the missed-run threshold (docs/rules.md section 6.1).
				misses[n] = append(misses[n], u.ID)
				e.waiting[n]++
				return
			}
			if u.Misses > 0 {
				misses[0] = append(misses[0], u.ID)
			}
		}
		if !(users.Transition{Before: u.State, After: u.State.Deactivate(users.ReasonDirsync)}).Changed() {
			return
		}
		if u.Protected {
			guard.warn(u, "lockout guard: the built-in administrator is never deactivated by a sync, although it was not found active in the directory")
			return
		}
		cands = append(cands, u)
	}
	for _, u := range e.keep {
		consider(u)
	}
	if err := e.unfound(ctx, consider); err != nil {
		return StatusFailed, "", err
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ID < cands[j].ID })
	sort.Slice(guard.lines, func(i, j int) bool { return guard.lines[i].UserID < guard.lines[j].UserID })
	if len(guard.lines) > 0 {
		if err := e.apply(ctx, nil, &guard); err != nil {
			return StatusFailed, "", err
		}
	}
	e.ident = len(cands)
	if len(cands) == 0 {
		return StatusOK, "", e.recordMisses(ctx, misses)
	}
	if e.valve.Trips(len(cands), e.total.Users) {
		if !e.req.OverrideValve {
			e.log.valve(len(cands), e.total.Users, e.valve)
			// One line per user kept (up to what the history keeps; the
			// rest are only counted).
			var kept outcome
			for _, u := range cands[:min(len(cands), MaxChangeLines)] {
				kept.line(u, ChangeNotDeactivated, statusText(u.State), statusText(u.State), "identified for deactivation ("+why(u)+"); not deactivated: safety valve")
			}
			e.rec.total += len(cands) - len(kept.lines)
			if err := e.recordOnly(ctx, kept.lines); err != nil {
				return StatusFailed, "", err
			}
			return StatusValve, ValveMessage, nil
		}
		e.log.valveOverridden(len(cands), e.total.Users)
	}
	for batch := 1; len(cands) > 0; batch++ {
		if err := ctx.Err(); err != nil {
			// Asked to stop: the batches committed stay, no new one starts.
			return StatusFailed, "", fmt.Errorf("deactivate users: stopped after %d batch(es): %w", batch-1, err)
		}
		n := min(batchSize, len(cands))
		if err := e.deactivateBatch(ctx, cands[:n]); err != nil {
			return StatusFailed, "", fmt.Errorf("deactivate users: %w", err)
		}
		cands = cands[n:]
		if h := e.s.pageHook; h != nil {
			h(HookDeactivated, 0, batch)
		}
	}
	if err := e.recordMisses(ctx, misses); err != nil {
		return StatusFailed, "", err
	}
	msg := ""
	if e.valve.Trips(e.ident, e.total.Users) {
		msg = fmt.Sprintf("safety valve overridden: %d of %d users were identified for deactivation", e.ident, e.total.Users)
	}
	return StatusOK, msg, nil
}

func why(u *scopeUser) string {
	if u.inactive {
		return "the active script returned false"
	}
	return "not found in the directory"
}

// deactivateBatch deactivates (on hold: blocks) a batch of users in one
// transaction, with set-wide statements (users.DeactivateManyTx). Should
// those fail, the batch is rolled back to before them and done one user at
// a time, each whole, so that one user's failure is that user's alone.
func (e *engine) deactivateBatch(ctx context.Context, batch []*scopeUser) error {
	var done map[int64]users.Transition
	var refused map[int64]error
	var setErr error
	set := func(fx effects) (each bool, err error) {
		setErr = fx.whole(ctx, func() (err error) {
			done, refused, err = fx.deactivateMany(ctx, batch)
			return err
		})
		if setErr != nil && ctx.Err() != nil {
			return false, setErr
		}
		return setErr != nil, nil
	}
	return e.batch(ctx, outcome{}, len(batch), set, func(fx effects, i int) (outcome, error) {
		u := batch[i]
		if setErr != nil {
			return e.deactivateOne(ctx, fx, u)
		}
		if err := refused[u.ID]; err != nil {
			return outcome{}, err
		}
		return deactivated(u, done[u.ID]), nil // none for a user deleted meanwhile: no change
	}, func(i int, err error) outcome {
		var o outcome
		o.fail(batch[i], "could not deactivate: "+err.Error())
		return o
	})
}

// deactivateOne deactivates (on hold: blocks) one user through fx.
func (e *engine) deactivateOne(ctx context.Context, fx effects, u *scopeUser) (outcome, error) {
	if _, _, ok, err := fx.current(ctx, u); err != nil || !ok {
		return outcome{}, err
	}
	t, err := fx.deactivate(ctx, u)
	if err != nil {
		return outcome{}, err
	}
	return deactivated(u, t), nil
}

// deactivated is what deactivating (on hold: blocking) u amounted to.
func deactivated(u *scopeUser, t users.Transition) outcome {
	var o outcome
	if !t.Changed() {
		return o
	}
	if t.After.Status == users.StatusBlocked {
		o.counts.Blocked++
		o.line(u, ChangeBlocked, statusText(t.Before), statusText(t.After), why(u)+"; on legal hold: blocked instead of deactivated")
		o.history(u, "Blocking (on legal hold) instead of deactivating")
		return o
	}
	o.counts.Deactivated++
	o.line(u, ChangeDeactivated, statusText(t.Before), statusText(t.After), why(u))
	o.history(u, "Blocking and deactivating")
	return o
}

// recordMisses writes each user's consecutive misses (a real run whose
// deactivations went ahead: a run the safety valve held counts no miss).
func (e *engine) recordMisses(ctx context.Context, misses map[int][]int64) error {
	if e.req.Simulate || len(misses) == 0 {
		return nil
	}
	return sqltx.Run(ctx, e.s.db, func(tx *sqlx.Tx) error {
		for n, ids := range misses {
			if err := e.s.users.SetMissesTx(ctx, tx, n, ids); err != nil {
				return err
			}
		}
		return nil
	})
}
