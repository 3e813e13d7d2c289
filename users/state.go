package users

import "github.com/authority-server/authority/internal/apperr"

// State is what the lifecycle rules decide on: a user's status, why it has
// it, who asked for the deactivation that a legal hold turned into a block,
// and whether the user is on legal hold.
//
// Its methods are the rules (docs/rules.md section 2). They decide without
// writing: the ...Tx methods of Service write what they decide, and a
// simulated directory sync reports what they decide.
type State struct {
	Status  Status
	Reason  Reason
	Pending Reason // for ReasonLegalHold: who asked for the deactivation
	OnHold  bool   // a custodian of at least one active legal hold
}

// Transition is a state before and after one lifecycle change.
type Transition struct {
	Before, After State
}

// Changed reports whether the change alters the status or its reason (what
// an administrator sees; a new Pending alone is not a change).
func (t Transition) Changed() bool {
	return t.Before.Status != t.After.Status || t.Before.Reason != t.After.Reason
}

// Deactivate returns the state a deactivation asked for by `by` leads to:
//   - a deactivated user stays as it is;
//   - a user on legal hold is blocked instead (ReasonLegalHold, remembering
//     who asked), but an administrator's block is left alone;
//   - anyone else is deactivated for reason by.
func (st State) Deactivate(by Reason) State {
	switch {
	case st.Status == StatusDeactivated:
		return st
	case st.OnHold && st.Status == StatusBlocked && st.Reason == ReasonAdmin:
		return st
	case st.OnHold:
		return State{Status: StatusBlocked, Reason: ReasonLegalHold, Pending: by, OnHold: true}
	}
	return State{Status: StatusDeactivated, Reason: by}
}

// Reactivate returns the state of an administrator's reactivation: active,
// whatever it was.
func (st State) Reactivate() State { return State{Status: StatusActive, OnHold: st.OnHold} }

// SourceReactivates reports whether a user's source (a directory sync that
// finds the user active) makes it active again: a user deactivated (by a
// sync, or by an administrator, which the directory overrides) or blocked by
// anything but an administrator. A source never undoes an administrator's
// block.
func (st State) SourceReactivates() bool {
	switch st.Status {
	case StatusDeactivated:
		return true
	case StatusBlocked:
		return st.Reason != ReasonAdmin
	}
	return false
}

// SourceBlock returns the state a user's source (a provisioning provider)
// asks for when it disables or deletes the user: blocked at once for reason
// by, sign-in refused and backups going on (the deactivation follows after
// the provider's delay, as Deactivate decides). A deactivated user stays
// deactivated; an administrator's block and a legal hold's are left alone.
func (st State) SourceBlock(by Reason) State {
	switch {
	case st.Status == StatusDeactivated:
		return st
	case st.Status == StatusBlocked && (st.Reason == ReasonAdmin || st.Reason == ReasonLegalHold):
		return st
	}
	return State{Status: StatusBlocked, Reason: by, OnHold: st.OnHold}
}

// Block returns the state of an administrator's block: sign-in refused,
// backups go on. A deactivated user cannot be blocked (reactivate first).
func (st State) Block() (State, error) {
	if st.Status == StatusDeactivated {
		return st, apperr.Conflict("status", "the user is deactivated: reactivate it before blocking")
	}
	return State{Status: StatusBlocked, Reason: ReasonAdmin, OnHold: st.OnHold}, nil
}

// Unblock returns the state of an administrator's unblock: active. It is
// also how an administrator reactivates a user a legal hold keeps blocked.
func (st State) Unblock() (State, error) {
	switch st.Status {
	case StatusActive:
		return st, nil
	case StatusDeactivated:
		return st, apperr.Conflict("status", "the user is deactivated, not blocked: reactivate it instead")
	}
	return State{Status: StatusActive, OnHold: st.OnHold}, nil
}

// Release returns the state once a legal hold on the user was released: a
// user blocked by a legal hold and on none any more is deactivated at once,
// on behalf of whoever asked for the deactivation (an administrator when
// nobody is recorded). Anyone else stays as they are.
func (st State) Release() State {
	if st.Status != StatusBlocked || st.Reason != ReasonLegalHold || st.OnHold {
		return st
	}
	by := st.Pending
	if by == ReasonNone {
		by = ReasonAdmin
	}
	return State{Status: StatusActive}.Deactivate(by)
}
