package users

import (
	"testing"

	"github.com/authority-server/authority/internal/apperr"
)

// The lifecycle rules as pure decisions, across every status, reason and
// legal hold a user can be in.
func TestStateDecisions(t *testing.T) {
	active := State{Status: StatusActive}
	adminBlocked := State{Status: StatusBlocked, Reason: ReasonAdmin}
	holdBlocked := State{Status: StatusBlocked, Reason: ReasonLegalHold, Pending: ReasonDirsync, OnHold: true}
	syncDeactivated := State{Status: StatusDeactivated, Reason: ReasonDirsync}
	adminDeactivated := State{Status: StatusDeactivated, Reason: ReasonAdmin}
	held := func(st State) State { st.OnHold = true; return st }

	for _, c := range []struct {
		name string
		from State
		by   Reason
		want State
	}{
		{"active, deactivated by a sync", active, ReasonDirsync, syncDeactivated},
		{"active, deactivated by an administrator", active, ReasonAdmin, adminDeactivated},
		{"active on hold: blocked instead, remembering who asked", held(active), ReasonAdmin, State{Status: StatusBlocked, Reason: ReasonLegalHold, Pending: ReasonAdmin, OnHold: true}},
		{"an administrator's block, not on hold: deactivated", adminBlocked, ReasonDirsync, syncDeactivated},
		{"an administrator's block on hold: left alone", held(adminBlocked), ReasonDirsync, held(adminBlocked)},
		{"blocked by a hold, asked again by an administrator", holdBlocked, ReasonAdmin, State{Status: StatusBlocked, Reason: ReasonLegalHold, Pending: ReasonAdmin, OnHold: true}},
		{"already deactivated: unchanged", syncDeactivated, ReasonAdmin, syncDeactivated},
		{"already deactivated on hold: unchanged", held(adminDeactivated), ReasonDirsync, held(adminDeactivated)},
	} {
		if got := c.from.Deactivate(c.by); got != c.want {
			t.Errorf("Deactivate: %s: got %+v, want %+v", c.name, got, c.want)
		}
	}

	for _, c := range []struct {
		from              State
		sourceReactivates bool
	}{
		{active, false},
		{adminBlocked, false}, // a source never undoes an administrator's block
		{held(adminBlocked), false},
		{holdBlocked, true},
		{syncDeactivated, true},
		{adminDeactivated, true}, // the directory overrides an administrator's deactivation
	} {
		if got := c.from.SourceReactivates(); got != c.sourceReactivates {
			t.Errorf("SourceReactivates(%+v) = %t", c.from, got)
		}
		if got := c.from.Reactivate(); got != (State{Status: StatusActive, OnHold: c.from.OnHold}) {
			t.Errorf("Reactivate(%+v) = %+v", c.from, got)
		}
	}

	for _, from := range []State{active, adminBlocked, holdBlocked} {
		if got, err := from.Block(); err != nil || got != (State{Status: StatusBlocked, Reason: ReasonAdmin, OnHold: from.OnHold}) {
			t.Errorf("Block(%+v) = %+v, %v", from, got, err)
		}
		if got, err := from.Unblock(); err != nil || got != (State{Status: StatusActive, OnHold: from.OnHold}) {
			t.Errorf("Unblock(%+v) = %+v, %v", from, got, err)
		}
	}
	if _, err := syncDeactivated.Block(); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("blocking a deactivated user: %v, want a conflict", err)
	}
	if _, err := adminDeactivated.Unblock(); !apperr.Is(err, apperr.KindConflict) {
		t.Errorf("unblocking a deactivated user: %v, want a conflict", err)
	}

	released := holdBlocked
	released.OnHold = false
	for _, c := range []struct {
		name string
		from State
		want State
	}{
		{"blocked by a hold, last hold released: deactivated for whoever asked", released, syncDeactivated},
		{"nobody recorded: deactivated as by an administrator", State{Status: StatusBlocked, Reason: ReasonLegalHold}, adminDeactivated},
		{"still on another hold: unchanged", holdBlocked, holdBlocked},
		{"an administrator's block: unchanged", adminBlocked, adminBlocked},
		{"active (unblocked while on hold): unchanged", active, active},
	} {
		if got := c.from.Release(); got != c.want {
			t.Errorf("Release: %s: got %+v, want %+v", c.name, got, c.want)
		}
	}

	if (Transition{Before: holdBlocked, After: State{Status: StatusBlocked, Reason: ReasonLegalHold, Pending: ReasonAdmin, OnHold: true}}).Changed() {
		t.Error("a new Pending alone counts as a change")
	}
	if !(Transition{Before: active, After: syncDeactivated}).Changed() {
		t.Error("a deactivation is not a change")
	}
}
